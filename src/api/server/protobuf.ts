// Request bodies in Kubernetes' protobuf (application/vnd.kubernetes.protobuf), what kubectl's
// typed clients send: `kubectl create service|deployment|configmap|namespace|ingress` and
// `kubectl run`. The body is the 4 bytes `k8s\0` and a runtime.Unknown (typeMeta, raw), raw the
// object's gogo-protobuf encoding; this turns it into the JSON the same object would have been, so
// the rest of the request (decoding, defaulting, validation) is the JSON path's. Field numbers are
// k8s.io/api v0.32's generated.proto for the structs those commands fill in; a field of a struct
// not listed here is skipped, as gogo skips unknown fields. Go's omitempty is applied: a
// non-pointer field at its zero value ("" / 0 / false / empty) is left out, a pointer one (marked
// `?`) is kept when present.

type Spec = Readonly<Record<number, string>>;

// `name:type`: type is `string`, `int` (varint), `bool`, a struct of this table, `[]T`, `map`
// (map<string,string>), `IntOrString`, `Quantity`; a leading `?` keeps a present zero value.
const STRUCTS: Readonly<Record<string, Spec>> = {
  Unknown: { 1: 'typeMeta:TypeMeta', 2: 'raw:bytes' },
  TypeMeta: { 1: 'apiVersion:string', 2: 'kind:string' },
  ObjectMeta: {
    1: 'name:string', 2: 'generateName:string', 3: 'namespace:string', 5: 'uid:string', 6: 'resourceVersion:string', 7: 'generation:int',
    11: 'labels:map', 12: 'annotations:map', 13: 'ownerReferences:[]OwnerReference', 14: 'finalizers:[]string',
  },
  OwnerReference: { 1: 'kind:string', 3: 'name:string', 4: 'uid:string', 5: 'apiVersion:string', 6: 'controller:?bool', 7: 'blockOwnerDeletion:?bool' },
  LabelSelector: { 1: 'matchLabels:map', 2: 'matchExpressions:[]LabelSelectorRequirement' },
  LabelSelectorRequirement: { 1: 'key:string', 2: 'operator:string', 3: 'values:[]string' },
  Namespace: { 1: 'metadata:ObjectMeta', 2: 'spec:NamespaceSpec' },
  NamespaceSpec: { 1: 'finalizers:[]string' },
  ConfigMap: { 1: 'metadata:ObjectMeta', 2: 'data:map', 3: 'binaryData:bytesmap', 4: 'immutable:?bool' },
  Service: { 1: 'metadata:ObjectMeta', 2: 'spec:ServiceSpec' },
  ServiceSpec: {
    1: 'ports:[]ServicePort', 2: 'selector:map', 3: 'clusterIP:string', 4: 'type:string', 5: 'externalIPs:[]string', 7: 'sessionAffinity:string',
    8: 'loadBalancerIP:string', 9: 'loadBalancerSourceRanges:[]string', 10: 'externalName:string', 11: 'externalTrafficPolicy:string',
    12: 'healthCheckNodePort:int', 13: 'publishNotReadyAddresses:bool', 17: 'ipFamilyPolicy:?string', 18: 'clusterIPs:[]string',
    19: 'ipFamilies:[]string', 20: 'allocateLoadBalancerNodePorts:?bool', 21: 'loadBalancerClass:?string', 22: 'internalTrafficPolicy:?string',
  },
  ServicePort: { 1: 'name:string', 2: 'protocol:string', 3: 'port:int', 4: 'targetPort:IntOrString', 5: 'nodePort:int', 6: 'appProtocol:?string' },
  Deployment: { 1: 'metadata:ObjectMeta', 2: 'spec:DeploymentSpec' },
  DeploymentSpec: {
    1: 'replicas:?int', 2: 'selector:?LabelSelector', 3: 'template:PodTemplateSpec', 4: 'strategy:DeploymentStrategy', 5: 'minReadySeconds:int',
    6: 'revisionHistoryLimit:?int', 7: 'paused:bool', 9: 'progressDeadlineSeconds:?int',
  },
  DeploymentStrategy: { 1: 'type:string', 2: 'rollingUpdate:?RollingUpdateDeployment' },
  RollingUpdateDeployment: { 1: 'maxUnavailable:?IntOrString', 2: 'maxSurge:?IntOrString' },
  PodTemplateSpec: { 1: 'metadata:ObjectMeta', 2: 'spec:PodSpec' },
  Pod: { 1: 'metadata:ObjectMeta', 2: 'spec:PodSpec' },
  PodSpec: {
    2: 'containers:[]Container', 3: 'restartPolicy:string', 4: 'terminationGracePeriodSeconds:?int', 5: 'activeDeadlineSeconds:?int',
    6: 'dnsPolicy:string', 7: 'nodeSelector:map', 8: 'serviceAccountName:string', 10: 'nodeName:string', 11: 'hostNetwork:bool',
    16: 'hostname:string', 17: 'subdomain:string', 19: 'schedulerName:string', 20: 'initContainers:[]Container', 24: 'priorityClassName:string',
  },
  Container: {
    1: 'name:string', 2: 'image:string', 3: 'command:[]string', 4: 'args:[]string', 5: 'workingDir:string', 6: 'ports:[]ContainerPort',
    7: 'env:[]EnvVar', 8: 'resources:ResourceRequirements', 13: 'terminationMessagePath:string', 14: 'imagePullPolicy:string',
    16: 'stdin:bool', 17: 'stdinOnce:bool', 18: 'tty:bool', 20: 'terminationMessagePolicy:string',
  },
  ContainerPort: { 1: 'name:string', 2: 'hostPort:int', 3: 'containerPort:int', 4: 'protocol:string', 5: 'hostIP:string' },
  EnvVar: { 1: 'name:string', 2: 'value:string' },
  ResourceRequirements: { 1: 'limits:quantitymap', 2: 'requests:quantitymap' },
  Ingress: { 1: 'metadata:ObjectMeta', 2: 'spec:IngressSpec' },
  IngressSpec: { 1: 'defaultBackend:?IngressBackend', 2: 'tls:[]IngressTLS', 3: 'rules:[]IngressRule', 4: 'ingressClassName:?string' },
  IngressTLS: { 1: 'hosts:[]string', 2: 'secretName:string' },
  // IngressRuleValue is inlined in JSON: its `http` becomes the rule's.
  IngressRule: { 1: 'host:string', 2: '...:IngressRuleValue' },
  IngressRuleValue: { 1: 'http:?HTTPIngressRuleValue' },
  HTTPIngressRuleValue: { 1: 'paths:[]HTTPIngressPath' },
  HTTPIngressPath: { 1: 'path:string', 2: 'backend:IngressBackend', 3: 'pathType:?string' },
  IngressBackend: { 4: 'service:?IngressServiceBackend' },
  IngressServiceBackend: { 1: 'name:string', 2: 'port:ServiceBackendPort' },
  ServiceBackendPort: { 1: 'name:string', 2: 'number:int' },
};

