// kube-controller-manager's ReplicaSet controller, watch-driven on a real registry: a ReplicaSet's
// pods created with generateName, replaced when deleted, counted in its status, adopted and
// released by selector, refused creates reported as kube reports them; and the planner's slow
// start and deletion ranking on their own.
import { afterEach, describe, expect, it } from 'vitest';
import { fieldErrors } from '../../src/api/server/status.ts';
import { planReplicas, podsToDelete, slowStartBatches } from '../../src/controllers/replicaset-planner.ts';
import type { PodObj, ReplicaSetObj } from '../../src/controllers/workloads.ts';
import { Cluster, isReady, live, ownedBy, PODS, REPLICASETS, SAFE, until } from './workload-fixtures.ts';

let c: Cluster | undefined;
afterEach(async () => {
  await c?.stop();
  c = undefined;
});

const replicaSet = (name: string, replicas: number, minReadySeconds = 0): ReplicaSetObj => ({
  apiVersion: 'apps/v1',
  kind: 'ReplicaSet',
  metadata: { name, namespace: 'default', labels: { app: name } },
  spec: {
    replicas,
    minReadySeconds,
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name, tier: 'web' }, annotations: { note: 'from the template' } }, spec: { containers: [{ name: 'c', image: 'busybox' }], restartPolicy: 'Always', terminationGracePeriodSeconds: 30 } },
  },
});

const rsStatus = async (name: string) => (await c!.client.get<ReplicaSetObj>(REPLICASETS, 'default', name)).status;

