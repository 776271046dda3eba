// k3s's ServiceLB on the control plane's informers: a LoadBalancer Service gets the node's
// address in status.loadBalancer.ingress (what `kubectl get svc` shows as EXTERNAL-IP), loses it
// when it stops being one, and follows the nodes; the pure choice of addresses as k3s makes it.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/client/types.ts';
import { ControlPlane } from '../../src/controllers/control-plane.ts';
import { ENABLE_LB_LABEL, LB_POOL_LABEL, loadBalancerIngress } from '../../src/controllers/servicelb-controller.ts';
import { until } from './until.ts';

const host = { bootID: 'b', machineID: 'm', osImage: 'Debian', kernelVersion: '6', architecture: 'amd64', cpus: 2, memoryKi: 1 };
const SERVICES = { group: '', resource: 'services' };
type Svc = KubeObject & { spec: Record<string, unknown>; status?: { loadBalancer?: { ingress?: { ip: string; ipMode?: string }[] } } };

let cp: ControlPlane;
beforeEach(async () => {
  cp = new ControlPlane({
    storePath: ':memory:',
    api: { clusterIP: '10.43.0.1', endpointIP: '192.168.56.110', port: 6443 },
    node: { name: 'labs', nodeIP: '192.168.56.110', podCIDR: '10.42.0.0/24', role: 'server', host, kubeletVersion: 'v1.32.0+lab', containerRuntimeVersion: 'runc://1.1.5', maxPods: 110 },
  });
  await cp.start();
});
afterEach(() => cp.stop());

const lb = (name: string): Svc => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'kube-system' }, spec: { type: 'LoadBalancer', selector: { app: name }, ports: [{ name: 'http', port: 80 }] } });
const ingressOf = (s: Svc) => s.status?.loadBalancer?.ingress ?? [];

describe('ServiceLB controller', () => {
  it('gives a LoadBalancer Service the node IP, and takes it back when the type changes', async () => {
    await cp.client.create(SERVICES, lb('ingress-nginx'));
    const got = await until('EXTERNAL-IP', () => cp.client.get<Svc>(SERVICES, 'kube-system', 'ingress-nginx'), (s) => ingressOf(s).length > 0);
    expect(got.status!.loadBalancer).toEqual({ ingress: [{ ip: '192.168.56.110', ipMode: 'VIP' }] });
    expect(got.spec.clusterIP).toMatch(/^10\.43\./);
    await cp.client.mutate<Svc>(SERVICES, 'kube-system', 'ingress-nginx', (s) => ({ ...s, spec: { ...s.spec, type: 'ClusterIP', externalTrafficPolicy: undefined, ports: [{ name: 'http', port: 80 }] } }));
    const cleared = await until('no EXTERNAL-IP', () => cp.client.get<Svc>(SERVICES, 'kube-system', 'ingress-nginx'), (s) => ingressOf(s).length === 0);
    expect(cleared.status!.loadBalancer).toEqual({});
  });

  it('leaves a Service with a loadBalancerClass to its own implementation', async () => {
    await cp.client.create(SERVICES, { ...lb('metal'), spec: { ...lb('metal').spec, loadBalancerClass: 'example.com/metal' } });
    await cp.client.create(SERVICES, lb('after'));
    await until('the other one served', () => cp.client.get<Svc>(SERVICES, 'kube-system', 'after'), (s) => ingressOf(s).length > 0);
    expect(ingressOf(await cp.client.get<Svc>(SERVICES, 'kube-system', 'metal'))).toEqual([]);
  });
});

