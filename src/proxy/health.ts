// kube-proxy's two health servers (pkg/proxy/healthcheck, v1.33), the pure half: what they serve.
//
// - The service health server: for each `type: LoadBalancer` Service with
//   `externalTrafficPolicy: Local`, an HTTP listener on its spec.healthCheckNodePort that a cloud
//   load balancer polls to learn which nodes have a local endpoint: 200 when this node has at
//   least one ready endpoint of the Service and kube-proxy is healthy, 503 otherwise, with the
//   count in a JSON body and in X-Load-Balancing-Endpoint-Weight.
// - The proxy health server (/healthz and /livez, 10256; k3s binds it to 127.0.0.1): healthy
//   unless a change has been waiting for a sync longer than 2 x --iptables-sync-period.
//
// The replies are byte for byte what Go's net/http writes for kube-proxy's handlers: the
// handler's headers in sorted order, then Date and Content-Length (the server adds those).
import type { EndpointSlice, Service } from '../api/types.ts';
import { shouldSkipService, sliceServiceKey } from './model.ts';

/** An HTTP reply as the listener writes it (Date and Content-Length are the listener's). */
export interface HealthReply {
  status: number;
  headers: [string, string][];
  body: string;
}

/** kube-proxy's default --healthz-bind-address port. */
export const HEALTHZ_PORT = 10256;

/** ServicePortMap.HealthCheckNodePorts: "<ns>/<name>" -> spec.healthCheckNodePort (apiservice.NeedsHealthCheck). */
export function healthCheckNodePorts(services: Service[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of services) {
    const port = (s.spec as { healthCheckNodePort?: number }).healthCheckNodePort ?? 0;
    // kube-proxy reads it only off service ports it tracks: none for headless or port-less Services.
    if (shouldSkipService(s) || s.spec.ports.length === 0) continue;
    if (s.spec.type !== 'LoadBalancer' || s.spec.externalTrafficPolicy !== 'Local' || port === 0) continue;
    out.set(`${s.metadata.namespace}/${s.metadata.name}`, port);
  }
  return out;
}

/**
 * EndpointsMap.LocalReadyEndpoints: per Service, how many distinct IPs of its ready endpoints are
 * on this node (a pod serving two ports counts once). Terminating endpoints never count: a node
 * whose only pods are terminating fails the check, so load balancers drain it.
 */
export function localReadyEndpoints(slices: EndpointSlice[], nodeName: string): Map<string, number> {
  const ips = new Map<string, Set<string>>();
  for (const sl of slices) {
    const key = sliceServiceKey(sl);
    if (!key || sl.addressType !== 'IPv4' || !sl.ports.some((p) => p.port)) continue;
    for (const e of sl.endpoints) {
      const ip = e.addresses[0];
      // Conditions as kube-proxy reads them: an absent ready means ready.
      if (!ip || e.nodeName !== nodeName || e.conditions.ready === false) continue;
      let set = ips.get(key);
      if (!set) ips.set(key, (set = new Set()));
      set.add(ip);
    }
  }
  return new Map([...ips].map(([k, s]) => [k, s.size]));
}

const JSON_HEADERS: [string, string][] = [
  ['Content-Type', 'application/json'],
  ['X-Content-Type-Options', 'nosniff'],
];

/**
 * hcHandler.ServeHTTP: any method, any path. The body is kube-proxy's dedented template: tab
 * indented, no newline at the end.
 */
export function serviceHealthReply(namespace: string, name: string, localEndpoints: number, proxyHealthy: boolean): HealthReply {
  const body = ['{', '\t"service": {', `\t\t"namespace": ${JSON.stringify(namespace)},`, `\t\t"name": ${JSON.stringify(name)}`, '\t},', `\t"localEndpoints": ${localEndpoints},`, `\t"serviceProxyHealthy": ${proxyHealthy}`, '}'].join('\n');
  return {
    status: localEndpoints !== 0 && proxyHealthy ? 200 : 503,
    headers: [...JSON_HEADERS, ['X-Load-Balancing-Endpoint-Weight', String(localEndpoints)]],
    body,
  };
}

/** ProxyHealth, as kube-proxy marshals it (field order of its struct; IPv4 only in the lab). */
export interface ProxyHealth {
  healthy: boolean;
  /** ms since the epoch; undefined before the first sync (Go's zero time). */
  lastUpdated: number | undefined;
  currentTime: number;
}