/** The kinds whose protobuf this reads, by apiVersion/kind. */
const KINDS: Readonly<Record<string, string>> = {
  'v1/Namespace': 'Namespace',
  'v1/ConfigMap': 'ConfigMap',
  'v1/Service': 'Service',
  'v1/Pod': 'Pod',
  'apps/v1/Deployment': 'Deployment',
  'networking.k8s.io/v1/Ingress': 'Ingress',
};

export const PROTOBUF_MEDIA_TYPE = 'application/vnd.kubernetes.protobuf';
const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

export class ProtobufError extends Error {}

interface Field {
  num: number;
  wire: number;
  value: bigint | Buffer;
}

function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let i = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (i >= buf.length) throw new ProtobufError('truncated varint');
      const b = buf[i++]!;
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return result;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const key = varint();
    const num = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (wire === 0) out.push({ num, wire, value: varint() });
    else if (wire === 2) {
      const len = Number(varint());
      if (i + len > buf.length) throw new ProtobufError('truncated field');
      out.push({ num, wire, value: buf.subarray(i, i + len) });
      i += len;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else throw new ProtobufError(`unsupported wire type ${wire}`);
  }
  return out;
}

const bytesOf = (f: Field) => (Buffer.isBuffer(f.value) ? f.value : Buffer.alloc(0));
const intOf = (f: Field) => Number(BigInt.asIntN(64, typeof f.value === 'bigint' ? f.value : 0n));