describe('loadBalancerIngress (k3s getStatus/podIPs) on two nodes', () => {
  type N = Parameters<typeof loadBalancerIngress>[1][number];
  const node = (name: string, ip: string, o: { ready?: boolean; labels?: Record<string, string>; external?: string; taints?: { key: string; value?: string; effect: string }[] } = {}): N => ({
    metadata: { name, labels: o.labels ?? {} },
    spec: { taints: o.taints ?? [] },
    status: { addresses: [{ type: 'InternalIP', address: ip }, { type: 'Hostname', address: name }, ...(o.external ? [{ type: 'ExternalIP', address: o.external }] : [])], conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }] },
  });
  const svc = (spec: Record<string, unknown> = {}, labels: Record<string, string> = {}) => ({ metadata: { name: 'web', namespace: 'default', labels }, spec: { type: 'LoadBalancer', ipFamilies: ['IPv4'], ...spec } });
  const ips = (...args: Parameters<typeof loadBalancerIngress>) => loadBalancerIngress(...args).map((i) => i.ip);
  const labs = node('labs', '192.168.56.110', { labels: { 'node-role.kubernetes.io/control-plane': 'true' } });
  const labsw = node('labsw', '192.168.56.111');

  it('lists every node a svclb pod runs ready on, sorted as strings whatever order the nodes come in, each entry ipMode VIP', () => {
    expect(loadBalancerIngress(svc(), [labsw, labs])).toEqual([
      { ip: '192.168.56.110', ipMode: 'VIP' },
      { ip: '192.168.56.111', ipMode: 'VIP' },
    ]);
    // String order, as Go's sort.Strings: .111 before .99.
    expect(ips(svc(), [node('a', '192.168.56.99'), labsw])).toEqual(['192.168.56.111', '192.168.56.99']);
  });

  it('leaves out a node that is not Ready, and one with a taint the svclb pod does not tolerate', () => {
    expect(ips(svc(), [labs, node('labsw', '192.168.56.111', { ready: false })])).toEqual(['192.168.56.110']);
    expect(ips(svc(), [labs, node('labsw', '192.168.56.111', { taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] })])).toEqual(['192.168.56.110']);
    // Cordoned, a control-plane taint, CriticalAddonsOnly, a PreferNoSchedule taint: the svclb pod stays.
    const tolerated = node('labsw', '192.168.56.111', {
      taints: [
        { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' },
        { key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' },
        { key: 'CriticalAddonsOnly', value: 'true', effect: 'NoExecute' },
        { key: 'dedicated', value: 'db', effect: 'PreferNoSchedule' },
      ],
    });
    expect(ips(svc(), [labs, tolerated])).toEqual(['192.168.56.110', '192.168.56.111']);
  });

  it('once any node carries the enablelb label, only nodes labelled "true" (and in the Service\'s lbpool)', () => {
    expect(ips(svc(), [node('labs', '192.168.56.110', { labels: { [ENABLE_LB_LABEL]: 'true' } }), labsw])).toEqual(['192.168.56.110']);
    // Labelled false on one node: the selector is on, and no node is labelled true.
    expect(ips(svc(), [node('labs', '192.168.56.110', { labels: { [ENABLE_LB_LABEL]: 'false' } }), labsw])).toEqual([]);
    const pooled = [node('labs', '192.168.56.110', { labels: { [ENABLE_LB_LABEL]: 'true', [LB_POOL_LABEL]: 'a' } }), node('labsw', '192.168.56.111', { labels: { [ENABLE_LB_LABEL]: 'true', [LB_POOL_LABEL]: 'b' } })];
    expect(ips(svc({}, { [LB_POOL_LABEL]: 'b' }), pooled)).toEqual(['192.168.56.111']);
    expect(ips(svc(), pooled)).toEqual(['192.168.56.110', '192.168.56.111']);
  });

  it('ExternalIPs when any listed node has one (then only those), else InternalIPs', () => {
    expect(ips(svc(), [node('labs', '192.168.56.110', { external: '203.0.113.10' }), labsw])).toEqual(['203.0.113.10']);
    expect(ips(svc(), [node('labs', '192.168.56.110', { external: '203.0.113.10' }), node('labsw', '192.168.56.111', { external: '203.0.113.11' })])).toEqual(['203.0.113.10', '203.0.113.11']);
  });

  it('externalTrafficPolicy Local: only nodes with a ready pod endpoint of the Service', () => {
    const slice = (eps: { node: string; ready?: boolean; kind?: string }[]) => ({
      metadata: { name: 'web-x', namespace: 'default', labels: { 'kubernetes.io/service-name': 'web' } },
      endpoints: eps.map((e) => ({ nodeName: e.node, conditions: e.ready === undefined ? {} : { ready: e.ready }, targetRef: { kind: e.kind ?? 'Pod' } })),
    });
    const local = svc({ externalTrafficPolicy: 'Local' });
    expect(ips(local, [labs, labsw], [slice([{ node: 'labsw', ready: true }])])).toEqual(['192.168.56.111']);
    expect(ips(local, [labs, labsw], [slice([{ node: 'labs', ready: true }, { node: 'labsw', ready: false }])])).toEqual(['192.168.56.110']);
    // k3s wants ready set and true, and a Pod behind it.
    expect(ips(local, [labs, labsw], [slice([{ node: 'labs' }, { node: 'labsw', ready: true, kind: 'Node' }])])).toEqual([]);
    expect(ips(svc(), [labs, labsw], [slice([{ node: 'labsw', ready: true }])])).toEqual(['192.168.56.110', '192.168.56.111']);
  });
});

