// Strategic merge patch as kube-apiserver applies it (k8s.io/apimachinery v0.32.4
// pkg/util/strategicpatch, StrategicMergeMapPatch with MergeParallelList and IgnoreUnmatchedNulls):
// - maps merge key by key; a null deletes the key; a key the object lacks is taken from the patch
//   without its nulls and without map entries or list items carrying `$patch`;
// - a list whose field has patchStrategy merge (patch-schema.ts) merges: items of a list of maps
//   are matched by the patchMergeKey and merged, new ones come before the object's own (the
//   patch's order first, unless `$setElementOrder` says otherwise); `{"$patch": "delete", key}`
//   removes an item, `{"$patch": "replace"}` makes the patch's items the list; a list of strings
//   is the union (duplicates removed); every other list is replaced by the patch's;
// - `$patch: replace` in a map replaces the map by the rest of the patch map, `$patch: delete`
//   leaves an empty map (or no key, where the object had none);
// - `$retainKeys: [...]` drops the map's keys not listed (every key the patch sets must be listed);
// - `$setElementOrder/<list>: [...]` orders the merged list: listed items in that order, the
//   object's other items kept where they were relative to them;
// - `$deleteFromPrimitiveList/<list>: [...]` removes values from a list of strings.
// Error texts and kinds are the package's; patch.ts turns them into kube-apiserver's statuses.
// Go's map iteration order is random; keys are taken in the patch's order here.
import { badArgType, goFmt, goFmtS, goKey, goType, has, isObject, set, type Json, type JsonObject } from './patch-go.ts';
import type { FieldMeta, StructType } from './patch-schema.ts';
import {
  checkOrder, dedupe, DELETE_FROM_PRIMITIVE_LIST, DIRECTIVE, elementType, ERR_PRIMITIVE_LIST, ERR_RETAIN_KEYS, ERR_SET_ELEMENT_ORDER, fail,
  findByKey, GoSlice, interleave, isMapType, noMergeKey, partition, RETAIN_KEYS, SET_ELEMENT_ORDER, StrategicPatchError,
} from './patch-strategic-lists.ts';

export { StrategicPatchError };

/** A field's type: known struct types carry their lists' strategies; anything else has none. */
type Schema = StructType | undefined;

function lookup(schema: Schema, key: string): { sub: Schema; meta: FieldMeta } {
  const meta = schema?.fields[key] ?? {};
  return { sub: meta.type, meta };
}

/** extractRetainKeysPatchStrategy: the strategy other than retainKeys. */
function otherStrategy(strategies: readonly string[] = []): string {
  if (strategies.length <= 1) return strategies[0] === 'retainKeys' ? '' : (strategies[0] ?? '');
  if (strategies.length === 2 && strategies.includes('retainKeys')) return strategies[0] === 'retainKeys' ? strategies[1]! : strategies[0]!;
  throw fail(`unexpected patch strategy: ${goFmt([...strategies])}`);
}

function extractKey(s: string, prefix: string): string {
  const slash = s.indexOf('/');
  if (slash < 0 || s.slice(0, slash) !== prefix) throw prefix === SET_ELEMENT_ORDER ? ERR_SET_ELEMENT_ORDER() : ERR_PRIMITIVE_LIST();
  return s.slice(slash + 1);
}

function removeDirectives(v: Json): [Json, boolean] {
  if (isObject(v)) {
    if (has(v, DIRECTIVE)) return [null, false];
    for (const k of Object.keys(v)) {
      const [nv, keep] = removeDirectives(v[k]!);
      if (keep) set(v, k, nv);
      else delete v[k];
    }
    return [v, true];
  }
  if (Array.isArray(v)) {
    const out: Json[] = [];
    for (const item of v) {
      const [nv, keep] = removeDirectives(item);
      if (keep) out.push(nv);
    }
    return [out, true];
  }
  return [v, true];
}

function discardNulls(v: Json): void {
  if (isObject(v)) {
    for (const k of Object.keys(v)) {
      if (v[k] === null) delete v[k];
      else discardNulls(v[k]!);
    }
  } else if (Array.isArray(v)) for (const item of v) discardNulls(item);
}

