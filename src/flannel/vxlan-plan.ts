// flannel's vxlan backend as a pure planner: (this node, the other nodes' leases, what the kernel
// has) -> the commands that make the kernel match. flannel v0.26 (pkg/backend/vxlan) does this
// with netlink calls as events arrive; the planner states the same end result, so a missed event,
// a restart or someone's `ip route del` is repaired by the next sync.
//
// - flannel.1: `type vxlan id 1 local <node IP> dev <uplink> nolearning`, MTU = uplink - 50, its
//   own MAC, address <subnet>.0/32 (a /32 so no route and no broadcast come with it; it is only the
//   source address of the node's own traffic into the overlay), up. flannel never sets the port:
//   the kernel's default for a vxlan device without one is 8472 (the vxlan module's udp_port,
//   older than IANA's 4789), so flannel's VXLAN is on 8472. An existing device is kept when it is
//   compatible (flannel's vxlanLinksIncompat: type, VNI, device, local address, port, GBP,
//   L2MISS) and recreated otherwise; learning is not compared there, so neither here.
// - per other node, in flannel's order: a PERMANENT neighbour <its subnet>.0 lladdr <its VTEP MAC>
//   (no ARP ever crosses the overlay), an FDB entry <its VTEP MAC> dst <its IP> self permanent
//   (where to send frames for that MAC), and last the route <its podCIDR> via <its subnet>.0 dev
//   flannel.1 onlink (with the route in place first, the kernel would ARP for the gateway).
// - entries of nodes that left (or whose MAC or IP changed) are removed. flannel removes them on
//   a delete event only, and leaves an old FDB entry behind when a node's MAC changes; the planner
//   removes whatever on flannel.1 no lease explains. Nothing but flannel.1, its PERMANENT
//   neighbours, its FDB entries with a remote and its routes into the cluster CIDR is touched.
//
// The plan is three batches: `device` (ip), `fdb` (bridge), `entries` (ip: neighbours, then
// routes), run in that order (dataplane.ts); each empty batch is skipped, so a converged node
// runs nothing.
import { VXLAN_OVERHEAD } from './subnet-env.ts';
import { normalizeMac, VNI, type FlannelLease } from './annotations.ts';
import { VXLAN_DEVICE, type ObservedVxlan, type VxlanLink } from './vxlan-observed.ts';
import { cidrProblem, formatCidr, inCidr, ipProblem, nth, overlaps, parseCidr } from '../util/cidr.ts';

/** The kernel's default VXLAN port, which flannel's VXLAN uses (see above). */
export const VXLAN_PORT = 8472;

export interface VxlanNode {
  nodeIP: string;
  /** This node's pod CIDR (its lease's subnet). */
  podCIDR: string;
  /** The cluster CIDR (flannel's Network): addresses in it on flannel.1 other than ours are removed. */
  clusterCIDR: string;
  /** The flannel interface (k3s's --flannel-iface; eth1 in the exercise). */
  uplink: string;
  uplinkMtu: number;
  /** The MAC flannel.1 has (chooseVtepMac). */
  vtepMac: string;
}

export interface VxlanPlan {
  /** ip -batch lines for flannel.1 itself (create, recreate, MAC, MTU, address, up). */
  device: string[][];
  /** bridge -batch lines: FDB entries removed, then added. */
  fdb: string[][];
  /** ip -batch lines: routes and neighbours removed, neighbours added, routes added last. */
  entries: string[][];
  /** What the plan changes, for the log. */
  changes: string[];
  /** Leases left out (overlapping, duplicate subnet or MAC): the same every sync until fixed. */
  warnings: string[];
}

const IFNAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;

/** flannel's vxlanLinksIncompat for our device: why the existing one must be recreated, or undefined. */
export function incompatibility(dev: VxlanLink, own: Pick<VxlanNode, 'nodeIP' | 'uplink'>): string | undefined {
  if (dev.kind !== 'vxlan') return `link type: ${dev.kind ?? 'unknown'} vs vxlan`;
  if (dev.vni !== VNI) return `vni: ${dev.vni} vs ${VNI}`;
  if (dev.link && dev.link !== own.uplink) return `vtep (external) interface: ${dev.link} vs ${own.uplink}`;
  if (dev.local && dev.local !== own.nodeIP) return `vtep (external) IP: ${dev.local} vs ${own.nodeIP}`;
  if (dev.l2miss) return 'l2miss: true vs false';
  if (dev.port && dev.port !== VXLAN_PORT) return `port: ${dev.port} vs ${VXLAN_PORT}`;
  if (dev.gbp) return 'gbp: true vs false';
  return undefined;
}

