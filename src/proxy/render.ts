// kube-proxy's syncProxyRules (iptables mode, v1.33) as a pure function: the proxy model in,
// iptables-restore text out. Rules are written word for word as kube-proxy writes them (its own
// argument order, its own quoting), so `iptables-save` on a lab node matches a k3s node.
//
// What is left out, and why:
//  - topology-aware routing (hints), dual-stack (the lab is IPv4 only), and KUBE-MARK-DROP (gone
//    from kube-proxy since v1.29);
//  - the order of Services: kube-proxy walks a Go map, so its order changes on every sync; the lab
//    writes Services sorted by namespace/name (only the order *between* Services differs);
//  - the `-m nfacct` counters are written only when config.nfacct says they could be created.
import type { EndpointSlice, Service } from '../api/types.ts';
import {
  KUBE_EXTERNAL_SERVICES,
  KUBE_FIREWALL,
  KUBE_FORWARD,
  KUBE_MARK_MASQ,
  KUBE_NODEPORTS,
  KUBE_POSTROUTING,
  KUBE_PROXY_FIREWALL,
  KUBE_SERVICES,
  LARGE_CLUSTER_ENDPOINTS_THRESHOLD,
  masqueradeMark,
} from './names.ts';
import { buildProxyModel, categorizeEndpoints, externallyAccessible, usesClusterEndpoints, usesLocalEndpoints, type EndpointInfo, type ProxyConfig, type ServiceModel, type ServicePortInfo } from './model.ts';
import { inCidr } from '../util/cidr.ts';

const CT_INVALID_COUNTER = 'ct_state_invalid_dropped_pkts';
const LOCALHOST_NODEPORT_COUNTER = 'localhost_nps_accepted_pkts';

/** The rules of one service port, split the way a partial sync needs them. */
export interface PortFragment {
  /** nat rules in KUBE-SERVICES / KUBE-NODEPORTS: rewritten on every sync. */
  natTop: string[];
  /** filter rules (REJECT/DROP for missing endpoints, health check ports): rewritten on every sync. */
  filter: string[];
  /** ":KUBE-SVC-… - [0:0]" lines of the port's own chains: written only when the Service changed. */
  chainDecls: string[];
  /** Rules of the port's own chains (SVC/SVL/EXT/FW/SEP). */
  chainRules: string[];
}

export interface ServiceFragment {
  key: string;
  ports: PortFragment[];
  /** The per-service nat chains this Service owns now (kube-proxy's activeNATChains). */
  activeChains: string[];
  /** Endpoints counted for large cluster mode. */
  endpointCount: number;
  /** The mode the chain rules were rendered in (comments dropped in large cluster mode). */
  largeClusterMode: boolean;
}

export interface RenderContext {
  config: ProxyConfig;
  largeClusterMode: boolean;
}

const q = (text: string) => `"${text}"`;

/** All endpoints of all ports, as kube-proxy counts them to decide on large cluster mode. */
export function countEndpoints(models: ServiceModel[]): number {
  let n = 0;
  for (const m of models) for (const p of m.ports) n += p.endpoints.length;
  return n;
}

export function isLargeCluster(endpointCount: number): boolean {
  return endpointCount > LARGE_CLUSTER_ENDPOINTS_THRESHOLD;
}

/** Go's fmt.Sprintf("%0.10f", 1/n). */
export function probability(n: number): string {
  return (1 / n).toFixed(10);
}

function localDetector(config: ProxyConfig): { ifLocal: string; ifNotLocal: string } | undefined {
  return config.clusterCIDR ? { ifLocal: `-s ${config.clusterCIDR}`, ifNotLocal: `! -s ${config.clusterCIDR}` } : undefined;
}

