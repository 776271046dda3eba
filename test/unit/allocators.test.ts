import { describe, expect, it } from 'vitest';
import type { Service } from '../../src/api/types.ts';
import { allocateServices, applyAllocations, type AllocatorConfig } from '../../src/api/allocators.ts';
import { parseIP } from '../../src/util/cidr.ts';

const config: AllocatorConfig = { serviceCIDR: '10.43.0.0/16', serviceNodePortRange: [30000, 32767], clusterDNS: '10.43.0.10' };

function svc(ns: string, name: string, spec: Partial<Service['spec']> = {}): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: ns, labels: {}, annotations: {} },
    spec: {
      type: 'ClusterIP',
      ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 80 }],
      externalIPs: [],
      sessionAffinity: 'None',
      externalTrafficPolicy: 'Cluster',
      internalTrafficPolicy: 'Cluster',
      ...spec,
    },
    source: { file: 'cluster.yaml', line: 1 },
  };
}

const n = (ip: string) => parseIP(ip)!;

describe('ClusterIP allocation', () => {
  it('kubernetes gets .1, kube-dns the cluster DNS IP, others the dynamic band above the first 256', () => {
    const services = [svc('default', 'kubernetes', { ports: [{ name: 'https', protocol: 'TCP', port: 443, targetPort: 6443 }] }), svc('kube-system', 'kube-dns'), svc('default', 'app1-service'), svc('default', 'app2-service')];
    const { allocations, errors } = allocateServices(services, {}, config);
    expect(errors).toEqual([]);
    expect(allocations['default/kubernetes']!.clusterIP).toBe('10.43.0.1');
    expect(allocations['kube-system/kube-dns']!.clusterIP).toBe('10.43.0.10');
    for (const k of ['default/app1-service', 'default/app2-service']) {
      const ip = n(allocations[k]!.clusterIP!);
      expect(ip).toBeGreaterThanOrEqual(n('10.43.1.1'));
      expect(ip).toBeLessThanOrEqual(n('10.43.255.254'));
    }
    expect(allocations['default/app1-service']!.clusterIP).not.toBe(allocations['default/app2-service']!.clusterIP);
  });

  it('is deterministic and independent of manifest order', () => {
    const services = Array.from({ length: 20 }, (_, i) => svc('default', `s${i}`));
    const a = allocateServices(services, {}, config).allocations;
    const b = allocateServices([...services].reverse(), {}, config).allocations;
    expect(b).toEqual(a);
  });

  it('keeps previous allocations; a new Service does not move existing ones', () => {
    const first = allocateServices([svc('default', 'a'), svc('default', 'b')], {}, config).allocations;
    const second = allocateServices([svc('default', 'a'), svc('default', 'b'), svc('default', 'c')], first, config).allocations;
    expect(second['default/a']).toEqual(first['default/a']);
    expect(second['default/b']).toEqual(first['default/b']);
    // A previous allocation beats a newcomer's hash collision, too: pin c to a's IP as if it had been taken.
    const pinned = allocateServices([svc('default', 'a'), svc('default', 'c', { clusterIP: first['default/a']!.clusterIP! })], first, config);
    expect(pinned.allocations['default/a']).toEqual(first['default/a']);
    expect(pinned.errors).toEqual([{ service: 'default/c', field: 'spec.clusterIP', message: `${first['default/a']!.clusterIP}: provided IP is already allocated (to default/a)` }]);
    expect(pinned.allocations['default/c']).toBeUndefined();
  });

  it('honours explicit IPs, rejects ones outside the range, releases deleted Services', () => {
    const r = allocateServices([svc('default', 'fixed', { clusterIP: '10.43.0.50' }), svc('default', 'bad', { clusterIP: '10.44.0.1' })], {}, config);
    expect(r.allocations['default/fixed']!.clusterIP).toBe('10.43.0.50');
    expect(r.errors.map((e) => e.service)).toEqual(['default/bad']);
    expect(r.errors[0]!.message).toContain('not in the valid range');
    const later = allocateServices([svc('default', 'other', { clusterIP: '10.43.0.50' })], r.allocations, config);
    expect(later.errors).toEqual([]);
    expect(Object.keys(later.allocations)).toEqual(['default/other']);
  });

  it('nobody but default/kubernetes can have the first service IP', () => {
    const r = allocateServices([svc('default', 'sneaky', { clusterIP: '10.43.0.1' })], {}, config);
    expect(r.errors[0]!.message).toContain('already allocated (to default/kubernetes)');
  });

  it('headless stays None, ExternalName gets nothing', () => {
    const r = allocateServices([svc('default', 'db', { clusterIP: 'None' }), svc('default', 'ext', { type: 'ExternalName', externalName: 'example.com', ports: [] })], {}, config);
    expect(r.allocations).toEqual({ 'default/db': { clusterIP: 'None', nodePorts: {} } });
  });

  it('falls back to the static band when the dynamic band is full', () => {
    // A /24: 254 usable addresses, the first 16 (.1-.16) are the static band.
    const small: AllocatorConfig = { ...config, serviceCIDR: '10.96.0.0/24' };
    const dynamicOnly = allocateServices(Array.from({ length: 238 }, (_, i) => svc('default', `s${i}`)), {}, small);
    expect(dynamicOnly.errors).toEqual([]);
    expect(Object.values(dynamicOnly.allocations).every((a) => n(a.clusterIP!) >= n('10.96.0.17'))).toBe(true);
    const more = allocateServices(Array.from({ length: 254 }, (_, i) => svc('default', `s${i}`)), {}, small);
    // .1 belongs to kubernetes: 253 fit, one does not.
    expect(more.errors).toHaveLength(1);
    const ips = Object.values(more.allocations).map((a) => n(a.clusterIP!));
    expect(new Set(ips).size).toBe(253);
    expect(ips.filter((ip) => ip < n('10.96.0.17'))).toHaveLength(15);
  });
});

