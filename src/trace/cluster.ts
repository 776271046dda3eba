// Who owns an address, a chain or a veth: the lab's objects indexed the way kernel output names
// them. `lab explain`, `lab describe` and `lab trace` all read kernel state (rules, routes,
// conntrack entries, packets) and need to say which Service, endpoint or pod a line belongs to.
// Pure: built from the ClusterView the instance's store gives (api-view.ts).
import type { ClusterView } from './view.ts';
import type { NodeInfo } from './nodes.ts';
import { isTerminating, type Pod, type Service, type ServicePort } from '../api/types.ts';
import { endpointChainName, servicePortChains, servicePortNameString, type ServicePortChains } from '../proxy/names.ts';

export interface EndpointRef {
  ip: string;
  port: number;
  ready: boolean;
  pod?: Pod;
  /** KUBE-SEP-* of this endpoint for its service port. */
  sepChain: string;
}

export interface ServicePortRef {
  service: Service;
  port: ServicePort;
  /** "ns/svc:port" (or "ns/svc" for an unnamed port): kube-proxy's name for it, in rule comments. */
  name: string;
  protocol: string;
  chains: ServicePortChains;
  /** Where the port is reachable besides the ClusterIP (LoadBalancer ingress = the node IP in the lab). */
  loadBalancerIPs: string[];
  endpoints: EndpointRef[];
}

export type FrontendKind = 'ClusterIP' | 'LoadBalancer' | 'NodePort' | 'ExternalIP';

export interface Frontend {
  servicePort: ServicePortRef;
  kind: FrontendKind;
}

export type ChainKind = 'SVC' | 'SVL' | 'EXT' | 'FW' | 'SEP';

export interface ChainOwner {
  kind: ChainKind;
  servicePort: ServicePortRef;
  endpoint?: EndpointRef;
}

export interface ClusterIndex {
  /** The node this index reads rules on (the server's unless a tool picked another). */
  nodeName: string;
  nodeIP: string;
  /** Every node of the cluster (empty for a view without them). */
  nodes: NodeInfo[];
  pods: Pod[];
  servicePorts: ServicePortRef[];
  podByIP(ip: string): Pod | undefined;
  podByName(name: string): Pod | undefined;
  podByVeth(veth: string): Pod | undefined;
  chainOwner(chain: string): ChainOwner | undefined;
  /** The Service port a packet to ip:port/proto is addressed to; `local` = the node's own addresses. */
  frontend(ip: string, port: number, protocol: string, local?: (ip: string) => boolean): Frontend | undefined;
  servicePortsOf(ns: string, name: string): ServicePortRef[];
}

const skipService = (s: Service) => s.spec.type === 'ExternalName' || !s.spec.clusterIP || s.spec.clusterIP === 'None';

export function podLabel(p: Pod): string {
  return p.metadata.namespace === 'default' ? p.metadata.name : `${p.metadata.namespace}/${p.metadata.name}`;
}

