// Lists in a strategic merge patch (k8s.io/apimachinery v0.32.4 pkg/util/strategicpatch): how
// items are found by their merge key, how the merged list is ordered (normalizeElementOrder,
// mergeSortedSlice), the element-type check, `$setElementOrder`'s validation, and the package's
// errors, whose kind decides kube-apiserver's status (patch.ts).
import { badArgType, get, goEqual, goFmt, goKey, GoPanic, goType, has, isObject, type Json, type JsonObject } from './patch-go.ts';

export const DIRECTIVE = '$patch';
export const RETAIN_KEYS = '$retainKeys';
export const DELETE_FROM_PRIMITIVE_LIST = '$deleteFromPrimitiveList';
export const SET_ELEMENT_ORDER = '$setElementOrder';

/**
 * kind: how kube-apiserver's interpretStrategicMergePatchError answers the error: 400 BadRequest
 * for the package's malformed-patch errors, 422 for lists of lists, a plain 500 for the rest.
 */
export class StrategicPatchError extends Error {
  constructor(
    readonly kind: 'badRequest' | 'unprocessable' | 'unknown',
    message: string,
  ) {
    super(message);
  }
}

export const fail = (message: string) => new StrategicPatchError('unknown', message);
export const ERR_PRIMITIVE_LIST = () => new StrategicPatchError('badRequest', 'invalid patch format of primitive list');
export const ERR_RETAIN_KEYS = () => new StrategicPatchError('badRequest', 'invalid patch format of retainKeys');
export const ERR_SET_ELEMENT_ORDER = () => new StrategicPatchError('badRequest', 'invalid patch format of setElementOrder list');
export const ERR_NO_LIST_OF_LISTS = () => new StrategicPatchError('unprocessable', 'lists of lists are not supported');
export const noMergeKey = (m: JsonObject, key: string) => fail(`map: ${goFmt(m)} does not contain declared merge key: ${key}`);

/**
 * A Go slice over the object's list. strategicpatch deletes items with append(l[:i], l[i+1:]...),
 * which shifts the backing array in place, and appends new items, which land in that array while
 * it has room: so the object's list as `$setElementOrder` handling still holds it afterwards
 * (mergePatchIntoOriginal's originalFieldValue, by which it orders the object's other items) reads
 * the remaining items, then as many appended ones as items were deleted, then stale ones. That is
 * so whatever the capacity, since the first appends fill exactly the deleted items' places; kubectl
 * and kube-apiserver order the same way (an oracle case in test/unit/api-patch.test.ts). The array
 * given is changed in place just so.
 */
export class GoSlice {
  private len: number;
  private shared = true;
  constructor(private arr: Json[]) {
    this.len = arr.length;
  }
  get length(): number {
    return this.len;
  }
  at(i: number): Json {
    return this.arr[i]!;
  }
  setAt(i: number, v: Json): void {
    this.arr[i] = v;
  }
  removeAt(i: number): void {
    this.arr.copyWithin(i, i + 1, this.len);
    this.len--;
  }
  append(v: Json): void {
    if (this.len === this.arr.length || !this.shared) {
      if (this.shared) this.arr = this.arr.slice(0, this.len);
      this.shared = false;
      this.arr.push(v);
    } else this.arr[this.len] = v;
    this.len++;
  }
  items(): Json[] {
    return this.arr.slice(0, this.len);
  }
}

/** sliceElementType: the one Go type of all items of the lists (an error when they differ). */
export function elementType(lists: readonly Json[][]): string {
  let prev: string | undefined;
  for (const list of lists) {
    for (const v of list) {
      const t = goType(v);
      if (prev === undefined) {
        // reflect.TypeOf(nil).Kind() on a nil first item dereferences nil.
        if (t === 'nil') throw new GoPanic('runtime error: invalid memory address or nil pointer dereference');
        prev = t;
        if (t === '[]interface {}') throw ERR_NO_LIST_OF_LISTS();
      } else if (prev !== t) throw fail(`list element types are not identical: ${goFmt(lists as Json[])}`);
    }
  }
  if (prev === undefined) throw fail('no elements in any of the given slices');
  return prev;
}

export const isMapType = (t: string) => t === 'map[string]interface {}';

export function asMap(v: Json | undefined): JsonObject {
  if (!isObject(v)) throw fail(badArgType('map', v));
  return v;
}

/** findMapInSliceBasedOnKeyValue */
export function findByKey(list: GoSlice | readonly Json[], key: string, value: Json | undefined): number {
  const n = list.length;
  for (let i = 0; i < n; i++) {
    const item = list instanceof GoSlice ? list.at(i) : list[i];
    if (!isObject(item)) throw fail(`value for key ${i} is not a map`);
    if (has(item, key) && goEqual(item[key], value)) return i;
  }
  return -1;
}

/** The value an item is ordered by: its merge key's value for maps, the item itself otherwise. */
function orderValue(item: Json, mergeKey: string, isMap: boolean): Json | undefined {
  if (!isMap) return item;
  return isObject(item) ? get(item, mergeKey) : undefined;
}

