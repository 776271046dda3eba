// Printers of core/v1 Service, Endpoints, Node, Namespace, ConfigMap and Event, as kube-apiserver's
// (printers.go, v1.32). Descriptions are the fields' swagger documentation (k8s.io/api v0.32).
import { timeMs } from '../../age.ts';
import type { KubeObject } from '../object.ts';
import { AGE_COLUMN, ageOf, arr, column, formatLabels, goCompare, int, loadBalancerAddresses, NAME_COLUMN, NAME_DESCRIPTION, rec, since, str, wide, type Cell, type Printer } from './columns.ts';

const S = 'string';

// ---------------------------------------------------------------------------------------------------
// Service: TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE, wide SELECTOR.

const SERVICE = {
  type: 'type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer. "ClusterIP" allocates a cluster-internal IP address for load-balancing to endpoints. Endpoints are determined by the selector or if that is not specified, by manual construction of an Endpoints object or EndpointSlice objects. If clusterIP is "None", no virtual IP is allocated and the endpoints are published as a set of endpoints rather than a virtual IP. "NodePort" builds on ClusterIP and allocates a port on every node which routes to the same endpoints as the clusterIP. "LoadBalancer" builds on NodePort and creates an external load-balancer (if supported in the current cloud) which routes to the same endpoints as the clusterIP. "ExternalName" aliases this service to the specified externalName. Several other fields do not apply to ExternalName services. More info: https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types',
  clusterIP: 'clusterIP is the IP address of the service and is usually assigned randomly. If an address is specified manually, is in-range (as per system configuration), and is not in use, it will be allocated to the service; otherwise creation of the service will fail. This field may not be changed through updates unless the type field is also being changed to ExternalName (which requires this field to be blank) or the type field is being changed from ExternalName (in which case this field may optionally be specified, as describe above).  Valid values are "None", empty string (""), or a valid IP address. Setting this to "None" makes a "headless service" (no virtual IP), which is useful when direct endpoint connections are preferred and proxying is not required.  Only applies to types ClusterIP, NodePort, and LoadBalancer. If this field is specified when creating a Service of type ExternalName, creation will fail. This field will be wiped when updating a Service to type ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies',
  externalIPs: 'externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.  These IPs are not managed by Kubernetes.  The user is responsible for ensuring that traffic arrives at a node with this IP.  A common example is external load-balancers that are not part of the Kubernetes system.',
  ports: 'The list of ports that are exposed by this service. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies',
  selector: 'Route service traffic to pods with label keys and values matching this selector. If empty or not present, the service is assumed to have an external process managing its endpoints, which Kubernetes will not modify. Only applies to types ClusterIP, NodePort, and LoadBalancer. Ignored if type is ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/',
};

function externalIP(spec: Record<string, unknown>, status: Record<string, unknown>): string {
  const externalIPs = arr<string>(spec.externalIPs);
  switch (spec.type) {
    case 'ClusterIP':
    case 'NodePort':
      return externalIPs.length ? externalIPs.join(',') : '<none>';
    case 'LoadBalancer': {
      const lb = loadBalancerAddresses(status.loadBalancer);
      if (externalIPs.length) return [...(lb ? lb.split(',') : []), ...externalIPs].join(',');
      return lb || '<pending>';
    }
    case 'ExternalName':
      return str(spec.externalName);
  }
  return '<unknown>';
}

/** `80/TCP`, `80:30080/TCP` (with a node port), joined by commas. */
const portsString = (ports: unknown) =>
  arr(ports)
    .map((p) => (int(p.nodePort) > 0 ? `${int(p.port)}:${int(p.nodePort)}/${str(p.protocol)}` : `${int(p.port)}/${str(p.protocol)}`))
    .join(',');

export const servicePrinter: Printer = {
  columns: [
    NAME_COLUMN,
    column('Type', S, SERVICE.type),
    column('Cluster-IP', S, SERVICE.clusterIP),
    column('External-IP', S, SERVICE.externalIPs),
    column('Port(s)', S, SERVICE.ports),
    AGE_COLUMN,
    wide('Selector', SERVICE.selector),
  ],
  print(svc, now) {
    const spec = rec(svc.spec);
    // clusterIPs[0] (a headless Service's is the word None); the printer never reads clusterIP.
    const clusterIP = arr<string>(spec.clusterIPs)[0] ?? '<none>';
    return { cells: [svc.metadata.name ?? '', str(spec.type), clusterIP, externalIP(spec, rec(svc.status)), portsString(spec.ports) || '<none>', ageOf(svc, now), formatLabels(spec.selector)] };
  },
};

