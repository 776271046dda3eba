// `lab up --watch`: the long-running control plane. One queue serialises every change to the
// cluster (a state-file edit, a container exit, a restart, a probe result), so the handlers never
// race; the watchers and the kubelet's liveness poll only decide what to enqueue.
import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { ValidationError } from '../api/errors.ts';
import { podNetns } from '../kubelet/kubelet.ts';
import { isContainerAlive } from '../kubelet/runtime.ts';
import { isOwnChild } from '../kubelet/runc.ts';
import { netnsExists } from '../sys/ip.ts';
import { pidExists } from '../sys/proc.ts';
import { ProberAgent, ProbeWorker, type ProbeHandlers, type ProbeKind } from '../kubelet/prober.ts';
import { isTerminating, type Probe } from '../api/types.ts';
import { SerialQueue } from '../util/serial-queue.ts';
import { Settler } from '../util/settle.ts';
import { setLongTimeout, type LongTimer } from '../util/timers.ts';
import { Cluster, type ClusterOptions, type ReconcileResult } from './lab.ts';

/** How often the kubelet checks that container processes it did not start are still alive. */
export const LIVENESS_POLL_MS = 50;
/** Every this many polls the check is thorough (state, network namespace: PID reuse). */
const THOROUGH_EVERY = 20;
/** How long a container without a readiness probe must run before it counts as ready (confirmRunning). */
const RUNNING_CONFIRM_MS = 100;
/** State-file edits are applied once the files' size, mtime and inode have held still this long. */
export const EDIT_DEBOUNCE_MS = 100;
/**
 * How often kube-proxy's canary check runs (one `iptables-save` in the node). kube-proxy polls its
 * KUBE-PROXY-CANARY chains at its sync period: pkg/proxy/iptables/proxier.go starts
 * `ipt.Monitor(kubeProxyCanaryChain, {mangle, nat, filter}, proxier.forceSyncProxyRules,
 * syncPeriod, …)`, and syncPeriod (KubeProxyConfiguration iptables.syncPeriod,
 * `--iptables-sync-period`) defaults to 30 s. The lab checks every 10 s so a learner who flushes
 * nat sees the repair while still looking. Not faster: the check is a whole `iptables-save` on
 * the syncer's queue, which at thousands of Services takes long enough to delay a sync.
 */
export const PROXY_CANARY_CHECK_MS = 10_000;
/**
 * The periodic full resync. kube-proxy's sync runner (async.BoundedFrequencyRunner in
 * proxier.go) syncs at least once per maxInterval, which is one hour (`time.Hour`, later
 * `proxyutil.FullSyncPeriod`); the lab keeps that value, the canary catches flushes sooner.
 */
export const PROXY_FULL_SYNC_MS = 60 * 60_000;

export interface ControllerOptions extends ClusterOptions {
  onReconciled?: (r: ReconcileResult) => void;
  onError?: (e: Error) => void;
}

export class Controller {
  readonly cluster: Cluster;
  private readonly queue = new SerialQueue();
  private watchers: FSWatcher[] = [];
  /** Restarts waiting for their backoff, and running confirmations (confirmRunning). */
  private timers = new Set<LongTimer>();
  private confirming = new Set<string>();
  private poll: NodeJS.Timeout | null = null;
  private filePoll: NodeJS.Timeout | null = null;
  private canaryPoll: NodeJS.Timeout | null = null;
  private fullSyncTimer: NodeJS.Timeout | null = null;
  /** A canary check is queued or running: the next tick does not queue another. */
  private canaryQueued = false;
  private settler: Settler | null = null;
  private stopped = false;
  /** "<pod>/<container>" whose exit is being handled or whose restart is scheduled. */
  private pending = new Set<string>();
  private lastStamp = '';
  private readonly log: (line: string) => void;
  private agent: ProberAgent | null = null;
  private polls = 0;
  /** Probe workers by "<pod>/<container>/<pid>/<kind>". */
  private workers = new Map<string, ProbeWorker>();

  constructor(readonly opts: ControllerOptions) {
    this.cluster = new Cluster(opts);
    this.log = opts.log ?? (() => {});
    // Exits of containers this process started arrive at once, with their exit code.
    this.cluster.onContainerExit = (pod, container, pid, code) => this.exited(pod.metadata.name, container, pid, code);
    this.cluster.onSandboxExit = (pod) => this.sandboxChanged(pod);
    // A Terminating pod's containers are gone: its network and files go, the pod is deleted.
    this.cluster.onPodsTerminated = () => this.enqueue('pod deletion', () => this.cluster.finishDeletions());
  }

