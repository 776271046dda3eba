// Issue 11, item 5: `npm run tour` walks the request flow and the crash flow on a running lab.
// The tour runs non-interactively (stdin is no terminal) against a sandbox lab run by its server
// in the foreground (`lab up --watch`); every claim
// its output makes is checked against the lab itself: the pods that answered, the chain names,
// the probabilities, the endpoints losing and regaining the crashed pod.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { serviceChainName } from '../../src/proxy/names.ts';
import { useWatchedLab } from './controller.ts';
import { cmd, getPods, inNetns, instanceName, isRoot, ROOT, type CmdResult, type PodJson } from './helpers.ts';

const I = instanceName('e2eu');
const TOUR = path.join(ROOT, 'scripts/tour.mjs');
const CHAIN = serviceChainName('default', 'app2-service', 'http', 'TCP');

const tour = (args: string[], timeoutMs = 300_000): Promise<CmdResult> => cmd([process.execPath, TOUR, ...args], { timeoutMs });

/** The tour's output cut into its steps, by title ("The pods", "Back in", ...). */
function steps(out: string): Map<string, string> {
  const parts = out.split(/^━━ Step \d+\/\d+ · \w+ flow · /m).slice(1);
  return new Map(parts.map((p) => [p.slice(0, p.indexOf(' ━')), p]));
}

function step(s: Map<string, string>, title: string): string {
  const text = s.get(title);
  if (text === undefined) throw new Error(`no step "${title}" in the tour's output; steps: ${[...s.keys()].join(' | ')}`);
  return text;
}

