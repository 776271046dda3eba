// Issue 15 acceptance: kube-proxy's nftables mode (kube-proxy-arg: [proxy-mode=nftables] in
// config.yaml) on a server and an agent, checked with real packets: the default scenario through
// the ingress, app2's ClusterIP spread over its three pods (counted from the node's conntrack
// DNATs), NodePort, LoadBalancer IP, hairpin, no-endpoint reject, ClientIP affinity, UDP DNS; the
// table as `nft list` shows it and no KUBE-* iptables chain; an edit of config.yaml to iptables
// mode and back under a client looping on app2.com (no rule of the mode left, no failed request);
// `lab down` leaves no table.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { instancePaths } from '../../src/node/instance.ts';
import { uniformChiSquare } from '../stats.ts';
import { cmd, curl, getPods, inNetns, instanceName, isRoot, lab, labOk, ROOT, until, type PodJson } from './helpers.ts';
import { podNetns } from './pod-sandbox.ts';

const I = instanceName('nft');
const paths = instancePaths(I);
const NODE_IP = '192.168.56.110';
const PAGES: Record<string, string> = { app1: 'Hello from app1.', app2: 'Welcome to App 2!', app3: 'Hello from app3.' };

// Pods that answer with their own name, and Services of each kind over them.
const EXTRA = `
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: echo
spec:
  replicas: 3
  selector:
    matchLabels:
      app: echo
  template:
    metadata:
      labels:
        app: echo
    spec:
      containers:
        - name: main
          image: busybox
          command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www"]
---
apiVersion: v1
kind: Service
metadata:
  name: echo
spec:
  type: NodePort
  selector:
    app: echo
  ports:
    - name: http
      port: 80
---
apiVersion: v1
kind: Service
metadata:
  name: echo-sticky
spec:
  selector:
    app: echo
  sessionAffinity: ClientIP
  ports:
    - name: http
      port: 80
---
apiVersion: v1
kind: Service
metadata:
  name: nobody-home
spec:
  selector:
    app: nobody
  ports:
    - name: http
      port: 80
`;

interface SvcJson {
  metadata: { name: string; namespace: string };
  spec: { clusterIP: string; ports: { port: number; nodePort?: number }[] };
}

