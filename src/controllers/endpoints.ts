// The endpoints controllers (kube-controller-manager), pure: Services + Pods -> Endpoints and
// EndpointSlices. Two views of the same facts, as in a real cluster:
//  - v1 Endpoints (endpoints controller): ready pods in `addresses`, the rest in
//    `notReadyAddresses`; terminating pods are left out. `lab get endpoints` and DNS read these.
//  - discovery/v1 EndpointSlices (endpointslice controller): every pod with an IP, with the
//    conditions ready / serving / terminating. kube-proxy v1.33 reads only slices, and needs
//    `serving && terminating` to keep a draining pod reachable when no ready pod is left.
// Services without a selector are not managed: their hand-written Endpoints pass through, and the
// EndpointSliceMirroring controller turns them into slices.
import { createHash } from 'node:crypto';
import { isTerminating, type EndpointAddress, type EndpointPort, type Endpoints, type EndpointSlice, type EndpointSubset, type Pod, type Service, type ServicePort } from '../api/types.ts';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
export const HEADLESS_LABEL = 'service.kubernetes.io/headless';
const SLICE_CONTROLLER = 'endpointslice-controller.k8s.io';
const MIRRORING_CONTROLLER = 'endpointslicemirroring-controller.k8s.io';

/** Conditions of one endpoint, as EndpointSlice carries them. */
export interface EndpointConditions {
  ready: boolean;
  serving: boolean;
  terminating: boolean;
}

/** A pod being deleted (metadata.deletionTimestamp set). */
export function isPodTerminating(pod: Pod): boolean {
  return isTerminating(pod);
}

/** podutil.IsPodReady: the Ready condition is True (the kubelet only sets it for running pods). */
export function isPodReady(pod: Pod): boolean {
  return pod.status.phase === 'Running' && pod.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True');
}

/** Conditions the endpointslice controller writes for a pod. */
export function podConditions(pod: Pod): EndpointConditions {
  const terminating = isPodTerminating(pod);
  const serving = isPodReady(pod);
  return { ready: serving && !terminating, serving, terminating };
}

/** ShouldPodBeInEndpoints: not Succeeded/Failed, has an IP (terminating pods only in slices). */
function hasEndpoint(pod: Pod): boolean {
  return pod.status.phase !== 'Succeeded' && pod.status.phase !== 'Failed' && Boolean(pod.status.podIP);
}

function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  // An empty selector {} selects nothing for Services (the API treats it as "no selector").
  const entries = Object.entries(selector);
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
}

/** A Service the endpoints controllers manage: has a selector and is not ExternalName. */
function isManaged(svc: Service): boolean {
  return svc.spec.type !== 'ExternalName' && svc.spec.selector !== undefined && Object.keys(svc.spec.selector).length > 0;
}

/**
 * podutil.FindPort: a numeric targetPort is used as is; a name is looked up among the pod's
 * container ports with the same protocol. undefined when the pod has no such port.
 */
export function resolveTargetPort(pod: Pod, port: ServicePort): number | undefined {
  const target = port.targetPort;
  if (typeof target === 'number') return target === 0 ? port.port : target;
  if (target === '') return port.port;
  for (const c of pod.spec.containers) {
    for (const cp of c.ports) {
      if (cp.name === target && (cp.protocol ?? 'TCP') === port.protocol) return cp.containerPort;
    }
  }
  return undefined;
}

function podAddress(pod: Pod, svc: Service): EndpointAddress {
  const a: EndpointAddress = {
    ip: pod.status.podIP!,
    targetRef: { kind: 'Pod', name: pod.metadata.name, namespace: pod.metadata.namespace },
  };
  if (pod.spec.nodeName) a.nodeName = pod.spec.nodeName;
  // A pod's hostname is published only for the Service named by its subdomain.
  if (pod.spec.hostname && pod.spec.subdomain === svc.metadata.name) a.hostname = pod.spec.hostname;
  return a;
}

function podPorts(pod: Pod, svc: Service): EndpointPort[] {
  const out: EndpointPort[] = [];
  for (const p of svc.spec.ports) {
    const port = resolveTargetPort(pod, p);
    if (port !== undefined) out.push({ name: p.name, port, protocol: p.protocol });
  }
  return out;
}

function portsSignature(ports: EndpointPort[]): string {
  return ports.map((p) => `${p.name}/${p.protocol}/${p.port}`).join(',');
}

const byIP = <T extends { ip: string }>(a: T, b: T) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0);

function selectedPods(svc: Service, pods: Pod[]): Pod[] {
  return pods.filter((p) => p.metadata.namespace === svc.metadata.namespace && selects(svc.spec.selector!, p.metadata.labels) && hasEndpoint(p));
}

/** The endpoints controller for one Service with a selector (subsets repacked and sorted). */
function endpointsFor(svc: Service, pods: Pod[]): Endpoints {
  const groups = new Map<string, EndpointSubset>();
  for (const pod of selectedPods(svc, pods)) {
    if (isPodTerminating(pod)) continue; // v1 Endpoints leave terminating pods out
    const ports = podPorts(pod, svc);
    // A Service with ports but no port this pod can serve: the pod is not an endpoint.
    if (svc.spec.ports.length > 0 && ports.length === 0) continue;
    const sig = portsSignature(ports);
    let subset = groups.get(sig);
    if (!subset) groups.set(sig, (subset = { addresses: [], notReadyAddresses: [], ports: [...ports].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.port - b.port)) }));
    (isPodReady(pod) ? subset.addresses : subset.notReadyAddresses).push(podAddress(pod, svc));
  }
  const subsets = [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, s]) => ({ ...s, addresses: s.addresses.sort(byIP), notReadyAddresses: s.notReadyAddresses.sort(byIP) }));
  const labels: Record<string, string> = { ...svc.metadata.labels };
  if (svc.spec.clusterIP === 'None') labels[HEADLESS_LABEL] = '';
  return {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name: svc.metadata.name, namespace: svc.metadata.namespace, labels, annotations: {} },
    subsets,
  };
}

