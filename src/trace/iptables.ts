// Reading the kernel's iptables rules back: `iptables-save -c` text -> tables, chains and rules
// with their packet counters. Pure. Counters are what `lab trace` reads as evidence: every rule
// of the nat table sees only the first packet of a connection (conntrack remembers the NAT
// decision for the rest), so a request moves each rule on its path by exactly one packet.

export interface IptChain {
  table: string;
  name: string;
  /** ACCEPT/DROP for built-in chains, '-' for user chains. */
  policy: string;
  packets?: number;
  bytes?: number;
}

export interface IptRule {
  table: string;
  chain: string;
  /** 1-based position in its chain, as `iptables -L --line-numbers` counts. */
  index: number;
  /** The rule as iptables-save prints it, without counters: `-A CHAIN ...`. */
  text: string;
  /** The words after `-A CHAIN`, quotes removed. */
  args: string[];
  packets?: number;
  bytes?: number;
  /** -j target (KUBE-SVC-…, DNAT, MASQUERADE, …). */
  target?: string;
  comment?: string;
  /** -s / -d, with `!` kept: "!10.42.0.0/16". */
  source?: string;
  destination?: string;
  /** -p, lower case. */
  protocol?: string;
  dport?: number;
  /** DNAT --to-destination "10.42.0.4:80". */
  toDestination?: string;
  /** -m statistic --probability. */
  probability?: number;
  /** -m addrtype --dst-type. */
  dstType?: string;
}

export interface IptTable {
  name: string;
  chains: IptChain[];
  rules: IptRule[];
}

export type IptablesDump = Map<string, IptTable>;

const COUNTERS_RE = /^\[(\d+):(\d+)\]\s*/;

/** Splits an iptables-save line into words: double quotes group, `\"` and `\\` escape. */
export function splitWords(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) cur += line[++i];
      else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') {
      quoted = true;
      inWord = true;
    } else if (c === ' ' || c === '\t') {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quoted) throw new Error(`unbalanced quote in iptables rule: ${line}`);
  if (inWord) out.push(cur);
  return out;
}

function value(args: string[], ...flags: string[]): { value: string; negated: boolean } | undefined {
  for (let i = 0; i < args.length - 1; i++) {
    if (flags.includes(args[i]!)) return { value: args[i + 1]!, negated: args[i - 1] === '!' };
  }
  return undefined;
}

/** The fields of one rule that the lab's tools reason about. */
export function describeRuleArgs(args: string[]): Pick<IptRule, 'target' | 'comment' | 'source' | 'destination' | 'protocol' | 'dport' | 'toDestination' | 'probability' | 'dstType'> {
  const neg = (v?: { value: string; negated: boolean }) => (v ? `${v.negated ? '!' : ''}${v.value}` : undefined);
  const dport = value(args, '--dport', '--destination-port');
  const prob = value(args, '--probability');
  return {
    target: value(args, '-j', '--jump')?.value,
    comment: value(args, '--comment')?.value,
    source: neg(value(args, '-s', '--source')),
    destination: neg(value(args, '-d', '--destination')),
    protocol: value(args, '-p', '--protocol')?.value.toLowerCase(),
    dport: dport && !dport.negated && /^\d+$/.test(dport.value) ? Number(dport.value) : undefined,
    toDestination: value(args, '--to-destination')?.value,
    probability: prob ? Number(prob.value) : undefined,
    dstType: value(args, '--dst-type')?.value,
  };
}

/** Parses `iptables-save` output, with or without `-c` counters. */
export function parseIptablesSave(text: string): IptablesDump {
  const tables: IptablesDump = new Map();
  let table: IptTable | null = null;
  const positions = new Map<string, number>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    if (line.startsWith('*')) {
      const name = line.slice(1);
      table = tables.get(name) ?? { name, chains: [], rules: [] };
      tables.set(name, table);
      continue;
    }
    if (line === 'COMMIT') {
      table = null;
      continue;
    }
    if (!table) throw new Error(`iptables-save line outside a table: ${line}`);
    if (line.startsWith(':')) {
      const m = /^:(\S+)\s+(\S+)(?:\s+\[(\d+):(\d+)\])?/.exec(line);
      if (!m) throw new Error(`bad chain line: ${line}`);
      table.chains.push({ table: table.name, name: m[1]!, policy: m[2]!, packets: m[3] === undefined ? undefined : Number(m[3]), bytes: m[4] === undefined ? undefined : Number(m[4]) });
      continue;
    }
    const c = COUNTERS_RE.exec(line);
    const rest = c ? line.slice(c[0].length) : line;
    const words = splitWords(rest);
    if (words[0] !== '-A' || !words[1]) throw new Error(`unexpected iptables-save line: ${line}`);
    const chain = words[1];
    const pos = (positions.get(`${table.name}/${chain}`) ?? 0) + 1;
    positions.set(`${table.name}/${chain}`, pos);
    const args = words.slice(2);
    table.rules.push({
      table: table.name,
      chain,
      index: pos,
      text: rest,
      args,
      packets: c ? Number(c[1]) : undefined,
      bytes: c ? Number(c[2]) : undefined,
      ...describeRuleArgs(args),
    });
  }
  return tables;
}

/** All rules of all tables, in iptables-save order. */
export function allRules(dump: IptablesDump): IptRule[] {
  return [...dump.values()].flatMap((t) => t.rules);
}

/** True for the chains kube-proxy owns. */
export function isLabChain(name: string): boolean {
  return name.startsWith('KUBE-');
}

/** The lab's rules: everything inside KUBE-* chains, and the jumps into them from built-in chains. */
export function isLabRule(r: IptRule): boolean {
  return isLabChain(r.chain) || (r.target !== undefined && isLabChain(r.target));
}

/**
 * Identity of a rule across two dumps: table, chain, text and the how-many-th identical rule it
 * is. Positions shift when kube-proxy syncs in between; the text does not.
 */
export function ruleKeys(rules: IptRule[]): string[] {
  const seen = new Map<string, number>();
  return rules.map((r) => {
    const k = `${r.table}\t${r.chain}\t${r.text}`;
    const n = (seen.get(k) ?? 0) + 1;
    seen.set(k, n);
    return `${k}\t${n}`;
  });
}

export interface RuleDelta {
  rule: IptRule;
  packets: number;
  bytes: number;
}

/** Rules whose packet counter moved between two dumps (rules new in `after` count from zero). */
export function counterDeltas(before: IptablesDump, after: IptablesDump): RuleDelta[] {
  const prior = new Map<string, IptRule>();
  const b = allRules(before);
  ruleKeys(b).forEach((k, i) => prior.set(k, b[i]!));
  const a = allRules(after);
  const keys = ruleKeys(a);
  const out: RuleDelta[] = [];
  a.forEach((r, i) => {
    const p = prior.get(keys[i]!);
    const packets = (r.packets ?? 0) - (p?.packets ?? 0);
    const bytes = (r.bytes ?? 0) - (p?.bytes ?? 0);
    // A negative delta means the counters were reset (rule replaced by a sync): not evidence.
    if (packets > 0) out.push({ rule: r, packets, bytes });
  });
  return out;
}

/** "10.43.0.10/32" or "10.43.0.10" matches 10.43.0.10; negated or wider CIDRs do not. */
export function matchesHost(spec: string | undefined, ip: string): boolean {
  if (!spec || spec.startsWith('!')) return false;
  return spec === ip || spec === `${ip}/32`;
}
