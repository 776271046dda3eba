// CoreDNS's Corefile (the `Corefile` key of the `coredns` ConfigMap k3s ships in kube-system,
// mounted at /etc/coredns): a small parser and the settings the lab's DNS server takes from it.
// Pure. The syntax is Caddy's: server blocks `ZONE[:PORT] [ZONE...] {` ... `}`, one directive (a
// plugin) per line with its arguments, an optional `{ ... }` block of options, `#` comments,
// quoted arguments. Errors name the line, as CoreDNS's do (`Corefile:12 - Error during parsing`).
//
// What the lab takes from it (everything else is ignored and named in a log line):
//   .:53                                    the listening port (UDP and TCP)
//   health [ADDR]                           GET /health, default :8080
//   ready [ADDR]                            GET /ready, default :8181 (200 once records are loaded)
//   kubernetes ZONES... { ttl N }           the cluster zones (records still come from the snapshot)
//   hosts FILE { ttl N; reload D; ... }     k3s's NodeHosts: the node names, re-read when the file changes
//   forward . /etc/resolv.conf | IP...      names outside the cluster (the sandbox refuses instead)
//   cache [TTL]                             answers' TTLs capped at TTL (default 3600)
//   log                                     one line per query (CoreDNS's log plugin format)
//   errors, loadbalance                     what the server does anyway (errors logged, A records rotated)

export interface Directive {
  name: string;
  args: string[];
  /** The `{ ... }` block's lines, each as a directive (e.g. `ttl 60`, `fallthrough`). */
  block: Directive[];
  line: number;
}

export interface ServerBlock {
  keys: string[];
  directives: Directive[];
  line: number;
}

export interface Corefile {
  servers: ServerBlock[];
  /** Directives outside any server block (k3s: `import /etc/coredns/custom/*.server`). */
  topLevel: Directive[];
}

export class CorefileError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    message: string,
  ) {
    super(`${file}:${line} - Error during parsing: ${message}`);
  }
}

interface Token {
  text: string;
  line: number;
  quoted: boolean;
}

function tokenize(text: string, file: string): Token[][] {
  const lines: Token[][] = [];
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    const out: Token[] = [];
    let j = 0;
    while (j < raw.length) {
      const c = raw[j]!;
      if (c === ' ' || c === '\t' || c === '\r') {
        j++;
      } else if (c === '#') {
        break;
      } else if (c === '"') {
        let s = '';
        j++;
        while (j < raw.length && raw[j] !== '"') {
          if (raw[j] === '\\' && j + 1 < raw.length) j++;
          s += raw[j++];
        }
        if (j >= raw.length) throw new CorefileError(file, line, 'unterminated quoted string');
        j++;
        out.push({ text: s, line, quoted: true });
      } else {
        let s = '';
        while (j < raw.length && !' \t\r'.includes(raw[j]!)) s += raw[j++];
        // `zone{` and `}` glued to a word are split off, as Caddy's lexer does for a trailing brace.
        if (s.length > 1 && s.endsWith('{')) out.push({ text: s.slice(0, -1), line, quoted: false }, { text: '{', line, quoted: false });
        else out.push({ text: s, line, quoted: false });
      }
    }
    if (out.length > 0) lines.push(out);
  });
  return lines;
}

const isOpen = (t: Token | undefined): boolean => t !== undefined && !t.quoted && t.text === '{';
const isClose = (t: Token | undefined): boolean => t !== undefined && !t.quoted && t.text === '}';