function sortByKey<T extends { metadata: { namespace: string; name: string } }>(list: T[]): T[] {
  const k = (o: T) => `${o.metadata.namespace}/${o.metadata.name}`;
  return list.sort((a, b) => (k(a) < k(b) ? -1 : k(a) > k(b) ? 1 : 0));
}

/**
 * v1 Endpoints for every Service: computed for Services with a selector, passed through from the
 * state file (`manual`) for the others. Manual Endpoints named like a Service with a selector are
 * replaced, as the controller would overwrite them. Sorted by namespace/name.
 */
export function computeEndpoints(services: Service[], pods: Pod[], manual: Endpoints[]): Endpoints[] {
  const managed = new Set(services.filter(isManaged).map((s) => `${s.metadata.namespace}/${s.metadata.name}`));
  const out: Endpoints[] = services.filter(isManaged).map((s) => endpointsFor(s, pods));
  for (const m of manual) if (!managed.has(`${m.metadata.namespace}/${m.metadata.name}`)) out.push(m);
  return sortByKey(out);
}

/** Deterministic stand-in for the 5 random characters of a generated slice name. */
function sliceName(base: string, discriminator: string): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  const digest = createHash('sha256').update(discriminator).digest();
  let suffix = '';
  for (let i = 0; i < 5; i++) suffix += alphabet[digest[i]! % alphabet.length];
  return `${base}-${suffix}`;
}

function slice(namespace: string, service: string, managedBy: string, labels: Record<string, string>, ports: EndpointPort[], endpoints: EndpointSlice['endpoints']): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: sliceName(service, `${namespace}/${service}/${managedBy}/${portsSignature(ports)}`),
      namespace,
      labels: { ...labels, [SERVICE_NAME_LABEL]: service, [MANAGED_BY_LABEL]: managedBy },
      annotations: {},
    },
    addressType: 'IPv4',
    endpoints,
    ports: ports.map((p) => ({ name: p.name, protocol: p.protocol, port: p.port })),
  };
}

function slicesFor(svc: Service, pods: Pod[]): EndpointSlice[] {
  const groups = new Map<string, { ports: EndpointPort[]; endpoints: EndpointSlice['endpoints'] }>();
  for (const pod of selectedPods(svc, pods)) {
    const ports = podPorts(pod, svc);
    if (svc.spec.ports.length > 0 && ports.length === 0) continue;
    const sig = portsSignature(ports);
    let g = groups.get(sig);
    if (!g) groups.set(sig, (g = { ports, endpoints: [] }));
    const a = podAddress(pod, svc);
    g.endpoints.push({
      addresses: [a.ip],
      conditions: podConditions(pod),
      ...(a.hostname ? { hostname: a.hostname } : {}),
      ...(a.nodeName ? { nodeName: a.nodeName } : {}),
      ...(a.targetRef ? { targetRef: a.targetRef } : {}),
    });
  }
  const labels: Record<string, string> = { ...svc.metadata.labels };
  if (svc.spec.clusterIP === 'None') labels[HEADLESS_LABEL] = '';
  return [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, g]) => slice(svc.metadata.namespace, svc.metadata.name, SLICE_CONTROLLER, labels, g.ports, g.endpoints.sort((x, y) => (x.addresses[0]! < y.addresses[0]! ? -1 : 1))));
}

/**
 * EndpointSliceMirroring: one slice per subset of a hand-written Endpoints object. `addresses` are
 * ready and serving, `notReadyAddresses` neither (v1 Endpoints cannot say "terminating").
 */
export function endpointSlicesFromEndpoints(endpoints: Endpoints[]): EndpointSlice[] {
  const out: EndpointSlice[] = [];
  for (const ep of endpoints) {
    ep.subsets.forEach((s, i) => {
      const entries: EndpointSlice['endpoints'] = [];
      const add = (a: EndpointAddress, ready: boolean) =>
        entries.push({
          addresses: [a.ip],
          conditions: { ready, serving: ready, terminating: false },
          ...(a.hostname ? { hostname: a.hostname } : {}),
          ...(a.nodeName ? { nodeName: a.nodeName } : {}),
          ...(a.targetRef ? { targetRef: a.targetRef } : {}),
        });
      for (const a of s.addresses) add(a, true);
      for (const a of s.notReadyAddresses) add(a, false);
      const sl = slice(ep.metadata.namespace, ep.metadata.name, MIRRORING_CONTROLLER, {}, s.ports, entries);
      sl.metadata.name = sliceName(ep.metadata.name, `${ep.metadata.namespace}/${ep.metadata.name}/mirror/${i}`);
      out.push(sl);
    });
  }
  return out;
}

/**
 * EndpointSlices for every Service: computed from pods for Services with a selector, mirrored from
 * the manual Endpoints for the others. This is what the proxy consumes. Sorted by namespace/name.
 */
export function computeEndpointSlices(services: Service[], pods: Pod[], manual: Endpoints[]): EndpointSlice[] {
  const managed = new Set(services.filter(isManaged).map((s) => `${s.metadata.namespace}/${s.metadata.name}`));
  const out: EndpointSlice[] = services.filter(isManaged).flatMap((s) => slicesFor(s, pods));
  out.push(...endpointSlicesFromEndpoints(manual.filter((m) => !managed.has(`${m.metadata.namespace}/${m.metadata.name}`))));
  return sortByKey(out);
}
