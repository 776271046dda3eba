// Parsers for what the user-space tools of a trace print: curl's `-w %{json}` write-out, dig's
// answer, the cluster DNS server's query log. Pure.

/** The separator `lab trace` puts between the body and curl's write-out. */
export const CURL_MARKER = '\n@@lab-trace-curl@@';

/**
 * curl `-w` argument: CURL_MARKER, then the write-out variables the trace needs as a JSON object.
 * Not `%{json}`: producing every variable makes curl look up the machine's own host name, and
 * from a pod that lookup is a query to the cluster DNS the trace would then see.
 */
export const CURL_WRITE_OUT =
  `${CURL_MARKER.replace('\n', '\\n')}{"http_code":"%{http_code}","local_ip":"%{local_ip}","local_port":%{local_port},` +
  `"remote_ip":"%{remote_ip}","remote_port":%{remote_port},"size_download":%{size_download},"time_connect":%{time_connect},"time_total":%{time_total}}`;

export interface CurlResult {
  exitCode: number;
  /** curl's own error message (stderr), when it failed. */
  error?: string;
  body: string;
  httpCode?: number;
  localIP?: string;
  localPort?: number;
  remoteIP?: string;
  remotePort?: number;
  bytes?: number;
  /** Seconds. */
  timeConnect?: number;
  timeTotal?: number;
}

/** Splits curl's stdout (body, marker, JSON) and merges its exit code and stderr. */
export function parseCurlOutput(stdout: string, exitCode: number, stderr = ''): CurlResult {
  const at = stdout.lastIndexOf(CURL_MARKER);
  const body = at >= 0 ? stdout.slice(0, at) : stdout;
  const result: CurlResult = { exitCode, body };
  if (exitCode !== 0) result.error = stderr.trim() || `curl exited with ${exitCode}`;
  if (at < 0) return result;
  let w: Record<string, unknown>;
  try {
    w = JSON.parse(stdout.slice(at + CURL_MARKER.length)) as Record<string, unknown>;
  } catch {
    return result;
  }
  const num = (k: string) => (typeof w[k] === 'number' ? (w[k] as number) : undefined);
  const str = (k: string) => (typeof w[k] === 'string' && w[k] !== '' ? (w[k] as string) : undefined);
  const code = Number(w.http_code ?? w.response_code ?? 0);
  return {
    ...result,
    httpCode: Number.isInteger(code) && code > 0 ? code : undefined,
    localIP: str('local_ip'),
    localPort: num('local_port') || undefined,
    remoteIP: str('remote_ip'),
    remotePort: num('remote_port') || undefined,
    bytes: num('size_download'),
    timeConnect: num('time_connect'),
    timeTotal: num('time_total'),
  };
}

export interface DnsAnswer {
  /** The name as asked (before the search list). */
  query: string;
  status?: string;
  /** The name that answered (after the search list), without the trailing dot. */
  fqdn?: string;
  addresses: string[];
  cnames: string[];
  ttl?: number;
  /** "10.43.0.10#53" as dig prints it, as ip and port. */
  server?: { ip: string; port: number; protocol: string };
}

/** Parses `dig +search <name> A` (the default output format). */
export function parseDig(query: string, text: string): DnsAnswer {
  const out: DnsAnswer = { query, addresses: [], cnames: [] };
  const status = /status: ([A-Z]+)/.exec(text);
  if (status) out.status = status[1];
  const server = /^;; SERVER: ([0-9.]+)#(\d+)\([^)]*\)(?: \((\w+)\))?/m.exec(text);
  if (server) out.server = { ip: server[1]!, port: Number(server[2]), protocol: (server[3] ?? 'UDP').toLowerCase() };
  const answer = /;; ANSWER SECTION:\n([\s\S]*?)(?:\n\n|$)/.exec(text);
  for (const line of answer?.[1]?.split('\n') ?? []) {
    const w = line.trim().split(/\s+/);
    if (w.length < 5 || line.startsWith(';')) continue;
    const [name, ttl, , type, data] = w as [string, string, string, string, string];
    if (type === 'A') {
      out.addresses.push(data);
      out.fqdn ??= name.replace(/\.$/, '');
      out.ttl ??= Number(ttl);
    } else if (type === 'CNAME') {
      out.cnames.push(data.replace(/\.$/, ''));
      out.fqdn ??= name.replace(/\.$/, '');
    }
  }
  if (!out.fqdn) {
    const q = /;; QUESTION SECTION:\n;(\S+)/.exec(text);
    if (q) out.fqdn = q[1]!.replace(/\.$/, '');
  }
  return out;
}

export interface DnsLogEntry {
  client: string;
  clientPort: number;
  id: number;
  type: string;
  name: string;
  protocol: string;
  rcode: string;
  raw: string;
}

/**
 * A query line of the cluster DNS server's log (CoreDNS's `log` plugin format):
 * `[INFO] 10.42.0.8:45976 - 26726 "A IN app2-service.default.svc.cluster.local. udp 56 false 512" NOERROR qr,aa,rd 110 0.0007s`
 */
export function parseDnsLogLine(line: string): DnsLogEntry | null {
  const m = /^\[\w+\] ([0-9.]+):(\d+) - (\d+) "(\S+) IN (\S+) (\w+) [^"]*" (\S+)/.exec(line.trim());
  if (!m) return null;
  return { client: m[1]!, clientPort: Number(m[2]), id: Number(m[3]), type: m[4]!, name: m[5]!.replace(/\.$/, ''), protocol: m[6]!, rcode: m[7]!, raw: line.trim() };
}

export interface ParsedUrl {
  scheme: 'http';
  host: string;
  port: number;
  /** Path and query, as the request line carries them. */
  path: string;
  isIP: boolean;
}

/** The URL `lab trace` is given; a missing scheme means http. Only http: the lab has no TLS. */
export function parseTraceUrl(text: string): ParsedUrl {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    throw new Error(`not a URL: ${JSON.stringify(text)}`);
  }
  if (u.protocol !== 'http:') throw new Error(`only http:// URLs can be traced (the lab's ingress serves plain HTTP), not ${u.protocol}//`);
  if (u.username || u.password) throw new Error('credentials in the URL are not supported');
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (!host) throw new Error(`no host in ${JSON.stringify(text)}`);
  return { scheme: 'http', host, port: u.port ? Number(u.port) : 80, path: `${u.pathname || '/'}${u.search}`, isIP: /^\d{1,3}(\.\d{1,3}){3}$/.test(host) };
}
