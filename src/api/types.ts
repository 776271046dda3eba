// The subset of the Kubernetes API the lab understands. Field names follow the real API so that
// manifests copied from a cluster load unchanged (and so that `-o json` looks like kubectl's).

export interface ObjectMeta {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  uid?: string;
  creationTimestamp?: string;
  generateName?: string;
  ownerReferences?: { kind: string; name: string; uid?: string }[];
  /** Set when the object is being deleted (graceful deletion: a pod is Terminating until its containers are gone). */
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
}

/** True once deletion has begun: the pod is Terminating, out of every Service. */
export function isTerminating(o: { metadata: Pick<ObjectMeta, 'deletionTimestamp'> }): boolean {
  return Boolean(o.metadata.deletionTimestamp);
}

/** Where a manifest came from, for error messages and `lab describe`. */
export interface Source {
  file: string;
  line: number;
}

export interface KeyToPath {
  key: string;
  path: string;
}

export interface Volume {
  name: string;
  configMap?: { name: string; items?: KeyToPath[]; optional?: boolean };
  hostPath?: { path: string; type?: string };
  emptyDir?: Record<string, never>;
  /** Files holding the pod's own metadata (name, namespace, uid, labels, annotations). */
  downwardAPI?: { items: DownwardAPIVolumeFile[] };
}

export interface DownwardAPIVolumeFile {
  path: string;
  fieldRef: { fieldPath: string };
}

export interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
  subPath?: string;
}

export interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
}

export interface HTTPGetAction {
  path: string;
  port: number | string;
  scheme?: 'HTTP';
}

export interface Probe {
  httpGet?: HTTPGetAction;
  tcpSocket?: { port: number | string };
  exec?: { command: string[] };
  initialDelaySeconds: number;
  periodSeconds: number;
  timeoutSeconds: number;
  successThreshold: number;
  failureThreshold: number;
}

export interface EnvVar {
  name: string;
  value: string;
}

/**
 * A container's securityContext: the fields the lab reads (Pod Security admission checks privileged
 * and capabilities.add; the runtime applies the rest). Capability names as Kubernetes writes them,
 * without the CAP_ prefix (NET_ADMIN), or ALL.
 */
export interface SecurityContext {
  privileged?: boolean;
  allowPrivilegeEscalation?: boolean;
  capabilities?: { add?: string[]; drop?: string[] };
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  readOnlyRootFilesystem?: boolean;
}

export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  workingDir?: string;
  env: EnvVar[];
  ports: ContainerPort[];
  volumeMounts: VolumeMount[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  securityContext?: SecurityContext;
}

export interface PodSpec {
  containers: Container[];
  volumes: Volume[];
  restartPolicy: 'Always' | 'OnFailure' | 'Never';
  terminationGracePeriodSeconds: number;
  nodeName?: string;
  /** Labels a node must carry for the scheduler to bind the pod there. */
  nodeSelector?: Record<string, string>;
  hostname?: string;
  subdomain?: string;
  dnsPolicy?: string;
  /** Host namespaces: refused by Pod Security admission at baseline, not implemented by the lab's kubelet. */
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
}

export interface PodTemplateSpec {
  metadata: { labels: Record<string, string>; annotations: Record<string, string> };
  spec: PodSpec;
}

export interface Deployment {
  apiVersion: 'apps/v1';
  kind: 'Deployment';
  metadata: ObjectMeta;
  spec: {
    replicas: number;
    selector: { matchLabels: Record<string, string> };
    template: PodTemplateSpec;
    strategy?: {
      type: 'RollingUpdate' | 'Recreate';
      rollingUpdate?: { maxSurge: number | string; maxUnavailable: number | string };
    };
  };
  source: Source;
}

export interface ConfigMap {
  apiVersion: 'v1';
  kind: 'ConfigMap';
  metadata: ObjectMeta;
  data: Record<string, string>;
  source: Source;
}

