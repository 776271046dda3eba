// One task at a time, in the order given: the controller's work queue, kube-proxy's syncs, nginx
// reloads, the DNS pod's snapshot loads.

const settled = () => undefined;

/**
 * Runs tasks one after another. A task that fails rejects its own promise and nothing else: the
 * next task runs as usual. The queue never swallows an error, so whoever calls run() handles it;
 * `void queue.run(...)` of a task that can fail is an unhandled rejection. A task may queue more
 * tasks (they run after it) but must not wait for them: that would wait for itself.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private count = 0;

  run<T>(task: () => T | Promise<T>): Promise<T> {
    this.count++;
    const done = this.tail.then(() => task());
    this.tail = done.then(settled, settled);
    // The caller gets a promise of its own: the queue's handler on `done` does not mark it handled.
    return done.finally(() => this.count--);
  }

  /** Tasks queued or running. */
  get size(): number {
    return this.count;
  }

  /** Resolves once every task queued so far has finished, whatever its outcome. */
  idle(): Promise<void> {
    return this.tail.then(settled);
  }
}
