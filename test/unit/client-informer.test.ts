// src/client: the work queue's guarantees and the informer's list/watch/relist, against a
// ListWatch that plays an API server's part (a list at a version, events, a 410, a closed watch).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Informer } from '../../src/client/informer.ts';
import type { KubeObject, ListWatch, WatchEvent, WatchOptions } from '../../src/client/types.ts';
import { runWorkers, WorkQueue } from '../../src/client/workqueue.ts';

const obj = (name: string, rv: string, ns = 'default'): KubeObject => ({ metadata: { name, namespace: ns, resourceVersion: rv } });

describe('WorkQueue', () => {
  it('holds a key once however often it is added, in order of first add', async () => {
    const q = new WorkQueue();
    for (const k of ['a', 'b', 'a', 'c', 'b']) q.add(k);
    expect(q.length).toBe(3);
    expect([await q.get(), await q.get(), await q.get()]).toEqual(['a', 'b', 'c']);
  });

  it('gives a key to one worker at a time, and again after done() when it was added meanwhile', async () => {
    const q = new WorkQueue();
    q.add('a');
    const k = await q.get();
    q.add('a'); // while being processed
    expect(q.length).toBe(0);
    q.done(k!);
    expect(q.length).toBe(1);
    expect(await q.get()).toBe('a');
    q.done('a');
    expect(q.length).toBe(0);
  });

  it('wakes a waiting get() on add, and ends every waiting get() at shutdown', async () => {
    const q = new WorkQueue();
    const waiting = q.get();
    q.add('x');
    expect(await waiting).toBe('x');
    const a = q.get();
    const b = q.get();
    q.shutDown();
    expect([await a, await b]).toEqual([undefined, undefined]);
    q.add('y');
    expect(await q.get()).toBeUndefined();
  });

  describe('backoff', () => {
    afterEach(() => vi.useRealTimers());
    it('retries a failed key after 5 ms, 10 ms, 20 ms ...; forget() starts over; the earliest pending add wins', async () => {
      vi.useFakeTimers();
      const q = new WorkQueue();
      q.addRateLimited('k');
      q.addRateLimited('k');
      expect(q.numRequeues('k')).toBe(2);
      expect(q.length).toBe(0);
      vi.advanceTimersByTime(4);
      expect(q.length).toBe(0);
      vi.advanceTimersByTime(1); // the 5 ms add is earlier than the 10 ms one, which is dropped
      expect(q.length).toBe(1);
      await q.get();
      q.done('k');
      vi.advanceTimersByTime(100);
      expect(q.length).toBe(0);
      q.forget('k');
      expect(q.numRequeues('k')).toBe(0);
      q.addAfter('z', 1000);
      q.addAfter('z', 10);
      vi.advanceTimersByTime(10);
      expect(q.length).toBe(1);
    });
  });

  it('runWorkers: a sync that throws is reported and retried until it succeeds', async () => {
    const q = new WorkQueue();
    const seen: string[] = [];
    const errors: string[] = [];
    let failures = 2;
    const done = runWorkers(
      q,
      2,
      async (key) => {
        seen.push(key);
        if (key === 'bad' && failures-- > 0) throw new Error(`boom ${failures}`);
        if (seen.filter((k) => k === 'bad').length === 3) q.shutDown();
      },
      (key, e) => errors.push(`${key}: ${(e as Error).message}`),
    );
    q.add('good');
    q.add('bad');
    await done;
    expect(seen.filter((k) => k === 'bad')).toHaveLength(3);
    expect(errors).toEqual(['bad: boom 1', 'bad: boom 0']);
    expect(q.numRequeues('bad')).toBe(0);
  });
});

/** A ListWatch driven by the test: lists answer `state`, watches are recorded with their version. */
class FakeApi implements ListWatch<KubeObject> {
  state: { items: KubeObject[]; resourceVersion: string } = { items: [], resourceVersion: '1' };
  lists = 0;
  listError: Error | null = null;
  watches: { opts: WatchOptions; emit: (e: WatchEvent<KubeObject>) => void; close: (err?: Error) => void; cancelled: boolean }[] = [];

  async list() {
    this.lists++;
    if (this.listError) throw this.listError;
    return structuredClone(this.state);
  }

