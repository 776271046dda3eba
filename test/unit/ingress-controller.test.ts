// The ingress controller on the API (src/ingress/ingress-controller.ts) and its planner
// (ingress-plan.ts): the ConfigMap's service-upstream, IngressClass rules, the endpoints upstream
// rendering, the status address and the events, against an in-process API server. No nginx runs:
// the configuration is only written, as before the ingress pod starts.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bootstrap } from '../../src/api/server/bootstrap.ts';
import { Registry } from '../../src/api/server/registry.ts';
import { KineStore } from '../../src/api/storage/kine.ts';
import { InformerFactory } from '../../src/client/controller.ts';
import { LocalClient } from '../../src/client/local.ts';
import type { KubeObject } from '../../src/client/types.ts';
import { ingressInstance } from '../../src/ingress/controller.ts';
import { IngressController, INGRESSES } from '../../src/ingress/ingress-controller.ts';
import { ingressSettings, planIngresses, publishAddress, readyEndpoints, servedBy, type ApiEndpointSlice, type ApiService } from '../../src/ingress/ingress-plan.ts';
import { renderNginxConfig } from '../../src/ingress/nginx.ts';
import { buildRoutingTable } from '../../src/ingress/routes.ts';
import { until } from './until.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'pplt-ingc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cls = (name: string, controller: string, isDefault = false) => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'IngressClass',
  metadata: { name, ...(isDefault ? { annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } } : {}) },
  spec: { controller },
});

const svc = (name: string, clusterIP: string, ports: { name?: string; port: number; targetPort: number }[], type = 'ClusterIP'): ApiService => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: 'default' },
  spec: { type, clusterIP, selector: { app: name }, ports: ports.map((p) => ({ ...p, protocol: 'TCP' })) },
});

const slice = (service: string, name: string, port: { name?: string; port: number }, eps: [string, boolean | undefined][]): ApiEndpointSlice => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name, namespace: 'default', labels: { 'kubernetes.io/service-name': service } },
  addressType: 'IPv4',
  endpoints: eps.map(([ip, ready]) => ({ addresses: [ip], conditions: ready === undefined ? {} : { ready } })),
  ports: [{ ...port, protocol: 'TCP' }],
});

const ingress = (name: string, host: string, service: string, extra: { className?: string; annotations?: Record<string, string> } = {}) => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata: { name, namespace: 'default', ...(extra.annotations ? { annotations: extra.annotations } : {}) },
  spec: {
    ...(extra.className ? { ingressClassName: extra.className } : {}),
    rules: [{ host, http: { paths: [{ path: '/', pathType: 'Prefix' as const, backend: { service: { name: service, port: { number: 80 } } } }] } }],
  },
});