  /** Queues work nobody waits for (a probe result, an exit, a restart): a failure is logged and reported, never lost. */
  private enqueue(what: string, task: () => Promise<void>): void {
    this.queue.run(task).catch((e: unknown) => {
      const err = e instanceof Error ? e : new Error(String(e));
      (this.opts.log ?? console.error)(`${what} failed: ${err.stack ?? err.message}`);
      this.opts.onError?.(err);
    });
  }

  /** First reconcile (errors propagate: nothing to keep serving yet), then watch. */
  async start(): Promise<ReconcileResult> {
    // Stamped before the files are read: an edit saved during the first reconcile is not missed.
    const stamp = await this.stamp();
    const r = await this.queue.run(() => this.cluster.reconcile());
    this.lastStamp = stamp;
    this.agent = new ProberAgent(r.node.netns);
    this.syncProbes();
    this.enqueue('rollout', () => this.continueRollout()); // a restarted controller finishes a rollout
    this.opts.onReconciled?.(r);
    this.watchFiles();
    this.poll = setInterval(() => this.checkLiveness(), LIVENESS_POLL_MS);
    this.canaryPoll = setInterval(() => this.checkProxyCanary(), PROXY_CANARY_CHECK_MS);
    this.fullSyncTimer = setInterval(() => this.enqueue('periodic full proxy sync', () => this.fullProxySync('periodic')), PROXY_FULL_SYNC_MS);
    return r;
  }

  /** Workers for every running container's probes; stale ones (old pid, gone pod) stop. */
  private syncProbes(): void {
    const state = this.cluster.state;
    if (!state || !this.agent || this.stopped) return;
    const wanted = new Set<string>();
    for (const pod of Object.values(state.pods)) {
      if (isTerminating(pod) || !pod.status.podIP) continue;
      for (const c of pod.spec.containers) {
        const st = pod.status.containerStatuses.find((x) => x.name === c.name);
        // Could not start (ErrImagePull, CreateContainerConfigError, a StartError): tried again after its backoff.
        if (!st?.pid && st?.state.waiting && st.backoff?.until) this.retryStart(pod.metadata.name, c.name, st.backoff.until);
        if (!st?.pid || !st.state.running) continue;
        if (st.started && !st.ready && !c.readinessProbe) this.confirmRunning(pod.metadata.name, c.name, st.pid);
        const kinds: [ProbeKind, Probe | undefined][] = st.started ? [['readiness', c.readinessProbe], ['liveness', c.livenessProbe]] : [['startup', c.startupProbe]];
        for (const [kind, probe] of kinds) {
          if (!probe) continue;
          const k = `${pod.metadata.name}/${c.name}/${st.pid}/${kind}`;
          wanted.add(k);
          if (this.workers.has(k)) continue;
          const w = new ProbeWorker(this.agent, kind, probe, { pod, container: c, pid: st.pid, podIP: pod.status.podIP, exec: this.cluster.execPrefix(st.containerID) }, this.probeHandlers);
          this.workers.set(k, w);
          void w.run();
        }
      }
    }
    for (const [k, w] of this.workers) {
      if (!wanted.has(k)) {
        w.stop();
        this.workers.delete(k);
      }
    }
  }

  private readonly probeHandlers: ProbeHandlers = {
    ready: (pod, container, pid, ready) => {
      this.enqueue(`readiness of ${pod}/${container}`, async () => {
        if (this.currentPid(pod, container) !== pid) return;
        await this.cluster.setReady(pod, container, ready);
        this.log(`pod ${pod}: container ${container} ${ready ? 'ready' : 'not ready'}`);
        await this.continueRollout();
      });
    },
    started: (pod, container, pid) => {
      this.enqueue(`startup of ${pod}/${container}`, async () => {
        if (this.currentPid(pod, container) !== pid) return;
        await this.cluster.setStarted(pod, container);
        this.syncProbes();
      });
    },
    killContainer: (pod, container, pid, reason) => {
      this.enqueue(`kill of ${pod}/${container}`, async () => {
        if (this.currentPid(pod, container) !== pid) return;
        this.cluster.event(pod, 'Normal', 'Killing', `Container ${container} ${reason}, will be restarted`);
        this.cluster.killContainer(pod, container, 'SIGKILL');
      });
    },
    unhealthy: (pod, _container, kind, message) => {
      this.cluster.event(pod, 'Warning', 'Unhealthy', `${kind[0]!.toUpperCase()}${kind.slice(1)} probe failed: ${message}`);
    },
  };

