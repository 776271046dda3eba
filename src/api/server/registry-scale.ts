// The scale subresource of Deployments and ReplicaSets (`kubectl scale`): an autoscaling/v1 Scale
// made from the object (spec.replicas, status.replicas, the selector as a string), and an update
// that changes spec.replicas only (pkg/registry/apps/deployment/storage's ScaleREST).
import { clone, type KubeObject } from './object.ts';
import { groupResource, type Registry } from './registry.ts';
import { hasSubresource, type ResourceInfo } from './resources.ts';
import { LabelSelector, labelSelectorFromSpec } from './selectors.ts';
import * as errors from './status.ts';
import { fieldErrors } from './status.ts';

export interface Scale {
  apiVersion: 'autoscaling/v1';
  kind: 'Scale';
  metadata: { name?: string; namespace?: string; uid?: string; resourceVersion?: string; creationTimestamp?: string };
  spec: { replicas?: number };
  status: { replicas: number; selector?: string };
}

function toScale(obj: KubeObject): Scale {
  const { name, namespace, uid, resourceVersion, creationTimestamp } = obj.metadata;
  const selector = labelSelectorFromSpec(obj.spec?.selector as Parameters<typeof labelSelectorFromSpec>[0]);
  const status: Scale['status'] = { replicas: (obj.status?.replicas as number | undefined) ?? 0 };
  const text = selector instanceof LabelSelector ? selector.toString() : '';
  if (text) status.selector = text;
  return { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name, namespace, uid, resourceVersion, creationTimestamp }, spec: { replicas: (obj.spec?.replicas as number | undefined) ?? 0 }, status };
}

function checkScalable(r: ResourceInfo): void {
  if (!hasSubresource(r, 'scale')) throw errors.pathNotFound();
}

export function getScale(registry: Registry, r: ResourceInfo, namespace: string | undefined, name: string): Scale {
  checkScalable(r);
  return toScale(registry.get(r, namespace, name));
}

export function updateScale(registry: Registry, r: ResourceInfo, namespace: string | undefined, name: string, scale: Scale): Scale {
  checkScalable(r);
  const replicas = scale.spec?.replicas;
  if (replicas !== undefined && (!Number.isInteger(replicas) || replicas < 0)) {
    throw errors.invalid('autoscaling', 'Scale', name, [fieldErrors.invalid('spec.replicas', replicas, 'must be greater than or equal to 0')]);
  }
  if (scale.metadata?.name && scale.metadata.name !== name) {
    throw errors.badRequest(`the name of the object (${scale.metadata.name}) does not match the name on the URL (${name})`);
  }
  const updated = registry.guaranteedUpdate(r, namespace, name, (current) => {
    // A Scale that names a resourceVersion updates only that version of the object.
    const rv = scale.metadata?.resourceVersion;
    if (rv && rv !== current.metadata.resourceVersion) throw errors.conflict(groupResource(r), name, errors.OPTIMISTIC_LOCK_MESSAGE);
    const next = clone(current);
    next.spec = { ...next.spec, replicas: replicas ?? 0 };
    return next;
  });
  return toScale(updated);
}