/**
 * flannel.1's MAC, as flannel chooses it: an existing compatible device keeps its own (flannel
 * reuses the device it finds); else the MAC this Node's backend-data annotation published before
 * (GetStoredMacAddresses: a restarted node makes flannel.1 again with the same MAC, so the other
 * nodes' entries stay right); else undefined, and the caller makes a random one (randomVtepMac:
 * locally administered, unicast, as flannel's mac.NewHardwareAddr; the kernel's own would do too,
 * but flannel picks it so it can publish it).
 */
export function chooseVtepMac(dev: VxlanLink | null, own: Pick<VxlanNode, 'nodeIP' | 'uplink'>, stored: string | undefined): string | undefined {
  if (dev && !incompatibility(dev, own) && normalizeMac(dev.mac)) return normalizeMac(dev.mac);
  return stored && normalizeMac(stored);
}

function validate(own: VxlanNode): void {
  const problems = [
    ipProblem(own.nodeIP) && `node IP: ${ipProblem(own.nodeIP)}`,
    cidrProblem(own.podCIDR) && `pod CIDR: ${cidrProblem(own.podCIDR)}`,
    cidrProblem(own.clusterCIDR) && `cluster CIDR: ${cidrProblem(own.clusterCIDR)}`,
    !IFNAME.test(own.uplink) && `uplink ${JSON.stringify(own.uplink)} is not an interface name`,
    !normalizeMac(own.vtepMac) && `VTEP MAC ${JSON.stringify(own.vtepMac)} is not a MAC address`,
    !(Number.isInteger(own.uplinkMtu) && own.uplinkMtu >= 576 + VXLAN_OVERHEAD) && `uplink MTU ${own.uplinkMtu} is too small for VXLAN`,
  ].filter(Boolean);
  if (problems.length) throw new Error(`flannel: ${problems.join('; ')}`);
}

interface Want {
  lease: FlannelLease;
  gateway: string;
}

/** The leases flannel acts on: valid, not this node's own subnet, one per subnet and per MAC (first by node name). */
function wanted(own: VxlanNode, leases: FlannelLease[], warnings: string[]): Want[] {
  const ownSubnet = parseCidr(own.podCIDR);
  const bySubnet = new Map<string, Want>();
  const macs = new Set<string>();
  for (const lease of [...leases].sort((a, b) => a.node.localeCompare(b.node))) {
    const mac = normalizeMac(lease.vtepMac);
    if (!mac || ipProblem(lease.publicIP) || cidrProblem(lease.subnet)) throw new Error(`flannel: invalid lease of node ${lease.node}: ${JSON.stringify(lease)}`);
    const subnet = parseCidr(lease.subnet);
    if (overlaps(subnet, ownSubnet)) {
      warnings.push(`ignoring node ${lease.node}: its subnet ${lease.subnet} overlaps this node's ${own.podCIDR}`);
      continue;
    }
    const key = formatCidr(subnet);
    if (bySubnet.has(key)) {
      warnings.push(`ignoring node ${lease.node}: subnet ${key} is node ${bySubnet.get(key)!.lease.node}'s too`);
      continue;
    }
    if (macs.has(mac)) {
      warnings.push(`ignoring node ${lease.node}: VTEP MAC ${mac} is another node's too`);
      continue;
    }
    macs.add(mac);
    bySubnet.set(key, { lease: { ...lease, subnet: key, vtepMac: mac }, gateway: nth(subnet, 0) });
  }
  return [...bySubnet.values()];
}

