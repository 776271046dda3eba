// One piece of work that many changes ask for: a request while it runs asks for one more run
// after it (a burst of changes is at most two runs), and resolves when the run that covers it ends.
// The cluster DNS's publisher and the ingress controller sync this way.
export class Coalescer {
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;

  /** `work` must not throw: report its own failures (the next request tries again). */
  constructor(private readonly work: () => Promise<void>) {}

  request(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.work();
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** No more runs; resolves when the current one has ended. */
  stop(): Promise<void> {
    this.stopped = true;
    return this.running ?? Promise.resolve();
  }
}
