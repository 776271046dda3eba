// WATCH with the semantics of kube-apiserver's watch cache (k8s.io/apiserver/pkg/storage/cacher):
//   resourceVersion "" or "0": the current state first, as ADDED events, then every change;
//   resourceVersion N: every change after N; N older than the compacted revision gets one ERROR
//     event carrying a 410 Expired Status (`too old resource version: N (M)`) and the watch ends,
//     which is how client-go's reflector learns to list again;
//   selectors filter each event by the object before and after it: an object that starts matching
//     arrives as ADDED, one that stops matching as DELETED (its last matching state, at the
//     revision of the change), one that matches on both sides as MODIFIED;
//   allowWatchBookmarks: a BOOKMARK now and then, an empty object carrying the revision reached.
// Events arrive synchronously, right after the write commits (the callback runs inside the writer's
// call), or through the stream's async iterator.
import { GoneError, type KineEvent } from '../storage/kine.ts';
import { decodeFromStorage, type KubeObject } from './object.ts';
import type { Registry } from './registry.ts';
import { matchesSelectors, parseResourceVersion, parseSelectors } from './registry-list.ts';
import { apiVersionOf, storagePrefix, type ResourceInfo } from './resources.ts';
import * as errors from './status.ts';
import type { Status } from './status.ts';

export interface WatchOptions {
  resourceVersion?: string;
  labelSelector?: string;
  fieldSelector?: string;
  allowWatchBookmarks?: boolean;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchEvent {
  type: WatchEventType;
  object: KubeObject | Status;
}

/** A watch's events: a callback given at the start gets them as they happen, else iterate. */
export class WatchStream implements AsyncIterable<WatchEvent> {
  private readonly queue: WatchEvent[] = [];
  private readonly waiters: ((r: IteratorResult<WatchEvent>) => void)[] = [];
  private closed = false;
  /** Why the watch ended on its own: a callback threw. */
  error: unknown;
  /** @internal */ onStop?: () => void;

  constructor(private readonly onEvent?: (event: WatchEvent) => void) {}

  get stopped(): boolean {
    return this.closed;
  }

  /** @internal */
  push(event: WatchEvent): void {
    if (this.closed) return;
    if (this.onEvent) this.onEvent(event);
    else if (this.waiters.length > 0) this.waiters.shift()!({ value: event, done: false });
    else this.queue.push(event);
  }

  stop(): void {
    if (this.closed) return;
    this.closed = true;
    this.onStop?.();
    for (const w of this.waiters.splice(0)) w({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
    return {
      next: () => {
        if (this.queue.length > 0) return Promise.resolve({ value: this.queue.shift()!, done: false });
        if (this.closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => this.waiters.push(resolve));
      },
      return: () => {
        this.stop();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}

export function watchObjects(registry: Registry, r: ResourceInfo, namespace: string | undefined, opts: WatchOptions, onEvent?: (event: WatchEvent) => void): WatchStream {
  const selectors = parseSelectors(r, opts);
  const requested = parseResourceVersion(opts.resourceVersion);
  const store = registry.store;
  const prefix = storagePrefix(r, namespace);
  const stream = new WatchStream(onEvent);
  const matches = (obj: KubeObject) => matchesSelectors(r, obj, selectors);

  let from = requested;
  if (from === undefined) {
    const { revision, kvs } = store.list(prefix);
    for (const kv of kvs) {
      const obj = decodeFromStorage(kv.value, kv.modRevision);
      if (matches(obj)) stream.push({ type: 'ADDED', object: obj });
    }
    from = revision;
  }

  const toWatchEvent = (e: KineEvent): WatchEvent | undefined => {
    const cur = e.type === 'delete' ? undefined : decodeFromStorage(e.value!, e.revision);
    const prev = e.type === 'create' || !e.prevValue ? undefined : decodeFromStorage(e.prevValue, e.prevRevision);
    const curPasses = cur !== undefined && matches(cur);
    const prevPasses = prev !== undefined && matches(prev);
    if (curPasses) return { type: prevPasses ? 'MODIFIED' : 'ADDED', object: cur };
    if (!prevPasses) return undefined;
    prev.metadata.resourceVersion = String(e.revision);
    return { type: 'DELETED', object: prev };
  };

  let cancel: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  // A callback may stop the watch while the first events are delivered: set the cleanup first.
  stream.onStop = () => {
    cancel?.();
    if (timer) clearInterval(timer);
  };
  try {
    cancel = store.watch(
      prefix,
      from,
      (events) => {
        for (const e of events) {
          const event = toWatchEvent(e);
          if (event) stream.push(event);
        }
      },
      (err) => {
        stream.error = err;
        stream.stop();
      },
    );
  } catch (err) {
    if (!(err instanceof GoneError)) throw err;
    stream.push({ type: 'ERROR', object: errors.resourceExpired(`too old resource version: ${err.requested} (${err.compactRevision})`).status });
    stream.stop();
    return stream;
  }
  if (stream.stopped) cancel();
  else if (opts.allowWatchBookmarks) {
    timer = setInterval(() => {
      const bookmark = { apiVersion: apiVersionOf(r), kind: r.kind, metadata: { resourceVersion: String(store.currentRevision()) } };
      stream.push({ type: 'BOOKMARK', object: bookmark });
    }, registry.bookmarkIntervalMs);
    timer.unref();
  }
  return stream;
}
