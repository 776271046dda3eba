// flannel's vxlan backend against the real kernel, without an API server: two "node" namespaces
// whose eth1 (192.168.56.110 and .111) are ports of a bridge in a "laptop" namespace (VirtualBox's
// host-only network), each with a cni0 bridge (10.42.0.1/24, 10.42.1.1/24, MTU 1450) and one pod
// namespace on it. syncFlannel (planner + applier) runs on both with leases the test hands over,
// as the controller would read them from the other Node. Checks what issue 14 item 3 asks: pod to
// pod across nodes, the target seeing the source pod's IP, VXLAN on UDP 8472 with VNI 1 on the
// wire, and `ip -d link`, `bridge fdb`, `ip neigh`, `ip route` exactly as flannel leaves them;
// then a lease taken away, a wrong device, a route deleted by hand. A second sandbox runs two
// FlannelControllers on one in-process API (LocalClient): leases come from the Node objects.
// Every namespace is the test's own and is deleted afterwards; the machine's root namespace is
// never touched.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlannelLease } from '../../src/flannel/annotations.ts';
import { NetnsDataplane, teardownFlannel } from '../../src/flannel/dataplane.ts';
import { syncFlannel, type FlannelSyncInput, type FlannelSyncResult } from '../../src/flannel/sync.ts';
import { isEmptyPlan } from '../../src/flannel/vxlan-plan.ts';
import { run } from '../../src/sys/exec.ts';
import { Registry } from '../../src/api/server/registry.ts';
import { KineStore } from '../../src/api/storage/kine.ts';
import { LocalClient } from '../../src/client/local.ts';
import type { FlannelNode } from '../../src/flannel/annotations.ts';
import { FlannelController } from '../../src/flannel/flannel-controller.ts';
import { until } from './helpers.ts';

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn('test/e2e/flannel.test.ts: skipped, needs root (it creates network namespaces)');

const CLUSTER = '10.42.0.0/16';
const NODES = { group: '', resource: 'nodes' };

const sh = (netns: string, argv: string[]) => run(argv, { netns });
const out = async (netns: string, argv: string[]) => (await sh(netns, argv)).stdout;
/** Lines without the trailing blanks iproute2 leaves. */
const tidy = (text: string) => text.split('\n').map((l) => l.trimEnd()).filter(Boolean);

interface Node {
  name: string;
  netns: string;
  ip: string;
  podCIDR: string;
  pod: string;
  podIP: string;
  subnetEnv: string;
  dp: NetnsDataplane;
  mac?: string;
}

/** The laptop, two nodes and their pods: namespaces `pplt-fl-<random>-<role>`, files in a temporary directory. */
class Sandbox {
  readonly id = randomBytes(3).toString('hex');
  readonly laptop = `pplt-fl-${this.id}-laptop`;
  /** Made by build(): a skipped suite leaves nothing. */
  readonly dir = path.join(tmpdir(), `pplt-flannel-${this.id}`);
  readonly nodes: Node[] = [
    this.node('labs', '192.168.56.110', '10.42.0.0/24', '10.42.0.2'),
    this.node('labsw', '192.168.56.111', '10.42.1.0/24', '10.42.1.2'),
  ];
  readonly namespaces = [this.laptop, ...this.nodes.flatMap((n) => [n.netns, n.pod])];

  private node(name: string, ip: string, podCIDR: string, podIP: string): Node {
    const netns = `pplt-fl-${this.id}-${name}`;
    return { name, netns, ip, podCIDR, pod: `${netns}-pod`, podIP, subnetEnv: path.join(this.dir, name, 'run/flannel/subnet.env'), dp: new NetnsDataplane(netns) };
  }

  async build(): Promise<void> {
    mkdirSync(this.dir);
    await run(['ip', 'netns', 'add', this.laptop]);
    for (const argv of [['ip', 'link', 'set', 'lo', 'up'], ['ip', 'link', 'add', 'vboxnet0', 'type', 'bridge'], ['ip', 'addr', 'add', '192.168.56.1/24', 'dev', 'vboxnet0'], ['ip', 'link', 'set', 'vboxnet0', 'up']]) await sh(this.laptop, argv);
    for (const n of this.nodes) await this.makeNode(n, `veth${n.name}`);
  }

