// flannel's kube subnet manager (pkg/subnet/kube, flannel v0.26 as k3s v1.32/v1.33 embed it, with
// the prefix k3s gives it, flannel.alpha.coreos.com). There is no lease store: the Node objects are
// the leases. Each flannel publishes on its own Node what the others need to reach its pods
// (AcquireLease), and reads every other Node as a lease (nodeToLease): spec.podCIDR is the subnet,
// the annotations give the VTEP MAC and the IP to send VXLAN to. Pure: objects in, values out.
import type { KubeObject } from '../client/types.ts';
import { cidrProblem, ipProblem, parseCidr, formatCidr } from '../util/cidr.ts';

export const ANNOTATION_PREFIX = 'flannel.alpha.coreos.com/';
/** `{"VNI":1,"VtepMAC":"<mac>"}`, the vxlan backend's lease attributes as Go's json.Marshal writes them. */
export const BACKEND_DATA = `${ANNOTATION_PREFIX}backend-data`;
export const BACKEND_TYPE = `${ANNOTATION_PREFIX}backend-type`;
/** "true": this Node's lease is flannel's; other flannels ignore Nodes without it. */
export const KUBE_SUBNET_MANAGER = `${ANNOTATION_PREFIX}kube-subnet-manager`;
export const PUBLIC_IP = `${ANNOTATION_PREFIX}public-ip`;
/** Set by someone else (k3s, for --node-external-ip): flannel publishes it as public-ip instead of its own. */
export const PUBLIC_IP_OVERWRITE = `${ANNOTATION_PREFIX}public-ip-overwrite`;

/** The vxlan backend's default VNI; k3s's backend config ({"Type":"vxlan"}) keeps it. */
export const VNI = 1;

export type FlannelNode = KubeObject & { spec?: { podCIDR?: string; podCIDRs?: string[] } };

/** Another node's lease, as flannel's vxlan backend uses it. */
export interface FlannelLease {
  node: string;
  /** The node's pod CIDR, e.g. 10.42.1.0/24. */
  subnet: string;
  /** Where its VXLAN packets go (the outer destination; its node IP). */
  publicIP: string;
  /** Its flannel.1's MAC address, lowercase with colons. */
  vtepMac: string;
}

const MAC = /^[0-9a-f]{2}([:-][0-9a-f]{2}){5}$/i;

/** The MAC lowercase with colons (net.HardwareAddr's String()), or undefined when `text` is not a 48-bit MAC. */
export function normalizeMac(text: string): string | undefined {
  return MAC.test(text) ? text.toLowerCase().replace(/-/g, ':') : undefined;
}

/** The node's IPv4 pod CIDR: the IPv4 one of spec.podCIDRs, else spec.podCIDR (as nodeToLease reads them). */
export function podCIDROf(node: FlannelNode): string | undefined {
  const cidrs = node.spec?.podCIDRs?.length ? node.spec.podCIDRs : node.spec?.podCIDR ? [node.spec.podCIDR] : [];
  return cidrs.find((c) => !c.includes(':'));
}

/** The backend-data annotation's value for this MAC: byte for byte what flannel writes. */
export function backendData(vtepMac: string): string {
  return JSON.stringify({ VNI, VtepMAC: vtepMac });
}

/**
 * The four annotations flannel writes on its own Node (IPv4 only: the v6 ones are written only with
 * an IPv6 lease). public-ip is the node's IP on the flannel interface, or the overwrite annotation
 * when someone set one.
 */
export function ownAnnotations(node: FlannelNode, opts: { publicIP: string; vtepMac: string }): Record<string, string> {
  const overwrite = node.metadata.annotations?.[PUBLIC_IP_OVERWRITE];
  return {
    [BACKEND_DATA]: backendData(opts.vtepMac),
    [BACKEND_TYPE]: 'vxlan',
    [KUBE_SUBNET_MANAGER]: 'true',
    [PUBLIC_IP]: overwrite || opts.publicIP,
  };
}

/** The annotations to write, or null when the Node already carries them all (AcquireLease patches only then). */
export function annotationsToPatch(node: FlannelNode, want: Record<string, string>): Record<string, string> | null {
  const have = node.metadata.annotations ?? {};
  return Object.entries(want).some(([k, v]) => have[k] !== v) ? want : null;
}

/**
 * The VTEP MAC flannel published on this Node earlier (GetStoredMacAddresses): a restarted flannel
 * whose flannel.1 is gone makes the new one with it, so the other nodes' FDB and neighbour entries
 * stay right.
 */
export function storedVtepMac(node: FlannelNode | undefined): string | undefined {
  const text = node?.metadata.annotations?.[BACKEND_DATA];
  if (!text) return undefined;
  try {
    const mac = (JSON.parse(text) as { VtepMAC?: unknown }).VtepMAC;
    return typeof mac === 'string' ? normalizeMac(mac) : undefined;
  } catch {
    return undefined;
  }
}

/** A lease, or why there is none (`quiet`: the Node is simply not flannel's, yet: flannel ignores it silently). */
export type LeaseResult = { lease: FlannelLease } | { skipped: string; quiet?: boolean };

/**
 * Another Node as a lease (nodeToLease plus the vxlan backend's checks), or why it is none: not
 * flannel's, no pod CIDR yet, another backend, or annotations that do not parse. Everything that
 * reaches a command (addresses, MAC) is validated here.
 */
export function nodeLease(node: FlannelNode): LeaseResult {
  const name = node.metadata.name;
  const a = node.metadata.annotations ?? {};
  if (a[KUBE_SUBNET_MANAGER] !== 'true') return { skipped: `node ${name} has no ${KUBE_SUBNET_MANAGER}: "true" annotation`, quiet: true };
  const cidr = podCIDROf(node);
  if (!cidr) return { skipped: `node ${name} has no IPv4 spec.podCIDR` };
  const cidrErr = cidrProblem(cidr);
  if (cidrErr) return { skipped: `node ${name}: spec.podCIDR ${cidrErr}` };
  const publicIP = a[PUBLIC_IP] ?? '';
  const ipErr = ipProblem(publicIP);
  if (ipErr) return { skipped: `node ${name}: ${PUBLIC_IP} ${ipErr}` };
  if (a[BACKEND_TYPE] !== 'vxlan') return { skipped: `node ${name}: ignoring non-vxlan subnet ${cidr}: type=${a[BACKEND_TYPE] ?? ''}` };
  const vtepMac = storedVtepMac(node);
  if (!vtepMac) return { skipped: `node ${name}: error decoding subnet lease JSON in ${BACKEND_DATA}: ${JSON.stringify(a[BACKEND_DATA] ?? '')}` };
  return { lease: { node: name, subnet: formatCidr(parseCidr(cidr)), publicIP, vtepMac } };
}

/**
 * Whether an update of a Node can change what flannel does with it: its lease fields (flannel's
 * handleUpdateLeaseEvent looks at backend-data, backend-type and public-ip; the lab also at the
 * pod CIDR and the manager flag). Heartbeats and status updates change none of them.
 */
export function leaseChanged(old: FlannelNode, cur: FlannelNode): boolean {
  const keys = [BACKEND_DATA, BACKEND_TYPE, PUBLIC_IP, KUBE_SUBNET_MANAGER, PUBLIC_IP_OVERWRITE];
  const oa = old.metadata.annotations ?? {};
  const ca = cur.metadata.annotations ?? {};
  return keys.some((k) => oa[k] !== ca[k]) || podCIDROf(old) !== podCIDROf(cur);
}