/** The patch value where the object has no such key, or one of another type. */
function takePatchValue(original: JsonObject, key: string, patchV: Json): void {
  discardNulls(patchV);
  const [v, keep] = removeDirectives(patchV);
  if (keep) set(original, key, v);
  else delete original[key];
}

function mergeMap(original: JsonObject | null, patch: JsonObject, schema: Schema): JsonObject {
  if (has(patch, DIRECTIVE)) {
    const directive = patch[DIRECTIVE];
    if (directive === 'replace') {
      delete patch[DIRECTIVE];
      return patch;
    }
    if (directive === 'delete') return {};
    throw fail(`unknown patch type: ${goFmtS(directive)} in map: ${goFmt(patch)}`);
  }
  const orig = original ?? {};
  retainKeys(orig, patch);
  mergeOrderedLists(orig, patch, schema);
  for (const k of Object.keys(patch)) {
    const patchV = patch[k]!;
    const isDeleteList = k.startsWith(DELETE_FROM_PRIMITIVE_LIST);
    const key = isDeleteList ? extractKey(k, DELETE_FROM_PRIMITIVE_LIST) : k;
    if (patchV === null) {
      delete orig[key];
      continue;
    }
    if (!has(orig, key) || goType(orig[key]) !== goType(patchV)) {
      // Go compares the values' dynamic types: an int64 and a float64 differ too, to the same effect.
      if (!isDeleteList) takePatchValue(orig, key, patchV);
      continue;
    }
    const current = orig[key]!;
    if (isObject(current) && isObject(patchV)) {
      const { sub, meta } = lookup(schema, key);
      set(orig, key, otherStrategy(meta.strategies) === 'replace' ? patchV : mergeMap(current, patchV, sub));
    } else if (Array.isArray(current) && Array.isArray(patchV)) {
      const { sub, meta } = lookup(schema, key);
      set(orig, key, mergeList(current, patchV, sub, meta, isDeleteList));
    } else {
      const [v, keep] = removeDirectives(patchV);
      if (keep) set(orig, key, v);
      else delete orig[key];
    }
  }
  return orig;
}

/** applyRetainKeysDirective */
function retainKeys(original: JsonObject, patch: JsonObject): void {
  if (!has(patch, RETAIN_KEYS)) return;
  const list = patch[RETAIN_KEYS];
  delete patch[RETAIN_KEYS];
  if (!Array.isArray(list)) throw ERR_RETAIN_KEYS();
  const keep = new Set(list.map(goKey));
  for (const [k, v] of Object.entries(patch)) {
    if (v === null || k.startsWith(DELETE_FROM_PRIMITIVE_LIST) || k.startsWith(SET_ELEMENT_ORDER)) continue;
    if (!keep.has(goKey(k))) throw ERR_RETAIN_KEYS();
  }
  for (const k of Object.keys(original)) if (!keep.has(goKey(k))) delete original[k];
}

/** mergeSliceHandler: a merge list merges (as does a delete list), any other is replaced. */
function mergeList(original: Json[], patch: Json[], schema: Schema, meta: FieldMeta, isDeleteList: boolean): Json[] {
  if (otherStrategy(meta.strategies) !== 'merge' && !isDeleteList) return patch;
  if (original.length === 0 && patch.length === 0) return original;
  const mergeKey = meta.patchMergeKey ?? '';
  const isMap = isMapType(elementType([original, patch]));
  let serverOrder: Json[];
  let merged: Json[];
  let rest = patch;
  if (!isMap) {
    if (isDeleteList) {
      const del = new Set(patch.map(goKey));
      return original.filter((v) => !del.has(goKey(v)));
    }
    serverOrder = original;
    merged = dedupe([...original, ...patch]);
  } else {
    if (!mergeKey) throw fail(`cannot merge lists without merge key for ${meta.elem ?? 'struct'}`);
    // mergeSliceWithSpecialElements: deletions and `$patch: replace` first.
    let slice = new GoSlice(original);
    let replace = false;
    rest = [];
    for (const v of patch) {
      const item = v as JsonObject;
      if (!has(item, DIRECTIVE)) {
        rest.push(v);
        continue;
      }
      const directive = item[DIRECTIVE];
      if (directive === 'delete') {
        if (!has(item, mergeKey)) throw noMergeKey(item, mergeKey);
        for (let i = findByKey(slice, mergeKey, item[mergeKey]); i >= 0; i = findByKey(slice, mergeKey, item[mergeKey])) slice.removeAt(i);
      } else if (directive === 'replace') replace = true;
      else if (directive === 'merge') throw fail('merging lists cannot yet be specified in the patch');
      else throw fail(`unknown patch type: ${goFmtS(directive)} in map: ${goFmt(item)}`);
    }
    if (replace) {
      slice = new GoSlice([...rest]);
      rest = [];
    }
    serverOrder = slice.items();
    // mergeSliceWithoutSpecialElements: merge items with the same key, append the others.
    for (const v of rest) {
      const item = v as JsonObject;
      if (!has(item, mergeKey)) throw noMergeKey(item, mergeKey);
      const i = findByKey(slice, mergeKey, item[mergeKey]);
      if (i >= 0) slice.setAt(i, mergeMap(slice.at(i) as JsonObject, item, schema));
      else slice.append(v);
    }
    merged = slice.items();
  }
  const [patchItems, serverOnly] = partition(merged, rest, mergeKey);
  return interleave(patchItems, serverOnly, rest, serverOrder, mergeKey, isMap);
}

