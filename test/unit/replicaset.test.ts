import { describe, expect, it } from 'vitest';
import { podsToDelete } from '../../src/controllers/replicaset-planner.ts';
import type { PodObj } from '../../src/controllers/workloads.ts';

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
