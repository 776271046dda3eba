// kube-controller-manager's endpoints and endpointslice controllers, watch-driven: Services and
// Pods come from shared informers, every change queues the Services it concerns, and a sync of
// one Service writes its EndpointSlices (and v1 Endpoints) through the API when they differ from
// what the planner (endpoints.ts) computes. kube-proxy, cluster DNS and the ingress controller
// read the result from the API; nobody calls them.
import type { EndpointSlice, Endpoints, Pod, Service } from '../api/types.ts';
import { Controller, type InformerFactory } from '../client/controller.ts';
import type { Informer } from '../client/informer.ts';
import { isNotFound, objectKey, type Client, type KubeObject, type ResourceRef } from '../client/types.ts';
import { computeEndpoints, computeEndpointSlices, MANAGED_BY_LABEL, SERVICE_NAME_LABEL } from './endpoints.ts';

const SERVICES: ResourceRef = { group: '', resource: 'services' };
const PODS: ResourceRef = { group: '', resource: 'pods' };
const SLICES: ResourceRef = { group: 'discovery.k8s.io', resource: 'endpointslices' };
const ENDPOINTS: ResourceRef = { group: '', resource: 'endpoints' };
const SLICE_CONTROLLER = 'endpointslice-controller.k8s.io';

type Obj = KubeObject & Record<string, unknown>;

/** The Services (keys) in the pod's namespace whose selector matches the pod's labels. */
function servicesSelecting(services: Informer<Service & KubeObject>, pod: Pod): string[] {
  return services
    .list()
    .filter((s) => s.metadata.namespace === pod.metadata.namespace)
    .filter((s) => {
      const sel = Object.entries(s.spec.selector ?? {});
      return sel.length > 0 && sel.every(([k, v]) => pod.metadata.labels?.[k] === v);
    })
    .map((s) => objectKey(s));
}

/** The fields of an object the controller owns: what a difference between desired and live is. */
function owned(o: Obj, fields: string[]): string {
  const meta = o.metadata as { labels?: Record<string, string> };
  return JSON.stringify([meta.labels ?? {}, ...fields.map((f) => o[f] ?? null)]);
}

async function writeAll(client: Client, ref: ResourceRef, desired: Obj[], live: Obj[], fields: string[]): Promise<void> {
  const byName = new Map(live.map((o) => [o.metadata.name, o]));
  for (const d of desired) {
    const cur = byName.get(d.metadata.name);
    byName.delete(d.metadata.name);
    if (!cur) {
      await client.create(ref, { ...d, metadata: { ...d.metadata, annotations: undefined, creationTimestamp: undefined } } as Obj);
    } else if (owned(cur, fields) !== owned(d, fields)) {
      await client.mutate<Obj>(ref, cur.metadata.namespace, cur.metadata.name, (c) => ({ ...c, metadata: { ...c.metadata, labels: d.metadata.labels }, ...Object.fromEntries(fields.map((f) => [f, d[f]])) }));
    }
  }
  for (const gone of byName.values()) {
    await client.delete(ref, gone.metadata.namespace, gone.metadata.name).catch((e: unknown) => {
      if (!isNotFound(e)) throw e;
    });
  }
}

export interface EndpointsControllers {
  endpointSlice: Controller;
  endpoints: Controller;
}

/**
 * The two controllers on the factory's informers (services, pods, endpointslices, endpoints).
 * Run them after `factory.start()` and `waitForSync()`.
 */
export function endpointsControllers(factory: InformerFactory, client: Client, log?: (line: string) => void): EndpointsControllers {
  const services = factory.informer<Service & KubeObject>(SERVICES);
  const pods = factory.informer<Pod & KubeObject>(PODS);
  const slices = factory.informer<EndpointSlice & KubeObject>(SLICES);
  const endpoints = factory.informer<Endpoints & KubeObject>(ENDPOINTS);

  const podsOf = (ns: string) => pods.list().filter((p) => p.metadata.namespace === ns);
  const split = (key: string) => key.split('/') as [string, string];

  const endpointSlice = new Controller({
    name: 'endpointslice-controller',
    log,
    sync: async (key) => {
      const [ns, name] = split(key);
      const svc = services.get(key);
      const desired = svc ? computeEndpointSlices([svc], podsOf(ns), []) : [];
      const live = slices.list().filter((s) => s.metadata.namespace === ns && s.metadata.labels?.[SERVICE_NAME_LABEL] === name && s.metadata.labels?.[MANAGED_BY_LABEL] === SLICE_CONTROLLER);
      await writeAll(client, SLICES, desired as unknown as Obj[], live as unknown as Obj[], ['addressType', 'endpoints', 'ports']);
    },
  });
  const endpointsController = new Controller({
    name: 'endpoints-controller',
    log,
    sync: async (key) => {
      const [ns, name] = split(key);
      const svc = services.get(key);
      const cur = endpoints.get(key);
      // The Service is gone: so is its Endpoints object (kube deletes it by name).
      if (!svc) return cur ? writeAll(client, ENDPOINTS, [], [cur as unknown as Obj], []) : undefined;
      // Without a selector the Endpoints are the user's to write.
      if (svc.spec.type === 'ExternalName' || Object.keys(svc.spec.selector ?? {}).length === 0) return;
      const desired = computeEndpoints([svc], podsOf(ns), []).filter((e) => e.metadata.name === name);
      await writeAll(client, ENDPOINTS, desired as unknown as Obj[], cur ? [cur as unknown as Obj] : [], ['subsets']);
    },
  });

  const bySelector = (p: Pod) => servicesSelecting(services, p);
  endpointSlice.watch(services).watch(pods, bySelector).watch(slices, (s) => (s.metadata.labels?.[SERVICE_NAME_LABEL] ? [`${s.metadata.namespace}/${s.metadata.labels[SERVICE_NAME_LABEL]}`] : []));
  endpointsController.watch(services).watch(pods, bySelector).watch(endpoints);
  return { endpointSlice, endpoints: endpointsController };
}
