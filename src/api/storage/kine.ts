// KineStore: the API server's storage, kine's log on SQLite (better-sqlite3, WAL). Every write is a
// new row whose id is the revision (the object's resourceVersion); reads take each key's newest row.
// The table and its meaning are in kine-schema.ts.
//
// Writes are transactions that take SQLite's write lock first (BEGIN IMMEDIATE, kine's
// `_txlock=immediate`), so a compare-and-swap holds against another process writing the same file;
// the (name, prev_revision) unique index makes two writers that read the same row fail the second,
// as it does in kine. Another process opening the file reads everything committed.
//
// Watch is in-process: watchers hear every write of this store synchronously, right after it
// commits, in revision order, and rows other processes wrote since the last delivery are read and
// delivered first (kine polls for those once a second; call poll() for the same).
import Database from 'better-sqlite3';
import { FutureRevisionError, GoneError, KeyExistsError, KeyNotFoundError, RevisionConflictError, type KeyValue } from './kine-errors.ts';
import { COMPACT_REV_KEY, HEALTH_KEY, HEALTH_VALUE, KINE_SCHEMA, prefixEnd } from './kine-schema.ts';

export { FutureRevisionError, GoneError, KeyExistsError, KeyNotFoundError, RevisionConflictError, type KeyValue };

export interface KineEvent {
  type: 'create' | 'update' | 'delete';
  key: string;
  /** The row id: the revision of this write. */
  revision: number;
  /** null on a delete. */
  value: Buffer | null;
  /** The key's previous value (the old_value column); null on a first create. */
  prevValue: Buffer | null;
  prevRevision: number;
  /** The revision that created the key; 0 on a delete (as the tombstone row stores it). */
  createRevision: number;
}

interface Row {
  id: number;
  name: string;
  created: number;
  deleted: number;
  create_revision: number;
  prev_revision: number;
  lease: number;
  value: Buffer | null;
  old_value?: Buffer | null;
}

interface Watcher {
  prefix: string;
  end: string;
  after: number;
  onEvents: (events: KineEvent[]) => void;
  onError?: (err: unknown) => void;
}

export interface ListOptions {
  /** The state as of this revision (default: the newest). */
  revision?: number;
  /** Start at this key (inclusive) instead of the prefix: how a continue token resumes a list. */
  startKey?: string;
  limit?: number;
}

const COLUMNS = 'id, name, created, deleted, create_revision, prev_revision, lease, value';

export class KineStore {
  private readonly db: Database.Database;
  private readonly watchers = new Set<Watcher>();
  private broadcastRev: number;
  private dispatching = false;
  private again = false;
  private readonly q;
  private readonly runTx: Database.Transaction<(fn: () => unknown) => unknown>;

  constructor(readonly path: string) {
    this.db = new Database(path);
    // WAL lets readers (another process: `lab get`) read while this one writes; ':memory:' stays 'memory'.
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 30000');
    this.db.pragma('synchronous = NORMAL');
    for (const statement of KINE_SCHEMA) this.db.exec(statement);
    this.runTx = this.db.transaction((fn: () => unknown) => fn());
    this.q = {
      current: this.db.prepare<[], { rev: number | null }>('SELECT MAX(id) AS rev FROM kine'),
      compact: this.db.prepare<[string], { rev: number | null }>('SELECT MAX(prev_revision) AS rev FROM kine WHERE name = ?'),
      latest: this.db.prepare<[string], Row>(`SELECT ${COLUMNS} FROM kine WHERE name = ? ORDER BY id DESC LIMIT 1`),
      insert: this.db.prepare<[string, number, number, number, number, number, Buffer | null, number]>(
        'INSERT INTO kine (name, created, deleted, create_revision, prev_revision, lease, value, old_value) ' +
          'VALUES (?, ?, ?, ?, ?, ?, ?, (SELECT k.value FROM kine AS k WHERE k.id = ?))',
      ),
      // Each key's newest row at or below a revision, in key order; tombstones are dropped afterwards.
      list: this.db.prepare<[string, string, number, number], Row>(
        `SELECT ${COLUMNS} FROM kine WHERE id IN ` +
          '(SELECT MAX(id) FROM kine WHERE name >= ? AND name < ? AND id <= ? GROUP BY name) AND deleted = 0 ORDER BY name LIMIT ?',
      ),
      rowsAfter: this.db.prepare<[number], Row>(`SELECT ${COLUMNS}, old_value FROM kine WHERE id > ? ORDER BY id`),
      rangeBetween: this.db.prepare<[string, string, number, number], Row>(
        `SELECT ${COLUMNS}, old_value FROM kine WHERE name >= ? AND name < ? AND id > ? AND id <= ? ORDER BY id`,
      ),
      // kine's compaction: the rows another row has superseded (named as its prev_revision) and the
      // tombstones, at or below the target; each key's newest row stays, so the state at the target
      // and after is whole.
      compactDelete: this.db.prepare<[number, number, string]>(
        'DELETE FROM kine WHERE id <= ? AND (deleted != 0 OR id IN ' +
          '(SELECT prev_revision FROM kine WHERE id <= ? AND prev_revision != 0 AND name != ?))',
      ),
      setCompact: this.db.prepare<[number, string]>('UPDATE kine SET prev_revision = ? WHERE name = ?'),
    };
    this.tx(() => {
      if (!this.q.latest.get(COMPACT_REV_KEY)) this.insertRow(COMPACT_REV_KEY, 1, 0, 0, 0, 0, Buffer.alloc(0));
      if (!this.q.latest.get(HEALTH_KEY)) this.insertRow(HEALTH_KEY, 1, 0, 0, 0, 0, Buffer.from(HEALTH_VALUE));
    });
    this.broadcastRev = this.currentRevision();
  }