export interface ServicePort {
  name: string;
  protocol: 'TCP' | 'UDP' | 'SCTP';
  port: number;
  targetPort: number | string;
  nodePort?: number;
}

export interface Service {
  apiVersion: 'v1';
  kind: 'Service';
  metadata: ObjectMeta;
  spec: {
    type: 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
    /** Absent: allocated from the service CIDR. 'None': headless. */
    clusterIP?: string;
    selector?: Record<string, string>;
    ports: ServicePort[];
    externalIPs: string[];
    externalName?: string;
    sessionAffinity: 'None' | 'ClientIP';
    sessionAffinityConfig?: { clientIP: { timeoutSeconds: number } };
    externalTrafficPolicy: 'Cluster' | 'Local';
    internalTrafficPolicy: 'Cluster' | 'Local';
  };
  source: Source;
}

export interface EndpointAddress {
  ip: string;
  nodeName?: string;
  hostname?: string;
  targetRef?: { kind: 'Pod'; name: string; namespace: string };
}

export interface EndpointPort {
  name: string;
  port: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
}

export interface EndpointSubset {
  addresses: EndpointAddress[];
  notReadyAddresses: EndpointAddress[];
  ports: EndpointPort[];
}

export interface Endpoints {
  apiVersion: 'v1';
  kind: 'Endpoints';
  metadata: ObjectMeta;
  subsets: EndpointSubset[];
  source?: Source;
}

export interface IngressBackend {
  service: { name: string; port: { number?: number; name?: string } };
}

export interface HTTPIngressPath {
  path: string;
  pathType: 'Exact' | 'Prefix' | 'ImplementationSpecific';
  backend: IngressBackend;
}

export interface IngressRule {
  host?: string;
  http?: { paths: HTTPIngressPath[] };
}

export interface Ingress {
  apiVersion: 'networking.k8s.io/v1';
  kind: 'Ingress';
  metadata: ObjectMeta;
  spec: {
    ingressClassName?: string;
    defaultBackend?: IngressBackend;
    rules: IngressRule[];
  };
  source: Source;
}

/**
 * discovery.k8s.io/v1 EndpointSlice as written in the state file. The loader converts slices into
 * Endpoints (one per Service, keyed by the kubernetes.io/service-name label), so consumers only see
 * DesiredState.endpoints.
 */
export interface EndpointSlice {
  apiVersion: 'discovery.k8s.io/v1';
  kind: 'EndpointSlice';
  metadata: ObjectMeta;
  addressType: 'IPv4';
  endpoints: {
    addresses: string[];
    conditions: { ready?: boolean; serving?: boolean; terminating?: boolean };
    hostname?: string;
    nodeName?: string;
    targetRef?: { kind: 'Pod'; name: string; namespace: string };
  }[];
  ports: { name: string; protocol: 'TCP' | 'UDP' | 'SCTP'; port: number; appProtocol?: string }[];
  source?: Source;
}

export type Manifest = Deployment | ConfigMap | Service | Ingress | Endpoints;

/**
 * Where the node lives. host: the namespace the controller runs in (the Vagrant VM's root
 * namespace); sandbox: a `<instance>-node` namespace standing in for the VM.
 */
export type NodeMode = 'host' | 'sandbox';

/** lab/config.yaml: the k3s server flags the lab honours, with k3s's defaults. */
/** A node joined as `k3s agent` (its own config.yaml's keys). */
export interface AgentConfig {
  nodeName: string;
  nodeIP: string;
  /** k3s's node-label: `key=value`. */
  nodeLabels: string[];
  /** k3s's node-taint: `key=value:Effect`. */
  nodeTaints: string[];
}

