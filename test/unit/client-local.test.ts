// The in-process client against a real registry on kine: an informer built on it sees creates,
// updates and deletes as they commit, and lists again after compaction took its version away.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Registry } from '../../src/api/server/registry.ts';
import { KineStore } from '../../src/api/storage/kine.ts';
import { Informer } from '../../src/client/informer.ts';
import { LocalClient } from '../../src/client/local.ts';
import type { KubeObject } from '../../src/client/types.ts';

const CM = { group: '', resource: 'configmaps' };
const NS = { group: '', resource: 'namespaces' };
type ConfigMap = KubeObject & { data: Record<string, string> };
const cm = (name: string, data: Record<string, string>, labels: Record<string, string> = {}): ConfigMap => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default', labels }, data });

let store: KineStore;
let client: LocalClient;
let informer: Informer<KubeObject> | undefined;

beforeEach(async () => {
  store = new KineStore(':memory:');
  client = new LocalClient(new Registry(store));
  await client.create(NS, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
});
afterEach(() => informer?.stop());

const events = (inf: Informer<KubeObject>) => {
  const log: string[] = [];
  inf.addHandlers({
    add: (o) => log.push(`add ${o.metadata.name}`),
    update: (a, b) => log.push(`update ${a.metadata.name} ${a.metadata.resourceVersion}->${b.metadata.resourceVersion}`),
    delete: (o) => log.push(`delete ${o.metadata.name}`),
  });
  return log;
};

describe('LocalClient', () => {
  it('creates, reads, changes and deletes through the registry, with resourceVersions', async () => {
    const a = await client.create(CM, cm('a', { k: '1' }));
    expect(a.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    const b = await client.mutate<KubeObject & { data: Record<string, string> }>(CM, 'default', 'a', (c) => ({ ...c, data: { k: '2' } }));
    expect(Number(b.metadata.resourceVersion)).toBeGreaterThan(Number(a.metadata.resourceVersion));
    expect((await client.get<KubeObject & { data: Record<string, string> }>(CM, 'default', 'a')).data).toEqual({ k: '2' });
    expect((await client.list(CM, { namespace: 'default' })).items).toHaveLength(1);
    await client.delete(CM, 'default', 'a');
    await expect(client.get(CM, 'default', 'a')).rejects.toThrow('configmaps "a" not found');
  });

  it('feeds an informer: the list, then every change as it commits, narrowed by a label selector', async () => {
    await client.create(CM, cm('a', { k: '1' }, { app: 'web' }));
    await client.create(CM, cm('other', {}, { app: 'db' }));
    informer = new Informer(client.listWatch(CM, { namespace: 'default', labelSelector: 'app=web' }), { name: 'configmaps' });
    const log = events(informer);
    informer.start();
    await informer.waitForSync();
    const b = await client.create(CM, cm('b', {}, { app: 'web' }));
    await client.mutate<KubeObject & { data: Record<string, string> }>(CM, 'default', 'a', (c) => ({ ...c, data: { k: '2' } }));
    await client.mutate(CM, 'default', 'b', (c) => ({ ...c, metadata: { ...c.metadata, labels: { app: 'db' } } })); // leaves the selection
    await client.delete(CM, 'default', 'a');
    expect(log.map((l) => l.replace(/\d+->\d+/, 'N->M'))).toEqual(['add a', 'add b', 'update a N->M', 'delete b', 'delete a']);
    expect(informer.list()).toEqual([]);
    expect(Number(informer.lastSyncResourceVersion)).toBeGreaterThan(Number(b.metadata.resourceVersion));
  });

  it('an informer whose version was compacted away lists again and catches up', async () => {
    await client.create(CM, cm('a', {}));
    const lw = client.listWatch(CM, { namespace: 'default' });
    informer = new Informer(lw, { name: 'configmaps' });
    const log = events(informer);
    informer.start();
    await informer.waitForSync();
    informer.stop();
    // While it is stopped: changes, then compaction past its version.
    await client.create(CM, cm('b', {}));
    await client.delete(CM, 'default', 'a');
    for (let i = 0; i < 5; i++) await client.mutate<KubeObject & { data?: Record<string, string> }>(CM, 'default', 'b', (c) => ({ ...c, data: { i: String(i) } }));
    store.compact(1);
    const gone: string[] = [];
    const stop = lw.watch({ resourceVersion: informer.lastSyncResourceVersion }, (e) => gone.push(`${e.type} ${(e.object as unknown as { code?: number }).code}`), () => {});
    stop();
    expect(gone).toEqual(['ERROR 410']);
    // a fresh start lists, and tells the handlers what it missed
    informer.start();
    await new Promise((r) => setTimeout(r, 10));
    expect(log).toEqual(['add a', 'delete a', 'add b']);
  });
});
