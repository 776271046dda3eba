// The question -> answer logic of the cluster DNS, pure: a DNS query and a snapshot in, a DNS
// response out. Only names outside the cluster domain touch the network, through the injected
// `upstream` (absent = the sandbox, which forwards nowhere and answers REFUSED).
import type * as dnsPacket from 'dns-packet';
import { isIPv4 } from 'node:net';
import { normalizeName, type DnsRecord, type DnsSnapshot } from './records.ts';

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
// Header flag bits as dns-packet keeps them in `flags` (the QR bit is `type`, the low 4 bits rcode).
const FLAG_AA = 1 << 10;
const FLAG_TC = 1 << 9;
const FLAG_RD = 1 << 8;
const OPCODE_MASK = 0xf << 11;
/** EDNS buffer size we advertise (the DNS flag day 2020 value CoreDNS also uses). */
export const EDNS_UDP_SIZE = 1232;
const MAX_CNAME_CHAIN = 8;

/** Asks a real resolver; used for names outside the cluster domain and external CNAME targets. */
export type Upstream = (query: dnsPacket.Packet) => Promise<dnsPacket.Packet>;

export interface AnswerOptions {
  /** Forward mode. Without it, names outside the cluster domain get REFUSED. */
  upstream?: Upstream;
}

export function rcodeOf(packet: dnsPacket.Packet): number {
  return (packet.flags ?? 0) & 0xf;
}

export function rcodeName(rcode: number): string {
  return Object.entries(RCODE).find(([, v]) => v === rcode)?.[0] ?? `RCODE${rcode}`;
}

/**
 * The response to one query. Async only because of `upstream`; with a snapshot and no upstream it
 * never touches the network. A null snapshot (none loaded yet) answers SERVFAIL.
 */
export async function answer(query: dnsPacket.Packet, snapshot: DnsSnapshot | null, opts: AnswerOptions = {}): Promise<dnsPacket.Packet> {
  const local = resolveLocal(query, snapshot);
  if (local.kind === 'answer') return local.packet;
  if (local.kind === 'external') {
    if (!opts.upstream) return reply(query, RCODE.REFUSED);
    return forward(query, opts.upstream);
  }
  // A CNAME (ExternalName Service) pointing outside the zone: like CoreDNS, resolve the target
  // upstream and append what it says; without an upstream the CNAME alone is the answer.
  if (!opts.upstream) return local.packet;
  const q = query.questions![0]!;
  const sub: dnsPacket.Packet = { type: 'query', id: query.id, flags: FLAG_RD, questions: [{ ...q, name: local.target }], additionals: ednsOf(query) ? [ednsRecord()] : [] };
  try {
    const res = await opts.upstream(sub);
    return { ...local.packet, answers: [...(local.packet.answers ?? []), ...(res.answers ?? [])] };
  } catch {
    return local.packet;
  }
}

async function forward(query: dnsPacket.Packet, upstream: Upstream): Promise<dnsPacket.Packet> {
  try {
    const res = await upstream(query);
    return { ...res, id: query.id, type: 'response' };
  } catch {
    return reply(query, RCODE.SERVFAIL, { ra: true });
  }
}

export type LocalResult =
  | { kind: 'answer'; packet: dnsPacket.Packet }
  /** Not a cluster name: refuse or forward. */
  | { kind: 'external' }
  /** Answered with a CNAME whose target lies outside everything we know. */
  | { kind: 'chase'; packet: dnsPacket.Packet; target: string };

