// What a Service's REST storage does besides storing it (kube-apiserver v1.32's
// pkg/registry/core/service/storage: beginCreate/beginUpdate, alloc.go, with the ipallocator and
// portallocator messages word for word): it fills spec.clusterIP/clusterIPs from the service CIDR,
// ipFamilies/ipFamilyPolicy, ports[].nodePort and healthCheckNodePort from the NodePort range.
//
// Where the allocations live: kube v1.32 keeps a bitmap per range in a RangeAllocation object
// (the GA path; IPAddress objects are behind the MultiCIDRServiceAllocator gate) and repairs it
// from the Services every few minutes. The lab derives the taken values from the Services in the
// store at each write instead: the registry's writes are synchronous, so nothing can slip between
// the read and the write, a delete frees the values with the object, and a dry run allocates
// nothing. The choice of a free value is the old allocator's (src/api/allocators.ts: the static
// and dynamic bands, a start hashed from the Service's name), so the same Service gets the same
// ClusterIP and NodePort as on the old path and on every run.
import { Band, ipBand, nodePortKey, portBand } from '../allocators.ts';
import { intToIp, parseIP } from '../../util/cidr.ts';
import type { KubeObject } from './object.ts';
import * as errors from './status.ts';
import { fieldErrors } from './status.ts';

export interface ServiceRanges {
  /** --service-cluster-ip-range (k3s: service-cidr). */
  serviceCIDR: string;
  /** --service-node-port-range. */
  nodePortRange: [number, number];
}

export const DEFAULT_SERVICE_RANGES: ServiceRanges = { serviceCIDR: '10.43.0.0/16', nodePortRange: [30000, 32767] };

interface Port {
  name?: string;
  port?: number;
  protocol?: string;
  nodePort?: number;
}

interface Spec {
  type?: string;
  clusterIP?: string;
  clusterIPs?: string[];
  ipFamilies?: string[];
  ipFamilyPolicy?: string;
  selector?: Record<string, string>;
  ports?: Port[];
  externalTrafficPolicy?: string;
  allocateLoadBalancerNodePorts?: boolean;
  healthCheckNodePort?: number;
}

const specOf = (svc: KubeObject) => (svc.spec ??= {}) as Spec;
const portsOf = (s: Spec) => (Array.isArray(s.ports) ? s.ports : []);
const keyOf = (svc: KubeObject) => `${svc.metadata.namespace ?? ''}/${svc.metadata.name ?? ''}`;
const needsClusterIP = (s: Spec) => s.type !== 'ExternalName';
const needsNodePort = (s: Spec) => s.type === 'NodePort' || s.type === 'LoadBalancer';
const needsHealthCheck = (s: Spec) => s.type === 'LoadBalancer' && s.externalTrafficPolicy === 'Local';
const isHeadless = (s: Spec) => s.clusterIP === 'None';
// shouldAllocateNodePorts: LoadBalancer Services may opt out (allocateLoadBalancerNodePorts: false).
const shouldAllocateNodePorts = (s: Spec) => s.type === 'NodePort' || (s.type === 'LoadBalancer' && s.allocateLoadBalancerNodePorts !== false);
const sameList = (a: string[] | undefined, b: string[] | undefined) => JSON.stringify(a ?? []) === JSON.stringify(b ?? []);

const ipErrors = {
  allocated: 'provided IP is already allocated',
  notInRange: (ip: string, range: string) => `the provided IP (${ip}) is not in the valid range. The range of valid IPs is ${range}`,
};
const portErrors = {
  allocated: 'provided port is already allocated',
  notInRange: (range: [number, number]) => `provided port is not in the valid range. The range of valid ports is ${range[0]}-${range[1]}`,
};

/** The values the other Services hold. */
class Taken {
  readonly ips: Band;
  readonly ports: Band;
  constructor(ranges: ServiceRanges, others: KubeObject[]) {
    this.ips = ipBand(ranges.serviceCIDR);
    this.ports = portBand(ranges.nodePortRange);
    for (const o of others) {
      const s = (o.spec ?? {}) as Spec;
      for (const ip of s.clusterIPs ?? (s.clusterIP ? [s.clusterIP] : [])) {
        const n = parseIP(ip);
        if (n !== undefined) this.ips.taken.add(n);
      }
      for (const p of portsOf(s)) if (p.nodePort) this.ports.taken.add(p.nodePort);
      if (s.healthCheckNodePort) this.ports.taken.add(s.healthCheckNodePort);
    }
  }
}

