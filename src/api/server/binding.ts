// POST pods/<name>/binding, how the scheduler places a pod (pkg/registry/core/pod/storage's
// BindingREST): the pod gets spec.nodeName, the Binding's annotations and the condition
// PodScheduled=True in one write, made at the storage level as kube makes it (the pod strategy
// would keep status out of a write through the main resource), and only if the pod is not bound
// yet, not being deleted and not gated: otherwise 409 Conflict on pods/binding with kube's text.
import { KeyNotFoundError, RevisionConflictError } from '../storage/kine.ts';
import { clone, decodeFromStorage, encodeForStorage, normalize, rfc3339, type KubeObject } from './object.ts';
import type { Registry } from './registry.ts';
import { storageKey, type ResourceInfo } from './resources.ts';
import * as errors from './status.ts';
import { updatePodCondition, type PodCondition } from '../pod-conditions.ts';
import { fieldErrors, type Status } from './status.ts';

export interface Binding {
  metadata: { name?: string; namespace?: string; uid?: string; resourceVersion?: string; annotations?: Record<string, string> };
  target?: { kind?: string; name?: string };
}

/** PodScheduled=True (podutil.UpdatePodCondition: a new transition time only when the status changes). */
function setScheduled(pod: KubeObject, now: string): void {
  const status = (pod.status ??= {});
  const conditions = (status.conditions as PodCondition[] | undefined) ?? [];
  status.conditions = updatePodCondition(conditions, { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: now }) ?? conditions;
}

export function bindPod(registry: Registry, pods: ResourceInfo, namespace: string, name: string, binding: Binding, dryRun: boolean): Status {
  if (binding.metadata.name !== name) throw errors.badRequest('name in URL does not match name in Binding object');
  // ValidatePodBinding; kube returns its aggregate as a plain error, which becomes a 500 without a reason.
  const errs = [];
  const kind = binding.target?.kind ?? '';
  if (kind !== '' && kind !== 'Node') errs.push(fieldErrors.notSupported('target.kind', kind, ['Node', '<empty>']));
  if (!binding.target?.name) errs.push(fieldErrors.required('target.name'));
  if (errs.length) throw new errors.StatusError({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: errors.aggregateMessage(errs), code: 500 });
  const node = binding.target!.name!;
  const gr = { group: '', resource: 'pods' };
  const refuse = (why: string) => errors.conflict({ group: '', resource: 'pods/binding' }, name, why);
  const key = storageKey(pods, namespace, name);
  for (;;) {
    const kv = registry.store.get(key);
    if (!kv) throw errors.notFound(gr, name);
    const pod = decodeFromStorage(kv.value, kv.modRevision);
    const { uid, resourceVersion } = binding.metadata;
    if (uid && uid !== pod.metadata.uid) throw errors.conflict(gr, name, `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${pod.metadata.uid ?? ''}`);
    if (resourceVersion && resourceVersion !== pod.metadata.resourceVersion) throw errors.conflict(gr, name, errors.OPTIMISTIC_LOCK_MESSAGE);
    if (pod.metadata.deletionTimestamp) throw refuse(`pod ${name} is being deleted, cannot be assigned to a host`);
    if (pod.spec?.nodeName) throw refuse(`pod ${name} is already assigned to node ${errors.goQuote(String(pod.spec.nodeName))}`);
    if (((pod.spec?.schedulingGates as unknown[] | undefined) ?? []).length > 0) throw refuse(`pod ${name} has non-empty .spec.schedulingGates`);
    const next = clone(pod);
    next.spec = { ...next.spec, nodeName: node };
    if (binding.metadata.annotations) next.metadata.annotations = { ...next.metadata.annotations, ...binding.metadata.annotations };
    setScheduled(next, rfc3339(registry.now()));
    if (dryRun) break;
    try {
      registry.store.update(key, encodeForStorage(normalize(next)), kv.modRevision, kv.lease);
      break;
    } catch (err) {
      if (err instanceof RevisionConflictError || err instanceof KeyNotFoundError) continue;
      throw err;
    }
  }
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 };
}
