// zod's issues turned into the lab's wording: one message per field, unknown fields named one by one
// (with a suggestion when the field is close to a known one), like `kubectl apply --validate=strict`.

import type { z } from 'zod';
import type { PathSegment } from '../errors.ts';
import { describe } from './fields.ts';

export interface FieldProblem {
  path: PathSegment[];
  message: string;
}

/**
 * Real Kubernetes fields the lab does not implement. Refused like unknown fields, but said plainly so
 * that nobody hunts for a typo.
 */
const UNSUPPORTED = new Set([
  // securityContext: the pod's (a container's is supported, see unknownFieldMessage); then fields of either.
  'resources', 'imagePullPolicy', 'securityContext', 'seccompProfile', 'seLinuxOptions', 'appArmorProfile',
  'procMount', 'windowsOptions', 'fsGroup', 'fsGroupChangePolicy', 'supplementalGroups', 'sysctls',
  'hostUsers', 'runtimeClassName', 'tolerations', 'affinity',
  'matchExpressions', 'tls', 'status', 'valueFrom', 'envFrom', 'hostPort', 'serviceAccountName', 'serviceAccount', 'initContainers', 'lifecycle', 'imagePullSecrets',
  'revisionHistoryLimit', 'progressDeadlineSeconds', 'minReadySeconds', 'paused', 'loadBalancerIP',
  'loadBalancerClass', 'healthCheckNodePort', 'ipFamilies', 'ipFamilyPolicy', 'clusterIPs',
  'publishNotReadyAddresses', 'allocateLoadBalancerNodePorts', 'binaryData', 'immutable', 'defaultMode',
  'mode', 'uid', 'resourceVersion', 'generation', 'managedFields', 'creationTimestamp', 'finalizers',
  'ownerReferences', 'generateName', 'dnsConfig', 'priorityClassName', 'topologySpreadConstraints',
  'httpHeaders', 'host', 'grpc', 'terminationMessagePath', 'terminationMessagePolicy', 'stdin', 'tty',
  'ephemeralContainers', 'secret', 'persistentVolumeClaim', 'projected', 'downwardAPI', 'resource',
  'appProtocol', 'medium', 'sizeLimit', 'subPathExpr', 'mountPropagation', 'readinessGates',
  'shareProcessNamespace', 'automountServiceAccountToken', 'trafficDistribution',
]);

type Def = {
  type: string;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  innerType?: z.ZodType;
  in?: z.ZodType;
  valueType?: z.ZodType;
};

function defOf(schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

/** The field names an object schema accepts at `path` (empty when the path leads elsewhere). */
export function knownKeysAt(schema: z.ZodType, path: readonly PathSegment[]): string[] {
  let s: z.ZodType | undefined = schema;
  let i = 0;
  while (s) {
    const def = defOf(s);
    if (def.innerType) s = def.innerType;
    else if (def.type === 'pipe') s = def.in;
    else if (i === path.length) return def.type === 'object' && def.shape ? Object.keys(def.shape) : [];
    else if (def.type === 'object') s = def.shape?.[String(path[i++])];
    else if (def.type === 'array') {
      s = def.element;
      i++;
    } else if (def.type === 'record') {
      s = def.valueType;
      i++;
    }
    else return [];
  }
  return [];
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
    }
  }
  return d[a.length]![b.length]!;
}

export function unknownFieldMessage(key: string, known: readonly string[]): string {
  const shown = JSON.stringify(key);
  if (known.includes(key)) return `field ${shown} is not allowed here`;
  if (key === 'securityContext') return `field ${shown} is a Kubernetes field the lab supports only in a container (privileged, allowPrivilegeEscalation, capabilities, runAsUser, runAsGroup, runAsNonRoot, readOnlyRootFilesystem); remove it here`;
  if (UNSUPPORTED.has(key)) return `field ${shown} is a Kubernetes field the lab does not support; remove it`;
  const close = known
    .map((k) => ({ k, d: editDistance(key, k) }))
    .filter(({ k, d }) => d <= Math.max(1, Math.floor(k.length / 4)))
    .sort((a, b) => a.d - b.d)[0];
  const suggestion = close ? ` (did you mean ${JSON.stringify(close.k)}?)` : '';
  const list = known.length > 0 && known.length <= 12 ? `; known fields: ${known.join(', ')}` : '';
  return `unknown field ${shown}${suggestion}${close ? '' : list}`;
}

const WHAT: Record<string, string> = {
  object: 'a mapping',
  record: 'a mapping',
  array: 'a list',
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
};

type RawIssue = z.core.$ZodIssue & { input?: unknown };

/** One problem per field, in the order zod found them; unknown keys become one problem each. */
export function fieldProblems(schema: z.ZodType, issues: readonly RawIssue[]): FieldProblem[] {
  const out: FieldProblem[] = [];
  const seen = new Set<string>();
  const push = (path: PathSegment[], message: string) => {
    const k = JSON.stringify(path);
    if (seen.has(k)) return;
    seen.add(k);
    out.push({ path, message });
  };
  for (const issue of issues) {
    const path = issue.path.filter((p): p is PathSegment => typeof p !== 'symbol');
    switch (issue.code) {
      case 'unrecognized_keys': {
        const known = knownKeysAt(schema, path);
        for (const key of issue.keys) push([...path, key], unknownFieldMessage(key, known));
        break;
      }
      case 'invalid_type': {
        const expected = WHAT[issue.expected] ?? issue.expected;
        push(path, issue.input === undefined ? 'is required' : `must be ${expected}, got ${describe(issue.input)}`);
        break;
      }
      case 'invalid_value':
        push(path, `must be ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}, got ${describe(issue.input)}`);
        break;
      default:
        push(path, issue.message);
    }
  }
  return out;
}
