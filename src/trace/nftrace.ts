// `nft monitor trace` output (nftables' own packet tracing, `meta nftrace set 1`): the rules a
// traced packet hit, in the order the kernel evaluated them, with each rule's verdict. Pure: the
// lines come in (captured with `nft -a monitor trace`, so each rule carries its handle), the
// events and the path through kube-proxy's chains come out.
//
// One line per event, e.g.
//   trace id 33ba49ee ip kube-proxy services rule ip daddr . meta l4proto . th dport vmap @service-ips # handle 44 (verdict goto service-…)
//   trace id 33ba49ee ip kube-proxy filter-output policy accept
//   trace id 33ba49ee ip kube-proxy nat-output packet: oif "lo" ip saddr … tcp sport 49210 tcp dport 80 …
// A trace id names one packet in one hook sequence; the kernel starts a new id when the packet is
// looped back or re-enters (e.g. output then the loopback's prerouting).
import { FILTER_INPUT, LAB_TRACE_TABLE, NAT_POSTROUTING, NFT_TABLE } from '../proxy/nft-names.ts';

export type NftTraceKind = 'packet' | 'rule' | 'policy' | 'verdict';

export interface NftTraceEvent {
  id: string;
  family: string;
  table: string;
  chain: string;
  kind: NftTraceKind;
  /** rule: the rule's text as nft prints it (without the handle); packet: the header fields. */
  text: string;
  handle?: number;
  /** "continue", "accept", "drop", "jump <chain>", "goto <chain>", "return"… */
  verdict?: string;
  /** packet lines: the header fields that matter for matching a flow. */
  packet?: { saddr?: string; daddr?: string; protocol?: string; sport?: number; dport?: number };
}

const LINE = /^trace id ([0-9a-f]+) (ip6?|inet|arp|bridge|netdev) (\S+) (\S+) (packet:|rule|policy|verdict|unknown rule handle) ?(.*)$/;

function packetFields(text: string): NftTraceEvent['packet'] {
  const saddr = /\bip saddr (\S+)/.exec(text)?.[1];
  const daddr = /\bip daddr (\S+)/.exec(text)?.[1];
  const l4 = /\b(tcp|udp|sctp) sport (\d+) \1 dport (\d+)/.exec(text);
  return { saddr, daddr, protocol: l4?.[1], sport: l4 ? Number(l4[2]) : undefined, dport: l4 ? Number(l4[3]) : undefined };
}

/** One `nft monitor trace` line, or null for anything else (nft's own notices, blank lines). */
export function parseNftTraceLine(line: string): NftTraceEvent | null {
  const m = LINE.exec(line.trim());
  if (!m) return null;
  const [, id, family, table, chain, word, rest0] = m as unknown as [string, string, string, string, string, string, string];
  const rest = rest0.trim();
  const base = { id, family, table, chain };
  if (word === 'packet:') return { ...base, kind: 'packet', text: rest, packet: packetFields(rest) };
  if (word === 'policy') return { ...base, kind: 'policy', text: rest, verdict: rest.split(' ')[0] };
  if (word === 'verdict') return { ...base, kind: 'verdict', text: rest, verdict: rest };
  // A rule added after the monitor started (its cache does not know it): filled in from a listing by the caller.
  if (word === 'unknown rule handle') return { ...base, kind: 'rule', text: '', handle: Number(rest.split(' ')[0]) || undefined, verdict: /\(verdict ([^)]*)\)/.exec(rest)?.[1]?.trim() };
  // rule <text> [# handle N] (verdict <v>)
  const v = /\s*\(verdict ([^)]*)\)\s*$/.exec(rest);
  let text = v ? rest.slice(0, v.index) : rest;
  let handle: number | undefined;
  const h = /\s*# handle (\d+)$/.exec(text);
  if (h) {
    handle = Number(h[1]);
    text = text.slice(0, h.index);
  }
  return { ...base, kind: 'rule', text: text.trim(), handle, verdict: v?.[1]?.trim() };
}

export function parseNftTrace(output: string): NftTraceEvent[] {
  return output.split('\n').map(parseNftTraceLine).filter((e): e is NftTraceEvent => e !== null);
}

/** The trace ids whose packet line is of the flow: its protocol and the client's source port (kept through the DNAT, so the ids after it match too). */
export function traceIdsOfFlow(events: NftTraceEvent[], flow: { protocol: string; sport?: number }): string[] {
  const ids: string[] = [];
  for (const e of events) {
    if (e.kind !== 'packet' || !e.packet || ids.includes(e.id)) continue;
    const p = e.packet;
    if (p.protocol !== flow.protocol) continue;
    if (flow.sport !== undefined && p.sport !== flow.sport) continue;
    ids.push(e.id);
  }
  return ids;
}

/**
 * kube-proxy's base chains of the last hook a packet passes in the namespace: nat-postrouting when
 * it leaves (forwarded, or sent by the namespace itself), filter-input when it is delivered here.
 */
const LAST_BASE_CHAINS = new Set([NAT_POSTROUTING, FILTER_INPUT]);

