// Discovery, as kube-apiserver 1.32 serves it from the resource table (resources.ts):
//   legacy: /api (APIVersions), /api/v1 and /apis/<g>/<v> (APIResourceList, subresources as
//     `pods/status` entries), /apis (APIGroupList), /apis/<g> (APIGroup);
//   aggregated (apidiscovery.k8s.io/v2): /api and /apis answer one APIGroupDiscoveryList each when
//     the Accept header asks for it, which kubectl 1.32 does first. Two requests then fill its
//     cache instead of 2 + one per group version; the Content-Type must carry the same parameters
//     (`application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList`) or kubectl reads
//     the body as an empty legacy document.
// Groups come in kube-apiserver's priority order (apps, networking.k8s.io, coordination.k8s.io,
// discovery.k8s.io), which is also the order `kubectl get all` expands the category `all` in.
import { apiVersionOf, RESOURCES, type ResourceInfo } from './resources.ts';

const GROUP_ORDER = ['', 'apps', 'networking.k8s.io', 'coordination.k8s.io', 'discovery.k8s.io'];

/** The group versions served, core ('' / v1) first. */
export function groupVersions(): { group: string; version: string }[] {
  const seen = new Map<string, { group: string; version: string }>();
  for (const r of RESOURCES) seen.set(apiVersionOf(r), { group: r.group, version: r.version });
  const rank = (g: string) => (GROUP_ORDER.includes(g) ? GROUP_ORDER.indexOf(g) : GROUP_ORDER.length);
  return [...seen.values()].sort((a, b) => rank(a.group) - rank(b.group) || a.group.localeCompare(b.group));
}

export function servesGroupVersion(group: string, version: string): boolean {
  return groupVersions().some((gv) => gv.group === group && gv.version === version);
}

const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** APIResourceList of one group version (sorted by name, as kube lists them). */
export function apiResourceList(group: string, version: string): Record<string, unknown> {
  const entries: { name: string; value: Record<string, unknown> }[] = [];
  for (const r of RESOURCES.filter((x) => x.group === group && x.version === version)) {
    const main: Record<string, unknown> = { name: r.plural, singularName: r.singular, namespaced: r.namespaced, kind: r.kind, verbs: [...r.verbs] };
    if (r.shortNames.length) main.shortNames = [...r.shortNames];
    if (r.categories.length) main.categories = [...r.categories];
    main.storageVersionHash = r.storageVersionHash;
    entries.push({ name: r.plural, value: main });
    for (const s of r.subresources) {
      const sub: Record<string, unknown> = { name: `${r.plural}/${s.name}`, singularName: '', namespaced: r.namespaced };
      if (s.group !== undefined) sub.group = s.group;
      if (s.version !== undefined) sub.version = s.version;
      sub.kind = s.kind;
      sub.verbs = [...s.verbs];
      entries.push({ name: sub.name as string, value: sub });
    }
  }
  const resources = entries.sort(byName).map((e) => e.value);
  const gv = group ? `${group}/${version}` : version;
  // /api/v1's list carries no apiVersion (kube writes it without one); the groups' lists do.
  return group ? { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: gv, resources } : { kind: 'APIResourceList', groupVersion: gv, resources };
}

/** /api: the legacy versions, and the address clients should use. */
export function apiVersions(serverAddress: string): Record<string, unknown> {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

function apiGroup(group: string): Record<string, unknown> {
  const versions = groupVersions()
    .filter((gv) => gv.group === group)
    .map((gv) => ({ groupVersion: `${group}/${gv.version}`, version: gv.version }));
  return { name: group, versions, preferredVersion: versions[0] };
}

/** /apis: every named group. */
export function apiGroupList(): Record<string, unknown> {
  const groups = [...new Set(groupVersions().map((gv) => gv.group))].filter((g) => g !== '');
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: groups.map(apiGroup) };
}

/** /apis/<group>, or undefined for a group not served. */
export function apiGroupDocument(group: string): Record<string, unknown> | undefined {
  if (!group || !groupVersions().some((gv) => gv.group === group)) return undefined;
  return { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(group) };
}

export const AGGREGATED_CONTENT_TYPE = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';

/**
 * Whether an Accept header asks for aggregated discovery (v2, or v2beta1 which this server answers
 * as v2: kubectl 1.32 lists v2 first). The first acceptable media range decides, as negotiation does.
 */
export function wantsAggregated(accept: string | undefined): boolean {
  for (const range of (accept ?? '').split(',')) {
    const [type, ...params] = range.split(';').map((s) => s.trim());
    const p = new Map(params.map((kv) => kv.split('=').map((s) => s.trim()) as [string, string]));
    if (p.get('as') === 'APIGroupDiscoveryList' && p.get('g') === 'apidiscovery.k8s.io' && p.get('v') === 'v2') return type === 'application/json' || type === '*/*';
    if (type === 'application/json' || type === '*/*' || type === 'application/*') return false;
  }
  return false;
}

function resourceDiscovery(r: ResourceInfo): Record<string, unknown> {
  const d: Record<string, unknown> = {
    resource: r.plural,
    responseKind: { group: r.group, version: r.version, kind: r.kind },
    scope: r.namespaced ? 'Namespaced' : 'Cluster',
    singularResource: r.singular,
    verbs: [...r.verbs],
  };
  if (r.shortNames.length) d.shortNames = [...r.shortNames];
  if (r.categories.length) d.categories = [...r.categories];
  if (r.subresources.length) {
    d.subresources = [...r.subresources]
      .sort(byName)
      .map((s) => ({ subresource: s.name, responseKind: { group: s.group ?? r.group, version: s.version ?? r.version, kind: s.kind }, verbs: [...s.verbs] }));
  }
  return d;
}

/** The aggregated document of /api (legacy: true, the one group named "") or /apis. */
export function aggregatedDiscovery(legacy: boolean): Record<string, unknown> {
  const groups = [...new Set(groupVersions().map((gv) => gv.group))].filter((g) => (legacy ? g === '' : g !== ''));
  const items = groups.map((group) => ({
    metadata: { name: group },
    versions: groupVersions()
      .filter((gv) => gv.group === group)
      .map((gv) => ({
        version: gv.version,
        resources: RESOURCES.filter((r) => r.group === group && r.version === gv.version)
          .map((r) => ({ name: r.plural, value: resourceDiscovery(r) }))
          .sort(byName)
          .map((e) => e.value),
        freshness: 'Current',
      })),
  }));
  return { kind: 'APIGroupDiscoveryList', apiVersion: 'apidiscovery.k8s.io/v2', metadata: {}, items };
}
