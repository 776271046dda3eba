// k3s's ServiceLB (Klipper LB, pkg/cloudprovider/servicelb.go) as a watch-driven controller: a
// Service of type LoadBalancer (without a spec.loadBalancerClass, which names another
// implementation) gets status.loadBalancer.ingress, one entry per node that serves it, so
// `kubectl get svc` shows an EXTERNAL-IP and the Ingress controller can publish it. k3s runs a
// svclb DaemonSet whose pods forward the node's port to the ClusterIP and takes the IPs of the
// nodes those pods are ready on (the ExternalIP, else the InternalIP); in the lab, kube-proxy's
// rules already answer on the node's address, so every Ready node serves, and nodes labelled
// svccontroller.k3s.cattle.io/enablelb=true narrow the set when any is labelled (k3s's rule).
// A Service that stops being a LoadBalancer has its status cleared.
import { Controller, type InformerFactory } from '../client/controller.ts';
import { objectKey, type Client, type KubeObject, type ResourceRef } from '../client/types.ts';

const SERVICES: ResourceRef = { group: '', resource: 'services' };
const NODES: ResourceRef = { group: '', resource: 'nodes' };
export const ENABLE_LB_LABEL = 'svccontroller.k3s.cattle.io/enablelb';

interface NodeObj extends KubeObject {
  status?: { addresses?: { type: string; address: string }[]; conditions?: { type: string; status: string }[] };
}

interface ServiceObj extends KubeObject {
  spec?: { type?: string; loadBalancerClass?: string };
  status?: { loadBalancer?: { ingress?: Partial<Ingress>[] } };
}

interface Ingress {
  ip: string;
  ipMode: 'VIP';
}

const isReady = (n: NodeObj) => (n.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

/** The addresses a LoadBalancer Service is reachable on: the serving nodes' IPs, sorted. */
export function loadBalancerIngress(nodes: NodeObj[]): Ingress[] {
  const labelled = nodes.filter((n) => n.metadata.labels?.[ENABLE_LB_LABEL] === 'true');
  const pool = (labelled.length ? labelled : nodes.filter((n) => n.metadata.labels?.[ENABLE_LB_LABEL] !== 'false')).filter(isReady);
  const ips = new Set<string>();
  for (const n of pool) {
    const addrs = n.status?.addresses ?? [];
    const ip = addrs.find((a) => a.type === 'ExternalIP')?.address ?? addrs.find((a) => a.type === 'InternalIP')?.address;
    if (ip) ips.add(ip);
  }
  return [...ips].sort().map((ip) => ({ ip, ipMode: 'VIP' }));
}

const wantsLB = (svc: ServiceObj) => svc.spec?.type === 'LoadBalancer' && !svc.spec?.loadBalancerClass;

/** The ServiceLB controller on the factory's services and nodes informers; run it after waitForSync. */
export function serviceLBController(factory: InformerFactory, client: Client, log?: (line: string) => void): Controller {
  const services = factory.informer<ServiceObj>(SERVICES);
  const nodes = factory.informer<NodeObj>(NODES);
  const controller = new Controller({
    name: 'servicelb-controller',
    log,
    sync: async (key) => {
      const svc = services.get(key);
      if (!svc) return;
      const desired = wantsLB(svc) ? { ingress: loadBalancerIngress(nodes.list()) } : {};
      const current = svc.status?.loadBalancer?.ingress ?? [];
      if (!wantsLB(svc) && current.length === 0) return;
      const same = (a: Partial<Ingress>[], b: Partial<Ingress>[]) => JSON.stringify(a.map((i) => [i.ip, i.ipMode])) === JSON.stringify(b.map((i) => [i.ip, i.ipMode]));
      if (same(current, desired.ingress ?? [])) return;
      await client.mutate<ServiceObj>(SERVICES, svc.metadata.namespace, svc.metadata.name!, (cur) => ({ ...cur, status: { ...cur.status, loadBalancer: desired } }), { subresource: 'status' });
    },
  });
  // Any node change may change every LoadBalancer Service's addresses.
  controller.watch(services).watch(nodes, () => services.list().filter(wantsLB).map((s) => objectKey(s)));
  return controller;
}
