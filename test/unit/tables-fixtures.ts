// Objects for the Table tests (api-tables.test.ts), shaped as the API server stores them (defaulted),
// with times relative to NOW so that every AGE is known: a k3s-like node, pods in each state the
// Pod printer distinguishes, every Service type, Endpoints and slices past three addresses, and
// Deployments, ReplicaSets, Ingresses, IngressClasses, ConfigMaps, Events and Leases.
import type { KubeObject } from '../../src/api/server/object.ts';

export const NOW = new Date('2026-11-28T06:30:00Z');

/** NOW minus a duration like '5m3s', '10d', '3h5m', '400d' as RFC 3339 (seconds). */
export function ago(d: string, micro = false): string {
  const unit: Record<string, number> = { d: 86400, h: 3600, m: 60, s: 1 };
  let seconds = 0;
  for (const [, n, u] of d.matchAll(/(\d+)([dhms])/g)) seconds += Number(n) * unit[u!]!;
  const iso = new Date(NOW.getTime() - seconds * 1000).toISOString();
  return micro ? iso.replace('.000Z', '.123456Z') : iso.replace('.000Z', 'Z');
}

let uid = 0;
function meta(name: string, namespace: string | undefined, age: string, extra: Partial<KubeObject['metadata']> = {}): KubeObject['metadata'] {
  uid++;
  return { name, ...(namespace ? { namespace } : {}), uid: `00000000-0000-4000-8000-${String(uid).padStart(12, '0')}`, resourceVersion: String(100 + uid), creationTimestamp: ago(age), ...extra };
}

const ready = (status: 'True' | 'False') => [{ type: 'Ready', status }];

export const namespaces: KubeObject[] = [
  { metadata: meta('default', undefined, '10d'), spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } },
  { metadata: meta('kube-system', undefined, '10d'), spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } },
  { metadata: meta('old-project', undefined, '2h', { deletionTimestamp: ago('1m') }), spec: { finalizers: ['kubernetes'] }, status: { phase: 'Terminating' } },
];

