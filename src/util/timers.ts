// Timers for delays that come from a manifest or a computation (probe periods, initial delays and
// timeouts, restart backoff). Node's timers hold at most 2^31-1 ms (about 24.8 days); a longer
// delay is replaced by 1 ms with a TimeoutOverflowWarning, so a probe with periodSeconds of 30
// days (valid Kubernetes) would run every millisecond. Every such delay goes through here.

/** The longest delay a Node timer takes (2^31-1 ms, about 24.8 days). */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/** A delay one Node timer can hold: NaN and negatives become 0, anything longer the maximum. */
export function clampDelay(ms: number): number {
  if (!(ms > 0)) return 0;
  return Math.min(ms, MAX_TIMER_DELAY_MS);
}

export interface LongTimer {
  clear(): void;
}

/**
 * setTimeout for a delay of any length: arms Node's timer with at most MAX_TIMER_DELAY_MS and
 * re-arms it until the whole delay has passed. `unref`: the timer does not keep the process alive.
 */
export function setLongTimeout(fn: () => void, ms: number, opts: { unref?: boolean } = {}): LongTimer {
  let remaining = ms > 0 ? ms : 0;
  let handle: NodeJS.Timeout | null = null;
  const arm = () => {
    const chunk = clampDelay(remaining);
    remaining -= chunk;
    handle = setTimeout(() => (remaining > 0 ? arm() : fn()), chunk);
    if (opts.unref) handle.unref();
  };
  arm();
  return {
    clear: () => {
      if (handle) clearTimeout(handle);
      handle = null;
      remaining = 0;
    },
  };
}

/** Resolves after `ms` (of any length), or at once when `signal` aborts. Unref'd when asked. */
export function sleep(ms: number, opts: { unref?: boolean; signal?: AbortSignal } = {}): Promise<void> {
  return new Promise((resolve) => {
    if (opts.signal?.aborted) return resolve();
    const done = () => {
      timer.clear();
      opts.signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setLongTimeout(done, ms, { unref: opts.unref ?? false });
    opts.signal?.addEventListener('abort', done, { once: true });
  });
}
