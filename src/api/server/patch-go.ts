// JSON values as the Go code of kube-apiserver's patch handlers sees them, for the parts of its
// behaviour that show: the texts of its errors (fmt's %v and %s of decoded JSON, reflect's type
// names) and its comparisons (Go's == on interface values). A patch body is decoded with
// sigs.k8s.io/json's "preserve ints": a number written as an integer is an int64, any other a
// float64 (JSON.parse cannot tell `1.0` from `1`; both count as int64 here).

export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}

export const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An own property only (a key named `__proto__` or `constructor` is data here). */
export function get(o: JsonObject, key: string): Json | undefined {
  return Object.hasOwn(o, key) ? o[key] : undefined;
}

export function set(o: JsonObject, key: string, value: Json): void {
  if (key === '__proto__') Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
  else o[key] = value;
}

export function has(o: JsonObject, key: string): boolean {
  return Object.hasOwn(o, key);
}

/** Thrown where the Go code panics (kube-apiserver answers a plain-text 500, see patch.ts). */
export class GoPanic extends Error {}

/** The dynamic Go type of a decoded JSON value. */
export function goType(v: Json | undefined): string {
  if (v === null || v === undefined) return 'nil';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int64' : 'float64';
  return Array.isArray(v) ? '[]interface {}' : 'map[string]interface {}';
}

const uncomparable = (t: string) => t === '[]interface {}' || t === 'map[string]interface {}';

/** Go's == on two interface{} values: false for different types, a panic for two maps or slices. */
export function goEqual(a: Json | undefined, b: Json | undefined): boolean {
  const ta = goType(a);
  if (ta !== goType(b)) return false;
  if (uncomparable(ta)) throw new GoPanic(`runtime error: comparing uncomparable type ${ta}`);
  return ta === 'nil' || a === b;
}

/** A value used as a Go map key (map[interface{}]...): a map or slice panics. */
export function goKey(v: Json | undefined): string {
  const t = goType(v);
  if (uncomparable(t)) throw new GoPanic(`runtime error: hash of unhashable type ${t}`);
  return `${t}:${String(v)}`;
}

/** strconv.FormatFloat(f, 'g', -1, 64) with fmt's %v exponent threshold (21). */
function goFloat(f: number): string {
  if (!Number.isFinite(f)) return f > 0 ? '+Inf' : f < 0 ? '-Inf' : 'NaN';
  if (f === 0) return Object.is(f, -0) ? '-0' : '0';
  const exp = Math.floor(Math.log10(Math.abs(f)));
  if (exp < -4 || exp >= 21) {
    const [mant, e] = f.toExponential().split('e') as [string, string];
    const n = Number(e);
    return `${mant}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  }
  return String(f);
}

/** fmt's %v of a decoded JSON value: `map[a:1 b:[x y]]` (map keys sorted), `<nil>`. */
export function goFmt(v: Json | undefined): string {
  if (v === null || v === undefined) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : goFloat(v);
  if (Array.isArray(v)) return `[${v.map(goFmt).join(' ')}]`;
  return `map[${Object.keys(v).sort(goLess).map((k) => `${k}:${goFmt(v[k])}`).join(' ')}]`;
}

/** fmt's %s: strings as they are, anything else as `%!s(int64=1)`, maps and slices element-wise. */
export function goFmtS(v: Json | undefined): string {
  if (v === null || v === undefined) return '%!s(<nil>)';
  if (typeof v === 'string') return v;
  if (typeof v !== 'object') return `%!s(${goType(v)}=${goFmt(v)})`;
  if (Array.isArray(v)) return `[${v.map(goFmtS).join(' ')}]`;
  return `map[${Object.keys(v).sort(goLess).map((k) => `${k}:${goFmtS(v[k])}`).join(' ')}]`;
}

/** Go sorts strings by bytes; UTF-16 order differs above the BMP only, close enough for keys. */
function goLess(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** mergepatch.ErrBadArgType: `expected a map[string]interface {}, but received a string`. */
export function badArgType(expected: 'map' | 'slice', actual: Json | undefined): string {
  const want = expected === 'map' ? 'map[string]interface {}' : '[]interface {}';
  const got = actual === null || actual === undefined ? '%!s(<nil>)' : goType(actual);
  return `expected a ${want}, but received a ${got}`;
}
