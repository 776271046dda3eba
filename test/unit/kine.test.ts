// The API server's store: kine's SQLite table, revisions, compare-and-swap, watch, compaction, and
// the file as another process (and the sqlite3 CLI) sees it.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GoneError, FutureRevisionError, KeyExistsError, KeyNotFoundError, KineStore, RevisionConflictError, type KineEvent } from '../../src/api/storage/kine.ts';
import { run } from '../../src/sys/exec.ts';

interface RawRow {
  id: number;
  name: string;
  created: number;
  deleted: number;
  create_revision: number;
  prev_revision: number;
  lease: number;
  value: Buffer | null;
  old_value: Buffer | null;
}

const text = (b: Buffer | null | undefined) => (b == null ? null : b.toString());

describe('KineStore on one file', () => {
  let dir: string;
  let file: string;
  const open: KineStore[] = [];
  const store = () => {
    const s = new KineStore(file);
    open.push(s);
    return s;
  };
  const rows = (s: KineStore): RawRow[] => {
    const db = new Database(s.path, { readonly: true });
    try {
      return db.prepare('SELECT * FROM kine ORDER BY id').all() as RawRow[];
    } finally {
      db.close();
    }
  };

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pplt-kine-'));
    file = path.join(dir, 'state.db');
  });
  afterEach(() => {
    for (const s of open.splice(0)) s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("creates kine's table and indexes, in WAL mode", () => {
    store();
    const db = new Database(file, { readonly: true });
    try {
      const columns = db.prepare("SELECT name, type, pk FROM pragma_table_info('kine') ORDER BY cid").all();
      expect(columns).toEqual([
        { name: 'id', type: 'INTEGER', pk: 1 },
        { name: 'name', type: 'TEXT', pk: 0 },
        { name: 'created', type: 'INTEGER', pk: 0 },
        { name: 'deleted', type: 'INTEGER', pk: 0 },
        { name: 'create_revision', type: 'INTEGER', pk: 0 },
        { name: 'prev_revision', type: 'INTEGER', pk: 0 },
        { name: 'lease', type: 'INTEGER', pk: 0 },
        { name: 'value', type: 'BLOB', pk: 0 },
        { name: 'old_value', type: 'BLOB', pk: 0 },
      ]);
      const table = db.prepare("SELECT sql FROM sqlite_master WHERE name = 'kine'").get() as { sql: string };
      expect(table.sql).toMatch(/id INTEGER PRIMARY KEY AUTOINCREMENT/);
      const indexes = Object.fromEntries(
        (db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'kine'").all() as { name: string; sql: string }[]).map((i) => [i.name, i.sql]),
      );
      expect(indexes).toEqual({
        kine_name_index: 'CREATE INDEX kine_name_index ON kine (name)',
        kine_name_id_index: 'CREATE INDEX kine_name_id_index ON kine (name,id)',
        kine_id_deleted_index: 'CREATE INDEX kine_id_deleted_index ON kine (id,deleted)',
        kine_prev_revision_index: 'CREATE INDEX kine_prev_revision_index ON kine (prev_revision)',
        kine_name_prev_revision_uindex: 'CREATE UNIQUE INDEX kine_name_prev_revision_uindex ON kine (name, prev_revision)',
        kine_id_compact_rev_key_with_prev_revision_index:
          "CREATE INDEX kine_id_compact_rev_key_with_prev_revision_index ON kine(id, name, prev_revision) WHERE name != 'compact_rev_key' AND prev_revision != 0",
      });
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      db.close();
    }
  });

  it("starts with kine's own two keys: compact_rev_key and /registry/health", () => {
    const s = store();
    expect(rows(s).map((r) => [r.id, r.name, r.created, text(r.value)])).toEqual([
      [1, 'compact_rev_key', 1, ''],
      [2, '/registry/health', 1, '{"health":"true"}'],
    ]);
    expect(s.currentRevision()).toBe(2);
    expect(s.compactRevision()).toBe(0);
    // A second open adds nothing.
    expect(store().currentRevision()).toBe(2);
  });

  it('writes every change as a new row: create, update, delete (a tombstone), create again', () => {
    const s = store();
    const key = '/registry/pods/default/web';
    const c = s.create(key, '{"v":1}');
    const u = s.update(key, '{"v":2}', c);
    const d = s.delete(key);
    const c2 = s.create(key, '{"v":3}');
    expect([c, u, d.revision, c2]).toEqual([3, 4, 5, 6]);
    expect(d.prev).toMatchObject({ key, modRevision: u, createRevision: c });
    expect(rows(s).slice(2).map((r) => ({ ...r, value: text(r.value), old_value: text(r.old_value) }))).toEqual([
      { id: 3, name: key, created: 1, deleted: 0, create_revision: 0, prev_revision: 0, lease: 0, value: '{"v":1}', old_value: null },
      { id: 4, name: key, created: 0, deleted: 0, create_revision: 3, prev_revision: 3, lease: 0, value: '{"v":2}', old_value: '{"v":1}' },
      { id: 5, name: key, created: 0, deleted: 1, create_revision: 0, prev_revision: 4, lease: 0, value: null, old_value: '{"v":2}' },
      { id: 6, name: key, created: 1, deleted: 0, create_revision: 0, prev_revision: 5, lease: 0, value: '{"v":3}', old_value: null },
    ]);
    expect(s.get(key)).toMatchObject({ key, modRevision: 6, createRevision: 6 });
    expect(text(s.get(key)!.value)).toBe('{"v":3}');
  });

  it('refuses a create of a live key, and compare-and-swap on the newest revision', () => {
    const s = store();
    const key = '/registry/configmaps/default/c';
    const c = s.create(key, 'a', 0);
    expect(() => s.create(key, 'b')).toThrow(KeyExistsError);
    const u = s.update(key, 'b', c);
    const conflict = (() => {
      try {
        s.update(key, 'c', c);
      } catch (err) {
        return err;
      }
    })();
    expect(conflict).toBeInstanceOf(RevisionConflictError);
    expect((conflict as RevisionConflictError).current.modRevision).toBe(u);
    expect(() => s.delete(key, c)).toThrow(RevisionConflictError);
    s.delete(key, u);
    expect(s.get(key)).toBeUndefined();
    expect(() => s.update(key, 'd', u)).toThrow(KeyNotFoundError);
    expect(() => s.delete(key)).toThrow(KeyNotFoundError);
  });

  it('keeps the lease (TTL seconds) a key was written with', () => {
    const s = store();
    const rev = s.create('/registry/events/default/e1', '{}', 3600);
    expect(s.get('/registry/events/default/e1')).toMatchObject({ lease: 3600, modRevision: rev });
  });

  it('lists a prefix in key order, as of a revision, from a start key, with a limit', () => {
    const s = store();
    const a = s.create('/registry/pods/default/a', 'a1');
    s.create('/registry/pods/kube-system/c', 'c1');
    s.create('/registry/pods/default/b', 'b1');
    s.create('/registry/podtemplates/default/x', 'not a pod');
    const before = s.currentRevision();
    s.update('/registry/pods/default/a', 'a2', a);
    s.delete('/registry/pods/default/b');
    const names = (kvs: { key: string; value: Buffer }[]) => kvs.map((kv) => `${kv.key}=${kv.value}`);
    expect(names(s.list('/registry/pods/').kvs)).toEqual(['/registry/pods/default/a=a2', '/registry/pods/kube-system/c=c1']);
    const old = s.list('/registry/pods/', { revision: before });
    expect(names(old.kvs)).toEqual(['/registry/pods/default/a=a1', '/registry/pods/default/b=b1', '/registry/pods/kube-system/c=c1']);
    expect(old.revision).toBe(s.currentRevision());
    expect(names(s.list('/registry/pods/default/').kvs)).toEqual(['/registry/pods/default/a=a2']);
    expect(names(s.list('/registry/pods/', { revision: before, startKey: '/registry/pods/default/a\x00', limit: 1 }).kvs)).toEqual(['/registry/pods/default/b=b1']);
    expect(() => s.list('/registry/pods/', { revision: s.currentRevision() + 1 })).toThrow(FutureRevisionError);
  });

  it('watches a prefix from a revision: stored writes first, then each new one as it commits', () => {
    const s = store();
    const r1 = s.create('/registry/pods/default/a', 'a1');
    const r2 = s.create('/registry/services/specs/default/svc', 's1');
    const r3 = s.update('/registry/pods/default/a', 'a2', r1);
    const seen: string[] = [];
    const cancel = s.watch('/registry/pods/', r1, (events) => seen.push(...events.map(describeEvent)));
    expect(seen).toEqual([`update /registry/pods/default/a@${r3} a2 (was a1)`]);
    const r4 = s.create('/registry/pods/default/b', 'b1');
    expect(seen.at(-1)).toBe(`create /registry/pods/default/b@${r4} b1 (was null)`);
    s.create('/registry/configmaps/default/x', 'not watched');
    const d = s.delete('/registry/pods/default/a');
    expect(seen.at(-1)).toBe(`delete /registry/pods/default/a@${d.revision} null (was a2)`);
    cancel();
    s.create('/registry/pods/default/c', 'after cancel');
    expect(seen).toHaveLength(3);
    expect(r2).toBeLessThan(r3);
  });

  it('delivers a write made inside a watch callback after the current delivery, in order', () => {
    const s = store();
    const seen: number[] = [];
    s.watch('/registry/pods/', s.currentRevision(), (events) => {
      for (const e of events) {
        seen.push(e.revision);
        if (e.key.endsWith('/a')) s.create('/registry/pods/default/b', 'from the callback');
      }
    });
    const other: number[] = [];
    s.watch('/registry/pods/', s.currentRevision(), (events) => other.push(...events.map((e) => e.revision)));
    const a = s.create('/registry/pods/default/a', 'a');
    expect(seen).toEqual([a, a + 1]);
    expect(other).toEqual([a, a + 1]);
  });

  it('cancels a watcher whose callback throws and tells it why', () => {
    const s = store();
    const errors: unknown[] = [];
    let calls = 0;
    s.watch(
      '/registry/pods/',
      s.currentRevision(),
      () => {
        calls++;
        throw new Error('boom');
      },
      (err) => errors.push(err),
    );
    s.create('/registry/pods/default/a', 'a');
    s.create('/registry/pods/default/b', 'b');
    expect(calls).toBe(1);
    expect(String(errors[0])).toMatch(/boom/);
  });

  it("compacts as kine does: each key's newest row stays, superseded rows and tombstones go", () => {
    const s = store();
    const a1 = s.create('/registry/pods/default/a', 'a1');
    const a2 = s.update('/registry/pods/default/a', 'a2', a1);
    const b1 = s.create('/registry/pods/default/b', 'b1');
    const bDel = s.delete('/registry/pods/default/b').revision;
    const c1 = s.create('/registry/pods/default/c', 'c1');
    const c2 = s.update('/registry/pods/default/c', 'c2', c1);
    const current = s.currentRevision();
    expect(s.compact(2)).toBe(current - 2);
    const left = rows(s).map((r) => r.id);
    // a1 (superseded by a2), b1 and its tombstone go; c1 is superseded only by c2, above the target.
    expect(left).toEqual([1, 2, a2, c1, c2]);
    expect(rows(s)[0]).toMatchObject({ name: 'compact_rev_key', prev_revision: current - 2 });
    expect(s.compactRevision()).toBe(current - 2);
    expect(bDel).toBeGreaterThan(b1);
    // The state at the compacted revision and after is whole.
    expect(s.list('/registry/pods/', { revision: current - 2 }).kvs.map((kv) => String(kv.value))).toEqual(['a2']);
    expect(s.list('/registry/pods/', { revision: c1 }).kvs.map((kv) => String(kv.value))).toEqual(['a2', 'c1']);
    expect(() => s.list('/registry/pods/', { revision: a2 })).toThrow(GoneError);
    expect(() => s.watch('/registry/pods/', a2, () => {})).toThrow(GoneError);
    // Watching from the compacted revision itself still has every later write.
    const seen: string[] = [];
    s.watch('/registry/pods/', current - 2, (events) => seen.push(...events.map((e) => String(e.value))));
    expect(seen).toEqual(['c1', 'c2']);
    // Compacting to where it already is changes nothing; keep must be at least 1.
    expect(s.compact(2)).toBe(current - 2);
    expect(() => s.compact(0)).toThrow(RangeError);
    const gone = (() => {
      try {
        s.watch('/registry/pods/', 1, () => {});
      } catch (err) {
        return err as GoneError;
      }
    })();
    expect(gone).toMatchObject({ requested: 1, compactRevision: current - 2, currentRevision: current });
  });

  it('is read by a second process on the same file, and compare-and-swap holds across both', () => {
    const first = store();
    const second = store();
    const rev = first.create('/registry/pods/default/web', '{"a":1}');
    expect(text(second.get('/registry/pods/default/web')!.value)).toBe('{"a":1}');
    expect(second.currentRevision()).toBe(rev);
    const theirs = second.update('/registry/pods/default/web', '{"a":2}', rev);
    expect(() => first.update('/registry/pods/default/web', '{"a":3}', rev)).toThrow(RevisionConflictError);
    expect(first.get('/registry/pods/default/web')!.modRevision).toBe(theirs);
    // Watch is in-process; poll() delivers what the other process wrote.
    const seen: number[] = [];
    first.watch('/registry/pods/', theirs, (events) => seen.push(...events.map((e) => e.revision)));
    const fromSecond = second.create('/registry/pods/default/other', '{}');
    expect(seen).toEqual([]);
    first.poll();
    expect(seen).toEqual([fromSecond]);
    // ... as does the next write of this process, before its own.
    const again = second.create('/registry/pods/default/third', '{}');
    const mine = first.create('/registry/pods/default/mine', '{}');
    expect(seen).toEqual([fromSecond, again, mine]);
  });

  it('continues its revisions when the file is opened again', () => {
    const s = store();
    s.create('/registry/pods/default/a', 'a');
    const last = s.create('/registry/pods/default/b', 'b');
    s.delete('/registry/pods/default/b');
    s.compact(1);
    s.close();
    open.splice(open.indexOf(s), 1);
    const reopened = store();
    expect(reopened.get('/registry/pods/default/a')).toMatchObject({ modRevision: last - 1 });
    expect(reopened.create('/registry/pods/default/c', 'c')).toBe(last + 2);
  });

  it('is what `sqlite3 <file> "select name from kine where name like \'/registry/pods/%\'"` lists', async () => {
    const s = store();
    s.create('/registry/pods/default/app2-5d4f8c7b9-x2kq7', '{}');
    s.create('/registry/pods/kube-system/coredns-6799fbcd5-8gx4w', '{}');
    s.create('/registry/services/specs/default/app2-service', '{}');
    const deleted = s.create('/registry/pods/default/gone', '{}');
    s.delete('/registry/pods/default/gone', deleted);
    const { stdout } = await run(['sqlite3', file, "select name from kine where name like '/registry/pods/%' and deleted = 0 and id in (select max(id) from kine group by name) order by name"]);
    expect(stdout.trim().split('\n')).toEqual(['/registry/pods/default/app2-5d4f8c7b9-x2kq7', '/registry/pods/kube-system/coredns-6799fbcd5-8gx4w']);
    // The learner's plain query lists every row of every pod, the deleted one's tombstone included.
    const all = await run(['sqlite3', file, "select name from kine where name like '/registry/pods/%'"]);
    expect(all.stdout.trim().split('\n').sort()).toEqual([
      '/registry/pods/default/app2-5d4f8c7b9-x2kq7',
      '/registry/pods/default/gone',
      '/registry/pods/default/gone',
      '/registry/pods/kube-system/coredns-6799fbcd5-8gx4w',
    ]);
  });
});

describe('KineStore in memory', () => {
  it("keeps ':memory:' (tests) working without WAL", () => {
    const s = new KineStore(':memory:');
    const rev = s.create('/registry/namespaces/default', '{}');
    expect(s.get('/registry/namespaces/default')!.modRevision).toBe(rev);
    s.close();
  });
});

function describeEvent(e: KineEvent): string {
  return `${e.type} ${e.key}@${e.revision} ${text(e.value)} (was ${text(e.prevValue)})`;
}
