// Each resource's REST strategy: what kube-apiserver's pkg/registry/<group>/<resource>/strategy.go
// does around the generic store (name rule, generation, what an update may touch, graceful deletion).
// Spec validation of each kind is a hook here (`validate`); the generic checks of metadata are in
// validation.ts and apply to every kind.
import { admitPod, defaultObject } from './defaults.ts';
import type { KubeObject } from './object.ts';
import { deepEqual } from './object.ts';
import { fieldErrors, type FieldError } from './status.ts';
import { isQualifiedName, nameIsDns1035Label, nameIsDnsLabel, nameIsDnsSubdomain, type NameValidator } from './validation.ts';
import { selectorImmutable, validateDeployment, validateReplicaSet } from './validate-apps.ts';
import { validateConfigMap, validateConfigMapUpdate, validateEndpoints } from './validate-core.ts';
import { validateEndpointSlice, validateIngress } from './validate-networking.ts';
import { validatePodSpec, validatePodSpecUpdate } from './validate-pod.ts';
import { validateService, validateServiceUpdate } from './validate-service.ts';

export interface Strategy {
  nameValidator: NameValidator;
  /**
   * Whether the kind tracks metadata.generation (1 on create) and which change bumps it: `spec`
   * (most), `specOrAnnotations` (Deployment: annotations are copied to its ReplicaSets), or
   * `allButMetadata` (EndpointSlice: endpoints, ports, addressType).
   */
  generation?: 'spec' | 'specOrAnnotations' | 'allButMetadata';
  /** PUT of a missing object creates it (Endpoints, Events, Leases). */
  allowCreateOnUpdate: boolean;
  /** PUT without metadata.resourceVersion overwrites whatever is stored. */
  allowUnconditionalUpdate: boolean;
  /** DELETE answers with the deleted object instead of a Status (pods, services, namespaces). */
  returnDeletedObject: boolean;
  /** Keys of this kind are written with a TTL in seconds (kube-apiserver's --event-ttl, 1h). */
  leaseSeconds?: number;
  /**
   * Graceful deletion (RESTGracefulDeleteStrategy.CheckGracefulDelete): the grace period to use for
   * a first delete, given the one requested. Kinds without it are deleted at once.
   */
  gracePeriod?: (obj: KubeObject, requested: number | undefined) => number;
  /**
   * A further condition for the delete an update makes when it removes the last finalizer of an
   * object being deleted (a namespace also needs its spec.finalizers empty).
   */
  deleteDuringUpdate?: (obj: KubeObject) => boolean;
  /**
   * Defaulting (defaults.ts), what kube-apiserver does while decoding a request: before
   * prepareForCreate on create, before prepareForUpdate on update (on the request's status alone
   * for the status subresource).
   */
  defaults?: (obj: KubeObject) => void;
  prepareForCreate?: (obj: KubeObject) => void;
  /** After the generic part (status kept for kinds with a status subresource, generation). */
  prepareForUpdate?: (obj: KubeObject, old: KubeObject) => void;
  /**
   * An update through the status subresource keeps everything but the status; this hook takes
   * what else the kind's status strategy lets through from the request.
   */
  prepareForStatusUpdate?: (obj: KubeObject, requested: KubeObject) => void;
  /**
   * The kind's Validate (create, no `old`) or ValidateUpdate (kube's pkg/apis/<group>/validation),
   * after defaulting, the allocations and preparation; a non-empty list is a 422 and nothing is
   * stored. The status subresource does not run it (kube's status strategies validate little).
   */
  validate?: (obj: KubeObject, old?: KubeObject) => FieldError[];
}

const base: Strategy = { nameValidator: nameIsDnsSubdomain, allowCreateOnUpdate: false, allowUnconditionalUpdate: true, returnDeletedObject: false };

const resetStatus = (status: Record<string, unknown> = {}) => (obj: KubeObject) => {
  obj.status = { ...status };
};

const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

function namespaceFinalizerErrors(obj: KubeObject): FieldError[] {
  const finalizers = ((obj.spec?.finalizers ?? []) as string[]);
  const errs: FieldError[] = [];
  finalizers.forEach((f, i) => {
    const field = `spec.finalizers[${i}]`;
    for (const m of isQualifiedName(f)) errs.push(fieldErrors.invalid(field, f, m));
    if (!f.includes('/') && f !== 'kubernetes' && f !== 'orphan' && f !== 'foregroundDeletion') {
      errs.push(fieldErrors.invalid(field, f, 'name is neither a standard finalizer name nor is it fully qualified'));
    }
  });
  return errs;
}

