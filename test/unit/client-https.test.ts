// The HTTPS client (src/client/https.ts) against a running API server: the verbs, kube's errors as
// StatusErrors, and an informer that lists and watches over the network.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type RunningApiServer } from '../../src/api/server/index.ts';
import { HttpsClient } from '../../src/client/https.ts';
import { Informer } from '../../src/client/informer.ts';
import type { KubeObject } from '../../src/client/types.ts';

const tmp = mkdtempSync(path.join(tmpdir(), 'lab-client-https-'));
let api: RunningApiServer;
let client: HttpsClient;
const CM = { group: '', resource: 'configmaps' };
type ConfigMap = KubeObject & { data?: Record<string, string> };

beforeAll(async () => {
  api = await startApiServer({ storeFile: path.join(tmp, 'db', 'state.db'), pkiDir: tmp });
  client = new HttpsClient({ server: api.url, ca: api.pki.serverCaCert, token: api.pki.token });
});
afterAll(async () => {
  client?.close();
  await api?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('HttpsClient', () => {
  it('creates, reads, lists, changes and deletes; errors are kube\'s Status', async () => {
    const a = await client.create<ConfigMap>(CM, { metadata: { name: 'a', namespace: 'default' }, data: { k: '1' } });
    expect(a.kind).toBe('ConfigMap');
    const b = await client.mutate<ConfigMap>(CM, 'default', 'a', (c) => ({ ...c, data: { k: '2' } }));
    expect(Number(b.metadata.resourceVersion)).toBeGreaterThan(Number(a.metadata.resourceVersion));
    expect((await client.list<ConfigMap>(CM, { namespace: 'default' })).items.map((c) => c.data)).toEqual([{ k: '2' }]);
    await client.delete(CM, 'default', 'a');
    await expect(client.get(CM, 'default', 'a')).rejects.toMatchObject({ status: { code: 404, reason: 'NotFound', message: 'configmaps "a" not found' } });
    await expect(client.create(CM, { metadata: { name: 'x', namespace: 'nope' } })).rejects.toThrow('namespaces "nope" not found');
    const wrong = new HttpsClient({ server: api.url, ca: api.pki.serverCaCert, token: 'wrong' });
    await expect(wrong.list(CM)).rejects.toMatchObject({ status: { code: 401 } });
    wrong.close();
  });

  it('sends a GET once more when its connection is reset, as client-go does; never a write', async () => {
    // A TCP relay to the API server that resets the next connection it is told to.
    const target = new URL(api.url);
    let resets = 0;
    const relay = net.createServer((sock) => {
      if (resets > 0) {
        resets--;
        sock.resetAndDestroy();
        return;
      }
      const up = net.connect(Number(target.port), target.hostname);
      sock.pipe(up).pipe(sock);
      for (const s of [sock, up]) s.on('error', () => {});
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    // Each client its own agent: its first request opens a connection, through the relay.
    const viaRelay = () => new HttpsClient({ server: `https://127.0.0.1:${(relay.address() as net.AddressInfo).port}`, ca: api.pki.serverCaCert, token: api.pki.token });
    const reader = viaRelay();
    const writer = viaRelay();
    try {
      resets = 1;
      expect((await reader.list<ConfigMap>(CM, { namespace: 'default' })).items).toBeInstanceOf(Array);
      expect(resets).toBe(0);
      resets = 1;
      await expect(writer.create(CM, { metadata: { name: 'reset', namespace: 'default' } })).rejects.toMatchObject({ code: 'ECONNRESET' });
      expect(resets).toBe(0);
      await expect(client.get(CM, 'default', 'reset')).rejects.toMatchObject({ status: { code: 404 } });
    } finally {
      reader.close();
      writer.close();
      await new Promise((r) => relay.close(r));
    }
  });

  it('binds a pod through pods/binding', async () => {
    await client.create({ group: '', resource: 'pods' }, { metadata: { name: 'p', namespace: 'default' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } as KubeObject);
    await client.bind('default', 'p', 'labs');
    expect((await client.get<KubeObject & { spec: { nodeName: string } }>({ group: '', resource: 'pods' }, 'default', 'p')).spec.nodeName).toBe('labs');
    await expect(client.bind('default', 'p', 'other')).rejects.toMatchObject({ status: { code: 409 } });
  });

  it('feeds an informer over the network: the list, then each change as the watch delivers it', async () => {
    await client.create<ConfigMap>(CM, { metadata: { name: 'w1', namespace: 'default', labels: { w: 'y' } } });
    const inf = new Informer(client.listWatch<ConfigMap>(CM, { namespace: 'default', labelSelector: 'w=y' }), { name: 'configmaps' });
    const log: string[] = [];
    inf.addHandlers({ add: (o) => log.push(`add ${o.metadata.name}`), update: (_, o) => log.push(`update ${o.metadata.name}`), delete: (o) => log.push(`delete ${o.metadata.name}`) });
    inf.start();
    try {
      await inf.waitForSync();
      await client.create<ConfigMap>(CM, { metadata: { name: 'w2', namespace: 'default', labels: { w: 'y' } } });
      await client.mutate<ConfigMap>(CM, 'default', 'w1', (c) => ({ ...c, data: { x: '1' } }));
      await client.delete(CM, 'default', 'w2');
      const deadline = Date.now() + 5000;
      while (log.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(log).toEqual(['add w1', 'add w2', 'update w1', 'delete w2']);
    } finally {
      inf.stop();
    }
  });
});