function mapEntry(f: Field): [string, Buffer] {
  let key = '';
  let value: Buffer = Buffer.alloc(0);
  for (const e of fields(bytesOf(f))) {
    if (e.num === 1) key = bytesOf(e).toString('utf8');
    else if (e.num === 2) value = bytesOf(e);
  }
  return [key, value];
}

/** resource.Quantity's protobuf: a message whose field 1 is the string form. */
const quantity = (b: Buffer) => fields(b).find((f) => f.num === 1)?.value.toString() ?? '';

function intOrString(b: Buffer): number | string {
  let type = 0;
  let intVal = 0;
  let strVal = '';
  for (const f of fields(b)) {
    if (f.num === 1) type = intOf(f);
    else if (f.num === 2) intVal = intOf(f);
    else if (f.num === 3) strVal = bytesOf(f).toString('utf8');
  }
  return type === 1 ? strVal : intVal;
}

const isEmpty = (v: unknown) => v === '' || v === 0 || v === false || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0);

function scalar(type: string, f: Field): unknown {
  switch (type) {
    case 'string':
      return bytesOf(f).toString('utf8');
    case 'int':
      return intOf(f);
    case 'bool':
      return intOf(f) !== 0;
    case 'IntOrString':
      return intOrString(bytesOf(f));
    case 'bytes':
      return bytesOf(f);
    default:
      return decodeStruct(type, bytesOf(f));
  }
}

function decodeStruct(name: string, buf: Buffer): Record<string, unknown> {
  const spec = STRUCTS[name];
  if (!spec) throw new ProtobufError(`no protobuf schema for ${name}`);
  const out: Record<string, unknown> = {};
  for (const f of fields(buf)) {
    const def = spec[f.num];
    if (!def) continue;
    const [key, rawType] = def.split(':') as [string, string];
    const pointer = rawType.startsWith('?');
    const type = pointer ? rawType.slice(1) : rawType;
    if (type === 'map' || type === 'bytesmap' || type === 'quantitymap') {
      const [k, v] = mapEntry(f);
      const m = (out[key] ??= {}) as Record<string, string>;
      m[k] = type === 'map' ? v.toString('utf8') : type === 'bytesmap' ? v.toString('base64') : quantity(v);
    } else if (type.startsWith('[]')) {
      ((out[key] ??= []) as unknown[]).push(scalar(type.slice(2), f));
    } else if (key === '...') {
      Object.assign(out, scalar(type, f));
    } else {
      const value = scalar(type, f);
      if (pointer || !isEmpty(value)) out[key] = value;
      else delete out[key];
    }
  }
  return out;
}

/** The JSON object of a protobuf request body (`k8s\0` + runtime.Unknown); ProtobufError when it is not one this reads. */
export function decodeProtobuf(body: Buffer): Record<string, unknown> {
  if (body.length < 4 || !body.subarray(0, 4).equals(MAGIC)) throw new ProtobufError('provided object is not a protobuf message (missing the k8s magic prefix)');
  const unknown = decodeStruct('Unknown', body.subarray(4));
  const typeMeta = (unknown.typeMeta ?? {}) as { apiVersion?: string; kind?: string };
  const struct = KINDS[`${typeMeta.apiVersion ?? ''}/${typeMeta.kind ?? ''}`];
  if (!struct) throw new ProtobufError(`no protobuf schema for ${typeMeta.apiVersion ?? ''}, Kind=${typeMeta.kind ?? ''}`);
  const raw = Buffer.isBuffer(unknown.raw) ? unknown.raw : Buffer.alloc(0);
  return { apiVersion: typeMeta.apiVersion, kind: typeMeta.kind, ...decodeStruct(struct, raw) };
}