/** Everything that can be answered from the snapshot alone. */
export function resolveLocal(query: dnsPacket.Packet, snapshot: DnsSnapshot | null): LocalResult {
  const opcode = ((query.flags ?? 0) & OPCODE_MASK) >> 11;
  if (opcode !== 0) return { kind: 'answer', packet: reply(query, RCODE.NOTIMP) };
  const questions = query.questions ?? [];
  if (questions.length !== 1) return { kind: 'answer', packet: reply(query, RCODE.FORMERR) };
  const opt = ednsOf(query);
  // EDNS versions other than 0 get BADVERS (extended rcode 16 = upper bits 1, rcode 0).
  if (opt && opt.ednsVersion !== 0) return { kind: 'answer', packet: reply(query, RCODE.NOERROR, { badvers: true }) };
  const q = questions[0]!;
  if (q.class !== undefined && q.class !== 'IN' && q.class !== 'ANY') return { kind: 'answer', packet: reply(query, RCODE.REFUSED) };

  const name = normalizeName(q.name);
  const type = String(q.type).toUpperCase();
  // Nothing loaded yet (the controller has not written the file): like a CoreDNS whose API watch
  // has not synced, say SERVFAIL rather than a wrong NXDOMAIN that resolvers would cache.
  if (!snapshot) return { kind: 'answer', packet: reply(query, RCODE.SERVFAIL) };

  const zone = indexOf(snapshot);
  if (!inZone(zone, name) && !zone.names.has(name)) return { kind: 'external' };

  const answers: dnsPacket.Answer[] = [];
  let owner = q.name.replace(/\.+$/, ''); // answer with the question's spelling (0x20-safe)
  let current = name;
  for (let hop = 0; ; hop++) {
    const found = lookup(zone, current, type);
    if (found.kind === 'soa') {
      answers.push({ ...soaRecord(snapshot), name: owner });
      break;
    }
    if (found.kind === 'records') {
      answers.push(...rotate(found.records, query.id ?? 0).map((r) => toAnswer(r, owner, r.ttl ?? snapshot.ttl)));
      break;
    }
    if (found.kind === 'cname' && hop < MAX_CNAME_CHAIN) {
      answers.push(toAnswer(found.record, owner, found.record.ttl ?? snapshot.ttl));
      const target = normalizeName(found.record.data);
      if (!inZone(zone, target) && !zone.names.has(target)) return { kind: 'chase', target, packet: reply(query, RCODE.NOERROR, { aa: true, answers }) };
      owner = current = target;
      continue;
    }
    // NXDOMAIN / NODATA, also at the end of a CNAME chain (RFC 6604: the rcode describes the
    // last name; the CNAMEs stay in the answer).
    const soa = inZone(zone, current) ? [soaRecord(snapshot)] : [];
    const rcode = found.kind === 'nxdomain' ? RCODE.NXDOMAIN : RCODE.NOERROR;
    return { kind: 'answer', packet: reply(query, rcode, { aa: true, answers, authorities: soa }) };
  }

  // The Additional section carries the addresses SRV targets point at (spec 2.3.2, 2.4.2), and
  // ns.dns.<zone>'s address for NS answers.
  const additionals: dnsPacket.Answer[] = [];
  for (const a of answers) {
    const target = a.type === 'SRV' ? a.data.target : a.type === 'NS' ? a.data : undefined;
    if (!target) continue;
    for (const t of ['A', 'AAAA'] as const) {
      for (const r of zone.rrsets.get(normalizeName(target))?.get(t) ?? []) {
        if (!additionals.some((x) => x.name === r.name && x.type === r.type && x.data === r.data)) additionals.push(toAnswer(r, r.name, r.ttl ?? snapshot.ttl));
      }
    }
  }
  return { kind: 'answer', packet: reply(query, RCODE.NOERROR, { aa: true, answers, additionals }) };
}

type Lookup =
  | { kind: 'records'; records: DnsRecord[] }
  | { kind: 'soa' }
  | { kind: 'cname'; record: DnsRecord & { type: 'CNAME' } }
  | { kind: 'nodata' }
  | { kind: 'nxdomain' };

function lookup(zone: ZoneIndex, name: string, type: string): Lookup {
  const snap = zone.snapshot;
  if (type === 'SOA' && name === zone.domain) return { kind: 'soa' };
  const rrsets = zone.rrsets.get(name);
  if (rrsets) {
    const rrs = rrsets.get(type);
    if (rrs?.length) return { kind: 'records', records: rrs };
    const cname = rrsets.get('CNAME')?.[0];
    if (cname && type !== 'CNAME') return { kind: 'cname', record: cname as DnsRecord & { type: 'CNAME' } };
    return { kind: 'nodata' };
  }
  if (zone.names.has(name)) return { kind: 'nodata' }; // empty non-terminal, e.g. default.svc.<zone>

  // <a-b-c-d>.<ns>.pod.<zone>, answered from the name itself ("pods insecure").
  const podSuffix = `.pod.${zone.domain}`;
  if (snap.podRecords === 'insecure' && name.endsWith(podSuffix)) {
    const labels = name.slice(0, -podSuffix.length).split('.');
    if (labels.length === 2 && zone.namespaces.has(labels[1]!)) {
      const ip = labels[0]!.replace(/-/g, '.');
      if (isIPv4(ip) && labels[0] === ip.replace(/\./g, '-')) {
        if (type === 'A') return { kind: 'records', records: [{ name, type: 'A', data: ip, from: 'pods insecure' }] };
        return { kind: 'nodata' };
      }
    }
  }
  return { kind: 'nxdomain' };
}

interface ZoneIndex {
  snapshot: DnsSnapshot;
  domain: string;
  /** name -> type -> records */
  rrsets: Map<string, Map<string, DnsRecord[]>>;
  /** Every owner name, plus (inside the zone) all of their ancestors: names that exist. */
  names: Set<string>;
  namespaces: Set<string>;
}

// Snapshots are immutable once loaded; index each one once.
const indexes = new WeakMap<DnsSnapshot, ZoneIndex>();

