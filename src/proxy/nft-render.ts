// kube-proxy's nftables proxier (v1.33) as a pure function: the proxy model in, the objects of
// table `ip kube-proxy` out. The same model as iptables mode (model.ts: Services, EndpointSlices,
// node settings); the per-port logic follows syncProxyRules in pkg/proxy/nftables/proxier.go
// rule for rule, word for word, so `nft list table ip kube-proxy` on a lab node reads like a
// k3s node's with --kube-proxy-arg=proxy-mode=nftables.
//
// What differs from iptables mode, as upstream: no KUBE-SERVICES rule list but verdict maps
// (service-ips, service-nodeports) looked up once; `numgen random mod N vmap` instead of a
// chain of `-m statistic` probabilities; affinity in per-endpoint dynamic sets with a timeout
// instead of `-m recent`; no large-cluster mode; no localhost NodePorts.
//
// Left out, as in iptables mode: topology hints and dual-stack (the lab is IPv4 only).
import type { EndpointSlice, Service } from '../api/types.ts';
import { inCidr } from '../util/cidr.ts';
import { buildProxyModel, categorizeEndpoints, externallyAccessible, usesClusterEndpoints, usesLocalEndpoints, type EndpointInfo, type ProxyConfig, type ServiceModel, type ServicePortInfo } from './model.ts';
import { masqueradeMark } from './names.ts';
import {
  CLUSTER_IPS_CHECK,
  CLUSTER_IPS_SET,
  FILTER_FORWARD,
  FILTER_INPUT,
  FILTER_OUTPUT,
  FILTER_OUTPUT_POST_DNAT,
  FILTER_PREROUTING,
  FIREWALL_CHECK,
  FIREWALL_IPS_MAP,
  MARK_MASQ_CHAIN,
  MASQUERADING_CHAIN,
  NAT_OUTPUT,
  NAT_POSTROUTING,
  NAT_PREROUTING,
  NFT_TABLE_REF,
  NO_ENDPOINT_NODEPORTS_MAP,
  NO_ENDPOINT_SERVICES_MAP,
  NODEPORT_ENDPOINTS_CHECK,
  NODEPORT_IPS_SET,
  nftEndpointChain,
  nftServiceChains,
  REJECT_CHAIN,
  SERVICE_ENDPOINTS_CHECK,
  SERVICE_IPS_MAP,
  SERVICE_NODEPORTS_MAP,
  SERVICES_CHAIN,
} from './nft-names.ts';

const T = NFT_TABLE_REF;

/** One element of a set or verdict map: "<key>[ comment "…"][ : <value>]". */
export interface NftElement {
  container: string;
  key: string;
  value?: string;
  comment?: string;
}

/** A per-service chain and its rules (the text after the chain name). */
export interface NftChain {
  name: string;
  rules: string[];
}

export interface NftAffinitySet {
  name: string;
  timeoutSeconds: number;
}

/** Everything one Service puts into the table. */
export interface NftServiceFragment {
  key: string;
  /** Per-service chains, endpoint chains first (the order kube-proxy creates them in). */
  chains: NftChain[];
  affinitySets: NftAffinitySet[];
  /** Elements of the shared sets and maps (cluster-ips, service-ips, no-endpoint-*, …). */
  elements: NftElement[];
}

export function elementLine(e: NftElement): string {
  return `add element ${T} ${e.container} { ${e.key}${e.comment !== undefined ? ` comment "${e.comment}"` : ''}${e.value !== undefined ? ` : ${e.value}` : ''} }`;
}

/** `delete element` names the key only. */
export function deleteElementLine(e: NftElement): string {
  return `delete element ${T} ${e.container} { ${e.key} }`;
}

export function ruleLine(chain: string, rule: string): string {
  return `add rule ${T} ${chain} ${rule}`;
}

// The forms of a partial sync. nft (1.0.6) builds a cache of the table before it evaluates a
// transaction, from what the commands need: `add rule`, `add element` and every `delete` make it
// dump every chain and set of the table (with 10,000 Services: 60,000 chains and 10,000 anonymous
// sets, about 130 ms), while `add chain`, `add set` / `add map` and `flush chain` need the table
// alone. The same objects written as chains and containers with their contents in braces
// (`add chain T C { rule ; rule ; }`, `add map T M { spec elements = { … } ; }`) therefore cost
// no cache at all; the kernel receives the same messages (a chain, then its rules; the elements).

