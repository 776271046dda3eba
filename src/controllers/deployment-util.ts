// The arithmetic of kube-controller-manager's deployment controller
// (pkg/controller/deployment/util/deployment_util.go), pure: defaults, maxSurge/maxUnavailable
// with kube's rounding, revisions and the annotations a Deployment writes on its ReplicaSets,
// which ReplicaSet is the new one, proportional shares, status and conditions.
import { rfc3339 } from '../api/server/object.ts';
import { canonicalJson } from './podnames.ts';
import { byCreation, type Condition, type DeploymentObj, type DeploymentStatus, type IntOrString, type PodTemplate, type ReplicaSetObj } from './workloads.ts';

export const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';
export const REVISION = 'deployment.kubernetes.io/revision';
export const REVISION_HISTORY = 'deployment.kubernetes.io/revision-history';
export const DESIRED_REPLICAS = 'deployment.kubernetes.io/desired-replicas';
export const MAX_REPLICAS = 'deployment.kubernetes.io/max-replicas';
/** Annotations of a Deployment never copied to its ReplicaSets (annotationsToSkip). */
const SKIP = new Set(['kubectl.kubernetes.io/last-applied-configuration', REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, 'deprecated.deployment.rollback.to']);
/** The revision-history annotation is kept under 2000 characters (maxRevHistoryLengthInChars). */
const MAX_REVISION_HISTORY_CHARS = 2000;
const MAX_INT32 = 2147483647;

export const REASON = {
  replicaSetUpdated: 'ReplicaSetUpdated',
  failedRSCreate: 'ReplicaSetCreateError',
  newReplicaSet: 'NewReplicaSetCreated',
  foundNewRS: 'FoundNewReplicaSet',
  newRSAvailable: 'NewReplicaSetAvailable',
  timedOut: 'ProgressDeadlineExceeded',
  paused: 'DeploymentPaused',
  resumed: 'DeploymentResumed',
  minimumReplicasAvailable: 'MinimumReplicasAvailable',
  minimumReplicasUnavailable: 'MinimumReplicasUnavailable',
} as const;

/**
 * apps/v1 SetDefaults_Deployment, for fields the API server may not have filled in: 1 replica,
 * RollingUpdate with 25% surge and 25% unavailable, 10 old ReplicaSets kept, a 600 s progress
 * deadline. (A copy; the object given is not changed.)
 */
export function withDefaults(d: DeploymentObj): DeploymentObj {
  const out = structuredClone(d);
  const s = out.spec;
  s.replicas ??= 1;
  s.strategy = { ...s.strategy, type: s.strategy?.type ?? 'RollingUpdate' };
  if (s.strategy.type === 'RollingUpdate') {
    s.strategy.rollingUpdate = { maxUnavailable: '25%', maxSurge: '25%', ...s.strategy.rollingUpdate };
  }
  s.revisionHistoryLimit ??= 10;
  s.progressDeadlineSeconds ??= 600;
  s.minReadySeconds ??= 0;
  out.status ??= {};
  return out;
}

/** intstr.GetScaledValueFromIntOrPercent: a count, or a percentage of `total` rounded up or down. */
export function scaledValue(v: IntOrString | undefined, total: number, roundUp: boolean): number {
  if (v === undefined) return 0;
  if (typeof v === 'number') return v;
  const m = /^(-?\d+)%$/.exec(v);
  if (!m) throw new Error(`invalid value for IntOrString: invalid type: string is not a percentage`);
  // value*total/100 in that order, as kube computes it: 7% of 100 is 7 whichever way it rounds.
  const scaled = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(scaled) : Math.floor(scaled);
}

export const isRollingUpdate = (d: DeploymentObj) => d.spec.strategy?.type === 'RollingUpdate';
const replicasOf = (d: DeploymentObj) => d.spec.replicas ?? 1;
export const rsReplicas = (rs: ReplicaSetObj | undefined) => rs?.spec.replicas ?? 0;

