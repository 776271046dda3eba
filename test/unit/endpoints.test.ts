import { describe, expect, it } from 'vitest';
import type { Endpoints, Pod, Service } from '../../src/api/types.ts';
import { computeEndpoints, computeEndpointSlices, endpointSlicesFromEndpoints, resolveTargetPort } from '../../src/controllers/endpoints.ts';

function pod(name: string, opts: { ip?: string; ready?: boolean; phase?: Pod['status']['phase']; labels?: Record<string, string>; deleting?: boolean; ns?: string; ports?: { name?: string; containerPort: number; protocol?: 'TCP' | 'UDP' }[]; hostname?: string; subdomain?: string } = {}): Pod {
  const ready = opts.ready ?? true;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: opts.ns ?? 'default', labels: opts.labels ?? { app: 'app2' }, annotations: {}, ...(opts.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
    spec: {
      containers: [{ name: 'c', image: 'busybox', env: [], volumeMounts: [], ports: (opts.ports ?? [{ name: 'http', containerPort: 80 }]).map((p) => ({ protocol: 'TCP' as const, ...p })) }],
      volumes: [],
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      nodeName: 'labS',
      ...(opts.hostname ? { hostname: opts.hostname } : {}),
      ...(opts.subdomain ? { subdomain: opts.subdomain } : {}),
    },
    status: {
      phase: opts.phase ?? 'Running',
      ...(opts.ip === undefined ? {} : { podIP: opts.ip }),
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
      containerStatuses: [],
    },
  };
}

function service(name: string, opts: { selector?: Record<string, string>; ports?: Service['spec']['ports']; ns?: string; clusterIP?: string } = {}): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: opts.ns ?? 'default', labels: { tier: 'web' }, annotations: {} },
    spec: {
      type: 'ClusterIP',
      ...(opts.clusterIP ? { clusterIP: opts.clusterIP } : {}),
      ...(opts.selector ? { selector: opts.selector } : {}),
      ports: opts.ports ?? [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 'http' }],
      externalIPs: [],
      sessionAffinity: 'None',
      externalTrafficPolicy: 'Cluster',
      internalTrafficPolicy: 'Cluster',
    },
    source: { file: 'cluster.yaml', line: 1 },
  };
}

describe('endpoints controller (v1 Endpoints)', () => {
  const svc = service('app2-service', { selector: { app: 'app2' } });

  it('ready pods become addresses, the others notReadyAddresses; terminating and IP-less pods are left out', () => {
    const pods = [
      pod('app2-a', { ip: '10.42.0.3' }),
      pod('app2-b', { ip: '10.42.0.2' }),
      pod('app2-c', { ip: '10.42.0.4', ready: false }),
      pod('app2-d', { ip: '10.42.0.5', deleting: true }),
      pod('app2-e', { phase: 'Pending', ready: false }),
      pod('app2-f', { ip: '10.42.0.6', phase: 'Failed', ready: false }),
      pod('other', { ip: '10.42.0.7', labels: { app: 'app1' } }),
      pod('app2-other-ns', { ip: '10.42.0.8', ns: 'kube-system' }),
    ];
    const [ep] = computeEndpoints([svc], pods, []);
    expect(ep!.metadata).toMatchObject({ name: 'app2-service', namespace: 'default', labels: { tier: 'web' } });
    expect(ep!.subsets).toHaveLength(1);
    const s = ep!.subsets[0]!;
    expect(s.addresses.map((a) => a.ip)).toEqual(['10.42.0.2', '10.42.0.3']);
    expect(s.notReadyAddresses.map((a) => a.ip)).toEqual(['10.42.0.4']);
    expect(s.ports).toEqual([{ name: 'http', port: 80, protocol: 'TCP' }]);
    expect(s.addresses[0]).toEqual({ ip: '10.42.0.2', nodeName: 'labS', targetRef: { kind: 'Pod', name: 'app2-b', namespace: 'default' } });
  });

  it('resolves named targetPorts per pod; pods with other port numbers get their own subset', () => {
    const pods = [pod('a', { ip: '10.42.0.2' }), pod('b', { ip: '10.42.0.3', ports: [{ name: 'http', containerPort: 8080 }] }), pod('c', { ip: '10.42.0.4', ports: [{ name: 'metrics', containerPort: 9090 }] })];
    const [ep] = computeEndpoints([svc], pods, []);
    expect(ep!.subsets.map((s) => ({ ips: s.addresses.map((a) => a.ip), port: s.ports[0]!.port }))).toEqual([
      { ips: ['10.42.0.2'], port: 80 },
      { ips: ['10.42.0.3'], port: 8080 },
    ]);
  });

  it('FindPort: numbers as is, names by name and protocol', () => {
    const p = pod('a', { ip: '10.42.0.2', ports: [{ name: 'dns', containerPort: 5353, protocol: 'UDP' }, { name: 'dns', containerPort: 5354, protocol: 'TCP' }] });
    expect(resolveTargetPort(p, { name: 'x', protocol: 'TCP', port: 53, targetPort: 'dns' })).toBe(5354);
    expect(resolveTargetPort(p, { name: 'x', protocol: 'UDP', port: 53, targetPort: 'dns' })).toBe(5353);
    expect(resolveTargetPort(p, { name: 'x', protocol: 'TCP', port: 53, targetPort: 1053 })).toBe(1053);
    expect(resolveTargetPort(p, { name: 'x', protocol: 'TCP', port: 53, targetPort: 'nope' })).toBeUndefined();
  });

  it('Services without a selector keep their manual Endpoints; managed ones are replaced', () => {
    const manual: Endpoints[] = [
      { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'external-db', namespace: 'default', labels: {}, annotations: {} }, subsets: [{ addresses: [{ ip: '192.168.56.50' }], notReadyAddresses: [], ports: [{ name: '', port: 5432, protocol: 'TCP' }] }] },
      { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'app2-service', namespace: 'default', labels: {}, annotations: {} }, subsets: [{ addresses: [{ ip: '1.1.1.1' }], notReadyAddresses: [], ports: [] }] },
    ];
    const out = computeEndpoints([svc, service('external-db', { ports: [{ name: '', protocol: 'TCP', port: 5432, targetPort: 5432 }] })], [pod('a', { ip: '10.42.0.2' })], manual);
    expect(out.map((e) => e.metadata.name)).toEqual(['app2-service', 'external-db']);
    expect(out[0]!.subsets[0]!.addresses.map((a) => a.ip)).toEqual(['10.42.0.2']);
    expect(out[1]).toBe(manual[0]);
  });

  it('publishes the pod hostname only to the Service named by its subdomain', () => {
    const p = pod('web-0', { ip: '10.42.0.9', hostname: 'web-0', subdomain: 'web' });
    const headless = service('web', { selector: { app: 'app2' }, clusterIP: 'None' });
    const [a, b] = computeEndpoints([headless, svc], [p], []);
    expect(a!.metadata.name).toBe('app2-service');
    expect(a!.subsets[0]!.addresses[0]!.hostname).toBeUndefined();
    expect(b!.subsets[0]!.addresses[0]!.hostname).toBe('web-0');
    expect(b!.metadata.labels['service.kubernetes.io/headless']).toBe('');
  });
});

