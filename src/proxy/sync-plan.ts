// kube-proxy's sync bookkeeping, pure: which Services changed since the last successful sync,
// which per-service chains exist in the kernel, which went stale. It keeps that in memory (as
// kube-proxy keeps its change trackers) instead of reading `iptables-save` on every sync.
//
// Full sync: every chain is written. Partial sync (kube-proxy >= 1.27): the top-level chains
// (KUBE-SERVICES, KUBE-NODEPORTS, KUBE-POSTROUTING, …) are rewritten, but a Service's own chains
// (KUBE-SVC/SVL/EXT/FW/SEP) only when that Service or its endpoints changed; the rest stay in the
// kernel untouched, because `iptables-restore --noflush` leaves alone every chain it is not given.
import type { EndpointSlice, Service } from '../api/types.ts';
import { isServiceChainName } from './names.ts';
import { buildProxyModel, categorizeEndpoints, type ProxyConfig, type ServiceModel } from './model.ts';
import { assembleRestore, isLargeCluster, renderService, type RestoreExtras, type RestoreText, type ServiceFragment } from './render.ts';

/**
 * 'always': rewrite the top-level chains on every sync, as kube-proxy does.
 * 'when-changed': leave a top-level chain out of a partial sync when its rules are unchanged
 * (same kernel result; much faster with 10,000 Services, where KUBE-SERVICES dominates).
 */
export type TopLevelPolicy = 'always' | 'when-changed';

export interface PlannerOptions {
  config: ProxyConfig;
  topLevel?: TopLevelPolicy;
}

export interface PlanRequest {
  /** Services after allocation. Headless and ExternalName Services are skipped. */
  services: Service[];
  endpointSlices: EndpointSlice[];
  /** Force a full sync. */
  full?: boolean;
  /**
   * Optional hint, like kube-proxy's change trackers: only these Services ("ns/name") changed;
   * the others are taken from the cache without looking at them. Without it every Service is
   * compared with what was last written.
   */
  changed?: Iterable<string>;
  /** Lines the applier adds (jump inserts, canary chains). */
  extras?: RestoreExtras;
}

/** A UDP service port whose endpoints changed: stale conntrack entries must go (see syncer). */
export interface UdpConntrackChange {
  /** ClusterIP, externalIPs and load-balancer IPs of the port. */
  serviceIPs: string[];
  port: number;
  nodePort: number;
  /** Endpoint IPs no longer used: flows DNATed to them are deleted. */
  removedEndpointIPs: string[];
  /** The port had no endpoints before: flows to its IPs that were never DNATed are deleted. */
  hadNoEndpoints: boolean;
}

interface CachedService {
  fingerprint: string;
  model: ServiceModel;
  fragment: ServiceFragment;
  /** Endpoint IPs used for each UDP port ("<portName>/UDP" -> IPs). */
  udp: Map<string, string[]>;
}

export interface SyncPlan extends RestoreText {
  full: boolean;
  /** Services whose own chains are written by this sync. */
  servicesWritten: string[];
  /** Per-service chains deleted by this sync. */
  staleChains: string[];
  largeClusterMode: boolean;
  services: number;
  endpoints: number;
  udpConntrack: UdpConntrackChange[];
  /** @internal state to adopt on commit */
  readonly next: { cache: Map<string, CachedService>; active: Set<string>; top: Map<string, string> };
}

function fingerprint(m: ServiceModel): string {
  let s = '';
  for (const { info: p, endpoints } of m.ports) {
    s += `${p.portName}|${p.protocol}|${p.clusterIP}|${p.port}|${p.nodePort}|${p.externalIPs.join(',')}|${p.loadBalancerVIPs.join(',')}|${p.loadBalancerSourceRanges.join(',')}|${p.sessionAffinityClientIP ? p.stickyMaxAgeSeconds : 0}|${p.externalPolicyLocal ? 1 : 0}${p.internalPolicyLocal ? 1 : 0}|${p.healthCheckNodePort}|`;
    for (const e of endpoints) s += `${e.endpoint}${e.ready ? 'r' : ''}${e.serving ? 's' : ''}${e.terminating ? 't' : ''}${e.isLocal ? 'l' : ''},`;
    s += ';';
  }
  return s;
}

function udpEndpoints(m: ServiceModel): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const { info, endpoints } of m.ports) {
    if (info.protocol !== 'UDP') continue;
    out.set(`${info.portName}/UDP`, categorizeEndpoints(info, endpoints).allLocallyReachableEndpoints.map((e) => e.ip));
  }
  return out;
}

function sliceServiceKey(sl: EndpointSlice): string | undefined {
  const name = sl.metadata.labels['kubernetes.io/service-name'];
  return name ? `${sl.metadata.namespace}/${name}` : undefined;
}

export class ProxySyncPlanner {
  readonly config: ProxyConfig;
  /** May be changed between syncs (the benchmark measures both). */
  topLevel: TopLevelPolicy;
  /** The next sync writes everything (start, after a failure, or when asked). */
  needFullSync = true;
  private cache = new Map<string, CachedService>();
  /** Per-service chains believed to exist in the kernel. */
  private active = new Set<string>();
  /** Per-service chains found in the kernel that this planner did not write (leftovers). */
  private adopted = new Set<string>();
  private top = new Map<string, string>();

  constructor(opts: PlannerOptions) {
    this.config = opts.config;
    this.topLevel = opts.topLevel ?? 'always';
  }

  /** Per-service chains the planner believes exist (after the last successful sync). */
  get activeChains(): ReadonlySet<string> {
    return this.active;
  }