export function indexIn(list: readonly Json[], item: Json, mergeKey: string, isMap: boolean): number {
  const want = orderValue(item, mergeKey, isMap);
  return list.findIndex((v) => goEqual(want, orderValue(v, mergeKey, isMap)));
}

export function checkMergeKeys(mergeKey: string, ...lists: readonly Json[][]): void {
  for (const list of lists) {
    for (const item of list) {
      const m = asMap(item);
      if (!has(m, mergeKey)) throw noMergeKey(m, mergeKey);
    }
  }
}

/** extractToDeleteItems: the items without `$patch: delete`, and those with it. */
export function splitDeletes(list: readonly Json[]): [Json[], Json[]] {
  const keep: Json[] = [];
  const del: Json[] = [];
  for (const v of list) (get(asMap(v), DIRECTIVE) === 'delete' ? del : keep).push(v);
  return [keep, del];
}

/** normalizeSliceOrder: stable sort by position in `order` (items it lacks keep their place). */
export function sortByOrder(toSort: Json[], order: readonly Json[], mergeKey: string, isMap: boolean): Json[] {
  let del: Json[] = [];
  if (isMap) {
    checkMergeKeys(mergeKey, toSort, order as Json[]);
    [toSort, del] = splitDeletes(toSort);
  }
  const pos = toSort.map((item) => indexIn(order, item, mergeKey, isMap));
  // Go's comparator says "less" whenever either item is missing from `order`; in the uses below
  // every item is in it, and then any stable sort gives the same order.
  const idx = toSort.map((_, i) => i).sort((a, b) => (pos[a]! >= 0 && pos[b]! >= 0 ? pos[a]! - pos[b]! : 0) || a - b);
  return [...idx.map((i) => toSort[i]!), ...del];
}

/** normalizeElementOrder + mergeSortedSlice: the patch's items and the object's, interleaved. */
export function interleave(patchItems: Json[], serverOnly: Json[], patchOrder: readonly Json[], serverOrder: readonly Json[], mergeKey: string, isMap: boolean): Json[] {
  const right = sortByOrder(patchItems, patchOrder, mergeKey, isMap);
  const left = sortByOrder(serverOnly, serverOrder, mergeKey, isMap);
  const out: Json[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length || j < right.length) {
    if (j >= right.length) out.push(left[i++]!);
    else if (i >= left.length) out.push(right[j++]!);
    else {
      const li = indexIn(serverOrder, left[i]!, mergeKey, isMap);
      const ri = indexIn(serverOrder, right[j]!, mergeKey, isMap);
      out.push(li >= 0 && ri >= 0 && li < ri ? left[i++]! : right[j++]!);
    }
  }
  return out;
}

/** The items of `list` present in `by` (by merge key for maps), and the others. */
export function partition(list: readonly Json[], by: readonly Json[], mergeKey: string): [Json[], Json[]] {
  const inBy: Json[] = [];
  const others: Json[] = [];
  if (!mergeKey) {
    const keys = new Set(by.map(goKey));
    for (const v of list) (keys.has(goKey(v)) ? inBy : others).push(v);
    return [inBy, others];
  }
  for (const v of list) {
    const m = asMap(v);
    if (!has(m, mergeKey)) throw noMergeKey(m, mergeKey);
    (findByKey(by, mergeKey, m[mergeKey]) >= 0 ? inBy : others).push(v);
  }
  return [inBy, others];
}

/** deduplicateScalars, in its own order (which the ordering step makes irrelevant). */
export function dedupe(s: Json[]): Json[] {
  let last = s.length - 1;
  for (let i = 0; i < last; i++) {
    for (let j = i + 1; j <= last; j++) {
      if (goEqual(s[i], s[j])) {
        s[j] = s[last]!;
        s.length = last;
        last--;
        j--;
      }
    }
  }
  return s;
}

/** validatePatchWithSetOrderList: the patch's items appear in `$setElementOrder` in the same order. */
export function checkOrder(patchList: Json[], order: Json[], mergeKey: string): void {
  if (order.length === 0 || patchList.length === 0) return;
  const items = mergeKey ? splitDeletes(patchList)[0] : patchList;
  let p = 0;
  let o = 0;
  while (p < items.length && o < order.length) {
    const item = items[p]!;
    if (isObject(item) && has(item, DIRECTIVE)) {
      p++;
      continue;
    }
    if (mergeKeyEqual(item, order[o]!, mergeKey)) p++;
    o++;
  }
  if (p < items.length && o >= order.length) {
    throw fail(`The order in patch list:\n${goFmt(patchList)}\n doesn't match ${SET_ELEMENT_ORDER} list:\n${goFmt(order)}\n`);
  }
}

export function mergeKeyEqual(left: Json, right: Json, mergeKey: string): boolean {
  if (!mergeKey) return goEqual(left, right);
  const l = asMap(left);
  const r = asMap(right);
  if (!has(l, mergeKey)) throw noMergeKey(l, mergeKey);
  if (!has(r, mergeKey)) throw noMergeKey(r, mergeKey);
  return goEqual(l[mergeKey], r[mergeKey]);
}
