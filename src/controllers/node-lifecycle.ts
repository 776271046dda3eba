// kube-controller-manager's node lifecycle controller (its decisions in node-lifecycle-planner.ts):
//
// - every 5 s (node-monitor-period) it looks at each node's Lease and Ready heartbeat; a node
//   heard from neither for node-monitor-grace-period (40 s) gets its conditions set to Unknown.
//   On that change from Ready it records "NodeNotReady" on the node and marks every pod on it
//   Ready=False (MarkPodsNotReady, a "NodeNotReady: Node is not ready" Event on each): the
//   endpoints controllers take them out of their Services at once, long before any eviction,
//   while the pods themselves may well be running still behind a cut cable.
// - it keeps the NoSchedule taints in step with the conditions and spec.unschedulable
//   (TaintNodesByCondition), on every change of a node, so the scheduler keeps new pods away from
//   a node that is not ready, unreachable or cordoned;
// - it puts the NoExecute taint of a not-ready or unreachable node on (taint-based eviction); the
//   taint eviction controller (taint-eviction.ts) deletes the pods when their tolerations run out
//   (300 s by default, the DefaultTolerationSeconds admission's), and their ReplicaSets make new
//   ones elsewhere. A node heard from again loses the taints; the kubelet posts Ready=True itself.
import { rfc3339 } from '../api/server/object.ts';
import { Controller, type InformerFactory } from '../client/controller.ts';
import { EventRecorder } from '../client/events.ts';
import { isNotFound, type Client, type KubeObject } from '../client/types.ts';
import {
  applyTaintChange,
  healthConditions,
  mayTaint,
  noExecuteTaintChange,
  noScheduleTaintChange,
  NODE_MONITOR_GRACE_MS,
  NODE_MONITOR_PERIOD_MS,
  readyCondition,
  zoneKey,
  zoneStates,
  type LeaseObj,
  type NodeObj,
  type TaintChange,
} from './node-lifecycle-planner.ts';

export const NODE_CONTROLLER = 'node-controller';
const NODES = { group: '', resource: 'nodes' };
const PODS = { group: '', resource: 'pods' };

interface PodObj extends KubeObject {
  spec: { nodeName?: string };
  status?: { conditions?: { type: string; status: string; lastTransitionTime?: string }[] };
}

export interface NodeLifecycleOptions {
  now?: () => number;
  /** --node-monitor-period (5 s). */
  periodMs?: number;
  /** --node-monitor-grace-period (40 s). */
  graceMs?: number;
  log?: (line: string) => void;
}

/** The taint changes written to the node in one update (re-applied to the node as it is then). */
async function changeTaints(client: Client, name: string, changes: TaintChange[], now: number): Promise<void> {
  await client.mutate<NodeObj>(NODES, undefined, name, (n) => {
    const taints = changes.reduce((ts, c) => applyTaintChange(ts, c, now), n.spec?.taints ?? []);
    return { ...n, spec: { ...n.spec, taints: taints.length ? taints : undefined } };
  });
}

/** MarkPodsNotReady: each pod on the node gets Ready=False (the other conditions stay). */
async function markPodsNotReady(client: Client, recorder: EventRecorder, pods: PodObj[], now: number): Promise<void> {
  for (const pod of pods) {
    if (!pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status !== 'False')) continue;
    try {
      const updated = await client.mutate<PodObj>(
        PODS,
        pod.metadata.namespace,
        pod.metadata.name,
        (p) => ({ ...p, status: { ...p.status, conditions: (p.status?.conditions ?? []).map((c) => (c.type === 'Ready' && c.status !== 'False' ? { ...c, status: 'False', lastTransitionTime: rfc3339(now) } : c)) } }),
        { subresource: 'status' },
      );
      await recorder.event({ ...updated, apiVersion: 'v1', kind: 'Pod' }, 'Warning', 'NodeNotReady', 'Node is not ready');
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
}

/** Runs the monitor loop and the NoSchedule tainting on the factory's informers; returns stop(). */
export function runNodeLifecycle(factory: InformerFactory, client: Client, opts: NodeLifecycleOptions = {}): () => void {
  const nodes = factory.informer<NodeObj>(NODES);
  const leases = factory.informer<LeaseObj>({ group: 'coordination.k8s.io', resource: 'leases' }, { namespace: 'kube-node-lease' });
  const pods = factory.informer<PodObj>(PODS);
  const recorder = new EventRecorder(client, { component: NODE_CONTROLLER }, { log: opts.log });
  const now = opts.now ?? Date.now;

  // TaintNodesByCondition, on every add and update of a node (kube's nodeUpdateQueue workers).
  const noSchedule = new Controller({
    name: 'node-lifecycle',
    log: opts.log,
    sync: async (name) => {
      const node = nodes.get(name);
      const change = node && noScheduleTaintChange(node);
      if (change) await changeTaints(client, name, [change], now());
    },
  }).watch(nodes);

  let busy = false;
  const monitor = async () => {
    if (busy || !nodes.hasSynced() || !leases.hasSynced()) return;
    busy = true;
    try {
      const current: NodeObj[] = [];
      for (const node of nodes.list()) {
        const name = node.metadata.name!;
        const conditions = healthConditions(node, leases.get(`kube-node-lease/${name}`), now(), opts.graceMs ?? NODE_MONITOR_GRACE_MS);
        if (!conditions) {
          current.push(node);
          continue;
        }
        opts.log?.(`node-lifecycle: node ${name} not heard from: conditions set to Unknown`);
        const written = await client.mutate<NodeObj>(NODES, undefined, name, (n) => ({ ...n, status: { ...n.status, conditions } }), { subresource: 'status' });
        current.push(written);
        if (readyCondition(node)?.status === 'True') {
          await recorder.event({ ...node, apiVersion: 'v1', kind: 'Node' }, 'Normal', 'NodeNotReady', `Node ${name} status is now: NodeNotReady`);
          await markPodsNotReady(client, recorder, pods.list().filter((p) => p.spec.nodeName === name), now());
        }
      }
      const zones = zoneStates(current);
      const disrupted = [...zones.values()].every((z) => z.state === 'FullDisruption');
      for (const node of current) {
        // The NoSchedule taints of the conditions just written go in the same update, before the NoExecute one.
        const changes = [noScheduleTaintChange(node), noExecuteTaintChange(node, mayTaint(zones, zoneKey(node)), disrupted)].filter((c): c is TaintChange => c !== undefined);
        if (changes.length) await changeTaints(client, node.metadata.name!, changes, now());
      }
    } catch (e) {
      opts.log?.(`node-lifecycle: ${(e as Error).message}`);
    } finally {
      busy = false;
    }
  };
  void noSchedule.run();
  const timer = setInterval(() => void monitor(), opts.periodMs ?? NODE_MONITOR_PERIOD_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    void noSchedule.stop();
  };
}
