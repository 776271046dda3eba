// `lab ui`'s crash flow on the picture: which elements a step of a crash lights (the pod, the
// Service and its edge to the pod, kube-proxy's chains), and whether the pod is in its Service.
// Pure and browser-safe (the page bundles it): the steps are src/trace/crash.ts's hops as
// `lab kill --trace` sees them (the API's watch stream, the Events, the node's rules), sent to the
// page one by one as they happen; the model is the picture as last drawn.
import { chainId, podId, svcId } from './ids.ts';
import type { UiModel } from './model.ts';

/** One hop of the crash flow, as the server streams it (src/trace/crash.ts's Hop). */
export interface CrashStepData {
  at: number;
  who: string;
  what: string;
  resourceVersion?: string;
  step?: 'kubelet' | 'API' | 'endpoints' | 'kube-proxy' | 'event' | 'file';
  direction?: 'out' | 'in';
  evidence?: string[];
  /** namespace/name of an EndpointSlice's Service. */
  service?: string;
  chains?: string[];
}

export const CRASH_ORDER = ['kubelet', 'API', 'endpoints', 'kube-proxy'] as const;

/**
 * The ids a step lights, those in the model only: always the pod; the kubelet's also the node it
 * runs on; the endpoints controller's the Service and the edges from the Service's group to the
 * pod; kube-proxy's its chains and the edges between them and to the pod (in nftables mode, where
 * no chain is drawn, the Service and its endpoint edge).
 */
export function crashLights(model: UiModel, pod: { namespace: string; name: string }, s: CrashStepData): string[] {
  const byId = new Map(model.elements.map((e) => [e.id, e]));
  const pid = podId(pod.namespace, pod.name);
  const out = new Set<string>([pid]);
  const edgesTo = (from: (id: string) => boolean) => model.elements.filter((e) => e.kind === 'edge' && e.target === pid && from(e.source!)).map((e) => e.id);
  const inGroup = (ns: string, name: string) => (id: string) => id === svcId(ns, name) || byId.get(id)?.parent === `group/${ns}/${name}`;
  if (s.step === 'kubelet') {
    const parent = byId.get(pid)?.parent;
    if (parent) out.add(parent);
  }
  const services = s.service ? [s.service] : [];
  if (s.step === 'endpoints' || (s.step === 'kube-proxy' && model.proxyMode !== 'iptables')) {
    // The Services whose group has an edge to the pod (kube-proxy's step names chains, not Services).
    if (!services.length) {
      for (const e of model.elements) if (e.kind === 'service' && e.describe?.namespace && edgesTo(inGroup(e.describe.namespace, e.describe.name)).length) services.push(`${e.describe.namespace}/${e.describe.name}`);
    }
    for (const svc of services) {
      const [ns, name] = svc.split('/') as [string, string];
      out.add(svcId(ns, name));
      for (const id of edgesTo(inGroup(ns, name))) out.add(id);
    }
  }
  if (s.step === 'kube-proxy') {
    const chains = (s.chains ?? []).map(chainId);
    for (const c of chains) out.add(c);
    for (const e of model.elements) {
      if (e.kind !== 'edge') continue;
      if (chains.includes(e.source!) && (chains.includes(e.target!) || e.target === pid)) out.add(e.id);
    }
  }
  return [...out].filter((id) => byId.has(id));
}

/** Whether the pod is in its Service's rules after these steps: out from its endpoint's leaving until kube-proxy wrote it back. */
export function inService(steps: CrashStepData[]): boolean {
  let inside = true;
  for (const s of steps) {
    if (s.step === 'endpoints' && s.direction === 'out') inside = false;
    if (s.step === 'kube-proxy') inside = s.direction === 'in';
  }
  return inside;
}

/** "+12 ms", "+1.4 s": a step's offset from the kill. */
export function offsetText(ms: number): string {
  return ms < 10_000 ? `+${ms} ms` : `+${(ms / 1000).toFixed(1)} s`;
}

/**
 * Whether the steps show the crash flow's four roles in order on the way out and again on the
 * way back (kubelet -> API -> endpoints -> kube-proxy, twice): what the page marks as complete.
 */
export function roundTrip(steps: CrashStepData[]): { out: boolean; back: boolean } {
  const follows = (dir: 'out' | 'in') => {
    let i = 0;
    for (const s of steps) if (s.direction === dir && s.step === CRASH_ORDER[i]) i++;
    return i === CRASH_ORDER.length;
  };
  return { out: follows('out'), back: follows('in') };
}
