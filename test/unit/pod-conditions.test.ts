import { describe, expect, it } from 'vitest';
import { updatePodCondition } from '../../src/api/pod-conditions.ts';

const ready = { type: 'Ready', status: 'True', lastProbeTime: null, lastTransitionTime: 't0' };

describe('updatePodCondition (podutil.UpdatePodCondition)', () => {
  it('adds a condition of a new type after the others', () => {
    expect(updatePodCondition([ready], { type: 'PodScheduled', status: 'True', lastTransitionTime: 't1' })).toEqual([ready, { type: 'PodScheduled', status: 'True', lastTransitionTime: 't1' }]);
  });
  it('changes nothing for an equal condition (status, reason, message): undefined', () => {
    expect(updatePodCondition([ready], { ...ready, lastTransitionTime: 't9' })).toBeUndefined();
  });
  it('keeps the transition time when only the reason or message changes', () => {
    const next = updatePodCondition([{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: 'a', lastTransitionTime: 't0' }], { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: 'b', lastTransitionTime: 't1' });
    expect(next).toEqual([{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: 'b', lastTransitionTime: 't0' }]);
  });
  it('moves the transition time when the status changes, in place', () => {
    const next = updatePodCondition([{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', lastTransitionTime: 't0' }, ready], { type: 'PodScheduled', status: 'True', lastTransitionTime: 't1' });
    expect(next).toEqual([{ type: 'PodScheduled', status: 'True', lastTransitionTime: 't1' }, ready]);
  });
});