  /** Leftover per-service chains found in the kernel (a previous run): deleted unless in use. */
  adoptChains(chains: Iterable<string>): void {
    for (const c of chains) if (isServiceChainName(c) && !this.active.has(c)) this.adopted.add(c);
  }

  plan(req: PlanRequest): SyncPlan {
    const full = Boolean(req.full) || this.needFullSync;
    const hint = req.changed && !full ? new Set(req.changed) : undefined;

    // Slices by Service, so that only the Services being looked at are modelled.
    const slicesByService = new Map<string, EndpointSlice[]>();
    for (const sl of req.endpointSlices) {
      const k = sliceServiceKey(sl);
      if (!k) continue;
      const list = slicesByService.get(k);
      if (list) list.push(sl);
      else slicesByService.set(k, [sl]);
    }

    // 1. The model of every Service (reused from the cache when the hint says unchanged).
    type Entry = { key: string; model: ServiceModel; fp: string; cached?: CachedService };
    const entries: Entry[] = [];
    for (const s of req.services) {
      const key = `${s.metadata.namespace}/${s.metadata.name}`;
      const cached = this.cache.get(key);
      if (hint && cached && !hint.has(key)) {
        entries.push({ key, model: cached.model, fp: cached.fingerprint, cached });
        continue;
      }
      const model = buildProxyModel([s], slicesByService.get(key) ?? [], this.config)[0];
      if (!model) continue; // headless / ExternalName: no rules
      entries.push({ key, model, fp: fingerprint(model), ...(cached ? { cached } : {}) });
    }
    entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

    let endpoints = 0;
    for (const e of entries) for (const p of e.model.ports) endpoints += p.endpoints.length;
    const largeClusterMode = isLargeCluster(endpoints);

    // 2. Fragments: re-render what changed (or, on a full sync, what was rendered in another mode).
    const nextCache = new Map<string, CachedService>();
    const fragments: ServiceFragment[] = [];
    const written = new Set<string>();
    const udpConntrack: UdpConntrackChange[] = [];
    for (const e of entries) {
      const changed = !e.cached || e.cached.fingerprint !== e.fp;
      let fragment: ServiceFragment;
      if (!changed && e.cached && (!full || e.cached.fragment.largeClusterMode === largeClusterMode)) fragment = e.cached.fragment;
      else fragment = renderService({ config: this.config, largeClusterMode }, e.model);
      const udp = changed ? udpEndpoints(e.model) : e.cached!.udp;
      if (changed) udpConntrack.push(...udpChanges(e.model, udp, e.cached?.udp));
      nextCache.set(e.key, { fingerprint: e.fp, model: e.model, fragment, udp });
      fragments.push(fragment);
      if (full || changed) written.add(e.key);
    }

    // 3. Stale chains: known before (or found as leftovers) and not used any more.
    const nextActive = new Set<string>();
    for (const f of fragments) for (const c of f.activeChains) nextActive.add(c);
    const staleChains: string[] = [];
    for (const c of this.active) if (!nextActive.has(c)) staleChains.push(c);
    for (const c of this.adopted) if (!nextActive.has(c) && !this.active.has(c)) staleChains.push(c);
    staleChains.sort();

    const text = assembleRestore({
      config: this.config,
      fragments,
      writeChains: (k) => written.has(k),
      staleChains,
      ...(req.extras ? { extras: req.extras } : {}),
      ...(!full && this.topLevel === 'when-changed' ? { omitIfUnchanged: this.top } : {}),
    });

    return {
      ...text,
      full,
      servicesWritten: [...written],
      staleChains,
      largeClusterMode,
      services: entries.length,
      endpoints,
      udpConntrack,
      next: { cache: nextCache, active: nextActive, top: text.top },
    };
  }

  /** The plan was applied: adopt its state. */
  commit(plan: SyncPlan): void {
    this.cache = plan.next.cache;
    this.active = plan.next.active;
    this.top = plan.next.top;
    this.adopted.clear();
    this.needFullSync = false;
  }

  /**
   * Applying the plan failed (perhaps half-way: iptables-restore commits table by table). The
   * next sync is a full one, and chains of both the old and the planned state count as possibly
   * present, so that whichever exist get cleaned up.
   */
  fail(plan: SyncPlan): void {
    for (const c of plan.next.active) if (!this.active.has(c)) this.adopted.add(c);
    this.needFullSync = true;
  }

  /** Forget everything (after teardown): the next sync starts from scratch. */
  reset(): void {
    this.cache.clear();
    this.active.clear();
    this.adopted.clear();
    this.top.clear();
    this.needFullSync = true;
  }
}

function udpChanges(m: ServiceModel, now: Map<string, string[]>, before: Map<string, string[]> | undefined): UdpConntrackChange[] {
  const out: UdpConntrackChange[] = [];
  for (const { info } of m.ports) {
    if (info.protocol !== 'UDP') continue;
    const k = `${info.portName}/UDP`;
    const cur = now.get(k) ?? [];
    const prev = before?.get(k);
    const removed = prev ? prev.filter((ip) => !cur.includes(ip)) : [];
    const hadNoEndpoints = (prev === undefined || prev.length === 0) && cur.length > 0;
    if (removed.length === 0 && !hadNoEndpoints) continue;
    out.push({
      serviceIPs: [info.clusterIP, ...info.externalIPs, ...info.loadBalancerVIPs],
      port: info.port,
      nodePort: info.nodePort,
      removedEndpointIPs: removed,
      hadNoEndpoints,
    });
  }
  return out;
}
