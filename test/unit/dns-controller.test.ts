// The cluster DNS's informers (src/dns/dns-controller.ts): Services and Endpoints written to the
// API become the records the DNS pod answers from (the same answer() the server runs).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import dnsPacket from 'dns-packet';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultClusterConfig } from '../../src/api/load.ts';
import { Registry } from '../../src/api/server/registry.ts';
import { KineStore } from '../../src/api/storage/kine.ts';
import { InformerFactory } from '../../src/client/controller.ts';
import { LocalClient } from '../../src/client/local.ts';
import { DnsController } from '../../src/dns/dns-controller.ts';
import { dnsSnapshotPath } from '../../src/dns/publish.ts';
import { answer } from '../../src/dns/resolver.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'pplt-dnsc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function lookup(name: string): Promise<string[]> {
  const snapshot = JSON.parse(readFileSync(dnsSnapshotPath(dir), 'utf8'));
  const res = await answer({ type: 'query', id: 1, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name, class: 'IN' }] } as dnsPacket.Packet, snapshot);
  return (res.answers ?? []).map((a) => String((a as { data: unknown }).data));
}

describe('cluster DNS controller', () => {
  it('publishes a Service\'s ClusterIP, and a headless Service\'s ready endpoints (from its EndpointSlices), from the API', async () => {
    const client = new LocalClient(new Registry(new KineStore(':memory:')));
    await client.create({ group: '', resource: 'namespaces' }, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
    const factory = new InformerFactory((r, sel) => client.listWatch(r, sel));
    const dns = new DnsController(factory, dir, defaultClusterConfig('labs'));
    factory.start();
    try {
      await client.create({ group: '', resource: 'services' }, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'app2-service', namespace: 'default', labels: {}, annotations: {} }, spec: { type: 'ClusterIP', clusterIP: '10.43.0.50', selector: { app: 'app2' }, ports: [{ name: 'http', port: 80, targetPort: 80, protocol: 'TCP' }] } });
      await client.create({ group: '', resource: 'services' }, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'db', namespace: 'default', labels: {}, annotations: {} }, spec: { type: 'ClusterIP', clusterIP: 'None', selector: { app: 'db' }, ports: [{ name: 'pg', port: 5432, targetPort: 5432, protocol: 'TCP' }] } });
      // CoreDNS reads EndpointSlices: the db Service's, one endpoint ready and one not.
      await client.create(
        { group: 'discovery.k8s.io', resource: 'endpointslices' },
        {
          apiVersion: 'discovery.k8s.io/v1',
          kind: 'EndpointSlice',
          metadata: { name: 'db-x7k2p', namespace: 'default', labels: { 'kubernetes.io/service-name': 'db', 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' } },
          addressType: 'IPv4',
          endpoints: [
            { addresses: ['10.42.0.8'], conditions: { ready: true } },
            { addresses: ['10.42.0.9'], conditions: { ready: false } },
          ],
          ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }],
        },
      );
      await dns.request();
      expect(await lookup('app2-service.default.svc.cluster.local')).toEqual(['10.43.0.50']);
      expect(await lookup('db.default.svc.cluster.local')).toEqual(['10.42.0.8']);
      await client.delete({ group: '', resource: 'services' }, 'default', 'app2-service');
      await dns.request();
      expect(await lookup('app2-service.default.svc.cluster.local')).toEqual([]);
    } finally {
      await dns.stop();
      factory.stop();
    }
  });
});