/** ResolveFenceposts: maxSurge rounded up, maxUnavailable down; both zero makes maxUnavailable 1. */
export function resolveFenceposts(d: DeploymentObj): { surge: number; unavailable: number } {
  const ru = d.spec.strategy?.rollingUpdate;
  const surge = scaledValue(ru?.maxSurge ?? 0, replicasOf(d), true);
  let unavailable = scaledValue(ru?.maxUnavailable ?? 0, replicasOf(d), false);
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return { surge, unavailable };
}

export function maxSurge(d: DeploymentObj): number {
  return isRollingUpdate(d) ? resolveFenceposts(d).surge : 0;
}

export function maxUnavailable(d: DeploymentObj): number {
  if (!isRollingUpdate(d) || replicasOf(d) === 0) return 0;
  return Math.min(resolveFenceposts(d).unavailable, replicasOf(d));
}

export const hasProgressDeadline = (d: DeploymentObj) => d.spec.progressDeadlineSeconds !== undefined && d.spec.progressDeadlineSeconds !== MAX_INT32;
export const hasRevisionHistoryLimit = (d: DeploymentObj) => d.spec.revisionHistoryLimit !== undefined && d.spec.revisionHistoryLimit !== MAX_INT32;

/** The revision annotation as a number (0 when absent, NaN when not an integer). */
export function revisionOf(o: { metadata: { annotations?: Record<string, string> } }): number {
  const v = o.metadata.annotations?.[REVISION];
  if (v === undefined || v === '') return 0;
  return /^[+-]?\d+$/.test(v) ? Number(v) : Number.NaN;
}

export function maxRevision(rss: ReplicaSetObj[]): number {
  return rss.reduce((max, rs) => (revisionOf(rs) > max ? revisionOf(rs) : max), 0);
}

/** ReplicaSetsByRevision: lower revision first; unparsable or equal ones by creation. */
export function byRevision(a: ReplicaSetObj, b: ReplicaSetObj): number {
  const ra = revisionOf(a);
  const rb = revisionOf(b);
  if (Number.isNaN(ra) || Number.isNaN(rb) || ra === rb) return byCreation(a, b);
  return ra - rb;
}

function withoutHash(t: PodTemplate | undefined): string {
  const copy = structuredClone(t ?? {});
  if (copy.metadata?.labels) {
    delete copy.metadata.labels[POD_TEMPLATE_HASH_LABEL];
    if (!Object.keys(copy.metadata.labels).length) delete copy.metadata.labels;
  }
  return canonicalJson(copy);
}

/** EqualIgnoreHash: the same pod template but for the pod-template-hash label. */
export function equalIgnoreHash(a: PodTemplate | undefined, b: PodTemplate | undefined): boolean {
  return withoutHash(a) === withoutHash(b);
}

/** FindNewReplicaSet: the oldest ReplicaSet whose template is the Deployment's. */
export function findNewReplicaSet(d: DeploymentObj, rss: ReplicaSetObj[]): ReplicaSetObj | undefined {
  return [...rss].sort(byCreation).find((rs) => equalIgnoreHash(rs.spec.template, d.spec.template));
}

/** SetReplicasAnnotations: desired-replicas and max-replicas (replicas + maxSurge); true if changed. */
export function setReplicasAnnotations(rs: ReplicaSetObj, desired: number, max: number): boolean {
  const a = (rs.metadata.annotations ??= {});
  let changed = false;
  if (a[DESIRED_REPLICAS] !== String(desired)) {
    a[DESIRED_REPLICAS] = String(desired);
    changed = true;
  }
  if (a[MAX_REPLICAS] !== String(max)) {
    a[MAX_REPLICAS] = String(max);
    changed = true;
  }
  return changed;
}

export function replicasAnnotationsNeedUpdate(rs: ReplicaSetObj, desired: number, max: number): boolean {
  const a = rs.metadata.annotations ?? {};
  return a[DESIRED_REPLICAS] !== String(desired) || a[MAX_REPLICAS] !== String(max);
}

/**
 * SetNewReplicaSetAnnotations: the Deployment's annotations copied (but for the skipped ones), the
 * revision raised to `newRevision` (a ReplicaSet that comes back in a rollback keeps its former
 * revisions in revision-history), and on a new ReplicaSet desired- and max-replicas. True if changed.
 */
