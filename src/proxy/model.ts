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
  /** The service CIDRs (kube-proxy watches ServiceCIDR objects): nftables mode drops traffic to unallocated ClusterIPs in them. */
  serviceCIDRs?: string[];
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

/** The lab's node settings as kube-proxy flags (k3s passes --cluster-cidr and the node's name and IP). */
export function proxyConfigFor(cluster: { nodeName: string; nodeIP: string; clusterCIDR: string }, extra: Partial<ProxyConfig> = {}): ProxyConfig {
  return { nodeName: cluster.nodeName, nodeIPs: [cluster.nodeIP], clusterCIDR: cluster.clusterCIDR, ...extra };
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

/**
 * The endpoints of one service port from the Service's slices (kube-proxy's EndpointsMap entry):
 * matched on port name and protocol, deduplicated by "<ip>:<port>" (a ready copy wins), sorted by
 * that string as kube-proxy sorts them. Conditions follow kube-proxy: nil ready / serving mean
 * true, nil terminating means false.
 */
export function portEndpoints(p: ServicePortInfo, slices: EndpointSlice[], config: ProxyConfig): EndpointInfo[] {
  const out: EndpointInfo[] = [];
  let seen: Map<string, number> | undefined;
  for (const sl of slices) {
    if (sl.addressType !== 'IPv4') continue;
    for (const port of sl.ports) {
      if (!port.port || (port.name ?? '') !== p.portName || (port.protocol ?? 'TCP') !== p.protocol) continue;
      for (const e of sl.endpoints) {
        const ip = e.addresses[0];
        if (!ip) continue;
        const endpoint = `${ip}:${port.port}`;
        const info: EndpointInfo = {
          ip,
          port: port.port,
          endpoint,
          ready: e.conditions.ready ?? true,
          serving: e.conditions.serving ?? true,
          terminating: e.conditions.terminating ?? false,
          isLocal: e.nodeName !== undefined && e.nodeName === config.nodeName,
          chain: endpointChainName(p.nameString, p.protocol, endpoint),
        };
        seen ??= new Map();
        const at = seen.get(endpoint);
        if (at === undefined) {
          seen.set(endpoint, out.length);
          out.push(info);
        } else if (!out[at]!.ready && info.ready) out[at] = info;
      }
    }
  }
  if (out.length > 1) out.sort((a, b) => (a.endpoint < b.endpoint ? -1 : a.endpoint > b.endpoint ? 1 : 0));
  return out;
}

/** The kubernetes.io/service-name of a slice as "<ns>/<name>". */
export function sliceServiceKey(sl: EndpointSlice): string | undefined {
  const name = sl.metadata.labels['kubernetes.io/service-name'];
  return name ? `${sl.metadata.namespace}/${name}` : undefined;
}

/** Slices grouped by the Service they belong to. */
export function slicesByService(slices: EndpointSlice[]): Map<string, EndpointSlice[]> {
  const out = new Map<string, EndpointSlice[]>();
  for (const sl of slices) {
    const k = sliceServiceKey(sl);
    if (!k) continue;
    const list = out.get(k);
    if (list) list.push(sl);
    else out.set(k, [sl]);
  }
  return out;
}

/** One Service and its slices -> its model (undefined for headless / ExternalName). */
export function buildServiceModel(s: Service, slices: EndpointSlice[], config: ProxyConfig): ServiceModel | undefined {
  const ports = servicePorts(s, config);
  if (ports.length === 0) return undefined;
  return { key: ports[0]!.serviceKey, ports: ports.map((info) => ({ info, endpoints: portEndpoints(info, slices, config) })) };
}

/** Services (allocated) + slices -> the proxy model, Services in namespace/name order. */
export function buildProxyModel(services: Service[], slices: EndpointSlice[], config: ProxyConfig): ServiceModel[] {
  const bySvc = slicesByService(slices);
  const models: ServiceModel[] = [];
  for (const s of services) {
    const m = buildServiceModel(s, bySvc.get(`${s.metadata.namespace}/${s.metadata.name}`) ?? [], config);
    if (m) models.push(m);
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
