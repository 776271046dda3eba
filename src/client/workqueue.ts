// client-go's rate-limited work queue (k8s.io/client-go/util/workqueue), the heart of every
// controller: informer handlers add keys ("<namespace>/<name>"), workers take them one at a time.
// Its guarantees, which the controllers rely on:
// - a key is in the queue at most once, however often it is added before a worker takes it;
// - a key is processed by one worker at a time: added again while being processed, it is queued
//   again when that worker is done (so the newest state is always looked at once more);
// - a failed key comes back after a per-item exponential backoff (5 ms, 10 ms, ... up to 1000 s:
//   client-go's ItemExponentialFailureRateLimiter defaults) until `forget` resets it.
import { setLongTimeout, type LongTimer } from '../util/timers.ts';

export const BASE_RETRY_MS = 5;
export const MAX_RETRY_MS = 1000_000;

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly waiting = new Map<string, { at: number; timer: LongTimer }>();
  private readonly getters: ((key: string | undefined) => void)[] = [];
  private shuttingDown = false;

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return; // queued again by done()
    this.push(key);
  }

  /** Adds the key after `ms`; an earlier pending add of the same key wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) return this.add(key);
    const at = Date.now() + ms;
    const pending = this.waiting.get(key);
    if (pending && pending.at <= at) return;
    pending?.timer.clear();
    const timer = setLongTimeout(() => {
      this.waiting.delete(key);
      this.add(key);
    }, ms);
    this.waiting.set(key, { at, timer });
  }

  /** Adds the key again after its backoff: 5 ms doubling with each failure, at most 1000 s. */
  addRateLimited(key: string): void {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    this.addAfter(key, Math.min(BASE_RETRY_MS * 2 ** n, MAX_RETRY_MS));
  }

  /** The key succeeded: its backoff starts over. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  get length(): number {
    return this.queue.length;
  }

  /** The next key (marked as being processed), or undefined once the queue shuts down. */
  get(): Promise<string | undefined> {
    if (this.queue.length > 0) return Promise.resolve(this.take());
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.getters.push(resolve));
  }

  /** The worker is finished with `key`: if it was added meanwhile, it is queued again. */
  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) this.push(key);
  }

  shutDown(): void {
    this.shuttingDown = true;
    for (const w of this.waiting.values()) w.timer.clear();
    this.waiting.clear();
    for (const g of this.getters.splice(0)) g(undefined);
  }

  private push(key: string): void {
    const getter = this.getters.shift();
    if (getter) getter(this.take(key));
    else this.queue.push(key);
  }

  private take(key = this.queue.shift()!): string {
    this.dirty.delete(key);
    this.processing.add(key);
    return key;
  }
}

/**
 * `workers` loops taking keys from the queue until it shuts down; a key whose sync throws is
 * reported and retried after its backoff, one that succeeds is forgotten. Resolves when all
 * workers have stopped.
 */
export async function runWorkers(queue: WorkQueue, workers: number, sync: (key: string) => Promise<void>, onError: (key: string, err: unknown) => void): Promise<void> {
  const worker = async () => {
    for (let key = await queue.get(); key !== undefined; key = await queue.get()) {
      try {
        await sync(key);
        queue.forget(key);
      } catch (e) {
        onError(key, e);
        queue.addRateLimited(key);
      } finally {
        queue.done(key);
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
}
