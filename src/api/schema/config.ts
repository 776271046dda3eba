// lab/config.yaml: the k3s server settings the lab honours, under k3s's own key names
// (/etc/rancher/k3s/config.yaml), with k3s's defaults for every key left out.

import { z } from 'zod';
import { PROXY_MODES, type ClusterConfig, type ProxyMode } from '../types.ts';
import { type Cidr, cidrProblem, contains, formatCidr, intToIp, ipProblem, ipToInt, nth, overlaps, parseCidr, size } from '../../util/cidr.ts';
import { dns1123SubdomainProblem, labelKeyProblem, labelValueProblem } from '../names.ts';
import { LAPTOP_IP, NODE_NETWORK_PREFIX } from '../node-network.ts';
import { int, secret, str, type Problem } from './fields.ts';

/** k3s's defaults (and kube-controller-manager's for node-cidr-mask-size). */
export const K3S_DEFAULTS = {
  clusterCIDR: '10.42.0.0/16',
  serviceCIDR: '10.43.0.0/16',
  clusterDomain: 'cluster.local',
  serviceNodePortRange: [30000, 32767] as [number, number],
  nodeCIDRMaskSize: 24,
};

/**
 * k3s finds the node IP on the interface of the default route; a sandbox has no such thing, so the lab
 * defaults to the address of the exercise's VM.
 */
export const LAB_DEFAULT_NODE_IP = '192.168.56.110';

/** cluster-dns defaults to the 10th address of the service CIDR (10.43.0.10), as in k3s. */
export const CLUSTER_DNS_INDEX = 10;

/** Node names as kubelet and k3s use them: lower-cased ("labS" -> "labs"; kubernetes/kubernetes#71140). */
export function normalizeNodeName(name: string): string {
  return name.trim().toLowerCase();
}

function portRangeProblem(value: string): Problem {
  return parsePortRange(value) ? undefined : `${JSON.stringify(value)} is not a port range such as 30000-32767`;
}

/** `30000-32767`, `30000+2767` or a single port, as utilnet.ParsePortRange reads them. */
export function parsePortRange(value: string): [number, number] | undefined {
  const m = /^([0-9]{1,5})(?:([-+])([0-9]{1,5}))?$/.exec(value.trim());
  if (!m) return undefined;
  const low = Number(m[1]);
  const high = m[2] === undefined ? low : m[2] === '-' ? Number(m[3]) : low + Number(m[3]);
  if (low < 1 || high > 65535 || high < low) return undefined;
  return [low, high];
}

const LOOPBACK = parseCidr('127.0.0.0/8');
/** Multicast (224.0.0.0/4) and reserved (240.0.0.0/4). */
const NOT_UNICAST = parseCidr('224.0.0.0/3');

const nodeIPProblem = (v: string): Problem => {
  const p = ipProblem(v);
  if (p) return p;
  const n = ipToInt(v);
  if (n === 0 || contains(LOOPBACK, n) || contains(NOT_UNICAST, n)) return `${JSON.stringify(v)} cannot be a node address`;
  // The node shares a /24 with the laptop: neither the laptop's address nor the two addresses no
  // host can hold on that network (its network and broadcast addresses) can be the node's.
  const net = parseCidr(`${v}/${NODE_NETWORK_PREFIX}`);
  const laptop = contains(net, LAPTOP_IP) ? ` other than the laptop's ${LAPTOP_IP}` : '';
  const hosts = `use an address from ${nth(net, 1)} to ${nth(net, size(net) - 2)}${laptop}, such as ${contains(net, LAB_DEFAULT_NODE_IP) ? LAB_DEFAULT_NODE_IP : nth(net, 10)}`;
  if (n === ipToInt(LAPTOP_IP)) {
    return `${JSON.stringify(v)} is the laptop's address on the host-only network ${formatCidr(net)} (VirtualBox's side of it, and the sandbox's laptop namespace); the node needs an address of its own there, such as ${LAB_DEFAULT_NODE_IP}`;
  }
  if (n === net.base) return `${JSON.stringify(v)} is the network address of the node network ${formatCidr(net)}, which no host can hold; ${hosts}`;
  if (n === net.base + size(net) - 1) return `${JSON.stringify(v)} is the broadcast address of the node network ${formatCidr(net)}, which no host can hold; ${hosts}`;
  return undefined;
};

