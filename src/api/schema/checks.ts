// Checks that look across fields and objects: references (volumes, ConfigMaps, Services, ports),
// duplicates, addresses against the configured CIDRs, and what fits on the node.

import { namespacePolicy, podSecurityLabelProblems } from '../admission.ts';
import type { PathSegment } from '../errors.ts';
import type { ClusterConfig, Source, ConfigMap, Deployment, EndpointSlice, Endpoints, Ingress, IngressBackend, Service } from '../types.ts';
import { podIPsPerNode } from './config.ts';
import { contains, formatCidr, ipToInt, nth, nthSubnet, parseCidr, size } from '../../util/cidr.ts';
import { SERVICE_NAME_LABEL } from './service.ts';
import type { YamlDoc } from './source.ts';

/** An object that passed its schema, with where it came from and how it is named in messages. */
/** One object of a manifest file as written, and where. */
export interface Manifest {
  object: Record<string, unknown>;
  source: Source;
}

export interface Entry<T> {
  obj: T;
  src: YamlDoc;
  /** `Deployment default/app2` */
  label: string;
}

export interface NamespaceObject {
  metadata: { name: string; labels: Record<string, string>; annotations: Record<string, string> };
}

export interface Parsed {
  namespaces: Entry<NamespaceObject>[];
  configMaps: Entry<Omit<ConfigMap, 'source'>>[];
  deployments: Entry<Omit<Deployment, 'source'>>[];
  services: Entry<Omit<Service, 'source'>>[];
  ingresses: Entry<Omit<Ingress, 'source'>>[];
  endpoints: Entry<Omit<Endpoints, 'source'>>[];
  endpointSlices: Entry<Omit<EndpointSlice, 'source'>>[];
  /** Every valid object as written (plain JSON, before defaults), in file order: what the manifests applier sends to the API. */
  manifests: Manifest[];
  /**
   * `Kind/name` of objects that were declared but failed their own validation. References to them are
   * not reported again as missing: one mistake, one message.
   */
  invalid: Set<string>;
}

export type Report = (entry: Entry<unknown>, path: readonly PathSegment[], message: string) => void;

/** Namespaces every cluster has. */
export const BUILTIN_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'] as const;

/**
 * Pods the lab runs besides the Deployments' (cluster DNS and the ingress controller); they take pod
 * IPs from the same node CIDR.
 */
export const SYSTEM_PODS = 2;

/** Services the lab creates itself: default/kubernetes (first service IP) and kube-system/kube-dns. */
export const SYSTEM_SERVICES = 2;

const where = (e: Entry<unknown>) => `${e.src.file}:${e.src.startLine()}`;

function namespaced(p: Parsed): Entry<{ kind: string; metadata: { name: string; namespace: string } }>[] {
  return [...p.configMaps, ...p.deployments, ...p.services, ...p.ingresses, ...p.endpoints, ...p.endpointSlices];
}

export function checkNamespacesAndDuplicates(p: Parsed, report: Report): void {
  const known = new Set<string>(BUILTIN_NAMESPACES);
  const seenNs = new Map<string, Entry<unknown>>();
  for (const ns of p.namespaces) {
    const first = seenNs.get(ns.obj.metadata.name);
    if (first) report(ns, ['metadata', 'name'], `duplicate object: ${ns.label} is also declared at ${where(first)}`);
    else seenNs.set(ns.obj.metadata.name, ns);
    known.add(ns.obj.metadata.name);
  }
  const seen = new Map<string, Entry<unknown>>();
  for (const e of namespaced(p)) {
    const { kind, metadata } = e.obj;
    if (!known.has(metadata.namespace)) {
      report(e, ['metadata', 'namespace'], `namespace ${JSON.stringify(metadata.namespace)} does not exist; declare it with a Namespace object`);
    }
    const id = `${kind}/${metadata.namespace}/${metadata.name}`;
    const first = seen.get(id);
    if (first) report(e, ['metadata', 'name'], `duplicate object: ${e.label} is also declared at ${where(first)}`);
    else seen.set(id, e);
  }
}

