// The ingress controller's routing table: every Ingress object folded into one table of hosts and
// paths, with the Ingress spec's matching rules. Pure; `route()` is the reference semantics that
// the rendered nginx config (nginx.ts) must reproduce, and the e2e test checks that it does.
//
// Semantics (networking.k8s.io/v1, as implemented by ingress-nginx where the spec is silent):
// - Host: exact (`app1.com`) or wildcard (`*.foo.com`, which matches exactly one extra label:
//   `bar.foo.com` but neither `foo.com` nor `baz.bar.foo.com`). Exact beats wildcard. Rules without
//   a host serve every request whose Host matched no rule.
// - The host is chosen first, then the path *within that host*: a request for a known host whose
//   path matches none of that host's paths goes to the default backend (ingress-nginx), it does not
//   fall through to the host-less rules.
// - Path: Exact compares the whole path; Prefix compares element by element split on '/', with a
//   trailing slash ignored (`/foo` matches `/foo`, `/foo/` and `/foo/bar`, not `/foobar`).
//   ImplementationSpecific is treated as Prefix. The longest path wins; at equal length Exact wins.
// - defaultBackend: the first one in age order (creationTimestamp, then input order) wins.
// - Nothing matches and no default backend: 404.
import type { Ingress, IngressBackend, Service } from '../api/types.ts';

export interface ServiceBackend {
  namespace: string;
  name: string;
  /** The Service port, by number or by name (as in the Ingress; names are resolved when rendering). */
  port: { number?: number; name?: string };
}

export type PathType = 'Exact' | 'Prefix';

export interface PathRoute {
  pathType: PathType;
  /** Normalized: Prefix paths lose their trailing slash (except `/`); Exact paths are kept as is. */
  path: string;
  /** As written in the Ingress. */
  declared: { path: string; pathType: 'Exact' | 'Prefix' | 'ImplementationSpecific' };
  backend: ServiceBackend;
  /** `<namespace>/<name>` of the Ingress that declared it. */
  ingress: string;
}

export interface HostRoute {
  /** `app1.com` or `*.foo.com`. */
  host: string;
  kind: 'exact' | 'wildcard';
  /** Sorted by precedence: longest path first, Exact before Prefix at equal length, then age. */
  paths: PathRoute[];
}

export interface RoutingTable {
  /** Exact hosts (sorted by name), then wildcard hosts (sorted by name). */
  hosts: HostRoute[];
  /** Paths of rules without a host, sorted like HostRoute.paths. */
  anyHost: PathRoute[];
  defaultBackend: (ServiceBackend & { ingress: string }) | null;
  /** Rules that were ignored or lost a conflict, for `lab describe` and events. */
  warnings: string[];
}

export type RouteDecision =
  | { kind: 'path'; host: HostRoute | null; route: PathRoute; backend: ServiceBackend }
  | { kind: 'defaultBackend'; host: HostRoute | null; backend: ServiceBackend }
  | { kind: 'notFound'; host: HostRoute | null };

export interface BuildOptions {
  /** Only Ingresses with this ingressClassName (or none) are served. Absent: all Ingresses. */
  ingressClassName?: string;
}

// DNS-1123 subdomain, as the API server validates Ingress hosts.
const LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const HOST_RE = new RegExp(`^${LABEL}(\\.${LABEL})*$`);
const DNS_LABEL_RE = new RegExp(`^${LABEL}$`);
const PORT_NAME_RE = /^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/;
const IPV4_RE = /^\d+\.\d+\.\d+\.\d+$/;
// Path characters the lab accepts. Narrower than RFC 3986 on purpose: the path ends up quoted in
// nginx.conf, and nginx matches locations against the *decoded* URI, so '%' could never match.
const PATH_RE = /^\/[A-Za-z0-9._~!&()*+,=:@/-]*$/;

export function isValidIngressHost(host: string): boolean {
  const name = host.startsWith('*.') ? host.slice(2) : host;
  return name.length > 0 && host.length <= 253 && HOST_RE.test(name) && !IPV4_RE.test(name);
}

