import { describe, expect, it } from 'vitest';
import type { Pod } from '../../src/api/types.ts';
import { podsToDelete } from '../../src/controllers/replicaset-planner.ts';
import type { PodObj } from '../../src/controllers/workloads.ts';
import { schedule } from '../../src/scheduler/scheduler.ts';

describe('ReplicaSet scale-down order', () => {
  it('scales down like the ReplicaSet controller: unscheduled, pending, unready, crash-looping and newer pods go first', () => {
    const at = (i: number) => `2026-01-01T00:00:0${i}Z`;
    const pod = (name: string, i: number, o: { ready?: boolean; restarts?: number; phase?: string; cost?: string; node?: string } = {}): PodObj => ({
      metadata: { name, namespace: 'default', creationTimestamp: at(i), ...(o.cost ? { annotations: { 'controller.kubernetes.io/pod-deletion-cost': o.cost } } : {}) },
      spec: { nodeName: o.node ?? 'labs' },
      status: {
        phase: o.phase ?? 'Running',
        conditions: o.phase === 'Pending' ? [] : [{ type: 'Ready', status: o.ready === false ? 'False' : 'True', lastTransitionTime: at(0) }],
        containerStatuses: o.phase === 'Pending' ? [] : [{ name: 'app2', ready: o.ready !== false, restartCount: o.restarts ?? 0 }],
      },
    });
    const oldest = pod('oldest', 0);
    const crashLooping = pod('crash', 1, { restarts: 4 });
    const unready = pod('unready', 2, { ready: false });
    const costly = pod('costly', 3, { cost: '100' });
    const pending = pod('pending', 4, { phase: 'Pending' });
    const newest = pod('newest', 5);
    const pods = [oldest, crashLooping, unready, costly, pending, newest];
    expect(podsToDelete(pods, pods, 5).map((p) => p.metadata.name)).toEqual(['pending', 'unready', 'crash', 'newest', 'oldest']);
    // Unscheduled before anything scheduled, even before a scheduled Pending pod.
    const unscheduled = pod('unscheduled', 0, { node: '' });
    expect(podsToDelete([...pods, unscheduled], [...pods, unscheduled], 1).map((p) => p.metadata.name)).toEqual(['unscheduled']);
  });
});

/** An app pod, not yet scheduled. */
function appPod(name: string): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels: { app: 'app' }, annotations: {} },
    spec: { containers: [{ name: 'app', image: 'busybox', command: ['httpd', '-f'], env: [], ports: [], volumeMounts: [] }], volumes: [], restartPolicy: 'Always', terminationGracePeriodSeconds: 30 },
    status: { phase: 'Pending', conditions: [], containerStatuses: [] },
  };
}

describe('scheduler', () => {
  const pods = (n: number): Pod[] => Array.from({ length: n }, (_, i) => appPod(`app-5f7d8c9b4-p${i}xz`));
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
