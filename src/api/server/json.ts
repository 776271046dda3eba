// Request bodies as kube-apiserver decodes them, with its errors word for word. Its JSON
// serializer first reads apiVersion and kind with Go's encoding/json; a body that fails there is
// answered 400 BadRequest with `the object provided is unrecognized (must be of type Pod):
// couldn't get version/kind; json parse error: <Go's error> (<the first 30 bytes>)`
// (apiserver handlers' transformDecodeError and summarizeData). Go's syntax errors differ from
// JSON.parse's, so they come from a scan with the states of Go's encoding/json scanner.
import { badRequest } from './status.ts';

const EOF = 'unexpected end of JSON input';
const MAX_DEPTH = 10000; // encoding/json's maxNestingDepth

/** A byte as Go's quoteChar writes it in `invalid character 'x' ...`. */
export function quoteChar(c: number): string {
  if (c === 0x27) return `'\\''`;
  if (c === 0x22) return `'"'`;
  const named: Record<number, string> = { 7: '\\a', 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r', 0x5c: '\\\\' };
  if (named[c]) return `'${named[c]}'`;
  if (c < 0x20 || c === 0x7f) return `'\\x${c.toString(16).padStart(2, '0')}'`;
  // Go converts the byte to the rune U+0080..U+00FF: controls, NBSP and the soft hyphen are not printable.
  if ((c >= 0x80 && c <= 0xa0) || c === 0xad) return `'\\u${c.toString(16).padStart(4, '0')}'`;
  return `'${String.fromCharCode(c)}'`;
}

const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
const isDigit = (c: number | undefined) => c !== undefined && c >= 0x30 && c <= 0x39;
const isHex = (c: number) => isDigit(c) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);

class Scan {
  i = 0;
  constructor(readonly d: Uint8Array) {}

  fail(context: string): never {
    throw new Error(this.i >= this.d.length ? EOF : `invalid character ${quoteChar(this.d[this.i]!)} ${context}`);
  }
  ws(): number | undefined {
    while (this.i < this.d.length && isSpace(this.d[this.i]!)) this.i++;
    return this.d[this.i];
  }
  expect(test: (c: number) => boolean, context: string): void {
    const c = this.d[this.i];
    if (c === undefined || !test(c)) this.fail(context);
    this.i++;
  }

  /**
   * One value with everything in it, iteratively (a 3 MiB body can nest far deeper than the call
   * stack): the stack holds the open objects and arrays, as Go's scanner's parseState does.
   */
  value(): void {
    const open: ('object' | 'array')[] = [];
    let state: 'value' | 'firstKey' | 'key' | 'firstElement' | 'end' = 'value';
    for (;;) {
      if (state === 'value') {
        const c = this.ws();
        if (c === 0x7b || c === 0x5b) {
          // Go counts open objects and arrays; the one past the limit is the error.
          if (open.length >= MAX_DEPTH) this.fail('exceeded max depth');
          open.push(c === 0x7b ? 'object' : 'array');
          this.i++;
          state = c === 0x7b ? 'firstKey' : 'firstElement';
          continue;
        }
        if (c === 0x22) this.string();
        else if (c === 0x2d || isDigit(c)) this.number();
        else {
          const word = ['true', 'false', 'null'].find((w) => c === w.charCodeAt(0));
          if (!word) this.fail('looking for beginning of value');
          this.literal(word);
        }
        state = 'end';
      } else if (state === 'firstKey' || state === 'firstElement') {
        const close = state === 'firstKey' ? 0x7d : 0x5d;
        if (this.ws() === close) {
          this.i++;
          open.pop();
          state = 'end';
        } else state = state === 'firstKey' ? 'key' : 'value';
      } else if (state === 'key') {
        if (this.ws() !== 0x22) this.fail('looking for beginning of object key string');
        this.string();
        this.ws();
        this.expect((c) => c === 0x3a, 'after object key');
        state = 'value';
      } else {
        const top = open.at(-1);
        if (!top) return;
        const c = this.ws();
        if (c === (top === 'object' ? 0x7d : 0x5d)) {
          this.i++;
          open.pop();
        } else {
          this.expect((x) => x === 0x2c, top === 'object' ? 'after object key:value pair' : 'after array element');
          state = top === 'object' ? 'key' : 'value';
        }
      }
    }
  }