export function setNewReplicaSetAnnotations(d: DeploymentObj, rs: ReplicaSetObj, newRevision: number, exists: boolean): boolean {
  const a = (rs.metadata.annotations ??= {});
  let changed = false;
  for (const [k, v] of Object.entries(d.metadata.annotations ?? {})) {
    if (SKIP.has(k) || a[k] === v) continue;
    a[k] = v;
    changed = true;
  }
  const had = REVISION in a;
  const oldRevision = revisionOf(rs);
  if (Number.isNaN(oldRevision)) return false;
  if (oldRevision < newRevision) {
    a[REVISION] = String(newRevision);
    changed = true;
    if (had) {
      const history = a[REVISION_HISTORY] ? a[REVISION_HISTORY].split(',') : [];
      let total = (a[REVISION_HISTORY] ?? '').length + String(oldRevision).length + 1;
      let start = 0;
      while (history.length && total > MAX_REVISION_HISTORY_CHARS && start < history.length) total -= history[start++]!.length + 1;
      if (total <= MAX_REVISION_HISTORY_CHARS) a[REVISION_HISTORY] = [...history.slice(start), String(oldRevision)].join(',');
    }
  }
  if (!exists && setReplicasAnnotations(rs, replicasOf(d), replicasOf(d) + maxSurge(d))) changed = true;
  return changed;
}

/** NewRSNewReplicas: how far the new ReplicaSet may grow now (RollingUpdate: within replicas + maxSurge in all). */
export function newRSNewReplicas(d: DeploymentObj, all: ReplicaSetObj[], newRS: ReplicaSetObj): number {
  if (!isRollingUpdate(d)) return replicasOf(d);
  const maxTotal = replicasOf(d) + scaledValue(d.spec.strategy?.rollingUpdate?.maxSurge, replicasOf(d), true);
  const current = all.reduce((n, rs) => n + rsReplicas(rs), 0);
  if (current >= maxTotal) return rsReplicas(newRS);
  return rsReplicas(newRS) + Math.min(maxTotal - current, replicasOf(d) - rsReplicas(newRS));
}

/** IsSaturated: the new ReplicaSet has, wants and runs available all of the Deployment's replicas. */
export function isSaturated(d: DeploymentObj, rs: ReplicaSetObj | undefined): boolean {
  if (!rs) return false;
  const desired = rs.metadata.annotations?.[DESIRED_REPLICAS];
  return desired !== undefined && Number(desired) === replicasOf(d) && rsReplicas(rs) === replicasOf(d) && (rs.status?.availableReplicas ?? 0) === replicasOf(d);
}

/** GetProportion: this ReplicaSet's share of `toAdd` replicas (negative: to remove), within what is left. */
export function proportion(rs: ReplicaSetObj, d: DeploymentObj, toAdd: number, added: number): number {
  if (rsReplicas(rs) === 0 || toAdd === 0 || toAdd === added) return 0;
  const allowed = toAdd - added;
  let fraction: number;
  if (replicasOf(d) === 0) fraction = -rsReplicas(rs);
  else {
    const annotated = Number(rs.metadata.annotations?.[MAX_REPLICAS] ?? d.status?.replicas ?? 0);
    if (!Number.isFinite(annotated) || annotated === 0) return 0;
    // math.Round: halves away from zero.
    const size = (rsReplicas(rs) * (replicasOf(d) + maxSurge(d))) / annotated;
    fraction = Math.sign(size) * Math.round(Math.abs(size)) - rsReplicas(rs);
  }
  return toAdd > 0 ? Math.min(fraction, allowed) : Math.max(fraction, allowed);
}

export function getCondition(status: DeploymentStatus | undefined, type: string): Condition | undefined {
  return status?.conditions?.find((c) => c.type === type);
}

export function newCondition(type: string, status: Condition['status'], reason: string, message: string, now: number): Condition {
  const t = rfc3339(now);
  return { type, status, lastUpdateTime: t, lastTransitionTime: t, reason, message };
}

