// Defaulting as kube-apiserver does it when it decodes an object (the SetDefaults_* functions of
// pkg/apis/<group>/v1/defaults.go and the `+default` markers of k8s.io/api), for every field the
// lab reads: an object that arrives without them gets them, as it would from a real API server, so
// `kubectl get -o yaml` shows what it shows on k3s and the roles never guess a default themselves.
// (The registry helper left defaulting out; each strategy calls `defaultObject` before its own
// preparation, on create and on update, as decoding happens for both.) A few values come from
// admission plugins that every kube-apiserver runs (Priority, DefaultTolerationSeconds,
// TaintNodesByCondition): those are `admitPod` and `admitNode`, on create only.
//
// Not here: what a resource's REST storage allocates (a Service's clusterIP/clusterIPs,
// ipFamilies, ipFamilyPolicy, nodePorts: service-alloc.ts) and the ServiceAccount admission
// (serviceAccountName, the token volume): the lab has no ServiceAccounts.
import type { KubeObject } from './object.ts';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isObj) : []);
const obj = (parent: Obj, key: string): Obj | undefined => (isObj(parent[key]) ? (parent[key] as Obj) : undefined);

/** Sets `key` when it is absent (nil in Go); '' and 0 count as absent for the fields kube tests with == "". */
function def(o: Obj, key: string, value: unknown, emptyToo = false): void {
  if (o[key] === undefined || o[key] === null || (emptyToo && (o[key] === '' || o[key] === 0))) o[key] = value;
}

// A docker reference (distribution/reference's grammar): [domain/]path[:tag][@digest].
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const REFERENCE = new RegExp(
  `^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*(?::[0-9]+)?/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*` +
    '(?::([\\w][\\w.-]{0,127}))?(@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$',
);

/**
 * The image's tag as parsers.ParseImageName finds it: `latest` when the reference names neither a
 * tag nor a digest; '' for a digest alone or a reference it cannot parse (kube then treats it as
 * not latest).
 */
export function imageTag(image: string): string {
  const m = REFERENCE.exec(image);
  if (!m) return '';
  if (m[1] !== undefined) return m[1];
  return m[2] ? '' : 'latest';
}

/** SetDefaults_Container (also for init and ephemeral containers), with its probes and ports. */
function defaultContainer(c: Obj): void {
  if (!c.imagePullPolicy) c.imagePullPolicy = imageTag(typeof c.image === 'string' ? c.image : '') === 'latest' ? 'Always' : 'IfNotPresent';
  def(c, 'terminationMessagePath', '/dev/termination-log', true);
  def(c, 'terminationMessagePolicy', 'File', true);
  for (const p of list(c.ports)) def(p, 'protocol', 'TCP', true); // ContainerPort.protocol +default="TCP"
  for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
    const pr = obj(c, probe);
    if (!pr) continue;
    def(pr, 'timeoutSeconds', 1, true);
    def(pr, 'periodSeconds', 10, true);
    def(pr, 'successThreshold', 1, true);
    def(pr, 'failureThreshold', 3, true);
    defaultHandler(pr);
  }
  const lifecycle = obj(c, 'lifecycle');
  for (const hook of ['postStart', 'preStop']) if (lifecycle && obj(lifecycle, hook)) defaultHandler(obj(lifecycle, hook)!);
  for (const e of list(c.env)) {
    const fieldRef = obj(obj(e, 'valueFrom') ?? {}, 'fieldRef');
    if (fieldRef) def(fieldRef, 'apiVersion', 'v1', true); // SetDefaults_ObjectFieldSelector
  }
}

/** SetDefaults_HTTPGetAction. */
function defaultHandler(h: Obj): void {
  const get = obj(h, 'httpGet');
  if (!get) return;
  def(get, 'path', '/', true);
  def(get, 'scheme', 'HTTP', true);
}

