// Reading the connection tracking table: `conntrack -L` lines -> entries with their original and
// reply tuples. Pure. The two tuples are how the kernel remembers a NAT decision: the original
// tuple is the packet as the client sent it (destination: the Service), the reply tuple the
// packet the kernel expects back (source: the pod it DNATed to; destination: the SNAT address when
// the connection was masqueraded). Every later packet is rewritten from them, both ways.

export interface Tuple {
  src: string;
  dst: string;
  sport?: number;
  dport?: number;
  /** ICMP type/code/id. */
  type?: number;
  code?: number;
  id?: number;
}

export interface ConntrackEntry {
  /** tcp, udp, icmp, sctp, unknown. */
  protocol: string;
  protocolNumber: number;
  /** Seconds until the entry expires. */
  timeout: number;
  /** TCP state (ESTABLISHED, TIME_WAIT, …); undefined for UDP. */
  state?: string;
  original: Tuple;
  reply: Tuple;
  /** ASSURED, UNREPLIED, … */
  flags: string[];
  mark?: number;
  zone?: number;
  raw: string;
}

const NUM_KEYS = new Set(['sport', 'dport', 'type', 'code', 'id']);

/** One line of `conntrack -L` (also with `-o extended`); null for summary or unknown lines. */
export function parseConntrackLine(line: string): ConntrackEntry | null {
  const words = line.trim().split(/\s+/);
  if (words.length < 4) return null;
  let i = 0;
  if (words[0] === 'ipv4' || words[0] === 'ipv6') i = 2; // -o extended: "ipv4 2 tcp 6 …"
  const protocol = words[i];
  const protocolNumber = Number(words[i + 1]);
  const timeout = Number(words[i + 2]);
  if (!protocol || !/^[a-z0-9-]+$/.test(protocol) || !Number.isInteger(protocolNumber) || !Number.isInteger(timeout)) return null;
  i += 3;
  let state: string | undefined;
  if (words[i] && /^[A-Z_]+$/.test(words[i]!)) state = words[i++];
  const tuples: Tuple[] = [];
  const flags: string[] = [];
  let mark: number | undefined;
  let zone: number | undefined;
  let cur: Partial<Tuple> | null = null;
  for (; i < words.length; i++) {
    const w = words[i]!;
    const flag = /^\[([A-Z_]+)\]$/.exec(w);
    if (flag) {
      flags.push(flag[1]!);
      continue;
    }
    const eq = w.indexOf('=');
    if (eq < 0) continue;
    const k = w.slice(0, eq);
    const v = w.slice(eq + 1);
    if (k === 'src') {
      if (tuples.length === 2) continue; // a third src= would be a master tuple (expectations): ignore
      cur = { src: v };
      tuples.push(cur as Tuple);
    } else if (k === 'dst' && cur) cur.dst = v;
    else if (NUM_KEYS.has(k) && cur) (cur as Record<string, number>)[k] = Number(v);
    else if (k === 'mark') mark = Number(v);
    else if (k === 'zone') zone = Number(v);
  }
  if (tuples.length !== 2 || !tuples[0]!.dst || !tuples[1]!.dst) return null;
  return { protocol, protocolNumber, timeout, state, original: tuples[0]!, reply: tuples[1]!, flags, mark, zone, raw: line.trim() };
}

export function parseConntrack(text: string): ConntrackEntry[] {
  return text.split('\n').map(parseConntrackLine).filter((e): e is ConntrackEntry => e !== null);
}

export function tupleText(t: Tuple): string {
  return [`src=${t.src}`, `dst=${t.dst}`, ...(t.sport !== undefined ? [`sport=${t.sport}`] : []), ...(t.dport !== undefined ? [`dport=${t.dport}`] : [])].join(' ');
}

/** Identity of a connection: protocol and original tuple. */
export function connectionKey(e: ConntrackEntry): string {
  return `${e.protocol} ${tupleText(e.original)}`;
}

/** Entries of `after` whose connection was not in `before`. */
export function newEntries(before: ConntrackEntry[], after: ConntrackEntry[]): ConntrackEntry[] {
  const seen = new Set(before.map(connectionKey));
  return after.filter((e) => !seen.has(connectionKey(e)));
}

/** The destination NAT the entry records: where packets to the original destination really go. */
export function dnatOf(e: ConntrackEntry): { from: string; to: string } | null {
  const o = e.original;
  const r = e.reply;
  if (r.src === o.dst && r.sport === o.dport) return null;
  return { from: hostPort(o.dst, o.dport), to: hostPort(r.src, r.sport) };
}

/** The source NAT (masquerade) the entry records: the address the server sees the client as. */
export function snatOf(e: ConntrackEntry): { from: string; to: string } | null {
  const o = e.original;
  const r = e.reply;
  if (r.dst === o.src && r.dport === o.sport) return null;
  return { from: hostPort(o.src, o.sport), to: hostPort(r.dst, r.dport) };
}

export function hostPort(ip: string, port?: number): string {
  return port === undefined ? ip : `${ip}:${port}`;
}

export interface TupleMatch {
  protocol?: string;
  src?: string;
  sport?: number;
  dst?: string;
  dport?: number;
}

export function matchOriginal(e: ConntrackEntry, m: TupleMatch): boolean {
  const o = e.original;
  return (
    (m.protocol === undefined || e.protocol === m.protocol) &&
    (m.src === undefined || o.src === m.src) &&
    (m.sport === undefined || o.sport === m.sport) &&
    (m.dst === undefined || o.dst === m.dst) &&
    (m.dport === undefined || o.dport === m.dport)
  );
}
