// Issue 12, item 6 (first part): kube-proxy repairs a flushed nat table. With the instance's
// server running (`lab up --watch`: kube-proxy's controller, src/proxy/proxy-controller.ts), `iptables -t nat -F` in the node (and the firewalld-style variant that also deletes the
// chains, canary included) is noticed by the canary check and undone by a forced full sync: the
// KUBE-SERVICES jumps and KUBE-SVC chains come back and `curl app2.com` from the laptop works again.
import { describe, expect, it } from 'vitest';
import { CANARY_MS } from '../../src/proxy/proxy-controller.ts';
import { useWatchedLab } from './controller.ts';
import { curl, inNetns, instanceName, isRoot } from './helpers.ts';

const I = instanceName('e2erep');
const NODE = `${I}-node`;
const LAPTOP = `${I}-host`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The nat table as kube-proxy left it: jumps from PREROUTING and OUTPUT, per-service chains with rules. */
async function natRepaired(): Promise<boolean> {
  const nat = (await inNetns(NODE, ['iptables', '-t', 'nat', '-S'])).stdout;
  return /^-A PREROUTING .*-j KUBE-SERVICES$/m.test(nat) && /^-A OUTPUT .*-j KUBE-SERVICES$/m.test(nat) && /^-A KUBE-SVC-\S+ /m.test(nat) && /^-A KUBE-SERVICES /m.test(nat);
}

describe.skipIf(!isRoot)('kube-proxy repairs a flushed nat table', () => {
  const w = useWatchedLab('proxyrepair', I);

  const cases: [string, string][] = [
    ['iptables -t nat -F', 'iptables -t nat -F'],
    ['iptables -t nat -F; iptables -t nat -X (canary gone too)', 'iptables -t nat -F && iptables -t nat -X'],
  ];
  for (const [name, wipe] of cases) {
    it(`${name}: rules back within one canary check, app2.com served again`, async () => {
      expect((await curl(LAPTOP, 'http://app2.com/')).stdout).toContain('Welcome to App 2!');
      const logBefore = w.controller.log().length;
      // The wipe and a look at what it left, in one shell: no repair can land in between.
      const r = await inNetns(NODE, ['sh', '-c', `${wipe} && iptables -t nat -S`]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).not.toMatch(/-j KUBE-SERVICES/);
      const t0 = Date.now();
      while (!(await natRepaired())) {
        if (Date.now() - t0 > CANARY_MS + 10_000) throw new Error(`nat not repaired after ${(CANARY_MS + 10_000) / 1000} s:\n${(await inNetns(NODE, ['iptables', '-t', 'nat', '-S'])).stdout}\n${w.controller.log()}`);
        await sleep(200);
      }
      // Put back by the canary check (every CANARY_MS), or by the periodic full sync when that came
      // first: either says what it found gone.
      const log = w.controller.log().slice(logBefore);
      expect(log, log).toMatch(/kube-proxy: .*gone from the node: full sync|kube-proxy: full sync put back \d+ jump rule\(s\) gone from the node/);
      for (let i = 0; i < 3; i++) expect((await curl(LAPTOP, 'http://app2.com/')).stdout).toContain('Welcome to App 2!');
    });
  }
});