/** SetDefaults_Volume and the volume sources' default modes (0644 = 420). */
function defaultVolume(v: Obj): void {
  const sources = Object.keys(v).filter((k) => k !== 'name' && v[k] !== null && v[k] !== undefined);
  if (sources.length === 0) v.emptyDir = {};
  for (const key of ['secret', 'configMap', 'downwardAPI', 'projected']) {
    const src = obj(v, key);
    if (src) def(src, 'defaultMode', 420);
  }
  for (const source of list(obj(v, 'projected')?.sources)) {
    const token = obj(source, 'serviceAccountToken');
    if (token) def(token, 'expirationSeconds', 3600);
    const downward = obj(source, 'downwardAPI');
    for (const item of list(downward?.items)) if (obj(item, 'fieldRef')) def(obj(item, 'fieldRef')!, 'apiVersion', 'v1', true);
  }
  for (const item of list(obj(v, 'downwardAPI')?.items)) if (obj(item, 'fieldRef')) def(obj(item, 'fieldRef')!, 'apiVersion', 'v1', true);
  const hostPath = obj(v, 'hostPath');
  if (hostPath) def(hostPath, 'type', '');
}

/** SetDefaults_PodSpec and what is below it: every PodSpec, a pod's own or a template's. */
export function defaultPodSpec(spec: Obj): void {
  def(spec, 'dnsPolicy', 'ClusterFirst', true);
  def(spec, 'restartPolicy', 'Always', true);
  def(spec, 'securityContext', {});
  def(spec, 'terminationGracePeriodSeconds', 30);
  def(spec, 'schedulerName', 'default-scheduler', true);
  for (const key of ['containers', 'initContainers', 'ephemeralContainers']) for (const c of list(spec[key])) defaultContainer(c);
  for (const v of list(spec.volumes)) defaultVolume(v);
}

/** SetDefaults_Pod: only a Pod's spec, not a template's (kube keeps templates free of these). */
function defaultPod(pod: KubeObject): void {
  const spec = (pod.spec ??= {}) as Obj;
  defaultPodSpec(spec);
  for (const key of ['containers', 'initContainers']) {
    for (const c of list(spec[key])) {
      // Requests default to the limits where a limit is set and its request is not.
      const resources = obj(c, 'resources');
      const limits = resources && obj(resources, 'limits');
      if (!limits) continue;
      resources!.requests = { ...limits, ...(obj(resources!, 'requests') ?? {}) };
    }
  }
  def(spec, 'enableServiceLinks', true);
  if (spec.hostNetwork === true) {
    for (const key of ['containers', 'initContainers']) for (const c of list(spec[key])) for (const p of list(c.ports)) def(p, 'hostPort', p.containerPort, true);
  }
}

/** kube-apiserver's --default-not-ready-toleration-seconds and --default-unreachable-toleration-seconds. */
export interface DefaultTolerationSeconds {
  notReady: number;
  unreachable: number;
}

export const DEFAULT_TOLERATION_SECONDS: DefaultTolerationSeconds = { notReady: 300, unreachable: 300 };

/**
 * Admission plugins on a new pod: Priority (no class: priority 0, preemptionPolicy
 * PreemptLowerPriority) and DefaultTolerationSeconds: a pod that does not tolerate the not-ready
 * (or unreachable) NoExecute taint already (a toleration of that key or of every key, with that
 * effect or every effect) gets `{key, operator: Exists, effect: NoExecute, tolerationSeconds}`,
 * 300 s unless the server's flags say otherwise: what lets the taint eviction controller evict
 * pods 5 minutes after their node stops reporting.
 */
export function admitPod(pod: KubeObject, seconds: DefaultTolerationSeconds = DEFAULT_TOLERATION_SECONDS): void {
  const spec = (pod.spec ??= {}) as Obj;
  if (!spec.priorityClassName) def(spec, 'priority', 0);
  def(spec, 'preemptionPolicy', 'PreemptLowerPriority', true);
  const tolerations = list(spec.tolerations);
  const toAdd: [string, number][] = [
    ['node.kubernetes.io/not-ready', seconds.notReady],
    ['node.kubernetes.io/unreachable', seconds.unreachable],
  ];
  for (const [key, tolerationSeconds] of toAdd) {
    const tolerated = tolerations.some((t) => (t.key === key || !t.key) && (t.effect === 'NoExecute' || !t.effect));
    if (!tolerated) tolerations.push({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds });
  }
  spec.tolerations = tolerations;
}

/**
 * The TaintNodesByCondition admission plugin on a new Node: the not-ready NoSchedule taint, so
 * that nothing is scheduled to it before the node lifecycle controller has seen it Ready (and
 * taken the taint off).
 */
