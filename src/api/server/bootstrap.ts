// What kube-apiserver makes for itself when it starts: the system namespaces (default by its
// bootstrap controller, kube-system, kube-public and kube-node-lease by its system namespaces
// controller) and the `kubernetes` Service in default, ClusterIP the first address of the
// service CIDR (10.43.0.1), port 443 to the API server's 6443, with the Endpoints and
// EndpointSlice the API server's endpoint reconciler writes for it (the node's address). Pods
// reach the API that way, through kube-proxy's rules, as in k3s.
import { clone, deepEqual, type KubeObject } from './object.ts';
import type { Registry } from './registry.ts';
import { StatusError } from './status.ts';

export const SYSTEM_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

export interface ApiServiceInput {
  /** The first address of the service CIDR (10.43.0.1). */
  clusterIP: string;
  /** Where the API server listens for pods: the node's address (192.168.56.110). */
  endpointIP: string;
  /** The API server's port (6443). */
  port: number;
}

export function kubernetesService(i: ApiServiceInput): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'kubernetes', namespace: 'default', labels: { component: 'apiserver', provider: 'kubernetes' } },
    spec: { type: 'ClusterIP', clusterIP: i.clusterIP, clusterIPs: [i.clusterIP], ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack', sessionAffinity: 'None', internalTrafficPolicy: 'Cluster', ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: i.port }] },
  };
}

export function kubernetesEndpoints(i: ApiServiceInput): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name: 'kubernetes', namespace: 'default', labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } },
    subsets: [{ addresses: [{ ip: i.endpointIP }], ports: [{ name: 'https', port: i.port, protocol: 'TCP' }] }],
  };
}

export function kubernetesEndpointSlice(i: ApiServiceInput): KubeObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'kubernetes', namespace: 'default', labels: { 'kubernetes.io/service-name': 'kubernetes' } },
    addressType: 'IPv4',
    endpoints: [{ addresses: [i.endpointIP], conditions: { ready: true } }],
    ports: [{ name: 'https', port: i.port, protocol: 'TCP' }],
  };
}

/** Creates what is missing and puts back what differs (spec, subsets, endpoints), as kube-apiserver does at each start. */
export function bootstrap(registry: Registry, i: ApiServiceInput): void {
  const ensure = (group: string, plural: string, want: KubeObject, fields: string[]) => {
    const r = registry.resource(group, plural);
    const ns = want.metadata.namespace;
    try {
      const cur = registry.get(r, ns, want.metadata.name!);
      if (fields.every((f) => deepEqual(cur[f], want[f]))) return;
      registry.guaranteedUpdate(r, ns, want.metadata.name!, (c) => ({ ...c, ...Object.fromEntries(fields.map((f) => [f, clone(want[f])])) }));
    } catch (e) {
      if (!(e instanceof StatusError) || e.code !== 404) throw e;
      registry.create(r, ns, want);
    }
  };
  for (const name of SYSTEM_NAMESPACES) ensure('', 'namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } }, []);
  ensure('', 'services', kubernetesService(i), ['spec']);
  ensure('', 'endpoints', kubernetesEndpoints(i), ['subsets']);
  ensure('discovery.k8s.io', 'endpointslices', kubernetesEndpointSlice(i), ['endpoints', 'ports']);
}
