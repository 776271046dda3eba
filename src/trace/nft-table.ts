// `nft -a list table ip kube-proxy` as the learner's tools read it: chains with their rules and
// handles, maps and sets with their elements. Pure: the listing comes in (src/trace/observe.ts
// reads it in the node's namespace), and the parts of one Service come out for
// `lab describe svc` and `lab explain nftables` in kube-proxy's nftables mode.
import type { ServicePortRef } from './cluster.ts';
import { nftEndpointChain, nftServiceChains } from '../proxy/nft-names.ts';

export interface NftListedRule {
  text: string;
  handle?: number;
}

export interface NftListing {
  family: string;
  table: string;
  chains: Map<string, { handle?: number; hook?: string; rules: NftListedRule[] }>;
  /** Maps and sets: their elements as nft prints them ("10.43.0.10 . tcp . 80 comment "…" : goto service-…"). */
  maps: Map<string, { kind: 'map' | 'set'; type?: string; elements: string[] }>;
}

/** Split on commas outside braces and quotes. */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let cur = '';
  for (const ch of s) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && ch === '{') depth++;
    else if (!quoted && ch === '}') depth--;
    if (ch === ',' && depth === 0 && !quoted) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

function stripHandle(line: string): NftListedRule {
  const m = /\s*# handle (\d+)$/.exec(line);
  return m ? { text: line.slice(0, m.index).trim(), handle: Number(m[1]) } : { text: line.trim() };
}