export class ServiceAllocator {
  constructor(readonly ranges: ServiceRanges = DEFAULT_SERVICE_RANGES) {}

  /**
   * beginCreate: clusterIPs from clusterIP, the IP family fields, then the allocations. `stored`
   * are the Services in the store (one of the same name is left out: the create then fails
   * with AlreadyExists, not with its own IP "already allocated").
   */
  allocateCreate(svc: KubeObject, stored: KubeObject[]): void {
    const spec = specOf(svc);
    if (spec.clusterIP && !spec.clusterIPs?.length) spec.clusterIPs = [spec.clusterIP];
    const taken = new Taken(this.ranges, stored.filter((o) => keyOf(o) !== keyOf(svc)));
    this.initIPFamilies(svc, undefined);
    if (needsClusterIP(spec) && !isHeadless(spec)) this.allocClusterIP(svc, taken);
    if (needsNodePort(spec)) this.initNodePorts(svc, taken);
    if (needsHealthCheck(spec)) this.allocHealthCheckNodePort(svc, taken);
  }

  /** beginUpdate: patchAllocatedValues, normalizeClusterIPs, then what the change needs. */
  allocateUpdate(svc: KubeObject, old: KubeObject, stored: KubeObject[]): void {
    const spec = specOf(svc);
    const oldSpec = (old.spec ?? {}) as Spec;
    patchAllocatedValues(spec, oldSpec);
    normalizeClusterIPsOnUpdate(spec, oldSpec);
    const taken = new Taken(this.ranges, stored.filter((o) => keyOf(o) !== keyOf(svc)));
    this.initIPFamilies(svc, oldSpec);
    // ExternalName -> another type allocates; the other way the IPs go with the old object.
    if (oldSpec.type === 'ExternalName' && needsClusterIP(spec) && !isHeadless(spec)) this.allocClusterIP(svc, taken);
    if (needsNodePort(spec)) this.updateNodePorts(svc, oldSpec, taken);
    this.updateHealthCheckNodePort(svc, oldSpec, taken);
  }

  /** initIPFamilyFields on a single-stack IPv4 cluster. */
  private initIPFamilies(svc: KubeObject, old: Spec | undefined): void {
    const spec = specOf(svc);
    if (!needsClusterIP(spec)) return;
    const selectorless = Object.keys(spec.selector ?? {}).length === 0;
    if (!spec.ipFamilyPolicy) {
      if (old?.ipFamilyPolicy) spec.ipFamilyPolicy = old.ipFamilyPolicy;
      else spec.ipFamilyPolicy = isHeadless(spec) && selectorless ? 'RequireDualStack' : 'SingleStack';
    }
    const errs: errors.FieldError[] = [];
    if (spec.ipFamilyPolicy === 'SingleStack') {
      if ((spec.clusterIPs ?? []).length === 2) errs.push(fieldErrors.invalid('spec.ipFamilyPolicy', spec.ipFamilyPolicy, "must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are specified"));
      if ((spec.ipFamilies ?? []).length === 2) errs.push(fieldErrors.invalid('spec.ipFamilyPolicy', spec.ipFamilyPolicy, "must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified"));
    }
    const families = (spec.ipFamilies ??= []);
    (spec.clusterIPs ?? []).forEach((ip, i) => {
      if (ip === 'None' || i < families.length || parseIP(ip) === undefined) return;
      if (ip.includes(':')) errs.push(fieldErrors.invalid(`spec.clusterIPs[${i}]`, spec.clusterIPs, 'IPv6 is not configured on this cluster'));
      else families.push('IPv4');
    });
    if (errs.length) throw errors.invalid('', 'Service', svc.metadata.name ?? '', errs);
    if (isHeadless(spec) && selectorless) {
      // Headless and selectorless: both families, even on a single-stack cluster (as kube).
      if (families.length === 0) families.push('IPv4');
      if (families.length < 2 && spec.ipFamilyPolicy !== 'SingleStack') families.push(families[0] === 'IPv4' ? 'IPv6' : 'IPv4');
      return;
    }
    if (spec.ipFamilyPolicy === 'RequireDualStack') errs.push(fieldErrors.invalid('spec.ipFamilyPolicy', spec.ipFamilyPolicy, 'this cluster is not configured for dual-stack services'));
    families.forEach((f, i) => {
      if (f !== 'IPv4') errs.push(fieldErrors.invalid(`spec.ipFamilies[${i}]`, f, 'not configured on this cluster'));
    });
    if (errs.length) throw errors.invalid('', 'Service', svc.metadata.name ?? '', errs);
    if (families.length === 0) families.push('IPv4');
  }

