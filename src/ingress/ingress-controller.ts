// The ingress controller as a role on the API (ingress-nginx's controller process): informers on
// Ingresses, IngressClasses, Services, EndpointSlices, its ConfigMap and its own pod; each change
// renders nginx.conf (nginx.ts) into the directory the ingress pod mounts and reloads that pod's
// nginx with SIGHUP (reload.ts). Changes arriving together are synced once, after the current sync.
//
// What it writes to the API, as ingress-nginx does:
// - status.loadBalancer.ingress of every Ingress it serves (status subresource): the address of its
//   LoadBalancer Service, the node IP k3s's ServiceLB gives it, so `kubectl get ingress` shows
//   ADDRESS 192.168.56.110;
// - Events from "nginx-ingress-controller": Sync "Scheduled for sync" on each Ingress it takes up
//   (again after each change, its own status write included: `x2` in `kubectl describe ingress`),
//   RELOAD "NGINX reload triggered due to a change in configuration" on its pod, and a Warning
//   RELOAD "Error reloading NGINX: ..." when nginx refuses a configuration (the last good one keeps
//   serving: it never lands in the file).
//
// Finding nginx: the master's pid comes from nginx's own pid file under the prefix directory (the
// rendered `pid` directive), which holds the PID as nginx sees it inside its container's PID
// namespace; reload.ts's findMasterPid maps it to the nginx master inside the ingress pod's network
// namespace. Before the pod runs (or with no nginx there) the file is just written: nginx reads it
// when it starts.
import { isTerminating, type ClusterConfig } from '../api/types.ts';
import type { InformerFactory } from '../client/controller.ts';
import { EventRecorder } from '../client/events.ts';
import { isNotFound, type Client, type KubeObject, type ResourceRef } from '../client/types.ts';
import { accessLogPath, ingressDir, syncIngress } from './controller.ts';
import { planIngresses, publishAddress, readyEndpoints, CONTROLLER_CONFIGMAP, type ApiEndpointSlice, type ApiService, type IngressClassObject } from './ingress-plan.ts';
import { Coalescer } from '../util/coalesce.ts';
import { renderNginxConfig } from './nginx.ts';
import { findMasterPid, type ApplyResult } from './reload.ts';
import { buildRoutingTable, type ServiceBackend } from './routes.ts';

export const INGRESSES: ResourceRef = { group: 'networking.k8s.io', resource: 'ingresses' };
/** ingress-nginx's event source component. */
export const INGRESS_COMPONENT = 'nginx-ingress-controller';
/** The lab's ingress pods and Service (lab/system.yaml). */
export const INGRESS_APP_LABEL = { key: 'app.kubernetes.io/name', value: 'ingress-nginx' };

type ApiPod = KubeObject & {
  spec?: { nodeName?: string };
  status?: { phase?: string; hostIP?: string; podIP?: string };
};
type ApiIngress = KubeObject & { spec?: Record<string, unknown>; status?: { loadBalancer?: { ingress?: { ip?: string; hostname?: string }[] } } };

export interface IngressControllerOptions {
  stateDir: string;
  config: Pick<ClusterConfig, 'clusterDNS' | 'clusterDomain' | 'nodeIP'>;
  /** The network namespace the kubelet made for a pod; default the pod's `lab/netns` annotation. */
  podNetns?: (pod: ApiPod) => string | null;
  /** The Service whose address is published (`--publish-service`). Default kube-system/ingress-nginx. */
  publishService?: { namespace: string; name: string };
  /** How long to wait for new nginx workers after SIGHUP (reload.ts). */
  reloadWaitMs?: number;
  log?: (line: string) => void;
}

export interface IngressSyncResult {
  text: string;
  serviceUpstream: boolean;
  apply: ApplyResult;
  /** The master that was reloaded, or null when the file was only written. */
  masterPid: number | null;
}

