// Issue 14 item 8: the learner's tools across nodes, on a real two-node sandbox (`lab up --nodes 2`:
// labs at .110, labsw at .111, flannel VXLAN between them). Every claim is checked against the
// kernel or the pod independently: the capture's VXLAN frame against the node IPs and pod IPs the
// API gives, the route and FDB against `ip`/`bridge` run here, the source address against the
// target pod's own access log.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentPaths, instancePaths } from '../../src/node/instance.ts';
import { cmd, downAndRemove, instanceName, isRoot, kubectlFor, lab, LAB_BIN, ROOT, shDeployment, until, upWithKubeconfig } from './helpers.ts';

const instance = instanceName('mnt');
const paths = instancePaths(instance);

type Pod = { metadata: { name: string; labels?: Record<string, string> }; spec: { nodeName?: string }; status: { podIP?: string; conditions?: { type: string; status: string }[] } };

const manifests = [
  // The target: one httpd on labsw that logs each client address (-v), behind a NodePort Service.
  shDeployment({ name: 'xn-target', script: 'mkdir -p /w && echo xn-target > /w/index.html && exec httpd -f -v -p 80 -h /w', podSpec: '      nodeSelector:\n        kubernetes.io/hostname: labsw' }),
  shDeployment({ name: 'xn-source', script: 'exec sleep 100000', podSpec: '      nodeSelector:\n        kubernetes.io/hostname: labs' }),
  `
---
apiVersion: v1
kind: Service
metadata:
  name: xn-target
spec:
  type: NodePort
  selector:
    app: xn-target
  ports:
    - name: http
      port: 80
      targetPort: 80
`,
].join('\n');

interface CrossJson {
  from: string;
  to: string;
  route?: string;
  framesOut: number;
  framesBack: number;
  first?: { outer: { src: string; dst: string; dport: number; srcMac: string }; vni: number; flags: number; inner: { src: string; dst: string; dport: number; srcMac: string; dstMac: string } };
  decapPackets?: number;
  sourceSeen?: string;
}
interface TraceJson {
  legs: { role: string; sepChain?: string; rules: { chain: string; packets: number }[]; dnat?: { to: string }; snat?: { to: string } }[];
  hops: { kind: string; title: string; lines: string[] }[];
  answeredBy?: { name: string; log: string[] };
  crossNode?: CrossJson;
  warnings: string[];
}

