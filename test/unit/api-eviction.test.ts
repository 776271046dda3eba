// The Eviction API (pods/<name>/eviction) and real kubectl v1.32's drain, cordon and uncordon
// against the lab's API server (HTTPS on 127.0.0.1 at a free port, a kine store in a temporary
// directory): discovery names pods/eviction (policy/v1 Eviction), which is how kubectl knows to
// evict instead of delete; an eviction marks the pod DisruptionTarget and deletes it gracefully.
// No kubelet runs here: pods on the node have terminationGracePeriodSeconds 0, so they go at once.
import { request as httpsRequest } from 'node:https';
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/api/server/object.ts';
import { resourceFor } from '../../src/api/server/resources.ts';
import { useApiServer } from './kubectl-fixture.ts';

const PODS = resourceFor('', 'pods')!;
const NODES = resourceFor('', 'nodes')!;
const fx = useApiServer('eviction');

const kubectl = fx.kubectl;

function call(p: string, method: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`${fx.api.url}${p}`, { method, headers: { Authorization: `Bearer ${fx.api.pki.token}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) }, ca: fx.api.pki.serverCaCert, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString() || '{}') }));
    });
    req.on('error', reject);
    req.end(text);
  });
}

const pod = (name: string, o: { node?: string; owner?: boolean; emptyDir?: boolean; grace?: number } = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default', ...(o.owner === false ? {} : { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-5f7d8c9b4', uid: '0b8e2c1a-0000-4000-8000-000000000001', controller: true }] }) },
  spec: {
    nodeName: o.node ?? 'labs',
    terminationGracePeriodSeconds: o.grace ?? 0,
    containers: [{ name: 'c', image: 'busybox', ...(o.emptyDir ? { volumeMounts: [{ name: 'scratch', mountPath: '/scratch' }] } : {}) }],
    ...(o.emptyDir ? { volumes: [{ name: 'scratch', emptyDir: {} }] } : {}),
  },
});
const names = () => fx.api.registry.list(PODS, 'default').items.map((p) => p.metadata.name).sort();

describe('pods/eviction and kubectl drain', () => {
  it('discovery lists pods/eviction as policy/v1 Eviction, create only', async () => {
    const r = await kubectl('get', '--raw', '/api/v1');
    const list = JSON.parse(r.stdout) as { resources: Record<string, unknown>[] };
    expect(list.resources.find((x) => x.name === 'pods/eviction')).toEqual({ name: 'pods/eviction', singularName: '', namespaced: true, group: 'policy', version: 'v1', kind: 'Eviction', verbs: ['create'] });
  });

  it('an Eviction: 201 Success, DisruptionTarget on the pod, then a graceful delete; a wrong name is 400, a missing pod 404', async () => {
    fx.api.registry.create(PODS, 'default', pod('slow', { grace: 30 }));
    const url = '/api/v1/namespaces/default/pods/slow/eviction';
    const wrong = await call(url, 'POST', { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'other', namespace: 'default' } });
    expect([wrong.status, wrong.body.message]).toEqual([400, 'name in URL does not match name in Eviction object']);
    const ok = await call(url, 'POST', { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'slow', namespace: 'default' } });
    expect([ok.status, ok.body]).toEqual([201, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 }]);
    const evicted = fx.api.registry.get(PODS, 'default', 'slow');
    expect(evicted.metadata.deletionTimestamp).toBeDefined();
    expect(evicted.metadata.deletionGracePeriodSeconds).toBe(30);
    expect((evicted.status!.conditions as object[]).find((c) => (c as { type: string }).type === 'DisruptionTarget')).toMatchObject({ status: 'True', reason: 'EvictionByEvictionAPI', message: 'Eviction API: evicting' });
    // v1beta1 is taken too, and its deleteOptions apply: grace 0 finishes the deletion.
    const again = await call(url, 'POST', { apiVersion: 'policy/v1beta1', kind: 'Eviction', metadata: { name: 'slow' }, deleteOptions: { gracePeriodSeconds: 0 } });
    expect(again.status).toBe(201);
    expect(names()).not.toContain('slow');
    const missing = await call(url, 'POST', { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'slow' } });
    expect([missing.status, missing.body.message]).toEqual([404, 'pods "slow" not found']);
  });

  it('kubectl drain --ignore-daemonsets --delete-emptydir-data: cordons, evicts every pod on the node and waits for them; uncordon', async () => {
    fx.api.registry.create(NODES, undefined, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'labs' } });
    for (const n of ['web-a', 'web-b']) fx.api.registry.create(PODS, 'default', pod(n));
    fx.api.registry.create(PODS, 'default', pod('cache', { emptyDir: true }));
    fx.api.registry.create(PODS, 'default', pod('elsewhere', { node: 'labsw' }));
    // kubectl's own refusals stand: emptyDir data without --delete-emptydir-data.
    const refused = await kubectl('drain', 'labs', '--ignore-daemonsets');
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toContain('cannot delete Pods with local storage (use --delete-emptydir-data to override): default/cache');
    expect(await kubectl('get', 'node', 'labs', '-o', 'jsonpath={.spec.unschedulable}')).toMatchObject({ stdout: 'true' });

    const drain = await kubectl('drain', 'labs', '--ignore-daemonsets', '--delete-emptydir-data', '--timeout=30s');
    expect(drain.exitCode, drain.stderr).toBe(0);
    for (const n of ['cache', 'web-a', 'web-b']) {
      expect(drain.stderr + drain.stdout).toContain(`evicting pod default/${n}`);
      expect(drain.stdout).toContain(`pod/${n} evicted`);
    }
    expect(drain.stdout).toContain('node/labs drained');
    expect(names()).toEqual(['elsewhere']);

    const uncordon = await kubectl('uncordon', 'labs');
    expect(uncordon.stdout.trim()).toBe('node/labs uncordoned');
    expect(fx.api.registry.get(NODES, undefined, 'labs').spec?.unschedulable).toBeUndefined();
  });
});
