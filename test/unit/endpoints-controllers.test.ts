// The endpoints and endpointslice controllers as watch-driven controllers on a real registry: a
// Service and its pods written through the API, the controllers' output read back from it.
import { until } from './until.ts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Registry } from '../../src/api/server/registry.ts';
import { KineStore } from '../../src/api/storage/kine.ts';
import { InformerFactory } from '../../src/client/controller.ts';
import { LocalClient } from '../../src/client/local.ts';
import type { KubeObject } from '../../src/client/types.ts';
import { endpointsControllers, type EndpointsControllers } from '../../src/controllers/endpoints-controllers.ts';

const PODS = { group: '', resource: 'pods' };
const SVC = { group: '', resource: 'services' };
const SLICES = { group: 'discovery.k8s.io', resource: 'endpointslices' };
const EPS = { group: '', resource: 'endpoints' };

let client: LocalClient;
let factory: InformerFactory;
let controllers: EndpointsControllers;

const service = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default', labels: {} }, spec: { type: 'ClusterIP', clusterIP: '10.43.0.20', selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }] } };
const pod = (name: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default', labels: { app: 'web' } },
  spec: { nodeName: 'labs', containers: [{ name: 'web', image: 'busybox', ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }] }] },
});

async function setStatus(name: string, ip: string, ready: boolean) {
  await client.mutate<KubeObject & { status?: unknown }>(PODS, 'default', name, (p) => ({ ...p, status: { phase: 'Running', podIP: ip, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }], containerStatuses: [] } }), { subresource: 'status' });
}


type Slice = KubeObject & { endpoints: { addresses: string[]; conditions: { ready: boolean; serving: boolean; terminating: boolean } }[]; ports: { name: string; port: number }[] };
const slices = async () => (await client.list<Slice>(SLICES, { namespace: 'default' })).items;

beforeEach(async () => {
  client = new LocalClient(new Registry(new KineStore(':memory:')));
  await client.create({ group: '', resource: 'namespaces' }, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
  factory = new InformerFactory((r, sel) => client.listWatch(r, sel));
  controllers = endpointsControllers(factory, client);
  factory.start();
  await factory.waitForSync();
  void controllers.endpointSlice.run();
  void controllers.endpoints.run();
});

afterEach(async () => {
  await controllers.endpointSlice.stop();
  await controllers.endpoints.stop();
  factory.stop();
});

describe('endpoints controllers', () => {
  it('a Service\'s ready pods become its EndpointSlice and Endpoints; a pod turning unready is marked so; the Service gone, so are they', async () => {
    await client.create(SVC, service);
    for (const n of ['web-a', 'web-b']) await client.create(PODS, pod(n));
    await setStatus('web-a', '10.42.0.5', true);
    await setStatus('web-b', '10.42.0.6', true);
    const [slice] = await until('a slice with both pods ready', slices, (s) => s.length === 1 && s[0]!.endpoints.filter((e) => e.conditions.ready).length === 2);
    expect(slice!.metadata.labels).toMatchObject({ 'kubernetes.io/service-name': 'web', 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' });
    expect(slice!.ports).toEqual([{ name: 'http', port: 8080, protocol: 'TCP' }]); // the named targetPort, resolved in the pods
    expect(slice!.endpoints.map((e) => e.addresses[0]).sort()).toEqual(['10.42.0.5', '10.42.0.6']);

    await setStatus('web-b', '10.42.0.6', false);
    await until('web-b not ready in the slice', slices, (s) => s[0]?.endpoints.find((e) => e.addresses[0] === '10.42.0.6')?.conditions.ready === false);
    const eps = await until('Endpoints with one ready and one not-ready address', () => client.get<KubeObject & { subsets?: { addresses?: { ip: string }[]; notReadyAddresses?: { ip: string }[] }[] }>(EPS, 'default', 'web').catch(() => null), (e) => e?.subsets?.[0]?.notReadyAddresses?.length === 1);
    expect(eps!.subsets![0]!.addresses!.map((a) => a.ip)).toEqual(['10.42.0.5']);

    await client.delete(SVC, 'default', 'web');
    await until('no slice left', slices, (s) => s.length === 0);
    await until('no Endpoints left', async () => (await client.list(EPS, { namespace: 'default' })).items.length, (n) => n === 0);
  });

  it('leaves the hand-written Endpoints of a Service without a selector alone', async () => {
    const manual = { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'db', namespace: 'default' }, subsets: [{ addresses: [{ ip: '192.168.56.1' }], ports: [{ port: 5432, protocol: 'TCP' }] }] };
    await client.create(SVC, { ...service, metadata: { ...service.metadata, name: 'db' }, spec: { ...service.spec, selector: undefined, ports: [{ name: '', port: 5432, targetPort: 5432, protocol: 'TCP' }] } });
    await client.create(EPS, manual);
    await new Promise((r) => setTimeout(r, 100));
    expect((await client.get<typeof manual & KubeObject>(EPS, 'default', 'db')).subsets).toEqual(manual.subsets);
  });
});
