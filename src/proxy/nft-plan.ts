// kube-proxy's nftables sync bookkeeping, pure: which Services changed, which elements of the
// shared maps and sets must go in or out, which chains went stale — and the one `nft -f`
// transaction that does it.
//
// Full sync (setupNFTables + every Service): the fixed chains are added and flushed, the maps and
// sets flushed and filled again, every per-service chain added, flushed and written.
// Partial sync (kube-proxy >= 1.31, with v1.33's element storage): only the Services that changed
// get their chains added, flushed and written; the maps and sets get element deltas (a changed
// verdict is deleted and added again, as nftElementStorage.ensureElem does); nothing else is
// written, and when nothing changed there is no transaction at all.
//
// Stale per-service chains are flushed at once and deleted at least a second later (kernels
// before 6.2 notice late that a removed map element no longer references a chain): by the first
// sync after that which makes nft fetch the table anyway (one with deletions; a full sync), or
// once one has waited 10 s (STALE_CHAIN_MAX_DEFER_MS); stale affinity sets are deleted at once.
// A partial sync writes its chains and elements in forms for which nft needs no cache of the
// table (nft-render.ts): one endpoint change among 10,000 Services then costs nft no listing of
// the table's 60,000 chains. kube-proxy finds them with `nft list chains` / `nft list
// sets` on every sync; the lab keeps them in memory and, on its first sync (and after a failed
// one, when memory and kernel may differ), replaces the whole table in the same transaction
// (`add table` + `delete table` + the new table: atomic, no packet sees it empty).
import { rawFingerprint, sameRefs } from './sync-plan.ts';
import type { EndpointSlice, Service } from '../api/types.ts';
import { buildServiceModel, slicesByService, type ProxyConfig } from './model.ts';
import { NFT_TABLE_REF, NODEPORT_IPS_SET } from './nft-names.ts';
import {
  affinitySetLine,
  baseChainLine,
  chainRulesLine,
  containerElementsLine,
  deleteElementLine,
  elementLine,
  NFT_BASE_CHAINS,
  nftContainers,
  nftTopChains,
  nftTopRules,
  nodePortIPs,
  nodePortMatchAll,
  renderNftService,
  ruleLine,
  topChainLine,
  type NftElement,
  type NftServiceFragment,
} from './nft-render.ts';

const T = NFT_TABLE_REF;
/** How long a stale chain is kept (flushed) before it is deleted (kube-proxy: one second). */
export const STALE_CHAIN_DELAY_MS = 1000;
/**
 * `delete chain` makes nft fetch the whole table's chains and sets first (130 ms with 10,000
 * Services), which a partial sync otherwise does not need. So chains that are due go with the
 * first sync that pays for that cache anyway (element or set deletions, a full sync), or once one
 * of them has waited this long: an empty chain nothing points to costs nothing meanwhile.
 */
export const STALE_CHAIN_MAX_DEFER_MS = 10_000;

export interface NftPlanRequest {
  services: Service[];
  endpointSlices: EndpointSlice[];
  full?: boolean;
  /** Like kube-proxy's change trackers: only these Services ("ns/name") changed. */
  changed?: Iterable<string>;
  /** Clock for stale chains (tests). */
  now?: number;
}

interface Cached {
  svc: Service;
  slices: EndpointSlice[];
  raw?: string;
  fragment: NftServiceFragment;
  /** The Service's chains and sets as text: equal means its chains need no rewrite (made when first compared). */
  chainsText?: string;
  /** Its endpoint chains. */
  endpoints: number;
}

export interface NftSyncPlan {
  /** The `nft -f` input; '' when nothing is to be written. */
  text: string;
  full: boolean;
  /** The whole table is replaced (first sync, or after a failure). */
  replaceTable: boolean;
  changed: boolean;
  services: number;
  endpoints: number;
  servicesWritten: number;
  /** Element lines (add + delete) in the transaction. */
  elementOps: number;
  /** Rules written. */
  rules: number;
  staleChainsFlushed: number;
  staleChainsDeleted: number;
  bytes: number;
  /** @internal */
  readonly next: { cache: Map<string, Cached>; stale: Map<string, number>; elements?: Map<string, NftElement>; elementChanges: Map<string, NftElement | null> };
}