export class IngressController {
  private readonly ingresses;
  private readonly classes;
  private readonly services;
  private readonly slices;
  private readonly configMaps;
  private readonly pods;
  private readonly recorder: EventRecorder;
  private readonly log: (line: string) => void;
  private readonly runner = new Coalescer(async () => {
    if (!this.all().every((i) => i.hasSynced())) await Promise.all(this.all().map((i) => i.waitForSync()));
    try {
      await this.sync();
    } catch (e) {
      this.log(`ingress: sync failed: ${(e as Error).message}`);
    }
  });
  /** resourceVersion of each Ingress at its last "Scheduled for sync". */
  private readonly scheduled = new Map<string, string>();
  private lastNotes = '';
  last: IngressSyncResult | null = null;

  constructor(
    factory: InformerFactory,
    private readonly client: Client,
    private readonly opts: IngressControllerOptions,
  ) {
    this.log = opts.log ?? (() => {});
    this.recorder = new EventRecorder(client, { component: INGRESS_COMPONENT }, { log: this.log });
    this.ingresses = factory.informer<ApiIngress>(INGRESSES);
    this.classes = factory.informer<IngressClassObject>({ group: 'networking.k8s.io', resource: 'ingressclasses' });
    this.services = factory.informer<ApiService>({ group: '', resource: 'services' });
    this.slices = factory.informer<ApiEndpointSlice>({ group: 'discovery.k8s.io', resource: 'endpointslices' });
    this.configMaps = factory.informer<KubeObject & { data?: Record<string, string> }>({ group: '', resource: 'configmaps' }, { namespace: CONTROLLER_CONFIGMAP.namespace });
    this.pods = factory.informer<ApiPod>({ group: '', resource: 'pods' }, { namespace: 'kube-system', labelSelector: `${INGRESS_APP_LABEL.key}=${INGRESS_APP_LABEL.value}` });
    const changed = () => void this.request();
    for (const inf of this.all()) inf.addHandlers({ add: changed, update: changed, delete: changed });
  }

  private all() {
    return [this.ingresses, this.classes, this.services, this.slices, this.configMaps, this.pods] as const;
  }

  /** Resolves once what the informers hold now has been rendered and installed. */
  request(): Promise<void> {
    return this.runner.request();
  }

  /** The running ingress pod (the Deployment's, not terminating). */
  private ingressPod(): ApiPod | undefined {
    return this.pods
      .list()
      .filter((p) => !isTerminating(p) && p.status?.phase === 'Running' && (p.metadata.ownerReferences ?? []).some((o) => o.kind === 'ReplicaSet'))
      .sort((a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? ''))[0];
  }