export interface ClusterConfig {
  /** The server's own node. */
  nodeName: string;
  nodeIP: string;
  nodeLabels: string[];
  nodeTaints: string[];
  /** Nodes joined as agents, after the server's (lab up --nodes N adds default ones). */
  agents: AgentConfig[];
  clusterCIDR: string;
  serviceCIDR: string;
  clusterDNS: string;
  clusterDomain: string;
  serviceNodePortRange: [number, number];
  /** Prefix length of each node's pod CIDR (kube-controller-manager --node-cidr-mask-size, default 24). */
  nodeCIDRMaskSize: number;
  /**
   * k3s's token: the secret agents join with (the API takes it as the user `node`, group
   * k3s:agent). Absent: they join with the server's own token (its node-token). Never logged.
   */
  token?: string;
  /** The node failure timers (Kubernetes' defaults when absent). */
  nodeLifecycle?: NodeLifecycleConfig;
  /** kube-proxy's --proxy-mode on every node (k3s: kube-proxy-arg: [proxy-mode=nftables]); absent: iptables. */
  proxyMode?: ProxyMode;
  source: Source;
}

/** kube-proxy's modes the lab has (ipvs is deprecated upstream and this kernel has no IP_VS). */
export const PROXY_MODES = ['iptables', 'nftables'] as const;
export type ProxyMode = (typeof PROXY_MODES)[number];

/**
 * How fast a failed node's pods move, under the flags' own names in lab/config.yaml (on k3s they
 * go through kube-controller-manager-arg and kube-apiserver-arg).
 */
export interface NodeLifecycleConfig {
  /** kube-controller-manager --node-monitor-grace-period, in ms (40 s). */
  nodeMonitorGracePeriodMs: number;
  /** kube-apiserver --default-not-ready-toleration-seconds (300). */
  defaultNotReadyTolerationSeconds: number;
  /** kube-apiserver --default-unreachable-toleration-seconds (300). */
  defaultUnreachableTolerationSeconds: number;
}

/** Everything declared: the desired state the controllers reconcile towards. */
export interface DesiredState {
  config: ClusterConfig;
  configMaps: ConfigMap[];
  deployments: Deployment[];
  services: Service[];
  ingresses: Ingress[];
  /** Endpoints written by hand in the state file, for Services without a selector. */
  endpoints: Endpoints[];
  /**
   * Every namespace that exists: default, kube-system, kube-public, kube-node-lease, then the
   * Namespace objects of the state file in file order.
   */
  namespaces: string[];
  /** The labels of each declared Namespace object (Pod Security admission reads them). */
  namespaceLabels: Record<string, Record<string, string>>;
  /** Every object as written in the files, in order (the manifests applier sends these to the API). */
  manifests: { object: Record<string, unknown>; source: Source }[];
}

/** A pod as the lab records it: its spec plus what the kubelet and CNI observed. */
export interface Pod {
  apiVersion: 'v1';
  kind: 'Pod';
  metadata: ObjectMeta;
  spec: PodSpec;
  status: PodStatus;
}

export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';

export interface ContainerStatus {
  name: string;
  ready: boolean;
  started: boolean;
  restartCount: number;
  /** "<runtime>://<id>", as the kubelet reports it (runc://<64 hex digits>). */
  containerID?: string;
  /** The lab's kubelet bookkeeping (not a Kubernetes field): the container's first process on the machine. */
  pid?: number;
  state: ContainerState;
  lastState?: ContainerState;
  /** The lab's kubelet bookkeeping (not a Kubernetes field): restart backoff. */
  backoff?: { crashes: number; lastStart: number; until?: number };
}

export interface ContainerState {
  running?: { startedAt: string };
  waiting?: { reason: string; message?: string };
  terminated?: { exitCode: number; signal?: number; reason: string; finishedAt: string; startedAt?: string };
}

export interface PodStatus {
  phase: PodPhase;
  podIP?: string;
  hostIP?: string;
  conditions: { type: 'PodScheduled' | 'Initialized' | 'ContainersReady' | 'Ready'; status: 'True' | 'False' }[];
  containerStatuses: ContainerStatus[];
  startTime?: string;
}

export function key(meta: { namespace: string; name: string }): string {
  return `${meta.namespace}/${meta.name}`;
}
