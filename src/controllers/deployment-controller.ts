// kube-controller-manager's deployment controller, watch-driven: Deployments, ReplicaSets and
// Pods come from shared informers. A Deployment is synced when it changes, when one of its
// ReplicaSets changes (their status is where the ReplicaSet controller reports its pods), and,
// under the Recreate strategy, when one of its pods is deleted (the new ReplicaSet waits for the
// old pods to be gone). A sync claims the ReplicaSets (adopting orphans its selector matches,
// releasing those that stopped matching), asks the pure planner (deployment-planner.ts) for the
// writes, and makes them: ReplicaSets `<deployment>-<pod-template-hash>` created, scaled, deleted
// beyond revisionHistoryLimit; the Deployment's status and revision annotation through /status;
// ScalingReplicaSet events. It never touches a pod: that is the ReplicaSet controller's work.
//
// Without a garbage collector (not yet in the lab), deleting a Deployment leaves its ReplicaSets
// and their pods: kube's collector deletes them because their ownerReferences name a Deployment
// that is gone (see registry-delete.ts).
import { Controller, type InformerFactory } from '../client/controller.ts';
import { EventRecorder } from '../client/events.ts';
import type { Informer } from '../client/informer.ts';
import { objectKey, type Client, type ResourceRef } from '../client/types.ts';
import { applyClaim, claim } from './controller-ref.ts';
import { failedCreate, isHashCollision, planDeployment, selectsEverything, type DeploymentStep, type PlannedEvent } from './deployment-planner.ts';
import { PODS, REPLICASETS, type WorkloadControllerOptions } from './replicaset-controller.ts';
import { controllerOf, errorMessage, isStatusError, newControllerRef, selectorOf, type DeploymentObj, type PodObj, type ReplicaSetObj } from './workloads.ts';

export const DEPLOYMENTS: ResourceRef = { group: 'apps', resource: 'deployments' };

/** A Deployment's selector as the ReplicaSet/pod lookup uses it: an empty selector matches nothing here. */
function matchesDeployment(d: DeploymentObj, labels: Record<string, string> | undefined): boolean {
  const sel = selectorOf(d.spec.selector);
  return sel !== 'nothing' && !sel.empty && sel.matches(labels);
}

export function deploymentController(factory: InformerFactory, client: Client, opts: WorkloadControllerOptions = {}): Controller {
  const now = opts.now ?? Date.now;
  const deployments = factory.informer<DeploymentObj>(DEPLOYMENTS);
  const replicaSets = factory.informer<ReplicaSetObj>(REPLICASETS);
  const pods = factory.informer<PodObj>(PODS);
  const recorder = new EventRecorder(client, { component: 'deployment-controller' }, { now, log: opts.log });

  const controller = new Controller({
    name: 'deployment-controller',
    workers: opts.workers,
    log: opts.log,
    sync: async (key) => {
      const d = deployments.get(key);
      if (!d) return;
      const ns = d.metadata.namespace;
      if (selectsEverything(d)) return carryOut(d, planDeployment({ deployment: d, replicaSets: [], podsByReplicaSet: new Map(), now: now() }).steps);
      const c = claim(d, (rs: ReplicaSetObj) => matchesDeployment(d, rs.metadata.labels), replicaSets.list().filter((rs) => rs.metadata.namespace === ns));
      const owned = await applyClaim(client, REPLICASETS, newControllerRef(d, 'apps/v1', 'Deployment'), c, async () => {
        const fresh = await client.get<DeploymentObj>(DEPLOYMENTS, ns, d.metadata.name);
        if (fresh.metadata.uid !== d.metadata.uid) throw new Error(`original Deployment ${key} is gone: got uid ${fresh.metadata.uid}, wanted ${d.metadata.uid}`);
        if (fresh.metadata.deletionTimestamp) throw new Error(`Deployment ${key} has just been deleted at ${fresh.metadata.deletionTimestamp}`);
      });
      const plan = planDeployment({ deployment: d, replicaSets: owned, podsByReplicaSet: podsByReplicaSet(d, owned), now: now() });
      await carryOut(d, plan.steps);
      if (plan.requeueAfterMs !== undefined) controller.queue.addAfter(key, plan.requeueAfterMs);
    },
  });

  /** getPodMapForDeployment: the Deployment's pods (matching, and controlled by one of its ReplicaSets) by ReplicaSet uid. */
  const podsByReplicaSet = (d: DeploymentObj, owned: ReplicaSetObj[]): Map<string, PodObj[]> => {
    const map = new Map<string, PodObj[]>(owned.map((rs) => [rs.metadata.uid!, []]));
    for (const p of pods.list()) {
      if (p.metadata.namespace !== d.metadata.namespace || !matchesDeployment(d, p.metadata.labels)) continue;
      map.get(controllerOf(p)?.uid ?? '')?.push(p);
    }
    return map;
  };

  const event = (d: DeploymentObj, e: PlannedEvent | undefined) => (e ? recorder.event(d, e.type, e.reason, e.message) : undefined);

  /** The plan's writes in order; each ReplicaSet and the Deployment written with the version the last write returned. */
  const carryOut = async (d: DeploymentObj, steps: DeploymentStep[]): Promise<void> => {
    let deploymentVersion = d.metadata.resourceVersion;
    const written = new Map<string, ReplicaSetObj>();
    const writeStatus = async (next: DeploymentObj) => {
      const out = await client.update<DeploymentObj>(DEPLOYMENTS, { ...next, metadata: { ...next.metadata, resourceVersion: deploymentVersion } }, { subresource: 'status' });
      deploymentVersion = out.metadata.resourceVersion;
    };
    for (const step of steps) {
      if (step.op === 'createReplicaSet') {
        try {
          written.set(step.rs.metadata.name, await client.create<ReplicaSetObj>(REPLICASETS, step.rs));
        } catch (e) {
          await createFailed(d, step.rs, e, writeStatus);
          throw e;
        }
        await event(d, step.event);
      } else if (step.op === 'updateReplicaSet') {
        const known = written.get(step.rs.metadata.name);
        const body = known ? { ...step.rs, metadata: { ...step.rs.metadata, uid: known.metadata.uid, resourceVersion: known.metadata.resourceVersion } } : step.rs;
        written.set(step.rs.metadata.name, await client.update<ReplicaSetObj>(REPLICASETS, body));
        await event(d, step.event);
      } else if (step.op === 'deleteReplicaSet') {
        await client.delete(REPLICASETS, step.rs.metadata.namespace, step.rs.metadata.name).catch((e: unknown) => {
          if (!isStatusError(e, 404)) throw e;
        });
      } else if (step.op === 'updateStatus') {
        await writeStatus(step.deployment);
      } else {
        await event(d, step.event);
      }
    }
  };

  /**
   * The new ReplicaSet's create was refused. AlreadyExists: if the one there is not this
   * Deployment's with its template, the hash collided with another's and collisionCount goes up
   * (the next sync hashes anew); if it is ours, the cache was behind and the next sync finds it.
   * Anything else: Progressing False (ReplicaSetCreateError) and a Warning event.
   */
  const createFailed = async (d: DeploymentObj, rs: ReplicaSetObj, e: unknown, writeStatus: (d: DeploymentObj) => Promise<void>) => {
    if (isStatusError(e, 409, 'AlreadyExists')) {
      const existing = await client.get<ReplicaSetObj>(REPLICASETS, rs.metadata.namespace, rs.metadata.name).catch(() => undefined);
      if (existing && isHashCollision(d, existing)) {
        opts.log?.(`deployment-controller: hash collision for ${objectKey(d)} (${rs.metadata.name}); collisionCount ${(d.status?.collisionCount ?? 0) + 1}`);
        await writeStatus({ ...d, status: { ...d.status, collisionCount: (d.status?.collisionCount ?? 0) + 1 } });
      }
      return;
    }
    if (errorMessage(e).includes('because it is being terminated')) return;
    const { status, event: ev } = failedCreate(d, rs.metadata.name, errorMessage(e), now());
    if (status) await writeStatus(status).catch(() => undefined);
    await event(d, ev);
  };

  wireDeploymentHandlers(controller, deployments, replicaSets, pods);
  return controller;
}