  /** Rollouts advance as new pods become ready: take the next step while there is one to take. */
  private async continueRollout(): Promise<void> {
    for (let i = 0; i < 50 && !this.stopped && this.cluster.rolloutInProgress(); i++) {
      const r = await this.cluster.step();
      this.syncProbes();
      if (!r || (r.created.length === 0 && r.deleted.length === 0)) return; // waiting for readiness
    }
  }

  /**
   * A container without a readiness probe is ready once it is seen running, as the kubelet's PLEG
   * reports it at its next relist: RUNNING_CONFIRM_MS after the start, if it has not exited by
   * then. A container that exits at once therefore never enters the Service's endpoints.
   */
  private confirmRunning(pod: string, container: string, pid: number): void {
    const k = `${pod}/${container}/${pid}`;
    if (this.confirming.has(k)) return;
    this.confirming.add(k);
    const t = setLongTimeout(() => {
      this.timers.delete(t);
      this.confirming.delete(k);
      const st = this.cluster.state?.pods[pod]?.status.containerStatuses.find((c) => c.name === container);
      if (st?.pid === pid && st.state.running && !this.pending.has(k)) this.probeHandlers.ready(pod, container, pid, true);
    }, RUNNING_CONFIRM_MS);
    this.timers.add(t);
  }

  /** A container that could not start is tried again once its backoff is over, as the kubelet's pod worker does. */
  private retryStart(pod: string, container: string, at: number): void {
    const k = `${pod}/${container}/start`;
    if (this.pending.has(k) || this.stopped) return;
    this.pending.add(k);
    this.startAt(pod, container, at, k, 'start');
  }

  /** Starts the container again at `at` (ms since epoch), then lets go of the pending key `k`. */
  private startAt(pod: string, container: string, at: number, k: string, what: 'start' | 'restart'): void {
    const t = setLongTimeout(() => {
      this.timers.delete(t);
      this.enqueue(`${what} of ${pod}/${container}`, async () => {
        try {
          await this.cluster.restartContainer(pod, container);
        } finally {
          this.pending.delete(k);
          this.syncProbes();
        }
      });
    }, at - Date.now());
    this.timers.add(t);
  }