/** Why a path cannot be served, or null when it can (the API server's rules plus PATH_RE). */
export function invalidPathReason(path: string): string | null {
  if (!path.startsWith('/')) return 'must be an absolute path';
  if (!PATH_RE.test(path)) return 'contains characters the lab does not support (allowed: A-Z a-z 0-9 . _ ~ ! & ( ) * + , = : @ / -)';
  if (/\/\/|\/\.\.?(\/|$)/.test(path)) return "must not contain '//', '/./' or '/../' or end in '/.' or '/..'";
  return null;
}

export function normalizePrefix(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  return trimmed === '' ? '/' : trimmed;
}

function toBackend(namespace: string, b: IngressBackend | undefined): ServiceBackend | string {
  const svc = b?.service;
  if (!svc?.name) return 'backend has no service name';
  if (!DNS_LABEL_RE.test(svc.name)) return `backend service name ${JSON.stringify(svc.name)} is not a DNS label`;
  if (!DNS_LABEL_RE.test(namespace)) return `namespace ${JSON.stringify(namespace)} is not a DNS label`;
  const { number, name } = svc.port ?? {};
  if (number === undefined && !name) return `backend ${svc.name} has neither port.number nor port.name`;
  if (number !== undefined && (!Number.isInteger(number) || number < 1 || number > 65535)) return `backend ${svc.name} port ${number} out of range`;
  if (number === undefined && !PORT_NAME_RE.test(name ?? '')) return `backend ${svc.name} port name ${JSON.stringify(name)} is not a valid port name`;
  return { namespace, name: svc.name, port: number !== undefined ? { number } : { name } };
}

/** Oldest first (creationTimestamp), input order breaking ties; missing timestamps count as newest. */
function byAge(ingresses: Ingress[]): Ingress[] {
  const ts = (i: Ingress): number => {
    const t = i.metadata.creationTimestamp ? Date.parse(i.metadata.creationTimestamp) : NaN;
    return Number.isNaN(t) ? Infinity : t;
  };
  return ingresses
    .map((ing, index) => ({ ing, index, t: ts(ing) }))
    .sort((a, b) => (a.t === b.t ? a.index - b.index : a.t < b.t ? -1 : 1))
    .map((x) => x.ing);
}

function precedence(a: PathRoute, b: PathRoute): number {
  if (a.path.length !== b.path.length) return b.path.length - a.path.length;
  if (a.pathType !== b.pathType) return a.pathType === 'Exact' ? -1 : 1;
  return 0; // stable sort keeps age order
}

export function backendString(b: ServiceBackend): string {
  return `${b.namespace}/${b.name}:${b.port.number ?? b.port.name}`;
}

export function buildRoutingTable(ingresses: Ingress[], opts: BuildOptions = {}): RoutingTable {
  const warnings: string[] = [];
  const hosts = new Map<string, HostRoute>();
  const anyHost: PathRoute[] = [];
  let defaultBackend: RoutingTable['defaultBackend'] = null;

  for (const ing of byAge(ingresses)) {
    const id = `${ing.metadata.namespace}/${ing.metadata.name}`;
    const cls = ing.spec.ingressClassName;
    if (opts.ingressClassName !== undefined && cls !== undefined && cls !== opts.ingressClassName) continue;

    if (ing.spec.defaultBackend) {
      const b = toBackend(ing.metadata.namespace, ing.spec.defaultBackend);
      if (typeof b === 'string') warnings.push(`${id}: defaultBackend ignored: ${b}`);
      else if (defaultBackend) {
        warnings.push(`${id}: defaultBackend ${backendString(b)} ignored: ${defaultBackend.ingress} (older) already sets ${backendString(defaultBackend)}`);
      } else defaultBackend = { ...b, ingress: id };
    }

    for (const rule of ing.spec.rules ?? []) {
      let target: PathRoute[] = anyHost;
      const where = rule.host ? `host ${rule.host}` : 'rule without host';
      if (rule.host) {
        const host = rule.host.toLowerCase();
        if (!isValidIngressHost(host)) {
          warnings.push(`${id}: ${where} ignored: not a DNS name or '*.' wildcard`);
          continue;
        }
        let hr = hosts.get(host);
        if (!hr) hosts.set(host, (hr = { host, kind: host.startsWith('*.') ? 'wildcard' : 'exact', paths: [] }));
        target = hr.paths;
      }
      for (const p of rule.http?.paths ?? []) {
        const declaredPath = p.path || (p.pathType === 'ImplementationSpecific' ? '/' : '');
        const reason = invalidPathReason(declaredPath);
        if (reason) {
          warnings.push(`${id}: ${where} path ${JSON.stringify(p.path)} ignored: ${reason}`);
          continue;
        }
        const b = toBackend(ing.metadata.namespace, p.backend);
        if (typeof b === 'string') {
          warnings.push(`${id}: ${where} path ${p.path} ignored: ${b}`);
          continue;
        }
        const pathType: PathType = p.pathType === 'Exact' ? 'Exact' : 'Prefix';
        const path = pathType === 'Exact' ? declaredPath : normalizePrefix(declaredPath);
        const clash = target.find((r) => r.pathType === pathType && r.path === path);
        if (clash) {
          warnings.push(`${id}: ${where} ${pathType} ${path} ignored: ${clash.ingress} (older) already routes it to ${backendString(clash.backend)}`);
          continue;
        }
        target.push({ pathType, path, declared: { path: p.path, pathType: p.pathType }, backend: b, ingress: id });
      }
    }
  }

  const sortedHosts = [...hosts.values()].sort((a, b) =>
    a.kind !== b.kind ? (a.kind === 'exact' ? -1 : 1) : a.host < b.host ? -1 : a.host > b.host ? 1 : 0,
  );
  for (const h of sortedHosts) h.paths.sort(precedence);
  anyHost.sort(precedence);
  return { hosts: sortedHosts, anyHost, defaultBackend, warnings };
}