  /** allocClusterIPs for the one family: the requested IP if it is free, else the next by the name's hash. */
  private allocClusterIP(svc: KubeObject, taken: Taken): void {
    const spec = specOf(svc);
    const want = spec.clusterIPs?.[0] ?? '';
    if (want === '') {
      const n = taken.ips.next(keyOf(svc));
      if (n === undefined) throw errors.internalError(new Error('failed to allocate a serviceIP: range is full'));
      taken.ips.taken.add(n);
      spec.clusterIP = intToIp(n);
      spec.clusterIPs = [spec.clusterIP, ...(spec.clusterIPs ?? []).slice(1)];
      return;
    }
    const n = parseIP(want);
    if (n === undefined) return; // validation reports the malformed IP
    let problem: string | undefined;
    if (!taken.ips.contains(n)) problem = ipErrors.notInRange(want, this.ranges.serviceCIDR);
    else if (taken.ips.taken.has(n)) problem = ipErrors.allocated;
    if (problem) {
      throw errors.invalid('', 'Service', svc.metadata.name ?? '', [fieldErrors.invalid('spec.clusterIPs', spec.clusterIPs, `failed to allocate IP ${want}: ${problem}`)]);
    }
    taken.ips.taken.add(n);
    spec.clusterIP = want;
  }

  private claimPort(svc: KubeObject, taken: Taken, field: string, port: number): void {
    let problem: string | undefined;
    if (!taken.ports.contains(port)) problem = portErrors.notInRange(this.ranges.nodePortRange);
    else if (taken.ports.taken.has(port)) problem = portErrors.allocated;
    if (problem) throw errors.invalid('', 'Service', svc.metadata.name ?? '', [fieldErrors.invalid(field, port, problem)]);
    taken.ports.taken.add(port);
  }

  private nextPort(svc: KubeObject, taken: Taken, seed: string): number {
    const n = taken.ports.next(`${keyOf(svc)}:${seed}`);
    if (n === undefined) throw errors.internalError(new Error('failed to allocate a nodePort: range is full'));
    taken.ports.taken.add(n);
    return n;
  }

  /** initNodePorts: ports of the same number (DNS over TCP and UDP) share one NodePort. */
  private initNodePorts(svc: KubeObject, taken: Taken): void {
    const spec = specOf(svc);
    const ports = portsOf(spec);
    const byNumber = new Map<number, number>();
    ports.forEach((p, i) => {
      if (!p.nodePort && !shouldAllocateNodePorts(spec)) return;
      const shared = byNumber.get(p.port ?? 0);
      if (shared === undefined) {
        const requested = ports.slice(i).find((q) => q.port === p.port && q.nodePort)?.nodePort;
        if (requested) this.claimPort(svc, taken, `spec.ports[${i}].nodePort`, requested);
        p.nodePort = requested || this.nextPort(svc, taken, nodePortKey({ port: p.port ?? 0, protocol: p.protocol ?? 'TCP' }));
        byNumber.set(p.port ?? 0, p.nodePort);
      } else if (p.nodePort !== shared) {
        if (!p.nodePort) p.nodePort = shared;
        else this.claimPort(svc, taken, `spec.ports[${i}].nodePort`, p.nodePort);
      }
    });
  }