/** `add chain T C { rule ; … ; }`: the chain and its rules in one command (see above). */
export function chainRulesLine(chain: string, rules: readonly string[]): string {
  return `add chain ${T} ${chain} { ${rules.map((r) => `${r} ;`).join(' ')} }`;
}

/** One element as it is written inside `elements = { … }`. */
export function elementText(e: NftElement): string {
  return `${e.key}${e.comment !== undefined ? ` comment "${e.comment}"` : ''}${e.value !== undefined ? ` : ${e.value}` : ''}`;
}

/** `add set|map T N { spec elements = { … } ; }`: elements added through the container's declaration (see above). */
export function containerElementsLine(c: { kind: 'set' | 'map'; name: string; spec: string }, elements: readonly NftElement[]): string {
  return `add ${c.kind} ${T} ${c.name} { ${c.spec} elements = { ${elements.map(elementText).join(' , ')} } ; }`;
}

export function affinitySetLine(s: NftAffinitySet): string {
  return `add set ${T} ${s.name} { type ipv4_addr ; flags dynamic,timeout ; timeout ${s.timeoutSeconds}s ; }`;
}

/** LocalTrafficDetector by CIDR: IfLocalNFT / IfNotLocalNFT. */
function localDetector(config: ProxyConfig): { ifLocal: string; ifNotLocal: string } | undefined {
  return config.clusterCIDR ? { ifLocal: `ip saddr ${config.clusterCIDR}`, ifNotLocal: `ip saddr != ${config.clusterCIDR}` } : undefined;
}

function cidrContains(cidr: string, ip: string): boolean {
  return inCidr(cidr.includes('/') ? cidr : `${cidr}/32`, ip);
}

/** writeServiceToEndpointRules: affinity lookups first, then `numgen random mod N vmap`. */
function serviceToEndpointRules(p: ServicePortInfo, endpoints: EndpointInfo[], names: (e: EndpointInfo) => { chain: string; affinitySet: string }): string[] {
  const rules: string[] = [];
  if (p.sessionAffinityClientIP) for (const ep of endpoints) rules.push(`ip saddr @${names(ep).affinitySet} goto ${names(ep).chain}`);
  const vmap = endpoints.map((ep, i) => `${i} : goto ${names(ep).chain}`).join(' , ');
  rules.push(`numgen random mod ${endpoints.length} vmap { ${vmap} }`);
  return rules;
}

