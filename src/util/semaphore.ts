// At most `limit` tasks at a time; the others wait their turn in order. The kubelet starts
// containers through it: runc's start-up is CPU-bound, and a hundred at once on two cores only
// makes every one of them late (past runc's start deadline at 500).
export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly limit: number) {
    if (!(limit >= 1)) throw new Error(`semaphore limit must be at least 1, not ${limit}`);
  }

  /** Runs `task` once fewer than `limit` others run. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next(); // the slot passes straight to the next waiter
      else this.active--;
    }
  }
}
