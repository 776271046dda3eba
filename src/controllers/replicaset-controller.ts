// kube-controller-manager's ReplicaSet controller, watch-driven: ReplicaSets and Pods come from
// shared informers; a change queues the ReplicaSet it concerns (a pod's controller, or for an
// orphan every ReplicaSet whose selector matches it); a sync claims the pods (adopting orphans,
// releasing pods that stopped matching), creates or deletes pods as the planner says, and writes
// the ReplicaSet's status. Pods are created with generateName `<replicaset>-`: the API server
// picks the 5 random characters, so a Deployment's pods are `<deployment>-<hash>-<5 chars>`.
// Creates go in slow-start batches and stop at the first refusal (a Warning FailedCreate event
// "Error creating: <the API's message>" and the ReplicaFailure condition).
//
// Expectations (ControllerExpectations): after creating n pods the controller does not act on the
// ReplicaSet again until its informer has seen those n pods (or 5 minutes have passed), so a cache
// that lags behind its own writes (the HTTPS client's) never makes it create twice.
import { Controller, type InformerFactory } from '../client/controller.ts';
import { EventRecorder } from '../client/events.ts';
import type { Informer } from '../client/informer.ts';
import { objectKey, type Client, type ResourceRef } from '../client/types.ts';
import { applyClaim, claim } from './controller-ref.ts';
import { minReadyRequeueMs, planReplicas, podFromTemplate, replicaSetStatus, slowStartBatches, statusNeedsWrite } from './replicaset-planner.ts';
import { controllerOf, errorMessage, isPodActive, isStatusError, newControllerRef, selectorOf, selects, type PodObj, type ReplicaSetObj } from './workloads.ts';

export const REPLICASETS: ResourceRef = { group: 'apps', resource: 'replicasets' };
export const PODS: ResourceRef = { group: '', resource: 'pods' };
const EXPECTATIONS_TTL_MS = 5 * 60_000;

/** UIDTrackingControllerExpectations, small: creates to see, and the pods whose deletion is awaited. */
class Expectations {
  private readonly byKey = new Map<string, { add: number; del: Set<string>; at: number }>();
  constructor(private readonly now: () => number) {}
  expect(key: string, add: number, del: string[]): void {
    this.byKey.set(key, { add, del: new Set(del), at: this.now() });
  }
  creationObserved(key: string): void {
    const e = this.byKey.get(key);
    if (e) e.add--;
  }
  deletionObserved(key: string, pod: string): void {
    this.byKey.get(key)?.del.delete(pod);
  }
  satisfied(key: string): boolean {
    const e = this.byKey.get(key);
    return !e || (e.add <= 0 && e.del.size === 0) || this.now() - e.at > EXPECTATIONS_TTL_MS;
  }
  forget(key: string): void {
    this.byKey.delete(key);
  }
}

export interface WorkloadControllerOptions {
  log?: (line: string) => void;
  now?: () => number;
  workers?: number;
}

