// What the API server makes for itself at start (src/api/server/bootstrap.ts).
import { describe, expect, it } from 'vitest';
import { bootstrap, SYSTEM_NAMESPACES } from '../../src/api/server/bootstrap.ts';
import { Registry } from '../../src/api/server/registry.ts';
import { KineStore } from '../../src/api/storage/kine.ts';

const I = { clusterIP: '10.43.0.1', endpointIP: '192.168.56.110', port: 6443 };

describe('API server bootstrap', () => {
  it('makes the system namespaces and the kubernetes Service with its endpoints, and changes nothing the second time', () => {
    const store = new KineStore(':memory:');
    const reg = new Registry(store);
    bootstrap(reg, I);
    const ns = reg.list(reg.resource('', 'namespaces'), undefined).items.map((n) => n.metadata.name);
    expect(ns.sort()).toEqual([...SYSTEM_NAMESPACES].sort());
    const svc = reg.get(reg.resource('', 'services'), 'default', 'kubernetes') as unknown as { spec: { clusterIP: string; ports: unknown[] } };
    expect(svc.spec.clusterIP).toBe('10.43.0.1');
    expect(svc.spec.ports).toEqual([{ name: 'https', port: 443, protocol: 'TCP', targetPort: 6443 }]);
    const ep = reg.get(reg.resource('', 'endpoints'), 'default', 'kubernetes') as unknown as { subsets: unknown };
    expect(ep.subsets).toEqual([{ addresses: [{ ip: '192.168.56.110' }], ports: [{ name: 'https', port: 6443, protocol: 'TCP' }] }]);
    const slice = reg.get(reg.resource('discovery.k8s.io', 'endpointslices'), 'default', 'kubernetes') as unknown as { endpoints: unknown };
    expect(slice.endpoints).toEqual([{ addresses: ['192.168.56.110'], conditions: { ready: true } }]);
    const rev = store.currentRevision();
    bootstrap(reg, I);
    expect(store.currentRevision()).toBe(rev);
    // a changed node address is put right at the next start
    bootstrap(reg, { ...I, endpointIP: '192.168.56.120' });
    expect((reg.get(reg.resource('', 'endpoints'), 'default', 'kubernetes') as unknown as { subsets: { addresses: { ip: string }[] }[] }).subsets[0]!.addresses[0]!.ip).toBe('192.168.56.120');
  });
});
