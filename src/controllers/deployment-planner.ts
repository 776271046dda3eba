// kube-controller-manager's deployment controller as a pure planner (pkg/controller/deployment:
// syncDeployment, sync.go, rolling.go, recreate.go, progress.go): from one Deployment, the
// ReplicaSets it owns and their pods, the writes one sync makes, in kube's order. The planner
// works on copies and carries on as if each write succeeded, as kube carries on with what the API
// returned; the controller (deployment-controller.ts) makes the writes and stops at the first
// that fails (the Deployment is synced again after its backoff).
import { podTemplateHash, replicaSetName } from './podnames.ts';
import type { PodTemplateSpec } from '../api/types.ts';
import {
  byRevision,
  calculateStatus,
  deploymentComplete,
  deploymentProgressing,
  deploymentTimedOut,
  DESIRED_REPLICAS,
  findNewReplicaSet,
  getCondition,
  hasProgressDeadline,
  hasRevisionHistoryLimit,
  isRollingUpdate,
  isSaturated,
  maxRevision,
  maxSurge,
  maxUnavailable,
  newCondition,
  newRSNewReplicas,
  POD_TEMPLATE_HASH_LABEL,
  proportion,
  REASON,
  removeCondition,
  replicasAnnotationsNeedUpdate,
  REVISION,
  rsReplicas,
  sameStatus,
  setCondition,
  setNewReplicaSetAnnotations,
  setReplicasAnnotations,
  withDefaults,
} from './deployment-util.ts';
import { byCreation, newControllerRef, type DeploymentObj, type PodObj, type ReplicaSetObj } from './workloads.ts';

export interface PlannedEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export type DeploymentStep =
  /** Create the new ReplicaSet; then the event, if any. */
  | { op: 'createReplicaSet'; rs: ReplicaSetObj; event?: PlannedEvent }
  /** Update a ReplicaSet (spec.replicas, annotations, minReadySeconds); then the event, if any. */
  | { op: 'updateReplicaSet'; rs: ReplicaSetObj; event?: PlannedEvent }
  | { op: 'deleteReplicaSet'; rs: ReplicaSetObj }
  /** Write the Deployment's status (and its annotations: the revision) through /status. */
  | { op: 'updateStatus'; deployment: DeploymentObj }
  | { op: 'event'; event: PlannedEvent };

export interface DeploymentPlan {
  steps: DeploymentStep[];
  /** Sync again after this long (a progress deadline to check). */
  requeueAfterMs?: number;
}

export interface DeploymentInput {
  deployment: DeploymentObj;
  /** The ReplicaSets the Deployment owns (claimed). */
  replicaSets: ReplicaSetObj[];
  /** Their pods (any state, terminating included), by ReplicaSet uid: Recreate waits for the old ones to be gone. */
  podsByReplicaSet: Map<string, PodObj[]>;
  now: number;
}

const active = (rss: (ReplicaSetObj | undefined)[]) => rss.filter((rs): rs is ReplicaSetObj => rsReplicas(rs) > 0);
const present = (rss: (ReplicaSetObj | undefined)[]) => rss.filter((rs): rs is ReplicaSetObj => rs !== undefined);

class Sync {
  readonly steps: DeploymentStep[] = [];
  requeueAfterMs?: number;
  readonly d: DeploymentObj;
  /** The owned ReplicaSets as the writes so far left them. */
  private rsList: ReplicaSetObj[];

  constructor(private readonly input: DeploymentInput) {
    this.d = withDefaults(input.deployment);
    this.rsList = input.replicaSets.map((rs) => structuredClone(rs));
  }

  private get replicas(): number {
    return this.d.spec.replicas!;
  }

  private writeStatus(): void {
    this.steps.push({ op: 'updateStatus', deployment: structuredClone(this.d) });
  }

  private replace(rs: ReplicaSetObj): void {
    this.rsList = this.rsList.map((r) => (r.metadata.name === rs.metadata.name ? rs : r));
  }

