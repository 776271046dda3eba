// The kubelet's container restart backoff: 0 s for the first restart, then 10, 20, 40 ... capped
// at 300 s; a container that ran 10 minutes without crashing starts over at 0.
export const BACKOFF_INITIAL_MS = 10_000;
export const BACKOFF_MAX_MS = 300_000;
export const BACKOFF_RESET_MS = 600_000;

export interface BackoffState {
  /** Restarts counted towards the current backoff (reset after a long healthy run). */
  crashes: number;
  /** When the last container started (ms since epoch). */
  lastStart: number;
}

/** Delay before restarting a container that just exited at `now`. */
export function restartDelay(state: BackoffState, now: number): { delayMs: number; next: BackoffState } {
  const crashes = now - state.lastStart >= BACKOFF_RESET_MS ? 0 : state.crashes;
  const delayMs = crashes === 0 ? 0 : Math.min(BACKOFF_INITIAL_MS * 2 ** (crashes - 1), BACKOFF_MAX_MS);
  return { delayMs, next: { crashes: crashes + 1, lastStart: state.lastStart } };
}

/** restartPolicy: does a container that exited with `exitCode` get restarted? */
export function shouldRestart(policy: 'Always' | 'OnFailure' | 'Never', exitCode: number): boolean {
  return policy === 'Always' || (policy === 'OnFailure' && exitCode !== 0);
}