/** Pod names the tour says answered its requests (lines `#1  Welcome to App 2!  ← <pod> (<ip>)`). */
const answeredBy = (text: string) => [...text.matchAll(/^\s+#\d+ .*← (\S+) \(/gm)].map((m) => m[1]!);

/** The app2-service endpoint IPs in the node's nat table right now. */
async function ruleEndpoints(): Promise<string[]> {
  const save = (await inNetns(`${I}-node`, ['iptables-save', '-t', 'nat'])).stdout;
  return [...save.matchAll(new RegExp(`^-A ${CHAIN} .*-> ([\\d.]+):80".* -j KUBE-SEP-`, 'gm'))].map((m) => m[1]!).sort();
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const noStackTrace = (r: CmdResult) => expect(r.stdout + r.stderr).not.toMatch(/^\s+at .+[:(]\S+:\d+:\d+\)?$/m);

describe('the tour without a lab', () => {
  it('says no lab runs and how to start one (npm run lab), exits non-zero, no stack trace', async () => {
    const name = `nosuch-${randomBytes(3).toString('hex')}`;
    const r = await tour(['--name', name, '--yes'], 60_000);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('npm run lab');
    // As root: the instance is named; without root: the tour asks for sudo first.
    expect(r.stderr).toContain(isRoot ? `No lab named "${name}" is running` : 'sudo');
    noStackTrace(r);
  });

  it('rejects an unknown option with its usage (exit 2)', async () => {
    const r = await tour(['--bogus'], 60_000);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('usage: npm run tour');
    noStackTrace(r);
  });
});

describe.skipIf(!isRoot)('npm run tour against a watched sandbox lab', () => {
  const w = useWatchedLab('tour', I);
  const app2 = (pods: PodJson[]) => pods.filter((p) => p.metadata.labels.app === 'app2');

  it('walks both flows non-interactively, and every name, probability and pod it shows is the lab\'s', async () => {
    const before = app2(await getPods(I));
    const ips = before.map((p) => p.status.podIP!).sort();
    expect(ips).toHaveLength(3);
    const r = await tour(['--name', I]); // stdin is not a terminal: no prompts
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    noStackTrace(r);
    expect(r.stdout).not.toContain('[Enter]');
    const s = steps(r.stdout);
    expect(s.size).toBe(20);

    // Sandbox mode: the node's commands in its namespace, the laptop's in its own.
    // (prose is wrapped to the terminal: any white space between words)
    expect(step(s, 'The node')).toMatch(new RegExp(`In sandbox mode the node is the network namespace ${I}-node`.replace(/ /g, '\\s+')));
    // kubectl's pod columns say nothing of the sandbox: the tour shows it with lab describe pod.
    const podsStep = step(s, 'The pods');
    const shownPod = /\$ sudo npx lab describe pod (\S+) --name/.exec(podsStep)![1]!;
    expect(before.map((p) => p.metadata.name)).toContain(shownPod);
    expect(podsStep).toMatch(new RegExp(`▸ +Namespace: +${I}-${shownPod} `));
    const veth = /▸ +Veth \(node\): +(veth[0-9a-f]{8}), ifindex (\d+),/.exec(podsStep)!;
    const link = JSON.parse((await inNetns(`${I}-node`, ['ip', '-j', 'link', 'show', veth[1]!])).stdout) as { ifindex: number; master: string }[];
    expect(link[0]).toMatchObject({ ifindex: Number(veth[2]), master: 'cni0' });
    expect(step(s, 'The Services')).toContain(`app2-service: ClusterIP`);
    expect(step(s, 'The Services')).toContain(CHAIN);

    // Three different pods answered the laptop's curl app2.com, as the KUBE-SEP counters said.
    const curl = step(s, 'curl app2.com, several times');
    expect(curl).toContain(`$ sudo ip netns exec ${I}-host curl -s --max-time 5 http://app2.com/`);
    expect(curl).toContain('Welcome to App 2!');
    expect(new Set(answeredBy(curl))).toEqual(new Set(before.map((p) => p.metadata.name)));

    // The ingress's server block and the DNS answer: the ClusterIP.
    expect(step(s, 'The ingress controller')).toMatch(/▸\s+server_name app2\.com;/);
    const clusterIP = /app2-service: ClusterIP (\S+),/.exec(step(s, 'The Services'))![1]!;
    expect(step(s, 'Cluster DNS')).toMatch(new RegExp(`▸ Address: ${clusterIP.replace(/\./g, '\\.')}$`, 'm'));

    // KUBE-SERVICES -> the chain, the chain with 1/3 then 1/2 then the rest, a KUBE-SEP's DNAT.
    expect(step(s, 'KUBE-SERVICES: which Service is this?')).toMatch(new RegExp(`▸ ${CHAIN} .* ${clusterIP.replace(/\./g, '\\.')} .*/\\* default/app2-service:http cluster IP \\*/ tcp dpt:80`));
    const svc = step(s, 'KUBE-SVC: one endpoint at random');
    expect(svc).toContain(`$ sudo ip netns exec ${I}-node iptables -t nat -L ${CHAIN} -n`);
    const seps = svc.split('\n').filter((l) => l.startsWith('▸ KUBE-SEP-'));
    expect(seps).toHaveLength(3);
    expect(seps[0]).toMatch(/statistic mode random probability 0\.33333333349$/);
    expect(seps[1]).toMatch(/statistic mode random probability 0\.50000000000$/);
    expect(seps[2]).not.toContain('probability');
    expect(seps.map((l) => /-> ([\d.]+):80/.exec(l)![1]).sort()).toEqual(ips);
    expect(svc).toContain('kube-proxy writes 0.3333333333');
    expect(step(s, 'KUBE-SEP: the DNAT')).toMatch(/▸ DNAT .* tcp to:10\.42\.0\.\d+:80/);

    // conntrack: the ingress's connections to the ClusterIP, answered by app2 pods.
    const ct = step(s, 'conntrack: the DNAT is remembered');
    const replies = [...ct.matchAll(new RegExp(`dst=${clusterIP.replace(/\./g, '\\.')} sport=\\d+ dport=80 src=([\\d.]+)`, 'g'))].map((m) => m[1]!);
    expect(replies.length).toBeGreaterThan(0);
    for (const ip of replies) expect(ips).toContain(ip);

    // lab trace names the pod that answered.
    expect(step(s, 'lab trace: every hop with its evidence')).toMatch(/▸ +\d+ +POD +pod app2-\S+ 10\.42\.0\.\d+:80 answered/);

    // The crash flow: the pod the tour crashed leaves and rejoins the endpoints and the rules.
    const victim = /The tour will crash (\S+) \(([\d.]+)\)/.exec(step(s, 'Before the crash: the endpoints'))!;
    const [, name, ip] = victim;
    expect(before.map((p) => p.metadata.name)).toContain(name);
    expect(step(s, 'Before the crash: the endpoints')).toMatch(new RegExp(`▸ app2-service +\\S*${ip!.replace(/\./g, '\\.')}:80`));
    const first = step(s, 'Crash it: restarted at once');
    expect(first).toContain(`$ sudo npx lab kill ${name} --name ${I}`);
    expect(first).toMatch(new RegExp(`\\[kube-proxy, read from iptables\\] ${CHAIN} now jumps to 2 endpoint\\(s\\): ${ip!.replace(/\./g, '\\.')}:80 out`));
    expect(first).toMatch(new RegExp(`now jumps to 3 endpoint\\(s\\): ${ip!.replace(/\./g, '\\.')}:80 back in`));
    expect(first).toMatch(new RegExp(`\\[lab get pods -w\\] ${name} +1/1 +Running +1 `));
    expect(step(s, 'The pod: not ready, backing off')).toMatch(new RegExp(`▸ ${name} +0/1 +CrashLoopBackOff +1 `));
    expect(step(s, 'The pod: not ready, backing off')).toContain('the kubelet waits 10 s');
    const outEps = /▸ app2-service +(\S+)/.exec(step(s, 'The endpoints: without the pod'))![1]!.split(',');
    expect(outEps.sort()).toEqual(ips.filter((x) => x !== ip).map((x) => `${x}:80`).sort());
    const two = step(s, 'KUBE-SVC: two endpoints left').split('\n').filter((l) => l.startsWith('▸ KUBE-SEP-'));
    expect(two).toHaveLength(2);
    expect(two[0]).toMatch(/probability 0\.50000000000$/);
    expect(two.join('\n')).not.toContain(`${ip}:80`);
    const still = answeredBy(step(s, 'The Service still answers'));
    expect(still).toHaveLength(6);
    expect(still).not.toContain(name);
    const back = step(s, 'Back in');
    expect(back).toMatch(new RegExp(`▸ ${name} +1/1 +Running +2 `));
    const backEps = /▸ app2-service +(\S+)/.exec(back)![1]!.split(',');
    expect(backEps.sort()).toEqual(ips.map((x) => `${x}:80`).sort());
    // The kubelet's own text (kuberuntime_manager.go): "Back-off restarting failed container <c> in pod <pod>_<ns>(<uid>)".
    expect(back).toMatch(new RegExp(`▸ .*BackOff +pod/${name} +Back-off restarting failed container app2 in pod ${name}_default\\(`));

    // And the lab agrees: the pod restarted twice, same IP, ready, back in the rules.
    const after = app2(await getPods(I)).find((p) => p.metadata.name === name)!;
    expect(after.status.containerStatuses[0]!.restartCount).toBe(2);
    expect(after.status.podIP).toBe(ip);
    expect(await ruleEndpoints()).toEqual(ips);
  });

  it('--step inside the crash flow starts at the crash it needs, and still shows the pod out and back', async () => {
    await until('3 app2 endpoints in the rules', async () => (await ruleEndpoints()).length === 3);
    const r = await tour(['--name', I, '--step', '17']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Step 17 runs right after step 15');
    const s = steps(r.stdout);
    expect([...s.keys()][0]).toBe('Crash it again: CrashLoopBackOff');
    const name = /\$ sudo npx lab kill (\S+) --name/.exec(step(s, 'Crash it again: CrashLoopBackOff'))![1]!;
    expect(step(s, 'The pod: not ready, backing off')).toMatch(new RegExp(`▸ ${name} +0/1 +CrashLoopBackOff `));
    expect(step(s, 'KUBE-SVC: two endpoints left').split('\n').filter((l) => l.startsWith('▸ KUBE-SEP-'))).toHaveLength(2);
    expect(step(s, 'Back in')).toMatch(new RegExp(`▸ ${name} +1/1 +Running `));
  });

  it('without the lab\'s server, stops before the crash flow and says how to start it', async () => {
    await w.controller.stop();
    try {
      const r = await tour(['--name', I, '--step', '13']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('need the lab\'s server running');
      expect(r.stdout).toContain(`sudo npm run lab -- --name ${I}`);
      expect(r.stdout).not.toContain('lab kill');
    } finally {
      await w.startAgain();
    }
  });
});
