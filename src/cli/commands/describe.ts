// `lab describe pod|svc|node <name>`: kubectl describe, with the kernel objects behind the object.
import path from 'node:path';
import { readClusterAttachments } from '../../trace/api-view.ts';
import { isContainerAlive } from '../../kubelet/runtime.ts';
import { NODE_SYSCTLS } from '../../node/setup.ts';
import { run } from '../../sys/exec.ts';
import { describeNodeText, describePod, describeService, type NodeObservation, type PodNetworkObservation } from '../../trace/describe.ts';
import { findPod, findService, kindOf } from '../../trace/lookup.ts';
import { readFile } from 'node:fs/promises';
import { indexFor, nodeFiles, ipJson, loadLabContext, pickNode, podNode, readConntrack, readIptables, readNftTable, type LabContext } from '../../trace/observe.ts';
import { reachableNode, type NodeInfo } from '../../trace/nodes.ts';
import type { Common } from '../common.ts';

export type Args = Common & { kind: string; object?: string; namespace?: string; node?: string };

async function podNetwork(ctx: LabContext, podName: string): Promise<PodNetworkObservation> {
  const pod = ctx.state.pods[podName]!;
  const netns = pod.metadata.annotations['lab/netns'];
  const veth = pod.metadata.annotations['lab/veth'];
  const [eth0] = netns ? await ipJson(netns, 'addr', 'show', 'dev', 'eth0') : [];
  let hostNetns: string | null | undefined;
  try {
    hostNetns = podNode(ctx, pod).netns;
  } catch {
    hostNetns = undefined; // not scheduled, or its node cannot be read from here: no veth to show
  }
  const [host] = veth && hostNetns !== undefined ? await ipJson(hostNetns, 'addr', 'show', 'dev', veth) : [];
  const routes = netns ? await run(['ip', '-n', netns, '-j', 'route', 'show', 'default'], { allowFail: true }) : null;
  let gateway: string | undefined;
  try {
    gateway = (JSON.parse(routes?.stdout || '[]') as { gateway?: string }[])[0]?.gateway;
  } catch {
    gateway = undefined;
  }
  const alive: Record<string, boolean> = {};
  for (const s of pod.status.containerStatuses) alive[s.name] = isContainerAlive(s.pid, netns ?? '');
  // What the CNI plugins returned for the pod's sandbox (the node's cached ADD result).
  const a = netns ? (await readClusterAttachments(ctx.paths)).get(netns) : undefined;
  const cni = a && a.pod.uid === pod.metadata.uid ? { network: a.network, containerId: a.containerId, ifName: a.ifName, file: a.file, result: a.result } : undefined;
  return {
    cni,
    eth0: eth0 && { ifindex: eth0.ifindex, peerIfindex: eth0.link_index, mac: eth0.address, up: (eth0.flags ?? []).includes('UP'), addrs: (eth0.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`) },
    veth: host && { ifindex: host.ifindex, peerIfindex: host.link_index, master: host.master, mac: host.address, up: (host.flags ?? []).includes('UP') },
    gateway,
    alive,
    logDir: path.join(nodeFiles(ctx, pod.spec.nodeName).podDir(podName), 'containers'),
  };
}

/** `ip <args>` (or `bridge <args>`) in a node's namespace, its text ('' when it fails). */
async function text(netns: string | null, argv: string[]): Promise<string> {
  const r = await run(argv, { netns, allowFail: true });
  return r.exitCode === 0 ? r.stdout : '';
}

async function nodeObservation(ctx: LabContext, node: NodeInfo): Promise<NodeObservation> {
  const ns = node.netns;
  const links = await ipJson(ns, 'addr', 'show');
  const ports = (await ipJson(ns, 'link', 'show', 'master', 'cni0')).length;
  const sysctls: Record<string, string> = {};
  const r = await run(['sysctl', ...Object.keys(NODE_SYSCTLS)], { netns: ns, allowFail: true });
  for (const line of r.stdout.split('\n')) {
    const m = /^(\S+) = (.*)$/.exec(line.trim());
    if (m) sysctls[m[1]!] = m[2]!;
  }
  for (const k of Object.keys(NODE_SYSCTLS)) sysctls[k] ??= '<unreadable>';
  const nat = await readIptables(ns, { table: 'nat', counters: false }).catch(() => null);
  const natTable = nat?.get('nat');
  const ct = await readConntrack(ns).catch(() => null);
  // The node's name is a DNS label (nodes.ts checked it before accepting its namespace) and comes from its Node object.
  const subnetEnvFile = nodeFiles(ctx, node.name).subnetEnvFile(node.name);
  const [link, fdb, neigh, routes, subnetEnv] = await Promise.all([
    text(ns, ['ip', '-d', 'link', 'show', 'flannel.1']),
    text(ns, ['bridge', 'fdb', 'show', 'dev', 'flannel.1']),
    text(ns, ['ip', 'neigh', 'show', 'dev', 'flannel.1']),
    text(ns, ['ip', 'route', 'show']),
    readFile(subnetEnvFile, 'utf8').catch(() => undefined),
  ]);
  return {
    links: links.map((l) => ({ ifname: l.ifname, up: (l.flags ?? []).includes('UP'), addrs: (l.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`), ports: l.ifname === 'cni0' ? ports : undefined })),
    sysctls,
    natChains: natTable?.chains.filter((c) => c.name.startsWith('KUBE-')).length ?? 0,
    natRules: natTable?.rules.filter((x) => x.chain.startsWith('KUBE-') || x.target?.startsWith('KUBE-')).length ?? 0,
    conntrackEntries: ct?.length,
    nodeNetns: ns,
    laptopNetns: ctx.laptopNetns,
    node: ctx.nodes.length ? node : undefined,
    flannel: { link, fdb, neigh, routes, subnetEnvFile, subnetEnv },
  };
}

