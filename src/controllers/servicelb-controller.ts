// k3s's ServiceLB (Klipper LB, pkg/cloudprovider/servicelb.go) as a watch-driven controller: a
// Service of type LoadBalancer (without a spec.loadBalancerClass, which names another
// implementation) gets status.loadBalancer.ingress, so `kubectl get svc` shows an EXTERNAL-IP
// and the Ingress controller can publish it. A Service that stops being one has its status cleared.
//
// k3s runs a svclb DaemonSet per Service whose pods forward the node's port, and lists the nodes
// those pods are ready on (getStatus/podIPs). The lab runs no svclb pods (kube-proxy's rules
// already answer on the node's addresses), so it lists the nodes where such a pod would be
// running and ready:
//  - the DaemonSet's nodes: all, unless some node carries the svccontroller.k3s.cattle.io/enablelb
//    label (any value): then those labelled "true" (and, for a Service labelled
//    svccontroller.k3s.cattle.io/lbpool=<pool>, labelled with that pool too);
//  - whose NoSchedule/NoExecute taints the svclb pod tolerates (its own tolerations and the ones
//    the DaemonSet controller adds to every daemon pod), and that are Ready;
//  - for externalTrafficPolicy Local, only nodes with a ready pod endpoint of the Service;
// then their ExternalIPs if any of them has one, else their InternalIPs; IPv4, sorted as strings
// (Go's sort.Strings), so the order is stable whatever order the nodes come in.
import { Controller, type InformerFactory } from '../client/controller.ts';
import { objectKey, type Client, type KubeObject, type ResourceRef } from '../client/types.ts';

const SERVICES: ResourceRef = { group: '', resource: 'services' };
const NODES: ResourceRef = { group: '', resource: 'nodes' };
const SLICES: ResourceRef = { group: 'discovery.k8s.io', resource: 'endpointslices' };
export const ENABLE_LB_LABEL = 'svccontroller.k3s.cattle.io/enablelb';
export const LB_POOL_LABEL = 'svccontroller.k3s.cattle.io/lbpool';

interface Taint {
  key: string;
  value?: string;
  effect: string;
}

interface Toleration {
  key?: string;
  operator: 'Exists' | 'Equal';
  value?: string;
  effect?: string;
}

export interface NodeObj extends KubeObject {
  spec?: { taints?: Taint[] };
  status?: { addresses?: { type: string; address: string }[]; conditions?: { type: string; status: string }[] };
}

export interface ServiceObj extends KubeObject {
  spec?: { type?: string; loadBalancerClass?: string; externalTrafficPolicy?: string; ipFamilies?: string[] };
  status?: { loadBalancer?: { ingress?: Partial<Ingress>[] } };
}

export interface SliceObj extends KubeObject {
  endpoints?: { nodeName?: string; conditions?: { ready?: boolean }; targetRef?: { kind?: string } }[] | null;
}

interface Ingress {
  ip: string;
  ipMode: 'VIP';
}

/** The svclb pod's tolerations (newDaemonSet) and those the DaemonSet controller adds to every daemon pod. */
const SVCLB_TOLERATIONS: Toleration[] = [
  { key: 'node-role.kubernetes.io/master', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'CriticalAddonsOnly', operator: 'Exists' },
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/pid-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' },
];

const tolerates = (t: Toleration, taint: Taint) =>
  (!t.effect || t.effect === taint.effect) && (t.key === undefined || t.key === taint.key) && (t.operator === 'Exists' || (t.value ?? '') === (taint.value ?? ''));

