// The server's roles in one process, as `k3s server` runs them, each talking only to the API:
// the store and registry, the API server's own objects (bootstrap), the manifests applier, the
// controller-manager's controllers (deployment, replicaset, endpoints, endpointslice, node lifecycle, node IPAM, pod GC), k3s's ServiceLB, the scheduler and this node's heartbeat. The composition root
// the new `lab up` is being built on (issue 13): the kubelet's pods and kube-proxy's syncer join
// here; the HTTPS listeners come with the API routes.
import { bootstrap, type ApiServiceInput } from '../api/server/bootstrap.ts';
import { Registry } from '../api/server/registry.ts';
import type { ServiceRanges } from '../api/server/service-alloc.ts';
import { KineStore } from '../api/storage/kine.ts';
import { InformerFactory, type Controller } from '../client/controller.ts';
import { LocalClient } from '../client/local.ts';
import { NodeAgent } from '../kubelet/node-agent.ts';
import type { NodeInput } from '../kubelet/node-status.ts';
import { schedulerController } from '../scheduler/scheduler-controller.ts';
import { deploymentController } from './deployment-controller.ts';
import { endpointsControllers } from './endpoints-controllers.ts';
import { replicaSetController } from './replicaset-controller.ts';
import { applyAddon, type ApplyOutcome, type Manifest } from './manifests.ts';
import { runNodeLifecycle } from './node-lifecycle.ts';
import { nodeIpamController } from './node-ipam.ts';
import { runPodGC } from './podgc.ts';
import { serviceLBController } from './servicelb-controller.ts';

export interface ControlPlaneOptions {
  /** The kine-schema SQLite file (':memory:' in tests). */
  storePath: string;
  api: ApiServiceInput;
  node: NodeInput;
  /** The service CIDR and NodePort range (config.yaml's service-cidr, service-node-port-range); k3s's defaults when absent. */
  serviceRanges?: ServiceRanges;
  /** kube-controller-manager's --cluster-cidr and --node-cidr-mask-size: the node IPAM hands out node CIDRs from it. */
  nodeIpam?: { clusterCIDR: string; nodeCIDRMaskSize: number };
  log?: (line: string) => void;
}

export class ControlPlane {
  readonly store: KineStore;
  readonly registry: Registry;
  readonly client: LocalClient;
  readonly factory: InformerFactory;
  private readonly controllers: Controller[] = [];
  private readonly stops: (() => void)[] = [];
  private agent: NodeAgent | null = null;

  constructor(private readonly opts: ControlPlaneOptions) {
    this.store = new KineStore(opts.storePath);
    this.registry = new Registry(this.store, { serviceRanges: opts.serviceRanges });
    this.client = new LocalClient(this.registry);
    this.factory = new InformerFactory((r, sel) => this.client.listWatch(r, sel), opts.log);
  }

  /** Bootstraps the API's own objects, registers the node, starts every controller. */
  async start(): Promise<void> {
    bootstrap(this.registry, this.opts.api);
    this.agent = new NodeAgent(this.client, this.opts.node, { log: this.opts.log });
    await this.agent.start();
    const eps = endpointsControllers(this.factory, this.client, this.opts.log);
    this.controllers.push(
      deploymentController(this.factory, this.client, { log: this.opts.log }),
      replicaSetController(this.factory, this.client, { log: this.opts.log }),
      eps.endpointSlice,
      eps.endpoints,
      schedulerController(this.factory, this.client, this.opts.log),
      serviceLBController(this.factory, this.client, this.opts.log),
      nodeIpamController(this.factory, this.client, { ...(this.opts.nodeIpam ?? { clusterCIDR: '10.42.0.0/16', nodeCIDRMaskSize: 24 }), log: this.opts.log }),
    );
    this.stops.push(runNodeLifecycle(this.factory, this.client, { log: this.opts.log }));
    this.stops.push(runPodGC(this.factory, this.client, { log: this.opts.log }));
    this.factory.start();
    await this.factory.waitForSync();
    for (const c of this.controllers) void c.run();
  }

  /** Applies an addon's manifests (a state file), as k3s's deploy controller does on a change. */
  /** Applies an addon's manifests; the outcome carries the API server's warnings (PodSecurity's). */
  apply(addon: string, manifests: Manifest[]): Promise<ApplyOutcome> {
    const warnings: string[] = [];
    const client = new LocalClient(this.registry, { warningHandler: (w) => warnings.push(w) });
    return applyAddon(client, addon, manifests, () => warnings.splice(0));
  }

  async stop(): Promise<void> {
    this.agent?.stop();
    for (const s of this.stops.splice(0)) s();
    await Promise.all(this.controllers.splice(0).map((c) => c.stop()));
    this.factory.stop();
    this.store.close();
  }
}
