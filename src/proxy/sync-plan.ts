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
import { buildServiceModel, categorizeEndpoints, slicesByService, type ProxyConfig, type ServiceModel } from './model.ts';
import { assembleRestore, isLargeCluster, renderService, type RestoreText, type ServiceFragment } from './render.ts';

/**
 * 'always': rewrite the top-level chains on every sync, as kube-proxy does.
 * 'when-changed': leave the top-level chains out of a partial sync when no Service's top-level
 * rules changed (same kernel result; much faster with 10,000 Services, where rewriting
 * KUBE-SERVICES dominates).
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
  /** The objects last seen: when the same objects come again, nothing is compared at all. */
  svc: Service;
  slices: EndpointSlice[];
  /** The fields that matter, as JSON: equal means unchanged even for new objects (computed when first needed). */
  raw?: string;
  model: ServiceModel;
  fragment: ServiceFragment;
  /** The Service's own chains as text, to tell a real change from an equal re-render (computed when first needed). */
  chainsText?: string;
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
  /**
   * False when a partial sync would write nothing but the same top-level chains again: no
   * Service's chains, no stale chain, no change in the top-level rules. kube-proxy only syncs
   * when its informers saw a change, so the applier skips such a sync (see syncer.ts).
   */
  changed: boolean;
  /** @internal state to adopt on commit */
  readonly next: { cache: Map<string, CachedService>; order: string[] };
}

const NO_SLICES: EndpointSlice[] = [];

/** What of a Service and its slices the rules depend on (not labels, names or source lines). */
export function rawFingerprint(svc: Service, slices: EndpointSlice[]): string {
  const status = (svc as Service & { status?: unknown }).status;
  return JSON.stringify([svc.spec, status ?? null, slices.map((sl) => [sl.addressType, sl.ports, sl.endpoints])]);
}

export function sameRefs<T>(a: T[], b: T[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function chainsText(f: ServiceFragment): string {
  let t = '';
  for (const p of f.ports) t += p.chainDecls.join('\n') + '\n' + p.chainRules.join('\n') + '\n';
  return t;
}

/** Whether two renderings of a Service put the same rules into the top-level chains. */
function sameTopRules(a: ServiceFragment, b: ServiceFragment): boolean {
  if (a.ports.length !== b.ports.length) return false;
  return a.ports.every((p, i) => {
    const q = b.ports[i]!;
    return p.natTop.length === q.natTop.length && p.filter.length === q.filter.length && p.natTop.every((l, j) => l === q.natTop[j]) && p.filter.every((l, j) => l === q.filter[j]);
  });
}

function udpEndpoints(m: ServiceModel): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const { info, endpoints } of m.ports) {
    if (info.protocol !== 'UDP') continue;
    out.set(`${info.portName}/UDP`, categorizeEndpoints(info, endpoints).allLocallyReachableEndpoints.map((e) => e.ip));
  }
  return out;
}

export class ProxySyncPlanner {
  readonly config: ProxyConfig;
  /** May be changed between syncs (the benchmark measures both). */
  topLevel: TopLevelPolicy;
  /** The next sync writes everything (start, after a failure, or when asked). */
  needFullSync = true;
  /** What was last applied, per Service: its objects, model, rules and chains. */
  private cache = new Map<string, CachedService>();
  /** Per-service chains that may exist without being in the cache (leftovers, failed syncs). */
  private adopted = new Set<string>();
  /** Service keys of the last applied sync, in order (a change of the set changes KUBE-SERVICES). */
  private order: string[] = [];

  constructor(opts: PlannerOptions) {
    this.config = opts.config;
    this.topLevel = opts.topLevel ?? 'always';
  }

  /** Per-service chains the planner believes exist (after the last successful sync). */
  get activeChains(): ReadonlySet<string> {
    const out = new Set<string>();
    for (const c of this.cache.values()) for (const ch of c.fragment.activeChains) out.add(ch);
    return out;
  }

  /** The per-service chains the plan's rules use (what exists once it is applied). */
  activeIn(plan: SyncPlan): Set<string> {
    const out = new Set<string>();
    for (const c of plan.next.cache.values()) for (const ch of c.fragment.activeChains) out.add(ch);
    return out;
  }

  /** Leftover per-service chains found in the kernel (a previous run): deleted unless in use. */
  adoptChains(chains: Iterable<string>): void {
    for (const c of chains) if (isServiceChainName(c)) this.adopted.add(c);
  }

