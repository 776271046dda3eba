// What a role sees of the API: objects, lists and watch events, as client-go's types shape them.
// The in-process client (the roles running inside the API server's process) and the HTTPS client
// (agents on other nodes, kubectl-like tools) both implement ListWatch.

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean; blockOwnerDeletion?: boolean }[];
  generateName?: string;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
}

export interface ListResult<T> {
  items: T[];
  /** The list's resourceVersion: a watch from it misses nothing and repeats nothing. */
  resourceVersion: string;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchEvent<T> {
  type: WatchEventType;
  /** The object; for ERROR a Status (code 410 when the version asked for is compacted away). */
  object: T;
}

export interface WatchOptions {
  resourceVersion: string;
  allowWatchBookmarks?: boolean;
}

/**
 * One resource, maybe narrowed by namespace and selectors, as a reflector lists and watches it.
 * `watch` delivers events in order until it ends: `onClose` with an error for an ended stream
 * (the reflector watches again from the last version it saw), without one when cancelled.
 */
export interface ListWatch<T extends KubeObject> {
  list(): Promise<ListResult<T>>;
  watch(opts: WatchOptions, onEvent: (e: WatchEvent<T>) => void, onClose: (err?: Error) => void): () => void;
}

/** The store key client-go uses: "<namespace>/<name>", or "<name>" for cluster-scoped objects. */
export function objectKey(o: { metadata: Pick<ObjectMeta, 'name' | 'namespace'> }): string {
  return o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;
}

/** The status code of an ERROR event's Status, if it is one. */
export function statusCode(o: unknown): number | undefined {
  const s = o as { kind?: string; code?: number } | null;
  return s && s.kind === 'Status' && typeof s.code === 'number' ? s.code : undefined;
}

/** A resource by API group ('' for core) and plural name, e.g. { group: 'apps', resource: 'deployments' }. */
export interface ResourceRef {
  group: string;
  resource: string;
}

export interface Selectors {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

/** DELETE's options a role sends: the grace period, and preconditions (the kubelet's final delete names the uid it stopped). */
export interface DeleteOptions {
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
}

/** The verbs a role uses; LocalClient implements them in-process, the HTTPS client over the network. */
export interface Client {
  get<T extends KubeObject>(ref: ResourceRef, namespace: string | undefined, name: string): Promise<T>;
  list<T extends KubeObject>(ref: ResourceRef, sel?: Selectors): Promise<ListResult<T>>;
  create<T extends KubeObject>(ref: ResourceRef, obj: T): Promise<T>;
  update<T extends KubeObject>(ref: ResourceRef, obj: T, opts?: { subresource?: 'status' }): Promise<T>;
  mutate<T extends KubeObject>(ref: ResourceRef, namespace: string | undefined, name: string, change: (current: T) => T, opts?: { subresource?: 'status' }): Promise<T>;
  delete(ref: ResourceRef, namespace: string | undefined, name: string, opts?: DeleteOptions): Promise<void>;
  listWatch<T extends KubeObject>(ref: ResourceRef, sel?: Selectors): ListWatch<T>;
  /** POST pods/<name>/binding: the scheduler's placement of a pod on a node. */
  bind(namespace: string, pod: string, node: string): Promise<void>;
}

/** A 404 from the API (a StatusError's code). */
export function isNotFound(e: unknown): boolean {
  return (e as { status?: { code?: number } } | null)?.status?.code === 404;
}
