// The thin impure side of the learner's tools: reads the running instance (its store, kernel
// state inside its namespaces) through src/sys, for the pure parsers and annotators of src/trace.
import { InstanceNotRunningError } from '../api/errors.ts';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ClusterView } from './view.ts';
import type { Pod } from '../api/types.ts';
import { agentPaths, instancePaths, type InstancePaths } from '../node/instance.ts';
import { SANDBOX_HOST_IP } from '../node/node.ts';
import { ipArgs, run, type Netns } from '../sys/exec.ts';
import { formatCidr, parseCidr } from '../util/cidr.ts';
import { readApiState } from './api-view.ts';
import { buildClusterIndex, type ClusterIndex } from './cluster.ts';
import { parseConntrack, type ConntrackEntry } from './conntrack.ts';
import type { ExplainContext } from './explain.ts';
import { findNode, isNodeName, reachableNode, type NodeInfo } from './nodes.ts';
import { parseIptablesSave, type IptablesDump } from './iptables.ts';
import { parseNftList, type NftListing } from './nft-table.ts';

export interface LabContext {
  name: string;
  state: ClusterView;
  paths: InstancePaths;
  /** The node's network namespace (null in host mode: this machine is the node). */
  nodeNetns: Netns;
  /** The laptop's namespace in sandbox mode; null in host mode (the laptop is outside the VM). */
  laptopNetns: Netns;
  index: ClusterIndex;
  explain: ExplainContext;
  /** Every node (the server's first), each with its validated namespace (nodes.ts). */
  nodes: NodeInfo[];
}

/** The node a tool reads: `--node <name>` when given (it must be reachable from here), else the server's. */
export function pickNode(ctx: Pick<LabContext, 'nodes' | 'state' | 'nodeNetns'>, name?: string): NodeInfo {
  if (name) return reachableNode(ctx.nodes, name);
  const server = ctx.nodes.find((n) => n.name === ctx.state.nodeName);
  if (server?.reachable) return server;
  // A lab whose Node object is not (yet) readable: the server's namespace, as before nodes were listed.
  return { name: ctx.state.nodeName, ip: ctx.state.nodeIP, netns: ctx.nodeNetns, reachable: true, server: true, createdAt: ctx.state.createdAt, labels: {}, annotations: {} };
}

/** The node a pod runs on (spec.nodeName), reachable from here, else an error saying why. */
export function podNode(ctx: Pick<LabContext, 'nodes' | 'state' | 'nodeNetns'>, pod: Pod): NodeInfo {
  const name = pod.spec.nodeName;
  if (!name) throw new Error(`pod ${pod.metadata.name} is not scheduled to a node yet`);
  if (ctx.nodes.length === 0) return pickNode(ctx);
  return reachableNode(ctx.nodes, name);
}

