// Brings up the node: in sandbox mode the node and host namespaces and the link between them,
// in both modes the sysctls the packet path needs. In host mode the sysctls belong to the
// machine: the values they had before are recorded at up and put back at down. cni0 is not made
// here: the CNI bridge plugin makes it (with its address and MTU) at the first pod's ADD, as on a
// k3s node; nothing needs it before there is a pod (kube-proxy's rules name no interface).
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { formatCidr } from '../util/cidr.ts';
import { ipBatch, run, type Netns } from '../sys/exec.ts';
import { writeFileAtomic, writeFileIfChanged } from '../sys/files.ts';
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
  // Host mode: the machine's sysctls go on record before anything on it is changed.
  if (!sandbox) await recordHostSysctls(paths, await readSysctls(null, Object.keys(NODE_SYSCTLS)));
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
    await writeLaptopHosts(paths, opts.hostsLines);
  }
  const sysctl = await run(['sysctl', '-q', '-w', ...Object.entries(NODE_SYSCTLS).map(([k, v]) => `${k}=${v}`)], { netns: node.netns, allowFail: true });
  if (sysctl.exitCode !== 0 && /bridge-nf-call-iptables/.test(sysctl.stderr)) {
    throw new Error('the br_netfilter kernel module is not loaded: run `modprobe br_netfilter` on this machine (kube-proxy needs it for same-node Service traffic)');
  } else if (sysctl.exitCode !== 0) {
    throw new Error(`setting node sysctls failed: ${sysctl.stderr.trim()}`);
  }
}

/**
 * The sandbox laptop's /etc/hosts (bind-mounted by `ip netns exec`): what a learner's laptop
 * maps to the node so that `curl app2.com` reaches the ingress. Written only when it changes.
 */
export async function writeLaptopHosts(paths: InstancePaths, hostsLines: string[]): Promise<void> {
  const etc = paths.netnsEtc(paths.hostNetns);
  await mkdir(etc, { recursive: true });
  await writeFileIfChanged(`${etc}/hosts`, ['127.0.0.1\tlocalhost', ...hostsLines, ''].join('\n'));
}

export async function teardownNode(node: LabNode, paths: InstancePaths): Promise<void> {
  if (node.mode === 'sandbox') {
    // Deleting the namespaces removes every link, address and route inside them at once.
    for (const ns of [paths.nodeNetns, paths.hostNetns]) if (netnsExists(ns)) await run(['ip', 'netns', 'delete', ns]);
    await rm(paths.netnsEtc(paths.hostNetns), { recursive: true, force: true });
  } else {
    const links = await observeLinks(null);
    if (links.has(BRIDGE)) await run(['ip', 'link', 'delete', BRIDGE]);
    await restoreHostSysctls(paths);
  }
}

/** Host mode: the sysctls' values from before the first `up`, which `down` puts back. */
export function hostSysctlsFile(paths: InstancePaths): string {
  return path.join(paths.stateDir, 'host-sysctls.json');
}

/** Current values (`sysctl` output `key = value`); a key the kernel does not have is left out. */
async function readSysctls(netns: Netns, keys: string[]): Promise<Record<string, string>> {
  const r = await run(['sysctl', ...keys], { netns, allowFail: true });
  const out: Record<string, string> = {};
  for (const line of r.stdout.split('\n')) {
    const m = /^(\S+) = (.*)$/.exec(line.trim());
    if (m && keys.includes(m[1]!)) out[m[1]!] = m[2]!;
  }
  return out;
}

/**
 * Pure: the record after one more `up`. A value already recorded stays (it is from before the lab
 * changed it); a sysctl not recorded yet whose value differs from what the node needs is added with
 * its value now. A sysctl that already had the needed value is not the lab's to change back.
 */
export function planSysctlRecord(recorded: Record<string, string>, current: Record<string, string>, wanted: Record<string, string> = NODE_SYSCTLS): Record<string, string> {
  const out = { ...recorded };
  for (const [k, v] of Object.entries(current)) if (!(k in out) && k in wanted && v !== wanted[k]) out[k] = v;
  return out;
}

/** The record, or null when there is none (or it is unreadable: `down` must still finish). */
async function readRecord(file: string): Promise<Record<string, string> | null> {
  const text = await readFile(file, 'utf8').catch(() => null);
  let parsed: unknown;
  try {
    parsed = text === null ? null : JSON.parse(text);
  } catch {
    return null;
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return null;
  const out: Record<string, string> = {};
  // Only the sysctls the lab sets, with plain values: the record is written by the lab, but it is
  // read as root and handed to sysctl -w.
  for (const [k, v] of Object.entries(parsed)) if (k in NODE_SYSCTLS && typeof v === 'string' && /^[0-9]+$/.test(v)) out[k] = v;
  return out;
}

async function recordHostSysctls(paths: InstancePaths, current: Record<string, string>): Promise<void> {
  const file = hostSysctlsFile(paths);
  const recorded = await readRecord(file);
  const next = planSysctlRecord(recorded ?? {}, current);
  // Written even when empty: it also tells `down` that host mode was here (see controllers/down.ts).
  if (recorded && JSON.stringify(next) === JSON.stringify(recorded)) return;
  await mkdir(paths.stateDir, { recursive: true });
  await writeFileAtomic(file, `${JSON.stringify(next, null, 2)}\n`);
}

/** Host mode's `down`: every sysctl the lab changed back to its value from before `up`. */
export async function restoreHostSysctls(paths: InstancePaths): Promise<Record<string, string>> {
  const recorded = (await readRecord(hostSysctlsFile(paths))) ?? {};
  const entries = Object.entries(recorded);
  // allowFail: sysctl sets every key it can; one the kernel lost meanwhile (br_netfilter unloaded)
  // must not keep `down` from removing the rest.
  if (entries.length) await run(['sysctl', '-q', '-w', ...entries.map(([k, v]) => `${k}=${v}`)], { allowFail: true });
  return recorded;
}

export function describeAddresses(node: LabNode): string {
  return `${node.name} ${node.nodeIP} pods ${formatCidr(node.podCIDR)} via ${BRIDGE} ${node.gateway}`;
}