describe('NodePort allocation', () => {
  it('allocates in the dynamic band (30086-32767), honours explicit ports, and shares a port number across protocols', () => {
    const dns = svc('default', 'dns', {
      type: 'NodePort',
      ports: [
        { name: 'dns-udp', protocol: 'UDP', port: 53, targetPort: 53 },
        { name: 'dns-tcp', protocol: 'TCP', port: 53, targetPort: 53 },
        { name: 'http', protocol: 'TCP', port: 80, targetPort: 80, nodePort: 30080 },
      ],
    });
    const r = allocateServices([dns], {}, config);
    expect(r.errors).toEqual([]);
    const np = r.allocations['default/dns']!.nodePorts;
    expect(np['80/TCP']).toBe(30080);
    expect(np['53/UDP']).toBe(np['53/TCP']);
    expect(np['53/UDP']).toBeGreaterThanOrEqual(30086);
    expect(np['53/UDP']).toBeLessThanOrEqual(32767);
  });

  it('rejects conflicts and out-of-range ports, keeps previous ones', () => {
    const a = svc('default', 'a', { type: 'NodePort', ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 80, nodePort: 30080 }] });
    const b = svc('default', 'b', { type: 'NodePort', ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 80, nodePort: 30080 }] });
    const c = svc('default', 'c', { type: 'LoadBalancer', ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 80, nodePort: 29999 }] });
    const r = allocateServices([a, b, c], {}, config);
    expect(r.errors.map((e) => `${e.service} ${e.field}`)).toEqual(['default/b spec.ports[0].nodePort', 'default/c spec.ports[0].nodePort']);
    const d = svc('default', 'd', { type: 'NodePort' });
    const first = allocateServices([d], {}, config).allocations;
    expect(allocateServices([d, svc('default', 'e', { type: 'NodePort' })], first, config).allocations['default/d']).toEqual(first['default/d']);
  });

  it('gives LoadBalancer + externalTrafficPolicy Local a health check NodePort', () => {
    const lb = svc('default', 'lb', { type: 'LoadBalancer', externalTrafficPolicy: 'Local' });
    const a = allocateServices([lb], {}, config).allocations['default/lb']!;
    expect(a.healthCheckNodePort).toBeGreaterThanOrEqual(30000);
    expect(a.healthCheckNodePort).not.toBe(a.nodePorts['80/TCP']);
    expect(allocateServices([svc('default', 'lb', { type: 'LoadBalancer' })], {}, config).allocations['default/lb']!.healthCheckNodePort).toBeUndefined();
  });

  it('ClusterIP Services get no NodePorts; applyAllocations writes everything into the spec', () => {
    const services = [svc('default', 'web', { type: 'NodePort' }), svc('default', 'plain'), svc('default', 'x', { type: 'ExternalName', externalName: 'example.com', ports: [] })];
    const { allocations } = allocateServices(services, {}, config);
    expect(allocations['default/plain']!.nodePorts).toEqual({});
    const applied = applyAllocations(services, allocations);
    expect(applied.map((s) => s.metadata.name)).toEqual(['web', 'plain', 'x']);
    expect(applied[0]!.spec.clusterIP).toBe(allocations['default/web']!.clusterIP);
    expect(applied[0]!.spec.ports[0]!.nodePort).toBe(allocations['default/web']!.nodePorts['80/TCP']);
    expect(applied[1]!.spec.ports[0]!.nodePort).toBeUndefined();
    // The input is not modified.
    expect(services[0]!.spec.clusterIP).toBeUndefined();
  });
});
