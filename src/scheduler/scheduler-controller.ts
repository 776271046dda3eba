// kube-scheduler, watch-driven: pods without a node (spec.nodeName empty, schedulerName
// default-scheduler) are queued, each is placed by the pure `schedule()` on the nodes that are
// Ready and schedulable and have room (status.allocatable.pods), and bound through the pods/binding
// subresource, as kube-scheduler binds. A pod that fits nowhere stays Pending with PodScheduled
// False (reason Unschedulable) and is tried again when a node or a pod changes. Events as
// kube-scheduler writes them (source default-scheduler): Normal Scheduled "Successfully assigned
// <ns>/<pod> to <node>" on a bind, Warning FailedScheduling with the reason when it fits nowhere.
import type { Pod } from '../api/types.ts';
import { Controller, type InformerFactory } from '../client/controller.ts';
import { EventRecorder } from '../client/events.ts';
import { objectKey, type Client, type KubeObject } from '../client/types.ts';
import { schedule, type SchedulableNode } from './scheduler.ts';

export const SCHEDULER_NAME = 'default-scheduler';

export interface NodeView extends KubeObject {
  spec?: { unschedulable?: boolean };
  status?: { allocatable?: Record<string, string>; conditions?: { type: string; status: string }[] };
}

type PodView = Pod & KubeObject;

/** Nodes a pod can go to: Ready, not cordoned; capacity from allocatable pods. */
export function schedulableNodes(nodes: NodeView[]): SchedulableNode[] {
  return nodes
    .filter((n) => !n.spec?.unschedulable && n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
    .map((n) => ({ name: n.metadata.name, capacity: Number(n.status?.allocatable?.pods ?? 0) }));
}

/** kube-scheduler's FailedScheduling summary, e.g. "0/1 nodes are available: 1 Too many pods." */
export function unschedulableMessage(nodes: NodeView[], pods: PodView[]): string {
  const reasons = new Map<string, number>();
  const add = (r: string) => reasons.set(r, (reasons.get(r) ?? 0) + 1);
  for (const n of nodes) {
    if (n.spec?.unschedulable) add("node(s) were unschedulable");
    else if (!n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) add("node(s) had untolerated taint {node.kubernetes.io/not-ready: }");
    else if (pods.filter((p) => p.spec.nodeName === n.metadata.name).length >= Number(n.status?.allocatable?.pods ?? 0)) add('Too many pods');
  }
  const parts = [...reasons].sort(([a], [b]) => a.localeCompare(b)).map(([r, c]) => `${c} ${r}`);
  return `0/${nodes.length} nodes are available${parts.length ? `: ${parts.join(', ')}` : ''}.`;
}

const isPending = (p: PodView) => !p.spec.nodeName && !p.metadata.deletionTimestamp && ((p.spec as { schedulerName?: string }).schedulerName ?? SCHEDULER_NAME) === SCHEDULER_NAME;

export function schedulerController(factory: InformerFactory, client: Client, log?: (line: string) => void): Controller {
  const pods = factory.informer<PodView>({ group: '', resource: 'pods' });
  const nodes = factory.informer<NodeView>({ group: '', resource: 'nodes' });
  const recorder = new EventRecorder(client, { component: SCHEDULER_NAME }, { log });
  // Informer items may come without kind (a list's items): the Event's involvedObject needs it.
  const ref = (p: PodView): KubeObject => ({ ...p, apiVersion: 'v1', kind: 'Pod' });
  const controller = new Controller({
    name: 'scheduler',
    log,
    sync: async (key) => {
      const pod = pods.get(key);
      if (!pod || !isPending(pod)) return;
      const all = pods.list();
      const placement = schedule([pod], schedulableNodes(nodes.list()), all.filter((p) => p.spec.nodeName && !p.metadata.deletionTimestamp));
      const node = placement.get(pod.metadata.name);
      if (node) {
        try {
          await client.bind(pod.metadata.namespace, pod.metadata.name, node);
        } catch (e) {
          // Bound meanwhile (another scheduler, or an earlier try that did land): nothing to do.
          if ((e as { status?: { code?: number } }).status?.code !== 409) throw e;
          return;
        }
        await recorder.event(ref(pod), 'Normal', 'Scheduled', `Successfully assigned ${pod.metadata.namespace}/${pod.metadata.name} to ${node}`);
        return;
      }
      const message = unschedulableMessage(nodes.list(), all);
      const cond = pod.status?.conditions?.find((c) => c.type === 'PodScheduled') as { status: string; message?: string } | undefined;
      if (cond?.status === 'False' && cond.message === message) return;
      await client.mutate<PodView>(
        { group: '', resource: 'pods' },
        pod.metadata.namespace,
        pod.metadata.name,
        (p) => ({ ...p, status: { ...p.status, phase: p.status?.phase ?? 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message } as never, ...(p.status?.conditions ?? []).filter((c) => c.type !== 'PodScheduled')] } }),
        { subresource: 'status' },
      );
      await recorder.event(ref(pod), 'Warning', 'FailedScheduling', message);
    },
  });
  // A node that comes, goes or changes, or a pod that leaves a node, may make room: every pending pod again.
  const pending = () => pods.list().filter(isPending).map((p) => objectKey(p));
  controller.watch(pods, (p) => (isPending(p) ? [objectKey(p)] : pending())).watch(nodes, pending);
  return controller;
}
