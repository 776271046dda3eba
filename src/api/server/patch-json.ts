// JSON patch (RFC 6902) and JSON merge patch (RFC 7386) as kube-apiserver applies them: with
// gopkg.in/evanphx/json-patch.v4 (v4.12.0), whose behaviour differs from the RFCs in places a
// client can see (checked against `kubectl patch --local`, which uses the same library):
// - `replace` of a missing object member adds it (only a missing array index fails);
// - `copy` from a missing member copies null; `add`, `replace` and `move` without a value use null;
// - array indexes may be negative (from the end; for `add` -1 means append) and are parsed as Go's
//   strconv.Atoi does (`01` and `+1` are 1); `-` appends;
// - a path is split at `/` and its first segment dropped, so `a/b` means `/b`; `""` is the whole
//   document only for `replace` (a value that is no object or array leaves it as it is) and `test`;
// - a merge patch drops null members of the objects it inserts, also of objects inside arrays, and
//   keeps null array elements (RFC 7386 inserts such values as they are).
// Any failing operation fails the whole patch; kube-apiserver then answers 422 with a fixed
// message, so the library's own error texts never reach a client (patch.ts).
import { get, GoPanic, has, isObject, set, type Json, type JsonObject } from './patch-go.ts';

/** An operation the library cannot apply (kube: 422). */
export class JsonPatchError extends Error {}

/** kube-apiserver's JSONPatchMaxCopyBytes: the bytes `copy` operations may add, in total (3 MiB). */
export const MAX_COPY_BYTES = 3 * 1024 * 1024;

type Container = { kind: 'object'; o: JsonObject } | { kind: 'array'; a: Json[] };

const containerOf = (v: JsonObject | Json[]): Container => (Array.isArray(v) ? { kind: 'array', a: v } : { kind: 'object', o: v });

const decodeKey = (k: string) => k.replace(/~1|~0/g, (m) => (m === '~1' ? '/' : '~'));

/** strconv.Atoi: an optional sign and decimal digits, within int64. */
function atoi(s: string): number {
  if (!/^[+-]?[0-9]+$/.test(s)) throw new JsonPatchError(`strconv.Atoi: parsing ${JSON.stringify(s)}: invalid syntax`);
  const n = Number(s);
  if (Math.abs(n) >= 2 ** 63) throw new JsonPatchError(`strconv.Atoi: parsing ${JSON.stringify(s)}: value out of range`);
  return n;
}

/** The member or element `key` of a container: undefined for a missing member, an error for a bad index. */
function childOf(c: Container, key: string): Json | undefined {
  if (c.kind === 'object') return get(c.o, key);
  let i = atoi(key);
  if (i < 0) i += c.a.length;
  if (i < 0 || i >= c.a.length) throw new JsonPatchError(`Unable to access invalid index: ${key}`);
  return c.a[i];
}

/** findObject: the container of the path's last segment, or undefined when a step is missing. */
function find(root: JsonObject | Json[], path: string): { c: Container; key: string } | undefined {
  const split = path.split('/');
  if (split.length < 2) return undefined;
  let c = containerOf(root);
  for (const part of split.slice(1, -1)) {
    let next: Json | undefined;
    try {
      next = childOf(c, decodeKey(part));
    } catch {
      return undefined;
    }
    // Missing, null, or a scalar the library cannot descend into.
    if (next === undefined || next === null || typeof next !== 'object') return undefined;
    c = containerOf(next);
  }
  return { c, key: decodeKey(split[split.length - 1]!) };
}

// The library replaces an array that changes length in its parent; changing it in place is the same.
function store(a: Json[], items: Json[]): void {
  a.length = 0;
  a.push(...items);
}

function add(c: Container, key: string, value: Json): void {
  if (c.kind === 'object') return set(c.o, key, value);
  if (key === '-') return store(c.a, [...c.a, value]);
  let i: number;
  try {
    i = atoi(key);
  } catch (e) {
    throw new JsonPatchError(`value was not a proper array index: '${key}': ${(e as Error).message}`);
  }
  const size = c.a.length + 1;
  if (i >= size || i < -size) throw new JsonPatchError(`Unable to access invalid index: ${i}`);
  if (i < 0) i += size;
  store(c.a, [...c.a.slice(0, i), value, ...c.a.slice(i)]);
}

function remove(c: Container, key: string): void {
  if (c.kind === 'object') {
    if (!has(c.o, key)) throw new JsonPatchError(`Unable to remove nonexistent key: ${key}`);
    delete c.o[key];
    return;
  }
  let i = atoi(key);
  if (i >= c.a.length || i < -c.a.length) throw new JsonPatchError(`Unable to access invalid index: ${i}`);
  if (i < 0) i += c.a.length;
  store(c.a, [...c.a.slice(0, i), ...c.a.slice(i + 1)]);
}

function replaceAt(c: Container, key: string, value: Json): void {
  if (c.kind === 'object') return set(c.o, key, value);
  childOf(c, key); // an index past the end fails
  let i = atoi(key);
  if (i < 0) i += c.a.length;
  c.a[i] = value;
}

/** About Go's encoding/json length of a value: it also escapes <, > and & (\u003c), U+2028 and U+2029. */
function goJsonLength(v: Json): number {
  const s = JSON.stringify(v);
  return Buffer.byteLength(s) + 5 * (s.match(/[<>&]/g)?.length ?? 0) + 3 * (s.match(/[\u2028\u2029]/g)?.length ?? 0);
}