// ---------------------------------------------------------------------------------------------------
// Endpoints: ENDPOINTS ip:port for every ready address and port, at most 3, then "+ N more...".

const ENDPOINTS_DESCRIPTION =
  'The set of all endpoints is the union of all subsets. Addresses are placed into subsets according to the IPs they share. A single address with multiple ports, some of which are ready and some of which are not (because they come from different containers) will result in the address being displayed in different subsets for the different ports. No address will appear in both Addresses and NotReadyAddresses in the same subset. Sets of addresses and ports that comprise a service.';

/** net.JoinHostPort: IPv6 addresses in brackets. */
const joinHostPort = (host: string, port: number) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

/** formatEndpoints: not-ready addresses are left out; a subset without ports lists bare IPs. */
export function formatEndpoints(subsets: unknown): string {
  const all = arr(subsets);
  if (!all.length) return '<none>';
  const max = 3;
  const list: string[] = [];
  let count = 0;
  let more = false;
  const add = (text: string) => {
    if (list.length === max) more = true;
    else list.push(text);
  };
  for (const ss of all) {
    const addresses = arr(ss.addresses);
    const ports = arr(ss.ports);
    if (!ports.length) {
      count += addresses.length;
      for (const a of addresses) {
        add(str(a.ip));
        if (more) break;
      }
      continue;
    }
    for (const p of ports) {
      count += addresses.length;
      for (const a of addresses) {
        add(joinHostPort(str(a.ip), int(p.port)));
        if (more) break;
      }
    }
  }
  const joined = list.join(',');
  return more ? `${joined} + ${count - max} more...` : joined;
}

export const endpointsPrinter: Printer = {
  columns: [NAME_COLUMN, column('Endpoints', S, ENDPOINTS_DESCRIPTION), AGE_COLUMN],
  print: (ep, now) => ({ cells: [ep.metadata.name ?? '', formatEndpoints(ep.subsets), ageOf(ep, now)] }),
};

// ---------------------------------------------------------------------------------------------------
// Node: STATUS ROLES AGE VERSION, wide INTERNAL-IP EXTERNAL-IP OS-IMAGE KERNEL-VERSION CONTAINER-RUNTIME.

const NODE = {
  kubeletVersion: 'Kubelet Version reported by the node.',
  addresses:
    "List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is declared as mergeable, but the merge key is not sufficiently unique, which can cause data corruption when it is merged. Callers should instead use a full-replacement patch. See https://pr.k8s.io/79391 for an example. Consumers should assume that addresses can change during the lifetime of a Node. However, there are some exceptions where this may not be possible, such as Pods that inherit a Node's address in its own status or consumers of the downward API (status.hostIP).",
  osImage: 'OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).',
  kernelVersion: "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
  containerRuntimeVersion: 'ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).',
};

const ROLE_PREFIX = 'node-role.kubernetes.io/';

/** findNodeRoles: node-role.kubernetes.io/<role> labels (any value) and kubernetes.io/role=<role>, sorted. */
export function nodeRoles(labels: Record<string, string> | undefined): string[] {
  const roles = new Set<string>();
  for (const [k, v] of Object.entries(labels ?? {})) {
    if (k.startsWith(ROLE_PREFIX)) {
      if (k.length > ROLE_PREFIX.length) roles.add(k.slice(ROLE_PREFIX.length));
    } else if (k === 'kubernetes.io/role' && v !== '') roles.add(v);
  }
  return [...roles].sort(goCompare);
}

/** Ready / NotReady from the Ready condition (the last one of that type), Unknown without; + SchedulingDisabled. */
function nodeStatus(node: KubeObject): string {
  const readyConditions = arr(rec(node.status).conditions).filter((c) => c.type === 'Ready');
  const status = readyConditions.length ? [readyConditions.at(-1)!.status === 'True' ? 'Ready' : 'NotReady'] : ['Unknown'];
  if (rec(node.spec).unschedulable === true) status.push('SchedulingDisabled');
  return status.join(',');
}

const nodeAddress = (node: KubeObject, type: string) => str(arr(rec(node.status).addresses).find((a) => a.type === type)?.address) || '<none>';

