// A registry on an in-memory kine store with the deployment and replicaset controllers running on
// shared informers, as they run inside the server process; objects written and read through the
// in-process client. No kubelet and no scheduler: tests play the kubelet by writing pod status.
import { Registry, type RegistryOptions } from '../../src/api/server/registry.ts';
import { KineStore } from '../../src/api/storage/kine.ts';
import { Controller, InformerFactory } from '../../src/client/controller.ts';
import type { CoreEvent } from '../../src/client/events.ts';
import { LocalClient } from '../../src/client/local.ts';
import { deploymentController, DEPLOYMENTS } from '../../src/controllers/deployment-controller.ts';
import { PODS, REPLICASETS, replicaSetController } from '../../src/controllers/replicaset-controller.ts';
import type { DeploymentObj, PodObj, ReplicaSetObj } from '../../src/controllers/workloads.ts';

export { DEPLOYMENTS, PODS, REPLICASETS };
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

/** A Deployment as `kubectl apply` would send it once the API server has defaulted it: every field spelled out. */
export function deployment(name: string, replicas: number, over: Partial<DeploymentObj['spec']> = {}, image = 'busybox'): DeploymentObj {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'default' },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'httpd', image, command: ['httpd', '-f'] }], restartPolicy: 'Always', terminationGracePeriodSeconds: 30, dnsPolicy: 'ClusterFirst', schedulerName: 'default-scheduler' },
      },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 600,
      minReadySeconds: 0,
      ...over,
    },
  };
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
    if (opts.deployments !== false) c.controllers.push(deploymentController(c.factory, c.client, { log }));
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

  deployment(name: string): Promise<DeploymentObj> {
    return this.client.get<DeploymentObj>(DEPLOYMENTS, 'default', name);
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

  /** Changes the Deployment's spec (as kubectl apply/edit/patch would), returning the new object. */
  async editDeployment(name: string, change: (d: DeploymentObj) => void): Promise<DeploymentObj> {
    return this.client.mutate<DeploymentObj>(DEPLOYMENTS, 'default', name, (d) => {
      const next = structuredClone(d);
      change(next);
      return next;
    });
  }
}

export const ownedBy = (rs: { metadata: { uid?: string } }) => (p: PodObj) => p.metadata.ownerReferences?.some((r) => r.controller && r.uid === rs.metadata.uid) ?? false;
export const live = (p: PodObj) => !p.metadata.deletionTimestamp;
export const isReady = (p: PodObj) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
