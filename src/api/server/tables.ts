// Table responses (meta.k8s.io/v1 Table): what kube-apiserver answers to kubectl's human-readable
// `get` (Accept: application/json;as=Table;v=v1;g=meta.k8s.io), built by the same rules as its
// printers (pkg/printers/internalversion/printers.go, v1.32, in tables/*.ts). The server computes
// every cell, AGE included, and always all columns: kube-apiserver prints with Wide set, and kubectl
// hides the priority-1 columns unless `-o wide` (a request says nothing about -o wide).
// A resource without a printer gets rest.NewDefaultTableConvertor's Name and Created At.
//
// Each row's `object` is what includeObject asks for (handlers/response.go asTable): a
// PartialObjectMetadata (the default; kubectl reads -A's NAMESPACE column and --show-labels from
// it), the whole object, or null.
import type { IncludeObject, ListMeta, ToTable } from './negotiate.ts';
import { apiVersionOf, RESOURCES, type ResourceInfo } from './resources.ts';
import type { KubeObject } from './object.ts';
import { deploymentPrinter, replicaSetPrinter } from './tables/apps.ts';
import { column, CREATION_TIMESTAMP_DESCRIPTION, NAME_COLUMN, type Cell, type Printer, type TableColumnDefinition, type TableRowCondition } from './tables/columns.ts';
import { configMapPrinter, endpointsPrinter, eventPrinter, namespacePrinter, nodePrinter, servicePrinter } from './tables/core.ts';
import { endpointSlicePrinter, ingressClassPrinter, ingressPrinter, leasePrinter } from './tables/groups.ts';
import { podPrinter } from './tables/pods.ts';

export type { Cell, TableColumnDefinition, TableRowCondition } from './tables/columns.ts';

export type TableRow = {
  cells: Cell[];
  conditions?: TableRowCondition[];
  /** PartialObjectMetadata, the object, or null (includeObject=None: kube writes the field as null). */
  object: unknown;
};

export type Table = {
  kind: 'Table';
  apiVersion: 'meta.k8s.io/v1';
  metadata: ListMeta;
  columnDefinitions: TableColumnDefinition[];
  /** null only from the default convertor for no objects (as kube's nil slice). */
  rows: TableRow[] | null;
};

export interface TablesOptions {
  includeObject: IncludeObject;
  /** The clock AGE is computed against (default: now). */
  now?: Date;
  /** The list's resourceVersion and continue token (for a single object: its resourceVersion). */
  listMeta?: ListMeta;
}

// Keyed `<group>/<plural>` ('' for core).
const PRINTERS = new Map<string, Printer>([
  ['/pods', podPrinter],
  ['/services', servicePrinter],
  ['/endpoints', endpointsPrinter],
  ['/nodes', nodePrinter],
  ['/namespaces', namespacePrinter],
  ['/configmaps', configMapPrinter],
  ['/events', eventPrinter],
  ['apps/deployments', deploymentPrinter],
  ['apps/replicasets', replicaSetPrinter],
  ['networking.k8s.io/ingresses', ingressPrinter],
  ['networking.k8s.io/ingressclasses', ingressClassPrinter],
  ['discovery.k8s.io/endpointslices', endpointSlicePrinter],
  ['coordination.k8s.io/leases', leasePrinter],
]);

/** rest.NewDefaultTableConvertor: Name and Created At (RFC 3339; a zero time is year 1). */
const defaultPrinter: Printer = {
  columns: [NAME_COLUMN, column('Created At', 'date', CREATION_TIMESTAMP_DESCRIPTION)],
  print: (obj) => ({ cells: [obj.metadata.name ?? '', obj.metadata.creationTimestamp ?? '0001-01-01T00:00:00Z'] }),
};

/** `pods`, `deployments.apps` (kubectl's resource.group) or `apps/deployments` to its resource info. */
function resolve(resource: string): ResourceInfo | undefined {
  const slash = resource.indexOf('/');
  if (slash >= 0) return RESOURCES.find((r) => r.group === resource.slice(0, slash) && r.plural === resource.slice(slash + 1));
  const dot = resource.indexOf('.');
  if (dot >= 0) return RESOURCES.find((r) => r.plural === resource.slice(0, dot) && r.group === resource.slice(dot + 1));
  return RESOURCES.find((r) => r.plural === resource && r.group === '') ?? RESOURCES.find((r) => r.plural === resource);
}

function rowObject(obj: KubeObject, info: ResourceInfo | undefined, include: IncludeObject): unknown {
  if (include === 'None') return null;
  if (include === 'Metadata') return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata };
  // The object as its API version encodes it: kind and apiVersion first.
  const { kind, apiVersion, ...rest } = obj;
  return { kind: kind ?? info?.kind, apiVersion: apiVersion ?? (info ? apiVersionOf(info) : undefined), ...rest };
}

function tableMetadata(listMeta: ListMeta | undefined): ListMeta {
  const m: ListMeta = {};
  if (listMeta?.resourceVersion) m.resourceVersion = listMeta.resourceVersion;
  if (listMeta?.continue) m.continue = listMeta.continue;
  if (listMeta?.remainingItemCount !== undefined) m.remainingItemCount = listMeta.remainingItemCount;
  return m;
}

/** The Table kube-apiserver returns for these objects of `resource` (a list, or one object). */
export function toTable(resource: string, objects: object[], opts: TablesOptions): Table {
  const info = resolve(resource);
  const printer = (info && PRINTERS.get(`${info.group}/${info.plural}`)) ?? defaultPrinter;
  const now = (opts.now ?? new Date()).getTime();
  const rows = (objects as KubeObject[]).map((obj): TableRow => {
    const { cells, conditions } = printer.print(obj, now);
    const object = rowObject(obj, info, opts.includeObject);
    return conditions ? { cells, conditions, object } : { cells, object };
  });
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: tableMetadata(opts.listMeta),
    columnDefinitions: [...printer.columns],
    rows: printer === defaultPrinter && rows.length === 0 ? null : rows,
  };
}

/** toTable in the shape the API routes take (RouteOptions.toTable). */
export const tableConvertor: ToTable = (r, objects, opts) => toTable(`${r.group}/${r.plural}`, objects, opts);