export const nodes: KubeObject[] = [
  {
    metadata: meta('labs', undefined, '10d', { labels: { 'kubernetes.io/hostname': 'labs', 'node-role.kubernetes.io/control-plane': 'true', 'node-role.kubernetes.io/master': 'true' } }),
    spec: { podCIDR: '10.42.0.0/24' },
    status: {
      conditions: [{ type: 'MemoryPressure', status: 'False' }, { type: 'Ready', status: 'True', reason: 'KubeletReady' }],
      addresses: [{ type: 'InternalIP', address: '192.168.56.110' }, { type: 'Hostname', address: 'labs' }],
      nodeInfo: { kubeletVersion: 'v1.32.4+k3s1', osImage: 'Debian GNU/Linux 12 (bookworm)', kernelVersion: '6.1.0-41-amd64', containerRuntimeVersion: 'runc://1.1.5' },
    },
  },
  {
    metadata: meta('labsw', undefined, '3h5m', { labels: { 'kubernetes.io/hostname': 'labsw' } }),
    spec: { unschedulable: true },
    status: {
      conditions: [{ type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown' }],
      addresses: [{ type: 'ExternalIP', address: '203.0.113.7' }, { type: 'InternalIP', address: '192.168.56.111' }],
      nodeInfo: { kubeletVersion: 'v1.32.4+k3s1', osImage: '', kernelVersion: '6.1.0-41-amd64', containerRuntimeVersion: '' },
    },
  },
  { metadata: meta('spare', undefined, '400d', { labels: { 'kubernetes.io/role': 'worker', 'node-role.kubernetes.io/': 'x' } }), spec: {}, status: {} },
];

const running = (name: string, restartCount = 0) => ({ name, ready: true, restartCount, started: true, state: { running: { startedAt: ago('59m') } } });

function pod(name: string, age: string, spec: Record<string, unknown>, status: Record<string, unknown>, extra: Partial<KubeObject['metadata']> = {}, namespace = 'default'): KubeObject {
  return { metadata: meta(name, namespace, age, { labels: { app: 'app2' }, ...extra }), spec: { containers: [{ name: 'app2', image: 'busybox:1.36' }], ...spec }, status };
}
const onLabs = { nodeName: 'labs' };
const ip = (a: string) => ({ podIP: a, podIPs: [{ ip: a }] });

export const pods: KubeObject[] = [
  pod('app2-5d9c8b7f6-x1b2c', '60m', onLabs, { phase: 'Running', conditions: ready('True'), ...ip('10.42.0.5'), containerStatuses: [running('app2')] }),
  pod('app2-5d9c8b7f6-crash', '5m3s', onLabs, {
    phase: 'Running', conditions: ready('False'), ...ip('10.42.0.6'),
    containerStatuses: [{ name: 'app2', ready: false, restartCount: 3, started: false, state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s' } }, lastState: { terminated: { exitCode: 1, reason: 'Error', startedAt: ago('50s'), finishedAt: ago('45s') } } }],
  }),
  pod('app2-5d9c8b7f6-new', '30s', onLabs, { phase: 'Pending', containerStatuses: [{ name: 'app2', ready: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } }] }),
  pod('waiting', '2m', { readinessGates: [{ conditionType: 'example.com/lb' }, { conditionType: 'example.com/dns' }] }, {
    phase: 'Pending', nominatedNodeName: 'labsw', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }, { type: 'example.com/lb', status: 'True' }],
  }),
  pod('job-done', '2h30m', { ...onLabs, restartPolicy: 'Never' }, { phase: 'Succeeded', containerStatuses: [{ name: 'app2', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } }] }),
  pod('job-failed', '7h59m', { ...onLabs, restartPolicy: 'Never' }, { phase: 'Failed', containerStatuses: [{ name: 'app2', ready: false, restartCount: 0, state: { terminated: { exitCode: 2, reason: 'Error' } } }] }),
  pod('killed', '50h', onLabs, { phase: 'Running', ...ip('10.42.0.9'), containerStatuses: [{ name: 'app2', ready: false, restartCount: 0, state: { terminated: { exitCode: 137, signal: 9 } } }] }),
  pod('app2-5d9c8b7f6-old', '3d4h', onLabs, { phase: 'Running', conditions: ready('True'), ...ip('10.42.0.7'), containerStatuses: [running('app2', 1)] }, { deletionTimestamp: ago('5s'), deletionGracePeriodSeconds: 30 }),
  pod('init-pod', '9m59s', { ...onLabs, initContainers: [{ name: 'setup', image: 'busybox' }, { name: 'wait-db', image: 'busybox' }] }, {
    phase: 'Pending', ...ip('10.42.0.10'),
    initContainerStatuses: [{ name: 'setup', ready: true, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } }, { name: 'wait-db', ready: false, restartCount: 0, state: { running: { startedAt: ago('9m') } } }],
    containerStatuses: [{ name: 'app2', ready: false, restartCount: 0, state: { waiting: { reason: 'PodInitializing' } } }],
  }),
  pod('init-crash', '3h', { ...onLabs, initContainers: [{ name: 'setup', image: 'busybox' }] }, {
    phase: 'Pending', ...ip('10.42.0.11'),
    initContainerStatuses: [{ name: 'setup', ready: false, restartCount: 12, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 1, reason: 'Error', finishedAt: ago('2m') } } }],
    containerStatuses: [{ name: 'app2', ready: false, restartCount: 0, state: { waiting: { reason: 'PodInitializing' } } }],
  }),
  pod('with-sidecar', '48h', { ...onLabs, initContainers: [{ name: 'log', image: 'busybox', restartPolicy: 'Always' }], containers: [{ name: 'main', image: 'busybox' }, { name: 'batch', image: 'busybox' }] }, {
    phase: 'Running', conditions: [{ type: 'Initialized', status: 'True' }, { type: 'Ready', status: 'True' }], ...ip('10.42.0.12'),
    initContainerStatuses: [{ name: 'log', ready: true, started: true, restartCount: 2, state: { running: { startedAt: ago('1h') } }, lastState: { terminated: { exitCode: 1, finishedAt: ago('1h') } } }],
    containerStatuses: [running('main', 1), { name: 'batch', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } }],
  }),
  pod('coredns-6799fbcd5-abcde', '10d', onLabs, { phase: 'Running', conditions: ready('True'), ...ip('10.42.0.2'), containerStatuses: [running('coredns')] }, { labels: { 'k8s-app': 'kube-dns' } }, 'kube-system'),
];
// 'with-sidecar': the printer reads containers last to first, batch (Completed) then main (running,
// ready): Completed beside a running container shows Running when the pod is Ready.

