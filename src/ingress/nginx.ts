// Renders the routing table (routes.ts) as a complete nginx.conf for the ingress pod. Pure.
//
// Things nginx does differently from the Ingress spec, and how the config bridges them:
// - nginx's prefix locations match character by character (`location /foo` matches `/foobar`).
//   An element-wise Prefix `/foo` therefore becomes two locations: `location = /foo` (the path
//   itself) and `location /foo/` (everything below it). nginx picks `=` matches first and then
//   the longest prefix, which is exactly "longest match wins, Exact beats Prefix".
//   The `= /foo` location also stops nginx's automatic 301 from `/foo` to `/foo/`, which nginx
//   adds for a proxy_pass prefix location ending in '/'.
// - nginx's `server_name *.foo.com` matches any number of labels; the Ingress wildcard matches
//   exactly one, so wildcards become the regex `~^[^.]+\.foo\.com$`. Exact names still win over
//   regexes in nginx, as exact hosts win over wildcards in Ingress.
// - `proxy_pass http://name:port` in the config is resolved once, at startup (and nginx refuses
//   to start if the name does not resolve). With a variable, nginx resolves the name at request
//   time through `resolver`, caching the answer for `valid=` seconds. The upstream is the
//   Service's DNS name, so each request crosses the ClusterIP (KUBE-SVC -> KUBE-SEP), as through
//   any Kubernetes ingress controller that proxies to Services (ingress-nginx's
//   `service-upstream: "true"`). With `endpointUpstream` (service-upstream "false", ingress-nginx's
//   and Traefik's default) a backend is instead an `upstream` block of its ready pods' IP:port,
//   nginx balancing between them itself and kube-proxy's rules never seeing the request.
// - Debian's nginx was built with pid, lock and temp paths under /run and /var/lib/nginx; every
//   one of them is set here to a path under `prefix`, so nothing is written outside it.
import { isIP } from 'node:net';
import path from 'node:path';
import { backendString, type PathRoute, type RoutingTable, type ServiceBackend } from './routes.ts';

export interface NginxRenderOptions {
  /** Cluster DNS address nginx resolves Service names with, e.g. 10.43.0.10. */
  resolver: string;
  /** e.g. cluster.local */
  clusterDomain: string;
  listenPort: number;
  /** Runtime directory (nginx -p): pid file, lock file, temp directories. Absolute. */
  prefix: string;
  /** Absolute path, or the word `stderr`. */
  accessLogPath: string;
  /** Absolute path, or the word `stderr`. */
  errorLogPath: string;
  workerProcesses?: number;
  /** How long nginx caches DNS answers; default 5 (seconds). */
  resolverValidSeconds?: number;
  /**
   * Ingress backends name a Service port by number or by name; nginx needs the number.
   * Default: the number if given, otherwise unresolved. Unresolved backends answer 503 (as
   * ingress-nginx does for a missing Service). See servicePortResolver() in routes.ts.
   */
  resolvePort?: (namespace: string, service: string, port: ServiceBackend['port']) => number | undefined;
  /**
   * Where nginx connects for a Service port: `host:port`. Default:
   * `<svc>.<ns>.svc.<clusterDomain>:<port>`, resolved through `resolver` at request time.
   * Tests without a cluster DNS return `IP:port` (nginx then needs no resolver).
   */
  upstreamAddress?: (namespace: string, service: string, port: number) => string;
  /**
   * ingress-nginx's `service-upstream: "false"`: the ready endpoints (`podIP:targetPort`) of a
   * Service port, from its EndpointSlices. Given, each backend becomes an nginx `upstream` block
   * with one `server` per ready endpoint (none ready: 503, as ingress-nginx answers); a backend for
   * which it returns null (an ExternalName Service) still goes to `upstreamAddress`. Absent: every
   * backend goes to `upstreamAddress` (`service-upstream: "true"`, the Service's ClusterIP).
   */
  endpointUpstream?: (namespace: string, service: string, port: number) => string[] | null;
}

/** The pid file the rendered config tells nginx to write; reload.ts reads it. */
export function nginxPidFile(prefix: string): string {
  return path.join(prefix, 'nginx.pid');
}