/** The node a pod runs on, or undefined when it is not scheduled or its node is unknown (no throw). */
export function podNodeInfo(ctx: Pick<LabContext, 'nodes'>, pod: Pod): NodeInfo | undefined {
  try {
    return pod.spec.nodeName ? findNode(ctx.nodes, pod.spec.nodeName) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Where a node's files are (pod directories and container logs, subnet.env, CNI results): the
 * instance's for the server's node, each agent's own directory in the sandbox (agentPaths).
 */
export function nodeFiles(ctx: Pick<LabContext, 'paths' | 'state'>, nodeName: string | undefined): InstancePaths {
  if (!nodeName || nodeName === ctx.state.nodeName || ctx.state.mode !== 'sandbox' || !isNodeName(nodeName)) return ctx.paths;
  return agentPaths(ctx.paths.instance, nodeName);
}

/** `lab explain`'s context for one node: the addresses its own cni0 serves. */
export async function explainFor(ctx: LabContext, node: NodeInfo): Promise<ExplainContext> {
  if (node.name === ctx.state.nodeName) return ctx.explain;
  const cni0 = await bridgeAddress(node.netns);
  return { ...ctx.explain, index: indexFor(ctx, node), gateway: cni0?.ip, podCIDR: cni0?.cidr ?? node.podCIDR };
}

/** The cluster index as seen from one node (its name and IP are "the node" in kube-proxy's terms). */
export function indexFor(ctx: Pick<LabContext, 'state' | 'index'>, node: NodeInfo): ClusterIndex {
  if (node.name === ctx.state.nodeName) return ctx.index;
  return buildClusterIndex({ ...ctx.state, nodeName: node.name, nodeIP: node.ip });
}

export async function loadLabContext(name: string): Promise<LabContext> {
  const paths = instancePaths(name);
  // An instance run by its server: the cluster as its store has it (api-view.ts).
  const state = await readApiState(paths);
  if (!state) throw new InstanceNotRunningError(name, paths.stateDir);
  const nodeNetns = state.mode === 'sandbox' ? paths.nodeNetns : null;
  const index = buildClusterIndex(state);
  const cni0 = await bridgeAddress(nodeNetns);
  return {
    name,
    state,
    paths,
    nodeNetns,
    laptopNetns: state.mode === 'sandbox' ? paths.hostNetns : null,
    index,
    explain: { index, mode: state.mode, gateway: cni0?.ip, podCIDR: cni0?.cidr, laptopIP: SANDBOX_HOST_IP },
    nodes: state.nodes,
  };
}

interface IpAddrJson {
  ifname: string;
  ifindex: number;
  link_index?: number;
  master?: string;
  address?: string;
  operstate?: string;
  flags?: string[];
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

export async function ipJson(netns: Netns, ...args: string[]): Promise<IpAddrJson[]> {
  const r = await run(ipArgs(netns, '-j', ...args), { allowFail: true });
  if (r.exitCode !== 0) return [];
  return JSON.parse(r.stdout || '[]') as IpAddrJson[];
}

/** cni0's IPv4 address and the subnet it serves. */
export async function bridgeAddress(netns: Netns): Promise<{ ip: string; cidr: string; prefix: number } | null> {
  const [l] = await ipJson(netns, 'addr', 'show', 'dev', 'cni0');
  const a = l?.addr_info?.find((x) => x.family === 'inet');
  if (!a) return null;
  return { ip: a.local, prefix: a.prefixlen, cidr: formatCidr(parseCidr(`${a.local}/${a.prefixlen}`)) };
}

export async function readIptables(netns: Netns, opts: { table?: string; counters?: boolean } = {}): Promise<IptablesDump> {
  const r = await run(['iptables-save', ...(opts.counters === false ? [] : ['-c']), ...(opts.table ? ['-t', opts.table] : [])], { netns });
  return parseIptablesSave(r.stdout);
}

/** kube-proxy's nftables table in the node's namespace (`nft -a list table ip kube-proxy`), or null when it has none (iptables mode). */
export async function readNftTable(netns: Netns): Promise<NftListing | null> {
  const r = await run(['nft', '-a', 'list', 'table', 'ip', 'kube-proxy'], { netns, allowFail: true }).catch(() => null);
  return r?.exitCode === 0 ? parseNftList(r.stdout) : null;
}

export async function readConntrack(netns: Netns): Promise<ConntrackEntry[]> {
  const r = await run(['conntrack', '-L'], { netns, allowFail: true });
  if (r.exitCode !== 0 && !r.stdout) throw new Error(`conntrack -L failed: ${r.stderr.trim()}`);
  return parseConntrack(r.stdout);
}

/** Current size of a file (0 when it does not exist): where to start reading new lines. */
export async function fileSize(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

/** The complete lines appended to `file` since byte `offset`. */
export async function linesSince(file: string, offset: number): Promise<string[]> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch {
    return [];
  }
  try {
    const size = (await fh.stat()).size;
    if (size <= offset) return [];
    const buf = Buffer.alloc(size - offset);
    await fh.read(buf, 0, buf.length, offset);
    return buf.toString('utf8').split('\n').map((l) => l.trimEnd()).filter(Boolean);
  } finally {
    await fh.close();
  }
}

/** Every container log of a pod: <podDir>/containers/<container>/container.log. */
export function containerLogs(paths: InstancePaths, podName: string, containers: string[]): string[] {
  return containers.map((c) => path.join(paths.podDir(podName), 'containers', c, 'container.log'));
}
