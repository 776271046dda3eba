import { describe, expect, it } from 'vitest';
import { convergence, deploymentsMissing, nodesWaiting, podWaiting, rolloutWaiting } from '../../src/client/converge.ts';

const deploy = (generation: number, replicas: number, status: Record<string, number>) => ({ metadata: { name: 'app2', namespace: 'default', generation }, spec: { replicas }, status });
const ready = { type: 'Ready', status: 'True' };

describe('rollout status, as kubectl words it', () => {
  it.each([
    [deploy(2, 3, { observedGeneration: 1, replicas: 3, updatedReplicas: 3, availableReplicas: 3 }), 'waiting for deployment spec update to be observed'],
    [deploy(2, 3, { observedGeneration: 2, replicas: 3, updatedReplicas: 1, availableReplicas: 1 }), '1 out of 3 new replicas have been updated'],
    [deploy(2, 3, { observedGeneration: 2, replicas: 4, updatedReplicas: 3, availableReplicas: 3 }), '1 old replicas are pending termination'],
    [deploy(2, 3, { observedGeneration: 2, replicas: 3, updatedReplicas: 3, availableReplicas: 2 }), '2 of 3 updated replicas are available'],
  ])('%#: %s', (d, text) => {
    expect(rolloutWaiting(d)).toBe(`deployment default/app2: ${text}`);
  });
  it('complete: nothing to wait for', () => {
    expect(rolloutWaiting(deploy(2, 3, { observedGeneration: 2, replicas: 3, updatedReplicas: 3, availableReplicas: 3 }))).toBeNull();
  });
  it('a Deployment scaled to zero with no status yet is complete once observed', () => {
    expect(rolloutWaiting(deploy(1, 0, { observedGeneration: 1 }))).toBeNull();
    expect(rolloutWaiting({ metadata: { name: 'x', namespace: 'd', generation: 1 }, spec: { replicas: 0 } })).toContain('spec update');
  });
});

describe('pods', () => {
  const pod = (extra: object) => ({ metadata: { name: 'p', namespace: 'default' }, ...extra });
  it('ready, terminating, unscheduled, waiting', () => {
    expect(podWaiting(pod({ spec: { nodeName: 'labs' }, status: { conditions: [ready] } }))).toBeNull();
    expect(podWaiting({ metadata: { name: 'p', namespace: 'default', deletionTimestamp: '2026-01-01T00:00:00Z' }, status: { conditions: [ready] } })).toBe('pod default/p: Terminating');
    expect(podWaiting(pod({ spec: {} }))).toBe('pod default/p: Pending (not scheduled)');
    expect(podWaiting(pod({ spec: { nodeName: 'labs' }, status: { phase: 'Pending', containerStatuses: [{ name: 'c', ready: false, state: { waiting: { reason: 'ErrImagePull', message: 'no such image' } } }] } }))).toBe('pod default/p: c: ErrImagePull (no such image)');
  });
  it('converged only when every Deployment and pod is', () => {
    const done = deploy(1, 1, { observedGeneration: 1, replicas: 1, updatedReplicas: 1, availableReplicas: 1 });
    expect(convergence([done], [pod({ spec: { nodeName: 'labs' }, status: { conditions: [ready] } })])).toEqual({ done: true, waiting: [], refused: [] });
    expect(convergence([done], [pod({ spec: {} })]).done).toBe(false);
  });
});

describe('a Deployment whose pods the API refuses', () => {
  const message = 'pods "web-5d4f8c7b9-abcde" is forbidden: violates PodSecurity "baseline:latest": hostPath volumes (volume "data")';
  const refused = {
    metadata: { name: 'web', namespace: 'default', generation: 1 },
    spec: { replicas: 1 },
    status: { observedGeneration: 1, replicas: 0, conditions: [{ type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message }] },
  };
  it('is named with the ReplicaFailure condition\'s reason and message, and listed as refused', () => {
    const c = convergence([refused], []);
    expect(c.done).toBe(false);
    expect(c.waiting).toEqual([`deployment default/web: FailedCreate: ${message}`]);
    expect(c.refused).toEqual(c.waiting);
  });
  it('a cleared condition (status False) is an ordinary rollout again', () => {
    const cleared = { ...refused, status: { ...refused.status, conditions: [{ ...refused.status.conditions[0]!, status: 'False' }] } };
    expect(convergence([cleared], []).refused).toEqual([]);
    expect(rolloutWaiting(cleared)).toBe('deployment default/web: 0 out of 1 new replicas have been updated');
  });
});

describe('nodes: what the scheduler needs to see before the workloads are applied', () => {
  const node = (name: string, o: { podCIDR?: string; ready?: string; taints?: { key: string; effect: string }[] } = {}) => ({
    metadata: { name },
    spec: { podCIDR: 'podCIDR' in o ? o.podCIDR : '10.42.1.0/24', taints: o.taints },
    status: { conditions: [{ type: 'Ready', status: o.ready ?? 'True' }] },
  });
  it('registered, podCIDR, Ready, without the not-ready or unreachable taint; a node not wanted is leaving', () => {
    expect(nodesWaiting([node('labs')], ['labs', 'labsw'])).toEqual(['node labsw: not registered yet']);
    expect(nodesWaiting([node('labs'), node('labsw', { podCIDR: undefined })], ['labs', 'labsw'])).toEqual(['node labsw: no podCIDR yet']);
    expect(nodesWaiting([node('labs'), node('labsw', { ready: 'False' })], ['labs', 'labsw'])).toEqual(['node labsw: NotReady']);
    expect(nodesWaiting([node('labs'), node('labsw', { taints: [{ key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' }] })], ['labs', 'labsw'])).toEqual(['node labsw: tainted node.kubernetes.io/not-ready:NoSchedule']);
    expect(nodesWaiting([node('labs'), node('labsw', { taints: [{ key: 'dedicated', effect: 'NoSchedule' }] })], ['labs', 'labsw'])).toEqual([]);
    expect(nodesWaiting([node('labs'), node('labsw2')], ['labs'])).toEqual(['node labsw2: leaving the cluster']);
  });
  it('a Deployment of the state files the API does not hold yet is waited for', () => {
    const c = convergence([], [], deploymentsMissing([{ metadata: { name: 'app1', namespace: 'default' } }], ['default/app1', 'default/app2']));
    expect(c).toEqual({ done: false, waiting: ['deployment default/app2: not created yet'], refused: [] });
  });
  it('a Deployment the API holds as something else than the state files say is waited for too', () => {
    const d = (name: string, ok: boolean) => ({ metadata: { name, namespace: 'default', annotations: { ok: String(ok) } } });
    const why = (x: { metadata: { annotations?: Record<string, string> } }) => (x.metadata.annotations?.ok === 'true' ? null : 'not yet as the state files say');
    expect(deploymentsMissing([d('app1', true), d('app2', false)], ['default/app1', 'default/app2'], why)).toEqual(['deployment default/app2: not yet as the state files say']);
    expect(deploymentsMissing([d('app1', true), d('app2', true)], ['default/app1', 'default/app2'], why)).toEqual([]);
  });
});