export async function describeHandler(a: Args): Promise<void> {
  process.stdout.write(await describeText(a));
}

/** What `lab describe` prints of one object (`lab ui` shows the same text when one is clicked). */
export async function describeText(a: Pick<Args, 'name' | 'kind' | 'object' | 'namespace' | 'node'>): Promise<string> {
  // `describe pod/name` works as well as `describe pod name`.
  let kindWord = a.kind;
  let object = a.object;
  if (!object && a.kind.includes('/')) [kindWord, object] = [a.kind.slice(0, a.kind.indexOf('/')), a.kind.slice(a.kind.indexOf('/') + 1)];
  const kind = kindOf(kindWord);
  if (!kind || kind === 'deployment') throw new Error(`cannot describe ${JSON.stringify(kindWord)}: use pod, svc or node`);
  const ctx = await loadLabContext(a.name);
  if (kind === 'node') {
    const node = object && ctx.nodes.length ? reachableNode(ctx.nodes, object) : pickNode(ctx, undefined);
    if (object && !ctx.nodes.length && object.toLowerCase() !== ctx.state.nodeName.toLowerCase()) throw new Error(`node ${JSON.stringify(object)} not found; the lab's node is ${ctx.state.nodeName}`);
    return describeNodeText(ctx.state, indexFor(ctx, node), await nodeObservation(ctx, node));
  }
  if (!object) throw new Error(`which ${kind}? lab describe ${kindWord} <name>`);
  if (kind === 'pod') {
    const pod = findPod(ctx.state, object, a.namespace);
    return describePod(pod, ctx.state, ctx.index, await podNetwork(ctx, pod.metadata.name));
  }
  const svc = findService(ctx.state, object, a.namespace);
  // Every node's kube-proxy writes its own rules: --node says whose (default: the server's node).
  const node = pickNode(ctx, a.node);
  const state = { ...ctx.state, nodeName: node.name, nodeIP: node.ip };
  // kube-proxy's nftables mode: its table exists (each mode removes the other's rules).
  const nft = await readNftTable(node.netns);
  if (nft) return describeService(svc, state, indexFor(ctx, node), null, null, Date.now(), nft);
  const [nat, filter] = await Promise.all([readIptables(node.netns, { table: 'nat', counters: false }).catch(() => null), readIptables(node.netns, { table: 'filter', counters: false }).catch(() => null)]);
  return describeService(svc, state, indexFor(ctx, node), nat, filter);
}
