// The Pod printer: kubectl's READY, STATUS and RESTARTS, as kube-apiserver computes them
// (printers.go printPod, v1.32). STATUS is not the phase: it is the last word any container has to
// say, read from the last container to the first, so the first container's reason wins:
// a waiting reason (ContainerCreating, CrashLoopBackOff, ImagePullBackOff), else a terminated
// reason (Completed, Error, OOMKilled), else Signal:N / ExitCode:N. While an init container has not
// finished, STATUS is Init:<reason> or Init:i/n instead. A pod being deleted shows Terminating
// (Unknown when the node was lost), whatever its containers say.
import { humanDuration, timeMs } from '../../age.ts';
import type { KubeObject } from '../object.ts';
import { AGE_COLUMN, ageOf, arr, column, int, NAME_COLUMN, rec, str, wide, type Printer, type TableRowCondition } from './columns.ts';

type Obj = Record<string, unknown>;

const DESCRIPTIONS = {
  podIP: 'podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.',
  nodeName:
    'NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for this node becomes responsible for the lifecycle of this pod. This field should not be used to express a desire for the pod to be scheduled on a specific node. https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename',
  nominatedNodeName:
    'nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled.',
  readinessGates:
    'If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to "True" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates',
};

const COLUMNS = [
  NAME_COLUMN,
  column('Ready', 'string', 'The aggregate readiness state of this pod for accepting traffic.'),
  column('Status', 'string', 'The aggregate status of the containers in this pod.'),
  column('Restarts', 'string', 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.'),
  AGE_COLUMN,
  wide('IP', DESCRIPTIONS.podIP),
  wide('Node', DESCRIPTIONS.nodeName),
  wide('Nominated Node', DESCRIPTIONS.nominatedNodeName),
  wide('Readiness Gates', DESCRIPTIONS.readinessGates),
];

// Rows of finished pods carry a condition (kubectl could hide them; 1.32 prints them).
const SUCCEEDED: TableRowCondition[] = [{ type: 'Completed', status: 'True', reason: 'Succeeded', message: 'The pod has completed successfully.' }];
const FAILED: TableRowCondition[] = [{ type: 'Completed', status: 'True', reason: 'Failed', message: 'The pod failed.' }];

/** When a container last terminated (ms), or undefined. */
const lastFinished = (c: Obj): number | undefined => timeMs(str(rec(rec(c.lastState).terminated).finishedAt));

// Ready: any True condition of the type counts; Initialized: the first of its type decides.
const hasReadyCondition = (conditions: Obj[]) => conditions.some((c) => c.type === 'Ready' && c.status === 'True');
const isInitialized = (conditions: Obj[]) => conditions.find((c) => c.type === 'Initialized')?.status === 'True';

/** "Signal:9" / "ExitCode:1" for a terminated state without a reason. */
const exitText = (t: Obj) => (int(t.signal) !== 0 ? `Signal:${int(t.signal)}` : `ExitCode:${int(t.exitCode)}`);

function printPod(pod: KubeObject, now: number) {
  const spec = rec(pod.spec);
  const status = rec(pod.status);
  const conditions = arr(status.conditions);
  const phase = str(status.phase);
  let reason = str(status.reason) || phase;
  if (conditions.some((c) => c.type === 'PodScheduled' && c.reason === 'SchedulingGated')) reason = 'SchedulingGated';

  // Sidecars (init containers with restartPolicy Always) count as containers of the pod.
  const initSpecs = arr(spec.initContainers);
  const restartable = new Set(initSpecs.filter((c) => c.restartPolicy === 'Always').map((c) => str(c.name)));
  const total = arr(spec.containers).length + restartable.size;
  let ready = 0;
  let restarts = 0;
  let lastRestart: number | undefined;
  let sidecarRestarts = 0;
  let lastSidecarRestart: number | undefined;
  const later = (a: number | undefined, b: number | undefined) => (b !== undefined && (a === undefined || b > a) ? b : a);

  let initializing = false;
  const initStatuses = arr(status.initContainerStatuses);
  for (const [i, c] of initStatuses.entries()) {
    restarts += int(c.restartCount);
    lastRestart = later(lastRestart, lastFinished(c));
    const isSidecar = restartable.has(str(c.name));
    if (isSidecar) {
      sidecarRestarts += int(c.restartCount);
      lastSidecarRestart = later(lastSidecarRestart, lastFinished(c));
    }
    const state = rec(c.state);
    const terminated = state.terminated ? rec(state.terminated) : undefined;
    const waiting = state.waiting ? rec(state.waiting) : undefined;
    if (terminated && int(terminated.exitCode) === 0) continue;
    if (isSidecar && c.started === true) {
      if (c.ready === true) ready++;
      continue;
    }
    if (terminated) reason = str(terminated.reason) ? `Init:${str(terminated.reason)}` : `Init:${exitText(terminated)}`;
    else if (waiting && str(waiting.reason) && waiting.reason !== 'PodInitializing') reason = `Init:${str(waiting.reason)}`;
    else reason = `Init:${i}/${initSpecs.length}`;
    initializing = true;
    break;
  }

  if (!initializing || isInitialized(conditions)) {
    restarts = sidecarRestarts;
    lastRestart = lastSidecarRestart;
    let hasRunning = false;
    const statuses = arr(status.containerStatuses);
    for (let i = statuses.length - 1; i >= 0; i--) {
      const c = statuses[i]!;
      restarts += int(c.restartCount);
      lastRestart = later(lastRestart, lastFinished(c));
      const state = rec(c.state);
      const terminated = state.terminated ? rec(state.terminated) : undefined;
      if (state.waiting && str(rec(state.waiting).reason)) reason = str(rec(state.waiting).reason);
      else if (terminated && str(terminated.reason)) reason = str(terminated.reason);
      else if (terminated) reason = exitText(terminated);
      else if (c.ready === true && state.running) {
        hasRunning = true;
        ready++;
      }
    }
    // A finished container beside a running one does not make the pod Completed.
    if (reason === 'Completed' && hasRunning) reason = hasReadyCondition(conditions) ? 'Running' : 'NotReady';
  }

  if (pod.metadata.deletionTimestamp && status.reason === 'NodeLost') reason = 'Unknown';
  else if (pod.metadata.deletionTimestamp && phase !== 'Succeeded' && phase !== 'Failed') reason = 'Terminating';

  const restartsCell = restarts !== 0 && lastRestart !== undefined ? `${restarts} (${humanDuration(now - lastRestart)} ago)` : String(restarts);

  const podIP = str(rec(arr(status.podIPs)[0]).ip) || '<none>';
  const gates = arr(spec.readinessGates);
  let readinessGates = '<none>';
  if (gates.length) {
    // The first condition of each gate's type decides.
    const trueGates = gates.filter((g) => conditions.find((c) => c.type === g.conditionType)?.status === 'True').length;
    readinessGates = `${trueGates}/${gates.length}`;
  }
  const cells = [
    pod.metadata.name ?? '',
    `${ready}/${total}`,
    reason,
    restartsCell,
    ageOf(pod, now),
    podIP,
    str(spec.nodeName) || '<none>',
    str(status.nominatedNodeName) || '<none>',
    readinessGates,
  ];
  const rowConditions = phase === 'Succeeded' ? SUCCEEDED : phase === 'Failed' ? FAILED : undefined;
  return rowConditions ? { cells, conditions: rowConditions } : { cells };
}

export const podPrinter: Printer = { columns: COLUMNS, print: printPod };