function svc(name: string, spec: Record<string, unknown>, status: Record<string, unknown> = { loadBalancer: {} }, namespace = 'default', age = '10d'): KubeObject {
  return { metadata: meta(name, namespace, age), spec: { sessionAffinity: 'None', ...spec }, status };
}
const tcp = (port: number, extra: Record<string, unknown> = {}) => ({ protocol: 'TCP', port, targetPort: port, ...extra });

export const services: KubeObject[] = [
  svc('kubernetes', { type: 'ClusterIP', clusterIP: '10.43.0.1', clusterIPs: ['10.43.0.1'], ports: [{ name: 'https', ...tcp(443), targetPort: 6443 }] }),
  svc('app2-service', { type: 'ClusterIP', clusterIP: '10.43.12.34', clusterIPs: ['10.43.12.34'], ports: [tcp(80)], selector: { app: 'app2' } }, undefined, 'default', '59m'),
  svc('app2-nodeport', { type: 'NodePort', clusterIP: '10.43.99.1', clusterIPs: ['10.43.99.1'], externalIPs: ['192.168.56.200'], ports: [tcp(80, { nodePort: 30080 }), { protocol: 'UDP', port: 53, targetPort: 53, nodePort: 30053 }], selector: { app: 'app2', tier: 'web' } }),
  svc('headless', { type: 'ClusterIP', clusterIP: 'None', clusterIPs: ['None'], ports: [tcp(80)], selector: { app: 'app2' } }),
  svc('external', { type: 'ExternalName', externalName: 'example.com' }),
  svc('no-ports', { type: 'ClusterIP', clusterIP: '10.43.5.5', clusterIPs: ['10.43.5.5'] }),
  svc('traefik', { type: 'LoadBalancer', clusterIP: '10.43.200.10', clusterIPs: ['10.43.200.10'], ports: [tcp(80, { name: 'web', nodePort: 31080 }), tcp(443, { name: 'websecure', nodePort: 31443 })], selector: { 'app.kubernetes.io/name': 'traefik' } }, { loadBalancer: { ingress: [{ ip: '192.168.56.110', ipMode: 'VIP' }] } }, 'kube-system'),
  svc('lb-pending', { type: 'LoadBalancer', clusterIP: '10.43.7.7', clusterIPs: ['10.43.7.7'], ports: [tcp(8080, { nodePort: 32000 })] }),
];

export const endpoints: KubeObject[] = [
  { metadata: meta('kubernetes', 'default', '10d'), subsets: [{ addresses: [{ ip: '192.168.56.110' }], ports: [{ name: 'https', port: 6443, protocol: 'TCP' }] }] },
  {
    metadata: meta('app2-service', 'default', '59m'),
    subsets: [{ addresses: ['10.42.0.5', '10.42.0.7', '10.42.0.12', '10.42.0.13'].map((a) => ({ ip: a, nodeName: 'labs' })), notReadyAddresses: [{ ip: '10.42.0.6' }], ports: [{ port: 80, protocol: 'TCP' }] }],
  },
  { metadata: meta('lb-pending', 'default', '10d') },
];

