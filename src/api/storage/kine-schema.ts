// The table k3s's kine creates in SQLite (pkg/drivers/sqlite), statement for statement, so that a
// learner's `sqlite3 state.db "select name from kine"` reads our store as it reads k3s's
// /var/lib/rancher/k3s/server/db/state.db.
//
// What the columns mean (kine's log-structured store, pkg/logstructured):
//   id               the revision: every write is a new row and its id is etcd's mod_revision
//   name             the key, `/registry/<resource>/<namespace>/<name>`
//   created          1 on the row that creates a key (its create_revision column then stays 0:
//                    the create revision of such a row is its own id)
//   deleted          1 on a delete: a delete is a new row (a tombstone) with no value
//   create_revision  on an update, the id of the row that created the key; 0 on creates and deletes
//   prev_revision    the id of the key's previous row (0 for a key's first create); compaction
//                    deletes exactly the rows some other row names here, plus the tombstones
//   lease            the TTL in seconds of a key written with a lease (kube-apiserver's Events), else 0
//   value            the object (here JSON); NULL on a delete
//   old_value        the value of the prev_revision row, copied when the row is written, so a
//                    watcher gets the previous object of every event without another read
// Two keys are kine's own: `compact_rev_key` (its prev_revision holds the compacted revision, updated
// in place) and `/registry/health` (the value kube-apiserver's etcd health check reads).

export const KINE_TABLE = 'kine';

export const KINE_SCHEMA: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS kine
			(
				id INTEGER PRIMARY KEY AUTOINCREMENT,
				name TEXT,
				created INTEGER,
				deleted INTEGER,
				create_revision INTEGER,
				prev_revision INTEGER,
				lease INTEGER,
				value BLOB,
				old_value BLOB
			)`,
  `CREATE INDEX IF NOT EXISTS kine_name_index ON kine (name)`,
  `CREATE INDEX IF NOT EXISTS kine_name_id_index ON kine (name,id)`,
  `CREATE INDEX IF NOT EXISTS kine_id_deleted_index ON kine (id,deleted)`,
  `CREATE INDEX IF NOT EXISTS kine_prev_revision_index ON kine (prev_revision)`,
  `CREATE UNIQUE INDEX IF NOT EXISTS kine_name_prev_revision_uindex ON kine (name, prev_revision)`,
  `CREATE INDEX IF NOT EXISTS kine_id_compact_rev_key_with_prev_revision_index ON kine(id, name, prev_revision) WHERE name != 'compact_rev_key' AND prev_revision != 0`,
];

export const COMPACT_REV_KEY = 'compact_rev_key';
export const HEALTH_KEY = '/registry/health';
export const HEALTH_VALUE = '{"health":"true"}';

/** The first key after every key that starts with `prefix` (etcd's range end for a prefix). */
export function prefixEnd(prefix: string): string {
  if (prefix === '') throw new Error('a prefix must not be empty');
  const last = prefix.charCodeAt(prefix.length - 1);
  return prefix.slice(0, -1) + String.fromCharCode(last + 1);
}