  async destroy(): Promise<void> {
    for (const ns of this.namespaces) await run(['ip', 'netns', 'del', ns], { allowFail: true });
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** A node namespace: eth1 on the laptop's bridge, cni0 with one pod. */
  private async makeNode(n: Node, port: string): Promise<void> {
    const gw = n.podCIDR.replace(/0\/24$/, '1');
    await run(['ip', 'netns', 'add', n.netns]);
    await run(['ip', 'netns', 'add', n.pod]);
    const node = [
      ['ip', 'link', 'set', 'lo', 'up'],
      ['ip', 'link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', port, 'netns', this.laptop],
      ['ip', 'addr', 'add', `${n.ip}/24`, 'dev', 'eth1'],
      ['ip', 'link', 'set', 'eth1', 'up'],
      ['ip', 'link', 'add', 'cni0', 'mtu', '1450', 'type', 'bridge'],
      ['ip', 'addr', 'add', `${gw}/24`, 'dev', 'cni0'],
      ['ip', 'link', 'set', 'cni0', 'up'],
      ['ip', 'link', 'add', 'veth0a1b2c3d', 'mtu', '1450', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n.pod],
      ['ip', 'link', 'set', 'veth0a1b2c3d', 'master', 'cni0', 'up'],
      ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1'],
    ];
    for (const argv of node) await sh(n.netns, argv);
    await sh(this.laptop, ['ip', 'link', 'set', port, 'master', 'vboxnet0', 'up']);
    for (const argv of [['ip', 'link', 'set', 'lo', 'up'], ['ip', 'addr', 'add', `${n.podIP}/24`, 'dev', 'eth0'], ['ip', 'link', 'set', 'eth0', 'up'], ['ip', 'route', 'add', 'default', 'via', gw]]) await sh(n.pod, argv);
  }
}

const children: ChildProcess[] = [];

function input(n: Node, leases: FlannelLease[]): FlannelSyncInput {
  return { nodeIP: n.ip, podCIDR: n.podCIDR, clusterCIDR: CLUSTER, uplink: 'eth1', leases, subnetEnvFile: n.subnetEnv, ...(n.mac ? { vtepMac: n.mac } : {}) };
}

/** The other node as a lease, as FlannelController reads it from that Node's annotations. */
const leaseOf = (n: Node): FlannelLease => ({ node: n.name, subnet: n.podCIDR, publicIP: n.ip, vtepMac: n.mac! });

async function sync(n: Node, leases: FlannelLease[]): Promise<FlannelSyncResult> {
  const r = await syncFlannel(n.dp, input(n, leases));
  n.mac = r.vtepMac;
  return r;
}

/** tcpdump in a namespace until `count` packets matched; resolves with its text output. */
async function capture(netns: string, args: string[], count: number): Promise<{ done: Promise<string> }> {
  const child = spawn('ip', ['netns', 'exec', netns, 'tcpdump', '-n', '-l', '-c', String(count), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const listening = new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes('listening on')) resolve();
    });
    child.on('exit', () => reject(new Error(`tcpdump exited before listening: ${stderr}`)));
  });
  const done = new Promise<string>((resolve) => child.on('exit', () => resolve(stdout)));
  await listening;
  return { done };
}

/** busybox ping's exit code (0: answered). `wait`: seconds for an answer (1 where none is expected). */
async function ping(from: Node, to: Node, count = 1, wait = 2): Promise<number> {
  return (await run(['busybox', 'ping', '-c', String(count), '-W', String(wait), to.podIP], { netns: from.pod, allowFail: true })).exitCode;
}