const NO_SLICES: EndpointSlice[] = [];

/** "<namespace>/<name>" of a Service object, computed once per object (a partial sync looks at all of them). */
const keyOf = new WeakMap<Service, string>();
function serviceKey(s: Service): string {
  let k = keyOf.get(s);
  if (k === undefined) keyOf.set(s, (k = `${s.metadata.namespace}/${s.metadata.name}`));
  return k;
}

function endpointChains(f: NftServiceFragment): number {
  let n = 0;
  for (const c of f.chains) if (c.name.startsWith('endpoint-')) n++;
  return n;
}

function chainsText(f: NftServiceFragment): string {
  let t = '';
  for (const s of f.affinitySets) t += `${s.name} ${s.timeoutSeconds}\n`;
  for (const c of f.chains) t += `${c.name}\n${c.rules.join('\n')}\n`;
  return t;
}

const elementKey = (e: NftElement) => `${e.container} ${e.key}`;

/** Lines that add and flush one per-service chain and write its rules. */
function writeChains(out: string[], f: NftServiceFragment): number {
  let rules = 0;
  for (const s of f.affinitySets) out.push(affinitySetLine(s));
  for (const c of f.chains) out.push(`add chain ${T} ${c.name}`, `flush chain ${T} ${c.name}`);
  for (const c of f.chains) {
    for (const r of c.rules) out.push(ruleLine(c.name, r));
    rules += c.rules.length;
  }
  return rules;
}

/**
 * The same for a partial sync, in the forms that need no nft cache (nft-render.ts): every chain
 * added and flushed first (rules jump to one another), then each chain again with its rules.
 */
function writeChainsPartial(out: string[], f: NftServiceFragment): number {
  let rules = 0;
  for (const s of f.affinitySets) out.push(affinitySetLine(s));
  for (const c of f.chains) out.push(`add chain ${T} ${c.name}`, `flush chain ${T} ${c.name}`);
  for (const c of f.chains) {
    if (c.rules.length) out.push(chainRulesLine(c.name, c.rules));
    rules += c.rules.length;
  }
  return rules;
}

export class NftSyncPlanner {
  readonly config: ProxyConfig;
  needFullSync = true;
  /** The kernel's table may not match memory (start, failed sync): the next full sync replaces it. */
  private replaceTable = true;
  private cache = new Map<string, Cached>();
  /** Stale chain -> when it was flushed. */
  private stale = new Map<string, number>();
  /** Elements in the kernel's maps and sets, "<container> <key>" -> element. */
  private elements = new Map<string, NftElement>();

  constructor(opts: { config: ProxyConfig }) {
    this.config = opts.config;
  }

  /** Per-service chains the planner believes exist. */
  get activeChains(): ReadonlySet<string> {
    const out = new Set<string>();
    for (const c of this.cache.values()) for (const ch of c.fragment.chains) out.add(ch.name);
    return out;
  }