/** The body of syncProxyRules' per-service-port loop. */
export function renderNftServicePort(config: ProxyConfig, p: ServicePortInfo, allEndpoints: EndpointInfo[], out: NftServiceFragment): void {
  const detector = localDetector(config);
  const proto = p.proto;
  const port = String(p.port);
  const chains = nftServiceChains(p.namespace, p.name, p.protocol, p.portName);
  // Each endpoint's names are read three times: hashed once.
  const epNameMemo = new Map<EndpointInfo, { chain: string; affinitySet: string }>();
  const epNames = (e: EndpointInfo) => {
    let n = epNameMemo.get(e);
    if (!n) epNameMemo.set(e, (n = nftEndpointChain(p.namespace, p.name, p.protocol, p.portName, e.ip, e.port)));
    return n;
  };
  const { clusterEndpoints, localEndpoints, allLocallyReachableEndpoints, hasAnyEndpoints: hasEndpoints } = categorizeEndpoints(p, allEndpoints);

  const clusterPolicyChain = chains.cluster;
  const usesClusterPolicyChain = clusterEndpoints.length > 0 && usesClusterEndpoints(p);
  const localPolicyChain = chains.local;
  const usesLocalPolicyChain = localEndpoints.length > 0 && usesLocalEndpoints(p);

  let internalTrafficChain = clusterPolicyChain;
  let hasInternalEndpoints = hasEndpoints;
  if (p.internalPolicyLocal) {
    internalTrafficChain = localPolicyChain;
    if (localEndpoints.length === 0) hasInternalEndpoints = false;
  }
  let externalPolicyChain = clusterPolicyChain;
  let hasExternalEndpoints = hasEndpoints;
  if (p.externalPolicyLocal) {
    externalPolicyChain = localPolicyChain;
    if (localEndpoints.length === 0) hasExternalEndpoints = false;
  }
  const externalTrafficChain = chains.external;
  const usesExternalTrafficChain = hasEndpoints && externallyAccessible(p);

  let internalVerdict = '';
  let externalVerdict = '';
  if (!hasEndpoints) {
    internalVerdict = `goto ${REJECT_CHAIN}`;
    externalVerdict = `goto ${REJECT_CHAIN}`;
  } else {
    if (!hasInternalEndpoints) internalVerdict = 'drop';
    if (!hasExternalEndpoints) externalVerdict = 'drop';
  }

  const el = (container: string, key: string, value?: string, comment?: string) => out.elements.push({ container, key, ...(value !== undefined ? { value } : {}), ...(comment !== undefined ? { comment } : {}) });
  const dest = (ip: string) => `${ip} . ${proto} . ${port}`;
  const name = p.nameString;

  // Capture the clusterIP.
  el(CLUSTER_IPS_SET, p.clusterIP);
  if (hasInternalEndpoints) el(SERVICE_IPS_MAP, dest(p.clusterIP), `goto ${internalTrafficChain}`);
  else el(NO_ENDPOINT_SERVICES_MAP, dest(p.clusterIP), internalVerdict, name);

  // Capture externalIPs.
  for (const ip of p.externalIPs) {
    if (hasEndpoints) el(SERVICE_IPS_MAP, dest(ip), `goto ${externalTrafficChain}`);
    if (!hasExternalEndpoints) el(NO_ENDPOINT_SERVICES_MAP, dest(ip), externalVerdict, name);
  }

  // Capture load-balancer ingress.
  const usesFWChain = p.loadBalancerVIPs.length > 0 && p.loadBalancerSourceRanges.length > 0;
  const fwChain = chains.firewall;
  for (const ip of p.loadBalancerVIPs) {
    if (hasEndpoints) el(SERVICE_IPS_MAP, dest(ip), `goto ${externalTrafficChain}`);
    if (usesFWChain) el(FIREWALL_IPS_MAP, dest(ip), `goto ${fwChain}`);
  }
  if (!hasExternalEndpoints) for (const ip of p.loadBalancerVIPs) el(NO_ENDPOINT_SERVICES_MAP, dest(ip), externalVerdict, name);

  // Capture nodeports (not subject to loadBalancerSourceRanges, as upstream).
  if (p.nodePort !== 0) {
    if (hasEndpoints) el(SERVICE_NODEPORTS_MAP, `${proto} . ${p.nodePort}`, `goto ${externalTrafficChain}`);
    if (!hasExternalEndpoints) el(NO_ENDPOINT_NODEPORTS_MAP, `${proto} . ${p.nodePort}`, externalVerdict, name);
  }

  // The chains, in the order kube-proxy ensures them: endpoints, cluster, local, external, firewall.
  const byName = new Map<string, NftChain>();
  const chain = (n: string) => {
    let c = byName.get(n);
    if (!c) {
      c = { name: n, rules: [] };
      byName.set(n, c);
      out.chains.push(c);
    }
    return c;
  };
  for (const ep of allLocallyReachableEndpoints) chain(epNames(ep).chain);
  if (usesClusterPolicyChain) chain(clusterPolicyChain);
  if (usesLocalPolicyChain) chain(localPolicyChain);
  if (usesExternalTrafficChain) chain(externalTrafficChain);
  if (usesFWChain) chain(fwChain);

  // Internal traffic: masquerade off-cluster sources (a static route to the service CIDR).
  if (hasInternalEndpoints) {
    const head = `ip daddr ${p.clusterIP} ${proto} dport ${port}`;
    if (config.masqueradeAll) chain(internalTrafficChain).rules.push(`${head} jump ${MARK_MASQ_CHAIN}`);
    else if (detector) chain(internalTrafficChain).rules.push(`${head} ${detector.ifNotLocal} jump ${MARK_MASQ_CHAIN}`);
  }

  if (usesExternalTrafficChain) {
    const ext = chain(externalTrafficChain);
    if (!p.externalPolicyLocal) {
      ext.rules.push(`jump ${MARK_MASQ_CHAIN}`);
    } else {
      if (detector) ext.rules.push(`${detector.ifLocal} goto ${clusterPolicyChain} comment "short-circuit pod traffic"`);
      ext.rules.push(`fib saddr type local jump ${MARK_MASQ_CHAIN} comment "masquerade local traffic"`);
      ext.rules.push(`fib saddr type local goto ${clusterPolicyChain} comment "short-circuit local traffic"`);
    }
    if (hasExternalEndpoints) ext.rules.push(`goto ${externalPolicyChain}`);
  }

  if (usesFWChain) {
    const sources = [...p.loadBalancerSourceRanges];
    const allowFromNode = p.loadBalancerSourceRanges.some((c) => config.nodeIPs[0] !== undefined && cidrContains(c, config.nodeIPs[0]));
    if (allowFromNode) sources.push(...p.loadBalancerVIPs);
    chain(fwChain).rules.push(`ip saddr != { ${sources.join(' , ')} } drop`);
  }

  if (p.sessionAffinityClientIP) for (const ep of allLocallyReachableEndpoints) out.affinitySets.push({ name: epNames(ep).affinitySet, timeoutSeconds: p.stickyMaxAgeSeconds });

  if (usesClusterPolicyChain) chain(clusterPolicyChain).rules.push(...serviceToEndpointRules(p, clusterEndpoints, epNames));
  if (usesLocalPolicyChain) chain(localPolicyChain).rules.push(...serviceToEndpointRules(p, localEndpoints, epNames));

  // One chain per endpoint: hairpin masquerade, affinity bookkeeping, the DNAT.
  for (const ep of allLocallyReachableEndpoints) {
    const n = epNames(ep);
    const c = chain(n.chain);
    c.rules.push(`ip saddr ${ep.ip} jump ${MARK_MASQ_CHAIN}`);
    if (p.sessionAffinityClientIP) c.rules.push(`update @${n.affinitySet} { ip saddr }`);
    c.rules.push(`meta l4proto ${proto} dnat to ${ep.endpoint}`);
  }
}