  /** updateNodePorts: new ports get one, values the old object held stay its own. */
  private updateNodePorts(svc: KubeObject, old: Spec, taken: Taken): void {
    const spec = specOf(svc);
    const oldPorts = new Set(needsNodePort(old) ? portsOf(old).map((p) => p.nodePort).filter(Boolean) : []);
    const mine = new Set<number>();
    portsOf(spec).forEach((p, i) => {
      if (!p.nodePort && !shouldAllocateNodePorts(spec)) return;
      if (p.nodePort) {
        if (!oldPorts.has(p.nodePort) && !mine.has(p.nodePort)) this.claimPort(svc, taken, `spec.ports[${i}].nodePort`, p.nodePort);
        mine.add(p.nodePort);
      } else {
        p.nodePort = this.nextPort(svc, taken, nodePortKey({ port: p.port ?? 0, protocol: p.protocol ?? 'TCP' }));
      }
    });
  }

  private allocHealthCheckNodePort(svc: KubeObject, taken: Taken): void {
    const spec = specOf(svc);
    const want = spec.healthCheckNodePort;
    if (want) {
      const problem = !taken.ports.contains(want) ? portErrors.notInRange(this.ranges.nodePortRange) : taken.ports.taken.has(want) ? portErrors.allocated : undefined;
      if (problem) throw errors.internalError(new Error(`failed to allocate requested HealthCheck NodePort ${want}: ${problem}`));
      taken.ports.taken.add(want);
    } else {
      spec.healthCheckNodePort = this.nextPort(svc, taken, 'healthCheckNodePort');
    }
  }

  /** updateHealthCheckNodePort: allocated when Local starts, dropped when it ends, fixed meanwhile. */
  private updateHealthCheckNodePort(svc: KubeObject, old: Spec, taken: Taken): void {
    const spec = specOf(svc);
    const needed = needsHealthCheck(old);
    const needs = needsHealthCheck(spec);
    if (!needed && needs) this.allocHealthCheckNodePort(svc, taken);
    else if (needed && !needs) delete spec.healthCheckNodePort;
    else if (needed && needs && old.healthCheckNodePort !== spec.healthCheckNodePort) {
      throw errors.invalid('', 'Service', svc.metadata.name ?? '', [
        fieldErrors.invalid('spec.healthCheckNodePort', spec.healthCheckNodePort ?? 0, 'cannot change healthCheckNodePort on loadBalancer service with externalTraffic=Local during update'),
      ]);
    }
  }
}

/**
 * patchAllocatedValues: a client that sends the Service again without what was allocated for it
 * (kubectl replace of the original YAML) keeps the allocated clusterIP, clusterIPs, the NodePorts
 * (matched by port name, unless another port now uses the value) and the healthCheckNodePort.
 */
function patchAllocatedValues(spec: Spec, old: Spec): void {
  if (needsClusterIP(old) && needsClusterIP(spec)) {
    if (!spec.clusterIP) spec.clusterIP = old.clusterIP;
    if (!spec.clusterIPs?.length && old.clusterIPs?.length) spec.clusterIPs = [...old.clusterIPs];
  }
  if (needsNodePort(old) && needsNodePort(spec)) {
    const used = new Set(portsOf(spec).map((p) => p.nodePort).filter((n) => n && portsOf(old).some((q) => q.nodePort === n)));
    const byName = new Map(portsOf(old).map((p) => [p.name ?? '', p.nodePort]));
    for (const p of portsOf(spec)) {
      const oldVal = byName.get(p.name ?? '');
      if (!p.nodePort && oldVal && !used.has(oldVal)) p.nodePort = oldVal;
    }
  }
  if (needsHealthCheck(old) && needsHealthCheck(spec) && !spec.healthCheckNodePort) spec.healthCheckNodePort = old.healthCheckNodePort;
}

/** normalizeClusterIPs on update: keeps clusterIP and clusterIPs in step for clients that send one. */
function normalizeClusterIPsOnUpdate(spec: Spec, old: Spec): void {
  if (old.clusterIPs?.length && !spec.clusterIPs?.length && old.clusterIP === spec.clusterIP) spec.clusterIPs = [...old.clusterIPs];
  if (old.clusterIP !== spec.clusterIP) {
    const same = sameList(old.clusterIPs, spec.clusterIPs);
    if (old.clusterIP && !spec.clusterIP) {
      if (same) delete spec.clusterIPs;
    } else if (same && spec.clusterIP) {
      spec.clusterIPs = [spec.clusterIP];
    }
  }
}
