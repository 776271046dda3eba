// Issue 15 item 3: the learner's tools in kube-proxy's nftables mode (kube-proxy-arg:
// [proxy-mode=nftables]). One lab up; `lab trace` takes its evidence from the kernel's own trace
// (meta nftrace set by the lab's table ip lab-trace for the traced flow only, `nft monitor trace`
// in the node's namespace) and `lab describe svc` shows the Service's map elements and chains.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { instancePaths } from '../../src/node/instance.ts';
import { cmd, curl, getPods, instanceName, isRoot, lab, labOk, ROOT, type PodJson } from './helpers.ts';

const I = instanceName('nftt');
const paths = instancePaths(I);

interface NftTraceJson {
  nftrace?: { rules: { table: string; chain: string; handle?: number; text: string; verdict: string }[]; serviceChain?: string; endpointChain?: string; dnat?: string };
  answeredBy?: { name: string; ip: string; port: number };
  legs: { role: string; dnat?: { to: string } }[];
  response: { ok: boolean; body: string };
}

describe.skipIf(!isRoot)('learner tools in nftables mode', () => {
  let dir: string;
  let pods: PodJson[];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'pplt-nftt-'));
    const config = path.join(dir, 'config.yaml');
    await writeFile(config, `${await readFile(path.join(ROOT, 'lab/config.yaml'), 'utf8')}\nkube-proxy-arg: [proxy-mode=nftables]\n`);
    const up = await lab(['up', '--name', I, '--state', path.join(ROOT, 'lab/cluster.yaml'), '--config', config], { timeoutMs: 240_000 });
    expect(up.code, up.stderr).toBe(0);
    pods = await getPods(I, true);
    for (let i = 0; i < 100 && (await curl(paths.hostNetns, 'http://app2.com/')).code !== 0; i++) await new Promise((r) => setTimeout(r, 100));
  }, 300_000);

  afterAll(async () => {
    const down = await lab(['down', '--name', I], { timeoutMs: 180_000 });
    if (dir) await rm(dir, { recursive: true, force: true });
    expect(down.code, down.stderr).toBe(0);
  }, 200_000);

  it('lab trace http://app2.com/ lists the rules the kernel traced, ending at the ingress endpoint chain whose DNAT took the request; the lab-trace table is gone afterwards', async () => {
    const t = JSON.parse((await labOk(['trace', 'http://app2.com/', '--name', I, '--json'])).stdout) as NftTraceJson;
    expect(t.response.ok).toBe(true);
    expect(t.response.body).toContain('Welcome to App 2!');
    const n = t.nftrace!;
    expect(n.rules.length).toBeGreaterThan(3);
    expect(n.rules.every((r) => r.table === 'kube-proxy')).toBe(true);
    expect(n.rules.some((r) => r.chain === 'services' && r.text.includes('@service-ips'))).toBe(true);
    const last = n.rules.findIndex((r) => r.verdict === `goto ${n.endpointChain}`);
    expect(last).toBeGreaterThan(0);
    expect(n.rules[last]!.text).toMatch(/^numgen random mod \d+ vmap \{/);
    // The chosen endpoint chain is the ingress pod's, and its DNAT is the one conntrack recorded.
    const ingress = pods.find((p) => p.metadata.labels['app.kubernetes.io/name'] === 'ingress-nginx')!;
    expect(n.endpointChain).toMatch(/^endpoint-\w{8}-kube-system\/[^/]+\/tcp\/[^_]*__/);
    expect(n.endpointChain!.endsWith(`__${ingress.status.podIP}/80`)).toBe(true);
    expect(n.dnat).toBe(`${ingress.status.podIP}:80`);
    expect(t.legs.find((l) => l.role === 'client')!.dnat!.to).toBe(n.dnat);
    // nginx then connects straight to an app2 pod (service-upstream "false"): no kube-proxy rule on that leg.
    expect(t.answeredBy!.name).toMatch(/^app2-/);
    const tables = await cmd(['ip', 'netns', 'exec', paths.nodeNetns, 'nft', 'list', 'tables']);
    expect(tables.stdout).not.toContain('lab-trace');
    const text = (await labOk(['trace', 'http://app2.com/', '--name', I])).stdout;
    expect(text).toContain('nft monitor trace');
    expect(text).toMatch(/ip kube-proxy services #\d+: ip daddr \. meta l4proto \. th dport vmap @service-ips {2}-> goto /);
  }, 60_000);

  it('lab trace http://app2-service/ from the app1 pod ends at one of app2\'s endpoint chains, the endpoint being the pod that answered', async () => {
    const app1 = pods.find((p) => p.metadata.labels.app === 'app1')!;
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const t = JSON.parse((await labOk(['trace', 'http://app2-service/', '--from', app1.metadata.name, '--name', I, '--json'])).stdout) as NftTraceJson;
      expect(t.response.body).toContain('Welcome to App 2!');
      const n = t.nftrace!;
      expect(n.serviceChain).toMatch(/^service-\w{8}-default\/app2-service\/tcp\//);
      expect(n.endpointChain).toMatch(/^endpoint-\w{8}-default\/app2-service\/tcp\//);
      const hit = n.rules.find((r) => r.chain === n.serviceChain && r.verdict === `goto ${n.endpointChain}`)!;
      expect(hit.text).toMatch(/^numgen random mod 3 vmap \{/);
      expect(n.rules.at(-1)!.chain === n.endpointChain || n.rules.some((r) => r.chain === n.endpointChain && r.text.includes('dnat to'))).toBe(true);
      expect(t.answeredBy!.name).toMatch(/^app2-/);
      expect(n.endpointChain!.endsWith(`__${t.answeredBy!.ip}/80`)).toBe(true);
      expect(n.dnat).toBe(`${t.answeredBy!.ip}:80`);
      seen.add(t.answeredBy!.name);
    }
    process.stdout.write(`nft trace: app2 answered by ${[...seen].join(', ')}\n`);
  }, 90_000);

  it('lab describe svc app2-service shows its service-ips element, the numgen map over 3 endpoints and the endpoint chains with DNAT', async () => {
    const out = (await labOk(['describe', 'svc', 'app2-service', '--name', I])).stdout;
    expect(out).toContain('kube-proxy (nftables');
    expect(out).toMatch(/service-ips: \d+\.\d+\.\d+\.\d+ \. tcp \. 80 (comment "default\/app2-service:http" )?: goto service-\w{8}-default\/app2-service\/tcp\/http/);
    expect(out).toMatch(/numgen random mod 3 vmap \{ 0 : goto endpoint-.*, 1 : goto endpoint-.*, 2 : goto endpoint-/);
    const app2 = pods.filter((p) => p.metadata.labels.app === 'app2');
    expect(app2.length).toBe(3);
    for (const p of app2) {
      expect(out).toContain(`__${p.status.podIP}/80  (endpoint ${p.status.podIP}:80, pod ${p.metadata.name})`);
      expect(out).toContain(`meta l4proto tcp dnat to ${p.status.podIP}:80`);
    }
    expect(out).not.toContain('KUBE-SVC-');
  }, 30_000);

  it('lab explain shows kube-proxy\'s nftables table (not iptables) with app2\'s chains', async () => {
    const out = (await labOk(['explain', '--name', I])).stdout;
    expect(out).toContain("nft -a list table ip kube-proxy");
    expect(out).not.toContain('iptables-save');
    expect(out).toMatch(/# default\/app2-service:http: ClusterIP \S+:80\/TCP, numgen random mod 3 over its endpoints/);
    for (const p of pods.filter((x) => x.metadata.labels.app === 'app2')) expect(out).toContain(`# endpoint ${p.status.podIP}:80 (pod default/${p.metadata.name})`);
    expect((await labOk(['explain', 'iptables', '--name', I])).stdout).not.toContain('KUBE-SVC-');
  }, 30_000);

  it("lab kill --trace sees kube-proxy take the pod's endpoint chain out of app2's service chain and back, in table ip kube-proxy", async () => {
    const pod = pods.find((x) => x.metadata.labels.app === 'app2')!;
    const r = await lab(['kill', pod.metadata.name, '--trace', '--name', I], { timeoutMs: 90_000 });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const order = ['exited', 'Ready=False', 'ready=false', `${pod.status.podIP} out of the Service chains (nftables table ip kube-proxy)`, 'restarted after its back-off', 'Ready=True', 'ready=true', `${pod.status.podIP} back in the Service chains (nftables table ip kube-proxy)`];
    let at = 0;
    for (const what of order) {
      const i = r.stdout.indexOf(what, at);
      expect(i, `"${what}" after position ${at} in:\n${r.stdout}`).toBeGreaterThanOrEqual(0);
      at = i;
    }
    expect(r.stdout).not.toContain('was not seen to the end');
  }, 120_000);
});
