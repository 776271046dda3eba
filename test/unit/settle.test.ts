// The state-file watch's settling (src/util/settle.ts): a burst of writes ends in exactly one
// apply of the final content, a file still being written is not read, and a busy directory
// cannot postpone the check forever.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Settler } from '../../src/util/settle.ts';

const QUIET = 100;

function setup(opts: { applyMs?: number } = {}) {
  let stamp = 's0';
  const applied: string[] = [];
  const settler = new Settler({
    quietMs: QUIET,
    stamp: () => Promise.resolve(stamp),
    applied: 's0',
    apply: async (s) => {
      applied.push(s);
      if (opts.applyMs) await new Promise((r) => setTimeout(r, opts.applyMs));
    },
  });
  return {
    settler,
    applied,
    write(s: string) {
      stamp = s;
      settler.notify();
    },
    setSilently(s: string) {
      stamp = s;
    },
  };
}

describe('Settler', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('applies one edit once, after the quiet period', async () => {
    const t = setup();
    t.write('s1');
    await vi.advanceTimersByTimeAsync(QUIET - 1);
    expect(t.applied).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.applied).toEqual(['s1']);
    t.settler.notify(); // the poll: nothing changed
    await vi.advanceTimersByTimeAsync(10 * QUIET);
    expect(t.applied).toEqual(['s1']);
  });

  it('a burst of writes every 20 ms ends in exactly one apply, of the final content', async () => {
    const t = setup();
    for (let i = 1; i <= 30; i++) {
      t.write(`s${i}`);
      await vi.advanceTimersByTimeAsync(20);
    }
    await vi.advanceTimersByTimeAsync(5 * QUIET);
    expect(t.applied).toEqual(['s30']);
  });

  it('a write in progress (the stamp still changing, with no notice: a poll-only filesystem) is not read until it holds still', async () => {
    const t = setup();
    t.write('truncated');
    await vi.advanceTimersByTimeAsync(QUIET / 2);
    t.setSilently('half');
    await vi.advanceTimersByTimeAsync(QUIET);
    expect(t.applied).toEqual([]); // changed between arm and check: wait another period
    t.setSilently('whole');
    await vi.advanceTimersByTimeAsync(QUIET);
    expect(t.applied).toEqual([]);
    await vi.advanceTimersByTimeAsync(2 * QUIET);
    expect(t.applied).toEqual(['whole']);
  });

  it('notices of other files every 10 ms do not postpone the check forever', async () => {
    const t = setup();
    t.write('s1');
    for (let i = 0; i < 30; i++) {
      t.settler.notify();
      await vi.advanceTimersByTimeAsync(10);
    }
    expect(t.applied).toEqual(['s1']);
  });

  it('edits during a slow apply (a reconcile) lead to one more apply, of the final content', async () => {
    const t = setup({ applyMs: 1000 });
    t.write('s1');
    await vi.advanceTimersByTimeAsync(QUIET);
    expect(t.applied).toEqual(['s1']);
    for (let i = 2; i <= 10; i++) {
      t.write(`s${i}`);
      await vi.advanceTimersByTimeAsync(50);
    }
    await vi.advanceTimersByTimeAsync(5000);
    expect(t.applied).toEqual(['s1', 's10']);
  });

  it('writing the applied content back is no change', async () => {
    const t = setup();
    t.write('s1');
    t.setSilently('s0');
    await vi.advanceTimersByTimeAsync(5 * QUIET);
    expect(t.applied).toEqual([]);
  });

  it('stop() ends it', async () => {
    const t = setup();
    t.write('s1');
    t.settler.stop();
    t.write('s2');
    await vi.advanceTimersByTimeAsync(5 * QUIET);
    expect(t.applied).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });
});
