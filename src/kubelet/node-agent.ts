// The kubelet's node heartbeat (pkg/kubelet/nodestatus + nodelease): register the Node (or take
// up the one there), renew its Lease in kube-node-lease every 10 s, and post the node's status
// when it changes and at least every 5 minutes (nodeStatusReportFrequency) — with Leases, the
// status update is no longer the heartbeat. The node lifecycle controller reads both.
import type { Client, KubeObject } from '../client/types.ts';
import { isNotFound } from '../client/types.ts';
import { LEASE_RENEW_INTERVAL_MS, NODE_LEASE_NAMESPACE, nodeConditions, nodeLease, nodeObject, microTime, type NodeCondition, type NodeInput } from './node-status.ts';

const NODES = { group: '', resource: 'nodes' };
const LEASES = { group: 'coordination.k8s.io', resource: 'leases' };
/** The kubelet's nodeStatusReportFrequency. */
export const NODE_STATUS_REPORT_MS = 5 * 60_000;

type NodeObj = KubeObject & { status?: { conditions?: NodeCondition[] } };

export class NodeAgent {
  private timer: NodeJS.Timeout | null = null;
  private lastReport = 0;
  private uid = '';

  constructor(
    private readonly client: Client,
    private readonly input: NodeInput,
    private readonly opts: { now?: () => number; renewMs?: number; log?: (line: string) => void } = {},
  ) {}

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  /** Registers the node and takes the first heartbeat; then renews every 10 s until stop(). */
  async start(): Promise<void> {
    await this.register();
    await this.heartbeat();
    this.timer = setInterval(() => {
      this.heartbeat().catch((e: unknown) => this.opts.log?.(`kubelet: node heartbeat failed: ${(e as Error).message}`));
    }, this.opts.renewMs ?? LEASE_RENEW_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Creates the Node, or brings an existing one's labels, addresses and status up to date. */
  async register(): Promise<void> {
    const want = nodeObject(this.input, this.now()) as unknown as NodeObj;
    try {
      const created = await this.client.create(NODES, want);
      this.uid = created.metadata.uid!;
      // Status goes through its own subresource (create drops it, as kube's strategy does); by
      // then the node IPAM (or flannel) may have written the Node: read-modify-write, retried.
      await this.client.mutate<NodeObj>(NODES, undefined, this.input.name, (n) => ({ ...n, status: want.status }), { subresource: 'status' });
    } catch (e) {
      if ((e as { status?: { code?: number } }).status?.code !== 409) throw e;
      const cur = await this.client.mutate<NodeObj>(NODES, undefined, this.input.name, (n) => ({
        ...n,
        metadata: { ...n.metadata, labels: { ...n.metadata.labels, ...want.metadata.labels }, annotations: { ...n.metadata.annotations, ...want.metadata.annotations } },
        // Taints are the kubelet's only when it creates the Node (--register-with-taints).
        spec: { ...(n as { spec?: object }).spec, ...withoutTaints((want as { spec?: object }).spec) },
      }));
      this.uid = cur.metadata.uid!;
      await this.postStatus();
    }
    this.lastReport = this.now();
  }

  /** Renews the Lease (creating it the first time), and posts the status when it is due. */
  async heartbeat(): Promise<void> {
    const now = this.now();
    // As the kubelet's lease controller: get, then create or update (an update of a missing
    // Lease would create a bare one, without its owner).
    const lease = await this.client.get(LEASES, NODE_LEASE_NAMESPACE, this.input.name).catch((e: unknown) => {
      if (isNotFound(e)) return null;
      throw e;
    });
    if (!lease) await this.client.create(LEASES, nodeLease({ name: this.input.name, uid: this.uid }, now) as unknown as KubeObject);
    else await this.client.mutate<KubeObject & { spec: Record<string, unknown> }>(LEASES, NODE_LEASE_NAMESPACE, this.input.name, (l) => ({ ...l, spec: { ...l.spec, holderIdentity: this.input.name, renewTime: microTime(now) } }));
    if (now - this.lastReport >= NODE_STATUS_REPORT_MS) await this.postStatus();
  }

  /** The conditions the kubelet posts (Ready=True while it runs), heartbeat times refreshed. */
  private async postStatus(): Promise<void> {
    const now = this.now();
    const want = nodeObject(this.input, now) as unknown as NodeObj & { status: Record<string, unknown> };
    await this.client.mutate<NodeObj>(
      NODES,
      undefined,
      this.input.name,
      (n) => {
        const conditions = nodeConditions(now, n.status?.conditions ?? []);
        return { ...n, status: { ...want.status, conditions } };
      },
      { subresource: 'status' },
    );
    this.lastReport = now;
  }
}

function withoutTaints(spec: object | undefined): object {
  const { taints: _, ...rest } = (spec ?? {}) as { taints?: unknown };
  return rest;
}