export function renderNftService(config: ProxyConfig, m: ServiceModel): NftServiceFragment {
  const out: NftServiceFragment = { key: m.key, chains: [], affinitySets: [], elements: [] };
  for (const p of m.ports) renderNftServicePort(config, p.info, p.endpoints, out);
  return out;
}

/** --nodeport-addresses unset: NodePorts on every local address but 127/8 (nftables mode has no localhost NodePorts). */
export function nodePortMatchAll(config: ProxyConfig): boolean {
  return (config.nodePortAddresses ?? []).length === 0;
}

/** The node IPs inside --nodeport-addresses (loopback left out, as kube-proxy does with an error). */
export function nodePortIPs(config: ProxyConfig): string[] {
  const npa = config.nodePortAddresses ?? [];
  return config.nodeIPs.filter((ip) => !ip.startsWith('127.') && npa.some((c) => cidrContains(c, ip)));
}

interface BaseChain {
  name: string;
  type: 'filter' | 'nat';
  hook: string;
  priority: number;
}

/** nftablesBaseChains (v1.33): filter chains before DNAT (-110), the ClusterIP check after it (-90). */
export const NFT_BASE_CHAINS: BaseChain[] = [
  { name: FILTER_PREROUTING, type: 'filter', hook: 'prerouting', priority: -110 },
  { name: FILTER_INPUT, type: 'filter', hook: 'input', priority: -110 },
  { name: FILTER_FORWARD, type: 'filter', hook: 'forward', priority: -110 },
  { name: FILTER_OUTPUT, type: 'filter', hook: 'output', priority: -110 },
  { name: FILTER_OUTPUT_POST_DNAT, type: 'filter', hook: 'output', priority: -90 },
  { name: NAT_PREROUTING, type: 'nat', hook: 'prerouting', priority: -100 },
  { name: NAT_OUTPUT, type: 'nat', hook: 'output', priority: -100 },
  { name: NAT_POSTROUTING, type: 'nat', hook: 'postrouting', priority: 100 },
];

