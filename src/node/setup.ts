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
import { NODE_NETWORK_PREFIX } from '../api/node-network.ts';
import { BRIDGE, HOST_UPLINK, NODE_UPLINK, SANDBOX_HOST_IP, type LabNode } from './node.ts';

/** A machine of the sandbox: a namespace standing in for a VM, its eth1 on the laptop's network. */
export interface SandboxMachine {
  netns: string;
  nodeIP: string;
}

/**
 * The laptop's end of a machine's eth1: a port of vboxnet0 named after the node's address
 * (vbox110 for 192.168.56.110), unique on the /24 and short enough for an interface name.
 */
export function laptopPort(nodeIP: string): string {
  return `vbox${nodeIP.split('.')[3]}`;
}

export interface SandboxPlan {
  /** Namespaces to create (`ip netns add`, batched in the controller's namespace). */
  netnsAdd: string[];
  /** `ip -batch` lines in the laptop namespace before the machines' (vboxnet0 itself). */
  hostBefore: string[][];
  /** `ip -batch` lines inside each machine. */
  machines: Map<string, string[][]>;
  /** `ip -batch` lines in the laptop namespace after the machines' (their ports on vboxnet0). */
  hostAfter: string[][];
}

/**
 * Pure: what is missing of the sandbox's machines and the network between them. VirtualBox's
 * host-only network is a switch with the laptop's vboxnet0 (192.168.56.1) on it: here vboxnet0 is
 * a bridge in the laptop namespace, and each machine's eth1 a veth whose peer is its port.
 */
export function planSandbox(paths: InstancePaths, machines: SandboxMachine[], prefix: number, observed: { netns: Set<string>; hostLinks: Map<string, ObservedLink>; machineLinks: Map<string, Map<string, ObservedLink>> }): SandboxPlan {
  const plan: SandboxPlan = { netnsAdd: [], hostBefore: [], machines: new Map(), hostAfter: [] };
  for (const ns of [paths.hostNetns, ...machines.map((m) => m.netns)]) if (!observed.netns.has(ns)) plan.netnsAdd.push(ns);
  const hostLinks = new Map(observed.hostLinks);
  const machineLinks = new Map(observed.machineLinks);
  let bridge = hostLinks.get(HOST_UPLINK);
  if (bridge && bridge.kind !== 'bridge') {
    // An instance made before the nodes shared a network: vboxnet0 was the veth peer of the one
    // node's eth1. Deleting it deletes that eth1 too; both are made again below.
    plan.hostBefore.push(['link', 'delete', HOST_UPLINK]);
    hostLinks.delete(HOST_UPLINK);
    for (const [ns, links] of machineLinks) if (links.get(NODE_UPLINK)?.kind === 'veth') machineLinks.set(ns, new Map([...links].filter(([n]) => n !== NODE_UPLINK)));
    bridge = undefined;
  }
  if (!hostLinks.get('lo')?.up) plan.hostBefore.push(['link', 'set', 'lo', 'up']);
  if (!bridge) plan.hostBefore.push(['link', 'add', HOST_UPLINK, 'type', 'bridge']);
  const hostAddr = `${SANDBOX_HOST_IP}/${prefix}`;
  if (!bridge?.addrs.includes(hostAddr)) plan.hostBefore.push(['addr', 'add', hostAddr, 'dev', HOST_UPLINK]);
  if (!bridge?.up) plan.hostBefore.push(['link', 'set', HOST_UPLINK, 'up']);
  for (const m of machines) {
    const links = machineLinks.get(m.netns) ?? new Map<string, ObservedLink>();
    const lines: string[][] = [];
    const uplink = links.get(NODE_UPLINK);
    const port = laptopPort(m.nodeIP);
    if (!links.get('lo')?.up) lines.push(['link', 'set', 'lo', 'up']);
    if (!uplink) lines.push(['link', 'add', NODE_UPLINK, 'type', 'veth', 'peer', 'name', port, 'netns', paths.hostNetns]);
    const addr = `${m.nodeIP}/${prefix}`;
    if (!uplink?.addrs.includes(addr)) lines.push(['addr', 'add', addr, 'dev', NODE_UPLINK]);
    if (!uplink?.up) lines.push(['link', 'set', NODE_UPLINK, 'up']);
    // The VM's default route leads to the outside world; the sandbox machine's leads to the
    // laptop namespace, which routes nowhere. Without a route, the node itself could not even try
    // to reach a ClusterIP: routing happens before the OUTPUT chain's DNAT.
    if (!uplink) lines.push(['route', 'replace', 'default', 'via', SANDBOX_HOST_IP, 'dev', NODE_UPLINK]);
    plan.machines.set(m.netns, lines);
    const p = hostLinks.get(port);
    if (!p || p.master !== HOST_UPLINK || !p.up || !uplink) plan.hostAfter.push(['link', 'set', port, 'master', HOST_UPLINK, 'up']);
  }
  return plan;
}

/**
 * The sandbox's machines and the network between them (what `vagrant up` makes for the VMs):
 * namespaces, eth1 on vboxnet0, the laptop's hosts file. Nothing in the machine's own namespace.
 */
export async function ensureSandbox(paths: InstancePaths, machines: SandboxMachine[], opts: { hostsLines: string[] }): Promise<void> {
  const wanted = [paths.hostNetns, ...machines.map((m) => m.netns)];
  const netns = new Set(wanted.filter(netnsExists));
  const missing = wanted.filter((n) => !netns.has(n));
  await ipBatch(null, missing.map((n) => ['netns', 'add', n]));
  missing.forEach((n) => netns.add(n));
  const [hostLinks, ...each] = await Promise.all([observeLinks(paths.hostNetns), ...machines.map((m) => observeLinks(m.netns))]);
  const plan = planSandbox(paths, machines, NODE_NETWORK_PREFIX, { netns, hostLinks: hostLinks!, machineLinks: new Map(machines.map((m, i) => [m.netns, each[i]!])) });
  await ipBatch(paths.hostNetns, plan.hostBefore);
  await Promise.all([...plan.machines].map(([ns, lines]) => ipBatch(ns, lines)));
  await ipBatch(paths.hostNetns, plan.hostAfter);
  await writeLaptopHosts(paths, opts.hostsLines);
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

/**
 * The node's own network, in its namespace: the sysctls the packet path needs (cni0 is the CNI
 * bridge plugin's, made at the first pod's ADD). In sandbox mode the server makes its machine (and
 * the laptop's network) first; an agent, started inside its machine, calls this with `node.netns`
 * null.
 */
export async function ensureNode(node: LabNode, paths: InstancePaths, opts: { hostsLines: string[] }): Promise<void> {
  // Host mode: the machine's sysctls go on record before anything on it is changed.
  if (node.mode === 'host') await recordHostSysctls(paths, await readSysctls(null, Object.keys(NODE_SYSCTLS)));
  if (node.mode === 'sandbox' && node.netns) await ensureSandbox(paths, [{ netns: node.netns, nodeIP: node.nodeIP }], opts);
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

export async function teardownNode(node: LabNode, paths: InstancePaths, agentNetns: string[] = []): Promise<void> {
  if (node.mode === 'sandbox') {
    // Deleting the namespaces removes every link, address and route inside them at once.
    for (const ns of [...agentNetns, paths.nodeNetns, paths.hostNetns]) if (netnsExists(ns)) await run(['ip', 'netns', 'delete', ns]);
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
