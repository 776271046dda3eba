// What kube-proxy's two appliers share (syncer.ts: iptables mode, nft-syncer.ts: nftables mode):
// one queue for syncs, flush checks and teardowns (kube-proxy's sync runner), the forced full
// sync, and the other mode's rules removed once, after this mode's first sync is in place
// (kube-proxy cleans up the other modes' leftovers at start; after, not before, so that a Service
// is never without rules while the modes change). How a mode plans, writes, checks and removes
// its rules stays in its own class.
import type { EndpointSlice, Service } from '../api/types.ts';
import type { Netns } from '../sys/exec.ts';
import { SerialQueue } from '../util/serial-queue.ts';

/**
 * What the proxy sees, like kube-proxy's informers. Objects are treated as immutable: hand over
 * new objects for a change (as applyAllocations / computeEndpointSlices produce) — an object
 * passed again unchanged by identity is not looked at again.
 */
export interface ProxyState {
  /** Services after allocation (api/allocators.ts applyAllocations). */
  services: Service[];
  endpointSlices: EndpointSlice[];
  /** Optional hint: only these Services ("ns/name") changed since the last sync. */
  changed?: Iterable<string>;
}

export interface SyncResult {
  full: boolean;
  /** Nothing changed since the last sync: no iptables-restore was run. */
  skipped: boolean;
  /** Rules written by this sync (lines -A/-I/-D), per table. */
  rules: { filter: number; nat: number };
  chains: { filter: number; nat: number };
  /** Size of the iptables-restore input. */
  bytes: number;
  services: number;
  endpoints: number;
  servicesWritten: number;
  staleChainsDeleted: number;
  jumpsInserted: number;
  largeClusterMode: boolean;
  /** Time spent in iptables-restore alone. */
  restoreMs: number;
  /** From the call to the rules being applied (planning, jump checks, restore). */
  applyMs: number;
  /** Including the conntrack cleanup after the rules are in place. */
  totalMs: number;
  /** Processes spawned by this sync. */
  spawns: number;
}

export class ProxySyncError extends Error {
  constructor(
    message: string,
    readonly restoreInput: string,
  ) {
    super(message);
  }
}

/** What the shell needs of a mode's planner. */
interface ShellPlanner {
  needFullSync: boolean;
  reset(): void;
}

export interface SyncerShellOptions<P> {
  netns: Netns;
  planner: P;
  /** Remove the other mode's rules after the first successful sync. */
  cleanupOtherMode: boolean;
  /** How the other mode's rules are removed (its stateless teardown). */
  removeOtherMode: (netns: Netns) => Promise<unknown>;
}

/** A kube-proxy applier of one mode; `T` is what its teardown reports. */
export abstract class SyncerShell<P extends ShellPlanner, T> {
  readonly netns: Netns;
  readonly planner: P;
  /** Syncs, flush checks and teardowns, one at a time (kube-proxy's sync runner). */
  private readonly queue = new SerialQueue();
  private cleanupOtherMode: boolean;
  private readonly removeOtherMode: (netns: Netns) => Promise<unknown>;

  protected constructor(opts: SyncerShellOptions<P>) {
    this.netns = opts.netns;
    this.planner = opts.planner;
    this.cleanupOtherMode = opts.cleanupOtherMode;
    this.removeOtherMode = opts.removeOtherMode;
  }

  /** The next sync rewrites everything (kube-proxy's periodic / forced full sync). */
  requestFullSync(): void {
    this.planner.needFullSync = true;
  }

  /** Write the rules for this state: a full sync the first time (and after failures), else partial. */
  sync(state: ProxyState, opts: { full?: boolean } = {}): Promise<SyncResult> {
    return this.queue.run(() => this.doSync(state, opts));
  }

  fullSync(state: ProxyState): Promise<SyncResult> {
    return this.sync(state, { full: true });
  }

  /**
   * kube-proxy's flush detector: what of this mode's rules is gone. Empty = nothing to repair;
   * else the caller forces a full sync. Runs in the sync queue so it never sees a half-written sync.
   */
  lostRules(): Promise<string[]> {
    return this.queue.run(() => this.findLostRules());
  }

  /** Remove this mode's rules (kube-proxy's CleanupLeftovers) and forget what was written. */
  teardown(): Promise<T> {
    return this.queue.run(async () => {
      const r = await this.removeRules();
      this.planner.reset();
      return r;
    });
  }

  protected abstract doSync(state: ProxyState, opts: { full?: boolean }): Promise<SyncResult>;
  protected abstract findLostRules(): Promise<string[]>;
  protected abstract removeRules(): Promise<T>;

  /** Call once this mode's sync is in place: the first time, removes the other mode's rules. */
  protected async removeOtherModeOnce(): Promise<void> {
    if (!this.cleanupOtherMode) return;
    await this.removeOtherMode(this.netns);
    this.cleanupOtherMode = false;
  }
}