export const nodePrinter: Printer = {
  columns: [
    NAME_COLUMN,
    column('Status', S, 'The status of the node'),
    column('Roles', S, 'The roles of the node'),
    AGE_COLUMN,
    column('Version', S, NODE.kubeletVersion),
    wide('Internal-IP', NODE.addresses),
    wide('External-IP', NODE.addresses),
    wide('OS-Image', NODE.osImage),
    wide('Kernel-Version', NODE.kernelVersion),
    wide('Container-Runtime', NODE.containerRuntimeVersion),
  ],
  print(node, now) {
    const info = rec(rec(node.status).nodeInfo);
    const known = (v: unknown) => str(v) || '<unknown>';
    const roles = nodeRoles(node.metadata.labels).join(',') || '<none>';
    return {
      cells: [
        node.metadata.name ?? '',
        nodeStatus(node),
        roles,
        ageOf(node, now),
        str(info.kubeletVersion),
        nodeAddress(node, 'InternalIP'),
        nodeAddress(node, 'ExternalIP'),
        known(info.osImage),
        known(info.kernelVersion),
        known(info.containerRuntimeVersion),
      ],
    };
  },
};

// ---------------------------------------------------------------------------------------------------
// Namespace and ConfigMap.

export const namespacePrinter: Printer = {
  columns: [NAME_COLUMN, column('Status', S, 'The status of the namespace'), AGE_COLUMN],
  print: (ns, now) => ({ cells: [ns.metadata.name ?? '', str(rec(ns.status).phase), ageOf(ns, now)] }),
};

const CONFIGMAP_DATA =
  "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.";

export const configMapPrinter: Printer = {
  // The column says string, the cell is a number (an int64 in kube's printer).
  columns: [NAME_COLUMN, column('Data', S, CONFIGMAP_DATA), AGE_COLUMN],
  print: (cm, now) => ({ cells: [cm.metadata.name ?? '', Object.keys(rec(cm.data)).length + Object.keys(rec(cm.binaryData)).length, ageOf(cm, now)] }),
};

// ---------------------------------------------------------------------------------------------------
// Event (core/v1): LAST SEEN TYPE REASON OBJECT MESSAGE, wide SUBOBJECT SOURCE FIRST SEEN COUNT NAME
// (in that order: the wide columns are interleaved, MESSAGE stays before FIRST SEEN).

const EVENT = {
  lastTimestamp: 'The time at which the most recent occurrence of this event was recorded.',
  type: 'Type of this event (Normal, Warning), new types could be added in the future',
  reason: "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
  involvedObject: 'The object that this event is about.',
  fieldPath:
    'If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2]. For example, if the object reference is to a container within a pod, this would take on a value like: "spec.containers{name}" (where "name" refers to the name of the container that triggered the event) or if no container name is specified "spec.containers[2]" (container with index 2 in this pod). This syntax is chosen only to have some well-defined way of referencing a part of an object.',
  source: 'The component reporting this event. Should be a short machine understandable string.',
  message: 'A human-readable description of the status of this operation.',
  firstTimestamp: 'The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)',
  count: 'The number of times this event has occurred.',
};

/** formatEventSource: component (else reportingController), then ", host" (else reportingInstance). */
function eventSource(ev: KubeObject): string {
  const source = rec(ev.source);
  const component = str(source.component) || str(ev.reportingController);
  const instance = str(source.host) || str(ev.reportingInstance);
  return instance ? `${component}, ${instance}` : component;
}

export const eventPrinter: Printer = {
  columns: [
    column('Last Seen', S, EVENT.lastTimestamp),
    column('Type', S, EVENT.type),
    column('Reason', S, EVENT.reason),
    column('Object', S, EVENT.involvedObject),
    wide('Subobject', EVENT.fieldPath),
    wide('Source', EVENT.source),
    column('Message', S, EVENT.message),
    wide('First Seen', EVENT.firstTimestamp),
    wide('Count', EVENT.count),
    column('Name', S, NAME_DESCRIPTION, { priority: 1, format: 'name' }),
  ],
  print(ev, now) {
    // First seen: firstTimestamp, else eventTime (events.k8s.io writers set only that);
    // last seen: lastTimestamp, else first seen; an event series has its own time and count.
    const isSet = (t: unknown) => timeMs(str(t)) !== undefined;
    const firstSeen = since(isSet(ev.firstTimestamp) ? ev.firstTimestamp : ev.eventTime, now);
    let lastSeen = isSet(ev.lastTimestamp) ? since(ev.lastTimestamp, now) : firstSeen;
    let count = int(ev.count);
    const series = ev.series ? rec(ev.series) : undefined;
    if (series) {
      lastSeen = since(series.lastObservedTime, now);
      count = int(series.count);
    } else if (count === 0) count = 1;
    const involved = rec(ev.involvedObject);
    const kind = str(involved.kind).toLowerCase();
    const target = str(involved.name) ? `${kind}/${str(involved.name)}` : kind;
    const cells: Cell[] = [lastSeen, str(ev.type), str(ev.reason), target, str(involved.fieldPath), eventSource(ev), str(ev.message).trim(), firstSeen, count, ev.metadata.name ?? ''];
    return { cells };
  },
};