  watch(opts: WatchOptions, onEvent: (e: WatchEvent<KubeObject>) => void, onClose: (err?: Error) => void) {
    const w = { opts, emit: onEvent, close: onClose, cancelled: false };
    this.watches.push(w);
    return () => void (w.cancelled = true);
  }

  get last() {
    return this.watches.at(-1)!;
  }
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('Informer', () => {
  const record = (inf: Informer<KubeObject>) => {
    const log: string[] = [];
    inf.addHandlers({
      add: (o) => log.push(`add ${o.metadata.name}@${o.metadata.resourceVersion}`),
      update: (a, b) => log.push(`update ${a.metadata.name}@${a.metadata.resourceVersion}->${b.metadata.resourceVersion}`),
      delete: (o) => log.push(`delete ${o.metadata.name}`),
    });
    return log;
  };

  it('lists, then watches from the list\'s version; events update the store and the handlers', async () => {
    const api = new FakeApi();
    api.state = { items: [obj('a', '3'), obj('b', '4')], resourceVersion: '5' };
    const inf = new Informer(api, { name: 'pods' });
    const log = record(inf);
    inf.start();
    await inf.waitForSync();
    await tick();
    expect(api.last.opts.resourceVersion).toBe('5');
    api.last.emit({ type: 'MODIFIED', object: obj('a', '6') });
    api.last.emit({ type: 'ADDED', object: obj('c', '7') });
    api.last.emit({ type: 'DELETED', object: obj('b', '8') });
    api.last.emit({ type: 'BOOKMARK', object: { metadata: { name: '', resourceVersion: '9' } } });
    expect(log).toEqual(['add a@3', 'add b@4', 'update a@3->6', 'add c@7', 'delete b']);
    expect(inf.list().map((o) => o.metadata.name).sort()).toEqual(['a', 'c']);
    expect(inf.get('default/a')?.metadata.resourceVersion).toBe('6');
    expect(inf.lastSyncResourceVersion).toBe('9');
    inf.stop();
    expect(api.last.cancelled).toBe(true);
  });

  it('watches again from the last version seen when a watch ends with an error', async () => {
    const api = new FakeApi();
    const inf = new Informer(api, { name: 'pods' });
    inf.start();
    await inf.waitForSync();
    await tick();
    api.last.emit({ type: 'ADDED', object: obj('a', '12') });
    api.last.close(new Error('connection reset'));
    await new Promise((r) => setTimeout(r, 150)); // first retry after 100 ms
    expect(api.watches).toHaveLength(2);
    expect(api.last.opts.resourceVersion).toBe('12');
    expect(api.lists).toBe(1);
    inf.stop();
  });

  it('lists again on 410 Gone, and tells the handlers what changed meanwhile', async () => {
    const api = new FakeApi();
    api.state = { items: [obj('a', '3'), obj('b', '4')], resourceVersion: '5' };
    const inf = new Informer(api, { name: 'pods' });
    const log = record(inf);
    inf.start();
    await inf.waitForSync();
    await tick();
    api.state = { items: [obj('a', '3'), obj('c', '20')], resourceVersion: '21' };
    api.last.emit({ type: 'ERROR', object: { kind: 'Status', code: 410, metadata: { name: '' } } as KubeObject });
    await tick();
    await tick();
    expect(api.lists).toBe(2);
    expect(api.last.opts.resourceVersion).toBe('21');
    expect(log).toEqual(['add a@3', 'add b@4', 'delete b', 'add c@20']);
    inf.stop();
  });

  it('keeps trying when the list fails, and replays the cache to a handler added late', async () => {
    const api = new FakeApi();
    api.listError = new Error('connection refused');
    const errors: string[] = [];
    const inf = new Informer(api, { name: 'services', log: (l) => errors.push(l) });
    inf.start();
    await tick();
    expect(inf.hasSynced()).toBe(false);
    api.listError = null;
    api.state = { items: [obj('web', '2')], resourceVersion: '2' };
    await inf.waitForSync();
    expect(errors[0]).toMatch(/^services: connection refused; again in 100 ms$/);
    const late: string[] = [];
    inf.addHandlers({ add: (o) => late.push(o.metadata.name) });
    expect(late).toEqual(['web']);
    inf.stop();
  });
});