/** writeServiceToEndpointRules: affinity checks first, then the random spread (last one unconditional). */
function serviceToEndpointRules(out: string[], ctx: RenderContext, p: ServicePortInfo, chain: string, endpoints: EndpointInfo[]): void {
  const comment = (ep: EndpointInfo) => (ctx.largeClusterMode ? '' : ` -m comment --comment ${q(`${p.nameString} -> ${ep.endpoint}`)}`);
  if (p.sessionAffinityClientIP) {
    for (const ep of endpoints) {
      out.push(`-A ${chain}${comment(ep)} -m recent --name ${ep.chain} --rcheck --seconds ${p.stickyMaxAgeSeconds} --reap -j ${ep.chain}`);
    }
  }
  const n = endpoints.length;
  endpoints.forEach((ep, i) => {
    const stat = i < n - 1 ? ` -m statistic --mode random --probability ${probability(n - i)}` : '';
    out.push(`-A ${chain}${comment(ep)}${stat} -j ${ep.chain}`);
  });
}

/** The rules of one service port: the body of kube-proxy's per-service-port loop. */
export function renderServicePort(ctx: RenderContext, p: ServicePortInfo, allEndpoints: EndpointInfo[], active: string[]): PortFragment {
  const { config } = ctx;
  const localhostNodePorts = config.localhostNodePorts ?? true;
  const detector = localDetector(config);
  const natTop: string[] = [];
  const filter: string[] = [];
  const chainDecls: string[] = [];
  const chainRules: string[] = [];
  const proto = p.proto;
  const name = p.nameString;

  const { clusterEndpoints, localEndpoints, allLocallyReachableEndpoints, hasAnyEndpoints: hasEndpoints } = categorizeEndpoints(p, allEndpoints);
  const clusterPolicyChain = p.chains.svc;
  const usesClusterPolicyChain = clusterEndpoints.length > 0 && usesClusterEndpoints(p);
  const localPolicyChain = p.chains.svl;
  const usesLocalPolicyChain = localEndpoints.length > 0 && usesLocalEndpoints(p);

  let internalPolicyChain = clusterPolicyChain;
  let hasInternalEndpoints = hasEndpoints;
  if (p.internalPolicyLocal) {
    internalPolicyChain = localPolicyChain;
    if (localEndpoints.length === 0) hasInternalEndpoints = false;
  }
  const internalTrafficChain = internalPolicyChain;

  let externalPolicyChain = clusterPolicyChain;
  let hasExternalEndpoints = hasEndpoints;
  if (p.externalPolicyLocal) {
    externalPolicyChain = localPolicyChain;
    if (localEndpoints.length === 0) hasExternalEndpoints = false;
  }
  const externalTrafficChain = p.chains.ext;
  // Based on hasEndpoints: the short-circuit rules for local traffic are needed even without
  // externally usable endpoints.
  const usesExternalTrafficChain = hasEndpoints && externallyAccessible(p);

  let loadBalancerTrafficChain = externalTrafficChain;
  const fwChain = p.chains.fw;
  const usesFWChain = hasEndpoints && p.loadBalancerVIPs.length > 0 && p.loadBalancerSourceRanges.length > 0;
  if (usesFWChain) loadBalancerTrafficChain = fwChain;

  let internalTrafficFilterTarget = '';
  let internalTrafficFilterComment = '';
  let externalTrafficFilterTarget = '';
  let externalTrafficFilterComment = '';
  if (!hasEndpoints) {
    // No endpoints at all: no nat chains, only filter rules that REJECT (an immediate
    // "connection refused" instead of a timeout).
    internalTrafficFilterTarget = 'REJECT';
    internalTrafficFilterComment = q(`${name} has no endpoints`);
    externalTrafficFilterTarget = 'REJECT';
    externalTrafficFilterComment = internalTrafficFilterComment;
  } else {
    if (!hasInternalEndpoints) {
      internalTrafficFilterTarget = 'DROP';
      internalTrafficFilterComment = q(`${name} has no local endpoints`);
    }
    if (!hasExternalEndpoints) {
      externalTrafficFilterTarget = 'DROP';
      externalTrafficFilterComment = q(`${name} has no local endpoints`);
    }
  }

  // Capture the clusterIP.
  if (hasInternalEndpoints) {
    natTop.push(`-A ${KUBE_SERVICES} -m comment --comment ${q(`${name} cluster IP`)} -m ${proto} -p ${proto} -d ${p.clusterIP} --dport ${p.port} -j ${internalTrafficChain}`);
  } else {
    filter.push(`-A ${KUBE_SERVICES} -m comment --comment ${internalTrafficFilterComment} -m ${proto} -p ${proto} -d ${p.clusterIP} --dport ${p.port} -j ${internalTrafficFilterTarget}`);
  }

  // Capture externalIPs.
  for (const ip of p.externalIPs) {
    if (hasEndpoints) {
      natTop.push(`-A ${KUBE_SERVICES} -m comment --comment ${q(`${name} external IP`)} -m ${proto} -p ${proto} -d ${ip} --dport ${p.port} -j ${externalTrafficChain}`);
    }
    if (!hasExternalEndpoints) {
      filter.push(`-A ${KUBE_EXTERNAL_SERVICES} -m comment --comment ${externalTrafficFilterComment} -m ${proto} -p ${proto} -d ${ip} --dport ${p.port} -j ${externalTrafficFilterTarget}`);
    }
  }

  // Capture load-balancer ingress.
  for (const ip of p.loadBalancerVIPs) {
    if (hasEndpoints) {
      natTop.push(`-A ${KUBE_SERVICES} -m comment --comment ${q(`${name} loadbalancer IP`)} -m ${proto} -p ${proto} -d ${ip} --dport ${p.port} -j ${loadBalancerTrafficChain}`);
    }
    if (usesFWChain) {
      filter.push(`-A ${KUBE_PROXY_FIREWALL} -m comment --comment ${q(`${name} traffic not accepted by ${fwChain}`)} -m ${proto} -p ${proto} -d ${ip} --dport ${p.port} -j DROP`);
    }
  }
  if (!hasExternalEndpoints) {
    for (const ip of p.loadBalancerVIPs) {
      filter.push(`-A ${KUBE_EXTERNAL_SERVICES} -m comment --comment ${externalTrafficFilterComment} -m ${proto} -p ${proto} -d ${ip} --dport ${p.port} -j ${externalTrafficFilterTarget}`);
    }
  }

  // Capture nodeports.
  if (p.nodePort !== 0) {
    if (hasEndpoints) {
      if (localhostNodePorts && config.nfacct) {
        natTop.push(`-A ${KUBE_NODEPORTS} -m comment --comment ${name} -m ${proto} -p ${proto} -d 127.0.0.0/8 --dport ${p.nodePort} -m nfacct --nfacct-name ${LOCALHOST_NODEPORT_COUNTER} -j ${externalTrafficChain}`);
      }
      natTop.push(`-A ${KUBE_NODEPORTS} -m comment --comment ${name} -m ${proto} -p ${proto} --dport ${p.nodePort} -j ${externalTrafficChain}`);
    }
    if (!hasExternalEndpoints) {
      filter.push(`-A ${KUBE_EXTERNAL_SERVICES} -m comment --comment ${externalTrafficFilterComment} -m addrtype --dst-type LOCAL -m ${proto} -p ${proto} --dport ${p.nodePort} -j ${externalTrafficFilterTarget}`);
    }
  }

  // Capture healthCheckNodePorts (accepted whether or not this node has local endpoints).
  if (p.healthCheckNodePort !== 0) {
    filter.push(`-A ${KUBE_NODEPORTS} -m comment --comment ${q(`${name} health check node port`)} -m tcp -p tcp --dport ${p.healthCheckNodePort} -j ACCEPT`);
  }

  // Internal traffic: masquerade what comes from outside the pod network (a static route to
  // the service CIDR via this node), so replies come back through the node.
  if (hasInternalEndpoints) {
    const args = `-m comment --comment ${q(`${name} cluster IP`)} -m ${proto} -p ${proto} -d ${p.clusterIP} --dport ${p.port}`;
    if (config.masqueradeAll) chainRules.push(`-A ${internalTrafficChain} ${args} -j ${KUBE_MARK_MASQ}`);
    else if (detector) chainRules.push(`-A ${internalTrafficChain} ${args} ${detector.ifNotLocal} -j ${KUBE_MARK_MASQ}`);
  }

  // External destinations all jump to the EXT chain.
  if (usesExternalTrafficChain) {
    chainDecls.push(`:${externalTrafficChain} - [0:0]`);
    active.push(externalTrafficChain);
    if (!p.externalPolicyLocal) {
      // Endpoints may be on other nodes: masquerade so replies return through this node.
      chainRules.push(`-A ${externalTrafficChain} -m comment --comment ${q(`masquerade traffic for ${name} external destinations`)} -j ${KUBE_MARK_MASQ}`);
    } else {
      if (detector) {
        chainRules.push(`-A ${externalTrafficChain} -m comment --comment ${q(`pod traffic for ${name} external destinations`)} ${detector.ifLocal} -j ${clusterPolicyChain}`);
      }
      chainRules.push(`-A ${externalTrafficChain} -m comment --comment ${q(`masquerade LOCAL traffic for ${name} external destinations`)} -m addrtype --src-type LOCAL -j ${KUBE_MARK_MASQ}`);
      chainRules.push(`-A ${externalTrafficChain} -m comment --comment ${q(`route LOCAL traffic for ${name} external destinations`)} -m addrtype --src-type LOCAL -j ${clusterPolicyChain}`);
    }
    if (hasExternalEndpoints) chainRules.push(`-A ${externalTrafficChain} -j ${externalPolicyChain}`);
  }

  // loadBalancerSourceRanges firewall.
  if (usesFWChain) {
    chainDecls.push(`:${fwChain} - [0:0]`);
    active.push(fwChain);
    const args = `-A ${fwChain} -m comment --comment ${q(`${name} loadbalancer IP`)}`;
    let allowFromNode = false;
    for (const cidr of p.loadBalancerSourceRanges) {
      chainRules.push(`${args} -s ${cidr} -j ${externalTrafficChain}`);
      if (config.nodeIPs.some((ip) => cidrContains(cidr, ip))) allowFromNode = true;
    }
    if (allowFromNode) for (const ip of p.loadBalancerVIPs) chainRules.push(`${args} -s ${ip} -j ${externalTrafficChain}`);
    chainRules.push(`-A ${fwChain} -m comment --comment ${q(`other traffic to ${name} will be dropped by KUBE-PROXY-FIREWALL`)}`);
  }

  if (usesClusterPolicyChain) {
    chainDecls.push(`:${clusterPolicyChain} - [0:0]`);
    active.push(clusterPolicyChain);
    serviceToEndpointRules(chainRules, ctx, p, clusterPolicyChain, clusterEndpoints);
  }
  if (usesLocalPolicyChain) {
    chainDecls.push(`:${localPolicyChain} - [0:0]`);
    active.push(localPolicyChain);
    serviceToEndpointRules(chainRules, ctx, p, localPolicyChain, localEndpoints);
  }

  // One KUBE-SEP chain per endpoint: hairpin masquerade (a pod reaching itself through the
  // Service), affinity bookkeeping, then the DNAT.
  for (const ep of allLocallyReachableEndpoints) {
    chainDecls.push(`:${ep.chain} - [0:0]`);
    active.push(ep.chain);
    const head = ctx.largeClusterMode ? `-A ${ep.chain}` : `-A ${ep.chain} -m comment --comment ${name}`;
    chainRules.push(`${head} -s ${ep.ip} -j ${KUBE_MARK_MASQ}`);
    const recent = p.sessionAffinityClientIP ? ` -m recent --name ${ep.chain} --set` : '';
    chainRules.push(`${head}${recent} -m ${proto} -p ${proto} -j DNAT --to-destination ${ep.endpoint}`);
  }
  return { natTop, filter, chainDecls, chainRules };
}

