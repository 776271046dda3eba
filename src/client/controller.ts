// The shape of every controller, as client-go's: shared informers feed a work queue with keys,
// workers sync one key at a time from the informers' caches, and a failed sync comes back after
// its backoff. A controller never lists the API itself: what it reads is the cache; what it
// writes goes through the client, and comes back to it as an event.
import { Informer } from './informer.ts';
import { objectKey, type KubeObject, type ListWatch } from './types.ts';
import { runWorkers, WorkQueue } from './workqueue.ts';

/** One informer per resource (and selector) for all controllers of a process: SharedInformerFactory. */
export class InformerFactory {
  private readonly informers = new Map<string, Informer<KubeObject>>();
  private started = false;

  constructor(
    private readonly listWatch: (resource: { group: string; resource: string }, sel: { namespace?: string; labelSelector?: string; fieldSelector?: string }) => ListWatch<KubeObject>,
    private readonly log?: (line: string) => void,
  ) {}

  informer<T extends KubeObject>(resource: { group: string; resource: string }, sel: { namespace?: string; labelSelector?: string; fieldSelector?: string } = {}): Informer<T> {
    const key = JSON.stringify([resource.group, resource.resource, sel.namespace ?? '', sel.labelSelector ?? '', sel.fieldSelector ?? '']);
    let inf = this.informers.get(key);
    if (!inf) {
      inf = new Informer(this.listWatch(resource, sel), { name: resource.resource, log: this.log });
      this.informers.set(key, inf);
      if (this.started) inf.start();
    }
    return inf as unknown as Informer<T>;
  }

  start(): void {
    this.started = true;
    for (const i of this.informers.values()) i.start();
  }

  async waitForSync(): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.waitForSync()));
  }

  stop(): void {
    this.started = false;
    for (const i of this.informers.values()) i.stop();
  }
}

export interface ControllerOptions {
  name: string;
  workers?: number;
  /** Brings the world in line with the cache for one key; throws to be retried after backoff. */
  sync(key: string): Promise<void>;
  log?: (line: string) => void;
}

export class Controller {
  readonly queue = new WorkQueue();
  private running: Promise<void> | null = null;

  constructor(private readonly opts: ControllerOptions) {}

  /** Every add, update and delete of the informer's objects queues the keys `keysOf` names. */
  watch<T extends KubeObject>(informer: Informer<T>, keysOf: (o: T) => string[] = (o) => [objectKey(o)]): this {
    const enqueue = (o: T) => {
      for (const k of keysOf(o)) this.queue.add(k);
    };
    informer.addHandlers({
      add: enqueue,
      update: (old, cur) => {
        enqueue(old);
        enqueue(cur);
      },
      delete: enqueue,
    });
    return this;
  }

  /** Starts the workers (the informers must have synced: a sync reads their caches). */
  run(): Promise<void> {
    this.running ??= runWorkers(this.queue, this.opts.workers ?? 1, (k) => this.opts.sync(k), (key, e) => this.opts.log?.(`${this.opts.name}: syncing ${key} failed: ${(e as Error)?.message ?? e}; retrying`));
    return this.running;
  }

  async stop(): Promise<void> {
    this.queue.shutDown();
    await this.running;
  }
}