/** SetDeploymentCondition: a condition with the same status and reason stays as it is (times included). */
export function setCondition(status: DeploymentStatus, c: Condition): void {
  const cur = getCondition(status, c.type);
  if (cur && cur.status === c.status && cur.reason === c.reason) return;
  const next = cur && cur.status === c.status ? { ...c, lastTransitionTime: cur.lastTransitionTime } : c;
  status.conditions = [...(status.conditions ?? []).filter((x) => x.type !== c.type), next];
}

export function removeCondition(status: DeploymentStatus, type: string): void {
  status.conditions = (status.conditions ?? []).filter((c) => c.type !== type);
  if (!status.conditions.length) delete status.conditions;
}

const sum = (rss: (ReplicaSetObj | undefined)[], f: (rs: ReplicaSetObj) => number | undefined) => rss.reduce((n, rs) => n + (rs ? (f(rs) ?? 0) : 0), 0);

/** calculateStatus: counts from the ReplicaSets' statuses, and the Available condition. */
export function calculateStatus(all: (ReplicaSetObj | undefined)[], newRS: ReplicaSetObj | undefined, d: DeploymentObj, now: number): DeploymentStatus {
  const available = sum(all, (rs) => rs.status?.availableReplicas);
  const total = sum(all, (rs) => rs.spec.replicas);
  const s: DeploymentStatus = {
    observedGeneration: d.metadata.generation,
    replicas: sum(all, (rs) => rs.status?.replicas),
    updatedReplicas: sum([newRS], (rs) => rs.status?.replicas),
    readyReplicas: sum(all, (rs) => rs.status?.readyReplicas),
    availableReplicas: available,
    unavailableReplicas: Math.max(0, total - available),
    conditions: [...(d.status?.conditions ?? [])],
    collisionCount: d.status?.collisionCount,
  };
  if (available >= replicasOf(d) - maxUnavailable(d)) setCondition(s, newCondition('Available', 'True', REASON.minimumReplicasAvailable, 'Deployment has minimum availability.', now));
  else setCondition(s, newCondition('Available', 'False', REASON.minimumReplicasUnavailable, 'Deployment does not have minimum availability.', now));
  return compactStatus(s);
}

/** The status as the API's JSON has it: zero counts and empty lists left out (omitempty). */
export function compactStatus(s: DeploymentStatus): DeploymentStatus {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s)) if (v !== undefined && v !== 0 && !(Array.isArray(v) && v.length === 0)) out[k] = v;
  return out as DeploymentStatus;
}

export function sameStatus(a: DeploymentStatus | undefined, b: DeploymentStatus | undefined): boolean {
  return canonicalJson(compactStatus(a ?? {})) === canonicalJson(compactStatus(b ?? {}));
}

/** DeploymentComplete: every replica updated and available, no old ones, this generation seen. */
export function deploymentComplete(d: DeploymentObj, s: DeploymentStatus): boolean {
  const r = replicasOf(d);
  return (s.updatedReplicas ?? 0) === r && (s.replicas ?? 0) === r && (s.availableReplicas ?? 0) === r && (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 0);
}

/** DeploymentProgressing: more updated, ready or available replicas, or fewer old ones, than before. */
export function deploymentProgressing(d: DeploymentObj, s: DeploymentStatus): boolean {
  const o = d.status ?? {};
  const n = (v: number | undefined) => v ?? 0;
  return (
    n(s.updatedReplicas) > n(o.updatedReplicas) ||
    n(s.replicas) - n(s.updatedReplicas) < n(o.replicas) - n(o.updatedReplicas) ||
    n(s.readyReplicas) > n(o.readyReplicas) ||
    n(s.availableReplicas) > n(o.availableReplicas)
  );
}

/** DeploymentTimedOut: no progress for progressDeadlineSeconds since the Progressing condition's last update. */
export function deploymentTimedOut(d: DeploymentObj, s: DeploymentStatus, now: number): boolean {
  if (!hasProgressDeadline(d)) return false;
  const c = getCondition(s, 'Progressing');
  if (!c || c.reason === REASON.newRSAvailable) return false;
  if (c.reason === REASON.timedOut) return true;
  return Date.parse(c.lastUpdateTime ?? '') + d.spec.progressDeadlineSeconds! * 1000 < now;
}
