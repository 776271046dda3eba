// kube-proxy's view of the API objects (pkg/proxy: ServicePortMap, EndpointsMap,
// CategorizeEndpoints): one entry per Service port, and for each the endpoints from the
// EndpointSlices, sorted by "<ip>:<port>" as kube-proxy sorts them.
import type { EndpointSlice, Service } from '../api/types.ts';
import { endpointChainName, servicePortChains, servicePortNameString, type ServicePortChains } from './names.ts';

/** The node-level settings kube-proxy runs with (k3s passes most of them as flags). */
export interface ProxyConfig {
  /** --hostname-override: endpoints on this node are "local". */
  nodeName: string;
  /** Node addresses. The first is --bind-address's node IP; LoadBalancer ingress IPs are these (k3s ServiceLB). */
  nodeIPs: string[];
  /** --cluster-cidr: traffic to a ClusterIP from outside it is masqueraded (`! -s <cidr>`). Empty: no such rule. */
  clusterCIDR: string;
  /** --iptables-masquerade-bit, default 14 (mark 0x4000). */
  masqueradeBit?: number;
  /** --masquerade-all, default false. */
  masqueradeAll?: boolean;
  /** --iptables-localhost-nodeports, default true (needs net.ipv4.conf.all.route_localnet=1 on the node). */
  localhostNodePorts?: boolean;
  /** --nodeport-addresses, default [] (all local addresses). */
  nodePortAddresses?: string[];
  /** iptables supports MASQUERADE --random-fully (any iptables >= 1.6.2); default true. */
  randomFully?: boolean;
  /** net.netfilter.nf_conntrack_tcp_be_liberal is set: no INVALID drop rule. Default false. */
  conntrackTCPLiberal?: boolean;
  /** The nfacct counters could be created (xt_nfacct); adds `-m nfacct` to two rules. Default false. */
  nfacct?: boolean;
}

export interface EndpointInfo {
  ip: string;
  port: number;
  /** "<ip>:<port>" — what kube-proxy sorts, hashes and DNATs to. */
  endpoint: string;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  /** On this node (nodeName matches). */
  isLocal: boolean;
  /** KUBE-SEP-* chain of this endpoint for this service port. */
  chain: string;
}

export interface ServicePortInfo {
  /** "<ns>/<name>", the unit of change for partial syncs. */
  serviceKey: string;
  namespace: string;
  name: string;
  portName: string;
  protocol: 'TCP' | 'UDP' | 'SCTP';
  /** Lower-case protocol, as written after -p and -m. */
  proto: string;
  /** ServicePortName.String(): "<ns>/<name>:<port>" (or "<ns>/<name>" for an unnamed port). */
  nameString: string;
  clusterIP: string;
  port: number;
  /** 0 when the port has none. */
  nodePort: number;
  externalIPs: string[];
  loadBalancerVIPs: string[];
  loadBalancerSourceRanges: string[];
  sessionAffinityClientIP: boolean;
  stickyMaxAgeSeconds: number;
  externalPolicyLocal: boolean;
  internalPolicyLocal: boolean;
  healthCheckNodePort: number;
  chains: ServicePortChains;
}

/** One Service and its ports, with the endpoints of each port. */
export interface ServiceModel {
  key: string;
  ports: { info: ServicePortInfo; endpoints: EndpointInfo[] }[];
}

const DEFAULT_STICKY_SECONDS = 10800;

const isIPv4 = (ip: string) => /^\d{1,3}(\.\d{1,3}){3}$/.test(ip);

/** apiservice.ExternallyAccessible: NodePort/LoadBalancer, or a ClusterIP Service with externalIPs. */
function serviceExternallyAccessible(s: Service): boolean {
  return s.spec.type === 'NodePort' || s.spec.type === 'LoadBalancer' || (s.spec.type === 'ClusterIP' && s.spec.externalIPs.length > 0);
}

/**
 * status.loadBalancer.ingress IPs. The lab has no cloud: like k3s's ServiceLB (klipper-lb), a
 * LoadBalancer Service's ingress IPs are the node's IPs, unless the object carries a status.
 */
export function loadBalancerIngressIPs(s: Service, config: ProxyConfig): string[] {
  const status = (s as Service & { status?: { loadBalancer?: { ingress?: { ip?: string }[] } } }).status;
  const ingress = status?.loadBalancer?.ingress;
  if (ingress && ingress.length > 0) return ingress.map((i) => i.ip ?? '').filter(isIPv4);
  return config.nodeIPs.filter(isIPv4);
}

