// Brings up the node: in sandbox mode the node and host namespaces and the link between them,
// in both modes cni0 and the sysctls the packet path needs.
import { mkdir, rm } from 'node:fs/promises';
import { formatCidr } from '../util/cidr.ts';
import { ipBatch, run } from '../sys/exec.ts';
import { writeFileIfChanged } from '../sys/files.ts';
import { netnsExists, observeLinks, type ObservedLink } from '../sys/ip.ts';
import type { InstancePaths } from './instance.ts';
import { BRIDGE, HOST_UPLINK, NODE_UPLINK, SANDBOX_HOST_IP, type LabNode } from './node.ts';

export interface NodePlan {
  /** Namespaces to create (`ip netns add`, batched in the controller's namespace). */
  netnsAdd: string[];
  /** `ip -batch` lines run inside the node. */
  node: string[][];
  /** `ip -batch` lines run inside the sandbox host (laptop) namespace. */
  host: string[][];
}

/** Pure: what is missing on the node, given the links observed there (empty when freshly made). */
export function planNode(node: LabNode, paths: InstancePaths, observed: { nodeLinks: Map<string, ObservedLink>; hostLinks: Map<string, ObservedLink>; netns: Set<string> }): NodePlan {
  const plan: NodePlan = { netnsAdd: [], node: [], host: [] };
  const sandbox = node.mode === 'sandbox';
  const uplink = observed.nodeLinks.get(NODE_UPLINK);
  if (sandbox) {
    for (const ns of [paths.nodeNetns, paths.hostNetns]) if (!observed.netns.has(ns)) plan.netnsAdd.push(ns);
    if (!observed.nodeLinks.get('lo')?.up) plan.node.push(['link', 'set', 'lo', 'up']);
    if (!observed.hostLinks.get('lo')?.up) plan.host.push(['link', 'set', 'lo', 'up']);
    if (!uplink) plan.node.push(['link', 'add', NODE_UPLINK, 'type', 'veth', 'peer', 'name', HOST_UPLINK, 'netns', paths.hostNetns]);
    const nodeAddr = `${node.nodeIP}/${node.nodeIPPrefix}`;
    if (!uplink?.addrs.includes(nodeAddr)) plan.node.push(['addr', 'add', nodeAddr, 'dev', NODE_UPLINK]);
    if (!uplink?.up) plan.node.push(['link', 'set', NODE_UPLINK, 'up']);
    const hostLink = observed.hostLinks.get(HOST_UPLINK);
    const hostAddr = `${SANDBOX_HOST_IP}/${node.nodeIPPrefix}`;
    if (!hostLink?.addrs.includes(hostAddr)) plan.host.push(['addr', 'add', hostAddr, 'dev', HOST_UPLINK]);
    if (!hostLink?.up) plan.host.push(['link', 'set', HOST_UPLINK, 'up']);
  }
  const bridge = observed.nodeLinks.get(BRIDGE);
  if (!bridge) plan.node.push(['link', 'add', BRIDGE, 'type', 'bridge']);
  const gw = `${node.gateway}/${node.podCIDR.prefix}`;
  if (!bridge?.addrs.includes(gw)) plan.node.push(['addr', 'add', gw, 'dev', BRIDGE]);
  if (!bridge?.up) plan.node.push(['link', 'set', BRIDGE, 'up']);
  if (sandbox && !uplink) {
    // The VM's default route leads to the outside world; the sandbox node's leads to the
    // sandbox host namespace, which routes nowhere. Without a route, the node itself could not
    // even try to reach a ClusterIP: routing happens before the OUTPUT chain's DNAT.
    plan.node.push(['route', 'replace', 'default', 'via', SANDBOX_HOST_IP, 'dev', NODE_UPLINK]);
  }
  return plan;
}

/**
 * Sysctls the node needs, set inside the node only.
 * - ip_forward: the node routes between cni0 and eth1.
 * - route_localnet: kube-proxy sets it so NodePorts answer on 127.0.0.1 too (packets to a
 *   loopback address may then be DNATed and routed out; KUBE-FIREWALL drops the martians).
 * - bridge-nf-call-iptables (br_netfilter): pod-to-pod traffic on the same bridge is switched,
 *   not routed, and would bypass iptables entirely; with this on, bridged IPv4 frames traverse
 *   the iptables hooks too, which is what makes a pod reaching its own Service (hairpin) and
 *   same-node Service traffic get DNATed and un-DNATed correctly.
 */
export const NODE_SYSCTLS: Record<string, string> = {
  'net.ipv4.ip_forward': '1',
  'net.ipv4.conf.all.route_localnet': '1',
  'net.bridge.bridge-nf-call-iptables': '1',
};

export async function ensureNode(node: LabNode, paths: InstancePaths, opts: { hostsLines: string[] }): Promise<void> {
  const sandbox = node.mode === 'sandbox';
  const netns = new Set([paths.nodeNetns, paths.hostNetns].filter(netnsExists));
  if (sandbox) {
    const missing = [paths.nodeNetns, paths.hostNetns].filter((n) => !netns.has(n));
    await ipBatch(null, missing.map((n) => ['netns', 'add', n]));
    missing.forEach((n) => netns.add(n));
  }
  const [nodeLinks, hostLinks] = await Promise.all([observeLinks(node.netns), sandbox ? observeLinks(paths.hostNetns) : Promise.resolve(new Map())]);
  const plan = planNode(node, paths, { nodeLinks, hostLinks, netns });
  await ipBatch(node.netns, plan.node);
  if (sandbox) {
    await ipBatch(paths.hostNetns, plan.host);
    const etc = paths.netnsEtc(paths.hostNetns);
    await mkdir(etc, { recursive: true });
    await writeFileIfChanged(`${etc}/hosts`, ['127.0.0.1\tlocalhost', ...opts.hostsLines, ''].join('\n'));
  }
  const sysctl = await run(['sysctl', '-q', '-w', ...Object.entries(NODE_SYSCTLS).map(([k, v]) => `${k}=${v}`)], { netns: node.netns, allowFail: true });
  if (sysctl.exitCode !== 0 && /bridge-nf-call-iptables/.test(sysctl.stderr)) {
    throw new Error('the br_netfilter kernel module is not loaded: run `modprobe br_netfilter` on this machine (kube-proxy needs it for same-node Service traffic)');
  } else if (sysctl.exitCode !== 0) {
    throw new Error(`setting node sysctls failed: ${sysctl.stderr.trim()}`);
  }
}

export async function teardownNode(node: LabNode, paths: InstancePaths): Promise<void> {
  if (node.mode === 'sandbox') {
    // Deleting the namespaces removes every link, address and route inside them at once.
    for (const ns of [paths.nodeNetns, paths.hostNetns]) if (netnsExists(ns)) await run(['ip', 'netns', 'delete', ns]);
    await rm(paths.netnsEtc(paths.hostNetns), { recursive: true, force: true });
  } else {
    const links = await observeLinks(null);
    if (links.has(BRIDGE)) await run(['ip', 'link', 'delete', BRIDGE]);
  }
}

export function describeAddresses(node: LabNode): string {
  return `${node.name} ${node.nodeIP} pods ${formatCidr(node.podCIDR)} via ${BRIDGE} ${node.gateway}`;
}