  plan(req: PlanRequest): SyncPlan {
    const full = Boolean(req.full) || this.needFullSync;
    const hint = req.changed && !full ? new Set(req.changed) : undefined;
    const bySvc = slicesByService(req.endpointSlices);

    // 1. Which Services may have changed: the same objects (or, with a hint, not named) -> no;
    //    equal relevant fields -> no; otherwise model them again.
    type Entry = { key: string; model: ServiceModel; cached?: CachedService; next?: { svc: Service; slices: EndpointSlice[]; raw?: string } };
    const entries: Entry[] = [];
    for (const s of req.services) {
      const key = `${s.metadata.namespace}/${s.metadata.name}`;
      const slices = bySvc.get(key) ?? NO_SLICES;
      const cached = this.cache.get(key);
      if (cached && ((hint && !hint.has(key)) || (cached.svc === s && sameRefs(cached.slices, slices)))) {
        entries.push({ key, model: cached.model, cached });
        continue;
      }
      // A Service seen for the first time needs no comparison (and a full sync of 10,000
      // Services no 10,000 JSON strings); its fingerprint is made when it is next compared.
      const raw = cached ? rawFingerprint(s, slices) : undefined;
      if (cached && (cached.raw ??= rawFingerprint(cached.svc, cached.slices)) === raw) {
        // New objects, same content: remember them so the next sync takes the fast path.
        entries.push({ key, model: cached.model, cached: { ...cached, svc: s, slices } });
        continue;
      }
      const model = buildServiceModel(s, slices, this.config);
      if (!model) continue; // headless / ExternalName: no rules
      entries.push({ key, model, ...(cached ? { cached } : {}), next: { svc: s, slices, ...(raw !== undefined ? { raw } : {}) } });
    }
    entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

    let endpoints = 0;
    for (const e of entries) for (const p of e.model.ports) endpoints += p.endpoints.length;
    const largeClusterMode = isLargeCluster(endpoints);
    const ctx = { config: this.config, largeClusterMode };

    // 2. Fragments: render what was modelled again (and, on a full sync, what was rendered in the
    //    other large-cluster mode). A Service is "changed" when its own chains read differently.
    //    Its chains that are not in the new rendering went stale.
    const nextCache = new Map<string, CachedService>();
    const fragments: ServiceFragment[] = [];
    const written = new Set<string>();
    const stale = new Set<string>();
    const udpConntrack: UdpConntrackChange[] = [];
    const order = entries.map((e) => e.key);
    let topChanged = order.length !== this.order.length || order.some((k, i) => k !== this.order[i]);
    for (const e of entries) {
      const c = e.cached;
      let entry: CachedService;
      if (e.next || !c || (full && c.fragment.largeClusterMode !== largeClusterMode)) {
        const fragment = renderService(ctx, e.model);
        const text = c ? chainsText(fragment) : undefined;
        const udp = e.next ? udpEndpoints(e.model) : c!.udp;
        if (e.next) udpConntrack.push(...udpChanges(e.model, udp, c?.udp));
        entry = { ...(e.next ?? { svc: c!.svc, slices: c!.slices, ...(c!.raw !== undefined ? { raw: c!.raw } : {}) }), model: e.model, fragment, ...(text !== undefined ? { chainsText: text } : {}), udp };
        if (!c || (c.chainsText ??= chainsText(c.fragment)) !== text) written.add(e.key);
        if (!topChanged && (!c || !sameTopRules(c.fragment, fragment))) topChanged = true;
        if (c) for (const ch of c.fragment.activeChains) if (!fragment.activeChains.includes(ch)) stale.add(ch);
      } else entry = c;
      nextCache.set(e.key, entry);
      fragments.push(entry.fragment);
      if (full) written.add(e.key);
    }
    // Services that are gone (or became headless): all their chains.
    for (const [key, c] of this.cache) if (!nextCache.has(key)) for (const ch of c.fragment.activeChains) stale.add(ch);
    // Leftovers: stale unless some Service uses them now.
    if (this.adopted.size > 0) {
      const inUse = new Set<string>();
      for (const f of fragments) for (const ch of f.activeChains) inUse.add(ch);
      for (const ch of this.adopted) if (!inUse.has(ch)) stale.add(ch);
    }
    const staleChains = [...stale].sort();

    const text = assembleRestore({
      config: this.config,
      fragments,
      writeChains: (k) => written.has(k),
      staleChains,
      writeTopLevel: full || this.topLevel === 'always' || topChanged,
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
      changed: full || written.size > 0 || staleChains.length > 0 || topChanged,
      next: { cache: nextCache, order },
    };
  }

  /** The plan was applied: adopt its state. */
  commit(plan: SyncPlan): void {
    this.cache = plan.next.cache;
    this.order = plan.next.order;
    this.adopted.clear();
    this.needFullSync = false;
  }

  /**
   * Applying the plan failed (perhaps half-way: iptables-restore commits table by table). The
   * next sync is a full one, and chains of both the old and the planned state count as possibly
   * present, so that whichever exist get cleaned up.
   */
  fail(plan: SyncPlan): void {
    for (const [key, c] of plan.next.cache) if (this.cache.get(key)?.fragment !== c.fragment) for (const ch of c.fragment.activeChains) this.adopted.add(ch);
    this.needFullSync = true;
  }

  /** Forget everything (after teardown): the next sync starts from scratch. */
  reset(): void {
    this.cache.clear();
    this.adopted.clear();
    this.order = [];
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
