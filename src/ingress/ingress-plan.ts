// The ingress controller's pure planner: API objects in, what nginx should serve out.
//   controller ConfigMap -> settings (service-upstream)
//   Ingresses + IngressClasses -> the Ingresses this controller serves (ingress-nginx's class rules)
//   Services + EndpointSlices -> each backend's upstream: the Service (ClusterIP) or its ready endpoints
// ingress-nginx's documentation of `service-upstream` (ConfigMap key; the per-Ingress annotation
// nginx.ingress.kubernetes.io/service-upstream is not implemented here): by default the controller puts the list of all
// endpoints (Pod IP/port) in the NGINX upstream; "true" uses a single upstream, the Service's
// Cluster IP and port, instead. Traefik, k3s's default, also sends to the pods. The lab ships "true"
// (lab/system.yaml) so that a request crosses the ClusterIP as DESIGN.md's request flow draws it.
import type { Ingress, IngressBackend, ObjectMeta } from '../api/types.ts';
import type { KubeObject } from '../client/types.ts';

/** ingress-nginx's controller value in IngressClass.spec.controller. */
export const INGRESS_NGINX_CONTROLLER = 'k8s.io/ingress-nginx';
export const DEFAULT_CLASS_ANNOTATION = 'ingressclass.kubernetes.io/is-default-class';
/** The deprecated class annotation ingress-nginx still honours when spec.ingressClassName is empty. */
export const LEGACY_CLASS_ANNOTATION = 'kubernetes.io/ingress.class';
/** The controller's ConfigMap, as ingress-nginx's chart names it (--configmap). */
export const CONTROLLER_CONFIGMAP = { namespace: 'kube-system', name: 'ingress-nginx-controller' };
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

export interface IngressSettings {
  /** true: proxy to the Service's ClusterIP:port; false: to the ready endpoints' podIP:targetPort. */
  serviceUpstream: boolean;
  warnings: string[];
}

/** ingress-nginx parses booleans with Go's strconv.ParseBool. */
function parseBool(v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  return undefined;
}

/** The ConfigMap's data -> settings. No ConfigMap or no key: ingress-nginx's default, false. */
export function ingressSettings(data: Record<string, string> | undefined): IngressSettings {
  const warnings: string[] = [];
  const raw = data?.['service-upstream'];
  const parsed = parseBool(raw);
  if (raw !== undefined && parsed === undefined) warnings.push(`service-upstream: ${JSON.stringify(raw)} is not a boolean; using false`);
  return { serviceUpstream: parsed ?? false, warnings };
}

export interface IngressClassObject extends KubeObject {
  spec?: { controller?: string };
}

/**
 * Whether this controller serves an Ingress (ingress-nginx with --ingress-class=nginx and
 * --controller-class=k8s.io/ingress-nginx): a class named by spec.ingressClassName (or the legacy
 * annotation) must be an IngressClass whose controller is ingress-nginx's; an Ingress naming no
 * class is served when ingress-nginx's IngressClass is the cluster's default (kube-apiserver's
 * DefaultIngressClass admission would have written that class into a new Ingress; the lab's API
 * server has no such admission, so the rule is applied here, as ingress-nginx does for old ones).
 */
export function servedBy(ing: { spec?: { ingressClassName?: string }; metadata: { annotations?: Record<string, string> } }, classes: IngressClassObject[], controller = INGRESS_NGINX_CONTROLLER): { served: boolean; reason: string } {
  const ours = classes.filter((c) => c.spec?.controller === controller);
  const name = ing.spec?.ingressClassName ?? ing.metadata.annotations?.[LEGACY_CLASS_ANNOTATION];
  if (name) {
    if (ours.some((c) => c.metadata.name === name)) return { served: true, reason: `class ${name}` };
    const other = classes.find((c) => c.metadata.name === name);
    return { served: false, reason: other ? `class ${name} belongs to controller ${other.spec?.controller ?? '<none>'}` : `IngressClass ${name} does not exist` };
  }
  const def = ours.find((c) => c.metadata.annotations?.[DEFAULT_CLASS_ANNOTATION] === 'true');
  return def ? { served: true, reason: `no class: default IngressClass ${def.metadata.name}` } : { served: false, reason: 'no ingressClassName and no default IngressClass of this controller' };
}

function meta(m: KubeObject['metadata']): ObjectMeta {
  return { ...m, name: m.name, namespace: m.namespace ?? 'default', labels: m.labels ?? {}, annotations: m.annotations ?? {} } as ObjectMeta;
}