/**
 * One line per request. `backend` is the Ingress backend (`ns/svc:port`, `-` when none), `upstream`
 * the address nginx connected to (the ClusterIP after DNS), `upstream_status` what it answered.
 */
export const ACCESS_LOG_FORMAT =
  '$remote_addr [$time_local] host="$host" request="$request" status=$status bytes=$body_bytes_sent ' +
  'backend="$ingress_backend" upstream="$upstream_addr" upstream_status="$upstream_status" ' +
  'request_time=$request_time upstream_time="$upstream_response_time"';

export interface AccessLogEntry {
  remoteAddr: string;
  time: string;
  host: string;
  request: string;
  status: number;
  bytes: number;
  /** `ns/svc:port`, or '-' when the request went to no backend (404). */
  backend: string;
  /** `ip:port` nginx connected to (comma separated on retries), or '-'. */
  upstream: string;
  upstreamStatus: string;
  requestTime: number;
  upstreamTime: string;
}

const LOG_LINE_RE =
  /^(\S+) \[([^\]]*)\] host="([^"]*)" request="([^"]*)" status=(\d+) bytes=(\d+) backend="([^"]*)" upstream="([^"]*)" upstream_status="([^"]*)" request_time=([\d.]+) upstream_time="([^"]*)"$/;

/** Parses one access log line written with ACCESS_LOG_FORMAT; null for anything else. */
export function parseAccessLogLine(line: string): AccessLogEntry | null {
  const m = LOG_LINE_RE.exec(line.trimEnd());
  if (!m) return null;
  const g = (i: number): string => m[i] ?? '';
  return {
    remoteAddr: g(1),
    time: g(2),
    host: g(3),
    request: g(4),
    status: Number(g(5)),
    bytes: Number(g(6)),
    backend: g(7),
    upstream: g(8),
    upstreamStatus: g(9),
    requestTime: Number(g(10)),
    upstreamTime: g(11),
  };
}

// Characters allowed in file paths written into the config. `$` would start an nginx variable
// in access_log paths; quotes, ';', braces and white space would end the token.
const FILE_PATH_RE = /^\/[A-Za-z0-9._+@=,:/-]*$/;
const DOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const UPSTREAM_RE = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):\d{1,5}$/;

function checkFilePath(what: string, p: string, allowStderr: boolean): string {
  if (allowStderr && p === 'stderr') return p;
  if (!FILE_PATH_RE.test(p)) throw new Error(`${what} ${JSON.stringify(p)}: need an absolute path of [A-Za-z0-9._+@=,:/-]`);
  return `"${p}"`;
}

function checkOptions(o: NginxRenderOptions): void {
  if (!isIP(o.resolver)) throw new Error(`resolver ${JSON.stringify(o.resolver)} is not an IP address`);
  if (!DOMAIN_RE.test(o.clusterDomain)) throw new Error(`clusterDomain ${JSON.stringify(o.clusterDomain)} is not a DNS name`);
  if (!Number.isInteger(o.listenPort) || o.listenPort < 1 || o.listenPort > 65535) throw new Error(`listenPort ${o.listenPort} out of range`);
  const w = o.workerProcesses ?? 1;
  if (!Number.isInteger(w) || w < 1 || w > 64) throw new Error(`workerProcesses ${w} out of range 1-64`);
  const v = o.resolverValidSeconds ?? 5;
  if (!Number.isInteger(v) || v < 1) throw new Error(`resolverValidSeconds ${v} must be a positive integer`);
  checkFilePath('prefix', o.prefix, false);
}

/** What nginx does with the requests of one location. */
type Action = { backend: string; upstream?: string; upstreamBlock?: string; status?: 404 | 503 };

/** ingress-nginx's upstream name: `<namespace>-<service>-<port>`. */
export function upstreamName(namespace: string, service: string, port: number): string {
  return `${namespace}-${service}-${port}`;
}

export function renderNginxConfig(table: RoutingTable, opts: NginxRenderOptions): string {
  checkOptions(opts);
  const prefix = opts.prefix.replace(/\/+$/, '') || '/';
  const q = (name: string): string => checkFilePath(name, path.join(prefix, name), false);
  const resolvePort = opts.resolvePort ?? ((_ns, _svc, port) => port.number);
  const upstreamAddress =
    opts.upstreamAddress ?? ((ns: string, svc: string, port: number) => `${svc}.${ns}.svc.${opts.clusterDomain}:${port}`);

  const action = (b: ServiceBackend): Action => {
    const port = resolvePort(b.namespace, b.name, b.port);
    if (port === undefined) return { backend: backendString(b), status: 503 };
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`resolvePort gave ${port} for ${backendString(b)}`);
    const servers = opts.endpointUpstream?.(b.namespace, b.name, port);
    if (servers) {
      // No ready endpoint: ingress-nginx answers 503 Service Temporarily Unavailable.
      if (servers.length === 0) return { backend: `${b.namespace}/${b.name}:${port}`, status: 503 };
      for (const s of servers) if (!UPSTREAM_RE.test(s)) throw new Error(`endpointUpstream gave ${JSON.stringify(s)} for ${backendString(b)}: need ip:port`);
      const name = upstreamName(b.namespace, b.name, port);
      upstreamBlocks.set(name, { backend: `${b.namespace}/${b.name}:${port}`, servers });
      return { backend: `${b.namespace}/${b.name}:${port}`, upstreamBlock: name };
    }
    const upstream = upstreamAddress(b.namespace, b.name, port);
    if (!UPSTREAM_RE.test(upstream)) throw new Error(`upstreamAddress gave ${JSON.stringify(upstream)} for ${backendString(b)}: need host:port`);
    return { backend: `${b.namespace}/${b.name}:${port}`, upstream };
  };
  const upstreamBlocks = new Map<string, { backend: string; servers: string[] }>();
  const fallback: Action = table.defaultBackend ? action(table.defaultBackend) : { backend: '-', status: 404 };
  const fallbackNote = table.defaultBackend ? `defaultBackend from ${table.defaultBackend.ingress}` : 'no rule matched and no defaultBackend: 404';

  const out: string[] = [];
  const emit = (indent: number, line: string): void => void out.push(line === '' ? '' : '    '.repeat(indent) + line);

  emit(0, '# Rendered by packet-path-lab (src/ingress/nginx.ts) from the Ingress objects. Do not edit:');
  emit(0, '# the ingress controller rewrites this file and reloads nginx with SIGHUP on every change.');
  for (const w of table.warnings) emit(0, `# warning: ${w.replace(/[\r\n]/g, ' ')}`);
  emit(0, 'daemon off;  # the kubelet supervises the master process');
  emit(0, 'master_process on;');
  emit(0, `worker_processes ${opts.workerProcesses ?? 1};`);
  emit(0, `pid ${q('nginx.pid')};`);
  emit(0, `lock_file ${q('nginx.lock')};`);
  emit(0, `error_log ${checkFilePath('errorLogPath', opts.errorLogPath, true)} notice;`);
  emit(0, '# Old workers finish in-flight requests after a reload, but not forever.');
  emit(0, 'worker_shutdown_timeout 30s;');
  emit(0, '');
  emit(0, 'events {');
  emit(1, 'worker_connections 1024;');
  emit(0, '}');
  emit(0, '');
  emit(0, 'http {');
  emit(1, '# Debian builds these under /var/lib/nginx; nginx creates them at startup even if unused.');
  for (const t of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) emit(1, `${t}_temp_path ${q(`${t}_temp`)};`);
  emit(1, 'default_type application/octet-stream;');
  emit(1, 'server_names_hash_bucket_size 128;');
  emit(1, 'server_names_hash_max_size 4096;');
  emit(1, '');
  emit(1, `log_format ingress '${ACCESS_LOG_FORMAT}';`);
  emit(1, `access_log ${checkFilePath('accessLogPath', opts.accessLogPath, false)} ingress;`);
  emit(1, '');
  emit(1, '# Service names are resolved per request (proxy_pass with a variable) through the cluster DNS.');
  emit(1, `resolver ${opts.resolver.includes(':') ? `[${opts.resolver}]` : opts.resolver} valid=${opts.resolverValidSeconds ?? 5}s ipv6=off;`);
  emit(1, 'resolver_timeout 2s;');
  emit(1, '');
  emit(1, '# Request headers as ingress-nginx sets them.');
  emit(1, 'proxy_http_version 1.1;');
  emit(1, 'proxy_set_header Connection "";');
  emit(1, 'proxy_set_header Host $host;');
  emit(1, 'proxy_set_header X-Real-IP $remote_addr;');
  emit(1, 'proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;');
  emit(1, 'proxy_set_header X-Forwarded-Host $host;');
  emit(1, 'proxy_set_header X-Forwarded-Port $server_port;');
  emit(1, 'proxy_set_header X-Forwarded-Proto $scheme;');
  emit(1, 'proxy_set_header X-Request-ID $request_id;');
  emit(1, 'proxy_connect_timeout 5s;');
  emit(1, 'proxy_send_timeout 60s;');
  emit(1, 'proxy_read_timeout 60s;');
  emit(1, 'proxy_buffering off;');
  const upstreamsAt = out.length;

  const server = (comment: string, serverName: string, isDefault: boolean, paths: PathRoute[]): void => {
    emit(1, '');
    emit(1, `# ${comment}`);
    emit(1, 'server {');
    emit(2, `listen ${opts.listenPort}${isDefault ? ' default_server' : ''};`);
    emit(2, `server_name ${serverName};`);
    emit(2, 'set $ingress_backend "-";');
    const exactTaken = new Set(paths.filter((p) => p.pathType === 'Exact').map((p) => p.path));
    let hasRoot = false;
    for (const p of paths) {
      const a = action(p.backend);
      const note = `${p.ingress}: ${p.declared.pathType} ${p.declared.path}`;
      if (p.pathType === 'Exact') {
        location(2, `= "${p.path}"`, a, note);
      } else if (p.path === '/') {
        hasRoot = true;
        location(2, '/', a, note);
      } else {
        // Element-wise Prefix: the path itself (unless an Exact rule of the same path wins) ...
        if (!exactTaken.has(p.path)) location(2, `= "${p.path}"`, a, note);
        // ... and everything below it. Never `location /foo`: nginx would match /foobar.
        location(2, `"${p.path}/"`, a, note);
      }
    }
    if (!hasRoot) location(2, '/', fallback, fallbackNote);
    emit(1, '}');
  };

  const location = (indent: number, match: string, a: Action, note: string): void => {
    emit(indent, `location ${match} {  # ${note}`);
    emit(indent + 1, `set $ingress_backend "${a.backend}";`);
    if (a.upstreamBlock) {
      emit(indent + 1, `proxy_pass http://${a.upstreamBlock};`);
    } else if (a.upstream) {
      emit(indent + 1, `set $ingress_upstream "${a.upstream}";`);
      emit(indent + 1, 'proxy_pass http://$ingress_upstream;');
    } else {
      emit(indent + 1, `return ${a.status};`);
    }
    emit(indent, '}');
  };

  server('Requests whose Host matches no rule: rules without a host, then the default backend.', '_', true, table.anyHost);
  for (const h of table.hosts) {
    if (h.kind === 'exact') server(`host ${h.host}`, h.host, false, h.paths);
    else {
      // One label, as the Ingress spec says (nginx's own `*.foo.com` would match a.b.foo.com too).
      const re = `~^[^.]+${h.host.slice(1).replace(/\./g, '\\.')}$`;
      server(`host ${h.host} (exactly one label)`, re, false, h.paths);
    }
  }
  emit(0, '}');
  if (upstreamBlocks.size > 0) {
    const block: string[] = [];
    for (const [name, u] of [...upstreamBlocks].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      block.push('', `    # ${u.backend}: its ready endpoints from the EndpointSlices (service-upstream "false"); nginx balances round robin.`);
      block.push(`    upstream ${name} {`, ...u.servers.map((s) => `        server ${s};`), '    }');
    }
    out.splice(upstreamsAt, 0, ...block);
  }
  return out.join('\n') + '\n';
}
