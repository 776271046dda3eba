// What every printer shares: the Table's column and row types (meta.k8s.io/v1), the Name and Age
// columns, and the small formatters of kube-apiserver's printers
// (pkg/printers/internalversion/printers.go, apimachinery's labels and metav1 helpers).
import { age } from '../../age.ts';
import type { KubeObject } from '../object.ts';
import { labelSelectorFromSpec } from '../selectors.ts';

/** A cell as JSON carries it: kube's printers put strings, int64s and bools in cells. */
export type Cell = string | number | boolean | null;

export type TableColumnDefinition = {
  name: string;
  /** An OpenAPI type: string, integer, number, boolean, date. */
  type: string;
  /** `name` marks the column kubectl prefixes with `kind/` when it prints several kinds. */
  format: string;
  description: string;
  /** 0: always shown; 1: only with `kubectl get -o wide`. */
  priority: number;
};

export type TableRowCondition = { type: string; status: string; reason?: string; message?: string };

export type PrintedRow = { cells: Cell[]; conditions?: TableRowCondition[] };

export interface Printer {
  columns: readonly TableColumnDefinition[];
  /** The row of one object; `now` in milliseconds (every AGE is computed by the server). */
  print(obj: KubeObject, now: number): PrintedRow;
}

export function column(name: string, type: string, description: string, extra: { priority?: number; format?: string } = {}): TableColumnDefinition {
  return { name, type, format: extra.format ?? '', description, priority: extra.priority ?? 0 };
}

/** Wide-only (priority 1). */
export const wide = (name: string, description: string, type = 'string'): TableColumnDefinition => column(name, type, description, { priority: 1 });

// ObjectMeta's swagger documentation (apimachinery v0.32 types_swagger_doc_generated.go).
export const NAME_DESCRIPTION =
  'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names';
export const CREATION_TIMESTAMP_DESCRIPTION =
  'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata';

export const NAME_COLUMN = column('Name', 'string', NAME_DESCRIPTION, { format: 'name' });
export const AGE_COLUMN = column('Age', 'string', CREATION_TIMESTAMP_DESCRIPTION);
export const CONTAINERS_COLUMN = wide('Containers', 'Names of each container in the template.');
export const IMAGES_COLUMN = wide('Images', 'Images referenced by each container in the template.');

/** translateTimestampSince: HumanDuration of now - t, `<unknown>` for no (zero) time. */
export const since = (t: unknown, now: number): string => age(typeof t === 'string' ? t : undefined, now);

export const ageOf = (obj: KubeObject, now: number): string => since(obj.metadata.creationTimestamp, now);

export const str = (v: unknown): string => (typeof v === 'string' ? v : '');
export const int = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? Math.trunc(v) : 0);
export const arr = <T = Record<string, unknown>>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);
export const rec = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/** Go's byte-wise string order (labels, sets). */
export const goCompare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** labels.FormatLabels: `k=v` pairs sorted as strings, joined by commas; `<none>` for none. */
export function formatLabels(labels: unknown): string {
  const pairs = Object.entries(rec(labels)).map(([k, v]) => `${k}=${str(v)}`);
  return pairs.length ? pairs.sort(goCompare).join(',') : '<none>';
}

/**
 * metav1.LabelSelectorAsSelector(...).String(): requirements sorted by key, `<invalid>` text
 * chosen by the caller for a selector kube cannot parse; "" for no selector and for an empty one.
 */
export function selectorString(selector: unknown): string | undefined {
  try {
    const s = labelSelectorFromSpec(selector as Parameters<typeof labelSelectorFromSpec>[0]);
    return s === 'nothing' ? '' : s.toString();
  } catch {
    return undefined;
  }
}

/** metav1.FormatLabelSelector: `<error>` for a bad selector, `<none>` for an empty string. */
export function formatLabelSelector(selector: unknown): string {
  const s = selectorString(selector);
  if (s === undefined) return '<error>';
  return s === '' ? '<none>' : s;
}

/** layoutContainerCells: the containers' names and images, each joined by commas. */
export function containerCells(containers: unknown): [string, string] {
  const cs = arr(containers);
  return [cs.map((c) => str(c.name)).join(','), cs.map((c) => str(c.image)).join(',')];
}

/** listWithMoreString: at most `max` items, then ` + N more...`; `<unset>` for none. */
export function listWithMore(items: string[], max = 3): string {
  const shown = items.slice(0, max).join(',');
  if (items.length > max) return `${shown} + ${items.length - max} more...`;
  return shown === '' ? '<unset>' : shown;
}

/** The template's pod spec containers of a Deployment or ReplicaSet. */
export function templateContainers(obj: KubeObject): unknown {
  return rec(rec(rec(obj.spec).template).spec).containers;
}

/** IPs (else hostnames) of a load balancer status, de-duplicated and sorted (sets.String.List()). */
export function loadBalancerAddresses(status: unknown): string {
  const seen = new Set<string>();
  for (const i of arr(rec(status).ingress)) {
    if (str(i.ip)) seen.add(str(i.ip));
    else if (str(i.hostname)) seen.add(str(i.hostname));
  }
  // Server-side tables are printed wide: no 16-character clipping.
  return [...seen].sort(goCompare).join(',');
}
