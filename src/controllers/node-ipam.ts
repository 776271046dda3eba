// kube-controller-manager's node IPAM (the range allocator, --allocate-node-cidrs, which k3s turns
// on): a Node without spec.podCIDR gets the next free node CIDR of the cluster CIDR
// (10.42.0.0/24, 10.42.1.0/24, ...), written into spec.podCIDR and spec.podCIDRs; flannel and the
// kubelet on that node wait for it. Like the allocator's CIDR set, the search starts after the
// last CIDR handed out (so a node that leaves and another that joins do not swap subnets while
// the server runs) and wraps; at start every CIDR the Nodes already hold is taken. A node deleted
// gives its CIDR back. No free CIDR: a Warning CIDRNotAvailable Event on the Node, as the
// allocator records it ("Node <name> status is now: CIDRNotAvailable").
import { Controller, type InformerFactory } from '../client/controller.ts';
import { EventRecorder } from '../client/events.ts';
import type { Client, KubeObject } from '../client/types.ts';
import { formatCidr, nthSubnet, parseCidr, type Cidr } from '../util/cidr.ts';

const NODES = { group: '', resource: 'nodes' };

type NodeObj = KubeObject & { spec?: { podCIDR?: string; podCIDRs?: string[] } };

/** The allocator's CIDR set (pure): which node CIDRs are taken, and where the next search starts. */
export class CidrSet {
  private readonly used = new Set<number>();
  private next = 0;
  readonly count: number;

  constructor(
    readonly cluster: Cidr,
    readonly maskSize: number,
  ) {
    this.count = 2 ** (maskSize - cluster.prefix);
  }

  private index(cidr: string): number | undefined {
    const c = parseCidr(cidr);
    if (c.prefix !== this.maskSize) return undefined;
    const i = (c.base - this.cluster.base) / 2 ** (32 - this.maskSize);
    return Number.isInteger(i) && i >= 0 && i < this.count ? i : undefined;
  }

  /** Marks a CIDR a node already holds as taken; false when it is not one of this set's. */
  occupy(cidr: string): boolean {
    const i = this.index(cidr);
    if (i === undefined) return false;
    this.used.add(i);
    return true;
  }

  release(cidr: string): void {
    const i = this.index(cidr);
    if (i !== undefined) this.used.delete(i);
  }

  /** The next free CIDR after the last one handed out, or null when all are taken. */
  allocate(): string | null {
    for (let k = 0; k < this.count; k++) {
      const i = (this.next + k) % this.count;
      if (this.used.has(i)) continue;
      this.used.add(i);
      this.next = (i + 1) % this.count;
      return formatCidr(nthSubnet(this.cluster, this.maskSize, i));
    }
    return null;
  }
}

export function nodeIpamController(factory: InformerFactory, client: Client, opts: { clusterCIDR: string; nodeCIDRMaskSize: number; log?: (line: string) => void }): Controller {
  const nodes = factory.informer<NodeObj>(NODES);
  const set = new CidrSet(parseCidr(opts.clusterCIDR), opts.nodeCIDRMaskSize);
  /** node name -> the CIDR this allocator counts as that node's. */
  const held = new Map<string, string>();
  const recorder = new EventRecorder(client, { component: 'cidrAllocator' }, { log: opts.log });
  let seeded = false;
  const seed = () => {
    // As the allocator's start: every CIDR an existing Node holds is taken before any is handed out.
    for (const n of nodes.list()) {
      const cidr = n.spec?.podCIDR;
      if (cidr && set.occupy(cidr)) held.set(n.metadata.name, cidr);
    }
    seeded = true;
  };
  const controller = new Controller({
    name: 'node-ipam',
    log: opts.log,
    sync: async (name) => {
      if (!seeded) seed();
      const node = nodes.get(name);
      if (!node) {
        const cidr = held.get(name);
        if (cidr) set.release(cidr);
        held.delete(name);
        return;
      }
      const has = node.spec?.podCIDR;
      if (has) {
        if (held.get(name) !== has && set.occupy(has)) held.set(name, has);
        return;
      }
      const cidr = set.allocate();
      if (!cidr) {
        await recorder.event({ ...node, apiVersion: 'v1', kind: 'Node' }, 'Normal', 'CIDRNotAvailable', `Node ${name} status is now: CIDRNotAvailable`);
        throw new Error(`no node CIDR of /${opts.nodeCIDRMaskSize} left in ${opts.clusterCIDR} for node ${name}`);
      }
      held.set(name, cidr);
      try {
        await client.mutate<NodeObj>(NODES, undefined, name, (n) => ({ ...n, spec: { ...n.spec, podCIDR: cidr, podCIDRs: [cidr] } }));
        opts.log?.(`node-ipam: node ${name} gets podCIDR ${cidr}`);
      } catch (e) {
        set.release(cidr);
        held.delete(name);
        throw e;
      }
    },
  });
  controller.watch(nodes, (n) => [n.metadata.name]);
  return controller;
}