  private currentPid(pod: string, container: string): number | undefined {
    return this.cluster.state?.pods[pod]?.status.containerStatuses.find((c) => c.name === container)?.pid;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const w of this.watchers) w.close();
    for (const t of this.timers) t.clear();
    if (this.poll) clearInterval(this.poll);
    if (this.filePoll) clearInterval(this.filePoll);
    if (this.canaryPoll) clearInterval(this.canaryPoll);
    if (this.fullSyncTimer) clearInterval(this.fullSyncTimer);
    this.settler?.stop();
    for (const w of this.workers.values()) w.stop();
    this.workers.clear();
    await this.queue.idle();
    this.agent?.stop();
  }

  /** kube-proxy's canary monitor: when its chains or jumps are gone, a forced full sync (logged). */
  private checkProxyCanary(): void {
    if (this.stopped || this.canaryQueued) return;
    this.canaryQueued = true;
    this.enqueue('proxy canary check', async () => {
      try {
        if (this.stopped) return;
        const lost = await this.cluster.repairProxyRules();
        if (lost.length > 0) this.log(`kube-proxy: iptables rules were flushed (${lost.join('; ')}); forced a full sync`);
      } finally {
        this.canaryQueued = false;
      }
    });
  }

  private async fullProxySync(why: string): Promise<void> {
    if (this.stopped) return;
    const r = await this.cluster.fullProxySync();
    if (r) this.log(`kube-proxy: ${why} full sync (${r.services} services, ${r.restoreMs.toFixed(0)} ms)`);
  }

  /** Apply the state files again (an edit). A bad edit is reported and the last good state keeps serving. */
  reconcile(): Promise<void> {
    return this.queue.run(async () => {
      if (this.stopped) return;
      try {
        const r = await this.cluster.reconcile();
        this.syncProbes();
        this.opts.onReconciled?.(r);
        await this.continueRollout();
      } catch (e) {
        const err = e as Error;
        this.log(`${err instanceof ValidationError ? 'invalid edit' : 'reconcile failed'}; the last good state keeps serving:\n${err.message}`);
        this.opts.onError?.(err);
      }
    });
  }

  private async stamp(): Promise<string> {
    const parts = await Promise.all([this.opts.statePath, this.opts.configPath].map((f) => stat(f).then((s) => `${s.mtimeMs}:${s.size}:${s.ino}`, () => 'missing')));
    return parts.join('|');
  }

  // Editors replace files (rename) rather than write them in place, which ends a watch on the
  // file itself: watch the directories, and compare mtime/size/inode to see whether ours changed.
  // The Settler reconciles once the stamp has held still for EDIT_DEBOUNCE_MS (never a file in
  // the middle of being written), and a burst of writes ends in one reconcile of the final content.
  private watchFiles(): void {
    const settler = new Settler({
      quietMs: EDIT_DEBOUNCE_MS,
      stamp: () => this.stamp(),
      applied: this.lastStamp,
      apply: async () => {
        this.log('state file changed: reconciling');
        await this.reconcile();
      },
      onError: (e) => this.log(`watching the state file: ${(e as Error).message}`),
    });
    this.settler = settler;
    const onChange = () => settler.notify();
    for (const dir of new Set([path.dirname(path.resolve(this.opts.statePath)), path.dirname(path.resolve(this.opts.configPath))])) {
      this.watchers.push(watch(dir, { persistent: true }, onChange));
    }
    // Some filesystems (network mounts, the Vagrant synced folder) deliver no inotify events.
    this.filePoll = setInterval(onChange, 1000);
  }

  /**
   * Containers whose process is gone though nobody told us (adopted after a controller restart).
   * Containers this process started are skipped: their exit arrives as an event. The cheap check
   * (does the PID exist) runs every poll; every THOROUGH_EVERY-th poll also compares the
   * process's state and network namespace, which catches a zombie or a reused PID. At 1,000
   * adopted pods the cheap check costs 20,000 syscalls a second; the thorough one three times that.
   */
  private checkLiveness(): void {
    const state = this.cluster.state;
    if (!state || this.stopped) return;
    const thorough = ++this.polls % THOROUGH_EVERY === 0;
    for (const pod of Object.values(state.pods)) {
      if (isTerminating(pod) || !pod.status.startTime) continue;
      // The pod's network namespace was deleted under it (`ip netns del`): a new sandbox.
      if (thorough && !netnsExists(podNetns(pod))) {
        this.sandboxChanged(pod.metadata.name);
        continue;
      }
      for (const st of pod.status.containerStatuses) {
        if (!st.pid || !st.state.running || isOwnChild(st.pid)) continue;
        const alive = thorough ? isContainerAlive(st.pid, podNetns(pod)) : pidExists(st.pid);
        if (!alive) this.exited(pod.metadata.name, st.name, st.pid, null);
      }
    }
  }

  /** The kubelet's sandbox check: kill what is left of the pod and start it again in a new sandbox. */
  private sandboxChanged(pod: string): void {
    const k = `${pod}/sandbox`;
    if (this.pending.has(k) || this.stopped) return;
    this.pending.add(k);
    this.enqueue(`sandbox of ${pod}`, async () => {
      try {
        if (await this.cluster.recreateSandbox(pod)) this.log(`pod ${pod}: sandbox changed, killed and re-created`);
        this.syncProbes();
      } finally {
        this.pending.delete(k);
      }
    });
  }

  /**
   * A container's exit: its status as runc's waiter reported it (128+N for signal N, which is also
   * how Kubernetes reports it), or null when nobody heard it (an adopted container's process is
   * simply gone): then 137, as after a SIGKILL.
   */
  private exited(pod: string, container: string, pid: number, code: number | null): void {
    const k = `${pod}/${container}/${pid}`;
    if (this.pending.has(k) || this.stopped) return;
    this.pending.add(k);
    const exitCode = code ?? 137;
    const signum = code !== null && code > 128 ? code - 128 : undefined;
    const t0 = performance.now();
    this.enqueue(`exit of ${pod}/${container}`, async () => {
      const restartAt = await this.cluster.containerExited(pod, container, pid, { exitCode, ...(signum ? { signal: signum } : {}) });
      this.syncProbes();
      if (restartAt === undefined) return; // an older process, or a pod being deleted
      this.log(`pod ${pod}: container ${container} exited (${signum ? `signal ${signum}` : `code ${exitCode}`}); endpoints updated in ${(performance.now() - t0).toFixed(0)} ms${restartAt ? `, restart in ${Math.max(0, Math.round((restartAt - Date.now()) / 1000))}s` : ''}`);
      if (restartAt !== null) this.startAt(pod, container, restartAt, k, 'restart');
    });
  }
}
