// POST pods/<name>/binding: how the scheduler places a pod (kube's BindingREST.Create and
// assignPod): the pod gets spec.nodeName and the PodScheduled condition, once. A pod already on a
// node, or being deleted, is a 409 Conflict with kube's messages.
import { clone, rfc3339, type KubeObject } from './object.ts';
import type { Registry } from './registry.ts';
import * as errors from './status.ts';

export interface Binding {
  apiVersion?: string;
  kind?: string;
  metadata: { name?: string; namespace?: string };
  target: { apiVersion?: string; kind?: string; name: string };
}

export function bindPod(registry: Registry, namespace: string, podName: string, binding: Binding): KubeObject {
  const pods = registry.resource('', 'pods');
  const gr = { group: '', resource: 'pods' };
  if (binding.metadata?.name && binding.metadata.name !== podName) throw errors.badRequest(`the name of the object (${binding.metadata.name}) does not match the name on the URL (${podName})`);
  if (binding.target?.kind && binding.target.kind !== 'Node') throw errors.badRequest('Binding target kind must be Node');
  const node = binding.target?.name;
  if (!node) throw errors.invalid('', 'Binding', podName, [errors.fieldErrors.required('target.name')]);
  return registry.guaranteedUpdate(pods, namespace, podName, (pod) => {
    const p = clone(pod) as KubeObject & { spec: { nodeName?: string }; status?: { conditions?: { type: string; status: string; lastProbeTime: null; lastTransitionTime: string }[] } };
    if (p.metadata.deletionTimestamp) throw errors.conflict(gr, podName, `pod ${podName} is being deleted, cannot be assigned to a host`);
    if (p.spec.nodeName) throw errors.conflict(gr, podName, `pod ${podName} is already assigned to node ${errors.goQuote(p.spec.nodeName)}`);
    p.spec.nodeName = node;
    const conditions = (p.status?.conditions ?? []).filter((c) => c.type !== 'PodScheduled');
    p.status = { ...p.status, conditions: [{ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: rfc3339(registry.now()) }, ...conditions] };
    return p;
  }, { subresource: 'binding' });
}
