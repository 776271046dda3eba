// Objects as the API server keeps them: plain JSON in Kubernetes' shape. The store holds them
// without metadata.resourceVersion (kube-apiserver clears it before writing, and sets it from the
// row's revision on every read).

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  [field: string]: unknown;
}

/** RFC 3339 with seconds, as kube writes metav1.Time: `2026-11-28T06:30:00Z`. */
export function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

export function clone<T>(value: T): T {
  return structuredClone(value);
}

// kube serializes typed structs in field order; keep that order for what we store and return.
// (TypeMeta is kind, then apiVersion.)
const TOP_ORDER = ['kind', 'apiVersion', 'metadata', 'spec', 'status'];
const META_ORDER = ['name', 'generateName', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'labels', 'annotations', 'ownerReferences', 'finalizers'];

function ordered<T extends object>(obj: T, order: readonly string[]): T {
  const out: Record<string, unknown> = {};
  const src = obj as Record<string, unknown>;
  for (const k of order) if (src[k] !== undefined) out[k] = src[k];
  for (const [k, v] of Object.entries(src)) if (!order.includes(k) && v !== undefined) out[k] = v;
  return out as T;
}

/** The object with kube's top-level and metadata field order (and no undefined fields). */
export function normalize(obj: KubeObject): KubeObject {
  const out = ordered(obj, TOP_ORDER);
  out.metadata = ordered(obj.metadata ?? {}, META_ORDER);
  return out;
}

/** JSON with object keys sorted: equal for objects that differ only in key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return v;
  });
}

export function deepEqual(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/** What the store keeps: the object without its resourceVersion. */
export function encodeForStorage(obj: KubeObject): Buffer {
  const { resourceVersion: _rv, ...metadata } = obj.metadata;
  return Buffer.from(JSON.stringify(normalize({ ...obj, metadata })));
}

/** A stored value with the resourceVersion of the row it came from. */
export function decodeFromStorage(value: Buffer, revision: number): KubeObject {
  const obj = JSON.parse(value.toString('utf8')) as KubeObject;
  obj.metadata = ordered({ ...obj.metadata, resourceVersion: String(revision) }, META_ORDER);
  return obj;
}