/** mergePatchIntoOriginal: each `$setElementOrder/<list>` with its list. */
function mergeOrderedLists(original: JsonObject, patch: JsonObject, schema: Schema): void {
  for (const key of Object.keys(patch)) {
    if (!key.startsWith(SET_ELEMENT_ORDER) || !has(patch, key)) continue;
    const order = patch[key];
    delete patch[key];
    if (!Array.isArray(order)) throw fail(badArgType('slice', order));
    const listKey = extractKey(key, SET_ELEMENT_ORDER);
    const foundOriginal = has(original, listKey);
    const foundPatch = has(patch, listKey);
    const originalList = foundOriginal ? original[listKey] : undefined;
    const patchList = foundPatch ? patch[listKey] : undefined;
    if (foundOriginal && !Array.isArray(originalList)) throw fail(badArgType('slice', originalList));
    if (foundPatch && !Array.isArray(patchList)) throw fail(badArgType('slice', patchList));
    const originalItems = (originalList ?? []) as Json[];
    const patchItems = (patchList ?? []) as Json[];
    const { sub, meta } = lookup(schema, listKey);
    const mergeKey = meta.patchMergeKey ?? '';
    checkOrder(patchItems, order, mergeKey);
    let merged: Json[];
    if (foundOriginal && !foundPatch) merged = originalItems;
    else if (!foundOriginal && foundPatch) merged = removeDirectives(patchItems)[0] as Json[];
    else if (foundOriginal && foundPatch) merged = mergeList(originalItems, patchItems, sub, meta, false);
    else continue;
    const [inOrder, serverOnly] = partition(merged, order, mergeKey);
    const isMap = isMapType(elementType([originalItems, patchItems]));
    // `originalItems` is the array mergeList worked on: Go's view of the shifted backing array.
    set(original, listKey, interleave(inOrder, serverOnly, order, originalItems, mergeKey, isMap));
    delete patch[listKey];
  }
}

const isDirectiveKey = (k: string) => k === DIRECTIVE || k === RETAIN_KEYS || k.startsWith(`${SET_ELEMENT_ORDER}/`) || k.startsWith(`${DELETE_FROM_PRIMITIVE_LIST}/`);

/**
 * Directives the merge leaves in place (inside list items and maps it takes whole) are no fields of
 * any type: decoding the result into the Go type drops them, so they go here too.
 */
function dropDirectives(v: Json): void {
  if (Array.isArray(v)) for (const item of v) dropDirectives(item);
  else if (isObject(v)) {
    for (const k of Object.keys(v)) {
      if (isDirectiveKey(k)) delete v[k];
      else dropDirectives(v[k]!);
    }
  }
}

/** Applies a decoded strategic merge patch to `original` (both are changed) for a type. */
export function strategicMergePatch(original: JsonObject, patch: JsonObject, type: StructType): JsonObject {
  const out = mergeMap(original, patch, type);
  dropDirectives(out);
  return out;
}
