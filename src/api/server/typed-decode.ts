// Decoding a JSON object as kube-apiserver decodes it into its Go struct (typed-fields.ts), for the
// two things that decode tells a client: a value of the wrong JSON type (Go's encoding/json error,
// the first one, word for word: `json: cannot unmarshal number into Go struct field
// EnvVar.spec.template.spec.containers.env.value of type string`), and the fields the struct does
// not have (`unknown field "spec.template.spec.containers[0].imagee"`, in the order met: what
// fieldValidation=Strict refuses and Warn warns about). Unknown fields are removed from the object,
// as a typed decode drops them whatever the validation mode; so are nulls and empty maps, which
// decode to Go's zero values that kube does not write back. Field names match case-sensitively, as kube's decoder
// does (sigs.k8s.io/json). Duplicate keys are not detected (JSON.parse keeps the last).
import { STRUCTS } from './typed-fields.ts';

export interface TypedDecodeResult {
  /** Go's first type error, or undefined. */
  typeError?: string;
  /** The strict decoding errors: `unknown field "spec.foo"`, in order. */
  unknown: string[];
}

interface Context {
  /** The field path with list indices (strict errors). */
  path: string;
  /** The path without indices or map keys (Go's UnmarshalTypeError.Field). */
  goPath: string;
  /** The Go struct that holds the field being decoded ('' at the top). */
  struct: string;
}

const QUANTITY = /^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const join = (a: string, b: string) => (a ? `${a}.${b}` : b);

/** How encoding/json names a JSON value it could not store. */
function jsonKind(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return 'number';
  return typeof v === 'string' ? 'string' : 'object';
}

/** The Go type as reflect prints it (`[]v1.Container`, `map[string]string`, `intstr.IntOrString`). */
export function goTypeName(type: string): string {
  if (type.startsWith('[]')) return `[]${goTypeName(type.slice(2))}`;
  if (type.startsWith('map[string]')) return `map[string]${goTypeName(type.slice(11))}`;
  if (type === 'IntOrString') return 'intstr.IntOrString';
  if (type === 'Quantity') return 'resource.Quantity';
  if (type === 'bytes') return '[]uint8';
  if (STRUCTS[type] || type === 'Time' || type === 'MicroTime') return `v1.${type}`;
  return type;
}

class Decoder {
  typeError?: string;
  readonly unknown: string[] = [];

  mismatch(what: string, type: string, ctx: Context): void {
    if (this.typeError) return;
    const into = ctx.struct ? `Go struct field ${ctx.struct}.${ctx.goPath}` : 'Go value';
    this.typeError = `json: cannot unmarshal ${what} into ${into} of type ${goTypeName(type)}`;
  }

  /** An error a type's own UnmarshalJSON returns (no struct context in the message). */
  custom(message: string): void {
    this.typeError ??= message;
  }

  /** Decodes `value` as `type`; returns false when the value should not be kept (null). */
  value(type: string, value: unknown, ctx: Context): boolean {
    if (value === null) return false;
    if (type === '*') return true;
    if (type.startsWith('[]')) {
      if (!Array.isArray(value)) return this.mismatch(jsonKind(value), type, ctx), true;
      const elem = type.slice(2);
      value.forEach((v, i) => this.value(elem, v, { ...ctx, path: `${ctx.path}[${i}]` }));
      return true;
    }
    if (type.startsWith('map[string]')) {
      if (typeof value !== 'object' || Array.isArray(value)) return this.mismatch(jsonKind(value), type, ctx), true;
      const elem = type.slice(11);
      const map = value as Record<string, unknown>;
      for (const [k, v] of Object.entries(map)) if (!this.value(elem, v, { ...ctx, path: join(ctx.path, k) })) delete map[k];
      // Every map of these types is omitempty: an empty one is not written back (labels: {} goes).
      return Object.keys(map).length > 0;
    }
    const fields = STRUCTS[type];
    if (fields) {
      if (typeof value !== 'object' || Array.isArray(value)) return this.mismatch(jsonKind(value), type, ctx), true;
      const obj = value as Record<string, unknown>;
      for (const [k, v] of Object.entries(obj)) {
        const fieldType = Object.hasOwn(fields, k) ? fields[k] : undefined;
        if (fieldType === undefined) {
          this.unknown.push(`unknown field ${JSON.stringify(join(ctx.path, k))}`);
          delete obj[k];
        } else if (!this.value(fieldType, v, { path: join(ctx.path, k), goPath: join(ctx.goPath, k), struct: type })) delete obj[k];
      }
      return true;
    }
    this.leaf(type, value, ctx);
    return true;
  }

  leaf(type: string, value: unknown, ctx: Context): void {
    switch (type) {
      case 'string':
        if (typeof value !== 'string') this.mismatch(jsonKind(value), type, ctx);
        return;
      case 'bool':
        if (typeof value !== 'boolean') this.mismatch(jsonKind(value), type, ctx);
        return;
      case 'int32':
      case 'int64': {
        if (typeof value !== 'number') return this.mismatch(jsonKind(value), type, ctx);
        const limit = type === 'int32' ? 2 ** 31 : 2 ** 63;
        if (!Number.isInteger(value) || value < -limit || value >= limit) this.mismatch(`number ${value}`, type, ctx);
        return;
      }
      case 'float64':
        if (typeof value !== 'number') this.mismatch(jsonKind(value), type, ctx);
        return;
      case 'IntOrString':
        // intstr's UnmarshalJSON: a string, else an int32.
        if (typeof value === 'string') return;
        if (typeof value !== 'number') return this.custom(`json: cannot unmarshal ${jsonKind(value)} into Go value of type int32`);
        if (!Number.isInteger(value) || Math.abs(value) > 2 ** 31) this.custom(`json: cannot unmarshal number ${value} into Go value of type int32`);
        return;
      case 'Quantity':
        if ((typeof value !== 'string' && typeof value !== 'number') || !QUANTITY.test(String(value))) {
          this.custom("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
        }
        return;
      case 'Time':
      case 'MicroTime':
        if (typeof value !== 'string') return this.custom(`json: cannot unmarshal ${jsonKind(value)} into Go value of type string`);
        if (value !== '' && !RFC3339.test(value)) this.custom(`parsing time ${JSON.stringify(value)} as "2006-01-02T15:04:05Z07:00": cannot parse ${JSON.stringify(value)} as "2006"`);
        return;
      case 'bytes':
        if (typeof value !== 'string') return this.mismatch(jsonKind(value), type, ctx);
        if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) this.custom('illegal base64 data at input byte 0');
        return;
      default:
        throw new Error(`typed-fields: unknown type ${type}`);
    }
  }
}

/** Decodes `obj` (in place: unknown fields and nulls go) as the Go struct `kind`. */
export function typedDecode(kind: string, obj: Record<string, unknown>): TypedDecodeResult {
  if (!STRUCTS[kind]) throw new Error(`typed-fields: no struct ${kind}`);
  const d = new Decoder();
  d.value(kind, obj, { path: '', goPath: '', struct: '' });
  return { typeError: d.typeError, unknown: d.unknown };
}

/** runtime.NewStrictDecodingError's text. */
export function strictDecodingError(unknown: string[]): string {
  return `strict decoding error: ${unknown.join(', ')}`;
}
