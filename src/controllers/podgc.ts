// kube-controller-manager's pod garbage collector, the part a multi-node cluster needs: a pod
// bound to a node that no longer exists (`kubectl delete node`, a node that left the cluster) has
// no kubelet to stop it, so it is deleted with grace 0 once the node has been gone for the
// quarantine time (40 s: a node deleted and registered again at once keeps its pods), after a
// fresh check that it is really gone. Its ReplicaSet then makes a replacement elsewhere.
// (podgc's other duties, the terminated-pod threshold and unscheduled terminating pods, the lab
// leaves out.)
import type { InformerFactory } from '../client/controller.ts';
import type { Client, KubeObject } from '../client/types.ts';
import { isNotFound } from '../client/types.ts';

const PODS = { group: '', resource: 'pods' };
const NODES = { group: '', resource: 'nodes' };
/** podgc's quarantineTime. */
export const QUARANTINE_MS = 40_000;
/** How often podgc looks (gcCheckPeriod). */
export const GC_CHECK_PERIOD_MS = 20_000;

type PodObj = KubeObject & { spec?: { nodeName?: string } };

/** Pure: the pods bound to a node not in `nodes`, by node. */
export function orphanedPods(pods: PodObj[], nodes: Set<string>): Map<string, PodObj[]> {
  const out = new Map<string, PodObj[]>();
  for (const p of pods) {
    const n = p.spec?.nodeName;
    if (!n || nodes.has(n)) continue;
    out.set(n, [...(out.get(n) ?? []), p]);
  }
  return out;
}

/** Starts the collector; returns its stop. */
export function runPodGC(factory: InformerFactory, client: Client, opts: { log?: (line: string) => void; quarantineMs?: number; periodMs?: number } = {}): () => void {
  const pods = factory.informer<PodObj>(PODS);
  const nodes = factory.informer<KubeObject>(NODES);
  const quarantine = opts.quarantineMs ?? QUARANTINE_MS;
  /** node name -> when it was first seen missing. */
  const missingSince = new Map<string, number>();
  let running = false;
  const check = async () => {
    if (running || !pods.hasSynced() || !nodes.hasSynced()) return;
    running = true;
    try {
      const orphans = orphanedPods(pods.list(), new Set(nodes.list().map((n) => n.metadata.name)));
      for (const n of missingSince.keys()) if (!orphans.has(n)) missingSince.delete(n);
      for (const [node, list] of orphans) {
        const since = missingSince.get(node) ?? Date.now();
        missingSince.set(node, since);
        if (Date.now() - since < quarantine) continue;
        // The informer may lag: ask the API itself before deleting anything.
        const exists = await client.get(NODES, undefined, node).then(() => true, (e: unknown) => (isNotFound(e) ? false : Promise.reject(e)));
        if (exists) continue;
        for (const p of list) {
          opts.log?.(`podgc: deleting pod ${p.metadata.namespace}/${p.metadata.name}: its node ${node} does not exist`);
          await client.delete(PODS, p.metadata.namespace, p.metadata.name, { gracePeriodSeconds: 0, preconditions: { uid: p.metadata.uid } }).catch((e: unknown) => {
            if (!isNotFound(e) && (e as { status?: { code?: number } }).status?.code !== 409) throw e;
          });
        }
        missingSince.delete(node);
      }
    } catch (e) {
      opts.log?.(`podgc: ${(e as Error).message}`);
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void check(), Math.min(opts.periodMs ?? GC_CHECK_PERIOD_MS, quarantine));
  timer.unref();
  return () => clearInterval(timer);
}
