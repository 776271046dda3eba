// k3s's ServiceLB on the control plane's informers: a LoadBalancer Service gets the node's
// address in status.loadBalancer.ingress (what `kubectl get svc` shows as EXTERNAL-IP), loses it
// when it stops being one, and follows the nodes; the pure choice of addresses as k3s makes it.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/client/types.ts';
import { ControlPlane } from '../../src/controllers/control-plane.ts';
import { ENABLE_LB_LABEL, loadBalancerIngress } from '../../src/controllers/servicelb-controller.ts';
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

describe('loadBalancerIngress', () => {
  const node = (name: string, ip: string, ready = true, labels: Record<string, string> = {}, external?: string) => ({
    metadata: { name, labels },
    status: { addresses: [{ type: 'InternalIP', address: ip }, ...(external ? [{ type: 'ExternalIP', address: external }] : [])], conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  });
  it('takes Ready nodes (ExternalIP before InternalIP), sorted; labelled nodes narrow the pool', () => {
    expect(loadBalancerIngress([node('b', '192.168.56.111'), node('a', '192.168.56.110'), node('c', '192.168.56.112', false)]).map((i) => i.ip)).toEqual(['192.168.56.110', '192.168.56.111']);
    expect(loadBalancerIngress([node('a', '10.0.0.1', true, {}, '203.0.113.5')]).map((i) => i.ip)).toEqual(['203.0.113.5']);
    expect(loadBalancerIngress([node('a', '10.0.0.1', true, { [ENABLE_LB_LABEL]: 'true' }), node('b', '10.0.0.2')]).map((i) => i.ip)).toEqual(['10.0.0.1']);
    expect(loadBalancerIngress([node('a', '10.0.0.1', true, { [ENABLE_LB_LABEL]: 'false' }), node('b', '10.0.0.2')]).map((i) => i.ip)).toEqual(['10.0.0.2']);
  });
});