export const endpointSlices: KubeObject[] = [
  {
    metadata: meta('app2-service-7xk2p', 'default', '59m', { labels: { 'kubernetes.io/service-name': 'app2-service' } }),
    addressType: 'IPv4',
    endpoints: ['10.42.0.5', '10.42.0.6', '10.42.0.7', '10.42.0.12'].map((a, i) => ({ addresses: [a], conditions: { ready: i !== 1 }, nodeName: 'labs' })),
    ports: [{ name: '', port: 80, protocol: 'TCP' }],
  },
  { metadata: meta('lb-pending-abcde', 'default', '10d'), addressType: 'IPv4', endpoints: [], ports: null },
];

const template = (containers: { name: string; image: string }[], labels: Record<string, string>) => ({ metadata: { labels }, spec: { containers } });

export const deployments: KubeObject[] = [
  {
    metadata: meta('app2', 'default', '60m', { generation: 1 }),
    spec: { replicas: 3, selector: { matchLabels: { app: 'app2' } }, template: template([{ name: 'app2', image: 'busybox:1.36' }], { app: 'app2' }) },
    status: { replicas: 3, updatedReplicas: 3, readyReplicas: 2, availableReplicas: 2 },
  },
  {
    metadata: meta('web', 'default', '8d', { generation: 4 }),
    spec: { replicas: 0, selector: { matchLabels: { tier: 'web', app: 'web' }, matchExpressions: [{ key: 'env', operator: 'In', values: ['prod', 'dev'] }, { key: 'canary', operator: 'DoesNotExist' }] }, template: template([{ name: 'nginx', image: 'nginx:1.27' }, { name: 'sidecar', image: 'busybox' }], { app: 'web', tier: 'web', env: 'prod' }) },
    status: {},
  },
];

export const replicaSets: KubeObject[] = [
  {
    metadata: meta('app2-5d9c8b7f6', 'default', '60m', { labels: { app: 'app2', 'pod-template-hash': '5d9c8b7f6' } }),
    spec: { replicas: 3, selector: { matchLabels: { app: 'app2', 'pod-template-hash': '5d9c8b7f6' } }, template: template([{ name: 'app2', image: 'busybox:1.36' }], { app: 'app2' }) },
    status: { replicas: 3, fullyLabeledReplicas: 3, readyReplicas: 2, availableReplicas: 2 },
  },
  {
    metadata: meta('web-old', 'default', '8d'),
    spec: { replicas: 0, selector: {}, template: template([{ name: 'nginx', image: 'nginx:1.25' }], { app: 'web' }) },
    status: { replicas: 0 },
  },
];

const rule = (host: string | undefined) => ({ ...(host ? { host } : {}), http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'app2-service', port: { number: 80 } } } }] } });

export const ingresses: KubeObject[] = [
  { metadata: meta('apps', 'default', '60m'), spec: { ingressClassName: 'nginx', rules: [rule('app1.com'), rule('app2.com')] }, status: { loadBalancer: { ingress: [{ ip: '192.168.56.110' }] } } },
  { metadata: meta('many', 'default', '1h'), spec: { ingressClassName: 'nginx', tls: [{ hosts: ['a.example'], secretName: 'tls' }], rules: [rule('a.example'), rule(undefined), rule('b.example'), rule('c.example'), rule('d.example')] }, status: { loadBalancer: { ingress: [{ hostname: 'lb.example' }, { ip: '192.168.56.111' }, { ip: '192.168.56.110' }, { ip: '192.168.56.110' }] } } },
  { metadata: meta('catch-all', 'default', '2m'), spec: { defaultBackend: { service: { name: 'app3', port: { number: 80 } } } }, status: { loadBalancer: {} } },
];

export const ingressClasses: KubeObject[] = [
  { metadata: meta('nginx', undefined, '10d', { annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } }), spec: { controller: 'k8s.io/ingress-nginx' } },
  { metadata: meta('external-lb', undefined, '1d'), spec: { controller: 'example.com/ingress-controller', parameters: { apiGroup: 'k8s.example.com', kind: 'IngressParameters', name: 'external-lb' } } },
];

