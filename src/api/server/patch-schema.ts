// What a strategic merge patch needs to know about the built-in types: for each list field, its
// patchStrategy and patchMergeKey, read from the struct tags of k8s.io/api v0.32.4 (core/v1,
// apps/v1, discovery/v1, networking/v1, coordination/v1, autoscaling/v1) and of
// k8s.io/apimachinery's meta/v1 ObjectMeta. kube-apiserver looks them up by reflection on the Go
// type (strategicpatch.PatchMetaFromStruct); here they are a table.
//
// Every `patchStrategy` tag of the types the lab serves (a `+listType=map` marker without the tag
// does not count: server-side apply reads those, a strategic merge patch replaces such a list):
//   ObjectMeta            ownerReferences merge/uid, finalizers merge (a list of strings)
//   PodSpec               volumes merge,retainKeys/name; initContainers, containers merge/name;
//                         ephemeralContainers merge/name; imagePullSecrets merge/name;
//                         hostAliases merge/ip; topologySpreadConstraints merge/topologyKey;
//                         schedulingGates merge/name; resourceClaims merge,retainKeys/name
//   Container, EphemeralContainer  ports merge/containerPort, env merge/name,
//                         volumeMounts merge/mountPath, volumeDevices merge/devicePath
//   PodStatus             conditions merge/type, hostIPs merge/ip, podIPs merge/ip,
//                         resourceClaimStatuses merge,retainKeys/name
//   ContainerStatus       volumeMounts merge/mountPath, allocatedResourcesStatus merge/name (never
//                         reached: containerStatuses, initContainerStatuses and
//                         ephemeralContainerStatuses themselves are atomic)
//   ServiceSpec           ports merge/port (its +listMapKey is port and protocol; the patch uses port)
//   ServiceStatus         conditions merge/type
//   NodeSpec              podCIDRs merge (strings); taints have no tag: atomic
//   NodeStatus            conditions merge/type, addresses merge/type
//   NamespaceStatus       conditions merge/type
//   DeploymentSpec        strategy retainKeys (a map, not a list)
//   DeploymentStatus, ReplicaSetStatus  conditions merge/type
// No tag at all in discovery/v1 (EndpointSlice), networking/v1 (Ingress, IngressClass),
// coordination/v1 (Lease) or autoscaling/v1 (Scale); Endpoints' subsets, a Pod's tolerations,
// a container's args, command, envFrom and resizePolicy, and everything else are atomic: a patch
// replaces them whole.

export interface FieldMeta {
  /** patchStrategy split at commas (`merge`, `retainKeys`); absent for a field without the tag. */
  strategies?: readonly string[];
  patchMergeKey?: string;
  /** The struct type of the field, or of the list's elements. */
  type?: StructType;
  /** reflect.Kind of a list's element type (`struct`, `string`): strategicpatch names it in errors. */
  elem?: string;
}

export interface StructType {
  /** The Go type's name, for reading; strategicpatch's messages name only its kind, `struct`. */
  name: string;
  fields: Readonly<Record<string, FieldMeta>>;
}

const mergeBy = (patchMergeKey: string, type?: StructType): FieldMeta => ({ strategies: ['merge'], patchMergeKey, elem: 'struct', ...(type ? { type } : {}) });
const conditions = mergeBy('type');

export const OBJECT_META: StructType = {
  name: 'ObjectMeta',
  fields: { ownerReferences: mergeBy('uid'), finalizers: { strategies: ['merge'], elem: 'string' } },
};

const CONTAINER_FIELDS = {
  ports: mergeBy('containerPort'),
  env: mergeBy('name'),
  volumeMounts: mergeBy('mountPath'),
  volumeDevices: mergeBy('devicePath'),
};
const CONTAINER: StructType = { name: 'Container', fields: CONTAINER_FIELDS };
const EPHEMERAL_CONTAINER: StructType = { name: 'EphemeralContainer', fields: CONTAINER_FIELDS };