describe('ingress planner', () => {
  it('service-upstream: "true"/"false" as Go booleans; absent is ingress-nginx\'s default, false; garbage warns', () => {
    expect(ingressSettings({ 'service-upstream': 'true' }).serviceUpstream).toBe(true);
    expect(ingressSettings({ 'service-upstream': 'False' }).serviceUpstream).toBe(false);
    expect(ingressSettings(undefined)).toEqual({ serviceUpstream: false, warnings: [] });
    expect(ingressSettings({ 'service-upstream': 'yes' })).toEqual({ serviceUpstream: false, warnings: ['service-upstream: "yes" is not a boolean; using false'] });
  });

  it('serves its own class, the default class for Ingresses naming none, and ignores other controllers\' classes', () => {
    const classes = [cls('nginx', 'k8s.io/ingress-nginx', true), cls('traefik', 'traefik.io/ingress-controller')];
    expect(servedBy(ingress('a', 'a.com', 's', { className: 'nginx' }), classes).served).toBe(true);
    expect(servedBy(ingress('b', 'b.com', 's'), classes)).toEqual({ served: true, reason: 'no class: default IngressClass nginx' });
    expect(servedBy(ingress('c', 'c.com', 's', { className: 'traefik' }), classes)).toEqual({ served: false, reason: 'class traefik belongs to controller traefik.io/ingress-controller' });
    expect(servedBy(ingress('d', 'd.com', 's', { className: 'nope' }), classes)).toEqual({ served: false, reason: 'IngressClass nope does not exist' });
    expect(servedBy(ingress('e', 'e.com', 's', { annotations: { 'kubernetes.io/ingress.class': 'traefik' } }), classes).served).toBe(false);
    // Not the default any more: an Ingress without a class is nobody's.
    expect(servedBy(ingress('b', 'b.com', 's'), [cls('nginx', 'k8s.io/ingress-nginx')]).served).toBe(false);
    const plan = planIngresses({ ingresses: [ingress('a', 'a.com', 's'), ingress('c', 'c.com', 's', { className: 'traefik' })], classes, configMapData: { 'service-upstream': 'true' } });
    expect(plan.served.map((i) => i.metadata.name)).toEqual(['a']);
    expect(plan.served[0]!.metadata.labels).toEqual({});
    expect(plan.ignored).toEqual([{ ingress: 'default/c', reason: 'class traefik belongs to controller traefik.io/ingress-controller' }]);
  });

  it('ready endpoints: the slice port named like the Service port, ready unless ready=false, across slices', () => {
    const services = [svc('app2', '10.43.0.50', [{ name: 'http', port: 80, targetPort: 8080 }]), svc('ext', '', [], 'ExternalName')];
    const slices = [
      slice('app2', 'app2-a', { name: 'http', port: 8080 }, [['10.42.0.7', true], ['10.42.0.5', undefined], ['10.42.0.6', false]]),
      slice('app2', 'app2-b', { name: 'http', port: 8080 }, [['10.42.0.9', true]]),
      slice('app2', 'app2-other', { name: 'metrics', port: 9000 }, [['10.42.0.7', true]]),
    ];
    expect(readyEndpoints(services, slices, 'default', 'app2', 80)).toEqual(['10.42.0.5:8080', '10.42.0.7:8080', '10.42.0.9:8080']);
    expect(readyEndpoints(services, slices, 'default', 'app2', 81)).toEqual([]);
    expect(readyEndpoints(services, slices, 'default', 'ext', 80)).toBeNull();
  });

  it('publishes the LoadBalancer Service\'s address, else the pod\'s node, else the configured node IP', () => {
    const lb = { ...svc('ingress-nginx', '10.43.0.20', []), status: { loadBalancer: { ingress: [{ ip: '192.168.56.110' }] } } };
    expect(publishAddress(lb, '10.0.0.1', '10.0.0.2')).toEqual([{ ip: '192.168.56.110' }]);
    expect(publishAddress(undefined, '10.0.0.1', '10.0.0.2')).toEqual([{ ip: '10.0.0.1' }]);
    expect(publishAddress(undefined, undefined, '10.0.0.2')).toEqual([{ ip: '10.0.0.2' }]);
  });
});

