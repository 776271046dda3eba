// The resources the lab's API server serves, as kube-apiserver v1.32's discovery reports them
// (api/discovery/*.json in the kubernetes repository: names, short names, categories, verbs,
// subresources, storage version hashes), and where kube-apiserver keeps each in etcd: the key
// prefix under /registry is the resource's own name except where history left another one
// (nodes are `minions`, services `services/specs`, endpoints `services/endpoints`, ingresses `ingress`).

export interface SubresourceInfo {
  name: string;
  /**
   * The kind the subresource takes and returns: pods/binding a Binding, deployments/scale an
   * autoscaling/v1 Scale (group and version are set only when they are not the resource's own).
   */
  kind: string;
  group?: string;
  version?: string;
  verbs: readonly string[];
}

export interface ResourceInfo {
  group: string;
  version: string;
  kind: string;
  /** The resource name in URLs and discovery (`pods`). */
  plural: string;
  singular: string;
  namespaced: boolean;
  shortNames: readonly string[];
  categories: readonly string[];
  verbs: readonly string[];
  subresources: readonly SubresourceInfo[];
  storageVersionHash: string;
  /** The etcd key prefix below /registry (kube's storage prefix for the resource). */
  etcdPrefix: string;
}

const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'] as const;
const STATUS_VERBS = ['get', 'patch', 'update'] as const;

const status = (kind: string): SubresourceInfo => ({ name: 'status', kind, verbs: STATUS_VERBS });
const scale: SubresourceInfo = { name: 'scale', kind: 'Scale', group: 'autoscaling', version: 'v1', verbs: STATUS_VERBS };

export const RESOURCES: readonly ResourceInfo[] = [
  {
    group: '', version: 'v1', kind: 'Namespace', plural: 'namespaces', singular: 'namespace', namespaced: false,
    shortNames: ['ns'], categories: [], verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
    subresources: [{ name: 'finalize', kind: 'Namespace', verbs: ['update'] }, status('Namespace')],
    storageVersionHash: 'Q3oi5N2YM8M=', etcdPrefix: 'namespaces',
  },
  {
    group: '', version: 'v1', kind: 'Node', plural: 'nodes', singular: 'node', namespaced: false,
    shortNames: ['no'], categories: [], verbs: ALL_VERBS, subresources: [status('Node')],
    storageVersionHash: 'XwShjMxG9Fs=', etcdPrefix: 'minions',
  },
  {
    group: '', version: 'v1', kind: 'Pod', plural: 'pods', singular: 'pod', namespaced: true,
    shortNames: ['po'], categories: ['all'], verbs: ALL_VERBS,
    subresources: [
      { name: 'attach', kind: 'PodAttachOptions', verbs: ['create', 'get'] },
      { name: 'binding', kind: 'Binding', verbs: ['create'] },
      { name: 'eviction', kind: 'Eviction', group: 'policy', version: 'v1', verbs: ['create'] },
      { name: 'exec', kind: 'PodExecOptions', verbs: ['create', 'get'] },
      { name: 'log', kind: 'Pod', verbs: ['get'] },
      { name: 'portforward', kind: 'PodPortForwardOptions', verbs: ['create', 'get'] },
      status('Pod'),
    ],
    storageVersionHash: 'xPOwRZ+Yhw8=', etcdPrefix: 'pods',
  },
  {
    group: '', version: 'v1', kind: 'Service', plural: 'services', singular: 'service', namespaced: true,
    shortNames: ['svc'], categories: ['all'], verbs: ALL_VERBS, subresources: [status('Service')],
    storageVersionHash: '0/CO1lhkEBI=', etcdPrefix: 'services/specs',
  },
  {
    group: '', version: 'v1', kind: 'Endpoints', plural: 'endpoints', singular: 'endpoints', namespaced: true,
    shortNames: ['ep'], categories: [], verbs: ALL_VERBS, subresources: [],
    storageVersionHash: 'fWeeMqaN/OA=', etcdPrefix: 'services/endpoints',
  },
  {
    group: '', version: 'v1', kind: 'ConfigMap', plural: 'configmaps', singular: 'configmap', namespaced: true,
    shortNames: ['cm'], categories: [], verbs: ALL_VERBS, subresources: [],
    storageVersionHash: 'qFsyl6wFWjQ=', etcdPrefix: 'configmaps',
  },
  {
    group: '', version: 'v1', kind: 'Event', plural: 'events', singular: 'event', namespaced: true,
    shortNames: ['ev'], categories: [], verbs: ALL_VERBS, subresources: [],
    storageVersionHash: 'r2yiGXH7wu8=', etcdPrefix: 'events',
  },
  {
    group: 'apps', version: 'v1', kind: 'Deployment', plural: 'deployments', singular: 'deployment', namespaced: true,
    shortNames: ['deploy'], categories: ['all'], verbs: ALL_VERBS, subresources: [scale, status('Deployment')],
    storageVersionHash: '8aSe+NMegvE=', etcdPrefix: 'deployments',
  },
  {
    group: 'apps', version: 'v1', kind: 'ReplicaSet', plural: 'replicasets', singular: 'replicaset', namespaced: true,
    shortNames: ['rs'], categories: ['all'], verbs: ALL_VERBS, subresources: [scale, status('ReplicaSet')],
    storageVersionHash: 'P1RzHs8/mWQ=', etcdPrefix: 'replicasets',
  },
  {
    group: 'discovery.k8s.io', version: 'v1', kind: 'EndpointSlice', plural: 'endpointslices', singular: 'endpointslice', namespaced: true,
    shortNames: [], categories: [], verbs: ALL_VERBS, subresources: [],
    storageVersionHash: 'Nx3SIv6I0mE=', etcdPrefix: 'endpointslices',
  },
  {
    group: 'networking.k8s.io', version: 'v1', kind: 'Ingress', plural: 'ingresses', singular: 'ingress', namespaced: true,
    shortNames: ['ing'], categories: [], verbs: ALL_VERBS, subresources: [status('Ingress')],
    storageVersionHash: '39NQlfNR+bo=', etcdPrefix: 'ingress',
  },
  {
    group: 'networking.k8s.io', version: 'v1', kind: 'IngressClass', plural: 'ingressclasses', singular: 'ingressclass', namespaced: false,
    shortNames: [], categories: [], verbs: ALL_VERBS, subresources: [],
    storageVersionHash: 'l/iqIbDgFyQ=', etcdPrefix: 'ingressclasses',
  },
  {
    group: 'coordination.k8s.io', version: 'v1', kind: 'Lease', plural: 'leases', singular: 'lease', namespaced: true,
    shortNames: [], categories: [], verbs: ALL_VERBS, subresources: [],
    storageVersionHash: 'gqkMMb/YqFM=', etcdPrefix: 'leases',
  },
];