const POD_SPEC: StructType = {
  name: 'PodSpec',
  fields: {
    volumes: { strategies: ['merge', 'retainKeys'], patchMergeKey: 'name', elem: 'struct' },
    initContainers: mergeBy('name', CONTAINER),
    containers: mergeBy('name', CONTAINER),
    ephemeralContainers: mergeBy('name', EPHEMERAL_CONTAINER),
    imagePullSecrets: mergeBy('name'),
    hostAliases: mergeBy('ip'),
    topologySpreadConstraints: mergeBy('topologyKey'),
    schedulingGates: mergeBy('name'),
    resourceClaims: { strategies: ['merge', 'retainKeys'], patchMergeKey: 'name', elem: 'struct' },
  },
};

const CONTAINER_STATUS: StructType = {
  name: 'ContainerStatus',
  fields: { volumeMounts: mergeBy('mountPath'), allocatedResourcesStatus: mergeBy('name') },
};
const atomicStatuses: FieldMeta = { type: CONTAINER_STATUS, elem: 'struct' };

const POD_STATUS: StructType = {
  name: 'PodStatus',
  fields: {
    conditions,
    hostIPs: mergeBy('ip'),
    podIPs: mergeBy('ip'),
    resourceClaimStatuses: { strategies: ['merge', 'retainKeys'], patchMergeKey: 'name', elem: 'struct' },
    initContainerStatuses: atomicStatuses,
    containerStatuses: atomicStatuses,
    ephemeralContainerStatuses: atomicStatuses,
  },
};

const POD_TEMPLATE_SPEC: StructType = { name: 'PodTemplateSpec', fields: { metadata: { type: OBJECT_META }, spec: { type: POD_SPEC } } };

const root = (name: string, fields: Record<string, FieldMeta> = {}): StructType => ({ name, fields: { metadata: { type: OBJECT_META }, ...fields } });
const struct = (name: string, fields: Record<string, FieldMeta>): FieldMeta => ({ type: { name, fields } });

/** The top-level type of each kind the lab serves, by `group/Kind` (core kinds with an empty group). */
export const KINDS: Readonly<Record<string, StructType>> = {
  '/Pod': root('Pod', { spec: { type: POD_SPEC }, status: { type: POD_STATUS } }),
  '/Service': root('Service', {
    spec: struct('ServiceSpec', { ports: mergeBy('port') }),
    status: struct('ServiceStatus', { conditions }),
  }),
  '/Endpoints': root('Endpoints'),
  '/ConfigMap': root('ConfigMap'),
  '/Node': root('Node', {
    spec: struct('NodeSpec', { podCIDRs: { strategies: ['merge'], elem: 'string' } }),
    status: struct('NodeStatus', { conditions, addresses: mergeBy('type') }),
  }),
  '/Namespace': root('Namespace', { status: struct('NamespaceStatus', { conditions }) }),
  '/Event': root('Event'),
  'apps/Deployment': root('Deployment', {
    spec: struct('DeploymentSpec', { strategy: { strategies: ['retainKeys'] }, template: { type: POD_TEMPLATE_SPEC } }),
    status: struct('DeploymentStatus', { conditions }),
  }),
  'apps/ReplicaSet': root('ReplicaSet', {
    spec: struct('ReplicaSetSpec', { template: { type: POD_TEMPLATE_SPEC } }),
    status: struct('ReplicaSetStatus', { conditions }),
  }),
  'autoscaling/Scale': root('Scale'),
  'discovery.k8s.io/EndpointSlice': root('EndpointSlice'),
  'networking.k8s.io/Ingress': root('Ingress'),
  'networking.k8s.io/IngressClass': root('IngressClass'),
  'coordination.k8s.io/Lease': root('Lease'),
};

/** The type a strategic merge patch of this kind is applied with, or undefined (kube: a custom resource). */
export function schemaFor(kind: { group: string; kind: string }): StructType | undefined {
  return KINDS[`${kind.group}/${kind.kind}`];
}