describe('replicaset controller', () => {
  it('creates the pods from the template with generateName <rs>-, owned by the ReplicaSet; status counts ready and available (minReadySeconds)', async () => {
    c = await Cluster.start({ deployments: false });
    const rs = await c.client.create(REPLICASETS, replicaSet('web', 2, 1));
    const pods = await until('2 pods', () => c!.pods(), (l) => l.length === 2);
    for (const p of pods) {
      expect(p.metadata.name).toMatch(new RegExp(`^web-${SAFE}{5}$`));
      expect(p.metadata).toMatchObject({ generateName: 'web-', labels: { app: 'web', tier: 'web' }, annotations: { note: 'from the template' } });
      expect(p.metadata.ownerReferences).toEqual([{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: rs.metadata.uid, controller: true, blockOwnerDeletion: true }]);
      expect(p.spec).toMatchObject({ containers: [{ name: 'c', image: 'busybox' }] });
    }
    expect(await until('status', () => rsStatus('web'), (s) => s?.observedGeneration === 1 && s.replicas === 2)).toEqual({ replicas: 2, fullyLabeledReplicas: 2, observedGeneration: 1 });
    for (const p of pods) await c.setReady(p.metadata.name);
    // Ready at once, available only after minReadySeconds (the controller looks again then).
    expect(await until('ready', () => rsStatus('web'), (s) => s?.readyReplicas === 2)).toMatchObject({ readyReplicas: 2 });
    expect((await rsStatus('web'))?.availableReplicas).toBeUndefined();
    expect(await until('available', () => rsStatus('web'), (s) => s?.availableReplicas === 2, 4000)).toEqual({ replicas: 2, fullyLabeledReplicas: 2, readyReplicas: 2, availableReplicas: 2, observedGeneration: 1 });
  });

  it('replaces a deleted pod; a terminating pod no longer counts, and the replacement does not wait for it', async () => {
    c = await Cluster.start({ deployments: false });
    const rs = replicaSet('web', 2);
    (rs.spec.template!.spec as Record<string, unknown>).nodeName = 'labs'; // scheduled: deletion is graceful
    await c.client.create(REPLICASETS, rs);
    const [victim] = await until('2 pods', () => c!.pods(), (l) => l.length === 2);
    await c.client.delete(PODS, 'default', victim!.metadata.name);
    const after = await until('a replacement beside the terminating pod', () => c!.pods(), (l) => l.length === 3 && l.filter(live).length === 2);
    expect(after.find((p) => p.metadata.name === victim!.metadata.name)?.metadata.deletionTimestamp).toBeTruthy();
    expect(await until('status', () => rsStatus('web'), (s) => s?.replicas === 2)).toMatchObject({ replicas: 2 });
  });

  it('scales down in the ActivePods ranking: unready before ready', async () => {
    c = await Cluster.start({ deployments: false });
    await c.client.create(REPLICASETS, replicaSet('web', 3));
    const pods = await until('3 pods', () => c!.pods(), (l) => l.length === 3);
    await c.setReady(pods[0]!.metadata.name);
    await c.setReady(pods[2]!.metadata.name);
    await until('2 ready', () => rsStatus('web'), (s) => s?.readyReplicas === 2);
    await c.client.mutate<ReplicaSetObj>(REPLICASETS, 'default', 'web', (r) => ({ ...r, spec: { ...r.spec, replicas: 2 } }));
    const left = await until('2 pods', () => c!.pods(), (l) => l.length === 2);
    expect(left.every(isReady)).toBe(true);
    const ev = await until('SuccessfulDelete', () => c!.events(), (l) => l.some((e) => e.reason === 'SuccessfulDelete'));
    expect(ev.find((e) => e.reason === 'SuccessfulDelete')).toMatchObject({ type: 'Normal', message: `Deleted pod: ${pods[1]!.metadata.name}`, source: { component: 'replicaset-controller' } });
  });

  it('adopts an orphan pod its selector matches, and releases a pod whose labels stop matching (then makes another)', async () => {
    c = await Cluster.start({ deployments: false });
    const orphan = await c.client.create<PodObj>(PODS, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'stray', namespace: 'default', labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
    const rs = await c.client.create(REPLICASETS, replicaSet('web', 2));
    const pods = await until('the orphan adopted and one more made', () => c!.pods(), (l) => l.length === 2 && l.every(ownedBy(rs)));
    expect(pods.find((p) => p.metadata.uid === orphan.metadata.uid)).toBeTruthy();
    // kubectl label pod stray app-: out of the ReplicaSet.
    await c.client.mutate<PodObj>(PODS, 'default', 'stray', (p) => ({ ...p, metadata: { ...p.metadata, labels: { other: 'x' } } }));
    const after = await until('released and replaced', () => c!.pods(), (l) => l.length === 3 && l.filter(ownedBy(rs)).length === 2);
    expect(after.find((p) => p.metadata.name === 'stray')!.metadata.ownerReferences).toBeUndefined();
  });

  it("reports a refused create as kube does: Warning FailedCreate 'Error creating: ...', the ReplicaFailure condition; both go once creates succeed", async () => {
    let refuse = true;
    c = await Cluster.start({ deployments: false, registry: { strategies: { pods: { validate: () => (refuse ? [fieldErrors.forbidden('spec.hostNetwork', 'Host network is not allowed to be used')] : []) } } } });
    await c.client.create(REPLICASETS, replicaSet('web', 3));
    const status = await until('ReplicaFailure', () => rsStatus('web'), (s) => s?.conditions?.some((x) => x.type === 'ReplicaFailure') ?? false);
    expect(status?.replicas).toBe(0);
    expect(status?.conditions?.[0]).toMatchObject({ type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate' });
    expect(status?.conditions?.[0]?.message).toMatch(new RegExp(`^Pod "web-${SAFE}{5}" is invalid: spec.hostNetwork: Forbidden: Host network is not allowed to be used$`));
    const events = await until('FailedCreate events', () => c!.events(), (l) => l.some((e) => e.reason === 'FailedCreate'));
    expect(events.find((e) => e.reason === 'FailedCreate')).toMatchObject({ type: 'Warning', source: { component: 'replicaset-controller' }, involvedObject: { kind: 'ReplicaSet', name: 'web' } });
    expect(events.find((e) => e.reason === 'FailedCreate')!.message).toMatch(/^Error creating: Pod "web-.{5}" is invalid: /);
    expect(await c.pods()).toHaveLength(0);
    // Retried after its backoff (5 ms, doubling): the refusal lifted, the pods come.
    refuse = false;
    await until('3 pods', () => c!.pods(), (l) => l.length === 3);
    expect(await until('condition cleared', () => rsStatus('web'), (s) => s?.replicas === 3 && !s.conditions)).toMatchObject({ replicas: 3 });
  });
});

describe('replicaset planner', () => {
  it('creates in slow-start batches 1, 2, 4, ...', () => {
    expect(slowStartBatches(10)).toEqual([1, 2, 4, 3]);
    expect(slowStartBatches(1)).toEqual([1]);
    expect(slowStartBatches(0)).toEqual([]);
    expect(planReplicas(replicaSet('web', 700), [])).toEqual({ create: 500, delete: [] }); // burstReplicas
  });

  it('ranks pods for deletion: more siblings on the same node first, then the most recently ready', () => {
    const pod = (name: string, node: string, readySince: string): PodObj => ({
      metadata: { name, namespace: 'default', creationTimestamp: '2026-11-28T06:00:00Z' },
      spec: { nodeName: node },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: readySince }] },
    });
    const a = pod('a', 'n1', '2026-11-28T06:01:00Z');
    const b = pod('b', 'n2', '2026-11-28T06:01:00Z');
    const b2 = pod('b2', 'n2', '2026-11-28T06:05:00Z');
    const b3 = pod('b3', 'n2', '2026-11-28T06:02:00Z');
    expect(podsToDelete([a, b, b2, b3], [a, b, b2, b3], 2).map((p) => p.metadata.name)).toEqual(['b2', 'b3']);
  });
});