/** n requests, each on a new connection, from one curl process; returns the bodies. */
async function requests(netns: string, url: string, n: number, dir: string): Promise<string[]> {
  const file = path.join(dir, `curl-${n}-${Math.random().toString(36).slice(2)}.conf`);
  await writeFile(file, Array.from({ length: n }, () => `url = "${url}"\noutput = "-"\n`).join(''));
  const r = await inNetns(netns, ['curl', '-sS', '--max-time', '5', '-H', 'Connection: close', '-w', '\\n', '-K', file], { timeoutMs: 180_000 });
  if (r.code !== 0) throw new Error(`curl failed: ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean);
}

const countBy = (xs: string[]) => {
  const m = new Map<string, number>();
  for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
};

describe.skipIf(!isRoot)('kube-proxy nftables mode (server and agent)', () => {
  let dir: string;
  let config: string;
  let configText: string;
  let pods: PodJson[];
  let svcs: SvcJson[];
  let nodes: string[];
  const svc = (name: string) => svcs.find((s) => s.metadata.name === name)!;
  const podsOf = (app: string) => pods.filter((p) => p.metadata.labels.app === app);
  const nodeNetns = () => nodes;
  const tables = async (ns: string) => (await inNetns(ns, ['nft', 'list', 'tables'])).stdout;
  const kubeChains = async (ns: string) => ((await inNetns(ns, ['iptables-save'])).stdout.match(/^:KUBE-\S+/gm) ?? []).filter((c) => c !== ':KUBE-KUBELET-CANARY');
  const configFor = (mode: 'iptables' | 'nftables') => (mode === 'nftables' ? `${configText}\nkube-proxy-arg: [proxy-mode=nftables]\n` : configText);
  /** Whether a node's kube-proxy runs in `mode` with nothing of the other mode left. */
  const inMode = async (ns: string, mode: 'iptables' | 'nftables') =>
    mode === 'nftables'
      ? (await tables(ns)).includes('table ip kube-proxy') && (await kubeChains(ns)).length === 0
      : !(await tables(ns)).includes('kube-proxy') && (await kubeChains(ns)).includes(':KUBE-SERVICES');
  /** An edit of config.yaml to `mode`: until every node runs in it, then 1.5 s more of the client's requests. */
  const switchTo = async (mode: 'iptables' | 'nftables') => {
    await writeFile(config, configFor(mode));
    await until(`${mode} mode on every node`, async () => {
      for (const ns of nodeNetns()) if (!(await inMode(ns, mode))) return false;
      return true;
    }, 60_000, 250);
    await new Promise((r) => setTimeout(r, 1500));
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'pplt-nft-'));
    const state = path.join(dir, 'cluster.yaml');
    config = path.join(dir, 'config.yaml');
    await writeFile(state, (await readFile(path.join(ROOT, 'lab/cluster.yaml'), 'utf8')) + EXTRA);
    configText = await readFile(path.join(ROOT, 'lab/config.yaml'), 'utf8');
    await writeFile(config, configFor('nftables'));
    const up = await lab(['up', '--name', I, '--state', state, '--config', config, '--nodes', '2'], { timeoutMs: 240_000 });
    if (up.code !== 0) throw new Error(`lab up failed:\n${up.stderr}\n${up.stdout}`);
    pods = await getPods(I);
    svcs = (JSON.parse((await labOk(['get', 'svc', '--name', I, '-o', 'json'])).stdout) as { items: SvcJson[] }).items;
    const nodeList = JSON.parse((await labOk(['get', 'nodes', '--name', I, '-o', 'json'])).stdout) as { items: { metadata: { annotations: Record<string, string> } }[] };
    nodes = nodeList.items.map((n) => n.metadata.annotations['lab/netns']!);
  }, 260_000);

  afterAll(async () => {
    const down = await lab(['down', '--name', I], { timeoutMs: 180_000 });
    if (down.code !== 0) process.stderr.write(`lab down: ${down.stderr}\n`);
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 200_000);

  it('runs on both nodes: table ip kube-proxy, no KUBE-* iptables chain; app2 dispatched with numgen random mod 3', async () => {
    expect(nodeNetns()).toHaveLength(2);
    for (const ns of nodeNetns()) {
      expect(await tables(ns)).toContain('table ip kube-proxy');
      expect(await kubeChains(ns)).toEqual([]);
    }
    const table = (await inNetns(paths.nodeNetns, ['nft', 'list', 'table', 'ip', 'kube-proxy'])).stdout;
    expect(table).toMatch(/chain service-[A-Z2-7]{8}-default\/app2-service\/tcp\/http \{[^}]*numgen random mod 3 vmap \{ 0 : goto endpoint-[A-Z2-7]{8}-default\/app2-service\/tcp\/http__10\.42\.\d+\.\d+\/\d+, 1 : goto [^,]+, 2 : goto [^}]+\}/);
    expect(table).toContain(`${svc('app2-service').spec.clusterIP} . tcp . 80 : goto service-`);
  });

  it('serves app1/app2/app3.com from the laptop through the ingress (LoadBalancer IP)', async () => {
    for (const app of ['app1', 'app2', 'app3']) {
      const r = await curl(paths.hostNetns, `http://${app}.com/`);
      expect(r.stdout).toContain(PAGES[app]);
    }
  });

  it("spreads 3000 requests to app2's ClusterIP over its 3 pods (the node's conntrack DNATs)", async () => {
    const ip = svc('app2-service').spec.clusterIP;
    await inNetns(paths.nodeNetns, ['conntrack', '-D', '-p', 'tcp', '--orig-dst', ip]);
    const bodies = await requests(paths.nodeNetns, `http://${ip}/`, 3000, dir);
    expect(bodies.filter((b) => b.includes('Welcome to App 2!'))).toHaveLength(3000);
    const ct = (await inNetns(paths.nodeNetns, ['conntrack', '-L', '-p', 'tcp', '--orig-dst', ip])).stdout;
    const podIPs = ct.split('\n').map((l) => / dport=80 src=(\S+) /.exec(l)?.[1]).filter((x): x is string => Boolean(x));
    const counts = countBy(podIPs);
    expect([...counts.keys()].sort()).toEqual(podsOf('app2').map((p) => p.status.podIP!).sort());
    // Each request's DNAT as conntrack kept it: a few hundred entries go when the node reuses a
    // source port for a later request (same tuple), so the counts are a large sample of the 3000.
    expect(podIPs.length).toBeGreaterThanOrEqual(2500);
    const { chi2, p } = uniformChiSquare([...counts.values()]);
    process.stdout.write(`app2: ${JSON.stringify(Object.fromEntries(counts))} chi2=${chi2.toFixed(2)} p=${p.toFixed(4)}\n`);
    expect(p).toBeGreaterThan(0.001);
  }, 200_000);

  it('NodePort and LoadBalancer IP from the laptop, on both nodes', async () => {
    const names = podsOf('echo').map((p) => p.metadata.name);
    const np = svc('echo').spec.ports[0]!.nodePort!;
    const nodeIPs = (JSON.parse((await labOk(['get', 'nodes', '--name', I, '-o', 'json'])).stdout) as { items: { status: { addresses: { type: string; address: string }[] } }[] }).items.map((n) => n.status.addresses.find((a) => a.type === 'InternalIP')!.address);
    for (const ip of nodeIPs) expect(names).toContain((await curl(paths.hostNetns, `http://${ip}:${np}/`)).stdout.trim());
    expect((await curl(paths.hostNetns, `http://${NODE_IP}/`, ['-H', 'Host: app1.com'])).stdout).toContain(PAGES.app1);
  });

  it('hairpin: a pod reaches itself through its own Service', async () => {
    const self = podsOf('echo')[0]!;
    const bodies = await requests(podNetns(I, self.metadata.name), `http://${svc('echo').spec.clusterIP}/`, 60, dir);
    expect(bodies).toHaveLength(60);
    expect(bodies).toContain(self.metadata.name);
  });

  it('refuses at once when a Service has no endpoint (reject-chain), and drops unallocated ClusterIPs', async () => {
    const from = podNetns(I, podsOf('echo')[0]!.metadata.name);
    const t0 = Date.now();
    const r = await inNetns(from, ['curl', '-sS', '--max-time', '5', `http://${svc('nobody-home').spec.clusterIP}/`]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Connection refused|Couldn't connect/);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('ClientIP affinity: one client, one pod; the affinity set holds the client', async () => {
    const from = podsOf('app1')[0]!;
    const bodies = await requests(podNetns(I, from.metadata.name), `http://${svc('echo-sticky').spec.clusterIP}/`, 30, dir);
    expect(new Set(bodies).size).toBe(1);
    const table = (await inNetns(paths.nodeNetns, ['nft', 'list', 'table', 'ip', 'kube-proxy'])).stdout;
    expect(table).toMatch(/set affinity-[A-Z2-7]{8}-default\/echo-sticky\/tcp\/http__/);
    expect(table).toContain('timeout 3h');
  });

  it('UDP: DNS through kube-dns\'s ClusterIP', async () => {
    const from = podNetns(I, podsOf('app1')[0]!.metadata.name);
    const r = await inNetns(from, ['dig', '+short', '+notcp', '+time=2', '+tries=1', '@10.43.0.10', 'app2-service.default.svc.cluster.local']);
    expect(r.stdout.trim()).toBe(svc('app2-service').spec.clusterIP);
  });

  it('an edit of config.yaml to iptables and back switches every node, leaves no rule of the mode left, and fails no request of a client looping on app2.com', async () => {
    const client = spawn('ip', ['netns', 'exec', paths.hostNetns, process.execPath, path.join(ROOT, 'test/e2e/soak-client.mjs'), 'http://app2.com/', 'app2.com', '20']);
    let out = '';
    client.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise((r) => client.on('exit', r));
    try {
      await new Promise((r) => setTimeout(r, 1500));
      await switchTo('iptables');
      await switchTo('nftables');
    } finally {
      client.kill('SIGTERM');
      await exited;
    }
    const recs = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { status?: number; body?: string; error?: string });
    const failed = recs.filter((r) => r.status !== 200 || !r.body?.includes('Welcome to App 2!'));
    process.stdout.write(`mode switch: ${recs.length} requests, ${failed.length} failed ${JSON.stringify(failed.slice(0, 3))}\n`);
    expect(recs.length).toBeGreaterThan(50);
    expect(failed).toEqual([]);
    // The agent's kube-proxy said so, both ways.
    const agentLogs = (await readdir(paths.stateDir, { recursive: true })).filter((f) => f.endsWith('agent.log'));
    expect(agentLogs).toHaveLength(1);
    const log = await readFile(path.join(paths.stateDir, agentLogs[0]!), 'utf8');
    expect(log).toContain('proxy mode nftables -> iptables');
    expect(log).toContain('proxy mode iptables -> nftables');
  }, 200_000);

  it("no kube-proxy sync failed on either node (every partial sync's nft input was accepted)", async () => {
    // A failed transaction is followed by a full sync, so the packets alone would not show it: the logs do.
    const logs = (await readdir(paths.stateDir, { recursive: true })).filter((f) => f.endsWith('server.log') || f.endsWith('agent.log'));
    expect(logs.length).toBeGreaterThanOrEqual(2);
    for (const f of logs) {
      const failed = (await readFile(path.join(paths.stateDir, f), 'utf8')).split('\n').filter((l) => l.includes('kube-proxy: sync failed'));
      expect(failed, f).toEqual([]);
    }
  });

  it('lab down leaves no table', async () => {
    const down = await lab(['down', '--name', I], { timeoutMs: 180_000 });
    expect(down.code).toBe(0);
    // The server's node namespace is gone with the instance; nothing of kube-proxy in the root namespace.
    const r = await cmd(['nft', 'list', 'tables']);
    expect(r.stdout).not.toContain('kube-proxy');
    expect((await cmd(['ip', 'netns', 'list'])).stdout).not.toContain(`${I}-node`);
  }, 200_000);
});
