// kube-proxy's nftables names (pkg/proxy/nftables/proxier.go, v1.33).
//
// Everything lives in one table, `ip kube-proxy`, so names need no KUBE- prefix. Per-service
// chains carry the readable name after a hash: "<prefix><HASH8>-<ns>/<svc>/<proto>/<port>", where
// HASH8 is the first 8 characters of base32(sha256(name)) — unlike iptables mode, the whole
// name is hashed and then shown in full (truncated to 240 characters with "..." if ever longer).
import { createHash } from 'node:crypto';
import { base32 } from './names.ts';

export const NFT_TABLE = 'kube-proxy';
/** The lab's own table `lab trace` adds for a moment in nftables mode (meta nftrace for one flow); `lab down` removes a leftover. */
export const LAB_TRACE_TABLE = 'lab-trace';
/** `ip kube-proxy` as every command names it. */
export const NFT_TABLE_REF = `ip ${NFT_TABLE}`;

// base chains
export const FILTER_PREROUTING = 'filter-prerouting';
export const FILTER_INPUT = 'filter-input';
export const FILTER_FORWARD = 'filter-forward';
export const FILTER_OUTPUT = 'filter-output';
export const FILTER_OUTPUT_POST_DNAT = 'filter-output-post-dnat';
export const NAT_PREROUTING = 'nat-prerouting';
export const NAT_OUTPUT = 'nat-output';
export const NAT_POSTROUTING = 'nat-postrouting';
// service dispatch
export const SERVICES_CHAIN = 'services';
export const SERVICE_IPS_MAP = 'service-ips';
export const SERVICE_NODEPORTS_MAP = 'service-nodeports';
export const NODEPORT_IPS_SET = 'nodeport-ips';
export const CLUSTER_IPS_SET = 'cluster-ips';
// no endpoints
export const SERVICE_ENDPOINTS_CHECK = 'service-endpoints-check';
export const NODEPORT_ENDPOINTS_CHECK = 'nodeport-endpoints-check';
export const NO_ENDPOINT_SERVICES_MAP = 'no-endpoint-services';
export const NO_ENDPOINT_NODEPORTS_MAP = 'no-endpoint-nodeports';
export const REJECT_CHAIN = 'reject-chain';
export const CLUSTER_IPS_CHECK = 'cluster-ips-check';
// loadBalancerSourceRanges
export const FIREWALL_IPS_MAP = 'firewall-ips';
export const FIREWALL_CHECK = 'firewall-check';
// masquerading
export const MARK_MASQ_CHAIN = 'mark-for-masquerade';
export const MASQUERADING_CHAIN = 'masquerading';

/** knftables.NameLengthMax (256) minus the longest prefix (16). */
const CHAIN_NAME_BASE_MAX = 256 - 16;

const memo = new Map<string, string>();
const MEMO_LIMIT = 500_000;

/** hashAndTruncate: "<8 base32 chars of sha256(name)>-<name>", at most 240 characters. */
export function hashAndTruncate(name: string): string {
  let out = memo.get(name);
  if (out === undefined) {
    // 8 base32 characters come from the first 5 bytes of the digest.
    out = base32(createHash('sha256').update(name).digest().subarray(0, 5)).slice(0, 8) + '-' + name;
    if (out.length > CHAIN_NAME_BASE_MAX) out = out.slice(0, CHAIN_NAME_BASE_MAX - 3) + '...';
    if (memo.size >= MEMO_LIMIT) memo.clear();
    memo.set(name, out);
  }
  return out;
}

/** servicePortChainNameBase: "HASH-ns/svc/proto/portName" (protocol in lower case). */
export function servicePortChainBase(namespace: string, name: string, protocol: string, portName: string): string {
  return hashAndTruncate(`${namespace}/${name}/${protocol.toLowerCase()}/${portName}`);
}

/** servicePortEndpointChainNameBase: "HASH-ns/svc/proto/portName__ip/port". */
export function endpointChainBase(namespace: string, name: string, protocol: string, portName: string, ip: string, port: number): string {
  return hashAndTruncate(`${namespace}/${name}/${protocol.toLowerCase()}/${portName}__${ip.replaceAll(':', '.')}/${port}`);
}

export interface NftServiceChains {
  /** service-*: endpoints for Cluster traffic policy. */
  cluster: string;
  /** local-*: endpoints for Local traffic policy. */
  local: string;
  /** external-*: NodePort / LoadBalancer / externalIP destinations. */
  external: string;
  /** firewall-*: loadBalancerSourceRanges. */
  firewall: string;
}

export function nftServiceChains(namespace: string, name: string, protocol: string, portName: string): NftServiceChains {
  const base = servicePortChainBase(namespace, name, protocol, portName);
  return { cluster: `service-${base}`, local: `local-${base}`, external: `external-${base}`, firewall: `firewall-${base}` };
}

export function nftEndpointChain(namespace: string, name: string, protocol: string, portName: string, ip: string, port: number): { chain: string; affinitySet: string } {
  const base = endpointChainBase(namespace, name, protocol, portName, ip, port);
  return { chain: `endpoint-${base}`, affinitySet: `affinity-${base}` };
}

/** isServiceChainName: only per-service chains have a "/" in their name. */
export function isNftServiceChain(chain: string): boolean {
  return chain.includes('/');
}

export function isAffinitySet(set: string): boolean {
  return set.startsWith('affinity-');
}