/** proxy.ShouldSkipService: headless (no ClusterIP) and ExternalName Services get no rules. */
export function shouldSkipService(s: Service): boolean {
  return s.spec.type === 'ExternalName' || !s.spec.clusterIP || s.spec.clusterIP === 'None';
}

/** Service ports as kube-proxy's ServiceChangeTracker builds them (services must be allocated). */
export function servicePorts(s: Service, config: ProxyConfig): ServicePortInfo[] {
  if (shouldSkipService(s)) return [];
  const spec = s.spec as Service['spec'] & { healthCheckNodePort?: number; loadBalancerSourceRanges?: string[] };
  const externalPolicyLocal = serviceExternallyAccessible(s) && spec.externalTrafficPolicy === 'Local';
  const lbVIPs = s.spec.type === 'LoadBalancer' ? loadBalancerIngressIPs(s, config) : [];
  return s.spec.ports.map((p) => {
    const nameString = servicePortNameString(s.metadata.namespace, s.metadata.name, p.name);
    return {
      serviceKey: `${s.metadata.namespace}/${s.metadata.name}`,
      namespace: s.metadata.namespace,
      name: s.metadata.name,
      portName: p.name,
      protocol: p.protocol,
      proto: p.protocol.toLowerCase(),
      nameString,
      clusterIP: s.spec.clusterIP!,
      port: p.port,
      nodePort: p.nodePort ?? 0,
      externalIPs: s.spec.externalIPs.filter(isIPv4),
      loadBalancerVIPs: lbVIPs,
      // kube-proxy trims the ranges (whitespace used to be accepted by validation).
      loadBalancerSourceRanges: s.spec.type === 'LoadBalancer' ? (spec.loadBalancerSourceRanges ?? []).map((r) => r.trim()).filter(Boolean) : [],
      sessionAffinityClientIP: s.spec.sessionAffinity === 'ClientIP',
      stickyMaxAgeSeconds: s.spec.sessionAffinityConfig?.clientIP.timeoutSeconds ?? DEFAULT_STICKY_SECONDS,
      externalPolicyLocal,
      internalPolicyLocal: spec.internalTrafficPolicy === 'Local',
      healthCheckNodePort: externalPolicyLocal && s.spec.type === 'LoadBalancer' ? (spec.healthCheckNodePort ?? 0) : 0,
      chains: servicePortChains(nameString, p.protocol),
    };
  });
}

/** BaseServicePortInfo.ExternallyAccessible (per port). */
export function externallyAccessible(p: ServicePortInfo): boolean {
  return p.nodePort !== 0 || p.loadBalancerVIPs.length > 0 || p.externalIPs.length > 0;
}

/** Cluster endpoints are needed for Cluster internal policy, and for any external traffic (short-circuit). */
export function usesClusterEndpoints(p: ServicePortInfo): boolean {
  return !p.internalPolicyLocal || externallyAccessible(p);
}

export function usesLocalEndpoints(p: ServicePortInfo): boolean {
  return p.internalPolicyLocal || (p.externalPolicyLocal && externallyAccessible(p));
}

const endpointKey = (namespace: string, service: string, portName: string, protocol: string) => `${namespace}/${service}:${portName}/${protocol}`;

/**
 * The EndpointsMap: endpoints by service port ("<ns>/<svc>:<portName>/<PROTOCOL>"), from all
 * slices of a Service, deduplicated by "<ip>:<port>" (a ready copy wins) and sorted by that string.
 * Conditions follow kube-proxy: nil ready / serving mean true, nil terminating means false.
 */
export function endpointsMap(slices: EndpointSlice[], config: ProxyConfig): Map<string, EndpointInfo[]> {
  const sets = new Map<string, Map<string, Omit<EndpointInfo, 'chain'>>>();
  for (const sl of slices) {
    if (sl.addressType !== 'IPv4') continue;
    const service = sl.metadata.labels['kubernetes.io/service-name'];
    if (!service) continue;
    for (const port of sl.ports) {
      if (!port.port) continue;
      const k = endpointKey(sl.metadata.namespace, service, port.name ?? '', port.protocol ?? 'TCP');
      let set = sets.get(k);
      if (!set) sets.set(k, (set = new Map()));
      for (const e of sl.endpoints) {
        const ip = e.addresses[0];
        if (!ip) continue;
        const endpoint = `${ip}:${port.port}`;
        const info = {
          ip,
          port: port.port,
          endpoint,
          ready: e.conditions.ready ?? true,
          serving: e.conditions.serving ?? true,
          terminating: e.conditions.terminating ?? false,
          isLocal: e.nodeName !== undefined && e.nodeName === config.nodeName,
        };
        const prev = set.get(endpoint);
        if (!prev || (!prev.ready && info.ready)) set.set(endpoint, info);
      }
    }
  }
  const out = new Map<string, EndpointInfo[]>();
  for (const [k, set] of sets) {
    const list = [...set.values()].sort((a, b) => (a.endpoint < b.endpoint ? -1 : a.endpoint > b.endpoint ? 1 : 0));
    out.set(k, list as EndpointInfo[]);
  }
  return out;
}

