// kube-controller-manager's taint eviction controller (pkg/controller/tainteviction, the "taint
// manager" of old): a pod on a node with NoExecute taints is deleted at once if it does not
// tolerate them all, else when the shortest tolerationSeconds of the tolerations that tolerate
// them has passed since the controller first saw it there (a toleration without
// tolerationSeconds tolerates for ever). Before deleting, an Event "TaintManagerEviction:
// Marking for deletion Pod <ns>/<name>" and the pod's DisruptionTarget condition
// (DeletionByTaintManager); the ReplicaSet controller then makes a new pod, which the scheduler
// places on a node without the taint. The taints go (node Ready again) before then: the
// deletion is cancelled ("Cancelling deletion of Pod <ns>/<name>").
import { updatePodCondition, type PodCondition } from '../api/pod-conditions.ts';
import { rfc3339 } from '../api/server/object.ts';
import { matchingTolerations, type Taint, type Toleration } from '../api/taints.ts';
import type { InformerFactory } from '../client/controller.ts';
import { EventRecorder } from '../client/events.ts';
import { isNotFound, objectKey, type Client, type KubeObject } from '../client/types.ts';

export const TAINT_EVICTION_CONTROLLER = 'taint-eviction-controller';

interface NodeObj extends KubeObject {
  spec?: { taints?: Taint[] };
}

interface PodObj extends KubeObject {
  spec: { nodeName?: string; tolerations?: Toleration[] };
  status?: { conditions?: PodCondition[] };
}

/** 'now', the delay in ms (from when the pod was first seen on the tainted node), or 'never'. */
export type EvictionVerdict = 'now' | 'never' | number;

/** processPodOnNode and getMinTolerationTime for a pod under its node's NoExecute taints. */
export function evictionVerdict(noExecute: Taint[], tolerations: Toleration[] | undefined): EvictionVerdict {
  if (noExecute.length === 0) return 'never';
  const { all, used } = matchingTolerations(noExecute, tolerations);
  if (!all) return 'now';
  let min: number | undefined;
  for (const t of used) {
    if (t.tolerationSeconds === undefined || t.tolerationSeconds === null) continue;
    if (t.tolerationSeconds <= 0) return 'now';
    min = Math.min(min ?? Infinity, t.tolerationSeconds);
  }
  return min === undefined ? 'never' : min * 1000;
}

export interface TaintEvictionOptions {
  now?: () => number;
  /** How often pending evictions are looked at (kube's timed workers fire on time; the lab looks every second). */
  periodMs?: number;
  log?: (line: string) => void;
}

/** Runs the controller on the factory's node and pod informers; returns stop(). */
export function runTaintEviction(factory: InformerFactory, client: Client, opts: TaintEvictionOptions = {}): () => void {
  const nodes = factory.informer<NodeObj>({ group: '', resource: 'nodes' });
  const pods = factory.informer<PodObj>({ group: '', resource: 'pods' });
  const recorder = new EventRecorder(client, { component: TAINT_EVICTION_CONTROLLER }, { log: opts.log });
  const now = opts.now ?? Date.now;
  /** Scheduled evictions: pod key -> uid and when the controller first saw the pod under the taints. */
  const scheduled = new Map<string, { uid: string; since: number }>();
  /** Evictions done, by uid: never scheduled again (kube keeps the fired work in its queue). */
  const fired = new Set<string>();
  // The Event names the pod by kind, namespace and name alone, as the controller's reference does.
  const ref = (ns: string, name: string): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns } });

  const cancel = async (key: string) => {
    if (!scheduled.delete(key)) return;
    const [ns, name] = key.split('/') as [string, string];
    await recorder.event(ref(ns, name), 'Normal', 'TaintManagerEviction', `Cancelling deletion of Pod ${key}`);
  };

  const evict = async (pod: PodObj) => {
    const { namespace, name, uid } = pod.metadata as { namespace: string; name: string; uid: string };
    fired.add(uid);
    scheduled.delete(objectKey(pod));
    opts.log?.(`taint-eviction-controller: deleting pod ${namespace}/${name}`);
    await recorder.event(ref(namespace, name), 'Normal', 'TaintManagerEviction', `Marking for deletion Pod ${namespace}/${name}`);
    try {
      await client.mutate<PodObj>(
        { group: '', resource: 'pods' },
        namespace,
        name,
        (p) => {
          if (p.metadata.uid !== uid || p.status?.conditions?.some((c) => c.type === 'DisruptionTarget' && c.status === 'True')) return p;
          const condition = { type: 'DisruptionTarget', status: 'True', reason: 'DeletionByTaintManager', message: 'Taint manager: deleting due to NoExecute taint', lastProbeTime: null, lastTransitionTime: rfc3339(now()) };
          const conditions = updatePodCondition(p.status?.conditions ?? [], condition);
          return conditions ? { ...p, status: { ...p.status, conditions } } : p;
        },
        { subresource: 'status' },
      );
      await client.delete({ group: '', resource: 'pods' }, namespace, name);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  };

  let busy = false;
  let again = false;
  const pass = async (): Promise<void> => {
    if (!nodes.hasSynced() || !pods.hasSynced()) return;
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      const seen = new Set<string>();
      for (const pod of pods.list()) {
        const key = objectKey(pod);
        const uid = pod.metadata.uid ?? '';
        seen.add(key);
        if (!pod.spec.nodeName || fired.has(uid)) continue;
        const noExecute = (nodes.get(pod.spec.nodeName)?.spec?.taints ?? []).filter((t) => t.effect === 'NoExecute');
        const verdict = evictionVerdict(noExecute, pod.spec.tolerations);
        if (verdict === 'never') {
          await cancel(key);
          continue;
        }
        if (verdict === 'now') {
          await evict(pod);
          continue;
        }
        const s = scheduled.get(key);
        const since = s && s.uid === uid ? s.since : now();
        scheduled.set(key, { uid, since });
        if (now() - since >= verdict) await evict(pod);
      }
      // A pod deleted before its time: its eviction is cancelled (kube says so too).
      for (const key of [...scheduled.keys()]) if (!seen.has(key)) await cancel(key);
      for (const uid of [...fired]) if (!pods.list().some((p) => p.metadata.uid === uid)) fired.delete(uid);
    } catch (e) {
      opts.log?.(`taint-eviction-controller: ${(e as Error).message}`);
    } finally {
      busy = false;
    }
    if (again) {
      again = false;
      return pass();
    }
  };
  // A taint or a toleration that changes is looked at at once; the clock every period.
  const soon = () => void pass();
  nodes.addHandlers({ add: soon, update: soon, delete: soon });
  pods.addHandlers({ add: soon, update: soon, delete: soon });
  const timer = setInterval(soon, opts.periodMs ?? 1_000);
  timer.unref();
  return () => clearInterval(timer);
}