  run(): void {
    const d = this.d;
    if (selectsEverything(d)) {
      this.steps.push({ op: 'event', event: { type: 'Warning', reason: 'SelectingAll', message: 'This deployment is selecting all pods. A non-empty selector is required.' } });
      if ((d.status?.observedGeneration ?? 0) < (d.metadata.generation ?? 0)) {
        d.status = { ...d.status, observedGeneration: d.metadata.generation };
        this.writeStatus();
      }
      return;
    }
    if (d.metadata.deletionTimestamp) return this.syncStatusOnly();
    this.checkPausedConditions();
    if (d.spec.paused) return this.sync();
    if (this.isScalingEvent()) return this.sync();
    return d.spec.strategy!.type === 'Recreate' ? this.rolloutRecreate() : this.rolloutRolling();
  }

  /** getAllReplicaSetsAndSyncRevision: the new ReplicaSet (made if `create`), and all the others. */
  private getAll(create: boolean): [ReplicaSetObj | undefined, ReplicaSetObj[]] {
    const existing = findNewReplicaSet(this.d, this.rsList);
    const old = this.rsList.filter((rs) => rs.metadata.name !== existing?.metadata.name);
    return [this.getNewReplicaSet(existing, old, create), old];
  }

  private getNewReplicaSet(existing: ReplicaSetObj | undefined, old: ReplicaSetObj[], create: boolean): ReplicaSetObj | undefined {
    const d = this.d;
    const newRevision = maxRevision(old) + 1;
    if (existing) {
      const rs = structuredClone(existing);
      const annotationsUpdated = setNewReplicaSetAnnotations(d, rs, newRevision, true);
      if (annotationsUpdated || (rs.spec.minReadySeconds ?? 0) !== d.spec.minReadySeconds) {
        rs.spec.minReadySeconds = d.spec.minReadySeconds;
        this.steps.push({ op: 'updateReplicaSet', rs: structuredClone(rs) });
        this.replace(rs);
        return rs;
      }
      let needsUpdate = this.setRevision(rs.metadata.annotations?.[REVISION] ?? '');
      if (hasProgressDeadline(d) && !getCondition(d.status, 'Progressing')) {
        setCondition((d.status ??= {}), newCondition('Progressing', 'True', REASON.foundNewRS, `Found new replica set "${rs.metadata.name}"`, this.input.now));
        needsUpdate = true;
      }
      if (needsUpdate) this.writeStatus();
      return rs;
    }
    if (!create) return undefined;
    const template = structuredClone(d.spec.template);
    const hash = podTemplateHash(template as unknown as PodTemplateSpec, d.status?.collisionCount ?? 0);
    template.metadata = { ...template.metadata, labels: { ...template.metadata?.labels, [POD_TEMPLATE_HASH_LABEL]: hash } };
    const selector = structuredClone(d.spec.selector ?? {});
    selector.matchLabels = { ...selector.matchLabels, [POD_TEMPLATE_HASH_LABEL]: hash };
    const rs: ReplicaSetObj = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: replicaSetName(d.metadata.name, hash),
        namespace: d.metadata.namespace,
        labels: { ...template.metadata.labels },
        ownerReferences: [newControllerRef(d, 'apps/v1', 'Deployment')],
      },
      spec: { replicas: 0, minReadySeconds: d.spec.minReadySeconds, selector, template },
    };
    rs.spec.replicas = newRSNewReplicas(d, [...old, rs], rs);
    setNewReplicaSetAnnotations(d, rs, newRevision, false);
    const n = rs.spec.replicas;
    this.steps.push({ op: 'createReplicaSet', rs: structuredClone(rs), event: n > 0 ? { type: 'Normal', reason: 'ScalingReplicaSet', message: `Scaled up replica set ${rs.metadata.name} from 0 to ${n}` } : undefined });
    this.rsList.push(rs);
    let needsUpdate = this.setRevision(String(newRevision));
    if (hasProgressDeadline(d)) {
      setCondition((d.status ??= {}), newCondition('Progressing', 'True', REASON.newReplicaSet, `Created new replica set "${rs.metadata.name}"`, this.input.now));
      needsUpdate = true;
    }
    if (needsUpdate) this.writeStatus();
    return rs;
  }

  /** SetDeploymentRevision. */
  private setRevision(revision: string): boolean {
    const a = (this.d.metadata.annotations ??= {});
    if (a[REVISION] === revision) return false;
    a[REVISION] = revision;
    return true;
  }

  private checkPausedConditions(): void {
    const d = this.d;
    if (!hasProgressDeadline(d)) return;
    const cond = getCondition(d.status, 'Progressing');
    if (cond?.reason === REASON.timedOut) return;
    const pausedCond = cond?.reason === REASON.paused;
    if (d.spec.paused && !pausedCond) setCondition((d.status ??= {}), newCondition('Progressing', 'Unknown', REASON.paused, 'Deployment is paused', this.input.now));
    else if (!d.spec.paused && pausedCond) setCondition((d.status ??= {}), newCondition('Progressing', 'Unknown', REASON.resumed, 'Deployment is resumed', this.input.now));
    else return;
    this.writeStatus();
  }

  /** isScalingEvent: an active ReplicaSet was made for another replica count than the Deployment's now. */
  private isScalingEvent(): boolean {
    const [newRS, old] = this.getAll(false);
    return active([...old, newRS]).some((rs) => {
      const desired = rs.metadata.annotations?.[DESIRED_REPLICAS];
      return desired !== undefined && /^-?\d+$/.test(desired) && Number(desired) !== this.replicas;
    });
  }

  /** sync: a scaling event or a paused Deployment: scale, no rollout. */
  private sync(): void {
    const [newRS, old] = this.getAll(false);
    this.scale(newRS, old);
    if (this.d.spec.paused) this.cleanup(old);
    this.syncStatus([...old, newRS], newRS);
  }

  private syncStatusOnly(): void {
    const [newRS, old] = this.getAll(false);
    this.syncStatus([...old, newRS], newRS);
  }

  /** scale: proportionally over the active ReplicaSets, so a rollout in progress keeps its proportions. */
  private scale(newRS: ReplicaSetObj | undefined, oldRSs: ReplicaSetObj[]): void {
    const d = this.d;
    const newestFirst = [...oldRSs].sort((a, b) => byCreation(b, a));
    const all = active([...newestFirst, newRS]);
    if (all.length <= 1) {
      const target = all[0] ?? newRS ?? newestFirst[0];
      if (target && rsReplicas(target) !== this.replicas) this.scaleAndRecord(target, this.replicas);
      return;
    }
    if (isSaturated(d, newRS)) {
      for (const o of active(oldRSs)) this.scaleAndRecord(o, 0);
      return;
    }
    if (!isRollingUpdate(d)) return;
    const current = all.reduce((n, rs) => n + rsReplicas(rs), 0);
    const allowed = this.replicas > 0 ? this.replicas + maxSurge(d) : 0;
    const toAdd = allowed - current;
    // Scaling up: bigger first, newer before older among equals; scaling down: bigger first, older before newer.
    const order = (a: ReplicaSetObj, b: ReplicaSetObj) => rsReplicas(b) - rsReplicas(a) || (toAdd > 0 ? byCreation(b, a) : byCreation(a, b));
    if (toAdd !== 0) all.sort(order);
    const op = toAdd > 0 ? 'up' : toAdd < 0 ? 'down' : '';
    let added = 0;
    const size = new Map<string, number>();
    for (const rs of all) {
      const p = toAdd !== 0 ? proportion(rs, d, toAdd, added) : 0;
      size.set(rs.metadata.name, rsReplicas(rs) + p);
      added += p;
    }
    all.forEach((rs, i) => {
      let n = size.get(rs.metadata.name)!;
      // What is left over goes to (or comes from) the biggest.
      if (i === 0 && toAdd !== 0) n = Math.max(0, n + toAdd - added);
      this.scaleReplicaSet(rs, n, op);
    });
  }

  private scaleAndRecord(rs: ReplicaSetObj, n: number): boolean {
    if (rsReplicas(rs) === n) return false;
    return this.scaleReplicaSet(rs, n, rsReplicas(rs) < n ? 'up' : 'down');
  }

  /** scaleReplicaSet: spec.replicas and the replicas annotations, with a ScalingReplicaSet event when the size changes. */
  private scaleReplicaSet(rs: ReplicaSetObj, n: number, op: string): boolean {
    const max = this.replicas + maxSurge(this.d);
    const sizeChanges = rsReplicas(rs) !== n;
    if (!sizeChanges && !replicasAnnotationsNeedUpdate(rs, this.replicas, max)) return false;
    const from = rsReplicas(rs);
    const next = structuredClone(rs);
    next.spec.replicas = n;
    setReplicasAnnotations(next, this.replicas, max);
    const event = sizeChanges ? { type: 'Normal' as const, reason: 'ScalingReplicaSet', message: `Scaled ${op} replica set ${rs.metadata.name} from ${from} to ${n}` } : undefined;
    this.steps.push({ op: 'updateReplicaSet', rs: structuredClone(next), event });
    Object.assign(rs, next); // the caller's copy follows the write, as kube uses the API's answer
    this.replace(next);
    return sizeChanges;
  }

  private rolloutRolling(): void {
    const [newRS, old] = this.getAll(true);
    const all = [...old, newRS!];
    if (this.reconcileNewReplicaSet(all, newRS!)) return this.syncRolloutStatus(all, newRS);
    if (this.reconcileOldReplicaSets(all, active(old), newRS!)) return this.syncRolloutStatus(all, newRS);
    if (deploymentComplete(this.d, this.d.status ?? {})) this.cleanup(old);
    this.syncRolloutStatus(all, newRS);
  }

  private reconcileNewReplicaSet(all: ReplicaSetObj[], newRS: ReplicaSetObj): boolean {
    if (rsReplicas(newRS) === this.replicas) return false;
    if (rsReplicas(newRS) > this.replicas) return this.scaleAndRecord(newRS, this.replicas);
    return this.scaleAndRecord(newRS, newRSNewReplicas(this.d, all, newRS));
  }

  /**
   * reconcileOldReplicaSets: scale old ReplicaSets down while replicas - maxUnavailable stay
   * available, counting the new ReplicaSet's unavailable pods against the budget; unhealthy old
   * replicas go first, they cost no availability.
   */
  private reconcileOldReplicaSets(all: ReplicaSetObj[], oldRSs: ReplicaSetObj[], newRS: ReplicaSetObj): boolean {
    if (oldRSs.reduce((n, rs) => n + rsReplicas(rs), 0) === 0) return false;
    const allPods = all.reduce((n, rs) => n + rsReplicas(rs), 0);
    const minAvailable = this.replicas - maxUnavailable(this.d);
    const newUnavailable = rsReplicas(newRS) - (newRS.status?.availableReplicas ?? 0);
    const maxScaledDown = allPods - minAvailable - newUnavailable;
    if (maxScaledDown <= 0) return false;
    const cleaned = this.cleanupUnhealthyReplicas(oldRSs, maxScaledDown);
    if (cleaned === undefined) return false;
    const scaled = this.scaleDownOldForRollingUpdate([...oldRSs, newRS], oldRSs);
    return cleaned + scaled > 0;
  }

  private cleanupUnhealthyReplicas(oldRSs: ReplicaSetObj[], max: number): number | undefined {
    oldRSs.sort(byCreation);
    let total = 0;
    for (const rs of oldRSs) {
      if (total >= max) break;
      const unhealthy = rsReplicas(rs) - (rs.status?.availableReplicas ?? 0);
      if (rsReplicas(rs) === 0 || unhealthy === 0) continue;
      const count = Math.min(max - total, unhealthy);
      // More available than wanted (a status not caught up yet): kube gives up this step.
      if (count < 0) return undefined;
      this.scaleAndRecord(rs, rsReplicas(rs) - count);
      total += count;
    }
    return total;
  }

  private scaleDownOldForRollingUpdate(all: ReplicaSetObj[], oldRSs: ReplicaSetObj[]): number {
    const minAvailable = this.replicas - maxUnavailable(this.d);
    const available = all.reduce((n, rs) => n + (rs.status?.availableReplicas ?? 0), 0);
    if (available <= minAvailable) return 0;
    oldRSs.sort(byCreation);
    let total = 0;
    const toScale = available - minAvailable;
    for (const rs of oldRSs) {
      if (total >= toScale) break;
      if (rsReplicas(rs) === 0) continue;
      const count = Math.min(rsReplicas(rs), toScale - total);
      this.scaleAndRecord(rs, rsReplicas(rs) - count);
      total += count;
    }
    return total;
  }

  /** rolloutRecreate: old ReplicaSets to 0, wait until their pods are gone, then the new one to full size. */
  private rolloutRecreate(): void {
    let [newRS, old] = this.getAll(false);
    let all = [...old, newRS];
    let scaledDown = false;
    for (const rs of active(old)) scaledDown = this.scaleAndRecord(rs, 0) || scaledDown;
    if (scaledDown) return this.syncRolloutStatus(all, newRS);
    if (this.oldPodsRunning(newRS, old)) return this.syncRolloutStatus(all, newRS);
    if (!newRS) {
      [newRS, old] = this.getAll(true);
      all = [...old, newRS];
    }
    this.scaleAndRecord(newRS!, this.replicas);
    if (deploymentComplete(this.d, this.d.status ?? {})) this.cleanup(old);
    this.syncRolloutStatus(all, newRS);
  }

  /** oldPodsRunning: an old ReplicaSet reports pods, or one of its pods (terminating included) has not finished. */
  private oldPodsRunning(newRS: ReplicaSetObj | undefined, old: ReplicaSetObj[]): boolean {
    if (old.reduce((n, rs) => n + (rs.status?.replicas ?? 0), 0) > 0) return true;
    for (const [uid, pods] of this.input.podsByReplicaSet) {
      if (uid === newRS?.metadata.uid) continue;
      if (pods.some((p) => p.status?.phase !== 'Failed' && p.status?.phase !== 'Succeeded')) return true;
    }
    return false;
  }

  /** cleanupDeployment: delete the oldest old ReplicaSets beyond revisionHistoryLimit, once they are empty. */
  private cleanup(old: ReplicaSetObj[]): void {
    if (!hasRevisionHistoryLimit(this.d)) return;
    const cleanable = old.filter((rs) => !rs.metadata.deletionTimestamp).sort(byRevision);
    const diff = cleanable.length - this.d.spec.revisionHistoryLimit!;
    for (const rs of cleanable.slice(0, Math.max(0, diff))) {
      if ((rs.status?.replicas ?? 0) !== 0 || rsReplicas(rs) !== 0 || (rs.metadata.generation ?? 0) > (rs.status?.observedGeneration ?? 0)) continue;
      this.steps.push({ op: 'deleteReplicaSet', rs });
    }
  }

  /** syncDeploymentStatus: counts and Available only (scaling, paused, being deleted). */
  private syncStatus(all: (ReplicaSetObj | undefined)[], newRS: ReplicaSetObj | undefined): void {
    const s = calculateStatus(present(all), newRS, this.d, this.input.now);
    if (sameStatus(this.d.status, s)) return;
    this.d.status = s;
    this.writeStatus();
  }

  /** syncRolloutStatus: the counts and the Progressing condition of a rollout. */
  private syncRolloutStatus(all: (ReplicaSetObj | undefined)[], newRS: ReplicaSetObj | undefined): void {
    const d = this.d;
    const now = this.input.now;
    const s = calculateStatus(present(all), newRS, d, now);
    if (!hasProgressDeadline(d)) removeCondition(s, 'Progressing');
    const current = getCondition(d.status, 'Progressing');
    const complete = (s.replicas ?? 0) === (s.updatedReplicas ?? 0) && current?.reason === REASON.newRSAvailable;
    const what = newRS ? `ReplicaSet "${newRS.metadata.name}"` : `Deployment "${d.metadata.name}"`;
    if (hasProgressDeadline(d) && !complete) {
      if (deploymentComplete(d, s)) {
        setCondition(s, newCondition('Progressing', 'True', REASON.newRSAvailable, `${what} has successfully progressed.`, now));
      } else if (deploymentProgressing(d, s)) {
        const c = newCondition('Progressing', 'True', REASON.replicaSetUpdated, `${what} is progressing.`, now);
        // Progress moves lastUpdateTime even with the same reason; lastTransitionTime stays while True.
        if (current?.status === 'True') c.lastTransitionTime = current.lastTransitionTime;
        if (current) removeCondition(s, 'Progressing');
        setCondition(s, c);
      } else if (deploymentTimedOut(d, s, now)) {
        setCondition(s, newCondition('Progressing', 'False', REASON.timedOut, `${what} has timed out progressing.`, now));
      }
    }
    // The ReplicaSets' ReplicaFailure (the new one's first) becomes the Deployment's.
    const failures = [newRS, ...present(all)].flatMap((rs) => rs?.status?.conditions?.filter((c) => c.type === 'ReplicaFailure') ?? []);
    if (failures[0]) {
      const f = failures[0];
      setCondition(s, { type: 'ReplicaFailure', status: f.status, lastUpdateTime: f.lastTransitionTime, lastTransitionTime: f.lastTransitionTime, reason: f.reason, message: f.message });
    } else removeCondition(s, 'ReplicaFailure');
    if (sameStatus(d.status, s)) return this.requeueStuck(s);
    d.status = s;
    this.writeStatus();
  }

  /** requeueStuckDeployment: no progress now; look again when the progress deadline would pass. */
  private requeueStuck(s: NonNullable<DeploymentObj['status']>): void {
    const d = this.d;
    const current = getCondition(d.status, 'Progressing');
    if (!hasProgressDeadline(d) || !current || deploymentComplete(d, s) || current.reason === REASON.timedOut) return;
    // A second more, against clock skew between the condition's whole seconds and now.
    const after = Date.parse(current.lastUpdateTime ?? '') + d.spec.progressDeadlineSeconds! * 1000 - this.input.now;
    this.requeueAfterMs = Math.max(0, after) + 1000;
  }
}