describe('nginx.conf with service-upstream "false"', () => {
  const table = buildRoutingTable(planIngresses({ ingresses: [ingress('a', 'app2.com', 'app2'), ingress('b', 'down.com', 'down')], classes: [cls('nginx', 'k8s.io/ingress-nginx', true)], configMapData: {} }).served);
  const base = { resolver: '10.43.0.10', clusterDomain: 'cluster.local', listenPort: 80, prefix: '/run/x/ingress', accessLogPath: '/run/x/ingress/access.log', errorLogPath: 'stderr' };

  it('renders one upstream block per backend with a server per ready endpoint, 503 when none is ready', () => {
    const text = renderNginxConfig(table, { ...base, endpointUpstream: (_ns, s) => (s === 'app2' ? ['10.42.0.5:8080', '10.42.0.7:8080'] : []) });
    expect(text).toContain('    upstream default-app2-80 {\n        server 10.42.0.5:8080;\n        server 10.42.0.7:8080;\n    }');
    expect(text).toMatch(/location \/ \{ {2}# default\/a: Prefix \/\n\s+set \$ingress_backend "default\/app2:80";\n\s+proxy_pass http:\/\/default-app2-80;/);
    expect(text).toMatch(/location \/ \{ {2}# default\/b: Prefix \/\n\s+set \$ingress_backend "default\/down:80";\n\s+return 503;/);
    expect(text).not.toContain('upstream default-down-80');
  });

  it('without endpointUpstream the rendering is the Service path, unchanged (no upstream block)', () => {
    const text = renderNginxConfig(table, base);
    expect(text).not.toMatch(/^\s*upstream /m);
    expect(text).toContain('set $ingress_upstream "app2.default.svc.cluster.local:80";');
    // An ExternalName backend (null) still goes by name in the endpoints variant.
    expect(renderNginxConfig(table, { ...base, endpointUpstream: () => null })).toBe(text);
  });
});

describe('ingress controller on the API', () => {
  it('writes nginx.conf from the API objects, follows the ConfigMap and EndpointSlices, sets the status address, records Sync events', async () => {
    const reg = new Registry(new KineStore(':memory:'));
    bootstrap(reg, { clusterIP: '10.43.0.1', endpointIP: '192.168.56.110', port: 6443 });
    const client = new LocalClient(reg);
    const factory = new InformerFactory((r, sel) => client.listWatch(r, sel));
    const stateDir = path.join(dir, 'state');
    const ctl = new IngressController(factory, client, { stateDir, config: { clusterDNS: '10.43.0.10', clusterDomain: 'cluster.local', nodeIP: '192.168.56.110' }, reloadWaitMs: 0 });
    const create = (resource: string, group: string, o: KubeObject) => client.create({ group, resource }, o);
    await create('ingressclasses', 'networking.k8s.io', cls('nginx', 'k8s.io/ingress-nginx', true));
    await create('configmaps', '', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ingress-nginx-controller', namespace: 'kube-system' }, data: { 'service-upstream': 'true' } } as KubeObject);
    await create('services', '', svc('app2', '10.43.0.50', [{ name: 'http', port: 80, targetPort: 8080 }]));
    await create('endpointslices', 'discovery.k8s.io', slice('app2', 'app2-abcde', { name: 'http', port: 8080 }, [['10.42.0.5', true]]));
    await create('ingresses', 'networking.k8s.io', ingress('app2', 'app2.com', 'app2'));
    await create('ingresses', 'networking.k8s.io', ingress('other', 'other.com', 'app2', { className: 'traefik' }));
    factory.start();
    const conf = () => readFileSync(ingressInstance(stateDir, null).configPath, 'utf8');
    try {
      await ctl.request();
      // service-upstream "true": through the Service (its DNS name -> ClusterIP), the other class left out.
      expect(conf()).toContain('set $ingress_upstream "app2.default.svc.cluster.local:80";');
      expect(conf()).not.toContain('other.com');
      expect(ctl.last?.masterPid).toBeNull();

      const status = async () => ((await client.get(INGRESSES, 'default', 'app2')) as { status?: { loadBalancer?: unknown } }).status?.loadBalancer;
      await until('status address', status, (lb) => JSON.stringify(lb) === JSON.stringify({ ingress: [{ ip: '192.168.56.110' }] }));
      expect(((await client.get(INGRESSES, 'default', 'other')) as { status?: { loadBalancer?: { ingress?: unknown } } }).status?.loadBalancer?.ingress).toBeUndefined();

      const events = async () => (await client.list<KubeObject & { reason?: string; message?: string; source?: { component?: string }; involvedObject?: { name?: string } }>({ group: '', resource: 'events' })).items;
      await until('a Sync event', events, (es) => es.some((e) => e.reason === 'Sync'));
      const sync = (await events()).filter((e) => e.reason === 'Sync');
      expect(sync[0]).toMatchObject({ message: 'Scheduled for sync', source: { component: 'nginx-ingress-controller' }, involvedObject: { name: 'app2' } });
      expect(sync.every((e) => e.involvedObject?.name === 'app2')).toBe(true);

      // service-upstream "false": the pods, straight from the EndpointSlice.
      await client.mutate({ group: '', resource: 'configmaps' }, 'kube-system', 'ingress-nginx-controller', (c: KubeObject & { data?: Record<string, string> }) => ({ ...c, data: { 'service-upstream': 'false' } }));
      await until('the endpoints upstream', async () => conf(), (t) => t.includes('upstream default-app2-80'));
      await ctl.request();
      expect(conf()).toContain('server 10.42.0.5:8080;');
      expect(ctl.last?.serviceUpstream).toBe(false);

      // The endpoint goes not ready: nothing to send to, 503.
      await client.mutate({ group: 'discovery.k8s.io', resource: 'endpointslices' }, 'default', 'app2-abcde', (s: ApiEndpointSlice) => ({ ...s, endpoints: [{ addresses: ['10.42.0.5'], conditions: { ready: false } }] }));
      await until('no upstream block', async () => conf(), (t) => !t.includes('upstream default-app2-80'));
      await ctl.request();
      expect(conf()).toMatch(/set \$ingress_backend "default\/app2:80";\n\s+return 503;/);
    } finally {
      await ctl.stop();
      factory.stop();
    }
  });
});
