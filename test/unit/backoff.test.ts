import { describe, expect, it } from 'vitest';
import { restartDelay, shouldRestart, type BackoffState } from '../../src/kubelet/backoff.ts';

describe('kubelet restart backoff', () => {
  it('goes 0, 10, 20, 40 ... 300 s', () => {
    let s: BackoffState = { crashes: 0, lastStart: 0 };
    const delays: number[] = [];
    for (let i = 0; i < 8; i++) {
      const r = restartDelay(s, 1000);
      delays.push(r.delayMs / 1000);
      s = r.next;
    }
    expect(delays).toEqual([0, 10, 20, 40, 80, 160, 300, 300]);
  });
  it('resets after 10 minutes without a crash', () => {
    const s: BackoffState = { crashes: 5, lastStart: 0 };
    expect(restartDelay(s, 599_999).delayMs).toBe(160_000);
    expect(restartDelay(s, 600_000).delayMs).toBe(0);
  });
  it('follows restartPolicy', () => {
    expect(shouldRestart('Always', 0)).toBe(true);
    expect(shouldRestart('OnFailure', 0)).toBe(false);
    expect(shouldRestart('OnFailure', 139)).toBe(true);
    expect(shouldRestart('Never', 1)).toBe(false);
  });
});
