// The API server's Service allocators (ClusterIP and NodePort), pure and deterministic.
//
// Kubernetes splits each range in two bands (KEP-3070 / KEP-3668): a low "static" band meant for
// addresses chosen by hand (the `kubernetes` Service takes the first service IP, kube-dns usually
// .10), and the rest, from which dynamic allocations are drawn first. For a /16 the static band
// is the first 256 addresses (min(max(16, size/16), 256)); for 30000-32767 it is the first 86
// ports (min(max(16, size/32), 128)). Kubernetes picks a random free value in the dynamic band;
// the lab picks a pseudo-random start from a hash of the Service's name and probes upwards, so
// the same Service gets the same IP and NodePort on every run and in every sandbox.
//
// Stability: allocations of the previous run (`previous`) are kept as long as the Service still
// exists and does not ask for something else; only new Services get new values. Like the API
// server, a request for a value already held by another Service is an error for the newcomer.
import { createHash } from 'node:crypto';
import type { Service } from './types.ts';
import { intToIp, parseCidr, parseIP, size } from '../util/cidr.ts';

export interface ServiceAllocation {
  /** Allocated or requested ClusterIP; 'None' for headless Services. Absent for ExternalName. */
  clusterIP?: string;
  /** NodePorts by "<port>/<protocol>" of the Service port (unique within a Service). */
  nodePorts: Record<string, number>;
  /** For LoadBalancer Services with externalTrafficPolicy Local (allocated from the NodePort range). */
  healthCheckNodePort?: number;
}

/** By "<namespace>/<name>". Persist this map (LabState.serviceAllocations) and pass it back in. */
export type ServiceAllocations = Record<string, ServiceAllocation>;

export interface AllocationError {
  service: string;
  field: string;
  message: string;
}

export interface AllocatorConfig {
  serviceCIDR: string;
  serviceNodePortRange: [number, number];
  /** --cluster-dns: kube-system/kube-dns gets it when the manifest does not say. */
  clusterDNS?: string;
}

export interface AllocationResult {
  allocations: ServiceAllocations;
  errors: AllocationError[];
}

/** A Service after allocation: spec.clusterIP and ports[].nodePort are filled in. */
export type AllocatedService = Service & { spec: Service['spec'] & { healthCheckNodePort?: number } };

export const KUBERNETES_SERVICE = 'default/kubernetes';
export const KUBE_DNS_SERVICE = 'kube-system/kube-dns';

export function nodePortKey(port: { port: number; protocol: string }): string {
  return `${port.port}/${port.protocol}`;
}

function serviceKey(s: Service): string {
  return `${s.metadata.namespace}/${s.metadata.name}`;
}

function hashNumber(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32BE(0);
}

/** min(max(min, size/step), max), 0 for tiny ranges — the static band's size. */
function rangeOffset(size: number, min: number, max: number, step: number): number {
  if (size <= min) return 0;
  const offset = Math.floor(size / step);
  return Math.min(Math.max(offset, min), max);
}

/**
 * A range of integers [base, base+size) with a taken-set and the two-band dynamic allocation.
 * Exported for the API server's Service REST storage (server/service-alloc.ts), which allocates
 * one Service at a time with the same bands and the same hashed probing.
 */
export class Band {
  readonly taken = new Set<number>();
  constructor(
    readonly base: number,
    readonly size: number,
    readonly offset: number,
  ) {}
  contains(v: number): boolean {
    return v >= this.base && v < this.base + this.size;
  }
  /** Dynamic band [offset, size) first, then the static band [0, offset), each probed from a hashed start. */
  next(seed: string): number | undefined {
    const h = hashNumber(seed);
    const bands: [number, number][] = [
      [this.offset, this.size - this.offset],
      [0, this.offset],
    ];
    for (const [start, len] of bands) {
      if (len <= 0) continue;
      const first = h % len;
      for (let i = 0; i < len; i++) {
        const v = this.base + start + ((first + i) % len);
        if (!this.taken.has(v)) return v;
      }
    }
    return undefined;
  }
}

export function ipBand(cidr: string): Band {
  const c = parseCidr(cidr);
  const total = size(c);
  // The network and broadcast addresses are never handed out (for prefixes up to /30).
  const usable = c.prefix >= 31 ? total : total - 2;
  const base = c.prefix >= 31 ? c.base : c.base + 1;
  return new Band(base, usable, rangeOffset(total, 16, 256, 16));
}

