// kube-proxy's chain names and constants (pkg/proxy/iptables/proxier.go, v1.33).
//
// Per-service chains are named after a hash so that they fit iptables' 28-character limit:
// the first 16 characters of base32(sha256("<ns>/<svc>:<portName>" + "<protocol>")), protocol in
// lower case. KUBE-SEP chains also hash the endpoint "<ip>:<port>". The same Service therefore gets
// the same chain names on every node and in every cluster — a learner can compare ours with k3s's.
import { createHash } from 'node:crypto';

export const KUBE_SERVICES = 'KUBE-SERVICES';
export const KUBE_EXTERNAL_SERVICES = 'KUBE-EXTERNAL-SERVICES';
export const KUBE_NODEPORTS = 'KUBE-NODEPORTS';
export const KUBE_POSTROUTING = 'KUBE-POSTROUTING';
export const KUBE_MARK_MASQ = 'KUBE-MARK-MASQ';
export const KUBE_FORWARD = 'KUBE-FORWARD';
export const KUBE_PROXY_FIREWALL = 'KUBE-PROXY-FIREWALL';
/** Empty chain in mangle, nat and filter; kube-proxy watches it to notice a flushed ruleset. */
export const KUBE_PROXY_CANARY = 'KUBE-PROXY-CANARY';
/** kube-proxy's copy of kubelet's anti-martian chain (only written with localhost NodePorts). */
export const KUBE_FIREWALL = 'KUBE-FIREWALL';

/** Above this many endpoints kube-proxy drops per-endpoint comments ("large cluster mode"). */
export const LARGE_CLUSTER_ENDPOINTS_THRESHOLD = 1000;

/** Default --iptables-masquerade-bit is 14: mark 0x4000. */
export const DEFAULT_MASQUERADE_BIT = 14;

export const SERVICE_CHAIN_PREFIXES = ['KUBE-SVC-', 'KUBE-SVL-', 'KUBE-EXT-', 'KUBE-FW-', 'KUBE-SEP-'] as const;

/** True for the per-service chains kube-proxy creates and garbage-collects. */
export function isServiceChainName(chain: string): boolean {
  return SERVICE_CHAIN_PREFIXES.some((p) => chain.startsWith(p));
}

/** The masquerade mark as kube-proxy prints it: 1<<14 -> "0x4000". */
export function masqueradeMark(bit: number = DEFAULT_MASQUERADE_BIT): string {
  return '0x' + (2 ** bit).toString(16);
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 standard base32 (with the padding Go's StdEncoding would add). */
export function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  while (out.length % 8 !== 0) out += '=';
  return out;
}

// Chain names are asked for on every sync (50,000 endpoints at the bench's 10,000 Services), and
// a sha256 costs more than a Map lookup: remember them. Cleared wholesale when it grows large.
const memo = new Map<string, string>();
const MEMO_LIMIT = 500_000;

function hash16(text: string): string {
  let h = memo.get(text);
  if (h === undefined) {
    // Only the first 16 base32 characters are used: they come from the first 10 bytes of the digest.
    h = base32(createHash('sha256').update(text).digest().subarray(0, 10));
    if (memo.size >= MEMO_LIMIT) memo.clear();
    memo.set(text, h);
  }
  return h;
}

/**
 * ServicePortName.String(): "<ns>/<name>:<port>", or "<ns>/<name>" for an unnamed port (a Service
 * with one port may leave it unnamed; the comments then read "ns/svc cluster IP").
 */
export function servicePortNameString(namespace: string, name: string, portName: string): string {
  return portName ? `${namespace}/${name}:${portName}` : `${namespace}/${name}`;
}

/** The hash shared by KUBE-SVC/SVL/EXT/FW chains of one service port. */
export function portProtoHash(svcPortName: string, protocol: string): string {
  return hash16(svcPortName + protocol.toLowerCase());
}

export interface ServicePortChains {
  /** KUBE-SVC-*: endpoints for Cluster traffic policy. */
  svc: string;
  /** KUBE-SVL-*: local endpoints for Local traffic policy. */
  svl: string;
  /** KUBE-EXT-*: external destinations (NodePort, LoadBalancer, externalIPs). */
  ext: string;
  /** KUBE-FW-*: loadBalancerSourceRanges firewall. */
  fw: string;
}

export function servicePortChains(svcPortName: string, protocol: string): ServicePortChains {
  const h = portProtoHash(svcPortName, protocol);
  return { svc: `KUBE-SVC-${h}`, svl: `KUBE-SVL-${h}`, ext: `KUBE-EXT-${h}`, fw: `KUBE-FW-${h}` };
}

/** KUBE-SEP-*: one chain per (service port, endpoint "<ip>:<port>"). */
export function endpointChainName(svcPortName: string, protocol: string, endpoint: string): string {
  return `KUBE-SEP-${hash16(svcPortName + protocol.toLowerCase() + endpoint)}`;
}

/** Convenience for `lab get svc -o wide`: the KUBE-SVC chain of one port of a Service. */
export function serviceChainName(namespace: string, name: string, portName: string, protocol: string): string {
  return servicePortChains(servicePortNameString(namespace, name, portName), protocol).svc;
}