  private async sync(): Promise<void> {
    const cm = this.configMaps.get(`${CONTROLLER_CONFIGMAP.namespace}/${CONTROLLER_CONFIGMAP.name}`);
    const plan = planIngresses({ ingresses: this.ingresses.list(), classes: this.classes.list(), configMapData: cm?.data });
    const services = this.services.list();
    const slices = this.slices.list();
    const table = buildRoutingTable(plan.served);
    const text = renderNginxConfig(table, {
      resolver: this.opts.config.clusterDNS,
      clusterDomain: this.opts.config.clusterDomain,
      listenPort: 80,
      prefix: ingressDir(this.opts.stateDir),
      accessLogPath: accessLogPath(this.opts.stateDir),
      errorLogPath: 'stderr',
      workerProcesses: 1,
      resolvePort: apiPortResolver(services),
      endpointUpstream: plan.settings.serviceUpstream ? undefined : (ns, svc, port) => readyEndpoints(services, slices, ns, svc, port),
    });
    const notes = [...plan.settings.warnings, ...table.warnings, ...plan.ignored.map((i) => `${i.ingress} not served: ${i.reason}`)].join('\n');
    if (notes !== this.lastNotes) for (const n of notes.split('\n').filter(Boolean)) this.log(`ingress: ${n}`);
    this.lastNotes = notes;

    const pod = this.ingressPod();
    // Most changes (a pod's status, an unrelated Service) render the same text: nothing to install.
    // A restarted nginx reads the file that is there.
    const same = this.last !== null && this.last.text === text && this.last.apply.error === null;
    const netns = pod && !same ? (this.opts.podNetns ?? annotationNetns)(pod) : null;
    const masterPid = netns ? await findMasterPid(ingressDir(this.opts.stateDir), netns) : null;
    if (!same) {
      const apply = await syncIngress(this.opts.stateDir, text, netns && masterPid ? { netns, masterPid } : null, { waitMs: this.opts.reloadWaitMs });
      this.last = { text, serviceUpstream: plan.settings.serviceUpstream, apply, masterPid };
    }
    const apply = this.last!.apply;
    if (pod && masterPid) {
      if (apply.error) {
        this.log(`ingress: configuration refused, the last good one keeps serving: ${apply.error}`);
        void this.recorder.event(pod, 'Warning', 'RELOAD', `Error reloading NGINX: ${apply.error}`);
      } else if (apply.reloadedPid) {
        void this.recorder.event(pod, 'Normal', 'RELOAD', 'NGINX reload triggered due to a change in configuration');
      }
    }

    // Ingresses taken up since the last sync, and the address each one is reachable at.
    const publish = this.opts.publishService ?? { namespace: 'kube-system', name: 'ingress-nginx' };
    const address = publishAddress(this.services.get(`${publish.namespace}/${publish.name}`), pod?.status?.hostIP, this.opts.config.nodeIP);
    const servedKeys = new Set<string>();
    for (const ing of plan.served) {
      const key = `${ing.metadata.namespace}/${ing.metadata.name}`;
      servedKeys.add(key);
      const live = this.ingresses.get(key);
      if (!live) continue;
      const rv = live.metadata.resourceVersion ?? '';
      if (this.scheduled.get(key) !== rv) {
        this.scheduled.set(key, rv);
        void this.recorder.event({ ...live, apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' }, 'Normal', 'Sync', 'Scheduled for sync'); // informer items may lack kind
      }
      if (JSON.stringify(live.status?.loadBalancer?.ingress ?? []) !== JSON.stringify(address)) await this.publishStatus(live, address);
    }
    for (const key of this.scheduled.keys()) if (!servedKeys.has(key)) this.scheduled.delete(key);
  }

  private async publishStatus(ing: ApiIngress, address: { ip: string }[]): Promise<void> {
    try {
      await this.client.mutate<ApiIngress>(INGRESSES, ing.metadata.namespace, ing.metadata.name, (cur) => ({ ...cur, status: { ...cur.status, loadBalancer: { ingress: address } } }), { subresource: 'status' });
    } catch (e) {
      if (!isNotFound(e)) this.log(`ingress: updating the status of ${ing.metadata.namespace}/${ing.metadata.name}: ${(e as Error).message}`);
    }
  }

  stop(): Promise<void> {
    return this.runner.stop();
  }
}

function annotationNetns(pod: ApiPod): string | null {
  return pod.metadata.annotations?.['lab/netns'] ?? null;
}

/** Ingress backend port (number or name) -> the Service's port number; undefined: no such Service or port (503). */
export function apiPortResolver(services: ApiService[]): (namespace: string, service: string, port: ServiceBackend['port']) => number | undefined {
  const byKey = new Map(services.map((s) => [`${s.metadata.namespace}/${s.metadata.name}`, s]));
  return (namespace, service, port) => {
    const svc = byKey.get(`${namespace}/${service}`);
    if (!svc) return undefined;
    const sp = (svc.spec?.ports ?? []).find((p) => (port.number !== undefined ? p.port === port.number : p.name === port.name));
    if (!sp && svc.spec?.type === 'ExternalName' && port.number !== undefined) return port.number;
    return sp?.port;
  };
}