const isReady = (n: NodeObj) => (n.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

/** Would the svclb DaemonSet run a pod on this node, and would it be ready? */
function runsSvclbPod(n: NodeObj, svc: ServiceObj, selectorOn: boolean): boolean {
  const labels = n.metadata.labels ?? {};
  if (selectorOn) {
    if (labels[ENABLE_LB_LABEL] !== 'true') return false;
    const pool = svc.metadata.labels?.[LB_POOL_LABEL];
    if (pool && labels[LB_POOL_LABEL] !== pool) return false;
  }
  const untolerated = (n.spec?.taints ?? []).some((t) => (t.effect === 'NoSchedule' || t.effect === 'NoExecute') && !SVCLB_TOLERATIONS.some((tol) => tolerates(tol, t)));
  return !untolerated && isReady(n);
}

/** servicehelper.RequestsOnlyLocalTraffic. */
const onlyLocal = (svc: ServiceObj) => (svc.spec?.type === 'LoadBalancer' || svc.spec?.type === 'NodePort') && svc.spec?.externalTrafficPolicy === 'Local';

const isIPv4 = (ip: string) => /^\d{1,3}(\.\d{1,3}){3}$/.test(ip);

/**
 * The ingress k3s's ServiceLB gives `svc`, from the nodes and (for externalTrafficPolicy Local)
 * the Service's EndpointSlices.
 */
export function loadBalancerIngress(svc: ServiceObj, nodes: NodeObj[], slices: SliceObj[] = []): Ingress[] {
  const selectorOn = nodes.some((n) => n.metadata.labels?.[ENABLE_LB_LABEL] !== undefined);
  let pool = nodes.filter((n) => runsSvclbPod(n, svc, selectorOn));
  if (onlyLocal(svc)) {
    // Nodes with a ready pod endpoint (ready set and true, as k3s reads it).
    const ready = new Set<string>();
    for (const sl of slices) {
      for (const e of sl.endpoints ?? []) if (e.targetRef?.kind === 'Pod' && e.conditions?.ready === true && e.nodeName) ready.add(e.nodeName);
    }
    pool = pool.filter((n) => ready.has(n.metadata.name!));
  }
  const ext = new Set<string>();
  const int = new Set<string>();
  for (const n of pool) {
    for (const a of n.status?.addresses ?? []) {
      if (a.type === 'ExternalIP') ext.add(a.address);
      else if (a.type === 'InternalIP') int.add(a.address);
    }
  }
  // If any node has an ExternalIP, only ExternalIPs are listed.
  const ips = [...(ext.size ? ext : int)].filter(isIPv4).sort();
  return (svc.spec?.ipFamilies ?? ['IPv4']).includes('IPv4') ? ips.map((ip) => ({ ip, ipMode: 'VIP' })) : [];
}

const wantsLB = (svc: ServiceObj) => svc.spec?.type === 'LoadBalancer' && !svc.spec?.loadBalancerClass;

/** The ServiceLB controller on the factory's services, nodes and EndpointSlices informers; run it after waitForSync. */
export function serviceLBController(factory: InformerFactory, client: Client, log?: (line: string) => void): Controller {
  const services = factory.informer<ServiceObj>(SERVICES);
  const nodes = factory.informer<NodeObj>(NODES);
  const slices = factory.informer<SliceObj>(SLICES);
  const slicesOf = (svc: ServiceObj) => slices.list().filter((s) => s.metadata.namespace === svc.metadata.namespace && s.metadata.labels?.['kubernetes.io/service-name'] === svc.metadata.name);
  const controller = new Controller({
    name: 'servicelb-controller',
    log,
    sync: async (key) => {
      const svc = services.get(key);
      if (!svc) return;
      const desired = wantsLB(svc) ? { ingress: loadBalancerIngress(svc, nodes.list(), onlyLocal(svc) ? slicesOf(svc) : []) } : {};
      const current = svc.status?.loadBalancer?.ingress ?? [];
      if (!wantsLB(svc) && current.length === 0) return;
      const same = (a: Partial<Ingress>[], b: Partial<Ingress>[]) => JSON.stringify(a.map((i) => [i.ip, i.ipMode])) === JSON.stringify(b.map((i) => [i.ip, i.ipMode]));
      if (same(current, desired.ingress ?? [])) return;
      await client.mutate<ServiceObj>(SERVICES, svc.metadata.namespace, svc.metadata.name!, (cur) => ({ ...cur, status: { ...cur.status, loadBalancer: desired } }), { subresource: 'status' });
    },
  });
  // Any node change may change every LoadBalancer Service's addresses; a slice change its own
  // Service's, when that one is externalTrafficPolicy Local.
  controller
    .watch(services)
    .watch(nodes, () => services.list().filter(wantsLB).map((s) => objectKey(s)))
    .watch(slices, (sl) => {
      const name = sl.metadata.labels?.['kubernetes.io/service-name'];
      return name ? [`${sl.metadata.namespace}/${name}`] : [];
    });
  return controller;
}