/** A source range or --nodeport-addresses entry given as a bare address means that address alone. */
function cidrContains(cidr: string, ip: string): boolean {
  return inCidr(cidr.includes('/') ? cidr : `${cidr}/32`, ip);
}

export function renderService(ctx: RenderContext, m: ServiceModel): ServiceFragment {
  const active: string[] = [];
  const ports = m.ports.map((p) => renderServicePort(ctx, p.info, p.endpoints, active));
  let endpointCount = 0;
  for (const p of m.ports) endpointCount += p.endpoints.length;
  return { key: m.key, ports, activeChains: active, endpointCount, largeClusterMode: ctx.largeClusterMode };
}

export interface AssembleOptions {
  config: ProxyConfig;
  fragments: ServiceFragment[];
  /** Whether a Service's own chains are written (true for all on a full sync). */
  writeChains: (key: string) => boolean;
  /** Per-service chains to flush and delete (`-X`), kube-proxy's stale chain cleanup. */
  staleChains?: string[];
  /**
   * false: leave the top-level chains (KUBE-SERVICES, KUBE-FORWARD, …) out entirely. kube-proxy
   * always rewrites them; this is the lab's opt-in shortcut for partial syncs in which no Service's
   * top-level rules changed, because rewriting 10,000 KUBE-SERVICES rules dominates the time.
   */
  writeTopLevel?: boolean;
}