export function parseCorefile(text: string, file = 'Corefile'): Corefile {
  const lines = tokenize(text, file);
  const servers: ServerBlock[] = [];
  const topLevel: Directive[] = [];
  let i = 0;

  // The directives of a block, up to its closing brace (consumed); depth 1 = a server block.
  const readBlock = (opener: number, depth: number): Directive[] => {
    const out: Directive[] = [];
    for (;;) {
      const toks = lines[i];
      if (!toks) throw new CorefileError(file, opener, "unexpected end of file: the '{' of this line is never closed");
      i++;
      if (isClose(toks[0])) {
        if (toks.length > 1) throw new CorefileError(file, toks[0]!.line, `unexpected ${JSON.stringify(toks[1]!.text)} after '}'`);
        return out;
      }
      if (isOpen(toks[0])) throw new CorefileError(file, toks[0]!.line, "'{' without a directive before it");
      const opens = isOpen(toks.at(-1));
      const words = opens ? toks.slice(0, -1) : toks;
      const bad = words.find((t) => !t.quoted && (t.text === '{' || t.text === '}'));
      if (bad) throw new CorefileError(file, bad.line, `unexpected '${bad.text}' in the middle of a line`);
      const [name, ...args] = words.map((t) => t.text);
      const d: Directive = { name: name!, args, block: [], line: toks[0]!.line };
      if (opens) {
        if (depth >= 2) throw new CorefileError(file, d.line, `blocks nest at most two deep (server, plugin): ${d.name}`);
        d.block = readBlock(d.line, depth + 1);
      }
      out.push(d);
    }
  };

  while (i < lines.length) {
    const toks = lines[i]!;
    const line = toks[0]!.line;
    if (isClose(toks[0])) throw new CorefileError(file, line, "unexpected '}': no block is open");
    i++;
    if (isOpen(toks.at(-1))) {
      const keys = toks.slice(0, -1).map((t) => t.text);
      if (keys.length === 0) throw new CorefileError(file, line, "'{' without a zone before it (e.g. '.:53 {')");
      for (const k of keys) parseServerKey(k, file, line);
      servers.push({ keys, directives: readBlock(line, 1), line });
    } else {
      const [name, ...args] = toks.map((t) => t.text);
      topLevel.push({ name: name!, args, block: [], line });
    }
  }
  return { servers, topLevel };
}