describe('endpointslice controller (what the proxy reads)', () => {
  const svc = service('app2-service', { selector: { app: 'app2' } });

  it('keeps terminating pods with their conditions', () => {
    const pods = [pod('a', { ip: '10.42.0.3' }), pod('b', { ip: '10.42.0.2', ready: false }), pod('c', { ip: '10.42.0.4', deleting: true })];
    const [sl, ...rest] = computeEndpointSlices([svc], pods, []);
    expect(rest).toEqual([]);
    expect(sl!.metadata.labels).toMatchObject({ 'kubernetes.io/service-name': 'app2-service', 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' });
    expect(sl!.metadata.name).toMatch(/^app2-service-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    expect(sl!.endpoints.map((e) => [e.addresses[0], e.conditions])).toEqual([
      ['10.42.0.2', { ready: false, serving: false, terminating: false }],
      ['10.42.0.3', { ready: true, serving: true, terminating: false }],
      ['10.42.0.4', { ready: false, serving: true, terminating: true }],
    ]);
    expect(sl!.ports).toEqual([{ name: 'http', protocol: 'TCP', port: 80 }]);
    // Deterministic names: the same input gives the same slice.
    expect(computeEndpointSlices([svc], pods, [])[0]!.metadata.name).toBe(sl!.metadata.name);
  });

  it('mirrors manual Endpoints of selector-less Services', () => {
    const manual: Endpoints = {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name: 'svc1', namespace: 'ns1', labels: {}, annotations: {} },
      subsets: [{ addresses: [{ ip: '10.0.1.1' }], notReadyAddresses: [{ ip: '10.0.1.2' }], ports: [{ name: 'p80', port: 80, protocol: 'TCP' }] }],
    };
    const slices = computeEndpointSlices([service('svc1', { ns: 'ns1' })], [], [manual]);
    expect(slices).toEqual(endpointSlicesFromEndpoints([manual]));
    expect(slices[0]!.metadata.labels['endpointslice.kubernetes.io/managed-by']).toBe('endpointslicemirroring-controller.k8s.io');
    expect(slices[0]!.endpoints.map((e) => [e.addresses[0], e.conditions.ready])).toEqual([
      ['10.0.1.1', true],
      ['10.0.1.2', false],
    ]);
  });
});
