// `lab describe pod|svc|node <name>`: kubectl describe, with the kernel objects behind the object.
import path from 'node:path';
import { readAllAttachments } from '../../cni/pod-network.ts';
import { isContainerAlive } from '../../kubelet/runtime.ts';
import { NODE_SYSCTLS } from '../../node/setup.ts';
import { run } from '../../sys/exec.ts';
import { describeNodeText, describePod, describeService, type NodeObservation, type PodNetworkObservation } from '../../trace/describe.ts';
import { findPod, findService, kindOf } from '../../trace/lookup.ts';
import { ipJson, loadLabContext, readConntrack, readIptables, readNftTable, type LabContext } from '../../trace/observe.ts';
import type { Common } from '../common.ts';

export type Args = Common & { kind: string; object?: string; namespace?: string };

async function podNetwork(ctx: LabContext, podName: string): Promise<PodNetworkObservation> {
  const pod = ctx.state.pods[podName]!;
  const netns = pod.metadata.annotations['lab/netns'];
  const veth = pod.metadata.annotations['lab/veth'];
  const [eth0] = netns ? await ipJson(netns, 'addr', 'show', 'dev', 'eth0') : [];
  const [host] = veth ? await ipJson(ctx.nodeNetns, 'addr', 'show', 'dev', veth) : [];
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
  const a = netns ? (await readAllAttachments(ctx.paths)).get(netns) : undefined;
  const cni = a && a.pod.uid === pod.metadata.uid ? { network: a.network, containerId: a.containerId, ifName: a.ifName, file: a.file, result: a.result } : undefined;
  return {
    cni,
    eth0: eth0 && { ifindex: eth0.ifindex, peerIfindex: eth0.link_index, mac: eth0.address, up: (eth0.flags ?? []).includes('UP'), addrs: (eth0.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`) },
    veth: host && { ifindex: host.ifindex, peerIfindex: host.link_index, master: host.master, mac: host.address, up: (host.flags ?? []).includes('UP') },
    gateway,
    alive,
    logDir: path.join(ctx.paths.podDir(podName), 'containers'),
  };
}

async function nodeObservation(ctx: LabContext): Promise<NodeObservation> {
  const links = await ipJson(ctx.nodeNetns, 'addr', 'show');
  const ports = (await ipJson(ctx.nodeNetns, 'link', 'show', 'master', 'cni0')).length;
  const sysctls: Record<string, string> = {};
  const r = await run(['sysctl', ...Object.keys(NODE_SYSCTLS)], { netns: ctx.nodeNetns, allowFail: true });
  for (const line of r.stdout.split('\n')) {
    const m = /^(\S+) = (.*)$/.exec(line.trim());
    if (m) sysctls[m[1]!] = m[2]!;
  }
  for (const k of Object.keys(NODE_SYSCTLS)) sysctls[k] ??= '<unreadable>';
  const nat = await readIptables(ctx.nodeNetns, { table: 'nat', counters: false }).catch(() => null);
  const natTable = nat?.get('nat');
  const ct = await readConntrack(ctx.nodeNetns).catch(() => null);
  return {
    links: links.map((l) => ({ ifname: l.ifname, up: (l.flags ?? []).includes('UP'), addrs: (l.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`), ports: l.ifname === 'cni0' ? ports : undefined })),
    sysctls,
    natChains: natTable?.chains.filter((c) => c.name.startsWith('KUBE-')).length ?? 0,
    natRules: natTable?.rules.filter((x) => x.chain.startsWith('KUBE-') || x.target?.startsWith('KUBE-')).length ?? 0,
    conntrackEntries: ct?.length,
    nodeNetns: ctx.nodeNetns,
    laptopNetns: ctx.laptopNetns,
  };
}

export async function describeHandler(a: Args): Promise<void> {
  // `describe pod/name` works as well as `describe pod name`.
  let kindWord = a.kind;
  let object = a.object;
  if (!object && a.kind.includes('/')) [kindWord, object] = [a.kind.slice(0, a.kind.indexOf('/')), a.kind.slice(a.kind.indexOf('/') + 1)];
  const kind = kindOf(kindWord);
  if (!kind || kind === 'deployment') throw new Error(`cannot describe ${JSON.stringify(kindWord)}: use pod, svc or node`);
  const ctx = await loadLabContext(a.name);
  if (kind === 'node') {
    if (object && object.toLowerCase() !== ctx.state.nodeName.toLowerCase()) throw new Error(`node ${JSON.stringify(object)} not found; the lab's node is ${ctx.state.nodeName}`);
    process.stdout.write(describeNodeText(ctx.state, ctx.index, await nodeObservation(ctx)));
    return;
  }
  if (!object) throw new Error(`which ${kind}? lab describe ${kindWord} <name>`);
  if (kind === 'pod') {
    const pod = findPod(ctx.state, object, a.namespace);
    process.stdout.write(describePod(pod, ctx.state, ctx.index, await podNetwork(ctx, pod.metadata.name)));
    return;
  }
  const svc = findService(ctx.state, object, a.namespace);
  // kube-proxy's nftables mode: its table exists (each mode removes the other's rules).
  const nft = await readNftTable(ctx.nodeNetns);
  if (nft) {
    process.stdout.write(describeService(svc, ctx.state, ctx.index, null, null, Date.now(), nft));
    return;
  }
  const [nat, filter] = await Promise.all([readIptables(ctx.nodeNetns, { table: 'nat', counters: false }).catch(() => null), readIptables(ctx.nodeNetns, { table: 'filter', counters: false }).catch(() => null)]);
  process.stdout.write(describeService(svc, ctx.state, ctx.index, nat, filter));
}
