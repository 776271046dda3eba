// Pure parts of benchmark `api` (bench/api.ts): the pods it creates (shaped like the lab's app2
// pods once their kubelet reported them Running and Ready), the status updates it makes, the
// order it picks pods in, and the bookkeeping of which watcher saw which update when.
import { podName, SAFE_ALPHABET } from '../src/controllers/podnames.ts';
import type { KubeObject } from '../src/client/types.ts';

/** A pod as the API carries it: metadata, spec, status. */
export interface PodJson extends KubeObject {
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

export const BENCH_RS = { name: 'app2-5c7f8d9b6', hash: '5c7f8d9b6', uid: '0a6f6f5e-4b1c-4f3e-9d2a-7b8c9d0e1f2a' };

/** A distinct 5-character suffix of the Kubernetes name alphabet for each i (i < 27^5). */
export function podSuffix(i: number): string {
  if (!Number.isInteger(i) || i < 0 || i >= SAFE_ALPHABET.length ** 5) throw new Error(`no 5-character suffix for ${i}`);
  let s = '';
  for (let k = 0, n = i; k < 5; k++, n = Math.floor(n / SAFE_ALPHABET.length)) s = SAFE_ALPHABET[n % SAFE_ALPHABET.length] + s;
  return s;
}

const iso = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

/** The pod a ReplicaSet of app2 makes (lab/cluster.yaml), as the client posts it: no status. */
export function benchPod(i: number, namespace = 'default'): PodJson {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: podName('app2', BENCH_RS.hash, podSuffix(i)),
      generateName: `${BENCH_RS.name}-`,
      namespace,
      labels: { app: 'app2', 'pod-template-hash': BENCH_RS.hash },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: BENCH_RS.name, uid: BENCH_RS.uid, controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      terminationGracePeriodSeconds: 2,
      nodeName: 'labs',
      containers: [
        {
          name: 'app2',
          image: 'busybox',
          command: ['httpd', '-f', '-v', '-p', '80', '-h', '/usr/share/html'],
          ports: [{ name: 'http', containerPort: 80, protocol: 'TCP' }],
          volumeMounts: [{ name: 'html', mountPath: '/usr/share/html' }],
          readinessProbe: { httpGet: { path: '/', port: 'http', scheme: 'HTTP' }, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 },
          imagePullPolicy: 'Always',
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
        },
      ],
      volumes: [{ name: 'html', configMap: { name: 'app2-html', defaultMode: 420 } }],
      restartPolicy: 'Always',
      dnsPolicy: 'ClusterFirst',
      schedulerName: 'default-scheduler',
      serviceAccountName: 'default',
    },
  };
}

/** The pod IP of the i-th pod: 10.42.0.2 onward in the node's pod CIDR 10.42.0.0/16 (.1 is the bridge). */
export function benchPodIP(i: number): string {
  const n = i + 2;
  if (!Number.isInteger(i) || i < 0 || n > 0xfffe) throw new Error(`no pod IP for ${i} in 10.42.0.0/16`);
  return `10.42.${n >> 8}.${n & 255}`;
}

/** The status the kubelet reports for a running, ready pod whose container started `restarts` times ago. */
export function runningStatus(i: number, startedMs: number, restarts = 0): Record<string, unknown> {
  const t = iso(startedMs);
  const condition = (type: string) => ({ type, status: 'True', lastProbeTime: null, lastTransitionTime: t });
  return {
    phase: 'Running',
    conditions: ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map(condition),
    hostIP: '192.168.56.110',
    hostIPs: [{ ip: '192.168.56.110' }],
    podIP: benchPodIP(i),
    podIPs: [{ ip: benchPodIP(i) }],
    startTime: t,
    containerStatuses: [
      {
        name: 'app2',
        state: { running: { startedAt: t } },
        ...(restarts > 0 ? { lastState: { terminated: { exitCode: 137, reason: 'Error', startedAt: t, finishedAt: t, containerID: `runc://app2-${podSuffix(i)}-${restarts - 1}` } } } : { lastState: {} }),
        ready: true,
        restartCount: restarts,
        image: 'docker.io/library/busybox:latest',
        imageID: 'docker.io/library/busybox@sha256:0000000000000000000000000000000000000000000000000000000000000000',
        containerID: `runc://app2-${podSuffix(i)}-${restarts}`,
        started: true,
      },
    ],
    qosClass: 'BestEffort',
  };
}

/** The next status of a pod: its container restarted once more (what the kubelet writes after a crash). */
export function restartedStatus(pod: PodJson, i: number, nowMs: number): Record<string, unknown> {
  const cs = ((pod.status as { containerStatuses?: { restartCount?: number }[] } | undefined)?.containerStatuses ?? [])[0];
  return runningStatus(i, nowMs, (cs?.restartCount ?? 0) + 1);
}

/** mulberry32: a small seeded generator, so two runs update the same pods in the same order. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` indices in [0, n), drawn with replacement from a seeded generator. */
export function randomIndices(n: number, count: number, seed: number): number[] {
  const rand = seededRandom(seed);
  return Array.from({ length: count }, () => Math.floor(rand() * n));
}

/**
 * Which watcher received which update when. An event may arrive before the write that caused it
 * has returned to its writer (the server fans out before it answers), so arrivals are recorded
 * whether or not someone waits for them yet.
 */
export class FanOut {
  private readonly arrivals = new Map<string, number[]>();
  private readonly waiters = new Map<string, () => void>();

  constructor(readonly watchers: number) {}

  /** An event `key` (e.g. "<name>@<resourceVersion>") reached one watcher at time `at` (ms). */
  arrive(key: string, at: number): void {
    const list = this.arrivals.get(key) ?? [];
    list.push(at);
    this.arrivals.set(key, list);
    if (list.length >= this.watchers) this.waiters.get(key)?.();
  }

  /** The arrival times of `key` at every watcher, once all have it; rejects after `timeoutMs`. */
  async all(key: string, timeoutMs: number): Promise<number[]> {
    if ((this.arrivals.get(key)?.length ?? 0) < this.watchers) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.waiters.delete(key);
          reject(new Error(`${key}: ${this.arrivals.get(key)?.length ?? 0} of ${this.watchers} watchers received it within ${timeoutMs} ms`));
        }, timeoutMs);
        this.waiters.set(key, () => {
          clearTimeout(timer);
          this.waiters.delete(key);
          resolve();
        });
      });
    }
    const times = this.arrivals.get(key)!;
    this.arrivals.delete(key);
    return times;
  }
}

/**
 * The fan-out delay of one write: from the write's return to its writer until the last watcher
 * has the event, 0 when every watcher had it before the write returned.
 */
export function fanOutDelay(returnedAt: number, arrivals: number[]): number {
  if (arrivals.length === 0) throw new Error('fanOutDelay() of no arrivals');
  return Math.max(0, Math.max(...arrivals) - returnedAt);
}