  plan(req: NftPlanRequest): NftSyncPlan {
    const now = req.now ?? Date.now();
    const full = Boolean(req.full) || this.needFullSync;
    const replaceTable = full && this.replaceTable;
    const hint = req.changed && !full ? new Set(req.changed) : undefined;
    const bySvc = slicesByService(req.endpointSlices);

    const nextCache = new Map<string, Cached>();
    const written: NftServiceFragment[] = [];
    const removedFragments: NftServiceFragment[] = [];
    const changedPairs: { before?: NftServiceFragment; after: NftServiceFragment }[] = [];
    let endpoints = 0;
    const keys: string[] = [];
    for (const s of req.services) {
      const key = serviceKey(s);
      const slices = bySvc.get(key) ?? NO_SLICES;
      const cached = this.cache.get(key);
      let entry: Cached | undefined;
      if (cached && ((hint && !hint.has(key)) || (cached.svc === s && sameRefs(cached.slices, slices)))) entry = cached;
      else {
        const raw = cached ? rawFingerprint(s, slices) : undefined;
        if (cached && (cached.raw ??= rawFingerprint(cached.svc, cached.slices)) === raw) entry = { ...cached, svc: s, slices };
        else {
          const model = buildServiceModel(s, slices, this.config);
          if (!model) continue; // headless / ExternalName
          const fragment = renderNftService(this.config, model);
          entry = { svc: s, slices, ...(raw !== undefined ? { raw } : {}), fragment, endpoints: endpointChains(fragment) };
          changedPairs.push({ ...(cached ? { before: cached.fragment } : {}), after: fragment });
          if (!full && (!cached || (cached.chainsText ??= chainsText(cached.fragment)) !== (entry.chainsText = chainsText(fragment)))) written.push(fragment);
        }
      }
      nextCache.set(key, entry);
      keys.push(key);
      endpoints += entry.endpoints;
    }
    for (const [key, c] of this.cache) if (!nextCache.has(key)) removedFragments.push(c.fragment);

    // Chains and affinity sets that were in use and are no more. Chain and set names carry the
    // Service's name: only Services that changed or went away can leave any (a partial sync looks at
    // those alone, not at the 60,000 chains of 10,000 unchanged Services).
    const active = new Set<string>();
    const activeSets = new Set<string>();
    const before = new Set<string>();
    const beforeSets = new Set<string>();
    if (!replaceTable) {
      const olds = [...removedFragments, ...changedPairs.flatMap((p) => (p.before ? [p.before] : []))];
      for (const f of olds) {
        for (const ch of f.chains) before.add(ch.name);
        for (const st of f.affinitySets) beforeSets.add(st.name);
      }
      for (const p of changedPairs) {
        for (const ch of p.after.chains) active.add(ch.name);
        for (const st of p.after.affinitySets) activeSets.add(st.name);
      }
    }
    const nextStale = new Map<string, number>();
    const head: string[] = [];
    const body: string[] = [];
    let staleChainsDeleted = 0;
    // Chains flushed at least a second ago: deleted before anything else (which sync: below).
    const due: [string, number][] = [];
    if (!replaceTable) {
      for (const [chain, since] of this.stale) {
        if (active.has(chain)) continue; // in use again
        if (now - since >= STALE_CHAIN_DELAY_MS) due.push([chain, since]);
        else nextStale.set(chain, since);
      }
    }

    let rules = 0;
    let elementOps = 0;
    /** The transaction has commands for which nft fetches the table's chains and sets anyway. */
    let needCache = full;
    // A full sync starts the elements afresh; a partial one records its changes, applied on commit
    // (copying 30,000 elements for each partial sync would cost more than the sync's own work).
    const nextElements = full ? new Map<string, NftElement>() : undefined;
    const elementChanges = new Map<string, NftElement | null>();
    const current = (k: string) => (elementChanges.has(k) ? (elementChanges.get(k) ?? undefined) : this.elements.get(k));
    if (full) {
      head.unshift(`add table ${T} { comment "rules for kube-proxy" ; }`);
      if (replaceTable) head.push(`delete table ${T}`, `add table ${T} { comment "rules for kube-proxy" ; }`);
      for (const bc of NFT_BASE_CHAINS) body.push(baseChainLine(bc), `flush chain ${T} ${bc.name}`);
      for (const c of nftTopChains()) body.push(topChainLine(c), `flush chain ${T} ${c}`);
      for (const c of nftContainers(this.config)) body.push(`add ${c.kind} ${T} ${c.name} { ${c.spec} }`, `flush ${c.kind} ${T} ${c.name}`);
      if (nodePortMatchAll(this.config)) body.push(`add set ${T} ${NODEPORT_IPS_SET} { type ipv4_addr ; comment "IPs that accept NodePort traffic" ; }`, `delete set ${T} ${NODEPORT_IPS_SET}`);
      for (const [chain, rule] of nftTopRules(this.config)) body.push(ruleLine(chain, rule));
      rules += nftTopRules(this.config).length;
      if (!nodePortMatchAll(this.config)) for (const ip of nodePortIPs(this.config)) body.push(elementLine({ container: NODEPORT_IPS_SET, key: ip }));
      for (const c of nextCache.values()) rules += writeChains(body, c.fragment);
      for (const c of nextCache.values()) {
        for (const e of c.fragment.elements) {
          body.push(elementLine(e));
          nextElements!.set(elementKey(e), e);
        }
        elementOps += c.fragment.elements.length;
      }
    } else {
      for (const f of written) rules += writeChainsPartial(body, f);
      // Element deltas of the Services that changed or went away.
      const wanted = new Map<string, NftElement>();
      const dropped = new Map<string, NftElement>();
      for (const f of removedFragments) for (const e of f.elements) dropped.set(elementKey(e), e);
      for (const { before: b, after } of changedPairs) {
        if (b) for (const e of b.elements) dropped.set(elementKey(e), e);
        for (const e of after.elements) wanted.set(elementKey(e), e);
      }
      const dels: string[] = [];
      const adds: NftElement[] = [];
      for (const [k, e] of dropped) {
        if (wanted.has(k) || !current(k)) continue;
        dels.push(deleteElementLine(e));
        elementChanges.set(k, null);
      }
      for (const [k, e] of wanted) {
        const cur = current(k);
        if (cur && cur.value === e.value) continue;
        if (cur) dels.push(deleteElementLine(e));
        adds.push(e);
        elementChanges.set(k, e);
      }
      // Deletions first: a map element may be the last reference to a chain that goes stale.
      body.unshift(...dels);
      elementOps += dels.length + adds.length;
      // The additions through their set's or map's declaration, one command per container.
      const byContainer = new Map<string, NftElement[]>();
      for (const e of adds) {
        const list = byContainer.get(e.container);
        if (list) list.push(e);
        else byContainer.set(e.container, [e]);
      }
      const specs = new Map(nftContainers(this.config).map((c) => [c.name, c]));
      for (const [name, list] of byContainer) {
        const c = specs.get(name);
        if (c) body.push(containerElementsLine(c, list));
        else for (const e of list) body.push(elementLine(e));
      }
      needCache = dels.length > 0;
    }

    // Chains no Service uses any more: flushed now, deleted by a later sync.
    let staleChainsFlushed = 0;
    for (const ch of before) {
      if (active.has(ch)) continue;
      body.push(`flush chain ${T} ${ch}`);
      nextStale.set(ch, now);
      staleChainsFlushed++;
    }
    for (const s of beforeSets) {
      if (activeSets.has(s)) continue;
      body.push(`delete set ${T} ${s}`);
      needCache = true;
    }
    if (due.length && (needCache || due.some(([, since]) => now - since >= STALE_CHAIN_MAX_DEFER_MS))) {
      for (const [chain] of due) head.push(`delete chain ${T} ${chain}`);
      staleChainsDeleted = due.length;
    } else for (const [chain, since] of due) nextStale.set(chain, since);

    const lines = [...head, ...body];
    const changed = full || lines.length > 0;
    const text = lines.length ? lines.join('\n') + '\n' : '';
    return {
      text,
      full,
      replaceTable,
      changed,
      services: keys.length,
      endpoints,
      servicesWritten: full ? nextCache.size : written.length,
      elementOps,
      rules,
      staleChainsFlushed,
      staleChainsDeleted,
      bytes: Buffer.byteLength(text),
      next: { cache: nextCache, stale: nextStale, ...(nextElements ? { elements: nextElements } : {}), elementChanges },
    };
  }

  commit(plan: NftSyncPlan): void {
    this.cache = plan.next.cache;
    this.stale = plan.next.stale;
    if (plan.next.elements) this.elements = plan.next.elements;
    for (const [k, e] of plan.next.elementChanges) {
      if (e) this.elements.set(k, e);
      else this.elements.delete(k);
    }
    this.needFullSync = false;
    this.replaceTable = false;
  }

  /** The transaction failed (nothing of it applied): the next sync replaces the table. */
  fail(): void {
    this.needFullSync = true;
    this.replaceTable = true;
  }

  reset(): void {
    this.cache.clear();
    this.stale.clear();
    this.elements.clear();
    this.needFullSync = true;
    this.replaceTable = true;
  }
}