/** The endpoints of one service port, with their KUBE-SEP chain names. */
function portEndpoints(p: ServicePortInfo, map: Map<string, EndpointInfo[]>): EndpointInfo[] {
  const list = map.get(endpointKey(p.namespace, p.name, p.portName, p.protocol)) ?? [];
  return list.map((e) => ({ ...e, chain: endpointChainName(p.nameString, p.protocol, e.endpoint) }));
}

/** Services (allocated) + slices -> the proxy model, Services in namespace/name order. */
export function buildProxyModel(services: Service[], slices: EndpointSlice[], config: ProxyConfig): ServiceModel[] {
  const eps = endpointsMap(slices, config);
  const models: ServiceModel[] = [];
  for (const s of services) {
    const ports = servicePorts(s, config);
    if (ports.length === 0) continue;
    models.push({ key: ports[0]!.serviceKey, ports: ports.map((info) => ({ info, endpoints: portEndpoints(info, eps) })) });
  }
  // kube-proxy walks a Go map (random order on every sync); the lab sorts so output is stable.
  return models.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

export interface CategorizedEndpoints {
  clusterEndpoints: EndpointInfo[];
  localEndpoints: EndpointInfo[];
  allLocallyReachableEndpoints: EndpointInfo[];
  hasAnyEndpoints: boolean;
}

/**
 * proxy.CategorizeEndpoints (topology hints left out): ready endpoints, or if none is ready
 * anywhere, the serving-and-terminating ones — so a rolling update never blackholes a Service.
 */
export function categorizeEndpoints(p: ServicePortInfo, endpoints: EndpointInfo[]): CategorizedEndpoints {
  let clusterEndpoints: EndpointInfo[] = [];
  let localEndpoints: EndpointInfo[] = [];
  let hasAnyEndpoints = false;
  if (usesClusterEndpoints(p)) {
    clusterEndpoints = endpoints.filter((e) => e.ready);
    if (clusterEndpoints.length === 0) clusterEndpoints = endpoints.filter((e) => e.serving && e.terminating);
    if (clusterEndpoints.length > 0) hasAnyEndpoints = true;
  }
  if (!usesLocalEndpoints(p)) return { clusterEndpoints, localEndpoints, allLocallyReachableEndpoints: clusterEndpoints, hasAnyEndpoints };

  let hasLocalReady = false;
  let hasLocalServingTerminating = false;
  for (const e of endpoints) {
    if (e.ready) {
      hasAnyEndpoints = true;
      if (e.isLocal) hasLocalReady = true;
    } else if (e.serving && e.terminating) {
      hasAnyEndpoints = true;
      if (e.isLocal) hasLocalServingTerminating = true;
    }
  }
  if (hasLocalReady) localEndpoints = endpoints.filter((e) => e.isLocal && e.ready);
  else if (hasLocalServingTerminating) localEndpoints = endpoints.filter((e) => e.isLocal && e.serving && e.terminating);
  if (!usesClusterEndpoints(p)) return { clusterEndpoints, localEndpoints, allLocallyReachableEndpoints: localEndpoints, hasAnyEndpoints };

  // The union; kube-proxy builds it from a map (random order), the lab keeps it sorted.
  const union = new Map<string, EndpointInfo>();
  for (const e of clusterEndpoints) union.set(e.endpoint, e);
  for (const e of localEndpoints) union.set(e.endpoint, e);
  const all = [...union.values()].sort((a, b) => (a.endpoint < b.endpoint ? -1 : a.endpoint > b.endpoint ? 1 : 0));
  return { clusterEndpoints, localEndpoints, allLocallyReachableEndpoints: all, hasAnyEndpoints };
}
