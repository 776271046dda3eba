// kube-proxy's health servers (pkg/proxy/healthcheck, v1.33): what they answer (pure), real
// listeners on 127.0.0.1 answering byte for byte as Go's net/http writes kube-proxy's replies, and
// KubeProxy opening and closing them as Services come and go, on a real registry.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from '../../src/api/server/registry.ts';
import { KineStore } from '../../src/api/storage/kine.ts';
import { InformerFactory } from '../../src/client/controller.ts';
import { LocalClient } from '../../src/client/local.ts';
import type { KubeObject } from '../../src/client/types.ts';
import { ProxyHealthState, goTimeJSON, healthCheckNodePorts, healthzReply, livezReply, localReadyEndpoints, serviceHealthReply } from '../../src/proxy/health.ts';
import { HealthListener, KubeProxyHealth, ServiceHealthServer } from '../../src/proxy/health-server.ts';
import { KubeProxy, type Syncer } from '../../src/proxy/proxy-controller.ts';
import type { SyncResult } from '../../src/proxy/syncer.ts';
import { makeService, makeSlice } from './proxy-fixtures.ts';
import { until } from './until.ts';

/** One raw HTTP/1.1 exchange: what came back on the wire, Date blanked. */
function rawGet(port: number, path = '/', extra = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1', () => c.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n${extra}\r\n`));
    let got = '';
    c.on('data', (d) => {
      got += d.toString();
      const head = got.indexOf('\r\n\r\n');
      const len = /Content-Length: (\d+)/.exec(got)?.[1];
      if (head >= 0 && len !== undefined && Buffer.byteLength(got.slice(head + 4)) >= Number(len)) {
        c.end();
        resolve(got.replace(/Date: [^\r]+/, 'Date: <date>'));
      }
    });
    c.on('error', reject);
  });
}