function wireDeploymentHandlers(controller: Controller, deployments: Informer<DeploymentObj>, replicaSets: Informer<ReplicaSetObj>, pods: Informer<PodObj>): void {
  const enqueue = (key: string | undefined) => key && controller.queue.add(key);
  deployments.addHandlers({ add: (d) => enqueue(objectKey(d)), update: (_o, d) => enqueue(objectKey(d)), delete: (d) => enqueue(objectKey(d)) });

  /** The Deployment a controller reference names, if it exists with that uid. */
  const ownerKey = (o: ReplicaSetObj): string | undefined => {
    const ref = controllerOf(o);
    if (!ref || ref.kind !== 'Deployment') return undefined;
    const key = `${o.metadata.namespace}/${ref.name}`;
    return deployments.get(key)?.metadata.uid === ref.uid ? key : undefined;
  };
  /** getDeploymentsForReplicaSet: the Deployments that would adopt an orphan. */
  const matching = (rs: ReplicaSetObj) => deployments.list().filter((d) => d.metadata.namespace === rs.metadata.namespace && matchesDeployment(d, rs.metadata.labels)).map((d) => objectKey(d));
  replicaSets.addHandlers({
    add: (rs) => {
      if (controllerOf(rs)) return enqueue(ownerKey(rs));
      for (const key of matching(rs)) enqueue(key);
    },
    update: (old, rs) => {
      const oldRef = controllerOf(old);
      const ref = controllerOf(rs);
      if (oldRef && oldRef.uid !== ref?.uid) enqueue(ownerKey(old));
      if (ref) return enqueue(ownerKey(rs));
      if (oldRef || JSON.stringify(old.metadata.labels ?? {}) !== JSON.stringify(rs.metadata.labels ?? {})) for (const key of matching(rs)) enqueue(key);
    },
    delete: (rs) => enqueue(ownerKey(rs)),
  });

  // Recreate waits for the old pods to be gone: the last one's deletion syncs the Deployment.
  pods.addHandlers({
    delete: (pod) => {
      const rsRef = controllerOf(pod);
      const rs = rsRef?.kind === 'ReplicaSet' ? replicaSets.get(`${pod.metadata.namespace}/${rsRef.name}`) : undefined;
      const key = rs && rs.metadata.uid === rsRef?.uid ? ownerKey(rs) : undefined;
      const d = key ? deployments.get(key) : undefined;
      if (!d || d.spec.strategy?.type !== 'Recreate') return;
      const theirs = new Set(replicaSets.list().filter((r) => controllerOf(r)?.uid === d.metadata.uid).map((r) => r.metadata.uid));
      if (!pods.list().some((p) => theirs.has(controllerOf(p)?.uid))) enqueue(key);
    },
  });
}