/** One table of `nft -a list table <family> <name>` (or the first table of a ruleset listing). */
export function parseNftList(text: string): NftListing | null {
  const lines = text.split('\n');
  const head = lines.findIndex((l) => /^table \S+ \S+ \{/.test(l));
  if (head < 0) return null;
  const [, family, table] = /^table (\S+) (\S+) \{/.exec(lines[head]!)!;
  const listing: NftListing = { family: family!, table: table!, chains: new Map(), maps: new Map() };
  let block: { kind: 'chain' | 'map' | 'set'; name: string } | null = null;
  let elements: string | null = null;
  for (const raw of lines.slice(head + 1)) {
    const line = raw.trim();
    if (!line) continue;
    if (elements !== null) {
      elements += ' ' + line;
      if (elementsClosed(elements)) finishElements();
      continue;
    }
    const open = /^(chain|map|set) (\S+) \{(?:\s*# handle (\d+))?$/.exec(line);
    if (open) {
      block = { kind: open[1] as 'chain' | 'map' | 'set', name: open[2]! };
      if (block.kind === 'chain') listing.chains.set(block.name, { handle: open[3] ? Number(open[3]) : undefined, rules: [] });
      else listing.maps.set(block.name, { kind: block.kind, elements: [] });
      continue;
    }
    if (line === '}') {
      if (!block) break;
      block = null;
      continue;
    }
    if (!block) continue;
    if (block.kind === 'chain') {
      const c = listing.chains.get(block.name)!;
      const hook = /^type \S+ hook (\S+) priority ([^;]+);/.exec(line);
      if (hook) c.hook = `${hook[1]} priority ${hook[2]!.trim()}`;
      else if (!/^(comment|policy) /.test(line)) c.rules.push(stripHandle(line));
      continue;
    }
    const m = listing.maps.get(block.name)!;
    if (line.startsWith('type ')) m.type = line.slice(5);
    else if (line.startsWith('elements = {')) {
      elements = line.slice('elements = {'.length);
      if (elementsClosed(elements)) finishElements();
    }
  }
  return listing;

  function elementsClosed(s: string): boolean {
    let depth = 1;
    let quoted = false;
    for (const ch of s) {
      if (ch === '"') quoted = !quoted;
      else if (!quoted && ch === '{') depth++;
      else if (!quoted && ch === '}') depth--;
    }
    return depth === 0;
  }
  function finishElements(): void {
    const body = elements!.trim().replace(/\}$/, '');
    listing.maps.get(block!.name)!.elements.push(...splitTop(body));
    elements = null;
  }
}

export interface NftServicePortView {
  /** Elements of the service-ips / service-nodeports / no-endpoint-* maps naming this port. */
  elements: { map: string; element: string }[];
  /** The chains of this port that exist, service chain first, then the endpoint chains. */
  chains: { name: string; role: 'service' | 'local' | 'external' | 'firewall' | 'endpoint'; rules: NftListedRule[]; endpoint?: string }[];
  /** The `numgen random mod N vmap { … }` rule of the service (or local) chain. */
  numgen?: { n: number; targets: string[]; rule: NftListedRule };
  missing: string[];
}

/** What kube-proxy's nftables table holds for one Service port. */
export function nftServicePortView(listing: NftListing, sp: ServicePortRef): NftServicePortView {
  const ns = sp.service.metadata.namespace;
  const name = sp.service.metadata.name;
  const portName = sp.port.name ?? '';
  const names = nftServiceChains(ns, name, sp.port.protocol, portName);
  const view: NftServicePortView = { elements: [], chains: [], missing: [] };
  for (const [map, m] of listing.maps) {
    for (const e of m.elements) if (e.includes(`comment "${sp.name}"`) || Object.values(names).some((c) => e.endsWith(` ${c}`))) view.elements.push({ map, element: e });
  }
  for (const role of ['service', 'local', 'external', 'firewall'] as const) {
    const chain = names[role === 'service' ? 'cluster' : role];
    const c = listing.chains.get(chain);
    if (c) view.chains.push({ name: chain, role, rules: c.rules });
  }
  for (const e of sp.endpoints) {
    const chain = nftEndpointChain(ns, name, sp.port.protocol, portName, e.ip, e.port).chain;
    const c = listing.chains.get(chain);
    if (c) view.chains.push({ name: chain, role: 'endpoint', rules: c.rules, endpoint: `${e.ip}:${e.port}` });
    else if (e.ready) view.missing.push(chain);
  }
  for (const c of view.chains) {
    if (c.role !== 'service' && c.role !== 'local') continue;
    const r = c.rules.find((x) => /^numgen random mod \d+ vmap \{/.test(x.text));
    if (r) {
      const n = Number(/^numgen random mod (\d+)/.exec(r.text)![1]);
      const targets = [...r.text.matchAll(/\d+ : goto (\S+?)(?:,|\s*\})/g)].map((m) => m[1]!);
      view.numgen ??= { n, targets, rule: r };
    }
  }
  return view;
}

/** `lab explain nftables`: kube-proxy's base chains with their hooks, then each Service port's map elements and chains, annotated. */
export function explainNftables(listing: NftListing, servicePorts: ServicePortRef[]): string[] {
  const out: string[] = [`# table ${listing.family} ${listing.table}: ${listing.chains.size} chains, ${[...listing.maps.values()].reduce((n, m) => n + m.elements.length, 0)} map/set elements`, '', '# base chains (where the kernel enters the table):'];
  for (const [name, c] of listing.chains) if (c.hook) out.push(`chain ${name}  (hook ${c.hook})`, ...c.rules.map((r) => `  ${r.text}`));
  for (const sp of servicePorts) {
    const v = nftServicePortView(listing, sp);
    if (v.elements.length === 0 && v.chains.length === 0) continue;
    const ip = sp.service.spec.clusterIP;
    out.push('', `# ${sp.name}: ClusterIP ${ip}:${sp.port.port}/${sp.port.protocol}${v.numgen ? `, numgen random mod ${v.numgen.n} over its endpoints` : sp.endpoints.length === 0 ? ', no endpoints' : ''}`);
    for (const e of v.elements) out.push(`map ${e.map}: ${e.element}`);
    for (const c of v.chains) {
      const ep = c.endpoint ? sp.endpoints.find((x) => `${x.ip}:${x.port}` === c.endpoint) : undefined;
      out.push(`chain ${c.name}${ep ? `  # endpoint ${c.endpoint}${ep.pod ? ` (pod ${ep.pod.metadata.namespace}/${ep.pod.metadata.name})` : ''}` : ''}`, ...c.rules.map((r) => `  ${r.text}`));
    }
    for (const c of v.missing) out.push(`# missing: chain ${c}`);
  }
  return out;
}

/**
 * One chain of the listing as `nft -a list chain` prints it, then what sends packets to it: the
 * rules of other chains and the map elements whose verdict names it (`lab ui`'s click on an
 * nftables chain). kube-proxy's nftables rules carry no counters; a rule that has one shows it.
 */
export function nftChainText(listing: NftListing, chain: string): string {
  const c = listing.chains.get(chain);
  if (!c) return `no chain ${chain} in table ${listing.family} ${listing.table}\n`;
  const lines = [`$ nft -a list chain ${listing.family} ${listing.table} ${chain}`, `chain ${chain} {${c.handle !== undefined ? ` # handle ${c.handle}` : ''}`];
  for (const r of c.rules) lines.push(`  ${r.text}${r.handle !== undefined ? ` # handle ${r.handle}` : ''}`);
  lines.push('}');
  const names = new RegExp(`(?:goto|jump) ${chain.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}(?![\\w./:-])`);
  const from: string[] = [];
  for (const [name, other] of listing.chains) for (const r of other.rules) if (name !== chain && names.test(r.text)) from.push(`  chain ${name}: ${r.text}`);
  for (const [name, m] of listing.maps) for (const el of m.elements) if (names.test(el)) from.push(`  ${m.kind} ${name}: ${el}`);
  if (from.length) lines.push('', 'sent here by:', ...from);
  return `${lines.join('\n')}\n`;
}
