import { describe, expect, it } from 'vitest';
import type { ApiObject } from '../../src/api/convert.ts';
import { labEventFromApi, owningDeployment, podStatusFromApi } from '../../src/trace/api-view.ts';

describe('the API seen in the state file\'s shape', () => {
  it('a pod status, with the pid of each running container found by its containerID', () => {
    const id = 'a'.repeat(64);
    const s = podStatusFromApi(
      {
        phase: 'Running',
        podIP: '10.42.0.7',
        hostIP: '192.168.56.110',
        startTime: '2026-11-28T10:00:00Z',
        conditions: [{ type: 'Ready', status: 'True' }, { type: 'PodReadyToStartContainers', status: 'True' }],
        containerStatuses: [
          { name: 'web', ready: true, started: true, restartCount: 2, containerID: `runc://${id}`, state: { running: { startedAt: '2026-11-28T10:00:01Z' } }, lastState: {} },
          { name: 'side', ready: false, restartCount: 0, containerID: `runc://${'b'.repeat(64)}`, state: { waiting: { reason: 'CrashLoopBackOff' } } },
        ],
      },
      new Map([[id, 4242], ['b'.repeat(64), 99]]),
    );
    expect(s.conditions).toEqual([{ type: 'Ready', status: 'True' }]);
    expect(s.containerStatuses[0]).toMatchObject({ name: 'web', pid: 4242, restartCount: 2, ready: true });
    expect(s.containerStatuses[0]).not.toHaveProperty('lastState');
    // Not running: no pid, even if the runtime still lists an id.
    expect(s.containerStatuses[1]).not.toHaveProperty('pid');
    expect(podStatusFromApi(undefined, new Map())).toEqual({ phase: 'Pending', conditions: [], containerStatuses: [] });
  });
  it('an Event as lab events lists it', () => {
    expect(labEventFromApi({ metadata: { creationTimestamp: 'x' }, involvedObject: { kind: 'Pod', name: 'app2-x' }, reason: 'BackOff', type: 'Warning', message: 'm', lastTimestamp: '2026-11-28T10:00:00Z' })).toEqual({ time: '2026-11-28T10:00:00Z', type: 'Warning', reason: 'BackOff', object: 'pod/app2-x', message: 'm' });
  });
  it('the Deployment owning a pod, through its controlling ReplicaSet matched by uid', () => {
    const obj = (kind: string, name: string, uid: string, owner?: { kind: string; name: string; uid: string }, ns = 'kube-system') =>
      ({ apiVersion: 'v1', kind, metadata: { name, namespace: ns, uid, ...(owner ? { ownerReferences: [{ apiVersion: 'apps/v1', ...owner, controller: true }] } : {}) } }) as unknown as ApiObject;
    const rs = obj('ReplicaSet', 'ingress-nginx-controller-5f', 'rs-1', { kind: 'Deployment', name: 'ingress-nginx-controller', uid: 'd-1' });
    expect(owningDeployment(obj('Pod', 'p', 'p-1', { kind: 'ReplicaSet', name: 'ingress-nginx-controller-5f', uid: 'rs-1' }), [rs])).toBe('ingress-nginx-controller');
    // A reference by name only, with another uid: not that ReplicaSet.
    expect(owningDeployment(obj('Pod', 'p', 'p-2', { kind: 'ReplicaSet', name: 'ingress-nginx-controller-5f', uid: 'forged' }), [rs])).toBeUndefined();
    // Another namespace, a bare pod: no owner.
    expect(owningDeployment(obj('Pod', 'p', 'p-3', { kind: 'ReplicaSet', name: 'ingress-nginx-controller-5f', uid: 'rs-1' }, 'default'), [rs])).toBeUndefined();
    expect(owningDeployment(obj('Pod', 'p', 'p-4'), [rs])).toBeUndefined();
  });
});
