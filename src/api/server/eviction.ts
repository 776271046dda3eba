// POST pods/<name>/eviction, the Eviction API that `kubectl drain` uses (pkg/registry/core/pod/
// storage/eviction.go): a policy/v1 (or v1beta1) Eviction names the pod and may carry
// DeleteOptions. The pod gets the condition DisruptionTarget=True (reason EvictionByEvictionAPI,
// "Eviction API: evicting"), then is deleted as a DELETE with those options would delete it
// (gracefully, with its terminationGracePeriodSeconds); the answer is a Success Status, 201.
//
// PodDisruptionBudgets: kube-apiserver checks the one budget that selects the pod (429 "Cannot
// evict pod as it would violate the pod's disruption budget." when it allows no disruption) unless
// the pod is Pending, finished or already being deleted. The lab serves no PodDisruptionBudget
// (the policy group is not served), so no pod has one and every eviction goes through.
import { KeyNotFoundError } from '../storage/kine.ts';
import { rfc3339, type KubeObject } from './object.ts';
import type { Registry } from './registry.ts';
import type { DeleteOptions } from './registry-delete.ts';
import type { ResourceInfo } from './resources.ts';
import * as errors from './status.ts';
import { updatePodCondition, type PodCondition } from '../pod-conditions.ts';
import { fieldErrors, type Status } from './status.ts';

export interface Eviction {
  metadata?: { name?: string; namespace?: string };
  deleteOptions?: DeleteOptions & { dryRun?: string[] };
}

/** DisruptionTarget=True, reason EvictionByEvictionAPI (podutil.UpdatePodCondition). */
function withDisruptionTarget(pod: KubeObject, now: string): KubeObject {
  const status = (pod.status ??= {});
  const conditions = (status.conditions as PodCondition[] | undefined) ?? [];
  status.conditions = updatePodCondition(conditions, { type: 'DisruptionTarget', status: 'True', reason: 'EvictionByEvictionAPI', message: 'Eviction API: evicting', lastProbeTime: null, lastTransitionTime: now }) ?? conditions;
  return pod;
}

export function evictPod(registry: Registry, pods: ResourceInfo, namespace: string, name: string, eviction: Eviction, dryRunQuery: boolean): Status {
  if (eviction.metadata?.name !== name) throw errors.badRequest('name in URL does not match name in Eviction object');
  const options: DeleteOptions & { dryRun?: string[] } = { ...eviction.deleteOptions };
  const dryRunBody = options.dryRun ?? [];
  if (dryRunBody.some((d) => d !== 'All')) throw errors.invalid('policy', 'Eviction', name, [fieldErrors.notSupported('deleteOptions.dryRun', dryRunBody, ['All'])]);
  delete options.dryRun;
  const dryRun = dryRunQuery || dryRunBody.length > 0;
  const pod = registry.get(pods, namespace, name);
  const pre = options.preconditions ?? {};
  const gr = { group: '', resource: 'pods' };
  if (pre.uid && pre.uid !== pod.metadata.uid) throw errors.conflict(gr, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${pod.metadata.uid ?? ''}`);
  if (pre.resourceVersion && pre.resourceVersion !== pod.metadata.resourceVersion) {
    throw errors.conflict(gr, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${pod.metadata.resourceVersion ?? ''}`);
  }
  // dryRun=All: checked, nothing written.
  if (dryRun) return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 };
  try {
    const uid = pod.metadata.uid;
    const updated = registry.guaranteedUpdate(pods, namespace, name, (cur) => withDisruptionTarget(cur, rfc3339(registry.now())), { subresource: 'status', uidPrecondition: uid });
    // The condition write moved the resourceVersion: a precondition on it names the new one.
    if (pre.resourceVersion) options.preconditions = { ...pre, resourceVersion: updated.metadata.resourceVersion };
    registry.delete(pods, namespace, name, options);
  } catch (err) {
    if (err instanceof KeyNotFoundError) throw errors.notFound(gr, name);
    throw err;
  }
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 };
}