  /** The newest revision (MAX(id), as kine). It continues across restarts: ids are AUTOINCREMENT. */
  currentRevision(): number {
    return this.q.current.get()?.rev ?? 0;
  }

  /** Revisions at or below this one may be gone; lists and watches from before it fail with GoneError. */
  compactRevision(): number {
    return this.q.compact.get(COMPACT_REV_KEY)?.rev ?? 0;
  }

  /** The key's newest value, unless it is deleted. */
  get(key: string): KeyValue | undefined {
    const row = this.q.latest.get(key);
    return row && !row.deleted ? toKeyValue(row) : undefined;
  }

  /** The live keys under a prefix, in key order, as of `revision` (default: now). */
  list(prefix: string, opts: ListOptions = {}): { revision: number; kvs: KeyValue[] } {
    const current = this.currentRevision();
    const at = opts.revision ?? current;
    if (at > current) throw new FutureRevisionError(at, current);
    const compacted = this.compactRevision();
    if (opts.revision !== undefined && at < compacted) throw new GoneError(at, compacted, current);
    const start = opts.startKey !== undefined && opts.startKey > prefix ? opts.startKey : prefix;
    const rows = this.q.list.all(start, prefixEnd(prefix), at, opts.limit && opts.limit > 0 ? opts.limit : -1);
    return { revision: current, kvs: rows.map(toKeyValue) };
  }

  /** Creates a key; KeyExistsError if it exists (a deleted key may be created again). */
  create(key: string, value: Buffer | string, lease = 0): number {
    const bytes = toBuffer(value);
    let prev: Row | undefined;
    const rev = this.tx(() => {
      prev = this.q.latest.get(key);
      if (prev && !prev.deleted) throw new KeyExistsError(key);
      return this.insertRow(key, 1, 0, 0, prev?.id ?? 0, lease, bytes);
    });
    this.afterWrite({ type: 'create', key, revision: rev, value: bytes, prevValue: prev?.value ?? null, prevRevision: prev?.id ?? 0, createRevision: rev });
    return rev;
  }

  /** Compare-and-swap on the key's newest revision. */
  update(key: string, value: Buffer | string, expectedRevision: number, lease = 0): number {
    const bytes = toBuffer(value);
    let prev!: Row;
    const rev = this.tx(() => {
      prev = this.liveRow(key);
      if (prev.id !== expectedRevision) throw new RevisionConflictError(key, expectedRevision, toKeyValue(prev));
      return this.insertRow(key, 0, 0, createRevisionOf(prev), prev.id, lease, bytes);
    });
    this.afterWrite({ type: 'update', key, revision: rev, value: bytes, prevValue: prev.value, prevRevision: prev.id, createRevision: createRevisionOf(prev) });
    return rev;
  }

  /** Writes a tombstone; with expectedRevision, only if the key is still at that revision. */
  delete(key: string, expectedRevision?: number): { revision: number; prev: KeyValue } {
    let prev!: Row;
    const rev = this.tx(() => {
      prev = this.liveRow(key);
      if (expectedRevision !== undefined && prev.id !== expectedRevision) {
        throw new RevisionConflictError(key, expectedRevision, toKeyValue(prev));
      }
      // As kine: the tombstone carries no value, no lease and create_revision 0.
      return this.insertRow(key, 0, 1, 0, prev.id, 0, null);
    });
    this.afterWrite({ type: 'delete', key, revision: rev, value: null, prevValue: prev.value, prevRevision: prev.id, createRevision: 0 });
    return { revision: rev, prev: toKeyValue(prev) };
  }

  /**
   * Calls onEvents with every write under `prefix` after `fromRevision`, in revision order: first
   * those already stored (before watch returns), then each new write as it commits. Throws GoneError
   * when fromRevision is older than the compacted revision. Returns the function that cancels.
   * A callback that throws is cancelled and its error goes to onError.
   */
  watch(prefix: string, fromRevision: number, onEvents: (events: KineEvent[]) => void, onError?: (err: unknown) => void): () => void {
    this.dispatch();
    const compacted = this.compactRevision();
    if (fromRevision < compacted) throw new GoneError(fromRevision, compacted, this.currentRevision());
    const end = prefixEnd(prefix);
    const upTo = this.broadcastRev;
    const backlog = fromRevision < upTo ? this.q.rangeBetween.all(prefix, end, fromRevision, upTo).map(toEvent) : [];
    const watcher: Watcher = { prefix, end, after: fromRevision, onEvents, onError };
    this.watchers.add(watcher);
    this.guarded(() => {
      this.deliver(watcher, backlog, true);
      watcher.after = Math.max(watcher.after, upTo);
    });
    return () => {
      this.watchers.delete(watcher);
    };
  }