/**
 * Whether the first traced packet of the flow has been seen to its end: its trace id reached a
 * verdict that ends its way through kube-proxy's table — accept (a rule's, or the chain's policy)
 * in a base chain of the last hook (LAST_BASE_CHAINS, from that chain's packet line on), or a drop
 * anywhere (a reject is reported as drop). `nft monitor` prints the kernel's events as it reads
 * them, so until then the endpoint chain's DNAT may still be on its way. Lines are read whole:
 * hand over the output up to its last newline.
 */
export function flowTraceComplete(events: NftTraceEvent[], flow: { protocol: string; sport?: number }): boolean {
  const id = traceIdsOfFlow(events, flow)[0];
  return id !== undefined && traceEnd(events, id) >= 0;
}

/** The index of the event that ends trace id `id`'s way through kube-proxy's table (see flowTraceComplete), or -1. */
function traceEnd(events: NftTraceEvent[], id: string): number {
  let inLastHook = false;
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    if (e.id !== id) continue;
    if (e.kind === 'packet') {
      inLastHook = e.table === NFT_TABLE && LAST_BASE_CHAINS.has(e.chain);
      continue;
    }
    const verdict = e.verdict?.split(' ')[0];
    if (verdict === 'drop' || (inLastHook && verdict === 'accept')) return i;
  }
  return -1;
}

/**
 * The rules the flow's first packet hit, up to the verdict that ended its way (traceEnd). The
 * kernel hands a later packet of the same connection the same trace id at times (seen with an
 * ACK after the SYN): its filter-chain policies are not the first packet's.
 */
export function firstPacketRuleHits(events: NftTraceEvent[], flow: { protocol: string; sport?: number }, table?: string): NftRuleHit[] {
  const id = traceIdsOfFlow(events, flow)[0];
  if (id === undefined) return [];
  const end = traceEnd(events, id);
  return nftRuleHits(end >= 0 ? events.slice(0, end + 1) : events, [id], table);
}

export interface NftRuleHit {
  family: string;
  table: string;
  chain: string;
  handle?: number;
  text: string;
  verdict: string;
}

/** The rules (and base-chain policies) evaluated for the given trace ids, in order, from one table or all. */
export function nftRuleHits(events: NftTraceEvent[], ids: string[], table?: string): NftRuleHit[] {
  return events
    .filter((e) => ids.includes(e.id) && (e.kind === 'rule' || e.kind === 'policy') && (!table || e.table === table))
    .map((e) => ({ family: e.family, table: e.table, chain: e.chain, handle: e.handle, text: e.kind === 'policy' ? `policy ${e.verdict}` : e.text, verdict: e.verdict ?? 'continue' }));
}

/** The endpoint chain the packet was sent to: the last `goto endpoint-…` verdict (kube-proxy's numgen vmap, or an affinity lookup). */
export function chosenEndpointChain(hits: NftRuleHit[]): { service?: string; endpoint: string; dnat?: string } | undefined {
  let i = hits.length - 1;
  while (i >= 0 && !/^(goto|jump) endpoint-/.test(hits[i]!.verdict)) i--;
  if (i < 0) return undefined;
  const endpoint = hits[i]!.verdict.replace(/^(goto|jump) /, '');
  const service = hits[i]!.chain.startsWith('service-') || hits[i]!.chain.startsWith('external-') ? hits[i]!.chain : undefined;
  const dnat = hits.slice(i + 1).find((h) => h.chain === endpoint && /\bdnat to \S+/.test(h.text));
  return { service, endpoint, dnat: dnat ? /\bdnat to (\S+)/.exec(dnat.text)![1] : undefined };
}

/** The lab's own table that marks the traced flow for tracing: only the client's source port, before kube-proxy's chains (raw priority, -300, ahead of its -110/-100). */
export const NFTRACE_TABLE = LAB_TRACE_TABLE;

export function nftraceTable(protocol: 'tcp' | 'udp', sport: number): string {
  if (!Number.isInteger(sport) || sport < 1 || sport > 65535) throw new Error(`bad source port ${sport}`);
  return [
    `add table ip ${NFTRACE_TABLE} { comment "lab trace: meta nftrace for one flow" ; }`,
    `add chain ip ${NFTRACE_TABLE} prerouting { type filter hook prerouting priority -300 ; }`,
    `add chain ip ${NFTRACE_TABLE} output { type filter hook output priority -300 ; }`,
    `add rule ip ${NFTRACE_TABLE} prerouting ${protocol} sport ${sport} meta nftrace set 1`,
    `add rule ip ${NFTRACE_TABLE} output ${protocol} sport ${sport} meta nftrace set 1`,
    '',
  ].join('\n');
}

/** The hop `lab trace` shows in nftables mode: every rule of kube-proxy's table the first packet hit, in order. */
export function nftraceLines(hits: NftRuleHit[]): string[] {
  const lines = [`the rules the first packet hit (nft monitor trace, meta nftrace set by table ip ${NFTRACE_TABLE} for this flow only):`];
  for (const h of hits) lines.push(`  ${h.family} ${h.table} ${h.chain}${h.handle !== undefined ? ` #${h.handle}` : ''}: ${h.text}  -> ${h.verdict}`);
  if (hits.length === 0) lines.push('  (none: the kernel traced no rule of kube-proxy\'s table for this flow)');
  return lines;
}