const children = new Set<ChildProcess>();
/** `lab <args>` running until `done(out)` holds while `action` runs, then stopped (by its PID) with SIGINT. */
async function captureWhile(args: string[], action: () => Promise<unknown>, done: (out: string) => boolean): Promise<{ out: string; err: string }> {
  // --name before the target: after `--` it would be taken for tcpdump's filter.
  const child = spawn(process.execPath, [LAB_BIN, args[0]!, '--name', instance, ...args.slice(1)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await until(`lab ${args.join(' ')} ready`, async () => /ready: /.test(err) || child.exitCode !== null, 15_000);
    expect(child.exitCode, err).toBeNull();
    await until(`lab ${args.join(' ')} saw it`, async () => {
      await action();
      return done(out);
    }, 20_000, 300);
  } finally {
    if (child.exitCode === null) child.kill('SIGINT');
    await exited;
    children.delete(child);
  }
  return { out, err };
}

describe.skipIf(!isRoot)('issue 14 item 8: the learner tools across nodes', () => {
  let dir: string;
  let kubeconfig: string;
  const { kubectlOk } = kubectlFor(() => kubeconfig);
  let target: Pod;
  let source: Pod;
  let nodePort: number;
  const macOf = async (node: string) => (JSON.parse(JSON.parse(await kubectlOk(['get', 'node', node, '-o', 'json'])).metadata.annotations['flannel.alpha.coreos.com/backend-data']) as { VtepMAC: string }).VtepMAC;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'pplt-mnt-'));
    kubeconfig = await upWithKubeconfig(instance, dir, ['--nodes', '2'], 240_000);
    await writeFile(path.join(dir, 'xn.yaml'), manifests);
    await kubectlOk(['apply', '-f', path.join(dir, 'xn.yaml')]);
    const ready = (p: Pod) => p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    const pods = await until('xn-target on labsw and xn-source on labs Ready', async () => {
      const items = (JSON.parse(await kubectlOk(['get', 'pods', '-l', 'app in (xn-target,xn-source)', '-o', 'json'])) as { items: Pod[] }).items;
      const t = items.find((p) => p.metadata.labels?.app === 'xn-target' && ready(p));
      const s = items.find((p) => p.metadata.labels?.app === 'xn-source' && ready(p));
      return t && s ? { t, s } : undefined;
    }, 90_000, 300);
    target = pods.t;
    source = pods.s;
    nodePort = Number(await kubectlOk(['get', 'svc', 'xn-target', '-o', 'jsonpath={.spec.ports[0].nodePort}']));
    // The endpoint is in labs's rules before a trace relies on them.
    await until('labs has xn-target\'s endpoint chain', async () => (await cmd(['ip', 'netns', 'exec', paths.nodeNetns, 'iptables-save', '-t', 'nat'])).stdout.includes(`--to-destination ${target.status.podIP}:80`), 30_000);
  }, 400_000);

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGINT');
    await downAndRemove(instance, dir);
  }, 200_000);

  it('lab get pods -o wide: the NODE column says where each pod runs', async () => {
    const r = await lab(['get', 'pods', '-o', 'wide', '--name', instance]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s/);
    expect(r.stdout).toMatch(new RegExp(`^${target.metadata.name}\\s+1/1\\s+Running\\s+\\d+\\s+\\S+\\s+${target.status.podIP!.replace(/\./g, '\\.')}\\s+labsw\\s`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^${source.metadata.name}\\s+1/1\\s+Running\\s+\\d+\\s+\\S+\\s+${source.status.podIP!.replace(/\./g, '\\.')}\\s+labs\\s`, 'm'));
  });

  it('lab trace from a pod on labs to a Service whose endpoint is on labsw: DNAT on labs, route to flannel.1, the VXLAN frame, decap on labsw, no SNAT', async () => {
    const r = await lab(['trace', 'http://xn-target/', '--from', `deploy/xn-source`, '--json', '--name', instance]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const t = JSON.parse(r.stdout) as TraceJson;
    const client = t.legs.find((l) => l.role === 'client')!;
    // DNAT read on labs, the node that NATs it: the endpoint chain counted it, conntrack agrees.
    expect(client.dnat?.to).toBe(`${target.status.podIP}:80`);
    expect(client.sepChain).toMatch(/^KUBE-SEP-/);
    expect(client.rules.some((x) => x.chain === client.sepChain && x.packets >= 1)).toBe(true);
    expect(client.snat).toBeUndefined();
    const x = t.crossNode!;
    expect(x).toBeDefined();
    expect([x.from, x.to]).toEqual(['labs', 'labsw']);
    // The route, as ip route on labs has it (checked independently).
    expect(x.route).toMatch(/^10\.42\.1\.0\/24 via 10\.42\.1\.0 dev flannel\.1 onlink/);
    expect((await cmd(['ip', '-n', paths.nodeNetns, 'route', 'show', '10.42.1.0/24'])).stdout.trim()).toBe(x.route!.trim());
    // The VXLAN frame captured on labs's eth1: node IPs outside, UDP 8472, VNI 1, the pod IPs inside.
    expect(x.framesOut).toBeGreaterThanOrEqual(3);
    expect(x.framesBack).toBeGreaterThanOrEqual(2);
    expect(x.first).toMatchObject({ outer: { src: '192.168.56.110', dst: '192.168.56.111', dport: 8472 }, vni: 1, inner: { src: source.status.podIP, dst: target.status.podIP, dport: 80 } });
    expect(x.first!.flags & 0x08).toBe(0x08);
    // Inner Ethernet: labs's VTEP to labsw's, as the Node annotations publish them.
    expect(x.first!.inner.srcMac).toBe((await macOf('labs')).toLowerCase());
    expect(x.first!.inner.dstMac).toBe((await macOf('labsw')).toLowerCase());
    expect(x.decapPackets).toBeGreaterThanOrEqual(3);
    // The source the pod sees: the source pod's own address; its access log says the same.
    expect(x.sourceSeen).toMatch(new RegExp(`^${source.status.podIP!.replace(/\./g, '\\.')}:\\d+$`));
    const kinds = t.hops.map((h) => h.kind);
    expect(kinds.indexOf('dnat')).toBeLessThan(kinds.indexOf('route'));
    expect(kinds.indexOf('route')).toBeLessThan(kinds.indexOf('vxlan'));
    expect(kinds.indexOf('vxlan')).toBeLessThan(kinds.indexOf('decap'));
    expect(kinds.indexOf('decap')).toBeLessThan(kinds.indexOf('pod'));
    expect(t.answeredBy?.name).toBe(target.metadata.name);
    expect(t.answeredBy!.log.join('\n')).toContain(source.status.podIP);
    expect(t.warnings).toEqual([]);
    // The text says the same.
    const text = await lab(['trace', 'http://xn-target/', '--from', 'deploy/xn-source', '--name', instance]);
    expect(text.code, text.stderr).toBe(0);
    // Printed in the test log: what a learner sees (docs/architecture.md quotes a run).
    process.stdout.write(text.stdout);
    expect(text.stdout).toMatch(/ROUTE\s+node labs: 10\.42\.1\.\d+ -> 10\.42\.1\.0\/24 via 10\.42\.1\.0 dev flannel\.1 onlink/);
    expect(text.stdout).toMatch(/VXLAN\s+eth1 on labs: UDP 192\.168\.56\.110 -> 192\.168\.56\.111:8472, VXLAN VNI 1/);
    expect(text.stdout).toMatch(/DECAP\s+node labsw \(192\.168\.56\.111\): eth1 -> flannel\.1/);
    expect(text.stdout).toContain('no SNAT pod-to-pod across nodes');
  }, 60_000);

  it('lab trace from the laptop to the NodePort on labs: DNAT and masquerade on labs, the frame carries flannel.1\'s address as the source', async () => {
    const r = await lab(['trace', `http://192.168.56.110:${nodePort}/`, '--json', '--name', instance]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const t = JSON.parse(r.stdout) as TraceJson;
    const client = t.legs.find((l) => l.role === 'client')!;
    expect(client.dnat?.to).toBe(`${target.status.podIP}:80`);
    // kube-proxy masquerades traffic from outside; out through flannel.1 that is its address, 10.42.0.0.
    expect(client.snat?.to).toMatch(/^10\.42\.0\.0:\d+$/);
    const x = t.crossNode!;
    expect(x.first).toMatchObject({ outer: { src: '192.168.56.110', dst: '192.168.56.111', dport: 8472 }, vni: 1, inner: { src: '10.42.0.0', dst: target.status.podIP, dport: 80 } });
    expect(x.sourceSeen).toMatch(/^10\.42\.0\.0:\d+$/);
  }, 60_000);

  it('lab tcpdump node/labsw decodes VXLAN: outer node IPs, UDP 8472, VNI 1, the inner pod packet', async () => {
    // Traffic of both kinds on labsw's eth1: a pod on labs to the pod on labsw (VXLAN), and the
    // laptop to the NodePort on labsw's own IP (plain).
    const both = () =>
      Promise.all([
        cmd(['ip', 'netns', 'exec', paths.podNetns(source.metadata.name), 'curl', '-sS', '--max-time', '3', `http://${target.status.podIP}/`]),
        cmd(['ip', 'netns', 'exec', paths.hostNetns, 'curl', '-sS', '--max-time', '3', `http://192.168.56.111:${nodePort}/`]),
      ]);
    const plain = new RegExp(`IP 192\\.168\\.56\\.1\\.\\d+ > 192\\.168\\.56\\.111\\.${nodePort}: Flags \\[S\\]`);
    const { out } = await captureWhile(['tcpdump', 'node/labsw'], both, (o) => o.includes(`> ${target.status.podIP}.80: Flags [S]`) && plain.test(o));
    // tcpdump -T vxlan: the outer line ("VXLAN, flags [I] (0x08), vni 1"), the inner frame on the next.
    const lines = out.split('\n');
    const i = lines.findIndex((l) => l.startsWith(`IP ${source.status.podIP}.`) && l.includes(`> ${target.status.podIP}.80: Flags [S]`));
    expect(i, out).toBeGreaterThan(0);
    expect(lines[i - 1]).toMatch(/IP 192\.168\.56\.110\.\d+ > 192\.168\.56\.111\.8472: VXLAN, flags \[I\] \(0x08\), vni 1$/);
    // The plain half: the laptop's SYN, not misread as VXLAN; and no OTV anywhere.
    expect(out).toMatch(plain);
    expect(out).not.toContain('OTV');
  }, 60_000);

  it('lab tcpdump cni0 --node labsw and svc/xn-target capture on labsw', async () => {
    const curlIt = () => cmd(['ip', 'netns', 'exec', paths.podNetns(source.metadata.name), 'curl', '-sS', '--max-time', '3', `http://${target.status.podIP}/`]);
    const cni = await captureWhile(['tcpdump', 'cni0', '--node', 'labsw', '--', 'tcp', 'port', '80'], curlIt, (o) => o.includes(`IP ${source.status.podIP}.`));
    expect(cni.err).toContain('capturing on cni0 on node labsw');
    expect(cni.out).toMatch(new RegExp(`IP ${source.status.podIP!.replace(/\./g, '\\.')}\\.\\d+ > ${target.status.podIP!.replace(/\./g, '\\.')}\\.80: Flags \\[S\\]`));
    const svc = await captureWhile(['tcpdump', 'svc/xn-target', '--', 'tcp', 'port', '80'], curlIt, (o) => o.includes(`IP ${source.status.podIP}.`));
    expect(svc.err).toMatch(/on node labsw \(pod xn-target-/);
    expect(svc.out).toContain(`[${target.metadata.name}] `);
  }, 60_000);

  it('lab describe node labsw: podCIDR, VTEP MAC, flannel.1, FDB, neighbours, routes, subnet.env', async () => {
    const r = await lab(['describe', 'node', 'labsw', '--name', instance]);
    expect(r.code, r.stderr).toBe(0);
    const o = r.stdout;
    const [labsMac, labswMac] = [(await macOf('labs')).toLowerCase(), (await macOf('labsw')).toLowerCase()];
    expect(o).toMatch(/^Name:\s+labsw$/m);
    expect(o).toMatch(/^Roles:\s+<none>$/m);
    expect(o).toMatch(/InternalIP:\s+192\.168\.56\.111 \(eth1\)/);
    expect(o).toMatch(/^PodCIDR:\s+10\.42\.1\.0\/24$/m);
    expect(o).toMatch(new RegExp(`VTEP MAC:\\s+${labswMac}`));
    expect(o).toMatch(/vxlan id 1 local 192\.168\.56\.111 dev eth1 .*dstport 8472/);
    // Independently: the kernel's own lines are there, annotated.
    const fdb = (await cmd(['bridge', '-n', paths.agentNetns('labsw'), 'fdb', 'show', 'dev', 'flannel.1'])).stdout.split('\n').find((l) => l.startsWith(labsMac))!;
    expect(fdb).toContain('dst 192.168.56.110 self permanent');
    expect(o).toContain(`${fdb.trim()}   # node labs's flannel.1`);
    expect(o).toContain(`10.42.0.0 lladdr ${labsMac} PERMANENT   # node labs (podCIDR 10.42.0.0/24)`);
    expect(o).toMatch(/10\.42\.0\.0\/24 via 10\.42\.0\.0 dev flannel\.1 onlink\s+# node labs's pods/);
    expect(o).toContain(`subnet.env (${agentPaths(instance, 'labsw').subnetEnvFile('labsw')}):`);
    expect(o).toContain('FLANNEL_SUBNET=10.42.1.1/24');
    // Its pods only.
    expect(o).toContain(target.metadata.name);
    expect(o).not.toContain(source.metadata.name);
    const labs = await lab(['describe', 'node', 'labs', '--name', instance]);
    expect(labs.stdout).toMatch(/^Roles:\s+control-plane,master$/m);
    expect(labs.stdout).toContain(source.metadata.name);
    expect(labs.stdout).toContain(`10.42.1.0 lladdr ${labswMac} PERMANENT   # node labsw`);
    const bad = await lab(['describe', 'node', 'labsw9', '--name', instance]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('node "labsw9" not found; nodes: labs, labsw');
  }, 60_000);

  it('lab explain and lab describe svc read the node asked for', async () => {
    const routes = await lab(['explain', 'routes', '--node', 'labsw', '--name', instance]);
    expect(routes.code, routes.stderr).toBe(0);
    expect(routes.stdout).toContain(`(in network namespace ${paths.agentNetns('labsw')})`);
    expect(routes.stdout).toContain('10.42.0.0/24 via 10.42.0.0 dev flannel.1 onlink');
    expect(routes.stdout).toContain(target.metadata.name);
    const ipt = await lab(['explain', 'iptables', '--node', 'labsw', '--name', instance]);
    expect(ipt.code, ipt.stderr).toBe(0);
    expect(ipt.stdout).toContain(`--to-destination ${target.status.podIP}:80`);
    const svc = await lab(['describe', 'svc', 'xn-target', '--node', 'labsw', '--name', instance]);
    expect(svc.code, svc.stderr).toBe(0);
    expect(svc.stdout).toContain('kube-proxy (iptables, node labsw)');
    expect(svc.stdout).toMatch(/KUBE-SVC-/);
    // Read on labs: the endpoint is on the other node.
    const fromLabs = await lab(['describe', 'svc', 'xn-target', '--name', instance]);
    expect(fromLabs.stdout).toContain('kube-proxy (iptables, node labs)');
    expect(fromLabs.stdout).toMatch(new RegExp(`${target.status.podIP!.replace(/\./g, '\\.')}:80\\s+KUBE-SEP-\\S+\\s+(?:the rest|\\d\\.\\d+)\\s+${target.metadata.name}\\s+labsw \\(via flannel\\.1\\)`));
    expect(svc.stdout).toMatch(new RegExp(`${target.metadata.name}\\s+labsw$`, 'm'));
  }, 60_000);
});
