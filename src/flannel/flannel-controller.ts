// flannel on the API, as k3s's agent runs it (flannel v0.26, kube subnet manager, vxlan backend):
// an informer on Nodes; every change that can matter to flannel (a Node added or deleted, a lease
// annotation or pod CIDR changed; not heartbeats) queues one sync of this node (sync.ts), and so
// does a resync every 60 s (flannel re-checks its iptables rules that often), which repairs what
// someone removed by hand. Before anything it waits for its own Node's spec.podCIDR, which the
// server's node IPAM assigns (k3s starts flannel only then). After the first sync it publishes its
// lease on its own Node (flannel's AcquireLease: backend-type, backend-data with the VTEP MAC,
// public-ip, kube-subnet-manager), written through nodes/status as flannel patches them.
import { Controller, InformerFactory } from '../client/controller.ts';
import type { Informer } from '../client/informer.ts';
import type { Client } from '../client/types.ts';
import type { Netns } from '../sys/exec.ts';
import { annotationsToPatch, leaseChanged, nodeLease, ownAnnotations, podCIDROf, PUBLIC_IP, storedVtepMac, type FlannelLease, type FlannelNode } from './annotations.ts';
import { NetnsDataplane, type FlannelDataplane } from './dataplane.ts';
import { syncFlannel, type FlannelSyncResult } from './sync.ts';

const NODES = { group: '', resource: 'nodes' };
const KEY = 'flannel';
/** flannel's iptables resync period (SetupAndEnsureMasqRules: 60 s). */
export const FLANNEL_RESYNC_MS = 60_000;

export interface FlannelControllerOptions {
  client: Client;
  /** Shared informers; without one the controller makes (and starts and stops) its own from the client. */
  factory?: InformerFactory;
  nodeName: string;
  /** The node's network namespace; null in host mode. */
  netns: Netns;
  /** The node's IP on the flannel interface: VXLAN's local address and the published public-ip. */
  nodeIP: string;
  /** The flannel interface (k3s's --flannel-iface): eth1. */
  uplink: string;
  /** Where subnet.env goes (InstancePaths.subnetEnvFile(node)). */
  subnetEnvFile: string;
  clusterCIDR: string;
  log?: (line: string) => void;
  resyncMs?: number;
  /** Unit tests: where the plans go instead of the node's namespace. */
  dataplane?: FlannelDataplane;
}

export class FlannelController {
  private readonly nodes: Informer<FlannelNode>;
  private readonly factory: InformerFactory;
  private readonly ownFactory: boolean;
  private readonly controller: Controller;
  private readonly dp: FlannelDataplane;
  private resync: NodeJS.Timeout | null = null;
  private started = false;
  /** Chosen on the first sync, then kept: flannel.1's MAC for the life of this controller. */
  private vtepMac: string | undefined;
  private waitingLogged = false;
  private lastNotes = '';
  private resolveReady!: (r: FlannelSyncResult) => void;
  /** Resolves after the first sync that completed (flannel.1 up, rules in place, subnet.env written). */
  readonly ready: Promise<FlannelSyncResult>;
  lastSync: FlannelSyncResult | undefined;

  constructor(private readonly opts: FlannelControllerOptions) {
    this.ownFactory = !opts.factory;
    this.factory = opts.factory ?? new InformerFactory((r, sel) => opts.client.listWatch(r, sel), opts.log);
    this.nodes = this.factory.informer<FlannelNode>(NODES);
    this.dp = opts.dataplane ?? new NetnsDataplane(opts.netns);
    this.ready = new Promise((r) => (this.resolveReady = r));
    this.controller = new Controller({ name: 'flannel', sync: () => this.sync(), log: opts.log });
    const queue = () => this.controller.queue.add(KEY);
    this.nodes.addHandlers({ add: queue, delete: queue, update: (old, cur) => {
        if (leaseChanged(old, cur)) queue();
      },
    });
  }

  /** Starts the informer (if it is the controller's own), then the sync worker once the Nodes are listed. */
  start(): void {
    if (this.started) return;
    this.started = true;
    if (this.ownFactory) this.factory.start();
    void this.nodes.waitForSync().then(() => {
      if (!this.started) return;
      this.controller.queue.add(KEY);
      void this.controller.run();
    });
    this.resync = setInterval(() => this.controller.queue.add(KEY), this.opts.resyncMs ?? FLANNEL_RESYNC_MS);
    this.resync.unref();
  }

  /** Stops syncing; what flannel made stays (a stopped agent leaves the node's network as it is). */
  async stop(): Promise<void> {
    this.started = false;
    if (this.resync) clearInterval(this.resync);
    await this.controller.stop();
    if (this.ownFactory) this.factory.stop();
  }

  private log(line: string): void {
    this.opts.log?.(`flannel: ${line}`);
  }

  private async sync(): Promise<void> {
    const { nodeName } = this.opts;
    const self = this.nodes.get(nodeName);
    const podCIDR = self && podCIDROf(self);
    if (!self || !podCIDR) {
      if (!this.waitingLogged) this.log(`waiting for node ${nodeName}'s spec.podCIDR (the node IPAM assigns it)`);
      this.waitingLogged = true;
      return;
    }
    const leases: FlannelLease[] = [];
    const skipped: string[] = [];
    for (const n of this.nodes.list()) {
      if (n.metadata.name === nodeName) continue;
      const r = nodeLease(n);
      if ('lease' in r) leases.push(r.lease);
      else if (!r.quiet) skipped.push(r.skipped);
    }
    const r = await syncFlannel(this.dp, {
      nodeIP: this.opts.nodeIP,
      podCIDR,
      clusterCIDR: this.opts.clusterCIDR,
      uplink: this.opts.uplink,
      leases,
      ...(this.vtepMac ? { vtepMac: this.vtepMac } : {}),
      ...(storedVtepMac(self) ? { storedVtepMac: storedVtepMac(self)! } : {}),
      subnetEnvFile: this.opts.subnetEnvFile,
    });
    this.vtepMac = r.vtepMac;
    for (const c of r.plan.changes) this.log(c);
    if (r.rulesInput) this.log(`masquerade and forward rules (FLANNEL-POSTRTG, FLANNEL-FWD) written for ${podCIDR} in ${this.opts.clusterCIDR}`);
    if (r.subnetEnvWritten) this.log(`wrote ${this.opts.subnetEnvFile}`);
    // Nodes left out and leases ignored: said once, and again only when the list changes.
    const notes = [...skipped, ...r.plan.warnings].join('\n');
    if (notes && notes !== this.lastNotes) for (const n of [...skipped, ...r.plan.warnings]) this.log(n);
    this.lastNotes = notes;
    await this.publishLease(self, r.vtepMac);
    this.lastSync = r;
    this.resolveReady(r);
  }

  /** AcquireLease: the annotations on this node's own Node, written only when one differs. */
  private async publishLease(self: FlannelNode, vtepMac: string): Promise<void> {
    const want = (n: FlannelNode) => ownAnnotations(n, { publicIP: this.opts.nodeIP, vtepMac });
    if (!annotationsToPatch(self, want(self))) return;
    await this.opts.client.mutate<FlannelNode>(NODES, undefined, this.opts.nodeName, (cur) => ({ ...cur, metadata: { ...cur.metadata, annotations: { ...cur.metadata.annotations, ...want(cur) } } }), { subresource: 'status' });
    this.log(`node ${this.opts.nodeName} annotated: backend-type vxlan, VTEP MAC ${vtepMac}, public-ip ${want(self)[PUBLIC_IP]}`);
  }
}
