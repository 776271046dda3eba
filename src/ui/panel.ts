// `lab ui`'s details of a clicked object, besides what `lab describe` says: its kernel objects
// (the rules naming its address with their counters, the route and neighbour the node uses for
// it, the connection tracking entries of its address) and its Events in `kubectl get events`'s
// columns. Pure: the server (src/cli/ui-server.ts) reads the node's kernel and the API, this
// picks and shapes; the page (src/ui/page/panel.ts) draws the result.
import { age, timeMs } from '../api/age.ts';
import { dnatOf, snatOf, tupleText, type ConntrackEntry } from '../trace/conntrack.ts';
import type { IptablesDump } from '../trace/iptables.ts';
import type { NftListing } from '../trace/nft-table.ts';

export interface RuleRow {
  /** iptables: the table; nftables: "ip kube-proxy". */
  table: string;
  chain: string;
  /** iptables-save's [packets:bytes]; none for kube-proxy's nftables rules (they carry no counter). */
  packets?: number;
  bytes?: number;
  text: string;
}

export interface ConntrackRow {
  protocol: string;
  state?: string;
  timeout: number;
  original: string;
  reply: string;
  /** "10.43.x.y:80 -> 10.42.0.7:80" when the entry records a DNAT; the same for SNAT. */
  dnat?: string;
  snat?: string;
  flags: string[];
}

export interface KernelObjects {
  /** The address looked for (the pod's IP, the Service's ClusterIP), if any. */
  ip?: string;
  /** Where it was read: the server node's namespace. */
  node?: string;
  proxyMode: 'iptables' | 'nftables';
  rules: RuleRow[];
  routes: string[];
  conntrack: ConntrackRow[];
}

const ipRe = (ip: string) => new RegExp(`(^|[^\\d.])${ip.replace(/\./g, '\\.')}(?![\\d]|\\.\\d)`);

/**
 * The rules of the dump that name `ip`, and every rule of the kube-proxy chains those lead to or
 * come from (a pod's KUBE-SEP chain and the KUBE-SVC jump to it; a ClusterIP's KUBE-SERVICES rule
 * and its KUBE-SVC chain), in table and chain order.
 */
export function iptablesRulesFor(dump: IptablesDump | null, ip: string): RuleRow[] {
  const re = ipRe(ip);
  const out: RuleRow[] = [];
  for (const table of dump?.values() ?? []) {
    const naming = table.rules.filter((r) => re.test(r.text));
    const chains = new Set<string>();
    for (const r of naming) {
      // A pod's endpoint chain (the rules in it, the jumps to it); a ClusterIP's Service chain.
      if (r.chain.startsWith('KUBE-SEP-')) chains.add(r.chain);
      if (r.target?.startsWith('KUBE-SEP-')) chains.add(r.target);
      if (r.target && /^KUBE-(SVC|EXT|SVL|FW)-/.test(r.target) && r.destination?.replace(/\/32$/, '') === ip) chains.add(r.target);
    }
    for (const r of table.rules) {
      if (re.test(r.text) || chains.has(r.chain) || (r.target && chains.has(r.target))) out.push({ table: table.name, chain: r.chain, packets: r.packets, bytes: r.bytes, text: r.text });
    }
  }
  return out;
}

/** The same in kube-proxy's nftables table: the rules naming `ip`, the endpoint chains of `ip` and the rules going to them. */
export function nftRulesFor(listing: NftListing | null, ip: string): RuleRow[] {
  if (!listing) return [];
  const re = ipRe(ip);
  const table = `${listing.family} ${listing.table}`;
  const eps = [...listing.chains.keys()].filter((c) => c.includes(`__${ip}/`));
  const out: RuleRow[] = [];
  for (const [name, chain] of listing.chains) {
    for (const r of chain.rules) if (re.test(r.text) || eps.includes(name) || eps.some((e) => r.text.includes(e))) out.push({ table, chain: name, text: `${r.text}${r.handle !== undefined ? ` # handle ${r.handle}` : ''}` });
  }
  for (const [name, m] of listing.maps) for (const el of m.elements) if (re.test(el)) out.push({ table, chain: `${m.kind} ${name}`, text: el });
  return out;
}

/** The connection tracking entries with `ip` in either tuple, newest state first as conntrack lists them. */
export function conntrackFor(entries: ConntrackEntry[], ip: string): ConntrackRow[] {
  return entries
    .filter((e) => [e.original.src, e.original.dst, e.reply.src, e.reply.dst].includes(ip))
    .map((e) => {
      const d = dnatOf(e);
      const s = snatOf(e);
      return { protocol: e.protocol, state: e.state, timeout: e.timeout, original: tupleText(e.original), reply: tupleText(e.reply), dnat: d ? `${d.from} -> ${d.to}` : undefined, snat: s ? `${s.from} -> ${s.to}` : undefined, flags: e.flags };
    });
}

/** An Event's fields `kubectl get events` prints. */
export interface ApiEvent {
  metadata: { name: string; namespace?: string; creationTimestamp?: string };
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  firstTimestamp?: string | null;
  lastTimestamp?: string | null;
  eventTime?: string | null;
  source?: { component?: string; host?: string };
  reportingComponent?: string;
  involvedObject?: { kind?: string; name?: string; namespace?: string };
}

export const EVENT_COLUMNS = ['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'FROM', 'MESSAGE'] as const;

const lastTime = (e: ApiEvent) => timeMs(e.lastTimestamp) ?? timeMs(e.eventTime) ?? timeMs(e.firstTimestamp) ?? timeMs(e.metadata.creationTimestamp) ?? 0;

/**
 * `kubectl get events`'s rows (LAST SEEN with "(x3 over 2m)" for a repeated one, TYPE, REASON,
 * OBJECT as kind/name in lower case) with kubectl describe's FROM, oldest first.
 */
export function eventRows(events: ApiEvent[], now = Date.now()): string[][] {
  return [...events]
    .sort((a, b) => lastTime(a) - lastTime(b))
    .map((e) => {
      const last = e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata.creationTimestamp;
      const first = e.firstTimestamp ?? e.eventTime ?? e.metadata.creationTimestamp;
      const seen = (e.count ?? 1) > 1 ? `${age(last, now)} (x${e.count} over ${age(first, now)})` : age(last, now);
      const from = [e.source?.component ?? e.reportingComponent, e.source?.host].filter(Boolean).join(', ');
      return [seen, e.type ?? 'Normal', e.reason ?? '', `${(e.involvedObject?.kind ?? '').toLowerCase()}/${e.involvedObject?.name ?? ''}`, from, e.message ?? ''];
    });
}