/** VirtualBox's NAT network: every VM has 10.0.2.15 on eth0, the interface of its default route. */
const VIRTUALBOX_NAT = parseCidr('10.0.2.0/24');

/**
 * `lab agent --node-ip` against `--server`: an address a node can hold, on the server's node
 * network (/24), where the nodes meet and VXLAN travels (eth1). k3s would take any routable
 * address; this is the check config.yaml's agents get (nodesProblems). A server given by name
 * or on loopback is not checked.
 */
export function agentNodeIPProblem(nodeIP: string, server: string): Problem {
  const p = nodeIPProblem(nodeIP);
  if (p) return p;
  let host: string;
  try {
    host = new URL(server).hostname;
  } catch {
    return undefined;
  }
  if (ipProblem(host) || contains(LOOPBACK, host)) return undefined;
  const net = parseCidr(`${host}/${NODE_NETWORK_PREFIX}`);
  if (contains(net, nodeIP)) return undefined;
  const next = ipToInt(host) - net.base + 1;
  const nat = contains(VIRTUALBOX_NAT, nodeIP)
    ? ` ${nodeIP} is VirtualBox's NAT address on eth0, the same on every VM and reachable from none (the folklore of k3s's --flannel-iface eth1):`
    : '';
  return `node IP ${nodeIP} is not on the node network ${formatCidr(net)} of the server ${host}, where the nodes meet (eth1):${nat} give this machine's address there, such as ${nth(net, next < size(net) - 1 ? next : 1)}`;
}

/**
 * k3s's --kube-proxy-arg: kube-proxy flags as `name=value`. The lab's kube-proxy takes one of them:
 * proxy-mode (iptables, the default, or nftables).
 */
export function kubeProxyArgProblem(v: string): Problem {
  const eq = v.indexOf('=');
  const name = (eq < 0 ? v : v.slice(0, eq)).replace(/^--/, '');
  if (eq < 0) return `${JSON.stringify(v)} is not a kube-proxy flag such as "proxy-mode=nftables" (name=value)`;
  if (name !== 'proxy-mode') return `kube-proxy flag ${JSON.stringify(name)} is not one the lab's kube-proxy takes; it takes proxy-mode (${PROXY_MODES.join(' or ')})`;
  const value = v.slice(eq + 1);
  if (!(PROXY_MODES as readonly string[]).includes(value)) return `proxy-mode ${JSON.stringify(value)} is not a mode the lab's kube-proxy has: ${PROXY_MODES.join(' or ')}${value === 'ipvs' ? ' (ipvs is deprecated upstream and needs IP_VS, which this kernel lacks)' : ''}`;
  return undefined;
}

/** The proxy mode kube-proxy-arg selects (the last proxy-mode wins, as with repeated flags). */
export function proxyModeOf(args: string[] | undefined): ProxyMode {
  let mode: ProxyMode = 'iptables';
  for (const a of args ?? []) {
    const m = /^(?:--)?proxy-mode=(.*)$/.exec(a);
    if (m && (PROXY_MODES as readonly string[]).includes(m[1]!)) mode = m[1] as ProxyMode;
  }
  return mode;
}

/** k3s's --node-label: `key=value` (the value may be empty). */
export function nodeLabelProblem(v: string): Problem {
  const eq = v.indexOf('=');
  if (eq < 0) return `${JSON.stringify(v)} is not a label such as "disk=ssd" (key=value)`;
  return labelKeyProblem(v.slice(0, eq)) ?? labelValueProblem(v.slice(eq + 1));
}

export const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const;
export type TaintEffect = (typeof TAINT_EFFECTS)[number];

