// What a GET answers with, from its Accept header, as kube-apiserver's negotiation decides it:
// the object or list itself (application/json), a Table (`application/json;as=Table;v=v1;
// g=meta.k8s.io`: kubectl's human-readable `get`), or metadata only (`as=PartialObjectMetadata`,
// `as=PartialObjectMetadataList`: metadata informers). Every answer is JSON: a client that
// prefers protobuf (client-go's typed clients) always offers JSON too.
//
// Tables come from RouteDeps.toTable when given (tables.ts: kubectl's columns); without it, from
// kube's default table convertor (rest.NewDefaultTableConvertor): Name and Created At, what kube
// answers for a resource without printer columns.
import type { KubeObject } from './object.ts';
import type { ResourceInfo } from './resources.ts';
import { badRequest } from './status.ts';

export type IncludeObject = 'None' | 'Metadata' | 'Object';

export interface ListMeta {
  resourceVersion?: string;
  continue?: string;
  remainingItemCount?: number;
}

export interface TableOptions {
  /** What each row's `object` holds: nothing, a PartialObjectMetadata (the default), or the object. */
  includeObject: IncludeObject;
  /** The Table's own metadata (the list's resourceVersion, continue, remainingItemCount). */
  listMeta?: ListMeta;
}

/** A meta.k8s.io/v1 Table for these objects (objects carry apiVersion and kind). */
export type ToTable = (resource: ResourceInfo, objects: KubeObject[], opts: TableOptions) => Record<string, unknown>;

export type OutputForm = { as: 'object' } | { as: 'Table' | 'PartialObjectMetadata'; version: 'v1' | 'v1beta1' };

interface MediaRange {
  type: string;
  params: Map<string, string>;
  q: number;
}

function parseAccept(accept: string): MediaRange[] {
  const ranges: MediaRange[] = [];
  for (const part of accept.split(',')) {
    const [type, ...rest] = part.split(';').map((s) => s.trim());
    if (!type) continue;
    const params = new Map<string, string>();
    for (const kv of rest) {
      const eq = kv.indexOf('=');
      if (eq > 0) params.set(kv.slice(0, eq).trim().toLowerCase(), kv.slice(eq + 1).trim());
    }
    const q = params.has('q') ? Number(params.get('q')) : 1;
    ranges.push({ type: type.toLowerCase(), params, q: Number.isFinite(q) ? q : 0 });
  }
  // Stable: equal weights keep the client's order.
  return ranges.map((r, i) => ({ r, i })).sort((a, b) => b.r.q - a.r.q || a.i - b.i).map(({ r }) => r);
}

const JSONISH = new Set(['application/json', 'application/*', '*/*']);

/** The form to answer in; a request without a usable media range gets the object as JSON. */
export function negotiateOutput(accept: string | undefined): OutputForm {
  for (const range of parseAccept(accept ?? '')) {
    if (range.q <= 0 || !JSONISH.has(range.type)) continue;
    const as = range.params.get('as');
    if (as === undefined) return { as: 'object' };
    const version = range.params.get('v');
    if (range.params.get('g') !== 'meta.k8s.io' || (version !== 'v1' && version !== 'v1beta1')) continue;
    if (as === 'Table') return { as: 'Table', version };
    if (as === 'PartialObjectMetadata' || as === 'PartialObjectMetadataList') return { as: 'PartialObjectMetadata', version };
  }
  return { as: 'object' };
}

/** The includeObject query parameter (Metadata when absent). */
export function includeObjectOf(query: URLSearchParams): IncludeObject {
  const v = query.get('includeObject') ?? '';
  if (v === '') return 'Metadata';
  if (v === 'None' || v === 'Metadata' || v === 'Object') return v;
  throw badRequest(`unrecognized includeObject value: ${JSON.stringify(v)}`);
}

/** meta.AsPartialObjectMetadata. */
export function partialObjectMetadata(obj: KubeObject, version = 'v1'): Record<string, unknown> {
  return { kind: 'PartialObjectMetadata', apiVersion: `meta.k8s.io/${version}`, metadata: obj.metadata };
}

/** A row's `object` as asTable shapes it. */
export function rowObject(obj: KubeObject, include: IncludeObject, version = 'v1'): unknown {
  if (include === 'None') return null;
  return include === 'Object' ? obj : partialObjectMetadata(obj, version);
}

// ObjectMeta's swagger descriptions, which kube's default convertor gives its two columns.
const NAME_DESCRIPTION =
  'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names';
const CREATED_DESCRIPTION =
  'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata';

/** rest.NewDefaultTableConvertor's Table: Name, Created At (an RFC 3339 date, which kubectl prints as is). */
export const defaultToTable: ToTable = (_resource, objects, opts) => {
  const metadata: Record<string, unknown> = {};
  if (opts.listMeta?.resourceVersion) metadata.resourceVersion = opts.listMeta.resourceVersion;
  if (opts.listMeta?.continue) metadata.continue = opts.listMeta.continue;
  if (opts.listMeta?.remainingItemCount !== undefined) metadata.remainingItemCount = opts.listMeta.remainingItemCount;
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata,
    columnDefinitions: [
      { name: 'Name', type: 'string', format: 'name', description: NAME_DESCRIPTION, priority: 0 },
      { name: 'Created At', type: 'date', format: '', description: CREATED_DESCRIPTION, priority: 0 },
    ],
    rows: objects.map((o) => ({ cells: [o.metadata.name ?? '', o.metadata.creationTimestamp ?? null], object: rowObject(o, opts.includeObject) })),
  };
};

/** A Table answered to a v1beta1 Accept says so (the same shape in both versions). */
export function tableAs(table: Record<string, unknown>, version: string): Record<string, unknown> {
  const rows = (table.rows as { object?: unknown }[] | undefined)?.map((row) => {
    const o = row.object as { kind?: string } | null | undefined;
    return o && o.kind === 'PartialObjectMetadata' ? { ...row, object: { ...o, apiVersion: `meta.k8s.io/${version}` } } : row;
  });
  return { ...table, apiVersion: `meta.k8s.io/${version}`, ...(rows ? { rows } : {}) };
}
