// Timers for delays from manifests and backoff (src/util/timers.ts): Node's timers overflow above
// 2^31-1 ms and fire after 1 ms instead; these clamp and re-arm, so a long delay waits.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { clampDelay, MAX_TIMER_DELAY_MS, setLongTimeout, sleep } from '../../src/util/timers.ts';

const DAY = 86_400_000;

describe('clampDelay', () => {
  it('keeps what a Node timer can hold, clamps the rest', () => {
    expect(MAX_TIMER_DELAY_MS).toBe(2_147_483_647);
    expect(clampDelay(100)).toBe(100);
    expect(clampDelay(MAX_TIMER_DELAY_MS)).toBe(MAX_TIMER_DELAY_MS);
    expect(clampDelay(30 * DAY)).toBe(MAX_TIMER_DELAY_MS);
    expect(clampDelay(Number.POSITIVE_INFINITY)).toBe(MAX_TIMER_DELAY_MS);
    expect(clampDelay(-5)).toBe(0);
    expect(clampDelay(Number.NaN)).toBe(0);
  });
});

describe('setLongTimeout and sleep (fake clock)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('waits the whole of a 30-day delay, re-arming past the 24.8-day limit, and fires once', async () => {
    const fn = vi.fn();
    setLongTimeout(fn, 30 * DAY);
    await vi.advanceTimersByTimeAsync(1000);
    expect(fn).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(25 * DAY);
    expect(fn).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(5 * DAY - 1001);
    expect(fn).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(fn).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(60 * DAY);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('a year (the schema maximum) waits a year', async () => {
    const fn = vi.fn();
    setLongTimeout(fn, 365 * DAY);
    await vi.advanceTimersByTimeAsync(365 * DAY - 1);
    expect(fn).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('clear() cancels, also after a re-arm', async () => {
    const fn = vi.fn();
    const t = setLongTimeout(fn, 60 * DAY);
    await vi.advanceTimersByTimeAsync(30 * DAY);
    t.clear();
    await vi.advanceTimersByTimeAsync(60 * DAY);
    expect(fn).not.toHaveBeenCalled();
  });

  it('a negative or NaN delay fires on the next tick', async () => {
    const fn = vi.fn();
    setLongTimeout(fn, -1);
    setLongTimeout(fn, Number.NaN);
    await vi.advanceTimersByTimeAsync(0);
    expect(fn).toHaveBeenCalledTimes(2);
  });

  it('sleep resolves after the delay, or at once when aborted', async () => {
    let done = false;
    void sleep(40 * DAY).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(39 * DAY);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(DAY);
    expect(done).toBe(true);

    const ac = new AbortController();
    let aborted = false;
    void sleep(40 * DAY, { signal: ac.signal }).then(() => (aborted = true));
    await vi.advanceTimersByTimeAsync(1000);
    expect(aborted).toBe(false);
    ac.abort();
    await vi.advanceTimersByTimeAsync(0);
    expect(aborted).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });
});