const connectError = (port: number) =>
  new Promise<string>((resolve) => {
    const c = net.connect(port, '127.0.0.1', () => (c.end(), resolve('connected')));
    c.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

const lbLocal = (name: string, hc: number, mutate: (s: ReturnType<typeof makeService>) => void = () => {}) =>
  makeService('default', name, (s) => {
    s.spec.type = 'LoadBalancer';
    s.spec.externalTrafficPolicy = 'Local';
    s.spec.clusterIP = '10.43.0.80';
    s.spec.ports = [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 80, nodePort: 30080 }];
    (s.spec as Record<string, unknown>).healthCheckNodePort = hc;
    mutate(s);
  });

describe('what the health servers answer', () => {
  it('healthCheckNodePorts: LoadBalancer Services with externalTrafficPolicy Local only', () => {
    const services = [
      lbLocal('web', 31000),
      lbLocal('cluster', 31001, (s) => (s.spec.externalTrafficPolicy = 'Cluster')),
      lbLocal('np', 31002, (s) => (s.spec.type = 'NodePort')),
      lbLocal('none', 0),
    ];
    expect([...healthCheckNodePorts(services)]).toEqual([['default/web', 31000]]);
  });

  it('localReadyEndpoints: distinct ready IPs on this node; terminating ones and other nodes do not count', () => {
    const slices = [
      makeSlice('default', 'web', [{ ip: '10.42.0.5', nodeName: 'labs' }, { ip: '10.42.0.6', nodeName: 'labs', ready: false, serving: true, terminating: true }, { ip: '10.42.1.5', nodeName: 'labsw' }], [{ name: 'http', port: 80 }]),
      // The same pod on a second port of the Service: still one endpoint.
      makeSlice('default', 'web', [{ ip: '10.42.0.5', nodeName: 'labs' }], [{ name: 'https', port: 443 }], '2'),
      makeSlice('default', 'draining', [{ ip: '10.42.0.9', nodeName: 'labs', ready: false, serving: true, terminating: true }], [{ name: 'http', port: 80 }]),
    ];
    expect(localReadyEndpoints(slices, 'labs')).toEqual(new Map([['default/web', 1]]));
    expect(localReadyEndpoints(slices, 'labsw')).toEqual(new Map([['default/web', 1]]));
  });

  it('the service health reply: kube-proxy\'s tab-indented JSON, the count in X-Load-Balancing-Endpoint-Weight', () => {
    expect(serviceHealthReply('default', 'web', 2, true)).toEqual({
      status: 200,
      headers: [
        ['Content-Type', 'application/json'],
        ['X-Content-Type-Options', 'nosniff'],
        ['X-Load-Balancing-Endpoint-Weight', '2'],
      ],
      body: '{\n\t"service": {\n\t\t"namespace": "default",\n\t\t"name": "web"\n\t},\n\t"localEndpoints": 2,\n\t"serviceProxyHealthy": true\n}',
    });
    expect(serviceHealthReply('default', 'web', 0, true).status).toBe(503);
    expect(serviceHealthReply('default', 'web', 1, false).status).toBe(503);
  });

  it('/healthz: healthy while starting, unhealthy once a change waits longer than the timeout, healthy again after a sync', () => {
    const st = new ProxyHealthState(60_000);
    const t0 = Date.UTC(2025, 4, 1, 10, 0, 0, 120);
    st.queuedUpdate(t0);
    // Before the first sync kube-proxy counts as healthy, whatever waits.
    expect(healthzReply(st.health(t0 + 120_000), true)).toEqual({
      status: 200,
      headers: [
        ['Content-Type', 'application/json'],
        ['X-Content-Type-Options', 'nosniff'],
      ],
      body: '{"lastUpdated":"2025-05-01T10:02:00.12Z","currentTime":"2025-05-01T10:02:00.12Z","nodeEligible":true,"healthy":true}',
    });
    st.updated(t0 + 1_000);
    st.queuedUpdate(t0 + 2_000);
    expect(st.health(t0 + 61_999).healthy).toBe(true);
    const late = healthzReply(st.health(t0 + 62_000), true);
    expect(late.status).toBe(503);
    expect(late.body).toBe('{"lastUpdated":"2025-05-01T10:00:01.12Z","currentTime":"2025-05-01T10:01:02.12Z","nodeEligible":true,"healthy":false,"status":{"IPv4":{"lastUpdated":"2025-05-01T10:00:01.12Z","healthy":false}}}');
    st.updated(t0 + 63_000);
    // A node marked for deletion fails /healthz but not /livez.
    expect(healthzReply(st.health(t0 + 63_500), false).status).toBe(503);
    expect(livezReply(st.health(t0 + 63_500))).toMatchObject({ status: 200, body: '{"lastUpdated":"2025-05-01T10:01:03.62Z","currentTime":"2025-05-01T10:01:03.62Z","healthy":true,"status":{"IPv4":{"lastUpdated":"2025-05-01T10:01:03.12Z","healthy":true}}}' });
  });

  it('times as Go marshals them: RFC 3339, trailing zeros of the fraction cut, the zero time', () => {
    expect(goTimeJSON(Date.UTC(2025, 0, 2, 3, 4, 5, 0))).toBe('2025-01-02T03:04:05Z');
    expect(goTimeJSON(Date.UTC(2025, 0, 2, 3, 4, 5, 500))).toBe('2025-01-02T03:04:05.5Z');
    expect(goTimeJSON(undefined)).toBe('0001-01-01T00:00:00Z');
  });
});

describe('the listeners', () => {
  const open: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const o of open.splice(0)) await o.close();
  });

  it('answer as Go\'s net/http writes kube-proxy\'s reply: sorted handler headers, Date, Content-Length, no Connection header', async () => {
    const l = await HealthListener.open(null, '127.0.0.1', 0, () => serviceHealthReply('default', 'web', 1, true));
    open.push(l);
    const body = '{\n\t"service": {\n\t\t"namespace": "default",\n\t\t"name": "web"\n\t},\n\t"localEndpoints": 1,\n\t"serviceProxyHealthy": true\n}';
    expect(await rawGet(l.port)).toBe(
      `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Content-Type-Options: nosniff\r\nX-Load-Balancing-Endpoint-Weight: 1\r\nDate: <date>\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    // Asked to close, it says so, as Go does.
    expect(await rawGet(l.port, '/', 'Connection: close\r\n')).toContain('\r\nConnection: close\r\n');
  });

  it('ServiceHealthServer: opens a listener per Service, counts its local endpoints, closes it when the Service goes', async () => {
    const port = await freePort();
    let healthy = true;
    const logs: string[] = [];
    const server = new ServiceHealthServer({ netns: null, nodeName: 'labs', addresses: ['127.0.0.1'], proxyHealthy: () => healthy, log: (l) => logs.push(l) });
    open.push(server);
    await server.syncServices(new Map([['default/web', port]]));
    expect(await rawGet(port)).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n[^]*"localEndpoints": 0,/);
    server.syncEndpoints(new Map([['default/web', 2]]));
    expect(await rawGet(port, '/any/path')).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*X-Load-Balancing-Endpoint-Weight: 2\r\n[^]*"localEndpoints": 2,\n\t"serviceProxyHealthy": true\n}$/);
    healthy = false;
    expect(await rawGet(port)).toMatch(/^HTTP\/1\.1 503 [^]*"serviceProxyHealthy": false\n}$/);
    // A port someone else holds: kube-proxy's message, and no listener until a later sync succeeds.
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const takenPort = (taken.address() as net.AddressInfo).port;
    await server.syncServices(new Map([['default/web', port], ['default/other', takenPort]]));
    expect(logs.at(-1)).toMatch(new RegExp(`^kube-proxy: node labs failed to start healthcheck "default/other" on port ${takenPort}: .*EADDRINUSE`));
    expect([...server.ports().keys()]).toEqual(['default/web']);
    await new Promise((r) => taken.close(r));
    await server.syncServices(new Map());
    expect(await connectError(port)).toBe('ECONNREFUSED');
  });
});

/** A syncer that only counts (the iptables side has its own tests). */
class CountingSyncer implements Syncer {
  syncs = 0;
  async sync(): Promise<SyncResult> {
    this.syncs++;
    return { full: false, jumpsInserted: 0 } as SyncResult;
  }
  requestFullSync() {}
  async lostRules() {
    return [];
  }
}

describe('KubeProxy with its health servers, on a real registry', () => {
  let proxy: KubeProxy | undefined;
  let factory: InformerFactory | undefined;
  afterEach(async () => {
    await proxy?.stop();
    factory?.stop();
  });

  it('opens the health check node port the API allocated, follows the local endpoints, closes it when the Service goes and when kube-proxy stops', async () => {
    const client = new LocalClient(new Registry(new KineStore(':memory:')));
    const SERVICES = { group: '', resource: 'services' };
    const SLICES = { group: 'discovery.k8s.io', resource: 'endpointslices' };
    await client.create({ group: '', resource: 'namespaces' }, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
    const created = await client.create<KubeObject & { spec: Record<string, unknown> }>(SERVICES, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { type: 'LoadBalancer', externalTrafficPolicy: 'Local', selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 80, protocol: 'TCP' }] } });
    const hc = created.spec.healthCheckNodePort as number;
    expect(hc).toBeGreaterThanOrEqual(30000);
    const slice = (nodes: string[]) => ({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'web-abcde', namespace: 'default', labels: { 'kubernetes.io/service-name': 'web' } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
      endpoints: nodes.map((n, i) => ({ addresses: [`10.42.${i}.5`], conditions: { ready: true }, nodeName: n })),
    });
    await client.create(SLICES, slice(['labs', 'labsw']));
    const healthzPort = await freePort();
    factory = new InformerFactory((r, sel) => client.listWatch(r, sel));
    const syncer = new CountingSyncer();
    proxy = new KubeProxy(factory, syncer, { health: { netns: null, nodeName: 'labs', serviceAddresses: ['127.0.0.1'], healthz: { host: '127.0.0.1', port: healthzPort } } });
    factory.start();
    proxy.start();
    const first = await until('the health check node port', () => rawGet(hc).catch(() => ''), (r) => r.startsWith('HTTP/1.1 200'));
    expect(first).toContain('"localEndpoints": 1,');
    expect(await rawGet(healthzPort, '/healthz')).toMatch(/^HTTP\/1\.1 200 OK\r\nContent-Type: application\/json\r\nX-Content-Type-Options: nosniff\r\nDate: <date>\r\nContent-Length: \d+\r\n\r\n\{"lastUpdated":"[^"]+","currentTime":"[^"]+","nodeEligible":true,"healthy":true,"status":\{"IPv4":\{"lastUpdated":"[^"]+","healthy":true\}\}\}$/);
    expect(await rawGet(healthzPort, '/metrics')).toMatch(/^HTTP\/1\.1 404 Not Found\r\n[^]*404 page not found\n$/);
    // Scaled to 0 on this node: 503.
    await client.mutate(SLICES, 'default', 'web-abcde', (s) => ({ ...s, ...slice(['labsw']), metadata: s.metadata }));
    await until('503', () => rawGet(hc), (r) => r.startsWith('HTTP/1.1 503'));
    // A node tainted for deletion by the autoscaler fails /healthz.
    await client.create({ group: '', resource: 'nodes' }, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'labs' }, spec: { taints: [{ key: 'ToBeDeletedByClusterAutoscaler', value: '1', effect: 'NoSchedule' }] } });
    await until('/healthz 503', () => rawGet(healthzPort, '/healthz'), (r) => r.startsWith('HTTP/1.1 503') && r.includes('"nodeEligible":false'));
    // Externally Cluster: no health check node port any more (the API takes it back).
    await client.mutate<KubeObject & { spec: Record<string, unknown> }>(SERVICES, 'default', 'web', (s) => ({ ...s, spec: { ...s.spec, externalTrafficPolicy: 'Cluster' } }));
    await until('closed', () => connectError(hc), (e) => e === 'ECONNREFUSED');
    await client.mutate<KubeObject & { spec: Record<string, unknown> }>(SERVICES, 'default', 'web', (s) => ({ ...s, spec: { ...s.spec, externalTrafficPolicy: 'Local', healthCheckNodePort: hc } }));
    await until('open again', () => connectError(hc), (e) => e === 'connected');
    await proxy.stop();
    expect(await connectError(hc)).toBe('ECONNREFUSED');
    expect(await connectError(healthzPort)).toBe('ECONNREFUSED');
    expect(syncer.syncs).toBeGreaterThan(2);
  });

  it('KubeProxyHealth: every change is queued, every sync an update', () => {
    let now = 0;
    const h = new KubeProxyHealth({ netns: null, nodeName: 'labs', healthz: false, timeoutMs: 1000, now: () => now });
    h.updated();
    h.queuedUpdate();
    now = 1000;
    expect(h.state.health(now).healthy).toBe(false);
    h.updated();
    expect(h.state.health(now).healthy).toBe(true);
  });
});
