// Which nodes a pod may go to by its nodeSelector and node affinity, as
// k8s.io/component-helpers/scheduling/corev1/nodeaffinity matches them for kube-scheduler's
// NodeAffinity plugin: every nodeSelector label equal, and (when there is a required node
// affinity) at least one of its nodeSelectorTerms matching. Within a term every matchExpression
// (on the node's labels) and every matchField (metadata.name, the only node field) must hold; a
// term with neither matches nothing. The API server does not validate affinity, so a term that
// does not parse (an unknown operator, Gt with two values) matches nothing either, as kube's lazy
// parser leaves it out.

export interface NodeSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

export interface NodeSelectorTerm {
  matchExpressions?: NodeSelectorRequirement[];
  matchFields?: NodeSelectorRequirement[];
}

export interface NodeAffinity {
  requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms?: NodeSelectorTerm[] };
  preferredDuringSchedulingIgnoredDuringExecution?: { weight: number; preference: NodeSelectorTerm }[];
}

export interface AffinityPodSpec {
  nodeSelector?: Record<string, string>;
  affinity?: { nodeAffinity?: NodeAffinity };
}

export interface AffinityNode {
  metadata: { name: string; labels?: Record<string, string> };
}

/** The only node field a matchField may name (kube's metav1.ObjectNameField). */
const NODE_NAME_FIELD = 'metadata.name';

/** labels.Requirement.Matches over a node's labels; undefined when the requirement does not parse. */
function labelRequirement(r: NodeSelectorRequirement, labels: Record<string, string>): boolean | undefined {
  const values = r.values ?? [];
  const has = Object.hasOwn(labels, r.key);
  const value = labels[r.key];
  switch (r.operator) {
    case 'In':
      return values.length === 0 ? undefined : has && values.includes(value!);
    case 'NotIn':
      return values.length === 0 ? undefined : !has || !values.includes(value!);
    case 'Exists':
      return values.length ? undefined : has;
    case 'DoesNotExist':
      return values.length ? undefined : !has;
    case 'Gt':
    case 'Lt': {
      // Both sides are int64s (strconv.ParseInt); a label that is not one never matches.
      if (values.length !== 1 || !/^[+-]?\d+$/.test(values[0]!)) return undefined;
      if (!has || !/^[+-]?\d+$/.test(value!)) return false;
      const [l, v] = [BigInt(value!), BigInt(values[0]!)];
      return r.operator === 'Gt' ? l > v : l < v;
    }
    default:
      return undefined;
  }
}

/** A field requirement (In or NotIn with exactly one value) over metadata.name. */
function fieldRequirement(r: NodeSelectorRequirement, nodeName: string): boolean | undefined {
  const values = r.values ?? [];
  if (values.length !== 1 || (r.operator !== 'In' && r.operator !== 'NotIn')) return undefined;
  const actual = r.key === NODE_NAME_FIELD ? nodeName : '';
  return r.operator === 'In' ? actual === values[0] : actual !== values[0];
}

/** Whether one term matches the node (false for an empty term or one that does not parse). */
export function termMatches(term: NodeSelectorTerm, node: AffinityNode): boolean {
  const exprs = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (exprs.length === 0 && fields.length === 0) return false;
  const labels = node.metadata.labels ?? {};
  let ok = true;
  for (const r of exprs) {
    const m = labelRequirement(r, labels);
    if (m === undefined) return false;
    ok &&= m;
  }
  for (const r of fields) {
    const m = fieldRequirement(r, node.metadata.name);
    if (m === undefined) return false;
    ok &&= m;
  }
  return ok;
}

/** RequiredNodeAffinity.Match: the nodeSelector, then any of the required terms. */
export function matchesRequiredNodeAffinity(spec: AffinityPodSpec, node: AffinityNode): boolean {
  const labels = node.metadata.labels ?? {};
  for (const [k, v] of Object.entries(spec.nodeSelector ?? {})) if (labels[k] !== v) return false;
  const required = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (!required) return true;
  return (required.nodeSelectorTerms ?? []).some((t) => termMatches(t, node));
}

/**
 * NodeAffinity's PreFilter: when every required term names nodes by `metadata.name In`, only those
 * nodes are looked at (the others are "didn't satisfy plugin(s) [NodeAffinity]"). `conflict` when
 * the terms name no node at all; undefined when any node may do.
 */
export function preFilterNodeNames(spec: AffinityPodSpec): Set<string> | 'conflict' | undefined {
  const terms = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  if (terms.length === 0) return undefined;
  let names: Set<string> | undefined;
  for (const t of terms) {
    let termNames: Set<string> | undefined;
    for (const r of t.matchFields ?? []) {
      if (r.key !== NODE_NAME_FIELD || r.operator !== 'In') continue;
      const s = new Set(r.values ?? []);
      termNames = termNames ? new Set([...termNames].filter((n) => s.has(n))) : s;
    }
    if (!termNames) return undefined; // this term names no node: every node is a candidate
    names = new Set([...(names ?? []), ...termNames]);
  }
  if (names && names.size === 0) return 'conflict';
  return names;
}

/** NodeAffinity's Score before normalizing: the weights of the preferred terms the node matches. */
export function preferredAffinityWeight(spec: AffinityPodSpec, node: AffinityNode): number {
  let sum = 0;
  for (const p of spec.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []) {
    if (p.weight !== 0 && termMatches(p.preference, node)) sum += p.weight;
  }
  return sum;
}