describe.skipIf(!isRoot)('flannel vxlan between two node namespaces, leases handed over', () => {
  const sb = new Sandbox();
  const nodes = sb.nodes;
  beforeAll(() => sb.build());
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await sb.destroy();
  });

  const [A, B] = [() => nodes[0]!, () => nodes[1]!];

  it('first sync of each node (no other node yet): flannel.1, its /32, the rules and subnet.env, in one batch', async () => {
    for (const n of nodes) {
      const r = await sync(n, []);
      expect(r.plan.changes[0]).toBe(`flannel.1 created: VNI 1, local ${n.ip} dev eth1, port 8472, VTEP MAC ${r.vtepMac}, MTU 1450`);
      expect(r.rulesInput).toContain(':FLANNEL-POSTRTG - [0:0]');
      // The look (ip batch, bridge, iptables-save), one ip -batch, one iptables-restore.
      expect(r.spawns).toBe(5);
      expect(readFileSync(n.subnetEnv, 'utf8')).toBe(`FLANNEL_NETWORK=10.42.0.0/16\nFLANNEL_SUBNET=${n.podCIDR.replace(/0\/24$/, '1')}/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n`);
    }
    expect(A().mac).not.toBe(B().mac);
    expect(await ping(A(), B(), 1, 1)).not.toBe(0); // no route yet
  });

  it('each node learns the other: neighbour, FDB entry and route, in two processes after the look', async () => {
    for (const [n, other] of [[A(), B()], [B(), A()]] as const) {
      const r = await sync(n, [leaseOf(other)]);
      expect(r.plan.device).toEqual([]);
      expect(r.rulesInput).toBe('');
      expect(r.subnetEnvWritten).toBe(false);
      expect(r.spawns).toBe(5); // look (3) + bridge -batch + ip -batch
    }
  });

  it("flannel.1, the FDB, the neighbours and the routes are exactly flannel's", async () => {
    for (const [n, other] of [[A(), B()], [B(), A()]] as const) {
      const link = await out(n.netns, ['ip', '-d', 'link', 'show', 'flannel.1']);
      expect(link).toMatch(/^\d+: flannel\.1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 /);
      expect(link).toContain(`link/ether ${n.mac} brd ff:ff:ff:ff:ff:ff`);
      expect(link).toContain(`vxlan id 1 local ${n.ip} dev eth1 srcport 0 0 dstport 8472 nolearning ttl auto ageing 300 udpcsum`);
      expect(tidy(await out(n.netns, ['ip', '-4', '-o', 'addr', 'show', 'dev', 'flannel.1'])).map((l) => l.split(/\s+/).slice(1, 4).join(' '))).toEqual([`flannel.1 inet ${n.podCIDR.replace('/24', '/32')}`]);
      expect(tidy(await out(n.netns, ['bridge', 'fdb', 'show', 'dev', 'flannel.1']))).toEqual([`${other.mac} dst ${other.ip} self permanent`]);
      const gw = other.podCIDR.replace('/24', '');
      expect(tidy(await out(n.netns, ['ip', 'neigh', 'show', 'dev', 'flannel.1']))).toEqual([`${gw} lladdr ${other.mac} PERMANENT`]);
      expect(tidy(await out(n.netns, ['ip', 'route']))).toEqual(
        [
          `${n.podCIDR} dev cni0 proto kernel scope link src ${n.podCIDR.replace(/0\/24$/, '1')}`,
          `${other.podCIDR} via ${gw} dev flannel.1 onlink`,
          `192.168.56.0/24 dev eth1 proto kernel scope link src ${n.ip}`,
        ].sort(),
      );
      const save = await out(n.netns, ['iptables-save']);
      expect(tidy(save).filter((l) => l.includes('FLANNEL'))).toEqual([
        ':FLANNEL-FWD - [0:0]',
        '-A FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD',
        '-A FLANNEL-FWD -s 10.42.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT',
        '-A FLANNEL-FWD -d 10.42.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT',
        ':FLANNEL-POSTRTG - [0:0]',
        '-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG',
        '-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment "flanneld masq" -j RETURN',
        `-A FLANNEL-POSTRTG -s ${n.podCIDR} -d 10.42.0.0/16 -m comment --comment "flanneld masq" -j RETURN`,
        `-A FLANNEL-POSTRTG -s 10.42.0.0/16 -d ${n.podCIDR} -m comment --comment "flanneld masq" -j RETURN`,
        `-A FLANNEL-POSTRTG ! -s 10.42.0.0/16 -d ${n.podCIDR} -m comment --comment "flanneld masq" -j RETURN`,
        '-A FLANNEL-POSTRTG -s 10.42.0.0/16 ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully',
        '-A FLANNEL-POSTRTG ! -s 10.42.0.0/16 -d 10.42.0.0/16 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully',
      ]);
    }
  });

  it("pod A reaches pod B across nodes: VXLAN on UDP 8472, VNI 1, on labsw's eth1; pod B sees pod A's own IP", async () => {
    const wire = await capture(B().netns, ['-i', 'eth1', '-T', 'vxlan', 'udp', 'port', '8472'], 1);
    const target = await capture(B().pod, ['-i', 'eth0', 'icmp[icmptype] == icmp-echo'], 1);
    expect(await ping(A(), B(), 2)).toBe(0);
    const [onWire, atTarget] = await Promise.all([wire.done, target.done]);
    // Outer: node to node on 8472; inner: pod to pod. (tcpdump decodes UDP as VXLAN with -T vxlan.)
    expect(onWire).toMatch(/IP 192\.168\.56\.110\.\d+ > 192\.168\.56\.111\.8472: VXLAN, flags \[I\] \(0x08\), vni 1\n.*IP 10\.42\.0\.2 > 10\.42\.1\.2: ICMP echo request/);
    expect(atTarget).toMatch(/IP 10\.42\.0\.2 > 10\.42\.1\.2: ICMP echo request/);
    expect(await ping(B(), A())).toBe(0);
  });

  it('converged: a sync is the look alone', async () => {
    for (const [n, other] of [[A(), B()], [B(), A()]] as const) {
      const r = await sync(n, [leaseOf(other)]);
      expect(isEmptyPlan(r.plan)).toBe(true);
      expect(r.rulesInput).toBe('');
      expect(r.spawns).toBe(3);
    }
  });

  it('a route deleted by hand and a flushed FLANNEL-POSTRTG are put back by the next sync', async () => {
    await sh(A().netns, ['ip', 'route', 'del', '10.42.1.0/24']);
    await sh(A().netns, ['iptables', '-t', 'nat', '-F', 'FLANNEL-POSTRTG']);
    const r = await sync(A(), [leaseOf(B())]);
    expect(r.plan.entries.map((l) => l.join(' '))).toEqual(['route replace 10.42.1.0/24 via 10.42.1.0 dev flannel.1 onlink']);
    expect(r.rulesInput.split('\n')[0]).toBe('*nat');
    expect(await ping(A(), B())).toBe(0);
  });

  it('a flannel.1 with the wrong VNI is recreated with the same MAC, its entries written again', async () => {
    const mac = B().mac!;
    await sh(B().netns, ['ip', 'link', 'del', 'flannel.1']);
    await sh(B().netns, ['ip', 'link', 'add', 'flannel.1', 'type', 'vxlan', 'id', '2', 'local', B().ip, 'dev', 'eth1', 'dstport', '8472']);
    const r = await sync(B(), [leaseOf(A())]);
    expect(r.plan.changes[0]).toBe('flannel.1 already exists with incompatible configuration: vni: 2 vs 1; recreating device');
    expect(r.vtepMac).toBe(mac);
    expect(await out(B().netns, ['ip', '-d', 'link', 'show', 'flannel.1'])).toContain(`link/ether ${mac} `);
    expect(tidy(await out(B().netns, ['bridge', 'fdb', 'show', 'dev', 'flannel.1']))).toEqual([`${A().mac} dst ${A().ip} self permanent`]);
    expect(await ping(A(), B())).toBe(0);
  });

  it("labsw's lease gone from labs's inputs: its route, FDB entry and neighbour are removed, and nothing else", async () => {
    const r = await sync(A(), []);
    expect(r.plan.changes).toEqual([`removed what no node's lease explains: route 10.42.1.0/24, neighbour 10.42.1.0, FDB ${B().mac} dst ${B().ip}`]);
    expect(tidy(await out(A().netns, ['bridge', 'fdb', 'show', 'dev', 'flannel.1']))).toEqual([]);
    expect(tidy(await out(A().netns, ['ip', 'neigh', 'show', 'dev', 'flannel.1']))).toEqual([]);
    expect(tidy(await out(A().netns, ['ip', 'route']))).toEqual(['10.42.0.0/24 dev cni0 proto kernel scope link src 10.42.0.1', '192.168.56.0/24 dev eth1 proto kernel scope link src 192.168.56.110']);
    expect(await out(A().netns, ['ip', '-d', 'link', 'show', 'flannel.1'])).toContain('vxlan id 1');
    expect(await ping(A(), B(), 1, 1)).not.toBe(0);
  });

  it("teardown removes flannel.1 and flannel's chains, and no one else's rule", async () => {
    await sh(A().netns, ['iptables', '-t', 'nat', '-A', 'POSTROUTING', '-s', '198.51.100.0/24', '-j', 'MASQUERADE']);
    expect(await teardownFlannel(A().netns)).toEqual({ device: true, rules: true });
    expect(tidy(await out(A().netns, ['ip', '-o', 'link'])).some((l) => l.includes('flannel.1'))).toBe(false);
    const save = await out(A().netns, ['iptables-save']);
    expect(save).not.toContain('FLANNEL');
    expect(save).toContain('-A POSTROUTING -s 198.51.100.0/24 -j MASQUERADE');
    expect(await teardownFlannel(A().netns)).toEqual({ device: false, rules: false });
  });
});