export function admitNode(node: KubeObject): void {
  const spec = (node.spec ??= {}) as Obj;
  const taints = list(spec.taints);
  if (!taints.some((t) => t.key === 'node.kubernetes.io/not-ready' && t.effect === 'NoSchedule')) taints.push({ key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' });
  spec.taints = taints;
}

/** The PodTemplateSpec of a workload (Deployment, ReplicaSet). */
function defaultTemplate(spec: Obj): void {
  const template = obj(spec, 'template');
  if (!template) return;
  template.spec = isObj(template.spec) ? template.spec : {};
  defaultPodSpec(template.spec as Obj);
}

function defaultService(svc: KubeObject): void {
  const spec = (svc.spec ??= {}) as Obj;
  def(spec, 'sessionAffinity', 'None', true);
  if (spec.sessionAffinity === 'None') delete spec.sessionAffinityConfig;
  if (spec.sessionAffinity === 'ClientIP') {
    const timeout = obj(obj(spec, 'sessionAffinityConfig') ?? {}, 'clientIP')?.timeoutSeconds;
    if (timeout === undefined || timeout === null) spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: 10800 } };
  }
  def(spec, 'type', 'ClusterIP', true);
  for (const p of list(spec.ports)) {
    def(p, 'protocol', 'TCP', true);
    if (p.targetPort === undefined || p.targetPort === null || p.targetPort === 0 || p.targetPort === '') p.targetPort = p.port;
  }
  const type = spec.type;
  const externallyAccessible = type === 'LoadBalancer' || type === 'NodePort' || (type === 'ClusterIP' && Array.isArray(spec.externalIPs) && spec.externalIPs.length > 0);
  if (externallyAccessible) def(spec, 'externalTrafficPolicy', 'Cluster', true);
  if (type === 'NodePort' || type === 'LoadBalancer' || type === 'ClusterIP') def(spec, 'internalTrafficPolicy', 'Cluster');
  if (type === 'LoadBalancer') {
    def(spec, 'allocateLoadBalancerNodePorts', true);
    for (const ing of list(obj(obj(svc.status ?? {}, 'loadBalancer') ?? {}, 'ingress'))) if (ing.ip) def(ing, 'ipMode', 'VIP');
  }
}

function defaultDeployment(d: KubeObject): void {
  const spec = (d.spec ??= {}) as Obj;
  def(spec, 'replicas', 1);
  const strategy = (isObj(spec.strategy) ? spec.strategy : (spec.strategy = {})) as Obj;
  def(strategy, 'type', 'RollingUpdate', true);
  if (strategy.type === 'RollingUpdate') {
    const rolling = (isObj(strategy.rollingUpdate) ? strategy.rollingUpdate : (strategy.rollingUpdate = {})) as Obj;
    def(rolling, 'maxUnavailable', '25%');
    def(rolling, 'maxSurge', '25%');
  }
  def(spec, 'revisionHistoryLimit', 10);
  def(spec, 'progressDeadlineSeconds', 600);
  defaultTemplate(spec);
}

function defaultReplicaSet(rs: KubeObject): void {
  const spec = (rs.spec ??= {}) as Obj;
  def(spec, 'replicas', 1);
  defaultTemplate(spec);
}

const DEFAULTERS: Record<string, (o: KubeObject) => void> = {
  pods: defaultPod,
  services: defaultService,
  deployments: defaultDeployment,
  replicasets: defaultReplicaSet,
  endpoints(ep) {
    for (const subset of list(ep.subsets)) for (const p of list(subset.ports)) def(p, 'protocol', 'TCP', true);
  },
  endpointslices(slice) {
    // discovery/v1 SetDefaults_EndpointPort: name "" and protocol TCP.
    for (const p of list(slice.ports)) {
      def(p, 'name', '');
      def(p, 'protocol', 'TCP');
    }
  },
  ingressclasses(ic) {
    const params = obj(ic.spec ?? {}, 'parameters');
    if (params) def(params, 'scope', 'Cluster');
  },
  nodes(node) {
    // SetDefaults_NodeStatus: allocatable is the capacity when not given.
    const status = node.status;
    if (status && isObj(status.capacity) && status.allocatable === undefined) status.allocatable = { ...status.capacity };
  },
};

/** Fills the defaults of an object of `resource` (plural) in place. */
export function defaultObject(resource: string, o: KubeObject): void {
  DEFAULTERS[resource]?.(o);
}
