// Issue 3 acceptance: Services as kube-proxy iptables rules, checked with real packets. The
// instance is run by its server (`lab up`): the API server allocates the ClusterIPs, kube-proxy
// watches Services and EndpointSlices.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniformChiSquare } from '../stats.ts';
import { cmd, curl, getPods, inNetns, instanceName, isRoot, lab, labOk, type PodJson } from './helpers.ts';
import { podNetns } from './pod-sandbox.ts';

const I = instanceName('e2es');
const NODE = `${I}-node`;
const STATE = 'test/fixtures/e2e/services.yaml';

interface SvcJson {
  metadata: { name: string; namespace: string };
  spec: { clusterIP: string; ports: { name: string; port: number; nodePort?: number }[] };
}

/** n requests, each on a new connection, from one curl process; returns the bodies. */
async function requests(netns: string, url: string, n: number): Promise<string[]> {
  const config = Array.from({ length: n }, () => `url = "${url}"\noutput = "-"\n`).join('');
  const file = `/tmp/pplt-curl-${process.pid}-${Math.random().toString(36).slice(2)}.conf`;
  const { writeFile, rm } = await import('node:fs/promises');
  await writeFile(file, config);
  try {
    const r = await inNetns(netns, ['curl', '-sS', '--max-time', '5', '-H', 'Connection: close', '-w', '\\n', '-K', file], { timeoutMs: 120_000 });
    if (r.code !== 0) throw new Error(`curl failed: ${r.stderr}`);
    return r.stdout.split('\n').filter(Boolean);
  } finally {
    await rm(file, { force: true });
  }
}

function countBy(xs: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
}

describe.skipIf(!isRoot)('kube-proxy: Services as iptables NAT chains', () => {
  let pods: PodJson[];
  let svcs: SvcJson[];
  let client: string;
  const svc = (name: string) => svcs.find((s) => s.metadata.name === name)!;
  const podsOf = (app: string) => pods.filter((p) => p.metadata.labels.app === app);

  beforeAll(async () => {
    await labOk(['up', '--name', I, '--state', STATE]);
    pods = await getPods(I);
    svcs = (JSON.parse((await labOk(['get', 'svc', '--name', I, '-o', 'json'])).stdout) as { items: SvcJson[] }).items;
    client = podNetns(I, podsOf('client')[0]!.metadata.name);
  });

  afterAll(async () => {
    await lab(['down', '--name', I]);
  });

  for (const [app, n] of [['echo', 3], ['echo2', 2], ['echo7', 7]] as const) {
    it(`spreads 3000 requests to the ClusterIP of ${app} evenly over its ${n} pods`, async () => {
      const bodies = await requests(client, `http://${svc(app).spec.clusterIP}/`, 3000);
      expect(bodies).toHaveLength(3000);
      const counts = countBy(bodies);
      expect([...counts.keys()].sort()).toEqual(podsOf(app).map((p) => p.metadata.name).sort());
      const { chi2, p } = uniformChiSquare([...counts.values()]);
      process.stdout.write(`${app}: ${JSON.stringify(Object.fromEntries(counts))} chi2=${chi2.toFixed(2)} p=${p.toFixed(4)}\n`);
      expect(p).toBeGreaterThan(0.001);
    });
  }

  it('renders KUBE-SVC -> three KUBE-SEP with probabilities 1/3 then 1/2, as iptables -L shows them', async () => {
    // The chain's name as the learner finds it: `lab describe svc` (kubectl's -o wide has no column for it).
    const chain = (await labOk(['describe', 'svc', 'echo', '--name', I])).stdout.match(/KUBE-SVC-[A-Z2-7]{16}/)![0];
    const list = (await cmd(['ip', 'netns', 'exec', NODE, 'iptables', '-t', 'nat', '-L', chain, '-n'])).stdout;
    const lines = list.split('\n').filter((l) => l.startsWith('KUBE-SEP-'));
    expect(lines).toHaveLength(3);
    expect(lines[0]).toContain('statistic mode random probability 0.33333333349');
    expect(lines[1]).toContain('statistic mode random probability 0.50000000000');
    expect(lines[2]).not.toContain('statistic');
    const services = (await cmd(['ip', 'netns', 'exec', NODE, 'iptables', '-t', 'nat', '-S', 'KUBE-SERVICES'])).stdout;
    expect(services).toContain(`-d ${svc('echo').spec.clusterIP}/32 -p tcp -m comment --comment "default/echo:http cluster IP" -m tcp --dport 80 -j ${chain}`);
    // KUBE-NODEPORTS is the last rule of KUBE-SERVICES.
    expect(services.trim().split('\n').at(-1)).toBe('-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS');
  });

  it('answers curl <ClusterIP> from the node itself', async () => {
    const r = await curl(NODE, `http://${svc('echo').spec.clusterIP}/`);
    expect(podsOf('echo').map((p) => p.metadata.name)).toContain(r.stdout.trim());
  });

  it('reaches the pods through the NodePort and the LoadBalancer IP from the host namespace', async () => {
    const names = podsOf('echo').map((p) => p.metadata.name);
    expect(names).toContain((await curl(`${I}-host`, 'http://192.168.56.110:30080/')).stdout.trim());
    expect(names).toContain((await curl(`${I}-host`, 'http://192.168.56.110:8080/')).stdout.trim());
  });

  it('lets a pod reach itself through its own Service (hairpin)', async () => {
    const self = podsOf('echo')[0]!;
    const bodies = await requests(podNetns(I, self.metadata.name), `http://${svc('echo').spec.clusterIP}/`, 60);
    expect(bodies).toHaveLength(60);
    expect(bodies).toContain(self.metadata.name);
  });

  it('refuses at once when a Service has no ready endpoint (REJECT, no timeout)', async () => {
    const t0 = Date.now();
    const r = await inNetns(client, ['curl', '-sS', '--max-time', '5', `http://${svc('nobody-home').spec.clusterIP}/`]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Connection refused|Couldn't connect/);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('shows the DNAT in conntrack: original destination the ClusterIP, reply source the pod', async () => {
    const ip = svc('echo').spec.clusterIP;
    const body = (await curl(client, `http://${ip}/`)).stdout.trim();
    const podIP = pods.find((p) => p.metadata.name === body)!.status.podIP!;
    const ct = await cmd(['ip', 'netns', 'exec', NODE, 'conntrack', '-L', '-p', 'tcp', '--orig-dst', ip]);
    expect(ct.stdout).toMatch(new RegExp(`dst=${ip.replace(/\./g, '\\.')} sport=\\d+ dport=80 src=${podIP.replace(/\./g, '\\.')} `));
  });

  it('carries a UDP Service: DNS queries to kube-dns through its ClusterIP', async () => {
    const r = await inNetns(client, ['dig', '+short', '+notcp', '+time=2', '+tries=1', '@10.43.0.10', 'echo.default.svc.cluster.local']);
    expect(r.stdout.trim()).toBe(svc('echo').spec.clusterIP);
  });
});
