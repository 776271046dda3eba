// The kubelet controller's pure decisions: what to do with the pods whose API objects changed
// (start, stop gracefully, remove, or nothing), how long a Terminating pod's containers still
// have, and kube's texts for the backoff. Unit-tested without a node.

/** What the kubelet has of a pod: the uid it started, and whether it is stopping it already. */
export interface KnownPod {
  uid: string;
  terminating: boolean;
}

/** What the API has of a pod on this node. */
export interface SeenPod {
  uid: string;
  deletionTimestamp?: string;
}

export interface PodWork {
  /** New on this node: synced together, one batch (their sandboxes' CNI ADDs concurrently). */
  create: string[];
  /** Deletion began (deletionTimestamp): containers stopped within the grace period, then the final delete. */
  terminate: string[];
  /** Gone from the API (or replaced by a pod of the same name, another uid): removed at once. */
  remove: string[];
}

/**
 * The kubelet's HandlePodAdditions / HandlePodUpdates / HandlePodRemoves for a set of changed
 * keys. A pod replaced under the same name (new uid) is removed, then created again.
 */
export function planPodWork(keys: Iterable<string>, api: (key: string) => SeenPod | undefined, known: (key: string) => KnownPod | undefined): PodWork {
  const work: PodWork = { create: [], terminate: [], remove: [] };
  for (const key of new Set(keys)) {
    const a = api(key);
    let k = known(key);
    if (k && (!a || a.uid !== k.uid)) {
      work.remove.push(key);
      k = undefined;
    }
    if (!a) continue;
    if (a.deletionTimestamp) {
      if (!k?.terminating) work.terminate.push(key);
    } else if (!k) {
      work.create.push(key);
    }
  }
  return work;
}

/**
 * Seconds a Terminating pod's containers still have before SIGKILL. The API server sets
 * deletionTimestamp to the time the grace period ends (now + deletionGracePeriodSeconds), so what
 * is left is that time minus now, never more than the period itself (nor less than 0).
 */
export function remainingGrace(meta: { deletionTimestamp?: string; deletionGracePeriodSeconds?: number }, nowMs: number): number {
  const period = meta.deletionGracePeriodSeconds ?? 30;
  const end = Date.parse(meta.deletionTimestamp ?? '');
  if (Number.isNaN(end)) return period;
  return Math.max(0, Math.min(period, (end - nowMs) / 1000));
}

/** A Go time.Duration's String() for whole seconds: 10s, 2m40s, 5m0s. */
export function goDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${h ? `${h}h` : ''}${m}m${s % 60}s`;
}

/** kubelet/util/format.Pod: "name_namespace(uid)". */
export function formatPod(p: { name: string; namespace: string; uid?: string }): string {
  return `${p.name}_${p.namespace}(${p.uid ?? ''})`;
}

/** The CrashLoopBackOff waiting message (kuberuntime_manager.go doBackOff). */
export function backOffWaitingMessage(delayMs: number, container: string, pod: { name: string; namespace: string; uid?: string }): string {
  return `back-off ${goDuration(delayMs)} restarting failed container=${container} pod=${formatPod(pod)}`;
}

/** The BackOff event's message (events.BackOffStartContainer). */
export function backOffEventMessage(container: string, pod: { name: string; namespace: string; uid?: string }): string {
  return `Back-off restarting failed container ${container} in pod ${formatPod(pod)}`;
}