/** `.:53`, `cluster.local:53`, `dns://.:53`, `.` -> zone and port (default 53). */
export function parseServerKey(key: string, file = 'Corefile', line = 0): { zone: string; port: number } {
  const k = key.replace(/^dns:\/\//, '');
  const m = /^([^:]*)(?::(\d+))?$/.exec(k);
  const port = m?.[2] === undefined ? 53 : Number(m[2]);
  if (!m || (k.includes(':') && m[2] === undefined) || port > 65535) throw new CorefileError(file, line, `${JSON.stringify(key)} is not a zone[:port] server address`);
  return { zone: m[1] === '' ? '.' : m[1]!, port };
}

/** `:8080`, `127.0.0.1:8080`, `[::1]:8080` -> port. */
function parseHttpAddress(d: Directive, file: string, def: number): number {
  const a = d.args[0];
  if (a === undefined) return def;
  const m = /:(\d+)$/.exec(a);
  const port = m ? Number(m[1]) : NaN;
  if (!Number.isInteger(port) || port > 65535) throw new CorefileError(file, d.line, `${d.name}: ${JSON.stringify(a)} is not an address with a port`);
  return port;
}

/** Caddy/Go durations as the hosts plugin's `reload` takes them: 15s, 1m, 500ms, 0 (off). */
function parseDurationMs(s: string, d: Directive, file: string): number {
  if (s === '0') return 0;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(s);
  if (!m) throw new CorefileError(file, d.line, `${d.name}: ${JSON.stringify(s)} is not a duration (e.g. 15s)`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
}

function parseUint(s: string | undefined, d: Directive, file: string, what: string): number {
  const n = Number(s);
  if (s === undefined || !/^\d+$/.test(s) || n > 2 ** 31) throw new CorefileError(file, d.line, `${d.name}: ${what} ${JSON.stringify(s ?? '')} is not a number of seconds`);
  return n;
}

export interface HostsSettings {
  file: string;
  /** TTL of the answers, default 3600 (the hosts plugin's). */
  ttl: number;
  /** How often the file is checked for changes; default 5 s, 0 = never. */
  reloadMs: number;
  /** Entries written in the block itself (`IP name...` lines). */
  inline: { ip: string; names: string[] }[];
}

export interface CorednsSettings {
  port: number;
  healthPort?: number;
  readyPort?: number;
  kubernetes?: { zones: string[]; ttl?: number };
  hosts?: HostsSettings;
  forward?: { from: string; to: string[] };
  cacheTtl?: number;
  log: boolean;
  /** Plugins (and top-level directives) the lab does not implement: `name (line N)`. */
  ignored: string[];
}

const IPISH = /^[0-9a-fA-F:.]+$/;

/** The settings of the server block for the root zone `.` (the one k3s's Corefile has). */
export function corednsSettings(cf: Corefile, file = 'Corefile'): CorednsSettings {
  const server = cf.servers.find((s) => s.keys.some((k) => parseServerKey(k, file, s.line).zone === '.'));
  if (!server) throw new CorefileError(file, cf.servers[0]?.line ?? 1, "no server block for the root zone '.' (k3s's Corefile starts with '.:53 {')");
  const ports = new Set(server.keys.map((k) => parseServerKey(k, file, server.line).port));
  if (ports.size > 1) throw new CorefileError(file, server.line, `one server block listens on one port, got ${[...ports].join(', ')}`);
  const out: CorednsSettings = { port: [...ports][0]!, log: false, ignored: cf.topLevel.map((d) => `${d.name} (line ${d.line})`) };
  for (const d of server.directives) {
    switch (d.name) {
      case 'health':
        out.healthPort = parseHttpAddress(d, file, 8080);
        break;
      case 'ready':
        out.readyPort = parseHttpAddress(d, file, 8181);
        break;
      case 'log':
        out.log = true;
        break;
      case 'errors':
      case 'loadbalance':
        break;
      case 'kubernetes': {
        const zones = d.args.length > 0 ? d.args.map((z) => z.replace(/\.$/, '')) : [];
        const ttl = d.block.find((o) => o.name === 'ttl');
        out.kubernetes = { zones, ...(ttl ? { ttl: parseUint(ttl.args[0], d, file, 'ttl') } : {}) };
        break;
      }
      case 'hosts': {
        const h: HostsSettings = { file: d.args[0] ?? '/etc/hosts', ttl: 3600, reloadMs: 5000, inline: [] };
        for (const o of d.block) {
          if (o.name === 'ttl') h.ttl = parseUint(o.args[0], d, file, 'ttl');
          else if (o.name === 'reload') h.reloadMs = parseDurationMs(o.args[0] ?? '', d, file);
          else if (IPISH.test(o.name) && o.args.length > 0) h.inline.push({ ip: o.name, names: o.args });
          // fallthrough, no_reverse: the lab answers other names from the cluster records anyway.
        }
        out.hosts = h;
        break;
      }
      case 'forward': {
        const [from, ...to] = d.args;
        if (!from || to.length === 0) throw new CorefileError(file, d.line, 'forward: need FROM and at least one TO (e.g. forward . /etc/resolv.conf)');
        out.forward = { from, to };
        break;
      }
      case 'cache':
        out.cacheTtl = d.args[0] !== undefined && /^\d+$/.test(d.args[0]) ? parseUint(d.args[0], d, file, 'TTL') : 3600;
        break;
      default:
        out.ignored.push(`${d.name} (line ${d.line})`);
    }
  }
  return out;
}

/**
 * A hosts file (the NodeHosts key: `192.168.56.110 labs`): address, then names. Lines that do not
 * start with an IP address are skipped, as the hosts plugin does.
 */
export function parseHostsFile(text: string): { ip: string; names: string[] }[] {
  const out: { ip: string; names: string[] }[] = [];
  for (const raw of text.split('\n')) {
    const [ip, ...names] = raw.replace(/#.*/, '').trim().split(/\s+/);
    if (ip && names.length > 0 && IPISH.test(ip) && (ip.includes('.') || ip.includes(':'))) out.push({ ip, names });
  }
  return out;
}