interface ApiIngress extends KubeObject {
  spec?: { ingressClassName?: string; defaultBackend?: IngressBackend; rules?: Ingress['spec']['rules'] };
}

/** An API Ingress as the routing table (routes.ts) reads it. */
export function toLabIngress(o: ApiIngress): Ingress {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: meta(o.metadata),
    spec: { ingressClassName: o.spec?.ingressClassName, defaultBackend: o.spec?.defaultBackend, rules: o.spec?.rules ?? [] },
    source: { file: 'api', line: 0 },
  };
}

export interface ApiServicePort {
  name?: string;
  port: number;
  protocol?: string;
  targetPort?: number | string;
}

export interface ApiService extends KubeObject {
  spec?: { type?: string; clusterIP?: string; selector?: Record<string, string>; ports?: ApiServicePort[]; externalName?: string };
  status?: { loadBalancer?: { ingress?: { ip?: string; hostname?: string }[] } };
}

export interface ApiEndpointSlice extends KubeObject {
  addressType?: string;
  endpoints?: { addresses: string[]; conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean } }[];
  ports?: { name?: string; port?: number; protocol?: string }[] | null;
}

/**
 * The ready endpoints of one Service port as `ip:port`, sorted, from the Service's EndpointSlices
 * (label kubernetes.io/service-name): the slice port named like the Service port gives the target
 * port; an endpoint is ready unless conditions.ready is false (nil means ready). Null when the
 * backend has no endpoints to send to at all: an ExternalName Service (nginx then goes by name).
 */
export function readyEndpoints(services: ApiService[], slices: ApiEndpointSlice[], namespace: string, service: string, port: number): string[] | null {
  const svc = services.find((s) => s.metadata.namespace === namespace && s.metadata.name === service);
  if (!svc || svc.spec?.type === 'ExternalName') return null;
  const sp = svc.spec?.ports?.find((p) => p.port === port && (p.protocol ?? 'TCP') === 'TCP');
  if (!sp) return [];
  const out = new Set<string>();
  for (const slice of slices) {
    if (slice.metadata.namespace !== namespace || slice.metadata.labels?.[SERVICE_NAME_LABEL] !== service) continue;
    if (slice.addressType && slice.addressType !== 'IPv4') continue;
    const p = (slice.ports ?? []).find((x) => (x.name ?? '') === (sp.name ?? '') && (x.protocol ?? 'TCP') === 'TCP');
    if (!p?.port) continue;
    for (const ep of slice.endpoints ?? []) {
      if (ep.conditions?.ready === false) continue;
      for (const ip of ep.addresses) out.add(`${ip}:${p.port}`);
    }
  }
  return [...out].sort();
}

/** What one sync serves: the Ingresses (converted), the ones left to other controllers, the upstream kind. */
export interface IngressPlan {
  settings: IngressSettings;
  served: Ingress[];
  ignored: { ingress: string; reason: string }[];
}

export function planIngresses(input: { ingresses: ApiIngress[]; classes: IngressClassObject[]; configMapData: Record<string, string> | undefined }): IngressPlan {
  const settings = ingressSettings(input.configMapData);
  const served: Ingress[] = [];
  const ignored: IngressPlan['ignored'] = [];
  for (const ing of input.ingresses) {
    if (ing.metadata.deletionTimestamp) continue;
    const s = servedBy(ing, input.classes);
    if (s.served) served.push(toLabIngress(ing));
    else ignored.push({ ingress: `${ing.metadata.namespace}/${ing.metadata.name}`, reason: s.reason });
  }
  return { settings, served, ignored };
}

/**
 * The address ingress-nginx publishes in status.loadBalancer.ingress: its Service's load-balancer
 * address (k3s's ServiceLB gives a LoadBalancer Service the node IPs), else the IP of the node its
 * pod runs on (what ingress-nginx does without --publish-service), else the configured node IP.
 */
export function publishAddress(service: ApiService | undefined, podHostIP: string | undefined, nodeIP: string): { ip: string }[] {
  const lb = (service?.status?.loadBalancer?.ingress ?? []).filter((i): i is { ip: string } => typeof i.ip === 'string' && i.ip !== '');
  if (lb.length > 0) return lb.map((i) => ({ ip: i.ip }));
  return [{ ip: podHostIP || nodeIP }];
}
