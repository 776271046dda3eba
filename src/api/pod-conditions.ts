// A pod's conditions as the API stores them, and podutil.UpdatePodCondition: the one way every
// writer (binding, eviction, scheduler, taint manager) sets one condition of a pod.

export interface PodCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastProbeTime?: string | null;
  lastTransitionTime?: string | null;
}

/**
 * podutil.UpdatePodCondition: `next` replaces the pod's condition of its type (or is added). The
 * transition time moves only when the status changes; a condition equal to the one there (status,
 * reason, message) changes nothing: undefined then, so the caller writes nothing.
 */
export function updatePodCondition(conditions: readonly PodCondition[], next: PodCondition): PodCondition[] | undefined {
  const i = conditions.findIndex((c) => c.type === next.type);
  if (i < 0) return [...conditions, next];
  const old = conditions[i]!;
  if (old.status === next.status && old.reason === next.reason && old.message === next.message) return undefined;
  const kept = old.status === next.status && old.lastTransitionTime ? { ...next, lastTransitionTime: old.lastTransitionTime } : next;
  return conditions.map((c, j) => (j === i ? kept : c));
}