function selectorMatches(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

export function checkDeployments(p: Parsed, config: ClusterConfig | undefined, report: Report): void {
  const configMaps = new Map(p.configMaps.map((c) => [`${c.obj.metadata.namespace}/${c.obj.metadata.name}`, c.obj]));
  for (const e of p.deployments) {
    const d = e.obj;
    const spec = d.spec;
    const tpl = ['spec', 'template'];
    if (Object.keys(spec.selector.matchLabels).length === 0) {
      report(e, ['spec', 'selector', 'matchLabels'], 'must not be empty: an empty selector would match every pod');
    } else if (!selectorMatches(spec.selector.matchLabels, spec.template.metadata.labels)) {
      const want = Object.entries(spec.selector.matchLabels).map(([k, v]) => `${k}=${v}`).join(',');
      report(e, [...tpl, 'metadata', 'labels'], `selector does not match template labels: the template must carry ${want}`);
    }
    const pod = spec.template.spec;
    if (pod.restartPolicy !== 'Always') {
      report(e, [...tpl, 'spec', 'restartPolicy'], `must be "Always" for a Deployment, got ${JSON.stringify(pod.restartPolicy)}`);
    }
    if (config && pod.nodeName !== undefined && pod.nodeName !== config.nodeName) {
      report(e, [...tpl, 'spec', 'nodeName'], `node ${JSON.stringify(pod.nodeName)} does not exist; the lab's node is ${JSON.stringify(config.nodeName)}`);
    }

    const volumes = new Map<string, number>();
    pod.volumes.forEach((v, i) => {
      const at = [...tpl, 'spec', 'volumes', i];
      if (volumes.has(v.name)) report(e, [...at, 'name'], `duplicate volume name ${JSON.stringify(v.name)}`);
      volumes.set(v.name, i);
      if (!v.configMap) return;
      const cm = configMaps.get(`${d.metadata.namespace}/${v.configMap.name}`);
      if (!cm) {
        if (!v.configMap.optional && !p.invalid.has(`ConfigMap/${v.configMap.name}`)) {
          report(e, [...at, 'configMap', 'name'], `ConfigMap ${d.metadata.namespace}/${v.configMap.name} does not exist (declare it, or set optional: true)`);
        }
        return;
      }
      v.configMap.items?.forEach((item, j) => {
        if (!(item.key in cm.data) && !v.configMap?.optional) {
          report(e, [...at, 'configMap', 'items', j, 'key'], `ConfigMap ${d.metadata.namespace}/${v.configMap!.name} has no key ${JSON.stringify(item.key)}`);
        }
      });
    });

    const containerNames = new Set<string>();
    const portNames = new Set<string>();
    pod.containers.forEach((c, i) => {
      const at = [...tpl, 'spec', 'containers', i];
      if (containerNames.has(c.name)) report(e, [...at, 'name'], `duplicate container name ${JSON.stringify(c.name)}`);
      containerNames.add(c.name);
      const own = new Set<string>();
      c.ports.forEach((port, j) => {
        if (port.name === undefined) return;
        if (portNames.has(port.name)) report(e, [...at, 'ports', j, 'name'], `duplicate port name ${JSON.stringify(port.name)} in the pod`);
        portNames.add(port.name);
        own.add(port.name);
      });
      const mountPaths = new Set<string>();
      c.volumeMounts.forEach((m, j) => {
        if (!volumes.has(m.name)) report(e, [...at, 'volumeMounts', j, 'name'], `volume ${JSON.stringify(m.name)} is not declared in spec.volumes`);
        if (mountPaths.has(m.mountPath)) report(e, [...at, 'volumeMounts', j, 'mountPath'], `${JSON.stringify(m.mountPath)} is mounted twice`);
        mountPaths.add(m.mountPath);
      });
      for (const kind of ['readinessProbe', 'livenessProbe', 'startupProbe'] as const) {
        const probe = c[kind];
        if (!probe) continue;
        if (kind !== 'readinessProbe' && probe.successThreshold !== 1) {
          report(e, [...at, kind, 'successThreshold'], `must be 1 for a ${kind}`);
        }
        const handler = probe.httpGet ? 'httpGet' : probe.tcpSocket ? 'tcpSocket' : undefined;
        const port = probe.httpGet?.port ?? probe.tcpSocket?.port;
        if (handler && typeof port === 'string' && !own.has(port)) {
          report(e, [...at, kind, handler, 'port'], `container ${JSON.stringify(c.name)} has no port named ${JSON.stringify(port)}`);
        }
      }
    });
  }
}

/**
 * Pod Security: a Namespace's pod-security.kubernetes.io labels must be valid (the admission checks
 * them when the Namespace is created). A pod template that asks for what the lab's kubelet does not
 * implement (host namespaces, a privileged container) is refused where admission would let it
 * through, in a namespace whose enforce level is privileged; elsewhere the admission refuses its pods
 * (src/api/admission.ts) and says why, as Kubernetes would.
 */
export function checkPodSecurity(p: Parsed, report: Report): void {
  const labels = new Map<string, Record<string, string>>();
  for (const ns of p.namespaces) {
    labels.set(ns.obj.metadata.name, ns.obj.metadata.labels);
    for (const problem of podSecurityLabelProblems(ns.obj.metadata.labels)) report(ns, ['metadata', 'labels', problem.label], problem.message);
  }
  for (const e of p.deployments) {
    const nsLabels = labels.get(e.obj.metadata.namespace) ?? {};
    if (podSecurityLabelProblems(nsLabels).length > 0 || namespacePolicy(nsLabels).enforce.level !== 'privileged') continue;
    const spec = e.obj.spec.template.spec;
    const at = ['spec', 'template', 'spec'];
    for (const field of ['hostNetwork', 'hostPID', 'hostIPC'] as const) {
      if (spec[field]) {
        report(e, [...at, field], `true is not implemented by the lab's kubelet (a pod always gets its own ${HOST_NAMESPACE[field]} namespace): namespace ${JSON.stringify(e.obj.metadata.namespace)} is privileged, so admission lets it through, and the lab refuses it rather than ignore it; remove it`);
      }
    }
    spec.containers.forEach((c, i) => {
      if (c.securityContext?.privileged) {
        report(e, [...at, 'containers', i, 'securityContext', 'privileged'], `true is not implemented by the lab's runtime (namespace ${JSON.stringify(e.obj.metadata.namespace)} is privileged, so admission lets it through); remove it, and add only the capabilities the container needs to securityContext.capabilities.add`);
      }
    });
  }
}

const HOST_NAMESPACE = { hostNetwork: 'network', hostPID: 'PID', hostIPC: 'IPC' } as const;

/** The sum of replicas (plus the system pods) must fit the node's pod CIDR. */
export function checkPodCapacity(p: Parsed, config: ClusterConfig, configFile: string, systemPods: number, report: Report): void {
  const capacity = podIPsPerNode(config.nodeCIDRMaskSize);
  const cluster = parseCidr(config.clusterCIDR);
  let total = systemPods;
  for (const e of p.deployments) {
    total += e.obj.spec.replicas;
    if (total <= capacity) continue;
    const all = systemPods + p.deployments.reduce((n, d) => n + d.obj.spec.replicas, 0);
    let fit = config.nodeCIDRMaskSize;
    while (fit > cluster.prefix && podIPsPerNode(fit) < all) fit--;
    const advice = podIPsPerNode(fit) >= all ? `set node-cidr-mask-size: ${fit} in ${configFile} or lower the replicas` : 'lower the replicas';
    const podCIDR = formatCidr(nthSubnet(cluster, config.nodeCIDRMaskSize, 0));
    report(
      e,
      ['spec', 'replicas'],
      `${e.obj.spec.replicas} replicas do not fit on the node: the Deployments ask for ${all - systemPods} pods plus ${systemPods} system pods = ${all}, ` +
        `but the node's pod CIDR ${podCIDR} (node-cidr-mask-size ${config.nodeCIDRMaskSize}) holds only ${capacity} pod IPs; ${advice}`,
    );
    return;
  }
}

export function checkServices(p: Parsed, config: ClusterConfig | undefined, report: Report): void {
  const clusterIPs = new Map<string, Entry<unknown>>();
  const nodePorts = new Map<number, { entry: Entry<unknown>; protocol: string }>();
  const services = config ? parseCidr(config.serviceCIDR) : undefined;
  // Addresses the lab's own Services hold: the first service IP and the cluster DNS address.
  const reserved = new Map<string, string>();
  if (config && services) {
    reserved.set(nth(services, 1), 'default/kubernetes');
    reserved.set(config.clusterDNS, 'kube-system/kube-dns');
  }
  if (config && services) {
    const room = size(services) - 2 - SYSTEM_SERVICES;
    if (p.services.length > room) {
      const e = p.services[room]!;
      report(e, ['metadata', 'name'], `too many Services: the service CIDR ${config.serviceCIDR} has room for ${room} besides the system Services`);
    }
  }
  for (const e of p.services) {
    const spec = e.obj.spec;
    const self = `${e.obj.metadata.namespace}/${e.obj.metadata.name}`;
    const ip = spec.clusterIP;
    if (ip !== undefined && ip !== 'None' && config && services) {
      const n = ipToInt(ip);
      if (!contains(services, n)) {
        report(e, ['spec', 'clusterIP'], `${ip} is outside the service CIDR ${config.serviceCIDR}`);
      } else if (n === services.base || n === services.base + size(services) - 1) {
        report(e, ['spec', 'clusterIP'], `${ip} is the network or broadcast address of ${config.serviceCIDR}`);
      } else if (reserved.has(ip) && reserved.get(ip) !== self) {
        report(e, ['spec', 'clusterIP'], `${ip} is already allocated to Service ${reserved.get(ip)}`);
      } else {
        const first = clusterIPs.get(ip);
        if (first) report(e, ['spec', 'clusterIP'], `${ip} is already allocated to ${first.label} (${where(first)})`);
        else clusterIPs.set(ip, e);
      }
    }
    spec.ports.forEach((port, i) => {
      if (port.nodePort === undefined) return;
      const at = ['spec', 'ports', i, 'nodePort'];
      if (config) {
        const [low, high] = config.serviceNodePortRange;
        if (port.nodePort < low || port.nodePort > high) {
          report(e, at, `${port.nodePort} is outside the service-node-port-range ${low}-${high}`);
          return;
        }
      }
      const first = nodePorts.get(port.nodePort);
      // One Service may use the same nodePort for TCP and UDP; anything else is a clash.
      if (first && (first.entry !== e || first.protocol === port.protocol)) {
        report(e, at, `nodePort ${port.nodePort} is already allocated to ${first.entry.label} (${where(first.entry)})`);
      } else if (!first) {
        nodePorts.set(port.nodePort, { entry: e, protocol: port.protocol });
      }
    });
  }
}

function checkBackend(
  e: Entry<Omit<Ingress, 'source'>>,
  backend: IngressBackend,
  at: PathSegment[],
  services: Map<string, Omit<Service, 'source'>>,
  invalid: Set<string>,
  report: Report,
): void {
  const ns = e.obj.metadata.namespace;
  const svc = services.get(`${ns}/${backend.service.name}`);
  if (!svc) {
    if (!invalid.has(`Service/${backend.service.name}`)) {
      report(e, [...at, 'service', 'name'], `Service ${ns}/${backend.service.name} does not exist`);
    }
    return;
  }
  if (svc.spec.type === 'ExternalName') return;
  const { number, name } = backend.service.port;
  if (number !== undefined && !svc.spec.ports.some((p) => p.port === number)) {
    const have = svc.spec.ports.map((p) => p.port).join(', ');
    report(e, [...at, 'service', 'port', 'number'], `Service ${ns}/${backend.service.name} has no port ${number} (it has ${have || 'none'})`);
  }
  if (name !== undefined && !svc.spec.ports.some((p) => p.name === name)) {
    const have = svc.spec.ports.map((p) => p.name).filter(Boolean).join(', ');
    report(e, [...at, 'service', 'port', 'name'], `Service ${ns}/${backend.service.name} has no port named ${JSON.stringify(name)} (it has ${have || 'no named ports'})`);
  }
}

export function checkIngresses(p: Parsed, report: Report): void {
  const services = new Map(p.services.map((s) => [`${s.obj.metadata.namespace}/${s.obj.metadata.name}`, s.obj]));
  for (const e of p.ingresses) {
    const spec = e.obj.spec;
    if (spec.defaultBackend) checkBackend(e, spec.defaultBackend, ['spec', 'defaultBackend'], services, p.invalid, report);
    spec.rules.forEach((rule, i) => {
      rule.http?.paths.forEach((path, j) => {
        checkBackend(e, path.backend, ['spec', 'rules', i, 'http', 'paths', j, 'backend'], services, p.invalid, report);
      });
    });
  }
}

/** Hand-written Endpoints and EndpointSlices belong to Services without a selector. */
export function checkEndpoints(p: Parsed, report: Report): void {
  const services = new Map(p.services.map((s) => [`${s.obj.metadata.namespace}/${s.obj.metadata.name}`, s]));
  const claimed = new Map<string, Entry<unknown>>();
  const owner = (e: Entry<unknown>, ns: string, name: string, path: PathSegment[]) => {
    const svc = services.get(`${ns}/${name}`);
    if (svc?.obj.spec.selector) {
      report(e, path, `Service ${ns}/${name} has a selector, so the endpoints controller owns its endpoints; remove the selector or this object`);
    }
  };
  for (const e of p.endpoints) {
    const { namespace, name } = e.obj.metadata;
    owner(e, namespace, name, ['metadata', 'name']);
    claimed.set(`${namespace}/${name}`, e);
  }
  for (const e of p.endpointSlices) {
    const { namespace, labels } = e.obj.metadata;
    const svc = labels[SERVICE_NAME_LABEL]!;
    owner(e, namespace, svc, ['metadata', 'labels', SERVICE_NAME_LABEL]);
    const hand = claimed.get(`${namespace}/${svc}`);
    if (hand && p.endpoints.includes(hand as Entry<Omit<Endpoints, 'source'>>)) {
      report(e, ['metadata', 'labels', SERVICE_NAME_LABEL], `Service ${namespace}/${svc} already has hand-written Endpoints (${where(hand)}); declare either Endpoints or EndpointSlices`);
    }
  }
}