/** A pod's QoS class from its containers' resources (pkg/apis/core/helper/qos, simplified to cpu and memory). */
function qosClass(pod: KubeObject): string {
  const containers = [...((pod.spec?.containers ?? []) as { resources?: { requests?: Record<string, string>; limits?: Record<string, string> } }[]), ...((pod.spec?.initContainers ?? []) as { resources?: { requests?: Record<string, string>; limits?: Record<string, string> } }[])];
  let any = false;
  let guaranteed = containers.length > 0;
  for (const c of containers) {
    const requests = c.resources?.requests ?? {};
    const limits = c.resources?.limits ?? {};
    if (Object.keys(requests).length || Object.keys(limits).length) any = true;
    for (const r of ['cpu', 'memory']) {
      if (limits[r] === undefined || (requests[r] !== undefined && requests[r] !== limits[r])) guaranteed = false;
    }
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

export const STRATEGIES: Record<string, Strategy> = {
  namespaces: {
    ...base,
    nameValidator: nameIsDnsLabel,
    returnDeletedObject: true,
    prepareForCreate(obj) {
      // Status is Active on create; the `kubernetes` finalizer is required (the namespace controller
      // removes it through namespaces/finalize once the namespace is empty); the name label is defaulted.
      obj.status = { phase: 'Active' };
      const finalizers = ((obj.spec?.finalizers ?? []) as string[]).slice();
      if (!finalizers.includes('kubernetes')) finalizers.push('kubernetes');
      obj.spec = { ...obj.spec, finalizers };
      obj.metadata.labels = { ...obj.metadata.labels, [NAMESPACE_NAME_LABEL]: obj.metadata.name! };
    },
    prepareForUpdate(obj, old) {
      obj.spec = { ...obj.spec, finalizers: old.spec?.finalizers ?? [] };
      obj.metadata.labels = { ...obj.metadata.labels, [NAMESPACE_NAME_LABEL]: obj.metadata.name! };
    },
    validate: namespaceFinalizerErrors,
    deleteDuringUpdate: (obj) => ((obj.spec?.finalizers ?? []) as string[]).length === 0,
  },
  nodes: {
    ...base,
    // nodeStatusStrategy resets only the spec: metadata comes through nodes/status as requested.
    // flannel's kube subnet manager relies on it (it patches its annotations through "status").
    prepareForStatusUpdate(obj, requested) {
      obj.metadata.labels = requested.metadata?.labels;
      obj.metadata.annotations = requested.metadata?.annotations;
    },
  },
  pods: {
    ...base,
    returnDeletedObject: true,
    prepareForCreate(obj) {
      admitPod(obj);
      obj.status = { phase: 'Pending', qosClass: qosClass(obj) };
    },
    gracePeriod(pod, requested) {
      // The requested period, else spec.terminationGracePeriodSeconds, else 0; 0 for a pod never
      // scheduled or already finished: no kubelet has anything to stop.
      let period = requested ?? ((pod.spec?.terminationGracePeriodSeconds as number | undefined) ?? 0);
      if (!pod.spec?.nodeName) period = 0;
      if (pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded') period = 0;
      return period < 0 ? 1 : period;
    },
    validate: (pod, old) => [
      ...validatePodSpec((pod.spec ?? {}) as Record<string, unknown>, 'spec'),
      ...(old ? validatePodSpecUpdate((pod.spec ?? {}) as Record<string, unknown>, (old.spec ?? {}) as Record<string, unknown>, deepEqual) : []),
    ],
  },
  services: {
    ...base,
    nameValidator: nameIsDns1035Label,
    returnDeletedObject: true,
    prepareForCreate: resetStatus(),
    validate: (svc, old) => (old ? validateServiceUpdate(svc, old) : validateService(svc)),
  },
  endpoints: { ...base, allowCreateOnUpdate: true, validate: validateEndpoints },
  configmaps: { ...base, validate: (cm, old) => (old ? validateConfigMapUpdate(cm, old) : validateConfigMap(cm)) },
  events: { ...base, allowCreateOnUpdate: true, leaseSeconds: 3600 },
  deployments: {
    ...base,
    generation: 'specOrAnnotations',
    prepareForCreate: resetStatus(),
    // deploymentStatusStrategy keeps only spec and labels of the stored object: the deployment
    // controller writes the `deployment.kubernetes.io/revision` annotation with the status, and
    // that write bumps no generation (only the main resource's PrepareForUpdate does).
    prepareForStatusUpdate(obj, requested) {
      obj.metadata.annotations = requested.metadata?.annotations;
    },
    validate: (d, old) => [...validateDeployment(d), ...(old ? selectorImmutable(d, old) : [])],
  },
  replicasets: { ...base, generation: 'spec', prepareForCreate: resetStatus(), validate: (rs, old) => [...validateReplicaSet(rs), ...(old ? selectorImmutable(rs, old) : [])] },
  endpointslices: { ...base, generation: 'allButMetadata', validate: validateEndpointSlice },
  ingresses: { ...base, generation: 'spec', prepareForCreate: resetStatus(), validate: validateIngress },
  ingressclasses: { ...base, generation: 'spec' },
  leases: { ...base, allowCreateOnUpdate: true, allowUnconditionalUpdate: false },
};
for (const [plural, strategy] of Object.entries(STRATEGIES)) strategy.defaults = (obj) => defaultObject(plural, obj);

/** Whether an update from `old` to `obj` bumps metadata.generation under this rule. */
export function generationChanged(rule: NonNullable<Strategy['generation']>, obj: KubeObject, old: KubeObject): boolean {
  if (rule === 'spec') return !deepEqual(obj.spec ?? {}, old.spec ?? {});
  if (rule === 'specOrAnnotations') return !deepEqual(obj.spec ?? {}, old.spec ?? {}) || !deepEqual(obj.metadata.annotations ?? {}, old.metadata.annotations ?? {});
  const { metadata: _a, ...rest } = obj;
  const { metadata: _b, ...oldRest } = old;
  return !deepEqual(rest, oldRest);
}