  string(): void {
    this.i++;
    for (;;) {
      const c = this.d[this.i];
      if (c === undefined) this.fail('in string literal');
      if (c === 0x22) return void this.i++;
      if (c < 0x20) this.fail('in string literal');
      this.i++;
      if (c !== 0x5c) continue;
      if (this.d[this.i] === 0x75) {
        this.i++;
        for (let k = 0; k < 4; k++) this.expect(isHex, 'in \\u hexadecimal character escape');
      } else this.expect((x) => 'bfnrt\\/"'.includes(String.fromCharCode(x)), 'in string escape code');
    }
  }

  number(): void {
    if (this.d[this.i] === 0x2d) this.i++;
    if (this.d[this.i] === 0x30) this.i++;
    else {
      this.expect((c) => isDigit(c) && c !== 0x30, 'in numeric literal');
      while (isDigit(this.d[this.i])) this.i++;
    }
    if (this.d[this.i] === 0x2e) {
      this.i++;
      this.expect(isDigit, 'after decimal point in numeric literal');
      while (isDigit(this.d[this.i])) this.i++;
    }
    if (this.d[this.i] === 0x65 || this.d[this.i] === 0x45) {
      this.i++;
      if (this.d[this.i] === 0x2b || this.d[this.i] === 0x2d) this.i++;
      this.expect(isDigit, 'in exponent of numeric literal');
      while (isDigit(this.d[this.i])) this.i++;
    }
  }

  literal(word: string): void {
    this.i++;
    for (const ch of word.slice(1)) this.expect((c) => c === ch.charCodeAt(0), `in literal ${word} (expecting '${ch}')`);
  }
}

/** Go's json.Unmarshal syntax error for `data`, or null when it is valid JSON. */
export function goJsonSyntaxError(data: Uint8Array): string | null {
  const s = new Scan(data);
  try {
    s.value();
    if (s.ws() !== undefined) s.fail('after top-level value');
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/** handlers' summarizeData: an object's first bytes as text, anything else as hex. */
export function summarizeData(data: Uint8Array, max: number): string {
  if (data.length === 0) return '<empty>';
  const cut = data.length > max;
  const head = Buffer.from(data.subarray(0, max));
  return data[0] === 0x7b ? head.toString('utf8') + (cut ? ' ...' : '') : head.toString('hex') + (cut ? ' ...' : '');
}

// The anonymous struct the JSON serializer unmarshals into first (runtime/serializer/json's meta factory).
export const FIND_KIND = 'struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }';

function goType(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'boolean') return 'bool';
  return typeof v === 'object' ? 'object' : typeof v;
}

/** Go's error when the parsed value cannot fill {apiVersion, kind}, or null. */
function kindProblem(v: unknown): string | null {
  if (v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) return `json: cannot unmarshal ${goType(v)} into Go value of type ${FIND_KIND}`;
  // encoding/json matches field names case-insensitively; the first mistyped one is reported.
  for (const [key, val] of Object.entries(v)) {
    const field = key.toLowerCase() === 'apiversion' ? 'apiVersion' : key.toLowerCase() === 'kind' ? 'kind' : null;
    if (field && val !== null && typeof val !== 'string') return `json: cannot unmarshal ${goType(val)} into Go struct field .${field} of type string`;
  }
  return null;
}

/**
 * The body of a create or update of a `kind` as a JSON object, or a StatusError with
 * kube-apiserver's 400. `null` decodes as an empty object, as in Go. apiVersion and kind are left
 * to the caller (kube-apiserver fills them in from the URL when they are missing).
 */
export function decodeObject(body: Uint8Array, kind: string): Record<string, unknown> {
  let problem = goJsonSyntaxError(body);
  let value: unknown;
  if (problem === null) {
    try {
      value = JSON.parse(Buffer.from(body).toString('utf8'));
      problem = kindProblem(value);
    } catch (e) {
      problem = (e as Error).message; // valid for Go, not for JSON.parse: should not happen
    }
  }
  if (problem !== null) {
    throw (badRequest(`the object provided is unrecognized (must be of type ${kind}): couldn't get version/kind; json parse error: ${problem} (${summarizeData(body, 30)})`));
  }
  return (value ?? {}) as Record<string, unknown>;
}
