// Every node of the cluster as the learner's tools see it: name, InternalIP, pod CIDR, flannel's
// lease (VTEP MAC, public IP) and, in the sandbox, the network namespace the node is. The
// namespace comes from the Node object (`lab/netns`, written by the node's own kubelet), and a
// Node object is only data: its value is taken only when it is one of this instance's own node
// namespace names (`<instance>-node` for the server's node, `<instance>-node-<name>` for an
// agent's), so no tool ever runs a command in a namespace an object merely names. Pure.
import { BACKEND_DATA, PUBLIC_IP, normalizeMac, podCIDROf, type FlannelNode } from '../flannel/annotations.ts';
import type { NodeMode } from '../api/types.ts';
import { NETNS_ANNOTATION } from '../kubelet/kubelet.ts';

export interface NodeInfo {
  name: string;
  /** status.addresses' InternalIP ('' when the Node has none yet). */
  ip: string;
  /** The namespace that is this node (sandbox), null in host mode (this machine) or when unknown. */
  netns: string | null;
  /** True when the tools can read the node's kernel state from here. */
  reachable: boolean;
  /** Why not, when not. */
  unreachableReason?: string;
  podCIDR?: string;
  /** flannel's backend-data VtepMAC (lowercase), when published. */
  vtepMac?: string;
  vni?: number;
  publicIP?: string;
  /** The server's node (node-role.kubernetes.io/control-plane). */
  server: boolean;
  createdAt: string;
  ready?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

type Obj = Record<string, unknown>;

/** DNS-1123 label: what a node name the tools put into a namespace name must be. */
const NODE_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** A name the tools may build a namespace name or a path from. */
export const isNodeName = (name: string): boolean => NODE_NAME.test(name);

/**
 * The namespace names a node may have in an instance: the server's node's, or the agent one built
 * from its own name (the prefixes come from InstancePaths; passed in to keep this pure).
 */
export function allowedNodeNetns(name: string, ns: { nodeNetns: string; agentNetns: (node: string) => string }): string[] {
  return NODE_NAME.test(name) ? [ns.nodeNetns, ns.agentNetns(name)] : [ns.nodeNetns];
}

/** A Node object as NodeInfo; its `lab/netns` is kept only when it is one of the instance's own names. */
export function nodeInfoFromApi(node: FlannelNode, ns: { nodeNetns: string; agentNetns: (node: string) => string }, mode: NodeMode): NodeInfo {
  const m = node.metadata as FlannelNode['metadata'] & { creationTimestamp?: string; labels?: Record<string, string> };
  const name = m.name ?? '';
  const annotations = { ...(m.annotations ?? {}) };
  const labels = { ...(m.labels ?? {}) };
  const status = ((node as unknown as Obj).status ?? {}) as { addresses?: { type: string; address: string }[]; conditions?: { type: string; status: string }[] };
  const ip = status.addresses?.find((a) => a.type === 'InternalIP')?.address ?? '';
  const server = 'node-role.kubernetes.io/control-plane' in labels;
  let vtepMac: string | undefined;
  let vni: number | undefined;
  try {
    const bd = JSON.parse(annotations[BACKEND_DATA] ?? 'null') as { VNI?: number; VtepMAC?: string } | null;
    vtepMac = bd?.VtepMAC ? normalizeMac(bd.VtepMAC) : undefined;
    vni = typeof bd?.VNI === 'number' ? bd.VNI : undefined;
  } catch {
    vtepMac = undefined;
  }
  const info: NodeInfo = {
    name,
    ip,
    netns: null,
    reachable: false,
    podCIDR: podCIDROf(node),
    vtepMac,
    vni,
    publicIP: annotations[PUBLIC_IP],
    server,
    createdAt: m.creationTimestamp ?? '',
    ready: status.conditions?.find((c) => c.type === 'Ready')?.status,
    labels,
    annotations,
  };
  const claimed = annotations[NETNS_ANNOTATION] ?? labels[NETNS_ANNOTATION];
  if (mode === 'host') {
    // Host mode: this machine is the server's node; an agent is another VM, out of reach.
    info.reachable = server;
    if (!server) info.unreachableReason = `node ${name} is another machine (host mode): run the tool there`;
    return info;
  }
  if (!claimed) {
    info.unreachableReason = `node ${name} names no network namespace (annotation ${NETNS_ANNOTATION})`;
    return info;
  }
  if (!allowedNodeNetns(name, ns).includes(claimed)) {
    info.unreachableReason = `node ${name}: annotation ${NETNS_ANNOTATION}=${JSON.stringify(claimed)} is not one of this lab's node namespaces (${allowedNodeNetns(name, ns).join(', ')}); ignored`;
    return info;
  }
  info.netns = claimed;
  info.reachable = true;
  return info;
}

/** The node named `name` (case-insensitive, as hostnames are), or an error listing the nodes. */
export function findNode(nodes: NodeInfo[], name: string): NodeInfo {
  const n = nodes.find((x) => x.name.toLowerCase() === name.toLowerCase());
  if (!n) throw new Error(`node ${JSON.stringify(name)} not found; nodes: ${nodes.map((x) => x.name).join(', ') || 'none'}`);
  return n;
}

/** A node the tools can read from here, or an error saying why not. */
export function reachableNode(nodes: NodeInfo[], name: string): NodeInfo {
  const n = findNode(nodes, name);
  if (!n.reachable) throw new Error(n.unreachableReason ?? `node ${n.name} cannot be read from here`);
  return n;
}

/** The node whose InternalIP (or flannel public IP) is `ip`. */
export function nodeByIP(nodes: NodeInfo[], ip: string): NodeInfo | undefined {
  return nodes.find((n) => n.ip === ip || n.publicIP === ip);
}