/** Whether a Prefix path (normalized) matches a request path, element by element. */
export function prefixMatches(prefix: string, requestPath: string): boolean {
  if (prefix === '/') return true;
  return requestPath === prefix || requestPath.startsWith(prefix + '/');
}

export function pathMatches(r: PathRoute, requestPath: string): boolean {
  return r.pathType === 'Exact' ? requestPath === r.path : prefixMatches(r.path, requestPath);
}

/** The Host header as nginx sees it ($host): lower case, no port, no trailing dot. */
export function normalizeHost(hostHeader: string): string {
  let h = hostHeader.trim().toLowerCase();
  if (h.startsWith('[')) h = h.slice(0, h.indexOf(']') + 1);
  else h = h.replace(/:\d*$/, '');
  return h.replace(/\.$/, '');
}

export function findHost(table: RoutingTable, hostHeader: string): HostRoute | null {
  const host = normalizeHost(hostHeader);
  const exact = table.hosts.find((h) => h.kind === 'exact' && h.host === host);
  if (exact) return exact;
  const dot = host.indexOf('.');
  if (dot <= 0) return null;
  const rest = host.slice(dot + 1);
  return table.hosts.find((h) => h.kind === 'wildcard' && h.host.slice(2) === rest) ?? null;
}

/** Where the ingress sends a request for `host` + `path` (a query string is ignored). */
export function route(table: RoutingTable, host: string, path: string): RouteDecision {
  const requestPath = path.replace(/[?#].*$/, '') || '/';
  const hr = findHost(table, host);
  const candidates = hr ? hr.paths : table.anyHost;
  const hit = candidates.find((r) => pathMatches(r, requestPath));
  if (hit) return { kind: 'path', host: hr, route: hit, backend: hit.backend };
  if (table.defaultBackend) {
    const { ingress: _ingress, ...backend } = table.defaultBackend;
    return { kind: 'defaultBackend', host: hr, backend };
  }
  return { kind: 'notFound', host: hr };
}

/**
 * A `resolvePort` for renderNginxConfig backed by Service objects: an Ingress backend names a
 * *Service* port (by number or by name), and the proxy must connect to that Service port. Returns
 * undefined when the Service or the port does not exist (the ingress answers 503, as ingress-nginx).
 */
export function servicePortResolver(services: Service[]): (namespace: string, service: string, port: ServiceBackend['port']) => number | undefined {
  const byKey = new Map(services.map((s) => [`${s.metadata.namespace}/${s.metadata.name}`, s]));
  return (namespace, service, port) => {
    const svc = byKey.get(`${namespace}/${service}`);
    if (!svc) return undefined;
    const sp = svc.spec.ports.find((p) => (port.number !== undefined ? p.port === port.number : p.name === port.name));
    // ExternalName services declare no ports; a numbered port is then taken as is.
    if (!sp && svc.spec.type === 'ExternalName' && port.number !== undefined) return port.number;
    return sp?.port;
  };
}