export interface RestoreText {
  text: string;
  /** Rules ("-A/-I/-D" lines) written, per table. */
  rules: { filter: number; nat: number };
  /** Chain lines (":CHAIN") written, per table. */
  chains: { filter: number; nat: number };
  bytes: number;
}

const FILTER_TOP = [KUBE_SERVICES, KUBE_EXTERNAL_SERVICES, KUBE_FORWARD, KUBE_NODEPORTS, KUBE_PROXY_FIREWALL];
const NAT_TOP = [KUBE_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_MARK_MASQ];

/** The fixed rules and per-service fragments -> one iptables-restore input (filter, then nat). */
export function assembleRestore(opts: AssembleOptions): RestoreText {
  const { config } = opts;
  const mark = masqueradeMark(config.masqueradeBit);
  const localhostNodePorts = config.localhostNodePorts ?? true;

  const filterTop = [...FILTER_TOP];
  const filterHead: string[] = [];
  const natHead: string[] = [];

  natHead.push(`-A ${KUBE_POSTROUTING} -m mark ! --mark ${mark}/${mark} -j RETURN`);
  // Clear the mark so a packet that goes through the stack again is not masqueraded twice.
  natHead.push(`-A ${KUBE_POSTROUTING} -j MARK --xor-mark ${mark}`);
  natHead.push(`-A ${KUBE_POSTROUTING} -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE${(config.randomFully ?? true) ? ' --random-fully' : ''}`);
  natHead.push(`-A ${KUBE_MARK_MASQ} -j MARK --or-mark ${mark}`);

  if (localhostNodePorts) {
    // route_localnet (needed for NodePorts on 127.0.0.1) would let martian packets to 127/8 in
    // from the wire; this rule drops them (kubelet used to own it).
    filterTop.push(KUBE_FIREWALL);
    filterHead.push(`-A ${KUBE_FIREWALL} -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP`);
  }

  const natTail: string[] = [];
  // The NodePort catch-all must stay the last rule of KUBE-SERVICES.
  const npa = config.nodePortAddresses ?? [];
  if (npa.length === 0) {
    const dest = localhostNodePorts ? '-m addrtype --dst-type LOCAL' : '-m addrtype --dst-type LOCAL ! -d 127.0.0.0/8';
    natTail.push(`-A ${KUBE_SERVICES} -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" ${dest} -j ${KUBE_NODEPORTS}`);
  } else {
    // --nodeport-addresses given as CIDRs: one rule per node IP inside them.
    for (const ip of config.nodeIPs) {
      if (!npa.some((c) => cidrContains(c, ip))) continue;
      if (ip.startsWith('127.') && !localhostNodePorts) continue;
      natTail.push(`-A ${KUBE_SERVICES} -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -d ${ip} -j ${KUBE_NODEPORTS}`);
    }
  }

  const filterTail: string[] = [];
  if (!config.conntrackTCPLiberal) {
    // Out-of-window packets conntrack marks INVALID would otherwise escape un-NATed and reset
    // the connection (kubernetes#74839).
    filterTail.push(`-A ${KUBE_FORWARD} -m conntrack --ctstate INVALID${config.nfacct ? ` -m nfacct --nfacct-name ${CT_INVALID_COUNTER}` : ''} -j DROP`);
  }
  filterTail.push(`-A ${KUBE_FORWARD} -m comment --comment "kubernetes forwarding rules" -m mark --mark ${mark}/${mark} -j ACCEPT`);
  filterTail.push(`-A ${KUBE_FORWARD} -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`);

  const top = opts.writeTopLevel ?? true;
  const filterChains = top ? filterTop.map((c) => `:${c} - [0:0]`) : [];
  const natChains = top ? NAT_TOP.map((c) => `:${c} - [0:0]`) : [];
  const filterRules: string[] = top ? filterHead : [];
  const natRules: string[] = top ? natHead : [];
  for (const f of opts.fragments) {
    const write = opts.writeChains(f.key);
    for (const p of f.ports) {
      if (top) {
        for (const l of p.filter) filterRules.push(l);
        for (const l of p.natTop) natRules.push(l);
      }
      if (write) {
        for (const l of p.chainDecls) natChains.push(l);
        for (const l of p.chainRules) natRules.push(l);
      }
    }
  }
  for (const c of opts.staleChains ?? []) {
    // A chain line flushes the chain; then it can be deleted.
    natChains.push(`:${c} - [0:0]`);
    natRules.push(`-X ${c}`);
  }
  if (top) {
    for (const l of natTail) natRules.push(l);
    for (const l of filterTail) filterRules.push(l);
  }

  // Joined block by block: spreading 100,000 lines into one push() would overflow the stack.
  const blocks: string[][] = [];
  // A table with nothing to write (a partial sync with unchanged top-level chains) is left out.
  if (filterChains.length + filterRules.length > 0) blocks.push(['*filter'], filterChains, filterRules, ['COMMIT']);
  if (natChains.length + natRules.length > 0) blocks.push(['*nat'], natChains, natRules, ['COMMIT']);
  const text = blocks.filter((b) => b.length > 0).map((b) => b.join('\n')).join('\n') + '\n';
  const countRules = (lines: string[]) => {
    let n = 0;
    for (const l of lines) if (l.startsWith('-A ') || l.startsWith('-I ') || l.startsWith('-D ')) n++;
    return n;
  };
  return {
    text,
    rules: { filter: countRules(filterRules), nat: countRules(natRules) },
    chains: { filter: filterChains.length, nat: natChains.length },
    bytes: Buffer.byteLength(text),
  };
}

/** Render every Service of a model (large cluster mode decided from the model, as kube-proxy does). */
export function renderFragments(models: ServiceModel[], config: ProxyConfig): ServiceFragment[] {
  const ctx: RenderContext = { config, largeClusterMode: isLargeCluster(countEndpoints(models)) };
  return models.map((m) => renderService(ctx, m));
}

export interface ProxyRenderInput {
  /** Services after allocation (spec.clusterIP and nodePorts set; see api/allocators.ts). */
  services: Service[];
  endpointSlices: EndpointSlice[];
}

/**
 * The iptables-restore input kube-proxy would write on a full sync for this state — what
 * `lab proxy render` prints. Pure: no root, nothing applied.
 */
export function renderProxyRules(input: ProxyRenderInput, config: ProxyConfig): RestoreText {
  const models = buildProxyModel(input.services, input.endpointSlices, config);
  return assembleRestore({ config, fragments: renderFragments(models, config), writeChains: () => true });
}
