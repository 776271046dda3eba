// `lab explain [iptables|nftables|routes|conntrack]`: the node's kernel state that belongs to the lab,
// each rule, route and connection annotated with the Service, endpoint or pod it belongs to.
import { run } from '../../sys/exec.ts';
import { explainConntrack, explainIptables, explainRoutes } from '../../trace/explain.ts';
import { explainNftables } from '../../trace/nft-table.ts';
import { explainFor, ipJson, loadLabContext, pickNode, readConntrack, readIptables, readNftTable, type LabContext } from '../../trace/observe.ts';
import type { Common } from '../common.ts';
import { preflight, tools } from '../preflight.ts';

import { EXPLAIN_TOPICS } from './index.ts';

type Topic = (typeof EXPLAIN_TOPICS)[number];

export type Args = Common & { topic?: Topic; counters: boolean; pods: boolean; node?: string };

function heading(text: string, netns: string | null): string {
  return `### ${text}${netns ? ` (in network namespace ${netns})` : ''}`;
}

async function iptablesSection(ctx: LabContext, counters: boolean): Promise<string[]> {
  const dump = await readIptables(ctx.nodeNetns, { counters });
  // nat first (the Service rules), then filter, then any other table holding a KUBE-* chain.
  const names = [...dump.keys()].sort((a, b) => (a === 'nat' ? -1 : b === 'nat' ? 1 : a === 'filter' ? -1 : b === 'filter' ? 1 : a.localeCompare(b)));
  const ordered = new Map(names.map((t) => [t, dump.get(t)!] as const));
  return [heading(`iptables-save${counters ? ' -c' : ''}: kube-proxy's chains and the jumps into them`, ctx.nodeNetns), '', ...explainIptables(ordered, ctx.explain, { counters })];
}

async function nftablesSection(ctx: LabContext): Promise<string[]> {
  const listing = await readNftTable(ctx.nodeNetns);
  const head = heading("nft -a list table ip kube-proxy: kube-proxy's nftables table, Service by Service", ctx.nodeNetns);
  if (!listing) return [head, '', "(no table ip kube-proxy: kube-proxy runs in iptables mode; see lab explain iptables)", ''];
  return [head, '', ...explainNftables(listing, ctx.index.servicePorts), ''];
}

async function routesSection(ctx: LabContext, withPods: boolean): Promise<string[]> {
  const ns = ctx.nodeNetns;
  const [main, local, neigh, ports] = await Promise.all([
    run(['ip', ...(ns ? ['-n', ns] : []), 'route', 'show'], {}),
    run(['ip', ...(ns ? ['-n', ns] : []), 'route', 'show', 'table', 'local'], {}),
    run(['ip', ...(ns ? ['-n', ns] : []), 'neigh', 'show', 'dev', 'cni0'], { allowFail: true }),
    ipJson(ns, 'link', 'show', 'master', 'cni0'),
  ]);
  const podRoutes: { pod: string; text: string }[] = [];
  if (withPods) {
    const pods = ctx.index.pods.slice().sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
    const texts = await Promise.all(pods.map((p) => run(['ip', '-n', p.metadata.annotations['lab/netns'] ?? '', 'route', 'show'], { allowFail: true })));
    pods.forEach((p, i) => podRoutes.push({ pod: `${p.metadata.namespace}/${p.metadata.name} (${p.status.podIP ?? 'no IP'})`, text: texts[i]!.stdout }));
  }
  return [
    heading('routes: how the node reaches the laptop, the pods and itself', ns),
    '',
    ...explainRoutes({ main: main.stdout, local: local.stdout, neighbours: neigh.stdout, bridgePorts: ports.map((p) => ({ ifname: p.ifname, ifindex: p.ifindex })), podRoutes }, ctx.explain),
    '',
  ];
}

async function conntrackSection(ctx: LabContext): Promise<string[]> {
  const entries = await readConntrack(ctx.nodeNetns);
  const { lines, skipped } = explainConntrack(entries, ctx.explain);
  return [
    heading('conntrack -L: connections the node tracks, with the NAT each one got', ctx.nodeNetns),
    '# original tuple (what the client sent) then reply tuple (what the kernel expects back: its source is the pod a DNAT chose)',
    '',
    ...(lines.length ? lines : ['(no connection of the lab is tracked right now: curl a Service, then look again within 2 minutes)']),
    ...(skipped ? ['', `# ${skipped} other entr${skipped === 1 ? 'y' : 'ies'} not involving the lab's addresses left out`] : []),
    '',
  ];
}

export async function explainHandler(a: Args): Promise<void> {
  preflight({ needRoot: true, tools: tools('iptables-save', ...(a.topic === undefined || a.topic === 'conntrack' ? ['conntrack'] : [])) });
  const full = await loadLabContext(a.name);
  // One node's kernel state (--node, default the server's): its namespace, its cni0, its pods.
  const node = pickNode(full, a.node);
  const explain = await explainFor(full, node);
  const ctx: LabContext = { ...full, nodeNetns: node.netns, explain, index: explain.index };
  const onNode = (p: { spec: { nodeName?: string } }) => !full.nodes.length || !p.spec.nodeName || p.spec.nodeName === node.name;
  ctx.index = { ...explain.index, pods: explain.index.pods.filter(onNode) };
  ctx.explain = { ...explain, index: ctx.index };
  // All topics: kube-proxy's rules of the mode it runs in (its nftables table exists, or not).
  const nftMode = !a.topic && (await readNftTable(ctx.nodeNetns)) !== null;
  const topics: Topic[] = a.topic ? [a.topic] : EXPLAIN_TOPICS.filter((t) => (nftMode ? t !== 'iptables' : t !== 'nftables'));
  const out: string[] = [];
  for (const t of topics) {
    if (t === 'iptables') out.push(...(await iptablesSection(ctx, a.counters)));
    if (t === 'nftables') out.push(...(await nftablesSection(ctx)));
    if (t === 'routes') out.push(...(await routesSection(ctx, a.pods)));
    if (t === 'conntrack') out.push(...(await conntrackSection(ctx)));
  }
  process.stdout.write(out.join('\n').replace(/\n+$/, '') + '\n');
}