function jsonEqual(a: Json | undefined, b: Json | undefined): boolean {
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  if (isObject(a)) {
    if (!isObject(b)) return false;
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => has(b, k) && jsonEqual(a[k], b[k]));
  }
  return a === b;
}

function stringField(op: JsonObject, name: string, what: string): string {
  const v = get(op, name);
  if (typeof v === 'string') return v;
  throw new JsonPatchError(`${what}: ${v === undefined || v === null ? 'missing value' : 'not a string'}`);
}

const nilDereference = () => new GoPanic('runtime error: invalid memory address or nil pointer dereference');
const OPS = ['add', 'remove', 'replace', 'move', 'copy', 'test'];

/**
 * Applies a decoded JSON patch (operation objects) to `doc` in place and returns the result: the
 * document, or what `replace ""` put in its place.
 */
export function applyJsonPatch(doc: JsonObject, ops: readonly (JsonObject | null)[]): JsonObject | Json[] {
  let root: JsonObject | Json[] = doc;
  let copied = 0;
  const at = (path: string, what: string) => {
    const found = find(root, path);
    if (!found) throw new JsonPatchError(`${what} operation does not apply: doc is missing path: ${path}`);
    return found;
  };
  for (const op of ops) {
    const opName = op ? get(op, 'op') : undefined;
    const kind = typeof opName === 'string' ? opName : 'unknown';
    if (!op || !OPS.includes(kind)) throw new JsonPatchError(`Unexpected kind: ${kind}`);
    // A member "value": null is a null value; no member is no value (the library's nil node).
    const value = has(op, 'value') ? (get(op, 'value') ?? null) : undefined;
    const path = stringField(op, 'path', `${kind} operation failed to decode path`);
    if (kind === 'add') {
      const { c, key } = at(path, kind);
      add(c, key, value ?? null);
    } else if (kind === 'remove') {
      const { c, key } = at(path, kind);
      remove(c, key);
    } else if (kind === 'replace' && path === '') {
      // An object or array replaces the document; anything else is ignored (the library wraps a
      // nil error there, which is no error); no value at all is a nil dereference.
      if (value === undefined) throw nilDereference();
      if (isObject(value) || Array.isArray(value)) root = value;
    } else if (kind === 'replace') {
      const { c, key } = at(path, kind);
      replaceAt(c, key, value ?? null);
    } else if (kind === 'move' || kind === 'copy') {
      const from = at(stringField(op, 'from', `${kind} operation failed to decode from`), kind);
      const v = childOf(from.c, from.key) ?? null;
      if (kind === 'move') remove(from.c, from.key);
      const to = at(path, kind);
      if (kind === 'copy') {
        copied += v === null ? 0 : goJsonLength(v);
        if (copied > MAX_COPY_BYTES) {
          throw new JsonPatchError(`Unable to complete the copy, the accumulated size increase of copy is ${copied}, exceeding the limit ${MAX_COPY_BYTES}`);
        }
        add(to.c, to.key, structuredClone(v));
      } else add(to.c, to.key, v);
    } else {
      // test: a missing or null member equals a null value. Without a value the library
      // dereferences nil (kube-apiserver panics) for the whole document and for a missing or null
      // member, and fails otherwise.
      let actual: Json | undefined = root;
      if (path !== '') {
        const { c, key } = at(path, kind);
        actual = childOf(c, key);
      }
      if (value === undefined) {
        if (path === '' || actual === undefined || actual === null) throw nilDereference();
        throw new JsonPatchError(`testing value ${path} failed: test failed`);
      }
      const equal = actual === undefined || actual === null ? value === null : jsonEqual(actual, value);
      if (!equal) throw new JsonPatchError(`testing value ${path} failed: test failed`);
    }
  }
  return root;
}

// ---------------------------------------------------------------------------------------------
// JSON merge patch (the library's MergePatch).

function pruneNulls(v: Json): void {
  if (isObject(v)) {
    for (const k of Object.keys(v)) {
      if (v[k] === null) delete v[k];
      else pruneNulls(v[k]!);
    }
  } else if (Array.isArray(v)) {
    for (const item of v) if (item !== null) pruneNulls(item);
  }
}

function mergeValue(cur: Json, patch: Json): Json {
  if (!isObject(cur)) {
    pruneNulls(patch);
    return patch;
  }
  if (!isObject(patch)) return patch;
  mergeDocs(cur, patch);
  return cur;
}

function mergeDocs(doc: JsonObject, patch: JsonObject): void {
  for (const k of Object.keys(patch)) {
    const v = patch[k]!;
    if (v === null) {
      delete doc[k];
      continue;
    }
    const cur = get(doc, k);
    if (cur === undefined || cur === null) {
      pruneNulls(v);
      set(doc, k, v);
    } else set(doc, k, mergeValue(cur, v));
  }
}

/** Applies a merge patch object to `doc` in place. */
export function applyMergePatch(doc: JsonObject, patch: JsonObject): JsonObject {
  mergeDocs(doc, patch);
  return doc;
}

/** A merge patch that is a JSON array replaces the document (kube then fails to decode it). */
export function mergePatchArray(patch: Json[]): Json[] {
  for (const item of patch) if (item !== null) pruneNulls(item);
  return patch;
}