  /** Delivers rows that other processes wrote since the last delivery (kine's once-a-second poll). */
  poll(): void {
    this.dispatch();
  }

  /**
   * Compacts as kine does: keeps the newest `keep` revisions whole and, below them, each key's newest
   * row; superseded rows and tombstones go. Returns the compacted revision.
   */
  compact(keep: number): number {
    if (!Number.isInteger(keep) || keep < 1) throw new RangeError(`keep must be a positive integer, not ${keep}`);
    this.dispatch();
    const target = this.tx(() => {
      const compacted = this.compactRevision();
      const to = this.currentRevision() - keep;
      if (to <= compacted) return compacted;
      this.q.compactDelete.run(to, to, COMPACT_REV_KEY);
      this.q.setCompact.run(to, COMPACT_REV_KEY);
      return to;
    });
    // kine's post-compaction step: write the WAL back into the database file.
    this.db.pragma('wal_checkpoint(FULL)');
    return target;
  }

  close(): void {
    this.watchers.clear();
    this.db.close();
  }

  private tx<T>(fn: () => T): T {
    return this.runTx.immediate(fn) as T;
  }

  private liveRow(key: string): Row {
    const row = this.q.latest.get(key);
    if (!row || row.deleted) throw new KeyNotFoundError(key);
    return row;
  }

  private insertRow(name: string, created: number, deleted: number, createRev: number, prevRev: number, lease: number, value: Buffer | null): number {
    return Number(this.q.insert.run(name, created, deleted, createRev, prevRev, lease, value, prevRev).lastInsertRowid);
  }

  /** After a commit: hand the write (and any rows of other processes before it) to the watchers. */
  private afterWrite(event: KineEvent): void {
    if (this.watchers.size === 0) {
      this.broadcastRev = Math.max(this.broadcastRev, event.revision);
      return;
    }
    this.dispatch(event);
  }

  private dispatch(pending?: KineEvent): void {
    if (this.watchers.size === 0) {
      this.broadcastRev = Math.max(this.broadcastRev, this.currentRevision());
      return;
    }
    if (this.dispatching) {
      // A write from inside a watcher's callback: the delivery under way picks it up next.
      this.again = true;
      return;
    }
    this.guarded(() => {
      do {
        this.again = false;
        let events: KineEvent[];
        if (pending && pending.revision === this.broadcastRev + 1) events = [pending];
        else events = this.q.rowsAfter.all(this.broadcastRev).map(toEvent);
        pending = undefined;
        if (events.length === 0) break;
        this.broadcastRev = events[events.length - 1]!.revision;
        for (const watcher of [...this.watchers]) this.deliver(watcher, events, false);
      } while (this.again);
    });
  }

  /** Runs a delivery; writes its callbacks make are delivered once the outermost one is done. */
  private guarded(fn: () => void): void {
    const outermost = !this.dispatching;
    this.dispatching = true;
    try {
      fn();
    } finally {
      if (outermost) this.dispatching = false;
    }
    if (outermost && this.again) this.dispatch();
  }

  private deliver(watcher: Watcher, events: KineEvent[], filtered: boolean): void {
    if (!this.watchers.has(watcher)) return;
    const mine = events.filter((e) => e.revision > watcher.after && (filtered || (e.key >= watcher.prefix && e.key < watcher.end)));
    if (events.length > 0) watcher.after = Math.max(watcher.after, events[events.length - 1]!.revision);
    if (mine.length === 0) return;
    try {
      watcher.onEvents(mine);
    } catch (err) {
      this.watchers.delete(watcher);
      watcher.onError?.(err);
    }
  }
}

function toBuffer(value: Buffer | string): Buffer {
  return typeof value === 'string' ? Buffer.from(value) : value;
}

function createRevisionOf(row: Row): number {
  return row.created ? row.id : row.create_revision;
}

function toKeyValue(row: Row): KeyValue {
  return { key: row.name, value: row.value ?? Buffer.alloc(0), createRevision: createRevisionOf(row), modRevision: row.id, lease: row.lease };
}

function toEvent(row: Row): KineEvent {
  const type = row.deleted ? 'delete' : row.created ? 'create' : 'update';
  return {
    type,
    key: row.name,
    revision: row.id,
    value: row.deleted ? null : (row.value ?? Buffer.alloc(0)),
    prevValue: row.old_value ?? null,
    prevRevision: row.prev_revision,
    createRevision: createRevisionOf(row),
  };
}