export function buildClusterIndex(state: Pick<ClusterView, 'pods' | 'services' | 'endpoints' | 'nodeIP' | 'nodeName'> & { nodes?: NodeInfo[] }): ClusterIndex {
  const nodes = state.nodes ?? [];
  // k3s's ServiceLB lists every node's IP as a LoadBalancer's ingress.
  const lbIPs = nodes.length ? nodes.map((n) => n.ip).filter(Boolean) : [state.nodeIP];
  const pods = Object.values(state.pods).filter((p) => !isTerminating(p));
  const allPods = Object.values(state.pods);
  const byIP = new Map<string, Pod>();
  // A deleted pod's IP may have been handed out again: live pods win.
  for (const p of [...allPods.filter((x) => isTerminating(x)), ...pods]) if (p.status.podIP) byIP.set(p.status.podIP, p);
  const byName = new Map(allPods.map((p) => [p.metadata.name, p]));
  const byVeth = new Map(allPods.filter((p) => p.metadata.annotations['lab/veth']).map((p) => [p.metadata.annotations['lab/veth']!, p]));
  const endpointsByKey = new Map((state.endpoints ?? []).map((e) => [`${e.metadata.namespace}/${e.metadata.name}`, e]));

  const servicePorts: ServicePortRef[] = [];
  for (const s of state.services ?? []) {
    if (skipService(s)) continue;
    const eps = endpointsByKey.get(`${s.metadata.namespace}/${s.metadata.name}`);
    for (const port of s.spec.ports) {
      const name = servicePortNameString(s.metadata.namespace, s.metadata.name, port.name);
      const endpoints: EndpointRef[] = [];
      for (const subset of eps?.subsets ?? []) {
        // Endpoints ports are named after the Service port (a single unnamed port matches '').
        const ep = subset.ports.find((p) => p.name === port.name && p.protocol === port.protocol) ?? (s.spec.ports.length === 1 && subset.ports.length === 1 ? subset.ports[0] : undefined);
        if (!ep) continue;
        for (const [list, ready] of [[subset.addresses, true], [subset.notReadyAddresses, false]] as const) {
          for (const a of list) {
            const pod = (a.targetRef ? byName.get(a.targetRef.name) : undefined) ?? byIP.get(a.ip);
            endpoints.push({ ip: a.ip, port: ep.port, ready, pod, sepChain: endpointChainName(name, port.protocol, `${a.ip}:${ep.port}`) });
          }
        }
      }
      endpoints.sort((a, b) => (`${a.ip}:${a.port}` < `${b.ip}:${b.port}` ? -1 : 1));
      servicePorts.push({
        service: s,
        port,
        name,
        protocol: port.protocol.toLowerCase(),
        chains: servicePortChains(name, port.protocol),
        loadBalancerIPs: s.spec.type === 'LoadBalancer' ? lbIPs : [],
        endpoints,
      });
    }
  }

  const owners = new Map<string, ChainOwner>();
  for (const sp of servicePorts) {
    for (const kind of ['SVC', 'SVL', 'EXT', 'FW'] as const) owners.set(sp.chains[kind.toLowerCase() as 'svc' | 'svl' | 'ext' | 'fw'], { kind, servicePort: sp });
    for (const e of sp.endpoints) owners.set(e.sepChain, { kind: 'SEP', servicePort: sp, endpoint: e });
  }

  return {
    nodeName: state.nodeName,
    nodeIP: state.nodeIP,
    nodes,
    pods,
    servicePorts,
    podByIP: (ip) => byIP.get(ip),
    podByName: (n) => byName.get(n),
    podByVeth: (v) => byVeth.get(v),
    chainOwner: (c) => owners.get(c),
    servicePortsOf: (ns, n) => servicePorts.filter((sp) => sp.service.metadata.namespace === ns && sp.service.metadata.name === n),
    frontend(ip, port, protocol, local) {
      const proto = protocol.toLowerCase();
      for (const sp of servicePorts) {
        if (sp.protocol !== proto) continue;
        if (sp.service.spec.clusterIP === ip && sp.port.port === port) return { servicePort: sp, kind: 'ClusterIP' };
        if (sp.port.port === port && sp.loadBalancerIPs.includes(ip)) return { servicePort: sp, kind: 'LoadBalancer' };
        if (sp.port.port === port && sp.service.spec.externalIPs.includes(ip)) return { servicePort: sp, kind: 'ExternalIP' };
      }
      const isLocal = local ?? ((x: string) => x === state.nodeIP);
      if (isLocal(ip)) {
        for (const sp of servicePorts) if (sp.protocol === proto && sp.port.nodePort === port) return { servicePort: sp, kind: 'NodePort' };
      }
      return undefined;
    },
  };
}

/** "pod app2-…-abcde" / "pod kube-system/coredns-…" for an endpoint, or its address when no pod owns it. */
export function endpointLabel(e: EndpointRef): string {
  return e.pod ? `pod ${podLabel(e.pod)}` : `${e.ip}:${e.port} (no pod: a hand-written endpoint)`;
}
