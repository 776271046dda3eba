// Cluster DNS records (the data CoreDNS's kubernetes plugin derives from its API watch), computed
// as a pure function of Services, Endpoints and Pods. The controller writes the result to a JSON
// file; the DNS pod (src/dns/main.ts) watches that file, like CoreDNS watches the API server.
//
// Records follow the Kubernetes DNS-Based Service Discovery spec (github.com/kubernetes/dns,
// docs/specification.md) with the details CoreDNS adds: TTL 5, priority 0 / weight 100/n on SRV,
// dashed-IP endpoint names, an SRV at the bare service name for every port.
import { isIPv4, isIPv6 } from 'node:net';
import { Address4, Address6 } from 'ip-address';
import { z } from 'zod';
import type { Endpoints, EndpointAddress, Pod, Service } from '../api/types.ts';

/** The schema version CoreDNS reports in `dns-version.<zone>` TXT. */
export const DNS_SCHEMA_VERSION = '1.1.0';
/** CoreDNS kubernetes plugin default TTL. */
export const DEFAULT_DNS_TTL = 5;
/** The annotation that makes not-ready endpoints count as ready for DNS (spec 2.1). */
export const TOLERATE_UNREADY_ANNOTATION = 'service.alpha.kubernetes.io/tolerate-unready-endpoints';
/** Namespaces every cluster has, whether or not an object in the state file lives there. */
export const BUILTIN_NAMESPACES = ['default', 'kube-node-lease', 'kube-public', 'kube-system'];

/**
 * `<a-b-c-d>.<ns>.pod.<zone>` records (CoreDNS `pods` option): `insecure` answers any well-formed
 * address in an existing namespace (k3s's default), `verified` only addresses of running pods,
 * `disabled` answers NXDOMAIN.
 */
export type PodRecordsMode = 'insecure' | 'verified' | 'disabled';

/** `ttl`: the record's own (the hosts plugin's `ttl`); without it, the snapshot's. */
export type DnsRecord =
  | { name: string; type: 'A' | 'AAAA' | 'CNAME' | 'PTR' | 'NS' | 'TXT'; data: string; from?: string; ttl?: number }
  | { name: string; type: 'SRV'; data: SrvData; from?: string; ttl?: number };

export interface SrvData {
  priority: number;
  weight: number;
  port: number;
  target: string;
}

/**
 * Everything the DNS server needs, JSON-serialisable. Names are lower case, without the trailing
 * dot. `from` says which object produced a record (`Service default/app2-service`), for humans.
 */
export interface DnsSnapshot {
  kind: 'DnsSnapshot';
  version: 1;
  /** Increases with every change the controller writes; also the SOA serial. */
  generation: number;
  clusterDomain: string;
  ttl: number;
  podRecords: PodRecordsMode;
  /** Existing namespaces: `<ns>.svc.<zone>` answers NODATA instead of NXDOMAIN. */
  namespaces: string[];
  records: DnsRecord[];
}

export interface BuildDnsSnapshotInput {
  services: Service[];
  endpoints: Endpoints[];
  pods?: Pod[];
  clusterDomain: string;
  generation?: number;
  ttl?: number;
  /** Default `insecure`, as in k3s's Corefile. */
  podRecords?: PodRecordsMode;
  /** The Service in front of the DNS pods, for the zone's NS record. Default kube-system/kube-dns. */
  dnsService?: { namespace: string; name: string };
  /** k3s's NodeHosts (CoreDNS `hosts` plugin): node names resolvable from pods. */
  nodeHosts?: { ip: string; hostnames: string[] }[];
}

