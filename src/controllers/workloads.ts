// Deployments, ReplicaSets and Pods as the API serves them (apps/v1, core/v1: JSON, fields
// optional where the API lets them be), and the helpers kube-controller-manager's deployment and
// replicaset controllers share (pkg/controller/controller_utils.go, pkg/api/v1/pod): controller
// references, pod readiness and availability, ordering by creation.
import { LabelSelector, labelSelectorFromSpec } from '../api/server/selectors.ts';
import type { KubeObject } from '../client/types.ts';

export interface LabelSelectorSpec {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

export interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string>; finalizers?: string[]; [k: string]: unknown };
  spec?: Record<string, unknown>;
}

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  lastUpdateTime?: string;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

export type IntOrString = number | string;

export interface DeploymentStatus {
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  unavailableReplicas?: number;
  conditions?: Condition[];
  collisionCount?: number;
}

export interface DeploymentObj extends KubeObject {
  spec: {
    replicas?: number;
    selector?: LabelSelectorSpec;
    template: PodTemplate;
    strategy?: { type?: 'RollingUpdate' | 'Recreate'; rollingUpdate?: { maxSurge?: IntOrString; maxUnavailable?: IntOrString } };
    minReadySeconds?: number;
    revisionHistoryLimit?: number;
    paused?: boolean;
    progressDeadlineSeconds?: number;
  };
  status?: DeploymentStatus;
}

export interface ReplicaSetStatus {
  replicas?: number;
  fullyLabeledReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  observedGeneration?: number;
  conditions?: Condition[];
}

export interface ReplicaSetObj extends KubeObject {
  spec: { replicas?: number; minReadySeconds?: number; selector?: LabelSelectorSpec; template?: PodTemplate };
  status?: ReplicaSetStatus;
}

export interface PodObj extends KubeObject {
  spec?: { nodeName?: string; [k: string]: unknown };
  status?: {
    phase?: string;
    conditions?: { type: string; status: string; lastTransitionTime?: string }[];
    containerStatuses?: { name: string; restartCount?: number; [k: string]: unknown }[];
    [k: string]: unknown;
  };
}

export type OwnerReference = NonNullable<KubeObject['metadata']['ownerReferences']>[number];

/** metav1.GetControllerOf: the owner reference with controller: true. */
export function controllerOf(o: KubeObject): OwnerReference | undefined {
  return o.metadata.ownerReferences?.find((r) => r.controller === true);
}

/** metav1.NewControllerRef: what a controller stamps on the objects it makes. */
export function newControllerRef(owner: KubeObject, apiVersion: string, kind: string): OwnerReference {
  return { apiVersion, kind, name: owner.metadata.name, uid: owner.metadata.uid!, controller: true, blockOwnerDeletion: true };
}

/** The spec.selector as a selector; none (or an invalid one) selects nothing. */
export function selectorOf(spec: LabelSelectorSpec | undefined): LabelSelector | 'nothing' {
  try {
    return labelSelectorFromSpec(spec);
  } catch {
    return 'nothing';
  }
}

export function selects(sel: LabelSelector | 'nothing', labels: Record<string, string> | undefined): boolean {
  return sel !== 'nothing' && sel.matches(labels);
}

const readyCondition = (p: PodObj) => p.status?.conditions?.find((c) => c.type === 'Ready');

/** podutil.IsPodReady. */
export function isPodReady(p: PodObj): boolean {
  return readyCondition(p)?.status === 'True';
}

/** When the pod last became ready (its Ready condition's lastTransitionTime), ms; 0 if unknown. */
export function podReadyTime(p: PodObj): number {
  const t = isPodReady(p) ? readyCondition(p)?.lastTransitionTime : undefined;
  return t ? Date.parse(t) : 0;
}

/** podutil.IsPodAvailable: ready, and for longer than minReadySeconds. */
export function isPodAvailable(p: PodObj, minReadySeconds: number, now: number): boolean {
  if (!isPodReady(p)) return false;
  if (!minReadySeconds) return true;
  const since = podReadyTime(p);
  return since > 0 && since + minReadySeconds * 1000 < now;
}

/** controller.IsPodActive: not finished and not being deleted (a terminating pod counts for nothing). */
export function isPodActive(p: PodObj): boolean {
  return p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed' && !p.metadata.deletionTimestamp;
}

/** ReplicaSetsByCreationTimestamp (and kube's other "by creation" orders): older first, then by name. */
export function byCreation(a: KubeObject, b: KubeObject): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
}

export function isStatusError(e: unknown, code: number, reason?: string): boolean {
  const s = (e as { status?: { code?: number; reason?: string } } | null)?.status;
  return s?.code === code && (reason === undefined || s.reason === reason);
}

/** What an API error says (a StatusError's message), as `%v` of a client-go error prints it. */
export function errorMessage(e: unknown): string {
  return (e as { status?: { message?: string } } | null)?.status?.message ?? (e as Error)?.message ?? String(e);
}