/**
 * ProxyHealthServer's bookkeeping: QueuedUpdate when a Service or EndpointSlice event arrives,
 * Updated when a sync succeeded. Unhealthy once the oldest change still waiting is older than
 * the timeout; healthy while starting up (before the first sync), whatever waits.
 */
export class ProxyHealthState {
  private lastUpdated: number | undefined;
  private oldestPendingQueued: number | undefined;

  /** kube-proxy's healthTimeout: 2 x --iptables-sync-period (30 s). */
  constructor(readonly timeoutMs: number = 60_000) {}

  queuedUpdate(now: number): void {
    this.oldestPendingQueued ??= now;
  }

  updated(now: number): void {
    this.oldestPendingQueued = undefined;
    this.lastUpdated = now;
  }

  health(now: number): ProxyHealth {
    const late = this.lastUpdated !== undefined && this.oldestPendingQueued !== undefined && now - this.oldestPendingQueued >= this.timeoutMs;
    return { healthy: !late, lastUpdated: this.lastUpdated, currentTime: now };
  }
}

/**
 * proxy.NodeEligibleHandler -> SyncNode: a node being deleted or tainted by the cluster
 * autoscaler for removal makes /healthz fail, so load balancers stop sending to it first. A
 * Node delete event is judged by the object it carries, as kube-proxy does.
 */
export function nodeEligible(node: { metadata: { deletionTimestamp?: string }; spec?: { taints?: { key: string }[] } }): boolean {
  if (node.metadata.deletionTimestamp) return false;
  return !(node.spec?.taints ?? []).some((t) => t.key === 'ToBeDeletedByClusterAutoscaler');
}

/** Go's time.Time MarshalJSON (RFC 3339 with nanoseconds, trailing zeros cut), UTC as in a kube-proxy pod. */
export function goTimeJSON(ms: number | undefined): string {
  if (ms === undefined) return '0001-01-01T00:00:00Z';
  const iso = new Date(ms).toISOString(); // 2025-05-01T10:00:00.120Z
  return iso.replace(/\.(\d+)Z$/, (_m, frac: string) => (frac.replace(/0+$/, '') ? `.${frac.replace(/0+$/, '')}Z` : 'Z'));
}

function proxyHealthJSON(h: ProxyHealth, lastUpdated: number | undefined, nodeEligible?: boolean): string {
  // encoding/json of ProxyHealth: nodeEligible only when set (/healthz), status omitted while empty.
  const parts = [`"lastUpdated":${JSON.stringify(goTimeJSON(lastUpdated))}`, `"currentTime":${JSON.stringify(goTimeJSON(h.currentTime))}`];
  if (nodeEligible !== undefined) parts.push(`"nodeEligible":${nodeEligible}`);
  parts.push(`"healthy":${h.healthy}`);
  if (h.lastUpdated !== undefined) parts.push(`"status":{"IPv4":{"lastUpdated":${JSON.stringify(goTimeJSON(h.lastUpdated))},"healthy":${h.healthy}}}`);
  return `{${parts.join(',')}}`;
}

/**
 * /healthz: 200 when healthy and the node is eligible. A 200 reports lastUpdated as now, as
 * older kube-proxies did (the per-family status keeps the real time).
 */
export function healthzReply(h: ProxyHealth, eligible: boolean): HealthReply {
  const ok = h.healthy && eligible;
  return { status: ok ? 200 : 503, headers: [...JSON_HEADERS], body: proxyHealthJSON(h, ok ? h.currentTime : h.lastUpdated, eligible) };
}

/** /livez: like /healthz without the node's eligibility. */
export function livezReply(h: ProxyHealth): HealthReply {
  return { status: h.healthy ? 200 : 503, headers: [...JSON_HEADERS], body: proxyHealthJSON(h, h.healthy ? h.currentTime : h.lastUpdated) };
}

/** Go's ServeMux for a path nothing is registered on (http.NotFound). */
export function notFoundReply(): HealthReply {
  return { status: 404, headers: [['Content-Type', 'text/plain; charset=utf-8'], ['X-Content-Type-Options', 'nosniff']], body: '404 page not found\n' };
}