/** `v1`, `apps/v1`. */
export function apiVersionOf(r: Pick<ResourceInfo, 'group' | 'version'>): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

export function hasSubresource(r: ResourceInfo, name: string): boolean {
  return r.subresources.some((s) => s.name === name);
}

const BY_GROUP_PLURAL = new Map(RESOURCES.map((r) => [`${r.group}/${r.plural}`, r]));
const BY_API_VERSION_KIND = new Map(RESOURCES.map((r) => [`${apiVersionOf(r)}/${r.kind}`, r]));

/** The resource `plural` of `group` ('' for core), or undefined. */
export function resourceFor(group: string, plural: string): ResourceInfo | undefined {
  return BY_GROUP_PLURAL.get(`${group}/${plural}`);
}

/** The resource of an object's apiVersion and kind, or undefined. */
export function resourceForKind(apiVersion: string, kind: string): ResourceInfo | undefined {
  return BY_API_VERSION_KIND.get(`${apiVersion}/${kind}`);
}

/** What kubectl accepts for a resource: plural, singular, kind in lower case or a short name. */
export function resolveResourceName(name: string): ResourceInfo[] {
  const lower = name.toLowerCase();
  return RESOURCES.filter((r) => r.plural === lower || r.singular === lower || r.kind.toLowerCase() === lower || r.shortNames.includes(lower));
}

/** `/registry/<prefix>/` for all namespaces, `/registry/<prefix>/<namespace>/` for one. */
export function storagePrefix(r: ResourceInfo, namespace?: string): string {
  return r.namespaced && namespace ? `/registry/${r.etcdPrefix}/${namespace}/` : `/registry/${r.etcdPrefix}/`;
}

/** `/registry/pods/default/web-1`, `/registry/minions/labs` (kube-apiserver's etcd3 key). */
export function storageKey(r: ResourceInfo, namespace: string | undefined, name: string): string {
  return r.namespaced ? `/registry/${r.etcdPrefix}/${namespace ?? ''}/${name}` : `/registry/${r.etcdPrefix}/${name}`;
}