/** nftablesJumpChains: [dst, src, extra]. */
export const NFT_JUMP_CHAINS: [string, string, string][] = [
  [NODEPORT_ENDPOINTS_CHECK, FILTER_INPUT, 'ct state new'],
  [SERVICE_ENDPOINTS_CHECK, FILTER_INPUT, 'ct state new'],
  [SERVICE_ENDPOINTS_CHECK, FILTER_FORWARD, 'ct state new'],
  [SERVICE_ENDPOINTS_CHECK, FILTER_OUTPUT, 'ct state new'],
  [FIREWALL_CHECK, FILTER_PREROUTING, 'ct state new'],
  [FIREWALL_CHECK, FILTER_OUTPUT, 'ct state new'],
  [SERVICES_CHAIN, NAT_OUTPUT, ''],
  [SERVICES_CHAIN, NAT_PREROUTING, ''],
  [MASQUERADING_CHAIN, NAT_POSTROUTING, ''],
  [CLUSTER_IPS_CHECK, FILTER_FORWARD, 'ct state new'],
  [CLUSTER_IPS_CHECK, FILTER_OUTPUT_POST_DNAT, 'ct state new'],
];

/** The maps and sets setupNFTables declares (nodeport-ips only with --nodeport-addresses). */
export function nftContainers(config: ProxyConfig): { kind: 'set' | 'map'; name: string; spec: string }[] {
  const out: { kind: 'set' | 'map'; name: string; spec: string }[] = [{ kind: 'set', name: CLUSTER_IPS_SET, spec: 'type ipv4_addr ; comment "Active ClusterIPs" ;' }];
  if (!nodePortMatchAll(config)) out.push({ kind: 'set', name: NODEPORT_IPS_SET, spec: 'type ipv4_addr ; comment "IPs that accept NodePort traffic" ;' });
  out.push(
    { kind: 'map', name: NO_ENDPOINT_SERVICES_MAP, spec: 'type ipv4_addr . inet_proto . inet_service : verdict ; comment "vmap to drop or reject packets to services with no endpoints" ;' },
    { kind: 'map', name: NO_ENDPOINT_NODEPORTS_MAP, spec: 'type inet_proto . inet_service : verdict ; comment "vmap to drop or reject packets to service nodeports with no endpoints" ;' },
    { kind: 'map', name: FIREWALL_IPS_MAP, spec: 'type ipv4_addr . inet_proto . inet_service : verdict ; comment "destinations that are subject to LoadBalancerSourceRanges" ;' },
    { kind: 'map', name: SERVICE_IPS_MAP, spec: 'type ipv4_addr . inet_proto . inet_service : verdict ; comment "ClusterIP, ExternalIP and LoadBalancer IP traffic" ;' },
    { kind: 'map', name: SERVICE_NODEPORTS_MAP, spec: 'type inet_proto . inet_service : verdict ; comment "NodePort traffic" ;' },
  );
  return out;
}

/** The regular chains setupNFTables creates (besides the base chains), in its order. */
export function nftTopChains(): string[] {
  const seen: string[] = [];
  for (const [dst] of NFT_JUMP_CHAINS) if (!seen.includes(dst)) seen.push(dst);
  for (const c of [SERVICES_CHAIN, CLUSTER_IPS_CHECK, MASQUERADING_CHAIN, MARK_MASQ_CHAIN, REJECT_CHAIN, FIREWALL_CHECK]) if (!seen.includes(c)) seen.push(c);
  return seen;
}

const REJECT_CHAIN_COMMENT = 'helper for @no-endpoint-services / @no-endpoint-nodeports';

export function baseChainLine(bc: BaseChain): string {
  return `add chain ${T} ${bc.name} { type ${bc.type} hook ${bc.hook} priority ${bc.priority} ; }`;
}

export function topChainLine(name: string): string {
  return name === REJECT_CHAIN ? `add chain ${T} ${name} { comment "${REJECT_CHAIN_COMMENT}" ; }` : `add chain ${T} ${name}`;
}