describe.skipIf(!isRoot)('two FlannelControllers on one API (LocalClient), on the same kind of namespaces', () => {
  const sb = new Sandbox();
  const [A, B] = sb.nodes as [Node, Node];
  const client = new LocalClient(new Registry(new KineStore(':memory:')));
  const controllers: FlannelController[] = [];
  const logs: string[] = [];
  beforeAll(async () => {
    await sb.build();
    // Registered as a kubelet registers them: no podCIDR yet.
    for (const n of sb.nodes) await client.create(NODES, { apiVersion: 'v1', kind: 'Node', metadata: { name: n.name } } as FlannelNode);
  });
  afterAll(async () => {
    for (const c of controllers) await c.stop();
    await sb.destroy();
  });

  const route = (other: Node) => `${other.podCIDR} via ${other.podCIDR.replace('/24', '')} dev flannel.1 onlink`;

  it('each waits for its podCIDR, then publishes its lease and routes to the other: pod to pod works', async () => {
    for (const n of sb.nodes) {
      const c = new FlannelController({ client, nodeName: n.name, netns: n.netns, nodeIP: n.ip, uplink: 'eth1', subnetEnvFile: n.subnetEnv, clusterCIDR: CLUSTER, log: (l) => logs.push(`${n.name}: ${l}`) });
      controllers.push(c);
      c.start();
    }
    await until('both waiting for a podCIDR', async () => logs.filter((l) => l.includes('waiting for node')).length === 2);
    expect((await run(['ip', '-n', A.netns, 'link', 'show', 'flannel.1'], { allowFail: true })).exitCode).not.toBe(0);
    // The node IPAM's write.
    for (const n of sb.nodes) await client.mutate<FlannelNode>(NODES, undefined, n.name, (cur) => ({ ...cur, spec: { podCIDR: n.podCIDR, podCIDRs: [n.podCIDR] } }));
    await Promise.all(controllers.map((c) => c.ready));
    for (const [n, other] of [[A, B], [B, A]] as const) await until(`${n.name}'s route to ${other.name}`, async () => tidy(await out(n.netns, ['ip', 'route'])).includes(route(other)));
    expect(await ping(A, B)).toBe(0);
    expect(await ping(B, A)).toBe(0);
    // The annotation carries flannel.1's MAC as the kernel has it.
    const mac = (JSON.parse(await out(B.netns, ['ip', '-j', 'link', 'show', 'flannel.1'])) as { address: string }[])[0]!.address;
    const labsw = await client.get<FlannelNode>(NODES, undefined, 'labsw');
    expect(labsw.metadata.annotations?.['flannel.alpha.coreos.com/backend-data']).toBe(`{"VNI":1,"VtepMAC":"${mac}"}`);
    expect(tidy(await out(A.netns, ['bridge', 'fdb', 'show', 'dev', 'flannel.1']))).toEqual([`${mac} dst ${B.ip} self permanent`]);
  });

  it("a Node deleted from the API: the other node's route, FDB entry and neighbour for it go", async () => {
    await client.delete(NODES, undefined, 'labsw');
    await until("labs's route to labsw removed", async () => !tidy(await out(A.netns, ['ip', 'route'])).includes(route(B)));
    expect(tidy(await out(A.netns, ['bridge', 'fdb', 'show', 'dev', 'flannel.1']))).toEqual([]);
    expect(tidy(await out(A.netns, ['ip', 'neigh', 'show', 'dev', 'flannel.1']))).toEqual([]);
    expect(logs.filter((l) => l.includes('failed'))).toEqual([]);
  });
});
