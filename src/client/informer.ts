// client-go's informer, small: a reflector (list, then watch from the list's resourceVersion; on
// a watch that ends, watch again from the last version seen; on 410 Gone, list again), a store
// of the objects by key, and handlers told of every add, update and delete. Controllers read the
// store (their cache) and queue keys from the handlers; they never list the API on their own.
import { setLongTimeout, type LongTimer } from '../util/timers.ts';
import { objectKey, statusCode, type KubeObject, type ListWatch, type WatchEvent } from './types.ts';

export interface InformerHandlers<T> {
  add?(obj: T): void;
  update?(old: T, obj: T): void;
  delete?(obj: T): void;
}

export interface InformerOptions {
  /** For log lines: the resource, e.g. "pods". */
  name: string;
  log?: (line: string) => void;
  /** client-go's resync: every handler's update(obj, obj) for every object this often (0: never). */
  resyncMs?: number;
}

/** Wait before listing or watching again after a failure: 100 ms doubling to 30 s (client-go's reflector backs off likewise). */
const RETRY_MS = [100, 200, 400, 800, 1600, 3200, 6400, 12800, 30_000];

export class Informer<T extends KubeObject> {
  private readonly items = new Map<string, T>();
  private readonly handlers: InformerHandlers<T>[] = [];
  private readonly syncWaiters: (() => void)[] = [];
  private cancelWatch: (() => void) | null = null;
  private retryTimer: LongTimer | null = null;
  private resyncTimer: NodeJS.Timeout | null = null;
  private failures = 0;
  private running = false;
  private synced = false;
  /** The newest resourceVersion seen: where a new watch starts. */
  lastSyncResourceVersion = '';

  constructor(
    private readonly lw: ListWatch<T>,
    private readonly opts: InformerOptions,
  ) {}

  addHandlers(h: InformerHandlers<T>): void {
    this.handlers.push(h);
    // client-go replays the cache to a handler added late.
    for (const o of this.items.values()) h.add?.(o);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.listAndWatch();
    if (this.opts.resyncMs) {
      this.resyncTimer = setInterval(() => {
        for (const o of this.items.values()) for (const h of this.handlers) h.update?.(o, o);
      }, this.opts.resyncMs);
      this.resyncTimer.unref();
    }
  }

  stop(): void {
    this.running = false;
    this.cancelWatch?.();
    this.cancelWatch = null;
    this.retryTimer?.clear();
    if (this.resyncTimer) clearInterval(this.resyncTimer);
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves once the first list is in the store. */
  waitForSync(): Promise<void> {
    return this.synced ? Promise.resolve() : new Promise((r) => this.syncWaiters.push(r));
  }

  get(key: string): T | undefined {
    return this.items.get(key);
  }

  list(): T[] {
    return [...this.items.values()];
  }

  private retry(what: () => void, err: unknown): void {
    if (!this.running) return;
    const ms = RETRY_MS[Math.min(this.failures++, RETRY_MS.length - 1)]!;
    this.opts.log?.(`${this.opts.name}: ${(err as Error)?.message ?? err}; again in ${ms} ms`);
    this.retryTimer = setLongTimeout(what, ms, { unref: true });
  }

  private async listAndWatch(): Promise<void> {
    if (!this.running) return;
    let list;
    try {
      list = await this.lw.list();
    } catch (e) {
      return this.retry(() => void this.listAndWatch(), e);
    }
    if (!this.running) return;
    this.replace(list.items);
    this.lastSyncResourceVersion = list.resourceVersion;
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
    this.watch();
  }

  private watch(): void {
    if (!this.running) return;
    let ended = false;
    const end = () => {
      ended = true;
      this.cancelWatch?.();
      this.cancelWatch = null;
    };
    this.cancelWatch = this.lw.watch(
      { resourceVersion: this.lastSyncResourceVersion, allowWatchBookmarks: true },
      (e) => {
        if (ended) return;
        if (e.type === 'ERROR') {
          end();
          // 410 Gone: the version is compacted away; only a new list can catch up.
          if (statusCode(e.object) === 410) void this.listAndWatch();
          else this.retry(() => this.watch(), new Error(`watch error: ${JSON.stringify(e.object)}`));
          return;
        }
        this.failures = 0;
        this.apply(e);
      },
      (err) => {
        if (ended) return;
        ended = true;
        this.cancelWatch = null;
        if (err) this.retry(() => this.watch(), err);
      },
    );
  }

  private apply(e: WatchEvent<T>): void {
    const rv = e.object.metadata?.resourceVersion;
    if (rv) this.lastSyncResourceVersion = rv;
    if (e.type === 'BOOKMARK') return;
    const key = objectKey(e.object);
    const old = this.items.get(key);
    if (e.type === 'DELETED') {
      this.items.delete(key);
      for (const h of this.handlers) h.delete?.(old ?? e.object);
      return;
    }
    this.items.set(key, e.object);
    for (const h of this.handlers) {
      if (old) h.update?.(old, e.object);
      else h.add?.(e.object);
    }
  }

  /** A new list: what is gone is deleted, what is new added, what changed updated. */
  private replace(items: T[]): void {
    const fresh = new Map(items.map((o) => [objectKey(o), o]));
    for (const [key, old] of this.items) {
      if (fresh.has(key)) continue;
      this.items.delete(key);
      for (const h of this.handlers) h.delete?.(old);
    }
    for (const [key, o] of fresh) {
      const old = this.items.get(key);
      this.items.set(key, o);
      if (!old) for (const h of this.handlers) h.add?.(o);
      else if (old.metadata.resourceVersion !== o.metadata.resourceVersion) for (const h of this.handlers) h.update?.(old, o);
    }
  }
}
