// From the API's objects to the lab's internal types (types.ts). An object read from the API is
// plain Kubernetes JSON: optional fields may be absent (a Service without externalIPs, an
// EndpointSlice endpoint without conditions), where the internal types, made by the state-file
// loader, always carry them. The roles' planners (kube-proxy, DNS, ingress) work on the internal
// types; these functions fill in what the API leaves out with the meaning the API gives its
// absence, and nothing else.
import type { EndpointSlice, Endpoints, Ingress, ObjectMeta, Service, Source } from './types.ts';

type Obj = Record<string, unknown>;

/** What the API hands over: metadata with name, maybe namespace, labels, annotations. */
export interface ApiObject {
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

/** The source of an object that came from the API rather than from a file line. */
export function apiSource(kind: string, o: ApiObject): Source {
  return { file: `<api ${kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}>`, line: 0 };
}

export function metaFromApi(m: ApiObject['metadata']): ObjectMeta {
  return { ...(m as unknown as ObjectMeta), namespace: m.namespace ?? '', labels: m.labels ?? {}, annotations: m.annotations ?? {} };
}

export function serviceFromApi(o: ApiObject): Service {
  const spec = (o.spec ?? {}) as Obj;
  const ports = ((spec.ports as Obj[] | undefined) ?? []).map((p) => ({
    name: (p.name as string | undefined) ?? '',
    protocol: ((p.protocol as string | undefined) ?? 'TCP') as Service['spec']['ports'][number]['protocol'],
    port: p.port as number,
    // Absent targetPort: the port itself (the API server defaults it so).
    targetPort: (p.targetPort as number | string | undefined) ?? (p.port as number),
    ...(p.nodePort ? { nodePort: p.nodePort as number } : {}),
  }));
  return {
    ...(o as unknown as Service),
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metaFromApi(o.metadata),
    spec: {
      ...(spec as unknown as Service['spec']),
      type: ((spec.type as string | undefined) ?? 'ClusterIP') as Service['spec']['type'],
      ports,
      externalIPs: (spec.externalIPs as string[] | undefined) ?? [],
      sessionAffinity: ((spec.sessionAffinity as string | undefined) ?? 'None') as 'None' | 'ClientIP',
      externalTrafficPolicy: ((spec.externalTrafficPolicy as string | undefined) ?? 'Cluster') as 'Cluster' | 'Local',
      internalTrafficPolicy: ((spec.internalTrafficPolicy as string | undefined) ?? 'Cluster') as 'Cluster' | 'Local',
    },
    source: apiSource('Service', o),
  };
}

export function endpointSliceFromApi(o: ApiObject): EndpointSlice {
  return {
    ...(o as unknown as EndpointSlice),
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: metaFromApi(o.metadata),
    addressType: ((o.addressType as string | undefined) ?? 'IPv4') as 'IPv4',
    endpoints: ((o.endpoints as Obj[] | null | undefined) ?? []).map((e) => ({ ...(e as unknown as EndpointSlice['endpoints'][number]), addresses: (e.addresses as string[] | undefined) ?? [], conditions: (e.conditions as EndpointSlice['endpoints'][number]['conditions'] | undefined) ?? {} })),
    ports: ((o.ports as Obj[] | null | undefined) ?? []).map((p) => ({ ...(p as unknown as EndpointSlice['ports'][number]), name: (p.name as string | undefined) ?? '', protocol: ((p.protocol as string | undefined) ?? 'TCP') as 'TCP' })),
  };
}

export function endpointsFromApi(o: ApiObject): Endpoints {
  return {
    ...(o as unknown as Endpoints),
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: metaFromApi(o.metadata),
    subsets: ((o.subsets as Obj[] | undefined) ?? []).map((s) => ({
      addresses: (s.addresses as Endpoints['subsets'][number]['addresses'] | undefined) ?? [],
      notReadyAddresses: (s.notReadyAddresses as Endpoints['subsets'][number]['addresses'] | undefined) ?? [],
      ports: ((s.ports as Obj[] | undefined) ?? []).map((p) => ({ name: (p.name as string | undefined) ?? '', port: p.port as number, protocol: ((p.protocol as string | undefined) ?? 'TCP') as 'TCP' })),
    })),
  };
}

export function ingressFromApi(o: ApiObject): Ingress {
  const spec = (o.spec ?? {}) as Obj;
  return {
    ...(o as unknown as Ingress),
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: metaFromApi(o.metadata),
    spec: { ...(spec as unknown as Ingress['spec']), rules: (spec.rules as Ingress['spec']['rules'] | undefined) ?? [] },
    source: apiSource('Ingress', o),
  };
}