/** The rules of the fixed chains (setupNFTables), per chain in order. */
export function nftTopRules(config: ProxyConfig): [string, string][] {
  const mark = masqueradeMark(config.masqueradeBit);
  const all = nodePortMatchAll(config);
  const rules: [string, string][] = [];
  for (const [dst, src, extra] of NFT_JUMP_CHAINS) rules.push([src, `${extra ? `${extra} ` : ''}jump ${dst}`]);
  rules.push([MARK_MASQ_CHAIN, `mark set mark or ${mark}`]);
  rules.push([MASQUERADING_CHAIN, `mark and ${mark} == 0 return`]);
  rules.push([MASQUERADING_CHAIN, `mark set mark xor ${mark}`]);
  rules.push([MASQUERADING_CHAIN, 'masquerade fully-random']);
  rules.push([CLUSTER_IPS_CHECK, `ip daddr @${CLUSTER_IPS_SET} reject comment "Reject traffic to invalid ports of ClusterIPs"`]);
  const serviceCIDRs = config.serviceCIDRs ?? [];
  if (serviceCIDRs.length > 0) rules.push([CLUSTER_IPS_CHECK, `ip daddr { ${serviceCIDRs.join(',')} } drop comment "Drop traffic to unallocated ClusterIPs"`]);
  rules.push([REJECT_CHAIN, 'reject']);
  rules.push([SERVICE_ENDPOINTS_CHECK, `ip daddr . meta l4proto . th dport vmap @${NO_ENDPOINT_SERVICES_MAP}`]);
  rules.push([NODEPORT_ENDPOINTS_CHECK, all ? `ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @${NO_ENDPOINT_NODEPORTS_MAP}` : `ip daddr @${NODEPORT_IPS_SET} meta l4proto . th dport vmap @${NO_ENDPOINT_NODEPORTS_MAP}`]);
  rules.push([FIREWALL_CHECK, `ip daddr . meta l4proto . th dport vmap @${FIREWALL_IPS_MAP}`]);
  rules.push([SERVICES_CHAIN, `ip daddr . meta l4proto . th dport vmap @${SERVICE_IPS_MAP}`]);
  rules.push([SERVICES_CHAIN, all ? `fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @${SERVICE_NODEPORTS_MAP}` : `ip daddr @${NODEPORT_IPS_SET} meta l4proto . th dport vmap @${SERVICE_NODEPORTS_MAP}`]);
  return rules;
}

/** The table's fixed part as `nft list`-able "add" lines (no flushes): what a dump shows. */
export function nftBaseDump(config: ProxyConfig): string[] {
  const out = [`add table ${T} { comment "rules for kube-proxy" ; }`];
  for (const c of nftContainers(config)) out.push(`add ${c.kind} ${T} ${c.name} { ${c.spec} }`);
  for (const bc of NFT_BASE_CHAINS) out.push(baseChainLine(bc));
  for (const c of nftTopChains()) out.push(topChainLine(c));
  for (const [chain, rule] of nftTopRules(config)) out.push(ruleLine(chain, rule));
  if (!nodePortMatchAll(config)) for (const ip of nodePortIPs(config)) out.push(elementLine({ container: NODEPORT_IPS_SET, key: ip }));
  return out;
}

/** One Service's objects as "add" lines: affinity sets, chains, rules, elements. */
export function nftServiceDump(f: NftServiceFragment): string[] {
  const out: string[] = [];
  for (const s of f.affinitySets) out.push(affinitySetLine(s));
  for (const c of f.chains) {
    out.push(`add chain ${T} ${c.name}`);
    for (const r of c.rules) out.push(ruleLine(c.name, r));
  }
  for (const e of f.elements) out.push(elementLine(e));
  return out;
}

export function renderNftFragments(models: ServiceModel[], config: ProxyConfig): NftServiceFragment[] {
  return models.map((m) => renderNftService(config, m));
}

export interface NftRenderInput {
  services: Service[];
  endpointSlices: EndpointSlice[];
}

export interface NftRenderResult {
  /** The table as "add" lines, Services in namespace/name order (`lab proxy render --proxy-mode nftables`). */
  text: string;
  chains: number;
  rules: number;
  elements: number;
  bytes: number;
}

/** The table kube-proxy's nftables mode would hold for this state. Pure: no root, nothing applied. */
export function renderNftRules(input: NftRenderInput, config: ProxyConfig): NftRenderResult {
  const models = buildProxyModel(input.services, input.endpointSlices, config);
  const lines = nftBaseDump(config);
  for (const f of renderNftFragments(models, config)) {
    lines.push(`# ${f.key}`);
    lines.push(...nftServiceDump(f));
  }
  const text = lines.join('\n') + '\n';
  let chains = 0;
  let rules = 0;
  let elements = 0;
  for (const l of lines) {
    if (l.startsWith('add chain ')) chains++;
    else if (l.startsWith('add rule ')) rules++;
    else if (l.startsWith('add element ')) elements++;
  }
  return { text, chains, rules, elements, bytes: Buffer.byteLength(text) };
}
