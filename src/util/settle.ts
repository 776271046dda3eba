// Waits for files to settle before acting on them: editors write often (autosave, write-then-
// rename, truncate-then-write, several writes per save), and a file must never be read half-written.
//
// A change notice ("something in the directory changed", or a periodic poll) arms one check;
// notices while it is armed do not postpone it, so a busy directory cannot starve it. The check
// compares the files' stamp (size, mtime, inode) taken when it was armed with the stamp one quiet
// period later: different means still being written, so it waits another period. Once the stamp
// holds still and differs from the one last acted on, `apply` runs, one at a time; notices that
// arrive meanwhile lead to one more check after it. A burst of writes therefore ends in exactly
// one `apply` for the final content.

export interface SettleOptions {
  /** How long the stamp must hold still. */
  quietMs: number;
  /** A string that changes whenever the watched files change (e.g. mtime:size:inode of each). */
  stamp: () => Promise<string>;
  /** The stamp already acted on (the files as they were read at start). */
  applied: string;
  /** Acts on the files once they have settled on a new stamp. */
  apply: (stamp: string) => Promise<void>;
  /** An error of `stamp` or `apply` (the settler keeps going). */
  onError?: (e: unknown) => void;
}

export class Settler {
  private timer: NodeJS.Timeout | null = null;
  /** A check or an apply is running. */
  private busy = false;
  /** A notice arrived while busy: check again afterwards. */
  private again = false;
  private stopped = false;
  private applied: string;

  constructor(private readonly o: SettleOptions) {
    this.applied = o.applied;
  }

  /** Something may have changed. */
  notify(): void {
    if (this.stopped || this.timer) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    const before = this.o.stamp();
    before.catch(() => {}); // awaited by the check
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.check(before);
    }, this.o.quietMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private async check(before: Promise<string>): Promise<void> {
    this.busy = true;
    let settled = true;
    try {
      const [was, now] = [await before, await this.o.stamp()];
      if (this.stopped) return;
      if (now !== was) settled = false; // still being written: wait another quiet period
      else if (now !== this.applied) {
        this.applied = now;
        await this.o.apply(now);
      }
    } catch (e) {
      this.o.onError?.(e);
    } finally {
      this.busy = false;
    }
    if (!settled || this.again) {
      this.again = false;
      this.notify();
    }
  }
}
