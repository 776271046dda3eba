// Issue 14: a server and agents joined over the laptop's network, as k3s runs them. `lab up
// --nodes N` makes the machines (namespaces on vboxnet0), the server starts an agent in each, the
// node IPAM hands out pod CIDRs in order, each node runs its own kubelet and kube-proxy; a node
// leaves the cluster when the count goes down; an agent with a wrong token or node IP is refused; `lab node
// stop|start` fails a machine and brings it back; `lab down` leaves nothing of any node.
import { mkdtemp, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { instancePaths } from '../../src/node/instance.ts';
import { cmd, downAndRemove, instanceName, isRoot, kubectlFor, lab, until, upWithKubeconfig } from './helpers.ts';

const instance = instanceName('mn');
const paths = instancePaths(instance);
const LAB_JS = path.resolve('bin/lab.js');

describe.skipIf(!isRoot)('issue 14: lab up --nodes N, agents, nodes leaving and failing', () => {
  let dir: string;
  let kubeconfig: string;
  const { kubectlOk } = kubectlFor(() => kubeconfig);
  const nodes = async () =>
    (await kubectlOk(['get', 'nodes', '-o', 'custom-columns=NAME:.metadata.name,CIDR:.spec.podCIDR,IP:.status.addresses[0].address,READY:.status.conditions[?(@.type=="Ready")].status', '--no-headers']))
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/).join(' '));
  /** Runs `lab agent` inside a machine's namespace, as the server does, and returns how it ended. */
  const agentIn = (netns: string, args: string[]) => cmd(['timeout', '30', 'nsenter', `--net=/run/netns/${netns}`, '--', process.execPath, LAB_JS, 'agent', '--name', instance, ...args], { timeoutMs: 40_000 });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'pplt-mn-'));
    kubeconfig = await upWithKubeconfig(instance, dir, ['--nodes', '2'], 240_000);
  }, 260_000);

  afterAll(() => downAndRemove(instance, dir), 200_000);

  it('two Ready nodes: labs (control-plane) at .110 with 10.42.0.0/24, labsw at .111 with 10.42.1.0/24', async () => {
    expect(await nodes()).toEqual(['labs 10.42.0.0/24 192.168.56.110 True', 'labsw 10.42.1.0/24 192.168.56.111 True']);
    const wide = await kubectlOk(['get', 'nodes', '-o', 'wide', '--no-headers']);
    expect(wide).toMatch(/^labs\s+Ready\s+control-plane,master\s/m);
    expect(wide).toMatch(/^labsw\s+Ready\s+<none>\s/m);
    const labsw = JSON.parse(await kubectlOk(['get', 'node', 'labsw', '-o', 'json'])) as { metadata: { labels: Record<string, string>; annotations: Record<string, string> } };
    expect(labsw.metadata.labels['kubernetes.io/hostname']).toBe('labsw');
    expect(labsw.metadata.labels['node-role.kubernetes.io/control-plane']).toBeUndefined();
    expect(labsw.metadata.annotations['lab/netns']).toBe(paths.agentNetns('labsw'));
  });

  it('pods scheduled on labsw run there: its own kubelet, its own addresses, its own kube-proxy rules', async () => {
    await kubectlOk(['scale', 'deploy', 'app2', '--replicas=6']);
    await until('6 app2 pods running', async () => (await kubectlOk(['get', 'pods', '-l', 'app=app2', '--no-headers'])).split('\n').filter((l) => /1\/1\s+Running/.test(l)).length === 6, 60_000);
    const pods = (await kubectlOk(['get', 'pods', '-l', 'app=app2', '-o', 'custom-columns=IP:.status.podIP,NODE:.spec.nodeName', '--no-headers'])).trim().split('\n').map((l) => l.trim().split(/\s+/));
    const onAgent = pods.filter(([, node]) => node === 'labsw');
    expect(onAgent.length).toBeGreaterThan(0);
    for (const [ip] of onAgent) expect(ip).toMatch(/^10\.42\.1\.\d+$/);
    // kube-proxy on labsw wrote app2's chains in labsw's namespace, with every endpoint.
    const rules = await cmd(['ip', 'netns', 'exec', paths.agentNetns('labsw'), 'iptables-save', '-t', 'nat']);
    for (const [ip] of pods) expect(rules.stdout).toContain(`-j DNAT --to-destination ${ip}:80`);
    // The learner's tools find the pod's process in its node's runtime.
    const name = (await kubectlOk(['get', 'pods', '-l', 'app=app2', '--field-selector', 'spec.nodeName=labsw', '-o', 'jsonpath={.items[0].metadata.name}'])).trim();
    const exec = await lab(['exec', name, '--name', instance, '--', 'cat', '/etc/resolv.conf']);
    expect(exec.code, exec.stderr).toBe(0);
    expect(exec.stdout).toContain('nameserver 10.43.0.10');
    const kill = await lab(['kill', name, '--name', instance]);
    expect(kill.code, kill.stderr).toBe(0);
    await until('restarted by labsw\'s kubelet', async () => (await kubectlOk(['get', 'pod', name, '-o', 'jsonpath={.status.containerStatuses[0].restartCount}'])).trim() === '1', 30_000);
    await kubectlOk(['scale', 'deploy', 'app2', '--replicas=3']);
  }, 90_000);

  it('flannel on both nodes, as flannel writes it: flannel.1, the neighbour, FDB entry and route to the other node', async () => {
    const vtep = async (node: string) => (JSON.parse(JSON.parse(await kubectlOk(['get', 'node', node, '-o', 'json'])).metadata.annotations['flannel.alpha.coreos.com/backend-data']) as { VNI: number; VtepMAC: string }).VtepMAC;
    const macs = { labs: await vtep('labs'), labsw: await vtep('labsw') };
    const ns = { labs: paths.nodeNetns, labsw: paths.agentNetns('labsw') };
    const other = { labs: { node: 'labsw' as const, ip: '192.168.56.111', subnet: 1 }, labsw: { node: 'labs' as const, ip: '192.168.56.110', subnet: 0 } };
    for (const self of ['labs', 'labsw'] as const) {
      const o = other[self];
      const link = (await cmd(['ip', '-n', ns[self], '-d', 'link', 'show', 'flannel.1'])).stdout;
      expect(link).toMatch(/mtu 1450 /);
      expect(link).toContain(`link/ether ${macs[self]}`);
      expect(link).toMatch(new RegExp(`vxlan id 1 local 192\\.168\\.56\\.11${self === 'labs' ? 0 : 1} dev eth1 .*dstport 8472 nolearning`));
      expect((await cmd(['ip', '-n', ns[self], 'neigh', 'show', 'dev', 'flannel.1'])).stdout.trim()).toBe(`10.42.${o.subnet}.0 lladdr ${macs[o.node]} PERMANENT`);
      expect((await cmd(['bridge', '-n', ns[self], 'fdb', 'show', 'dev', 'flannel.1'])).stdout.trim()).toBe(`${macs[o.node]} dst ${o.ip} self permanent`);
      expect((await cmd(['ip', '-n', ns[self], 'route', 'show', 'dev', 'flannel.1'])).stdout.trim()).toBe(`10.42.${o.subnet}.0/24 via 10.42.${o.subnet}.0 onlink `.trim());
      expect(await readFile(path.join(self === 'labs' ? paths.stateDir : path.join(paths.stateDir, 'agents', 'labsw'), 'nodes', self, 'run', 'flannel', 'subnet.env'), 'utf8')).toBe(`FLANNEL_NETWORK=10.42.0.0/16\nFLANNEL_SUBNET=10.42.${self === 'labs' ? 0 : 1}.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n`);
    }
  });

  it('a pod on labs reaches a pod on labsw by IP: VXLAN on eth1 (UDP 8472, VNI 1), the target sees the source pod\'s IP', async () => {
    await kubectlOk(['scale', 'deploy', 'app2', '--replicas=6']);
    type P = { metadata: { name: string; labels?: Record<string, string>; deletionTimestamp?: string }; spec: { nodeName?: string }; status: { podIP?: string; conditions?: { type: string; status: string }[] } };
    const ready = (p: P) => !p.metadata.deletionTimestamp && (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
    let pods: { items: P[] } = { items: [] };
    await until('a ready app2 pod on labsw, and a workload pod on labs', async () => {
      pods = JSON.parse(await kubectlOk(['get', 'pods', '-o', 'json'])) as { items: P[] };
      return pods.items.some((p) => p.metadata.labels?.app === 'app2' && p.spec.nodeName === 'labsw' && ready(p)) && pods.items.some((p) => p.spec.nodeName === 'labs' && ready(p) && ['app1', 'app2', 'app3'].includes(p.metadata.labels?.app ?? ''));
    }, 60_000);
    const target = pods.items.find((p) => p.metadata.labels?.app === 'app2' && p.spec.nodeName === 'labsw' && ready(p))!;
    // Any of the workloads' pods on labs (app1's one replica may be on either node: the server
    // applies lab/cluster.yaml once both nodes can take pods).
    const source = pods.items.find((p) => p.spec.nodeName === 'labs' && ready(p) && ['app1', 'app2', 'app3'].includes(p.metadata.labels?.app ?? ''))!;
    expect(source).toBeDefined();
    // Both captures start first: the VXLAN frame on labsw's eth1, the TCP SYN in the target pod.
    // tcpdump takes UDP 8472 for Cisco's OTV (its IANA port) unless told `-T vxlan`.
    const onWire = cmd(['timeout', '15', 'ip', 'netns', 'exec', paths.agentNetns('labsw'), 'tcpdump', '-n', '-v', '-T', 'vxlan', '-c', '1', '-i', 'eth1', 'udp', 'port', '8472'], { timeoutMs: 20_000 });
    const inPod = cmd(['timeout', '15', 'ip', 'netns', 'exec', paths.podNetns(target.metadata.name), 'tcpdump', '-n', '-c', '1', '-i', 'eth0', 'tcp[tcpflags] & tcp-syn != 0 and dst port 80'], { timeoutMs: 20_000 });
    await new Promise((r) => setTimeout(r, 1500));
    // From the source pod's network namespace (the app1 image has no HTTP client of its own).
    const get = await cmd(['ip', 'netns', 'exec', paths.podNetns(source.metadata.name), 'curl', '-sS', '--max-time', '5', `http://${target.status.podIP}/`]);
    expect(get.stdout, get.stderr).toContain('Welcome to App 2!');
    const [wire, pod] = await Promise.all([onWire, inPod]);
    expect(wire.stdout).toMatch(/192\.168\.56\.110\.\d+ > 192\.168\.56\.111\.8472: VXLAN, flags \[I\] \(0x08\), vni 1/);
    expect(wire.stdout).toContain(`${source.status.podIP}`);
    expect(pod.stdout).toContain(`IP ${source.status.podIP}.`);
    expect(pod.stdout).toContain(`> ${target.status.podIP}.80:`);
    await kubectlOk(['scale', 'deploy', 'app2', '--replicas=3']);
  }, 120_000);

  it('app2.com from the laptop is answered through the ingress, whichever node the chosen pod is on', async () => {
    for (let i = 0; i < 12; i++) {
      const r = await cmd(['ip', 'netns', 'exec', paths.hostNetns, 'curl', '-sS', '--max-time', '3', 'http://app2.com/']);
      expect(r.stdout, r.stderr).toContain('Welcome to App 2!');
    }
  }, 60_000);

  it('an agent with a token for another server, or a wrong secret, is refused with what is wrong', async () => {
    const token = (await readFile(path.join(paths.serverDir, 'node-token'), 'utf8')).trim();
    const [, hash, secret] = /^K10([0-9a-f]{64})::server:(.+)$/.exec(token)!;
    const other = `K10${'0'.repeat(64)}::server:${secret}`;
    const wrongSecret = `K10${hash}::server:${'f'.repeat(64)}`;
    const base = ['--server', 'https://192.168.56.110:6443', '--node-name', 'labsw', '--node-ip', '192.168.56.111'];
    const a = await agentIn(paths.agentNetns('labsw'), [...base, '--token', other]);
    expect(a.code).not.toBe(0);
    expect(a.stderr).toMatch(/the server at https:\/\/192\.168\.56\.110:6443 is not the one the token is for/);
    const b = await agentIn(paths.agentNetns('labsw'), [...base, '--token', wrongSecret]);
    expect(b.code).not.toBe(0);
    expect(b.stderr).toMatch(/refused the token \(401 Unauthorized\)/);
    // Outside its machine a sandbox agent would change the machine's own namespace: refused.
    const c = await cmd(['timeout', '30', process.execPath, LAB_JS, 'agent', '--name', instance, ...base, '--token', token, '--mode', 'sandbox']);
    expect(c.code).not.toBe(0);
    expect(c.stderr).toMatch(/a sandbox agent runs inside its machine's namespace/);
    // --node-ip off the nodes' network (VirtualBox's NAT address, the --flannel-iface lesson), and
    // in host mode an address the machine does not hold (the kubelet's check): refused before anything.
    const d = await agentIn(paths.agentNetns('labsw'), [...base.slice(0, 4), '--node-ip', '10.0.2.15', '--token', token]);
    expect(d.code).not.toBe(0);
    expect(d.stderr).toMatch(/--node-ip: node IP 10\.0\.2\.15 is not on the node network 192\.168\.56\.0\/24 of the server 192\.168\.56\.110, where the nodes meet \(eth1\): 10\.0\.2\.15 is VirtualBox's NAT address on eth0/);
    const e = await agentIn(paths.agentNetns('labsw'), [...base.slice(0, 4), '--node-ip', '192.168.56.119', '--token', token, '--mode', 'host']);
    expect(e.code).not.toBe(0);
    expect(e.stderr).toMatch(/failed to validate nodeIP: node IP: "192\.168\.56\.119" not found in the host's network interfaces/);
  }, 120_000);

  it('--nodes 3 adds labsw2 with 10.42.2.0/24; --nodes 2 takes it away: Node, pods and machine', async () => {
    const up3 = await lab(['up', '--name', instance, '--nodes', '3'], { timeoutMs: 180_000 });
    expect(up3.code, up3.stderr).toBe(0);
    expect(await nodes()).toContain('labsw2 10.42.2.0/24 192.168.56.112 True');
    expect(existsSync(`/run/netns/${paths.agentNetns('labsw2')}`)).toBe(true);
    const up2 = await lab(['up', '--name', instance, '--nodes', '2'], { timeoutMs: 180_000 });
    expect(up2.code, up2.stderr).toBe(0);
    expect((await nodes()).map((n) => n.split(' ')[0])).toEqual(['labs', 'labsw']);
    expect(existsSync(`/run/netns/${paths.agentNetns('labsw2')}`)).toBe(false);
    expect(await kubectlOk(['get', 'pods', '-A', '--field-selector', 'spec.nodeName=labsw2', '--no-headers'])).toBe('');
  }, 400_000);

  it('lab node stop labsw: its Lease stops, NotReady with the unreachable taints; lab node start: Ready again', async () => {
    const stop = await lab(['node', 'stop', 'labsw', '--name', instance]);
    expect(stop.code, stop.stderr).toBe(0);
    await until('labsw NotReady', async () => (await nodes()).includes('labsw 10.42.1.0/24 192.168.56.111 Unknown'), 70_000, 500);
    const taints = await kubectlOk(['get', 'node', 'labsw', '-o', 'jsonpath={.spec.taints[*].key}']);
    expect(taints).toContain('node.kubernetes.io/unreachable');
    const start = await lab(['node', 'start', 'labsw', '--name', instance]);
    expect(start.code, start.stderr).toBe(0);
    await until('labsw Ready', async () => (await nodes()).includes('labsw 10.42.1.0/24 192.168.56.111 True'), 30_000, 500);
    await until('the unreachable taint gone', async () => !(await kubectlOk(['get', 'node', 'labsw', '-o', 'jsonpath={.spec.taints[*].key}'])).includes('unreachable'), 15_000, 500);
  }, 120_000);
});
