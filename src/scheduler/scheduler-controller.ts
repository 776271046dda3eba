// kube-scheduler, watch-driven: pods without a node (spec.nodeName empty, schedulerName
// default-scheduler, no scheduling gates) are queued, each is placed by the pure `schedulePod()`
// and bound through the pods/binding subresource, as kube-scheduler binds. Events as
// kube-scheduler writes them (source default-scheduler): Normal Scheduled "Successfully assigned
// <ns>/<pod> to <node>" on a bind, Warning FailedScheduling with the FitError text when it fits
// nowhere; the pod then stays Pending with PodScheduled=False, reason Unschedulable and the same
// message.
//
// When an unschedulable pod is tried again: as kube-scheduler's queueing hints would have it,
// when a node is added or deleted or changes what the filters read (labels, taints,
// unschedulable, allocatable), when a bound pod goes (room is made), when the pod itself
// changes, and in any case after 5 minutes (podMaxInUnschedulablePodsDuration).
//
// A pod just bound is "assumed" on its node until the informer shows the binding, so the next
// pod in the queue already counts it (kube-scheduler's cache does the same): three replicas
// created at once spread over the nodes instead of all landing where the cache was emptiest.
import { updatePodCondition, type PodCondition } from '../api/pod-conditions.ts';
import { rfc3339 } from '../api/server/object.ts';
import { Controller, type InformerFactory } from '../client/controller.ts';
import { EventRecorder } from '../client/events.ts';
import { objectKey, type Client, type KubeObject } from '../client/types.ts';
import { schedulePod, type SchedNode, type SchedPod } from './scheduler.ts';

export const SCHEDULER_NAME = 'default-scheduler';
/** podMaxInUnschedulablePodsDuration: an unschedulable pod is tried again at least this often. */
export const UNSCHEDULABLE_RETRY_MS = 5 * 60_000;

type PodView = SchedPod & KubeObject & { spec: { schedulerName?: string; schedulingGates?: unknown[] }; status?: { phase?: string; conditions?: PodCondition[] } };
type NodeView = SchedNode & KubeObject;

const isPending = (p: PodView) =>
  !p.spec.nodeName && !p.metadata.deletionTimestamp && (p.spec.schedulerName ?? SCHEDULER_NAME) === SCHEDULER_NAME && !(p.spec.schedulingGates ?? []).length;
const isTerminal = (p: PodView) => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';

/** What of a node the filters and scores read: a change elsewhere (heartbeats, conditions) cannot help a pending pod. */
function schedulingView(n: NodeView): string {
  return JSON.stringify([n.metadata.labels ?? {}, n.spec?.taints ?? [], n.spec?.unschedulable ?? false, n.status?.allocatable ?? {}]);
}

/** PodScheduled=False, reason Unschedulable (podutil.UpdatePodCondition): undefined when nothing would change. */
const unschedulableConditions = (conditions: PodCondition[], message: string, now: string) =>
  updatePodCondition(conditions, { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message, lastProbeTime: null, lastTransitionTime: now });

class SchedulerController extends Controller {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    opts: ConstructorParameters<typeof Controller>[0],
    private readonly requeuePending: () => void,
  ) {
    super(opts);
  }

  override run(): Promise<void> {
    this.timer ??= setInterval(this.requeuePending, UNSCHEDULABLE_RETRY_MS);
    this.timer.unref();
    return super.run();
  }

  override async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await super.stop();
  }
}

export function schedulerController(factory: InformerFactory, client: Client, log?: (line: string) => void): Controller {
  const pods = factory.informer<PodView>({ group: '', resource: 'pods' });
  const nodes = factory.informer<NodeView>({ group: '', resource: 'nodes' });
  const recorder = new EventRecorder(client, { component: SCHEDULER_NAME }, { log });
  /** Pods bound by this scheduler that the informer does not show bound yet: key -> node. */
  const assumed = new Map<string, string>();
  // Informer items may come without kind (a list's items): the Event's involvedObject needs it.
  const ref = (p: PodView): KubeObject => ({ ...p, apiVersion: 'v1', kind: 'Pod' });

  /** Every pod as the scheduler's cache sees it: the assumed ones on their nodes. */
  const snapshot = (): SchedPod[] =>
    pods.list().map((p) => {
      const node = assumed.get(objectKey(p));
      return node && !p.spec.nodeName ? { ...p, spec: { ...p.spec, nodeName: node } } : p;
    });

  const sync = async (key: string) => {
    const pod = pods.get(key);
    if (!pod || !isPending(pod) || assumed.has(key)) return;
    const outcome = schedulePod(pod, nodes.list(), snapshot());
    const { namespace, name } = pod.metadata as { namespace: string; name: string };
    if ('node' in outcome) {
      assumed.set(key, outcome.node);
      try {
        await client.bind(namespace, name, outcome.node);
      } catch (e) {
        assumed.delete(key);
        // Bound meanwhile (another scheduler, or an earlier try that did land): nothing to do.
        if ((e as { status?: { code?: number } }).status?.code !== 409) throw e;
        return;
      }
      await recorder.event(ref(pod), 'Normal', 'Scheduled', `Successfully assigned ${namespace}/${name} to ${outcome.node}`);
      return;
    }
    const now = rfc3339(Date.now());
    if (unschedulableConditions(pod.status?.conditions ?? [], outcome.message, now)) {
      await client.mutate<PodView>(
        { group: '', resource: 'pods' },
        namespace,
        name,
        (p) => {
          const conditions = unschedulableConditions(p.status?.conditions ?? [], outcome.message, now);
          return conditions ? { ...p, status: { ...p.status, phase: p.status?.phase ?? 'Pending', conditions } } : p;
        },
        { subresource: 'status' },
      );
    }
    await recorder.event(ref(pod), 'Warning', 'FailedScheduling', outcome.message);
  };

  const pendingKeys = () => pods.list().filter(isPending).map((p) => objectKey(p));
  const requeuePending = () => {
    for (const k of pendingKeys()) controller.queue.add(k);
  };
  const controller = new SchedulerController({ name: 'scheduler', log, sync }, requeuePending);

  pods.addHandlers({
    add: (p) => {
      if (isPending(p)) controller.queue.add(objectKey(p));
    },
    update: (old, cur) => {
      const key = objectKey(cur);
      if (cur.spec.nodeName) assumed.delete(key);
      if (isPending(cur)) controller.queue.add(key);
      // A bound pod that finished leaves the scheduler's cache: its place is free.
      else if (cur.spec.nodeName && isTerminal(cur) && !isTerminal(old)) requeuePending();
    },
    delete: (p) => {
      assumed.delete(objectKey(p));
      if (p.spec.nodeName && !isTerminal(p)) requeuePending();
    },
  });
  nodes.addHandlers({
    add: requeuePending,
    update: (old, cur) => {
      if (schedulingView(old) !== schedulingView(cur)) requeuePending();
    },
    delete: requeuePending,
  });
  return controller;
}