/** An empty selector: kube refuses to act on a Deployment that would select every pod (event SelectingAll). */
export function selectsEverything(d: DeploymentObj): boolean {
  const sel = d.spec.selector;
  return !Object.keys(sel?.matchLabels ?? {}).length && !(sel?.matchExpressions ?? []).length;
}

/** One sync of one Deployment: the writes to make, in order. */
export function planDeployment(input: DeploymentInput): DeploymentPlan {
  const sync = new Sync(input);
  sync.run();
  return { steps: sync.steps, requeueAfterMs: sync.requeueAfterMs };
}

/** After a failed create of the new ReplicaSet: Progressing False with kube's message (when a deadline is set), and the Warning event. */
export function failedCreate(deployment: DeploymentObj, rsName: string, error: string, now: number): { status?: DeploymentObj; event: PlannedEvent } {
  const d = withDefaults(deployment);
  const message = `Failed to create new replica set "${rsName}": ${error}`;
  const event = { type: 'Warning' as const, reason: REASON.failedRSCreate, message };
  if (!hasProgressDeadline(d)) return { event };
  setCondition((d.status ??= {}), newCondition('Progressing', 'False', REASON.failedRSCreate, message, now));
  return { status: d, event };
}

/** A ReplicaSet with the new one's name that is not the Deployment's: a hash collision (collisionCount goes up). */
export function isHashCollision(deployment: DeploymentObj, existing: ReplicaSetObj): boolean {
  const ref = existing.metadata.ownerReferences?.find((r) => r.controller);
  return !(ref?.uid === deployment.metadata.uid && findNewReplicaSet(deployment, [existing]) !== undefined);
}
