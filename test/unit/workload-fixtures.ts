// A registry on an in-memory kine store with the replicaset controller running on
// shared informers, as they run inside the server process; objects written and read through the
// in-process client. No kubelet and no scheduler: tests play the kubelet by writing pod status.
import { Registry, type RegistryOptions } from '../../src/api/server/registry.ts';
import { KineStore } from '../../src/api/storage/kine.ts';
import { Controller, InformerFactory } from '../../src/client/controller.ts';
import type { CoreEvent } from '../../src/client/events.ts';
import { LocalClient } from '../../src/client/local.ts';
import { PODS, REPLICASETS, replicaSetController } from '../../src/controllers/replicaset-controller.ts';
import type { PodObj, ReplicaSetObj } from '../../src/controllers/workloads.ts';

export { PODS, REPLICASETS };
export const EVENTS = { group: '', resource: 'events' };

export const SAFE = '[bcdfghjklmnpqrstvwxz2456789]';

export async function until<T>(what: string, get: () => Promise<T> | T, ok: (v: T) => boolean, ms = 4000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: last seen ${JSON.stringify(v, null, 1)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export class Cluster {
  readonly client: LocalClient;
  readonly factory: InformerFactory;
  readonly controllers: Controller[] = [];
  readonly log: string[] = [];

  constructor(registry: RegistryOptions = {}) {
    this.client = new LocalClient(new Registry(new KineStore(':memory:'), registry));
    this.factory = new InformerFactory((r, sel) => this.client.listWatch(r, sel));
  }

  static async start(opts: { deployments?: boolean; registry?: RegistryOptions } = {}): Promise<Cluster> {
    const c = new Cluster(opts.registry);
    await c.client.create({ group: '', resource: 'namespaces' }, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
    const log = (l: string) => c.log.push(l);
    c.controllers.push(replicaSetController(c.factory, c.client, { log }));
    c.factory.start();
    await c.factory.waitForSync();
    for (const ctl of c.controllers) void ctl.run();
    return c;
  }

  async stop(): Promise<void> {
    for (const ctl of this.controllers) await ctl.stop();
    this.factory.stop();
  }

  async replicaSets(): Promise<ReplicaSetObj[]> {
    return (await this.client.list<ReplicaSetObj>(REPLICASETS, { namespace: 'default' })).items;
  }

  async pods(): Promise<PodObj[]> {
    return (await this.client.list<PodObj>(PODS, { namespace: 'default' })).items;
  }

  async events(): Promise<CoreEvent[]> {
    return (await this.client.list<CoreEvent>(EVENTS, { namespace: 'default' })).items;
  }

  /** The kubelet's part: the pod Running, Ready as given. */
  async setReady(name: string, ready = true, since = new Date()): Promise<void> {
    await this.client.mutate<PodObj>(
      PODS,
      'default',
      name,
      (p) => ({ ...p, status: { ...p.status, phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: since.toISOString().replace(/\.\d+Z$/, 'Z') }] } }),
      { subresource: 'status' },
    );
  }
}

export const ownedBy = (rs: { metadata: { uid?: string } }) => (p: PodObj) => p.metadata.ownerReferences?.some((r) => r.controller && r.uid === rs.metadata.uid) ?? false;
export const live = (p: PodObj) => !p.metadata.deletionTimestamp;
export const isReady = (p: PodObj) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