/** k3s's --node-taint: `key=value:Effect` or `key:Effect`, as kubelet's --register-with-taints. */
export function parseNodeTaint(v: string): { key: string; value?: string; effect: TaintEffect } | string {
  const colon = v.lastIndexOf(':');
  const effect = colon < 0 ? '' : v.slice(colon + 1);
  if (!(TAINT_EFFECTS as readonly string[]).includes(effect)) {
    return `${JSON.stringify(v)} is not a taint such as "dedicated=gpu:NoSchedule" (key[=value]:${TAINT_EFFECTS.join('|')})`;
  }
  const kv = v.slice(0, colon);
  const eq = kv.indexOf('=');
  const key = eq < 0 ? kv : kv.slice(0, eq);
  const value = eq < 0 ? undefined : kv.slice(eq + 1);
  const problem = labelKeyProblem(key) ?? (value === undefined ? undefined : labelValueProblem(value));
  if (problem) return problem;
  return { key, ...(value !== undefined ? { value } : {}), effect: effect as TaintEffect };
}

const nodeTaintProblem = (v: string): Problem => {
  const t = parseNodeTaint(v);
  return typeof t === 'string' ? t : undefined;
};

/**
 * k3s's token: the secret a server and its agents share (each machine's config.yaml, or the
 * agent's --token). k3s takes any string; here one word of printable ASCII, since the agents send
 * it as a bearer token in an HTTP header and the VMs keep it in files. Not a full K10 token: the
 * CA hash in one is the server's to make (it writes the full form to its node-token), and `lab
 * agent` reads anything starting with K10 as one. No message shows the value.
 */
export function tokenProblem(v: string): Problem {
  if (v === '') return 'must not be empty';
  if (/[^\x21-\x7e]/.test(v)) return 'must be printable ASCII without spaces (agents send it in an HTTP header)';
  if (v.startsWith('K10')) return 'starts with K10, which marks a full token (K10<CA hash>::<user>:<secret>): give the secret alone; the server writes the full form to its node-token';
  return undefined;
}

/** The node failure timers' defaults: kube-controller-manager's and kube-apiserver's. */
export const NODE_LIFECYCLE_DEFAULTS = { nodeMonitorGracePeriodMs: 40_000, defaultNotReadyTolerationSeconds: 300, defaultUnreachableTolerationSeconds: 300 };

