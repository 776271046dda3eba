// kube-proxy's control loop (src/proxy/proxy-controller.ts) on a real registry, with a syncer that
// records what it is asked (the iptables side, ProxySyncer, has its own unit and e2e tests).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Registry } from '../../src/api/server/registry.ts';
import { KineStore } from '../../src/api/storage/kine.ts';
import { InformerFactory } from '../../src/client/controller.ts';
import { LocalClient } from '../../src/client/local.ts';
import { KubeProxy, type Syncer } from '../../src/proxy/proxy-controller.ts';
import type { ProxyState, SyncResult } from '../../src/proxy/syncer.ts';

class RecordingSyncer implements Syncer {
  syncs: { services: string[]; slices: number; full: boolean }[] = [];
  full = false;
  lost: string[] = [];
  fail = false;
  /** Jump rules the next full sync finds missing and puts back. */
  missingJumps = 0;
  async sync(s: ProxyState): Promise<SyncResult> {
    const full = this.full;
    this.syncs.push({ services: s.services.map((x) => x.metadata.name).sort(), slices: s.endpointSlices.length, full });
    this.full = false;
    await new Promise((r) => setTimeout(r, 5));
    if (this.fail) throw new Error('iptables-restore: line 3 failed');
    const jumpsInserted = full ? this.missingJumps : 0;
    if (full) this.missingJumps = 0;
    return { full, jumpsInserted } as SyncResult;
  }
  requestFullSync() {
    this.full = true;
  }
  async lostRules() {
    const l = this.lost;
    this.lost = [];
    return l;
  }
}

const svc = (name: string) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { type: 'ClusterIP', selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 80, protocol: 'TCP' }] } });
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

let client: LocalClient;
let factory: InformerFactory;
let proxy: KubeProxy;
let syncer: RecordingSyncer;
const logs: string[] = [];

beforeEach(async () => {
  client = new LocalClient(new Registry(new KineStore(':memory:')));
  await client.create({ group: '', resource: 'namespaces' }, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
  await client.create({ group: '', resource: 'services' }, svc('first'));
  factory = new InformerFactory((r, sel) => client.listWatch(r, sel));
  syncer = new RecordingSyncer();
  proxy = new KubeProxy(factory, syncer, { minSyncMs: 100, canaryMs: 20, log: (l) => logs.push(l) });
  factory.start();
  proxy.start();
});
afterEach(async () => {
  await proxy.stop();
  factory.stop();
});

describe('kube-proxy control loop', () => {
  it('syncs what the informers hold once they have synced, then a burst of changes as one more sync', async () => {
    await wait(30);
    expect(syncer.syncs).toEqual([{ services: ['first'], slices: 0, full: false }]);
    for (const n of ['a', 'b', 'c', 'd']) await client.create({ group: '', resource: 'services' }, svc(n));
    await wait(150);
    expect(syncer.syncs).toHaveLength(2);
    expect(syncer.syncs[1]!.services).toEqual(['a', 'b', 'c', 'd', 'first']);
  });

  it('a full sync that puts jumps back says so (a flush the periodic sync repaired before the canary saw it)', async () => {
    await wait(30);
    syncer.missingJumps = 2;
    syncer.requestFullSync();
    proxy.request();
    await wait(150);
    expect(logs).toContain('kube-proxy: full sync put back 2 jump rule(s) gone from the node');
  });

  it('a lost canary chain forces a full sync; a failed sync makes the next one full', async () => {
    await wait(30);
    syncer.lost = ['KUBE-PROXY-CANARY (nat)'];
    await wait(150);
    expect(syncer.syncs.at(-1)).toMatchObject({ full: true });
    expect(logs).toContain('kube-proxy: KUBE-PROXY-CANARY (nat) gone from the node: full sync');
    syncer.fail = true;
    await client.create({ group: '', resource: 'services' }, svc('x'));
    await wait(150);
    syncer.fail = false;
    await client.create({ group: '', resource: 'services' }, svc('y'));
    await wait(150);
    expect(logs.some((l) => l.startsWith('kube-proxy: sync failed: iptables-restore: line 3 failed'))).toBe(true);
    expect(syncer.syncs.at(-1)).toMatchObject({ full: true });
  });
});