export function buildDnsSnapshot(input: BuildDnsSnapshotInput): DnsSnapshot {
  const zone = normalizeName(input.clusterDomain);
  const records: DnsRecord[] = [];
  const seen = new Set<string>();
  const add = (r: DnsRecord): void => {
    const id = `${r.name} ${r.type} ${JSON.stringify(r.data)}`;
    if (seen.has(id)) return;
    seen.add(id);
    records.push(r);
  };
  const endpointsByKey = new Map(input.endpoints.map((e) => [`${e.metadata.namespace}/${e.metadata.name}`, e]));
  const podsByKey = new Map((input.pods ?? []).map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, p]));

  add({ name: `dns-version.${zone}`, type: 'TXT', data: DNS_SCHEMA_VERSION });
  const dnsSvc = input.dnsService ?? { namespace: 'kube-system', name: 'kube-dns' };
  const dnsService = input.services.find((s) => s.metadata.namespace === dnsSvc.namespace && s.metadata.name === dnsSvc.name);
  const dnsIP = dnsService?.spec.clusterIP;
  // CoreDNS names itself ns.dns.<zone> and answers it with the kube-dns ClusterIP.
  if (dnsIP && dnsIP !== 'None') {
    add({ name: zone, type: 'NS', data: `ns.dns.${zone}`, from: `Service ${dnsSvc.namespace}/${dnsSvc.name}` });
    add({ name: `ns.dns.${zone}`, type: addressType(dnsIP), data: dnsIP, from: `Service ${dnsSvc.namespace}/${dnsSvc.name}` });
  }

  const services = [...input.services].sort((a, b) => svcKey(a).localeCompare(svcKey(b)));
  for (const svc of services) {
    const from = `Service ${svcKey(svc)}`;
    const fqdn = `${svc.metadata.name}.${svc.metadata.namespace}.svc.${zone}`.toLowerCase();
    if (svc.spec.type === 'ExternalName') {
      if (svc.spec.externalName) add({ name: fqdn, type: 'CNAME', data: normalizeName(svc.spec.externalName), from });
      continue;
    }
    const clusterIP = svc.spec.clusterIP;
    if (!clusterIP) continue; // not allocated yet: no records, like a Service the API has not admitted

    if (clusterIP !== 'None') {
      if (!isIPv4(clusterIP) && !isIPv6(clusterIP)) continue;
      add({ name: fqdn, type: addressType(clusterIP), data: clusterIP, from });
      const srv = svc.spec.ports.map((p) => ({ portName: p.name, proto: p.protocol, port: p.port, target: fqdn }));
      addSrv(add, fqdn, srv, from);
      add({ name: reverseName(clusterIP), type: 'PTR', data: fqdn, from });
      continue;
    }

    // Headless: the name resolves to the ready endpoints themselves (spec 2.4), and each endpoint
    // gets a name of its own: its `hostname`, else the dashed IP (CoreDNS's "system-assigned id").
    const tolerateUnready = svc.metadata.annotations?.[TOLERATE_UNREADY_ANNOTATION] === 'true';
    const ep = endpointsByKey.get(svcKey(svc));
    const srv: SrvTarget[] = [];
    for (const subset of ep?.subsets ?? []) {
      const ready = [...subset.addresses, ...(tolerateUnready ? subset.notReadyAddresses : [])];
      for (const addr of ready) {
        if (!isIPv4(addr.ip) && !isIPv6(addr.ip)) continue;
        const host = `${endpointHostname(addr, svc, podsByKey)}.${fqdn}`;
        add({ name: fqdn, type: addressType(addr.ip), data: addr.ip, from });
        add({ name: host, type: addressType(addr.ip), data: addr.ip, from });
        add({ name: reverseName(addr.ip), type: 'PTR', data: host, from });
        // Headless SRV records carry the endpoint (target) port: there is no proxy to translate.
        for (const p of subset.ports) srv.push({ portName: p.name, proto: p.protocol, port: p.port, target: host });
      }
    }
    addSrv(add, fqdn, srv, from);
  }

  // Like CoreDNS, any endpoint address of a non-headless Service also answers PTR with its
  // endpoint name (even though that name only resolves forward for headless Services).
  for (const svc of services) {
    if (svc.spec.type === 'ExternalName' || !svc.spec.clusterIP || svc.spec.clusterIP === 'None') continue;
    const fqdn = `${svc.metadata.name}.${svc.metadata.namespace}.svc.${zone}`.toLowerCase();
    for (const subset of endpointsByKey.get(svcKey(svc))?.subsets ?? []) {
      for (const addr of subset.addresses) {
        if (!isIPv4(addr.ip) && !isIPv6(addr.ip)) continue;
        add({ name: reverseName(addr.ip), type: 'PTR', data: `${endpointHostname(addr, svc, podsByKey)}.${fqdn}`, from: `Service ${svcKey(svc)}` });
      }
    }
  }

  const podRecords = input.podRecords ?? 'insecure';
  if (podRecords === 'verified') {
    for (const pod of input.pods ?? []) {
      const ip = pod.status.podIP;
      if (!ip || pod.status.phase !== 'Running' || (!isIPv4(ip) && !isIPv6(ip))) continue;
      add({ name: `${dashedIP(ip)}.${pod.metadata.namespace}.pod.${zone}`, type: addressType(ip), data: ip, from: `Pod ${pod.metadata.namespace}/${pod.metadata.name}` });
    }
  }

  for (const h of input.nodeHosts ?? []) {
    if (!isIPv4(h.ip) && !isIPv6(h.ip)) continue;
    for (const name of h.hostnames) add({ name: normalizeName(name), type: addressType(h.ip), data: h.ip, from: 'NodeHosts' });
    if (h.hostnames[0]) add({ name: reverseName(h.ip), type: 'PTR', data: normalizeName(h.hostnames[0]), from: 'NodeHosts' });
  }

  const namespaces = new Set(BUILTIN_NAMESPACES);
  for (const o of [...input.services, ...input.endpoints, ...(input.pods ?? [])]) namespaces.add(o.metadata.namespace);

  return {
    kind: 'DnsSnapshot',
    version: 1,
    generation: input.generation ?? 0,
    clusterDomain: zone,
    ttl: input.ttl ?? DEFAULT_DNS_TTL,
    podRecords,
    namespaces: [...namespaces].sort(),
    records,
  };
}

interface SrvTarget {
  portName: string;
  proto: string;
  port: number;
  target: string;
}

