// The kubelet's Node object and its heartbeat Lease, as a k3s node registers them (`kubectl get
// node labs -o yaml` on k3s): pure, from what the kubelet knows of its machine and configuration.
// The kubelet creates the Node once, updates its status (conditions' heartbeat) and renews the
// Lease in kube-node-lease every 10 s; the node lifecycle controller calls a node whose Lease
// went unrenewed for 40 s NotReady (Ready=Unknown).
import { rfc3339 } from '../api/server/object.ts';
import type { HostInfo } from '../sys/host.ts';

export const LEASE_DURATION_SECONDS = 40;
export const LEASE_RENEW_INTERVAL_MS = 10_000;
export const NODE_LEASE_NAMESPACE = 'kube-node-lease';
/** The kubelet's --max-pods default; the lab raises it to what the node's pod CIDR holds (k3s: --kubelet-arg=max-pods). */
export const MAX_PODS = 110;
/** The kubelet's port (--port), where its server listens (kubelet-server.ts), reported in daemonEndpoints. */
export const KUBELET_PORT = 10250;

export interface NodeInput {
  name: string;
  nodeIP: string;
  /** Left out: the node IPAM assigns one (kube-controller-manager's --allocate-node-cidrs). */
  podCIDR?: string;
  /** k3s's node-label, added to the standard labels. */
  labels?: Record<string, string>;
  /** k3s's node-taint (the kubelet's --register-with-taints): set when the Node is created. */
  taints?: { key: string; value?: string; effect: string }[];
  /** More annotations (the sandbox's lab/netns). */
  annotations?: Record<string, string>;
  /** The server node (control plane) or an agent. */
  role: 'server' | 'agent';
  host: HostInfo;
  /** e.g. "v1.32.0+lab" */
  kubeletVersion: string;
  /** e.g. "runc://1.1.5" */
  containerRuntimeVersion: string;
  /** status.capacity.pods (MAX_PODS unless given). */
  maxPods?: number;
}

export interface NodeCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  lastHeartbeatTime: string;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

const time = rfc3339;
/** Microsecond-precision RFC 3339, as metav1.MicroTime (a Lease's renewTime) is written. */
export const microTime = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

/** The four conditions a healthy kubelet posts, with the kubelet's reasons and messages. */
export function nodeConditions(nowMs: number, previous: NodeCondition[] = []): NodeCondition[] {
  const want: Omit<NodeCondition, 'lastHeartbeatTime' | 'lastTransitionTime'>[] = [
    { type: 'MemoryPressure', status: 'False', reason: 'KubeletHasSufficientMemory', message: 'kubelet has sufficient memory available' },
    { type: 'DiskPressure', status: 'False', reason: 'KubeletHasNoDiskPressure', message: 'kubelet has no disk pressure' },
    { type: 'PIDPressure', status: 'False', reason: 'KubeletHasSufficientPID', message: 'kubelet has sufficient PID available' },
    { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status' },
  ];
  const now = time(nowMs);
  return want.map((c) => {
    const prev = previous.find((p) => p.type === c.type);
    // The transition time moves only when the status does.
    return { ...c, lastHeartbeatTime: now, lastTransitionTime: prev && prev.status === c.status ? prev.lastTransitionTime : now };
  });
}

export function nodeObject(n: NodeInput, nowMs: number): Record<string, unknown> & { metadata: { name: string; labels: Record<string, string>; annotations: Record<string, string> } } {
  const resources = {
    cpu: String(n.host.cpus),
    'ephemeral-storage': '0',
    'hugepages-1Gi': '0',
    'hugepages-2Mi': '0',
    memory: `${n.host.memoryKi}Ki`,
    pods: String(n.maxPods ?? MAX_PODS),
  };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: n.name,
      labels: {
        'beta.kubernetes.io/arch': n.host.architecture,
        'beta.kubernetes.io/instance-type': 'k3s',
        'beta.kubernetes.io/os': 'linux',
        'kubernetes.io/arch': n.host.architecture,
        'kubernetes.io/hostname': n.name,
        'kubernetes.io/os': 'linux',
        ...(n.role === 'server' ? { 'node-role.kubernetes.io/control-plane': 'true', 'node-role.kubernetes.io/master': 'true' } : {}),
        'node.kubernetes.io/instance-type': 'k3s',
        ...n.labels,
      },
      annotations: {
        ...n.annotations,
        'alpha.kubernetes.io/provided-node-ip': n.nodeIP,
        'k3s.io/hostname': n.name,
        'k3s.io/internal-ip': n.nodeIP,
        'node.alpha.kubernetes.io/ttl': '0',
        'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
      },
    },
    spec: { ...(n.podCIDR ? { podCIDR: n.podCIDR, podCIDRs: [n.podCIDR] } : {}), providerID: `k3s://${n.name}`, ...(n.taints?.length ? { taints: n.taints } : {}) },
    status: {
      addresses: [
        { address: n.nodeIP, type: 'InternalIP' },
        { address: n.name, type: 'Hostname' },
      ],
      allocatable: resources,
      capacity: resources,
      conditions: nodeConditions(nowMs),
      daemonEndpoints: { kubeletEndpoint: { Port: KUBELET_PORT } },
      nodeInfo: {
        architecture: n.host.architecture,
        bootID: n.host.bootID,
        containerRuntimeVersion: n.containerRuntimeVersion,
        kernelVersion: n.host.kernelVersion,
        kubeProxyVersion: n.kubeletVersion,
        kubeletVersion: n.kubeletVersion,
        machineID: n.host.machineID,
        operatingSystem: 'linux',
        osImage: n.host.osImage,
        systemUUID: n.host.machineID,
      },
    },
  };
}

/** The node's heartbeat: kube-node-lease/<node>, owned by the Node, renewed every 10 s. */
export function nodeLease(node: { name: string; uid: string }, nowMs: number): Record<string, unknown> {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name: node.name,
      namespace: NODE_LEASE_NAMESPACE,
      ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: node.name, uid: node.uid }],
    },
    spec: { holderIdentity: node.name, leaseDurationSeconds: LEASE_DURATION_SECONDS, renewTime: microTime(nowMs) },
  };
}