function indexOf(snapshot: DnsSnapshot): ZoneIndex {
  const cached = indexes.get(snapshot);
  if (cached) return cached;
  const domain = normalizeName(snapshot.clusterDomain);
  const rrsets = new Map<string, Map<string, DnsRecord[]>>();
  const names = new Set<string>([domain, `svc.${domain}`, `pod.${domain}`]);
  const addName = (name: string): void => {
    names.add(name);
    if (!name.endsWith('.' + domain)) return;
    // Ancestors inside the zone exist (RFC 8020: NXDOMAIN would deny the whole subtree).
    for (let n = name; n !== domain && n.includes('.'); n = n.slice(n.indexOf('.') + 1)) names.add(n);
  };
  for (const r of snapshot.records) {
    const name = normalizeName(r.name);
    const byType = rrsets.get(name) ?? new Map<string, DnsRecord[]>();
    byType.set(r.type, [...(byType.get(r.type) ?? []), r]);
    rrsets.set(name, byType);
    addName(name);
  }
  for (const ns of snapshot.namespaces) {
    addName(`${ns}.svc.${domain}`);
    if (snapshot.podRecords !== 'disabled') addName(`${ns}.pod.${domain}`);
  }
  const index = { snapshot, domain, rrsets, names, namespaces: new Set(snapshot.namespaces) };
  indexes.set(snapshot, index);
  return index;
}

function inZone(zone: ZoneIndex, name: string): boolean {
  return name === zone.domain || name.endsWith('.' + zone.domain);
}

// CoreDNS's loadbalance plugin shuffles A records; rotating by query ID spreads clients the same
// way while keeping the answer a function of the query.
function rotate(records: DnsRecord[], id: number): DnsRecord[] {
  if (records.length < 2 || (records[0]!.type !== 'A' && records[0]!.type !== 'AAAA')) return records;
  const k = id % records.length;
  return [...records.slice(k), ...records.slice(0, k)];
}

function toAnswer(r: DnsRecord, owner: string, ttl: number): dnsPacket.Answer {
  switch (r.type) {
    case 'SRV':
      return { name: owner, type: 'SRV', class: 'IN', ttl, data: { ...r.data } };
    case 'TXT':
      return { name: owner, type: 'TXT', class: 'IN', ttl, data: [r.data] };
    default:
      return { name: owner, type: r.type, class: 'IN', ttl, data: r.data };
  }
}

/** CoreDNS's SOA for the cluster zone; also what negative answers carry in Authority. */
export function soaRecord(snapshot: DnsSnapshot): dnsPacket.Answer {
  const zone = normalizeName(snapshot.clusterDomain);
  return {
    name: zone,
    type: 'SOA',
    class: 'IN',
    ttl: snapshot.ttl,
    data: { mname: `ns.dns.${zone}`, rname: `hostmaster.${zone}`, serial: snapshot.generation, refresh: 7200, retry: 1800, expire: 86400, minimum: snapshot.ttl },
  };
}

function ednsOf(query: dnsPacket.Packet): dnsPacket.OptAnswer | undefined {
  return query.additionals?.find((a): a is dnsPacket.OptAnswer => a.type === 'OPT');
}

function ednsRecord(extendedRcode = 0): dnsPacket.OptAnswer {
  return { name: '.', type: 'OPT', udpPayloadSize: EDNS_UDP_SIZE, extendedRcode, ednsVersion: 0, flags: 0, flag_do: false, options: [] };
}

interface ReplyParts {
  aa?: boolean;
  ra?: boolean;
  badvers?: boolean;
  answers?: dnsPacket.Answer[];
  authorities?: dnsPacket.Answer[];
  additionals?: dnsPacket.Answer[];
}

/** A response to `query`: same ID, question and RD bit; OPT echoed when the client sent one. */
export function reply(query: dnsPacket.Packet, rcode: number, parts: ReplyParts = {}): dnsPacket.Packet {
  const qflags = query.flags ?? 0;
  // Authoritative kubernetes-plugin answers do not set RA (dig warns "recursion requested but not
  // available" against CoreDNS too).
  const flags = (qflags & OPCODE_MASK) | (qflags & FLAG_RD) | (parts.aa ? FLAG_AA : 0) | (parts.ra ? 1 << 7 : 0) | (rcode & 0xf);
  const opt = ednsOf(query) ? [ednsRecord(parts.badvers ? 1 : 0)] : [];
  return {
    type: 'response',
    id: query.id ?? 0,
    flags,
    questions: query.questions ?? [],
    answers: parts.answers ?? [],
    authorities: parts.authorities ?? [],
    additionals: [...(parts.additionals ?? []), ...opt],
  };
}

/**
 * Fits a response into a UDP datagram of `limit` bytes: drops the Additional section first, then
 * sets TC with an empty answer so the client retries over TCP (RFC 1035 4.2.1, RFC 7766).
 */
export function truncateForUdp(response: dnsPacket.Packet, limit: number, encodingLength: (p: dnsPacket.Packet) => number): dnsPacket.Packet {
  if (encodingLength(response) <= limit) return response;
  const opt = (response.additionals ?? []).filter((a) => a.type === 'OPT');
  const lean = { ...response, additionals: opt };
  if (encodingLength(lean) <= limit) return lean;
  return { ...lean, flags: (response.flags ?? 0) | FLAG_TC, answers: [], authorities: [] };
}

/** The UDP size the client can take: its EDNS buffer size (at least 512), else 512. */
export function udpLimit(query: dnsPacket.Packet): number {
  const opt = ednsOf(query);
  return opt ? Math.max(512, Math.min(opt.udpPayloadSize, 65535)) : 512;
}
