// Which objects are the lab's own: the system pods of lab/system.yaml are found by who owns them,
// never by labels a user's manifest can copy. Pure, and light enough for the learner's tools.
import type { Pod } from './types.ts';

/** The tools' annotation on each pod (trace/api-view.ts): the Deployment that owns it, through its ReplicaSet. */
export const OWNER_DEPLOYMENT_ANNOTATION = 'lab/deployment';

/**
 * The Deployments of lab/system.yaml, by role. Only lab/system.yaml declares them: the same
 * namespace/name in the state file is refused as a duplicate object.
 */
export const SYSTEM_DEPLOYMENTS = {
  dns: { namespace: 'kube-system', name: 'coredns' },
  ingress: { namespace: 'kube-system', name: 'ingress-nginx-controller' },
} as const;
export type SystemRole = keyof typeof SYSTEM_DEPLOYMENTS;

/**
 * Is `pod` one of the lab's own system pods for `role`? Decided by owner (the Deployment that
 * created it, stamped by the ReplicaSet controller over anything the template says), never by a
 * label: a user's pod may copy every label of the ingress controller and still not be it.
 */
export function isSystemPod(pod: Pick<Pod, 'metadata'>, role: SystemRole): boolean {
  const d = SYSTEM_DEPLOYMENTS[role];
  return pod.metadata.namespace === d.namespace && pod.metadata.annotations[OWNER_DEPLOYMENT_ANNOTATION] === d.name;
}