export function portBand(range: [number, number]): Band {
  const size = range[1] - range[0] + 1;
  return new Band(range[0], size, rangeOffset(size, 16, 128, 32));
}

function wantsNodePorts(s: Service): boolean {
  return s.spec.type === 'NodePort' || s.spec.type === 'LoadBalancer';
}

function wantsHealthCheckNodePort(s: Service): boolean {
  return s.spec.type === 'LoadBalancer' && s.spec.externalTrafficPolicy === 'Local';
}

/**
 * Allocate ClusterIPs and NodePorts for `services`, keeping `previous` allocations. Order of
 * precedence: allocations kept from the previous run, then explicit requests, then new dynamic
 * allocations (in namespace/name order), so the result does not depend on manifest order.
 */
export function allocateServices(services: Service[], previous: ServiceAllocations, config: AllocatorConfig): AllocationResult {
  const ips = ipBand(config.serviceCIDR);
  const ports = portBand(config.serviceNodePortRange);
  const errors: AllocationError[] = [];
  const out: ServiceAllocations = {};
  const sorted = [...services].sort((a, b) => (serviceKey(a) < serviceKey(b) ? -1 : serviceKey(a) > serviceKey(b) ? 1 : 0));
  const ipOwner = new Map<number, string>();
  const portOwner = new Map<number, string>();
  const fail = (service: string, field: string, message: string) => errors.push({ service, field, message });

  // The first service IP belongs to default/kubernetes (created by the API server itself).
  ipOwner.set(ips.base, KUBERNETES_SERVICE);
  ips.taken.add(ips.base);

  const requestedIP = (s: Service): string | undefined => {
    const k = serviceKey(s);
    if (s.spec.clusterIP) return s.spec.clusterIP;
    if (k === KUBERNETES_SERVICE) return intToIp(ips.base);
    if (k === KUBE_DNS_SERVICE && config.clusterDNS) return config.clusterDNS;
    return undefined;
  };

  // Pass 1: ClusterIPs kept from the previous run (only if the Service does not now ask for another).
  for (const s of sorted) {
    const k = serviceKey(s);
    if (s.spec.type === 'ExternalName') continue;
    out[k] = { nodePorts: {} };
    const prev = previous[k]?.clusterIP;
    const want = requestedIP(s);
    if (want === 'None' || s.spec.clusterIP === '') continue;
    if (!prev || prev === 'None' || (want && want !== prev)) continue;
    const n = parseIP(prev);
    if (n === undefined || !ips.contains(n)) continue; // service CIDR changed: reallocate
    const owner = ipOwner.get(n);
    if (owner && owner !== k) continue;
    ipOwner.set(n, k);
    ips.taken.add(n);
    out[k]!.clusterIP = prev;
  }
  // Pass 2: explicit requests; pass 3: dynamic allocation.
  for (const dynamic of [false, true]) {
    for (const s of sorted) {
      const k = serviceKey(s);
      const a = out[k];
      if (!a || a.clusterIP) continue;
      const want = requestedIP(s);
      if (want === 'None') {
        if (!dynamic) a.clusterIP = 'None';
        continue;
      }
      if (!dynamic && want) {
        const n = parseIP(want);
        if (n === undefined || !ips.contains(n)) {
          fail(k, 'spec.clusterIP', `${want}: provided IP is not in the valid range. The range of valid IPs is ${config.serviceCIDR}`);
          delete out[k];
          continue;
        }
        const owner = ipOwner.get(n);
        if (owner && owner !== k) {
          fail(k, 'spec.clusterIP', `${want}: provided IP is already allocated (to ${owner})`);
          delete out[k];
          continue;
        }
        ipOwner.set(n, k);
        ips.taken.add(n);
        a.clusterIP = want;
      } else if (dynamic && !want) {
        const n = ips.next(k);
        if (n === undefined) {
          fail(k, 'spec.clusterIP', `failed to allocate a serviceIP: range is full (${config.serviceCIDR})`);
          delete out[k];
          continue;
        }
        ipOwner.set(n, k);
        ips.taken.add(n);
        a.clusterIP = intToIp(n);
      }
    }
  }

  // NodePorts: the same three passes. Ports of one Service that share a port number (DNS over TCP
  // and UDP) share the NodePort, as the API server does.
  const live = sorted.filter((s) => out[serviceKey(s)] !== undefined && wantsNodePorts(s));
  const claim = (k: string, field: string, port: number): boolean => {
    if (!ports.contains(port)) {
      fail(k, field, `${port}: provided port is not in the valid range. The range of valid ports is ${config.serviceNodePortRange[0]}-${config.serviceNodePortRange[1]}`);
      return false;
    }
    const owner = portOwner.get(port);
    if (owner && owner !== k) {
      fail(k, field, `${port}: provided port is already allocated (to ${owner})`);
      return false;
    }
    portOwner.set(port, k);
    ports.taken.add(port);
    return true;
  };
  const keepPrevious = (k: string, port: number | undefined): boolean => {
    if (port === undefined || !ports.contains(port)) return false;
    const owner = portOwner.get(port);
    if (owner && owner !== k) return false;
    portOwner.set(port, k);
    ports.taken.add(port);
    return true;
  };
  // Pass 1: previous NodePorts of ports that do not ask for a specific one.
  for (const s of live) {
    const k = serviceKey(s);
    const a = out[k]!;
    const prev = previous[k];
    for (const p of s.spec.ports) {
      const pk = nodePortKey(p);
      if (p.nodePort !== undefined || a.nodePorts[pk] !== undefined) continue;
      const shared = s.spec.ports.find((q) => q.port === p.port && q.nodePort !== undefined);
      if (shared) continue; // takes the explicit value of its sibling in pass 2
      if (keepPrevious(k, prev?.nodePorts[pk])) a.nodePorts[pk] = prev!.nodePorts[pk]!;
    }
    if (wantsHealthCheckNodePort(s) && keepPrevious(k, prev?.healthCheckNodePort)) a.healthCheckNodePort = prev!.healthCheckNodePort!;
  }
  // Pass 2: explicit nodePorts.
  for (const s of live) {
    const k = serviceKey(s);
    const a = out[k]!;
    s.spec.ports.forEach((p, i) => {
      if (p.nodePort === undefined) return;
      if (claim(k, `spec.ports[${i}].nodePort`, p.nodePort)) a.nodePorts[nodePortKey(p)] = p.nodePort;
    });
  }
  // Pass 3: the rest.
  for (const s of live) {
    const k = serviceKey(s);
    const a = out[k]!;
    const byPortNumber = new Map<number, number>();
    for (const p of s.spec.ports) {
      const np = a.nodePorts[nodePortKey(p)];
      if (np !== undefined && !byPortNumber.has(p.port)) byPortNumber.set(p.port, np);
    }
    s.spec.ports.forEach((p, i) => {
      const pk = nodePortKey(p);
      if (a.nodePorts[pk] !== undefined) return;
      let np = byPortNumber.get(p.port);
      if (np === undefined) {
        np = ports.next(`${k}:${pk}`);
        if (np === undefined) {
          fail(k, `spec.ports[${i}].nodePort`, 'failed to allocate a nodePort: range is full');
          return;
        }
        portOwner.set(np, k);
        ports.taken.add(np);
        byPortNumber.set(p.port, np);
      }
      a.nodePorts[pk] = np;
    });
    if (wantsHealthCheckNodePort(s) && a.healthCheckNodePort === undefined) {
      const np = ports.next(`${k}:healthCheckNodePort`);
      if (np === undefined) fail(k, 'spec.healthCheckNodePort', 'failed to allocate a nodePort: range is full');
      else {
        portOwner.set(np, k);
        ports.taken.add(np);
        a.healthCheckNodePort = np;
      }
    }
  }
  return { allocations: out, errors };
}

/**
 * Services with their allocations written into the spec (clusterIP, ports[].nodePort,
 * healthCheckNodePort), as `kubectl get svc -o yaml` would show them. Services without an
 * allocation (errors) are left out; ExternalName Services pass through unchanged.
 */
export function applyAllocations(services: Service[], allocations: ServiceAllocations): AllocatedService[] {
  const out: AllocatedService[] = [];
  for (const s of services) {
    if (s.spec.type === 'ExternalName') {
      out.push(s);
      continue;
    }
    const a = allocations[serviceKey(s)];
    if (!a || !a.clusterIP) continue;
    const spec: AllocatedService['spec'] = {
      ...s.spec,
      clusterIP: a.clusterIP,
      ports: s.spec.ports.map((p) => {
        const np = a.nodePorts[nodePortKey(p)];
        return np === undefined ? p : { ...p, nodePort: np };
      }),
    };
    if (a.healthCheckNodePort !== undefined) spec.healthCheckNodePort = a.healthCheckNodePort;
    out.push({ ...s, spec });
  }
  return out;
}
