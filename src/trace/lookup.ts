// Finding the object a learner names on the command line: `app2-…-abcde`, `pod/app2-…`,
// `deploy/app2`, `svc/app2-service`, `kube-system/coredns-…`. Pure.
import type { ClusterView } from './view.ts';
import { isTerminating, type Pod, type Service } from '../api/types.ts';

export type ObjectKind = 'pod' | 'service' | 'deployment' | 'node';

const KIND_ALIASES: Record<string, ObjectKind> = {
  pod: 'pod', pods: 'pod', po: 'pod',
  svc: 'service', service: 'service', services: 'service',
  deploy: 'deployment', deployment: 'deployment', deployments: 'deployment',
  node: 'node', nodes: 'node', no: 'node',
};

export function kindOf(word: string): ObjectKind | undefined {
  return KIND_ALIASES[word.toLowerCase()];
}

/** "kind/name", "ns/name" or "name" -> its parts (a kind prefix wins over a namespace). */
export function splitRef(ref: string): { kind?: ObjectKind; namespace?: string; name: string } {
  const parts = ref.split('/');
  if (parts.length === 1) return { name: ref };
  if (parts.length === 2) {
    const kind = kindOf(parts[0]!);
    return kind ? { kind, name: parts[1]! } : { namespace: parts[0]!, name: parts[1]! };
  }
  if (parts.length === 3) {
    const kind = kindOf(parts[0]!);
    if (kind) return { kind, namespace: parts[1]!, name: parts[2]! };
  }
  throw new Error(`cannot read ${JSON.stringify(ref)}: use <name>, <kind>/<name> or <namespace>/<name>`);
}

const live = (p: Pod) => !isTerminating(p);

function byNamespace<T extends { metadata: { namespace: string } }>(xs: T[], namespace: string | undefined): T[] {
  return namespace ? xs.filter((x) => x.metadata.namespace === namespace) : xs;
}

/**
 * A pod by name (pod names are unique in the lab: each names a network namespace), or the first
 * running pod of a Deployment (`deploy/<name>`, as kubectl exec picks one).
 */
export function findPod(state: ClusterView, ref: string, namespace?: string): Pod {
  const r = splitRef(ref);
  const ns = r.namespace ?? namespace;
  const pods = byNamespace(Object.values(state.pods), ns);
  if (r.kind === 'deployment') {
    const mine = pods.filter((p) => p.metadata.annotations['lab/deployment'] === r.name && live(p)).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
    const running = mine.find((p) => p.status.phase === 'Running') ?? mine[0];
    if (!running) throw new Error(`deployment ${ns ? `${ns}/` : ''}${r.name} has no pod${deploymentNames(state).length ? ` (deployments: ${deploymentNames(state).join(', ')})` : ''}`);
    return running;
  }
  if (r.kind && r.kind !== 'pod') throw new Error(`${ref} is not a pod`);
  const p = pods.find((x) => x.metadata.name === r.name);
  if (p) return p;
  const names = Object.values(state.pods).map((x) => `${x.metadata.namespace}/${x.metadata.name}`).sort();
  const close = names.filter((n) => n.split('/')[1]!.startsWith(r.name));
  throw new Error(`pod ${JSON.stringify(r.name)} not found${ns ? ` in namespace ${ns}` : ''}${close.length ? `; did you mean ${close.join(', ')}?` : `; pods: ${names.join(', ') || 'none'}`}`);
}

function deploymentNames(state: ClusterView): string[] {
  return [...new Set(Object.values(state.pods).map((p) => p.metadata.annotations['lab/deployment']).filter((d): d is string => !!d))].sort();
}

/** A Service: in `namespace` when given, else in default, else the only one of that name. */
export function findService(state: ClusterView, ref: string, namespace?: string): Service {
  const r = splitRef(ref);
  if (r.kind && r.kind !== 'service') throw new Error(`${ref} is not a service`);
  const ns = r.namespace ?? namespace;
  const all = (state.services ?? []).filter((s) => s.metadata.name === r.name);
  const inNs = ns ? all.filter((s) => s.metadata.namespace === ns) : all.filter((s) => s.metadata.namespace === 'default');
  if (inNs.length === 1) return inNs[0]!;
  if (!ns && all.length === 1) return all[0]!;
  if (!ns && all.length > 1) throw new Error(`service ${r.name} exists in namespaces ${all.map((s) => s.metadata.namespace).join(', ')}: say which with -n`);
  const names = (state.services ?? []).map((s) => `${s.metadata.namespace}/${s.metadata.name}`).sort();
  throw new Error(`service ${JSON.stringify(r.name)} not found${ns ? ` in namespace ${ns}` : ''}; services: ${names.join(', ') || 'none'}`);
}

/** Which container of a pod: `-c`, or the first one (kubectl's default container). */
export function pickContainer(pod: Pod, name?: string): { name: string; defaulted: boolean } {
  const names = pod.spec.containers.map((c) => c.name);
  if (name) {
    if (!names.includes(name)) throw new Error(`container ${name} is not valid for pod ${pod.metadata.name}: choose one of [${names.join(' ')}]`);
    return { name, defaulted: false };
  }
  if (!names[0]) throw new Error(`pod ${pod.metadata.name} has no containers`);
  return { name: names[0], defaulted: names.length > 1 };
}