export function replicaSetController(factory: InformerFactory, client: Client, opts: WorkloadControllerOptions = {}): Controller {
  const now = opts.now ?? Date.now;
  const replicaSets = factory.informer<ReplicaSetObj>(REPLICASETS);
  const pods = factory.informer<PodObj>(PODS);
  const recorder = new EventRecorder(client, { component: 'replicaset-controller' }, { now, log: opts.log });
  const expectations = new Expectations(now);

  const controller = new Controller({
    name: 'replicaset-controller',
    workers: opts.workers,
    log: opts.log,
    sync: async (key) => {
      const rs = replicaSets.get(key);
      if (!rs) return expectations.forget(key);
      const needsSync = expectations.satisfied(key);
      const selector = selectorOf(rs.spec.selector);
      const inNamespace = pods.list().filter((p) => p.metadata.namespace === rs.metadata.namespace);
      const active = inNamespace.filter(isPodActive);
      const c = claim(rs, (p: PodObj) => selects(selector, p.metadata.labels), active);
      const owned = await applyClaim(client, PODS, newControllerRef(rs, 'apps/v1', 'ReplicaSet'), c, async () => {
        const fresh = await client.get<ReplicaSetObj>(REPLICASETS, rs.metadata.namespace, rs.metadata.name);
        if (fresh.metadata.uid !== rs.metadata.uid) throw new Error(`original ReplicaSet ${key} is gone: got uid ${fresh.metadata.uid}, wanted ${rs.metadata.uid}`);
        if (fresh.metadata.deletionTimestamp) throw new Error(`ReplicaSet ${key} has just been deleted at ${fresh.metadata.deletionTimestamp}`);
      });
      let manageError: unknown;
      if (needsSync && !rs.metadata.deletionTimestamp) {
        manageError = await manageReplicas(rs, owned, siblingPods(rs, inNamespace)).then(
          () => undefined,
          (e: unknown) => e ?? new Error('failed'),
        );
      }
      const status = replicaSetStatus(rs, owned, manageError === undefined ? undefined : errorMessage(manageError), now());
      if (statusNeedsWrite(rs, status)) {
        await client.update<ReplicaSetObj>(REPLICASETS, { ...rs, status: { ...status, observedGeneration: rs.metadata.generation } }, { subresource: 'status' });
      }
      const after = manageError === undefined ? minReadyRequeueMs(rs, status) : undefined;
      if (after !== undefined) controller.queue.addAfter(key, after);
      if (manageError !== undefined) throw manageError;
    },
  });

  /** Pods of the ReplicaSets that share this one's controller (its Deployment's other revisions). */
  const siblingPods = (rs: ReplicaSetObj, inNamespace: PodObj[]): PodObj[] => {
    const owner = controllerOf(rs);
    if (!owner) return inNamespace.filter((p) => controllerOf(p)?.uid === rs.metadata.uid);
    const siblings = new Set(replicaSets.list().filter((r) => controllerOf(r)?.uid === owner.uid).map((r) => r.metadata.uid));
    return inNamespace.filter((p) => siblings.has(controllerOf(p)?.uid));
  };

  const manageReplicas = async (rs: ReplicaSetObj, owned: PodObj[], related: PodObj[]): Promise<void> => {
    const key = objectKey(rs);
    const plan = planReplicas(rs, owned, related);
    if (plan.create > 0) {
      expectations.expect(key, plan.create, []);
      let created = 0;
      let failure: unknown;
      for (const size of slowStartBatches(plan.create)) {
        const results = await Promise.allSettled(Array.from({ length: size }, () => createPod(rs)));
        created += results.filter((r) => r.status === 'fulfilled').length;
        failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')?.reason;
        if (failure !== undefined) break;
      }
      // Creates never made will never be observed.
      for (let i = created; i < plan.create; i++) expectations.creationObserved(key);
      if (failure !== undefined) throw failure;
    } else if (plan.delete.length > 0) {
      expectations.expect(key, 0, plan.delete.map((p) => objectKey(p)));
      const results = await Promise.allSettled(plan.delete.map((p) => deletePod(rs, p)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected' && !isStatusError(r.reason, 404));
      if (failed) throw failed.reason;
    }
  };

  const createPod = async (rs: ReplicaSetObj): Promise<void> => {
    const pod = podFromTemplate(rs);
    if (!Object.keys(pod.metadata.labels ?? {}).length) throw new Error('unable to create pods, no labels');
    try {
      const created = await client.create<PodObj>(PODS, pod);
      await recorder.event(rs, 'Normal', 'SuccessfulCreate', `Created pod: ${created.metadata.name}`);
    } catch (e) {
      // A namespace being deleted refuses every create; kube says nothing about those.
      if (!errorMessage(e).includes('because it is being terminated')) await recorder.event(rs, 'Warning', 'FailedCreate', `Error creating: ${errorMessage(e)}`);
      throw e;
    }
  };

  const deletePod = async (rs: ReplicaSetObj, pod: PodObj): Promise<void> => {
    const key = objectKey(rs);
    try {
      await client.delete(PODS, pod.metadata.namespace, pod.metadata.name);
      await recorder.event(rs, 'Normal', 'SuccessfulDelete', `Deleted pod: ${pod.metadata.name}`);
    } catch (e) {
      // Not deleted by us, so never observed: stop waiting for it.
      expectations.deletionObserved(key, objectKey(pod));
      if (!isStatusError(e, 404)) await recorder.event(rs, 'Warning', 'FailedDelete', `Error deleting: ${errorMessage(e)}`);
      throw e;
    }
  };

  wireReplicaSetHandlers(controller, replicaSets, pods, expectations);
  return controller;
}

/** The event handlers (addPod, updatePod, deletePod; every ReplicaSet change queues itself). */
function wireReplicaSetHandlers(controller: Controller, replicaSets: Informer<ReplicaSetObj>, pods: Informer<PodObj>, expectations: Expectations): void {
  const enqueue = (key: string) => controller.queue.add(key);
  replicaSets.addHandlers({
    add: (rs) => enqueue(objectKey(rs)),
    update: (_old, rs) => enqueue(objectKey(rs)),
    delete: (rs) => {
      expectations.forget(objectKey(rs));
      enqueue(objectKey(rs));
    },
  });
  /** The ReplicaSet a pod's controller reference names, if it exists with that uid. */
  const ownerKey = (pod: PodObj): string | undefined => {
    const ref = controllerOf(pod);
    if (!ref || ref.kind !== 'ReplicaSet') return undefined;
    const key = `${pod.metadata.namespace}/${ref.name}`;
    return replicaSets.get(key)?.metadata.uid === ref.uid ? key : undefined;
  };
  /** An orphan: every ReplicaSet in its namespace that would adopt it. */
  const matching = (pod: PodObj) =>
    replicaSets
      .list()
      .filter((rs) => rs.metadata.namespace === pod.metadata.namespace && selects(selectorOf(rs.spec.selector), pod.metadata.labels))
      .map((rs) => objectKey(rs));
  const podGone = (pod: PodObj) => {
    const key = ownerKey(pod);
    if (!key) return;
    expectations.deletionObserved(key, objectKey(pod));
    enqueue(key);
  };
  pods.addHandlers({
    add: (pod) => {
      if (pod.metadata.deletionTimestamp) return podGone(pod);
      if (controllerOf(pod)) {
        const key = ownerKey(pod);
        if (key) {
          expectations.creationObserved(key);
          enqueue(key);
        }
        return;
      }
      for (const key of matching(pod)) enqueue(key);
    },
    update: (old, pod) => {
      // A graceful delete is an update that sets deletionTimestamp: the pod is gone for us now.
      if (pod.metadata.deletionTimestamp) return podGone(pod);
      const oldRef = controllerOf(old);
      const ref = controllerOf(pod);
      if (oldRef && oldRef.uid !== ref?.uid) {
        const key = ownerKey(old);
        if (key) enqueue(key);
      }
      if (ref) {
        const key = ownerKey(pod);
        if (key) enqueue(key);
        return;
      }
      if (JSON.stringify(old.metadata.labels ?? {}) !== JSON.stringify(pod.metadata.labels ?? {}) || oldRef) for (const key of matching(pod)) enqueue(key);
    },
    delete: podGone,
  });
}