export function planVxlan(own: VxlanNode, leases: FlannelLease[], observed: ObservedVxlan): VxlanPlan {
  validate(own);
  const changes: string[] = [];
  const warnings: string[] = [];
  const want = wanted(own, leases, warnings);
  const vtepMac = normalizeMac(own.vtepMac)!;
  const mtu = own.uplinkMtu - VXLAN_OVERHEAD;
  const address = `${nth(parseCidr(own.podCIDR), 0)}/32`;
  const device: string[][] = [];
  let dev = observed.device;
  let entries: Pick<ObservedVxlan, 'neighbours' | 'fdb' | 'routes'> = observed;
  const why = dev && incompatibility(dev, own);
  if (!dev || why) {
    if (dev) {
      device.push(['link', 'del', VXLAN_DEVICE]);
      changes.push(`${VXLAN_DEVICE} already exists with incompatible configuration: ${why}; recreating device`);
    }
    device.push(['link', 'add', VXLAN_DEVICE, 'address', vtepMac, 'mtu', String(mtu), 'type', 'vxlan', 'id', String(VNI), 'local', own.nodeIP, 'dev', own.uplink, 'dstport', String(VXLAN_PORT), 'nolearning']);
    changes.push(`${VXLAN_DEVICE} created: VNI ${VNI}, local ${own.nodeIP} dev ${own.uplink}, port ${VXLAN_PORT}, VTEP MAC ${vtepMac}, MTU ${mtu}`);
    dev = { kind: 'vxlan', mac: vtepMac, mtu, up: false, addrs: [] };
    entries = { neighbours: [], fdb: [], routes: [] }; // a new device has none
  } else {
    if (dev.mac !== vtepMac) {
      device.push(['link', 'set', 'dev', VXLAN_DEVICE, 'address', vtepMac]);
      changes.push(`${VXLAN_DEVICE} MAC ${dev.mac} -> ${vtepMac}`);
    }
    if (dev.mtu !== mtu) {
      device.push(['link', 'set', 'dev', VXLAN_DEVICE, 'mtu', String(mtu)]);
      changes.push(`${VXLAN_DEVICE} MTU ${dev.mtu} -> ${mtu}`);
    }
  }
  // EnsureV4AddressOnLink: our /32, and no other address of the cluster CIDR.
  for (const a of dev.addrs) {
    if (a !== address && inCidr(own.clusterCIDR, a.split('/')[0]!)) {
      device.push(['addr', 'del', a, 'dev', VXLAN_DEVICE]);
      changes.push(`${VXLAN_DEVICE} address ${a} removed`);
    }
  }
  if (!dev.addrs.includes(address)) {
    device.push(['addr', 'add', address, 'dev', VXLAN_DEVICE]);
    changes.push(`${VXLAN_DEVICE} address ${address}`);
  }
  if (!dev.up) device.push(['link', 'set', 'dev', VXLAN_DEVICE, 'up']);

  const fdb: string[][] = [];
  const fdbKey = (mac: string, ip: string) => `${mac} ${ip}`;
  const wantFdb = new Set(want.map((w) => fdbKey(w.lease.vtepMac, w.lease.publicIP)));
  const haveFdb = new Set<string>();
  for (const e of entries.fdb) {
    if (!e.dst) continue;
    const key = fdbKey(e.mac, e.dst);
    if (wantFdb.has(key) && e.permanent && e.self) haveFdb.add(key);
    else if (!wantFdb.has(key)) fdb.push(['fdb', 'del', e.mac, 'dev', VXLAN_DEVICE, 'dst', e.dst, 'self']);
  }
  const routeDels: string[][] = [];
  const neighDels: string[][] = [];
  const wantGw = new Map(want.map((w) => [w.gateway, w]));
  const wantRoute = new Map(want.map((w) => [w.lease.subnet, w]));
  const haveNeigh = new Set<string>();
  const haveRoute = new Set<string>();
  for (const n of entries.neighbours) {
    const w = wantGw.get(n.ip);
    if (w && n.permanent && n.mac === w.lease.vtepMac) haveNeigh.add(n.ip);
    else if (!w && n.permanent) neighDels.push(['neigh', 'del', n.ip, 'dev', VXLAN_DEVICE]);
  }
  for (const r of entries.routes) {
    const w = wantRoute.get(r.dst);
    if (w && r.gateway === w.gateway && r.onlink) haveRoute.add(r.dst);
    else if (!w && inCidr(own.clusterCIDR, r.dst.split('/')[0]!)) routeDels.push(['route', 'del', r.dst, 'dev', VXLAN_DEVICE]);
  }
  const neighAdds: string[][] = [];
  const routeAdds: string[][] = [];
  for (const w of want) {
    const { node, subnet, publicIP, vtepMac: mac } = w.lease;
    const key = fdbKey(mac, publicIP);
    const missing = [!haveNeigh.has(w.gateway), !haveFdb.has(key), !haveRoute.has(subnet)];
    if (missing[0]) neighAdds.push(['neigh', 'replace', w.gateway, 'lladdr', mac, 'dev', VXLAN_DEVICE, 'nud', 'permanent']);
    if (missing[1]) fdb.push(['fdb', 'replace', mac, 'dev', VXLAN_DEVICE, 'dst', publicIP, 'self', 'permanent']);
    if (missing[2]) routeAdds.push(['route', 'replace', subnet, 'via', w.gateway, 'dev', VXLAN_DEVICE, 'onlink']);
    if (missing.some(Boolean)) changes.push(`node ${node}: subnet ${subnet} via ${publicIP}, VTEP MAC ${mac}`);
  }
  const fdbDels = fdb.filter((l) => l[1] === 'del');
  if (routeDels.length + neighDels.length + fdbDels.length) {
    const what = [...routeDels.map((l) => `route ${l[2]}`), ...neighDels.map((l) => `neighbour ${l[2]}`), ...fdbDels.map((l) => `FDB ${l[2]} dst ${l[6]}`)];
    changes.push(`removed what no node's lease explains: ${what.join(', ')}`);
  }
  return { device, fdb, entries: [...routeDels, ...neighDels, ...neighAdds, ...routeAdds], changes, warnings };
}

/** Nothing to run. */
export function isEmptyPlan(p: VxlanPlan): boolean {
  return p.device.length === 0 && p.fdb.length === 0 && p.entries.length === 0;
}
