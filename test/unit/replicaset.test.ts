import { describe, expect, it } from 'vitest';
import type { Deployment, Pod } from '../../src/api/types.ts';
import { deletionOrder, planReplicaSets, POD_TEMPLATE_HASH } from '../../src/controllers/replicaset.ts';
import { podTemplateHash } from '../../src/controllers/podnames.ts';
import { schedule } from '../../src/scheduler/scheduler.ts';

function deployment(name: string, replicas: number, cmd = ['httpd', '-f']): Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'default', labels: {}, annotations: {} },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name }, annotations: {} }, spec: { containers: [{ name, image: 'busybox', command: cmd, env: [], ports: [], volumeMounts: [] }], volumes: [], restartPolicy: 'Always', terminationGracePeriodSeconds: 30 } },
    },
    source: { file: 'x.yaml', line: 1 },
  };
}

describe('ReplicaSet planner', () => {
  it('creates replicas pods with the template hash label and owner', () => {
    const d = deployment('app2', 3);
    const plan = planReplicaSets([d], []);
    expect(plan.delete).toEqual([]);
    expect(plan.create).toHaveLength(3);
    const hash = podTemplateHash(d.spec.template);
    for (const p of plan.create) {
      expect(p.metadata.name).toMatch(new RegExp(`^app2-${hash}-[bcdfghjklmnpqrstvwxz2456789]{5}$`));
      expect(p.metadata.labels).toEqual({ app: 'app2', [POD_TEMPLATE_HASH]: hash });
      expect(p.metadata.ownerReferences?.[0]).toEqual({ kind: 'ReplicaSet', name: `app2-${hash}` });
    }
    expect(new Set(plan.create.map((p) => p.metadata.name)).size).toBe(3);
  });

  it('is idempotent: existing pods are kept', () => {
    const d = deployment('app2', 3);
    const first = planReplicaSets([d], []).create;
    expect(planReplicaSets([d], first)).toEqual({ create: [], delete: [] });
  });

  it('scales down the newest pods first and up with fresh names', () => {
    const d = deployment('app2', 3);
    const pods = planReplicaSets([d], []).create.map((p, i) => ({ ...p, metadata: { ...p.metadata, creationTimestamp: `2026-01-01T00:00:0${i}Z` } }));
    const down = planReplicaSets([deployment('app2', 1)], pods);
    expect(down.create).toEqual([]);
    expect(down.delete.map((p) => p.metadata.name)).toEqual([pods[2]!.metadata.name, pods[1]!.metadata.name]);
    const upPlan = planReplicaSets([deployment('app2', 5)], pods);
    expect(upPlan.create).toHaveLength(2);
    for (const p of upPlan.create) expect(pods.map((x) => x.metadata.name)).not.toContain(p.metadata.name);
  });

  it('scales down like the ReplicaSet controller: unready, crash-looping and newer pods go first', () => {
    const d = deployment('app2', 6);
    const at = (i: number) => `2026-01-01T00:00:0${i}Z`;
    const pods = planReplicaSets([d], []).create.map((p, i): Pod => ({ ...p, metadata: { ...p.metadata, creationTimestamp: at(i) }, spec: { ...p.spec, nodeName: 'labs' } }));
    const running = (p: Pod, ready: boolean, restartCount = 0) => {
      p.status = { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }], containerStatuses: [{ name: 'app2', ready, started: true, restartCount, state: { running: { startedAt: at(0) } } }] };
    };
    const [oldest, crashLooping, unready, costly, pending, newest] = pods as [Pod, Pod, Pod, Pod, Pod, Pod];
    running(oldest, true);
    running(crashLooping, true, 4);
    running(unready, false);
    running(costly, true);
    costly.metadata.annotations['controller.kubernetes.io/pod-deletion-cost'] = '100';
    running(newest, true);
    const order = [...pods].sort(deletionOrder).map((p) => p.metadata.name);
    expect(order).toEqual([pending, unready, crashLooping, newest, oldest, costly].map((p) => p.metadata.name));
    // Unscheduled before anything scheduled, even before a scheduled Pending pod.
    newest.spec.nodeName = undefined;
    expect([...pods].sort(deletionOrder)[0]).toBe(newest);
    newest.spec.nodeName = 'labs';
    const plan = planReplicaSets([deployment('app2', 3)], pods);
    expect(plan.delete.map((p) => p.metadata.name)).toEqual([pending, unready, crashLooping].map((p) => p.metadata.name));
    expect(plan.create).toEqual([]);
  });

  it('deletes the pods of a removed Deployment', () => {
    const pods = [...planReplicaSets([deployment('app1', 1)], []).create, ...planReplicaSets([deployment('app2', 2)], []).create];
    const plan = planReplicaSets([deployment('app2', 2)], pods);
    expect(plan.delete.map((p) => p.metadata.annotations['lab/deployment'])).toEqual(['app1']);
    expect(plan.create).toEqual([]);
  });

  it('rolls a changed template out with maxSurge 25% / maxUnavailable 25%: never fewer than 3 of 4 ready, never more than 5 pods', () => {
    const ready = (p: Pod): Pod => ({ ...p, status: { ...p.status, phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } });
    let pods = planReplicaSets([deployment('app2', 4)], []).create.map(ready);
    const oldNames = new Set(pods.map((p) => p.metadata.name));
    const v2 = deployment('app2', 4, ['httpd', '-f', '-v']);
    for (let step = 0; step < 20; step++) {
      const plan = planReplicaSets([v2], pods);
      if (plan.create.length === 0 && plan.delete.length === 0) break;
      // Deletions happen first, creations become ready before the next step.
      pods = pods.filter((p) => !plan.delete.includes(p));
      expect(pods.filter((p) => p.status.conditions.length).length).toBeGreaterThanOrEqual(3);
      pods = [...pods, ...plan.create];
      expect(pods.length).toBeLessThanOrEqual(5);
      pods = pods.map(ready);
    }
    expect(pods).toHaveLength(4);
    for (const p of pods) expect(oldNames.has(p.metadata.name)).toBe(false);
  });

  it('deletes unready old pods first and Recreate replaces everything', () => {
    const old = planReplicaSets([deployment('app2', 2)], []).create;
    const recreate = { ...deployment('app2', 2, ['x']), spec: { ...deployment('app2', 2, ['x']).spec, strategy: { type: 'Recreate' as const } } };
    const r = planReplicaSets([recreate], old);
    expect(r.create).toEqual([]);
    expect(r.delete.map((p) => p.metadata.name).sort()).toEqual(old.map((p) => p.metadata.name).sort());
    // Rolling, all old pods unready: they cost no availability but maxSurge bounds the new ones.
    const plan = planReplicaSets([deployment('app2', 2, ['x'])], old);
    expect(plan.create).toHaveLength(1);
  });

  it('never reuses a taken name even when the random source repeats', () => {
    const d = deployment('app2', 2);
    let calls = 0;
    const rand = () => (calls++ < 10 ? 0 : calls % 27); // first two names would both be ...-bbbbb
    const plan = planReplicaSets([d], [], rand);
    expect(new Set(plan.create.map((p) => p.metadata.name)).size).toBe(2);
  });
});

describe('scheduler', () => {
  const pods = (n: number): Pod[] => planReplicaSets([deployment('app', n)], []).create;
  it('spreads pods over nodes by load, deterministically', () => {
    const ps = pods(4);
    const a = schedule(ps, [{ name: 'n1', capacity: 10 }, { name: 'n0', capacity: 10 }], []);
    const b = schedule([...ps].reverse(), [{ name: 'n0', capacity: 10 }, { name: 'n1', capacity: 10 }], []);
    expect([...a].sort()).toEqual([...b].sort());
    expect([...a.values()].filter((n) => n === 'n0')).toHaveLength(2);
  });
  it('leaves pods unscheduled when nodes are full', () => {
    const a = schedule(pods(3), [{ name: 'n0', capacity: 2 }], []);
    expect(a.size).toBe(2);
  });
});
