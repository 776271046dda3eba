// The PodSecurity admission plugin of kube-apiserver (k8s.io/pod-security-admission), on the
// registry's writes. The checks and their messages are src/api/admission.ts's; this file only
// decides where they apply, as the plugin does:
// - a pod being created is judged at its namespace's enforce level, after its generated name is
//   chosen (validating admission runs inside the store's create): refused with 403 Forbidden
//   `pods "NAME" is forbidden: violates PodSecurity "baseline:latest": ...`, which the ReplicaSet
//   controller records as FailedCreate;
// - a pod controller (Deployment, ReplicaSet) is never refused for its template: created or
//   updated, it gets the warn level's `would violate PodSecurity ...` as a Warning header, which
//   kubectl prints as `Warning: ...`.
// Subresources (status, scale, binding) are not judged, as the plugin skips them.
import { podTemplateWarnings, podViolation, type PodSecuritySpec } from '../admission.ts';
import type { KubeObject } from './object.ts';
import type { ResourceInfo } from './resources.ts';
import * as errors from './status.ts';

/** The pod controllers the lab serves, with the path of their pod template's spec. */
const POD_CONTROLLERS = new Set(['apps/deployments', 'apps/replicasets']);

type WithSpec = KubeObject & { spec?: { template?: { spec?: PodSecuritySpec } } & PodSecuritySpec };

/** Throws the plugin's Forbidden when a pod being created violates the namespace's enforce level. */
export function admitPodCreate(r: ResourceInfo, obj: KubeObject, namespaceLabels: Record<string, string>): void {
  if (r.group !== '' || r.plural !== 'pods') return;
  const why = podViolation((obj as WithSpec).spec ?? {}, namespaceLabels);
  if (why) throw errors.forbidden({ group: '', resource: 'pods' }, obj.metadata.name ?? '', why);
}

/** The warnings for a pod controller's template at the namespace's warn level (none for other resources). */
export function podControllerWarnings(r: ResourceInfo, obj: KubeObject, namespaceLabels: Record<string, string>): string[] {
  if (!POD_CONTROLLERS.has(`${r.group}/${r.plural}`)) return [];
  const spec = (obj as WithSpec).spec?.template?.spec;
  return spec ? podTemplateWarnings(spec, namespaceLabels) : [];
}
