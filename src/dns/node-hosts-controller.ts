// k3s's node controller (pkg/node/controller.go in k3s): every Node's InternalIP and name are kept
// as a line `<IP> <name>` in the NodeHosts key of the kube-system/coredns ConfigMap, which CoreDNS
// answers through `hosts /etc/coredns/NodeHosts` (so `ping labsw` works from a pod). A Node that
// changes address gets its line rewritten; a deleted Node loses it; other lines stay. k3s writes
// the lines in Go's random map order; here they are sorted by name, so that a rewrite with the
// same content is no change at all.
import type { InformerFactory } from '../client/controller.ts';
import { isNotFound, type Client, type KubeObject, type ResourceRef } from '../client/types.ts';

const CONFIGMAPS: ResourceRef = { group: '', resource: 'configmaps' };
export const COREDNS_CONFIGMAP = { namespace: 'kube-system', name: 'coredns' };

type NodeObject = KubeObject & { status?: { addresses?: { type: string; address: string }[] } };
type ConfigMapObject = KubeObject & { data?: Record<string, string> };

/**
 * NodeHosts after one Node's change, or null when it already says that (k3s's updateHosts).
 * `address` null with `removed` false: the Node has no InternalIP, nothing to write.
 */
export function updateNodeHosts(current: string, nodeName: string, address: string | null, removed: boolean, warn: (line: string) => void = () => {}): string | null {
  if (!removed && !address) return null;
  const hosts = new Map<string, string>();
  for (const line of current.split('\n')) {
    if (line === '') continue;
    const fields = line.trim().split(/\s+/);
    if (fields.length !== 2) {
      warn(`Unknown format for hosts line [${line}]`);
      continue;
    }
    const [ip, host] = fields as [string, string];
    if (host === nodeName) {
      if (removed) continue;
      if (ip === address) return null;
    }
    hosts.set(host, ip);
  }
  if (!removed) hosts.set(nodeName, address!);
  else if (!current.split('\n').some((l) => l.trim().split(/\s+/)[1] === nodeName)) return null;
  return [...hosts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([host, ip]) => `${ip} ${host}\n`).join('');
}

export function internalIP(node: NodeObject): string | null {
  return node.status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? null;
}

/** Keeps NodeHosts following the Nodes, one Node change at a time, in order. */
export class NodeHostsController {
  private chain: Promise<void> = Promise.resolve();
  private readonly configMaps;

  constructor(
    factory: InformerFactory,
    private readonly client: Client,
    private readonly log: (line: string) => void = () => {},
  ) {
    const nodes = factory.informer<NodeObject>({ group: '', resource: 'nodes' });
    this.configMaps = factory.informer<ConfigMapObject>(CONFIGMAPS, { namespace: COREDNS_CONFIGMAP.namespace });
    const changed = (n: NodeObject) => this.enqueue(n.metadata.name, internalIP(n), false);
    nodes.addHandlers({ add: changed, update: (_old, n) => changed(n), delete: (n) => this.enqueue(n.metadata.name, internalIP(n), true) });
    // The ConfigMap may come after the Nodes (the manifests applier): take every Node up then.
    this.configMaps.addHandlers({
      add: (cm) => {
        if (cm.metadata.name === COREDNS_CONFIGMAP.name) for (const n of nodes.list()) changed(n);
      },
    });
  }

  private enqueue(name: string, address: string | null, removed: boolean): void {
    this.chain = this.chain.then(() => this.update(name, address, removed)).catch((e: unknown) => this.log(`node hosts: ${(e as Error).message}`));
  }

  private async update(name: string, address: string | null, removed: boolean): Promise<void> {
    if (!removed && !address) {
      this.log(`node hosts: No InternalIP found for node ${name}`);
      return;
    }
    // Node status changes every heartbeat: most changes say nothing new; no write then.
    const cached = this.configMaps.get(`${COREDNS_CONFIGMAP.namespace}/${COREDNS_CONFIGMAP.name}`);
    if (cached && updateNodeHosts(cached.data?.NodeHosts ?? '', name, address, removed) === null) return;
    let changed = false;
    try {
      await this.client.mutate<ConfigMapObject>(CONFIGMAPS, COREDNS_CONFIGMAP.namespace, COREDNS_CONFIGMAP.name, (cm) => {
        const next = updateNodeHosts(cm.data?.NodeHosts ?? '', name, address, removed, (w) => this.log(`node hosts: ${w}`));
        changed = next !== null;
        return next === null ? cm : { ...cm, data: { ...cm.data, NodeHosts: next } };
      });
    } catch (e) {
      if (isNotFound(e)) return this.log('node hosts: Unable to fetch coredns config map');
      throw e;
    }
    if (changed) this.log(`${removed ? 'Removed' : 'Updated'} coredns node hosts entry [${address ?? ''} ${name}]`);
  }

  /** Resolves once the changes seen so far are written. */
  idle(): Promise<void> {
    return this.chain;
  }
}