export const configMaps: KubeObject[] = [
  { metadata: meta('kube-root-ca.crt', 'default', '10d'), data: { 'ca.crt': '-----BEGIN CERTIFICATE-----' } },
  { metadata: meta('coredns', 'kube-system', '10d'), data: { Corefile: '.:53 {}', NodeHosts: '192.168.56.110 labs' } },
  { metadata: meta('binary', 'kube-system', '1m'), data: { a: '1' }, binaryData: { b: 'AA==', c: 'AQ==' } },
  { metadata: meta('empty', 'kube-system', '1m') },
];

export const events: KubeObject[] = [
  {
    metadata: meta('app2-5d9c8b7f6-x1b2c.18a1b2c3d4e5f6a7', 'default', '60m'),
    involvedObject: { kind: 'Pod', namespace: 'default', name: 'app2-5d9c8b7f6-x1b2c', uid: 'u1', apiVersion: 'v1' },
    reason: 'Scheduled', message: 'Successfully assigned default/app2-5d9c8b7f6-x1b2c to labs', source: {}, firstTimestamp: null, lastTimestamp: null,
    eventTime: ago('60m', true), type: 'Normal', action: 'Binding', reportingComponent: 'default-scheduler', reportingController: 'default-scheduler', reportingInstance: 'default-scheduler-labs',
  },
  {
    metadata: meta('app2-5d9c8b7f6-crash.18a1b2c3d4e5f6b8', 'default', '5m'),
    involvedObject: { kind: 'Pod', namespace: 'default', name: 'app2-5d9c8b7f6-crash', uid: 'u2', apiVersion: 'v1', fieldPath: 'spec.containers{app2}' },
    reason: 'BackOff', message: 'Back-off restarting failed container app2 in pod app2-5d9c8b7f6-crash_default(u2)\n', source: { component: 'kubelet', host: 'labs' },
    firstTimestamp: ago('4m50s'), lastTimestamp: ago('12s'), count: 7, type: 'Warning', eventTime: null, reportingComponent: 'kubelet', reportingInstance: 'labs',
  },
  {
    metadata: meta('app2.18a1b2c3d4e5f6c9', 'default', '60m'),
    involvedObject: { kind: 'Deployment', namespace: 'default', name: 'app2', uid: 'u3', apiVersion: 'apps/v1' },
    reason: 'ScalingReplicaSet', message: 'Scaled up replica set app2-5d9c8b7f6 from 0 to 3', source: { component: 'deployment-controller' },
    firstTimestamp: ago('60m'), lastTimestamp: ago('60m'), count: 1, type: 'Normal', eventTime: null,
  },
  {
    metadata: meta('labs.18a1b2c3d4e5f6d0', 'default', '10d'),
    involvedObject: { kind: 'Node', name: 'labs', uid: 'labs', apiVersion: 'v1' },
    reason: 'NodeReady', message: 'Node labs status is now: NodeReady', source: {}, firstTimestamp: null, lastTimestamp: null,
    eventTime: ago('10d', true), series: { count: 4, lastObservedTime: ago('20s', true) }, type: 'Normal', reportingController: 'kubelet', reportingInstance: 'labs',
  },
];

export const leases: KubeObject[] = [
  { metadata: meta('labs', 'kube-node-lease', '10d', { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'labs', uid: 'labs' }] }), spec: { holderIdentity: 'labs', leaseDurationSeconds: 40, renewTime: ago('3s', true) } },
  { metadata: meta('kube-controller-manager', 'kube-system', '10d'), spec: { leaseDurationSeconds: 15 } },
];

/** Every fixture by `<group>/<plural>`, each with its apiVersion and kind as a list item carries none. */
export const FIXTURES: Record<string, KubeObject[]> = {
  '/namespaces': namespaces,
  '/nodes': nodes,
  '/pods': pods,
  '/services': services,
  '/endpoints': endpoints,
  '/configmaps': configMaps,
  '/events': events,
  'apps/deployments': deployments,
  'apps/replicasets': replicaSets,
  'networking.k8s.io/ingresses': ingresses,
  'networking.k8s.io/ingressclasses': ingressClasses,
  'discovery.k8s.io/endpointslices': endpointSlices,
  'coordination.k8s.io/leases': leases,
};