describe('ServiceLB controller with a second node', () => {
  const NODES = { group: '', resource: 'nodes' };
  const SLICES = { group: 'discovery.k8s.io', resource: 'endpointslices' };
  const agentNode = (ready: boolean) => ({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'labsw' }, status: { addresses: [{ type: 'InternalIP', address: '192.168.56.111' }], conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] } });
  const ips = (s: Svc) => ingressOf(s).map((i) => i.ip);

  it('follows nodes as they come, turn NotReady and go, and a Local Service\'s endpoints', async () => {
    await cp.client.create(SERVICES, lb('ingress-nginx'));
    await until('labs', () => cp.client.get<Svc>(SERVICES, 'kube-system', 'ingress-nginx'), (s) => ips(s).join() === '192.168.56.110');
    await cp.client.create(NODES, agentNode(true));
    await until('labs and labsw', () => cp.client.get<Svc>(SERVICES, 'kube-system', 'ingress-nginx'), (s) => ips(s).join() === '192.168.56.110,192.168.56.111');
    await cp.client.mutate<KubeObject & { status: Record<string, unknown> }>(NODES, undefined, 'labsw', (n) => ({ ...n, status: agentNode(false).status }), { subresource: 'status' });
    await until('labsw NotReady', () => cp.client.get<Svc>(SERVICES, 'kube-system', 'ingress-nginx'), (s) => ips(s).join() === '192.168.56.110');
    await cp.client.mutate<KubeObject & { status: Record<string, unknown> }>(NODES, undefined, 'labsw', (n) => ({ ...n, status: agentNode(true).status }), { subresource: 'status' });
    await until('labsw back', () => cp.client.get<Svc>(SERVICES, 'kube-system', 'ingress-nginx'), (s) => ips(s).length === 2);
    // externalTrafficPolicy Local: only the node with the ready pod.
    await cp.client.mutate<Svc>(SERVICES, 'kube-system', 'ingress-nginx', (s) => ({ ...s, spec: { ...s.spec, externalTrafficPolicy: 'Local' } }));
    await until('no endpoints: no node', () => cp.client.get<Svc>(SERVICES, 'kube-system', 'ingress-nginx'), (s) => ips(s).length === 0);
    await cp.client.create(SLICES, {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'ingress-nginx-manual', namespace: 'kube-system', labels: { 'kubernetes.io/service-name': 'ingress-nginx' } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
      endpoints: [{ addresses: ['10.42.1.5'], conditions: { ready: true }, nodeName: 'labsw', targetRef: { kind: 'Pod', namespace: 'kube-system', name: 'ingress-nginx-x' } }],
    });
    await until('labsw only', () => cp.client.get<Svc>(SERVICES, 'kube-system', 'ingress-nginx'), (s) => ips(s).join() === '192.168.56.111');
    await cp.client.delete(NODES, undefined, 'labsw');
    await until('labsw gone', () => cp.client.get<Svc>(SERVICES, 'kube-system', 'ingress-nginx'), (s) => ips(s).length === 0);
  });
});