/** The kubelet renews its node Lease every 10 s; the grace period must leave room for a late renewal or two. */
export const MIN_NODE_MONITOR_GRACE_MS = 20_000;

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** time.ParseDuration, in ms: "40s", "1m30s", "1.5m", "500ms" (a unit on every number; "0" alone). */
export function parseGoDuration(value: string): number | undefined {
  if (value === '0') return 0;
  const m = /^([-+]?)((?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+)$/.exec(value);
  if (!m) return undefined;
  let ms = 0;
  for (const [, n, unit] of m[2]!.matchAll(/(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) ms += Number(n) * DURATION_UNITS[unit!]!;
  return m[1] === '-' ? -ms : ms;
}

function gracePeriodProblem(v: string): Problem {
  const ms = parseGoDuration(v.trim());
  if (ms === undefined) return `${JSON.stringify(v)} is not a duration such as "40s" or "1m30s"`;
  if (ms < MIN_NODE_MONITOR_GRACE_MS) {
    return `${JSON.stringify(v)} is shorter than ${MIN_NODE_MONITOR_GRACE_MS / 1000}s: the kubelet renews its node Lease every 10s, and a shorter grace period would take a healthy node for a failed one`;
  }
  return undefined;
}

const tolerationSeconds = () => int(0, Number.MAX_SAFE_INTEGER, 'a number of seconds, 0 or more');

const nodeName = () => str((v) => dns1123SubdomainProblem(normalizeNodeName(v)));
const nodeLabels = () => z.array(str(nodeLabelProblem));
const nodeTaints = () => z.array(str(nodeTaintProblem));

/**
 * One agent, under the keys of its own /etc/rancher/k3s/config.yaml (`k3s agent`). `agents` itself
 * is the lab's key: a k3s server's file does not list its agents, each machine has its own file.
 */
export const agentBody = z.strictObject({
  'node-name': nodeName(),
  'node-ip': str(nodeIPProblem),
  'node-label': nodeLabels().optional(),
  'node-taint': nodeTaints().optional(),
});

export const configBody = z.strictObject({
  'node-name': nodeName().optional(),
  'node-ip': str(nodeIPProblem).optional(),
  'node-label': nodeLabels().optional(),
  'node-taint': nodeTaints().optional(),
  agents: z.array(agentBody).optional(),
  'cluster-cidr': str(cidrProblem).optional(),
  'service-cidr': str(cidrProblem).optional(),
  'cluster-dns': str(ipProblem).optional(),
  'cluster-domain': str(dns1123SubdomainProblem).optional(),
  'service-node-port-range': str(portRangeProblem).optional(),
  'node-cidr-mask-size': int(1, 32, 'a prefix length between 1 and 32').optional(),
  token: secret(tokenProblem).optional(),
  // kube-controller-manager's and kube-apiserver's flags (on k3s: kube-controller-manager-arg and
  // kube-apiserver-arg), under their own names: how fast a failed node's pods move.
  'node-monitor-grace-period': str(gracePeriodProblem).optional(),
  'default-not-ready-toleration-seconds': tolerationSeconds().optional(),
  'default-unreachable-toleration-seconds': tolerationSeconds().optional(),
  // k3s's kube-proxy-arg: kube-proxy's flags, on every node (the lab takes proxy-mode).
  'kube-proxy-arg': z.array(str(kubeProxyArgProblem)).optional(),
});

export type ConfigBody = z.output<typeof configBody>;

export interface ConfigProblem {
  key: keyof ConfigBody;
  /** Below the key (an agent's field: ['agents', 1, 'node-ip']); the key alone when absent. */
  path?: (string | number)[];
  message: string;
}

/** Defaults applied to what the file says. `hostname` stands in for os.hostname() (k3s's node-name default). */
export function resolveConfig(body: ConfigBody, hostname: string): Omit<ClusterConfig, 'source'> {
  const serviceCIDR = body['service-cidr'] ?? K3S_DEFAULTS.serviceCIDR;
  return {
    nodeName: normalizeNodeName(body['node-name'] ?? hostname),
    nodeIP: body['node-ip'] ?? LAB_DEFAULT_NODE_IP,
    nodeLabels: body['node-label'] ?? [],
    nodeTaints: body['node-taint'] ?? [],
    agents: (body.agents ?? []).map((a) => ({ nodeName: normalizeNodeName(a['node-name']), nodeIP: a['node-ip'], nodeLabels: a['node-label'] ?? [], nodeTaints: a['node-taint'] ?? [] })),
    clusterCIDR: body['cluster-cidr'] ?? K3S_DEFAULTS.clusterCIDR,
    serviceCIDR,
    clusterDNS: body['cluster-dns'] ?? defaultClusterDNS(parseCidr(serviceCIDR)),
    clusterDomain: body['cluster-domain'] ?? K3S_DEFAULTS.clusterDomain,
    serviceNodePortRange: body['service-node-port-range']
      ? parsePortRange(body['service-node-port-range'])!
      : K3S_DEFAULTS.serviceNodePortRange,
    nodeCIDRMaskSize: body['node-cidr-mask-size'] ?? K3S_DEFAULTS.nodeCIDRMaskSize,
    ...(body.token !== undefined ? { token: body.token } : {}),
    nodeLifecycle: {
      nodeMonitorGracePeriodMs: body['node-monitor-grace-period'] === undefined ? NODE_LIFECYCLE_DEFAULTS.nodeMonitorGracePeriodMs : parseGoDuration(body['node-monitor-grace-period'].trim())!,
      defaultNotReadyTolerationSeconds: body['default-not-ready-toleration-seconds'] ?? NODE_LIFECYCLE_DEFAULTS.defaultNotReadyTolerationSeconds,
      defaultUnreachableTolerationSeconds: body['default-unreachable-toleration-seconds'] ?? NODE_LIFECYCLE_DEFAULTS.defaultUnreachableTolerationSeconds,
    },
    proxyMode: proxyModeOf(body['kube-proxy-arg']),
  };
}

/** '' when the service CIDR is too small to have one (k3s refuses to start then; configProblems reports it). */
function defaultClusterDNS(services: Cidr): string {
  return CLUSTER_DNS_INDEX < size(services) ? nth(services, CLUSTER_DNS_INDEX) : '';
}

/** Pod IPs one node's pod CIDR hands out: all but the network address, the gateway (cni0) and broadcast. */
export function podIPsPerNode(nodeCIDRMaskSize: number): number {
  return Math.max(0, 2 ** (32 - nodeCIDRMaskSize) - 3);
}

/** The checks between settings. Each problem is reported on the key the user most likely has to change. */
export function configProblems(body: ConfigBody, c: Omit<ClusterConfig, 'source'>): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const pods = parseCidr(c.clusterCIDR);
  const services = parseCidr(c.serviceCIDR);
  const podKey = body['cluster-cidr'] !== undefined ? 'cluster-cidr' : 'service-cidr';

  if (overlaps(pods, services)) {
    out.push({
      key: podKey,
      message: `pod CIDR ${c.clusterCIDR} overlaps service CIDR ${c.serviceCIDR}; they must be disjoint`,
    });
  }
  // kube-apiserver: "specified --service-cluster-ip-range is too large" beyond 20 host bits.
  if (32 - services.prefix > 20) {
    out.push({ key: 'service-cidr', message: `${c.serviceCIDR} is too large; the prefix must be /12 or longer` });
  }
  out.push(...nodesProblems(c, pods, services));
  const dnsKey = body['cluster-dns'] !== undefined ? 'cluster-dns' : 'service-cidr';
  const dns = c.clusterDNS === '' ? undefined : ipToInt(c.clusterDNS);
  if (dns === undefined) {
    out.push({ key: dnsKey, message: `${c.serviceCIDR} is too small for the cluster DNS address (its address #${CLUSTER_DNS_INDEX}); set cluster-dns or use a shorter prefix` });
  } else if (!contains(services, dns)) {
    out.push({ key: dnsKey, message: `cluster DNS address ${c.clusterDNS} is outside the service CIDR ${c.serviceCIDR}` });
  } else if (dns === services.base || dns === services.base + size(services) - 1) {
    out.push({ key: dnsKey, message: `cluster DNS address ${c.clusterDNS} is the network or broadcast address of ${c.serviceCIDR}` });
  } else if (dns === services.base + 1) {
    out.push({ key: dnsKey, message: `cluster DNS address ${c.clusterDNS} is taken by the kubernetes Service (the first address of ${c.serviceCIDR})` });
  }
  // kube-controller-manager's CIDR allocator: node masks are longer than the cluster mask, and at most
  // 16 bits longer.
  const mask = c.nodeCIDRMaskSize;
  const maskKey = body['node-cidr-mask-size'] !== undefined ? 'node-cidr-mask-size' : 'cluster-cidr';
  if (mask < pods.prefix) {
    out.push({ key: maskKey, message: `/${mask} is shorter than the pod CIDR ${formatCidr(pods)}; node CIDRs must be /${pods.prefix} or longer` });
  } else if (mask - pods.prefix > 16) {
    out.push({ key: maskKey, message: `/${mask} is more than 16 bits longer than the pod CIDR ${formatCidr(pods)}` });
  } else if (podIPsPerNode(mask) < 1) {
    out.push({ key: maskKey, message: `/${mask} leaves no pod addresses after network, gateway and broadcast; use /30 or shorter` });
  }
  return out;
}

/**
 * The nodes together: each node IP outside the pod and service CIDRs, no two nodes with one name
 * or one IP, and no more nodes than the pod CIDR has node CIDRs (the node IPAM would leave the
 * rest without a podCIDR). Reported on the node that came second.
 */
export function nodesProblems(c: Pick<ClusterConfig, 'nodeName' | 'nodeIP' | 'agents' | 'clusterCIDR' | 'serviceCIDR' | 'nodeCIDRMaskSize'>, pods = parseCidr(c.clusterCIDR), services = parseCidr(c.serviceCIDR)): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const nodes = [{ name: c.nodeName, ip: c.nodeIP, at: { key: 'node-ip' as const } }, ...c.agents.map((a, i) => ({ name: a.nodeName, ip: a.nodeIP, at: { key: 'agents' as const, path: ['agents', i] as (string | number)[] } }))];
  const names = new Map<string, number>();
  const ips = new Map<string, number>();
  const network: Cidr = { base: (ipToInt(c.nodeIP) & ~(2 ** (32 - NODE_NETWORK_PREFIX) - 1)) >>> 0, prefix: NODE_NETWORK_PREFIX };
  nodes.forEach((n, i) => {
    const at = (field: string) => (n.at.key === 'agents' ? { key: n.at.key, path: [...n.at.path!, field] } : { key: field === 'node-name' ? ('node-name' as const) : ('node-ip' as const) });
    const ip = ipToInt(n.ip);
    // The agents reach the server over eth1, one L2 network (VirtualBox's host-only network).
    if (i > 0 && !contains(network, ip)) out.push({ ...at('node-ip'), message: `node IP ${n.ip} is not on the node network ${formatCidr(network)} of the server's ${c.nodeIP}, where the nodes meet (eth1)` });
    if (contains(pods, ip)) out.push({ ...at('node-ip'), message: `node IP ${n.ip} is inside the pod CIDR ${c.clusterCIDR}` });
    if (contains(services, ip)) out.push({ ...at('node-ip'), message: `node IP ${n.ip} is inside the service CIDR ${c.serviceCIDR}` });
    const sameName = names.get(n.name);
    if (sameName !== undefined) out.push({ ...at('node-name'), message: `node name ${JSON.stringify(n.name)} is already taken by ${nodeLabel(nodes, sameName)}` });
    else names.set(n.name, i);
    const sameIP = ips.get(n.ip);
    if (sameIP !== undefined) out.push({ ...at('node-ip'), message: `node IP ${n.ip} is already taken by ${nodeLabel(nodes, sameIP)}` });
    else ips.set(n.ip, i);
  });
  const mask = c.nodeCIDRMaskSize;
  if (mask >= pods.prefix && mask - pods.prefix <= 16) {
    const cidrs = 2 ** (mask - pods.prefix);
    if (nodes.length > cidrs) {
      out.push({ key: 'agents', path: ['agents', cidrs - 1], message: `${nodes.length} nodes need ${nodes.length} node CIDRs of /${mask}, and the pod CIDR ${c.clusterCIDR} has ${cidrs}` });
    }
  }
  return out;
}

function nodeLabel(nodes: { name: string }[], i: number): string {
  return i === 0 ? `the server's node ${nodes[0]!.name}` : `agents[${i - 1}] (${nodes[i]!.name})`;
}

/** Default agents for `lab up --nodes N`: labsw, labsw2, ... at the addresses after the server's. */
export function defaultAgentName(i: number): string {
  return i === 0 ? 'labsw' : `labsw${i + 1}`;
}

/**
 * The config for a cluster of `count` nodes: the server's node, the agents the file declares, and
 * default agents after them (labsw, labsw2, ... at the next free addresses after the server's);
 * fewer than declared keeps the first ones. Without a count, the file's nodes.
 */
export function withNodeCount<C extends Pick<ClusterConfig, 'nodeName' | 'nodeIP' | 'agents'>>(c: C, count?: number): C {
  if (count === undefined) return c;
  const agents = c.agents.slice(0, Math.max(0, count - 1));
  const names = new Set([c.nodeName, ...agents.map((a) => a.nodeName)]);
  const ips = new Set([c.nodeIP, ...agents.map((a) => a.nodeIP)]);
  let ip = ipToInt(c.nodeIP);
  for (let i = 0; agents.length < count - 1; i++) {
    const name = defaultAgentName(i);
    if (names.has(name)) continue;
    do ip++;
    while (ips.has(intToIp(ip)));
    agents.push({ nodeName: name, nodeIP: intToIp(ip), nodeLabels: [], nodeTaints: [] });
    names.add(name);
    ips.add(intToIp(ip));
  }
  return { ...c, agents };
}