// SRV at `_<port>._<proto>.<svc>...` for named ports (spec 2.3.2 / 2.4.2) and, as CoreDNS does,
// at the service name itself for every port. Weight is CoreDNS's floor(100 / records in the set).
function addSrv(add: (r: DnsRecord) => void, fqdn: string, targets: SrvTarget[], from: string): void {
  const sets = new Map<string, SrvTarget[]>();
  const push = (name: string, t: SrvTarget): void => {
    const set = sets.get(name) ?? [];
    if (!set.some((o) => o.port === t.port && o.target === t.target)) set.push(t);
    sets.set(name, set);
  };
  for (const t of targets) {
    if (t.portName) push(`_${t.portName.toLowerCase()}._${t.proto.toLowerCase()}.${fqdn}`, t);
    push(fqdn, t);
  }
  for (const [name, set] of sets) {
    const weight = Math.floor(100 / set.length);
    for (const t of set) add({ name, type: 'SRV', data: { priority: 0, weight, port: t.port, target: t.target }, from });
  }
}

function endpointHostname(addr: EndpointAddress, svc: Service, pods: Map<string, Pod>): string {
  if (addr.hostname) return addr.hostname.toLowerCase();
  // The endpoints controller copies pod.spec.hostname when pod.spec.subdomain names the Service;
  // repeated here so hand-written or older Endpoints still get the pod's chosen name.
  const ref = addr.targetRef;
  const pod = ref ? pods.get(`${ref.namespace}/${ref.name}`) : undefined;
  if (pod?.spec.hostname && pod.spec.subdomain === svc.metadata.name) return pod.spec.hostname.toLowerCase();
  return dashedIP(addr.ip);
}

function svcKey(svc: Service): string {
  return `${svc.metadata.namespace}/${svc.metadata.name}`;
}

function addressType(ip: string): 'A' | 'AAAA' {
  return isIPv6(ip) ? 'AAAA' : 'A';
}

/** `10.42.0.7` -> `10-42-0-7` (IPv6: colons become dashes, as CoreDNS does). */
export function dashedIP(ip: string): string {
  return ip.replace(/[.:]/g, '-');
}

/** `10.43.0.10` -> `10.0.43.10.in-addr.arpa` (nibbles under ip6.arpa for IPv6). */
export function reverseName(ip: string): string {
  const form = isIPv6(ip) ? new Address6(ip).reverseForm() : new Address4(ip).reverseForm();
  return normalizeName(form);
}

/** Lower case, no trailing dot: the form every name in a snapshot has. */
export function normalizeName(name: string): string {
  return name.replace(/\.+$/, '').toLowerCase();
}

const recordSchema = z.union([
  z.object({
    name: z.string(),
    type: z.enum(['A', 'AAAA', 'CNAME', 'PTR', 'NS', 'TXT']),
    data: z.string(),
    from: z.string().optional(),
  }),
  z.object({
    name: z.string(),
    type: z.literal('SRV'),
    data: z.object({
      priority: z.number().int().min(0).max(65535),
      weight: z.number().int().min(0).max(65535),
      port: z.number().int().min(0).max(65535),
      target: z.string(),
    }),
    from: z.string().optional(),
  }),
]);

const snapshotSchema = z.object({
  kind: z.literal('DnsSnapshot'),
  version: z.literal(1),
  generation: z.number().int().min(0),
  clusterDomain: z.string().min(1),
  ttl: z.number().int().min(0),
  podRecords: z.enum(['insecure', 'verified', 'disabled']),
  namespaces: z.array(z.string()),
  records: z.array(recordSchema),
});

/** Parses and validates a snapshot file's text; throws with a readable message when malformed. */
export function parseDnsSnapshot(text: string): DnsSnapshot {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`DNS snapshot is not JSON: ${(err as Error).message}`, { cause: err });
  }
  const parsed = snapshotSchema.safeParse(json);
  if (!parsed.success) throw new Error(`DNS snapshot is malformed: ${z.prettifyError(parsed.error)}`);
  const snap = parsed.data as DnsSnapshot;
  for (const r of snap.records) {
    if ((r.type === 'A' && !isIPv4(r.data)) || (r.type === 'AAAA' && !isIPv6(r.data))) throw new Error(`DNS snapshot is malformed: ${r.name} ${r.type} ${r.data} is not an address`);
  }
  return {
    ...snap,
    clusterDomain: normalizeName(snap.clusterDomain),
    records: snap.records.map((r) => ({ ...r, name: normalizeName(r.name) }) as DnsRecord),
  };
}

/** The file text the controller writes: stable key order, one record per line for easy diffs. */
export function formatDnsSnapshot(snap: DnsSnapshot): string {
  const { records, ...head } = snap;
  const body = JSON.stringify(head, null, 2).replace(/\n}$/, '');
  const lines = records.map((r) => '    ' + JSON.stringify(r));
  return `${body},\n  "records": [\n${lines.join(',\n')}\n  ]\n}\n`;
}
