// Taints and tolerations as k8s.io/api/core/v1 and pkg/apis/core/v1/helper match them. The
// scheduler's TaintToleration filter, the node lifecycle controller and the taint eviction
// controller all ask the same question: does this pod tolerate that taint?

export type TaintEffect = 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';

export interface Taint {
  key: string;
  value?: string;
  effect: TaintEffect;
  timeAdded?: string;
}

export interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
  tolerationSeconds?: number;
}

/** The taints the node lifecycle controller and the API server put on nodes (k8s.io/api/core/v1). */
export const TAINT_NODE_NOT_READY = 'node.kubernetes.io/not-ready';
export const TAINT_NODE_UNREACHABLE = 'node.kubernetes.io/unreachable';
export const TAINT_NODE_UNSCHEDULABLE = 'node.kubernetes.io/unschedulable';
export const TAINT_NODE_MEMORY_PRESSURE = 'node.kubernetes.io/memory-pressure';
export const TAINT_NODE_DISK_PRESSURE = 'node.kubernetes.io/disk-pressure';
export const TAINT_NODE_PID_PRESSURE = 'node.kubernetes.io/pid-pressure';
export const TAINT_NODE_NETWORK_UNAVAILABLE = 'node.kubernetes.io/network-unavailable';

/**
 * Toleration.ToleratesTaint: an empty effect matches every effect, an empty key (with Exists)
 * every key; the operator defaults to Equal, which compares values (an absent value is "").
 */
export function toleratesTaint(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  switch (t.operator ?? '') {
    case '':
    case 'Equal':
      return (t.value ?? '') === (taint.value ?? '');
    case 'Exists':
      return true;
    default:
      return false;
  }
}

export function tolerationsTolerateTaint(tolerations: readonly Toleration[] | undefined, taint: Taint): boolean {
  return (tolerations ?? []).some((t) => toleratesTaint(t, taint));
}

/** FindMatchingUntoleratedTaint: the first of the node's taints (in its order) that `include` keeps and no toleration tolerates. */
export function findUntoleratedTaint(taints: readonly Taint[] | undefined, tolerations: readonly Toleration[] | undefined, include: (t: Taint) => boolean): Taint | undefined {
  return (taints ?? []).find((t) => include(t) && !tolerationsTolerateTaint(tolerations, t));
}

/**
 * GetMatchingTolerations: whether every taint is tolerated, and for each taint the first
 * toleration that tolerates it (what the taint eviction controller takes the time from).
 */
export function matchingTolerations(taints: readonly Taint[], tolerations: readonly Toleration[] | undefined): { all: boolean; used: Toleration[] } {
  const used: Toleration[] = [];
  for (const taint of taints) {
    const t = (tolerations ?? []).find((x) => toleratesTaint(x, taint));
    if (!t) return { all: false, used: [] };
    used.push(t);
  }
  return { all: true, used };
}

/** `{key: value}` as the scheduler prints a taint in "had untolerated taint {...}" (Go's "{%s: %s}"). */
export function formatTaintForScheduler(t: Taint): string {
  return `{${t.key}: ${t.value ?? ''}}`;
}

/** Same key and effect: taint.MatchTaint, how taints are told apart on a node. */
export const sameTaint = (a: Taint, b: Taint): boolean => a.key === b.key && a.effect === b.effect;
