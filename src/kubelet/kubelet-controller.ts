// The kubelet as a watch-driven controller on the API (issue 13): it watches the pods whose
// spec.nodeName is its node (and ConfigMaps, for configMap volumes), runs them through the
// runtime functions of kubelet.ts (sandboxes, CNI, containers: new pods that arrive together are
// synced in one batch, their CNI ADDs run concurrently), and writes each pod's status
// through the status subresource, only when it changed. What only the kubelet knows (pids,
// backoff timers, the sandbox's names) stays in its memory: a restarted kubelet finds running
// containers again through the runtime (`runc list`) and adopts them, no restart, no duplicate.
//
// One pod is worked on by one thing at a time (a per-pod chain, as the kubelet's pod workers):
// a container exit in a pod that is not being synced is handled at once, so the crash flow's
// first hop (exit -> Ready=False in the API) is not queued behind other pods' work.
import { readdir } from 'node:fs/promises';
import type { ClusterConfig, ConfigMap, Pod } from '../api/types.ts';
import { readAttachments } from '../cni/pod-network.ts';
import type { InformerFactory } from '../client/controller.ts';
import { EventRecorder, type EventType } from '../client/events.ts';
import type { Informer } from '../client/informer.ts';
import { isNotFound, objectKey, type Client } from '../client/types.ts';
import type { InstancePaths } from '../node/instance.ts';
import type { LabNode } from '../node/node.ts';
import { netnsExists } from '../sys/ip.ts';
import { pidExists, signalProcess } from '../sys/proc.ts';
import { SerialQueue } from '../util/serial-queue.ts';
import { setLongTimeout, type LongTimer } from '../util/timers.ts';
import { builtImages, normalizeReference } from './images.ts';
import { NodeAgent } from './node-agent.ts';
import type { NodeInput } from './node-status.ts';
import { cniNode, PodSyncError, podNetns, podToRemove, recordContainerExit, removePods, startPodContainer, syncPods, updatePodStatus, type KubeletContext, type PodToRemove } from './kubelet.ts';
import { backOffEventMessage, backOffWaitingMessage, planPodWork, remainingGrace } from './kubelet-plan.ts';
import { adoptStatuses, toInternalConfigMap, toInternalPod, type ApiConfigMap, type ApiPod, type LiveContainer } from './pod-convert.ts';
import { apiPodStatus, sameStatus } from './pod-status.ts';
import { writeVolumes } from './podfiles.ts';
import { ProberAgent, ProbeWorker, type ProbeHandlers, type ProbeKind } from './prober.ts';
import { isOwnChild, runtimeFor } from './runc.ts';
import { containerIdOf, isContainerAlive } from './runtime.ts';
import { rotateContainerLog } from './streams.ts';
import { bundleDir, stopContainersOf } from './teardown.ts';

const PODS = { group: '', resource: 'pods' };
const CONFIGMAPS = { group: '', resource: 'configmaps' };
/** How often containers this process did not start (adopted) are checked for life. */
export const LIVENESS_POLL_MS = 50;
/** Every this many polls: also the network namespace and the process's namespace (PID reuse). */
const THOROUGH_EVERY = 20;
/** A container without a readiness probe is ready once seen running this long (the PLEG's relist). */
const RUNNING_CONFIRM_MS = 100;
/** A failed sync of new pods (or status write) is tried again after this long. */
const RETRY_MS = 1000;
/** The longest wait between two tries of a pod whose volumes cannot be mounted (its ConfigMap's arrival ends it early). */
const MAX_MOUNT_RETRY_MS = 60_000;
/** How long a restarted kubelet waits for containers a `runc run` was still starting when it died. */
const STARTING_WAIT_MS = 2000;

type Obj = Record<string, unknown>;

/** The kubelet's record of one pod. */
interface PodRecord {
  key: string;
  uid: string;
  pod: Pod;
  api: ApiPod;
  /** The per-pod worker chain. */
  chain: Promise<void>;
  terminating: boolean;
  /** Its containers and network are gone (or going): nothing more is done for it. */
  removed: boolean;
  /** The status last written (or read) from the API. */
  written: Obj | undefined;
  statusChain: Promise<void>;
  timers: Set<LongTimer>;
  /** "<container>/<pid>" exits handled, restarts scheduled. */
  pending: Set<string>;
}

export interface KubeletControllerOptions {
  client: Client;
  factory: InformerFactory;
  node: LabNode;
  paths: InstancePaths;
  /** Cluster DNS and domain for the pods' resolv.conf. */
  config: ClusterConfig;
  log?: (line: string) => void;
  pollMs?: number;
  /**
   * The node's registration and heartbeat (Node object, Lease in kube-node-lease): the kubelet's
   * own in a real cluster. Given, the controller runs a NodeAgent; left out when the process
   * runs one already (ControlPlane does for the server node).
   */
  heartbeat?: NodeInput;
}

export class KubeletController {
  private readonly pods: Informer<ApiPod>;
  private readonly configMapInformer: Informer<ApiConfigMap>;
  private readonly records = new Map<string, PodRecord>();
  private readonly configMaps = new Map<string, ConfigMap>();
  /** Pods whose last sync failed on their volumes (FailedMount), by key: how many tries so far. */
  private readonly waitingForVolumes = new Map<string, number>();
  /** ConfigMaps (by key) that changed during the first sync: their volumes are refreshed after it. */
  private readonly configMapsChangedBeforeStart = new Set<string>();
  private readonly recorder: EventRecorder;
  private readonly agent: ProberAgent;
  private readonly workers = new Map<string, ProbeWorker>();
  private readonly dirty = new Set<string>();
  private flushing: Promise<void> | null = null;
  private flushAgain = false;
  private started = false;
  private stopped = false;
  private poll: NodeJS.Timeout | null = null;
  private polls = 0;
  private imageIDs = new Map<string, string>();
  private imageRead: Promise<void> | null = null;
  private nodeAgent: NodeAgent | null = null;
  private readonly log: (line: string) => void;
  private readonly ctx: KubeletContext;
  /**
   * Syncs that make sandboxes (a batch of new pods, a sandbox made again) and removals take turns:
   * a pod deleted and made again under the same name has the same namespace name, and the CNI
   * garbage collection of the first sync must see every pod. (host-local itself serializes its
   * allocations with a lock on its directory.)
   */
  private readonly network = new SerialQueue();
  private removals: { pod: PodToRemove; resolve: () => void; reject: (e: unknown) => void }[] = [];

  constructor(private readonly opts: KubeletControllerOptions) {
    this.log = opts.log ?? (() => {});
    this.pods = opts.factory.informer<ApiPod>(PODS, { fieldSelector: `spec.nodeName=${opts.node.name}` });
    this.configMapInformer = opts.factory.informer<ApiConfigMap>(CONFIGMAPS);
    this.recorder = new EventRecorder(opts.client, { component: 'kubelet', host: opts.node.name }, { log: this.log });
    this.agent = new ProberAgent(opts.node.netns);
    this.ctx = {
      node: opts.node,
      paths: opts.paths,
      config: opts.config,
      configMaps: this.configMaps,
      onEvent: (pod, type, reason, message) => this.runtimeEvent(pod, type, reason, message),
      onProgress: (m) => this.log(`kubelet: ${m}`),
      onContainerExit: (pod, container, pid, code) => this.exited(pod.metadata.name, container, pid, code),
      onSandboxExit: (pod) => this.sandboxChanged(pod.metadata.name),
    };
    const changed = (o: ApiPod) => this.markDirty(objectKey(o));
    this.pods.addHandlers({ add: changed, update: (_o, n) => changed(n), delete: changed });
    const cm = (o: ApiConfigMap, gone = false) => this.configMapChanged(o, gone);
    this.configMapInformer.addHandlers({ add: (o) => cm(o), update: (_o, n) => cm(n), delete: (o) => cm(o, true) });
  }

  /** Waits for the informers, adopts what runs, removes orphans, syncs every pod; then follows changes. */
  async start(): Promise<void> {
    if (this.opts.heartbeat) {
      this.nodeAgent = new NodeAgent(this.opts.client, this.opts.heartbeat, { log: this.log });
      await this.nodeAgent.start();
    }
    this.opts.factory.start();
    await Promise.all([this.pods.waitForSync(), this.configMapInformer.waitForSync()]);
    for (const cm of this.configMapInformer.list()) this.configMaps.set(objectKey(cm), toInternalConfigMap(cm));
    await this.initialSync();
    this.started = true;
    for (const key of this.configMapsChangedBeforeStart) {
      const [namespace, name] = key.split('/') as [string, string];
      this.refreshVolumes(namespace, name);
    }
    this.configMapsChangedBeforeStart.clear();
    this.poll = setInterval(() => this.checkLiveness(), this.opts.pollMs ?? LIVENESS_POLL_MS);
    this.scheduleFlush();
  }

  /** Stops watching and probing; containers keep running (a restarted kubelet adopts them). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.nodeAgent?.stop();
    if (this.poll) clearInterval(this.poll);
    for (const w of this.workers.values()) w.stop();
    this.workers.clear();
    for (const r of this.records.values()) for (const t of r.timers) t.clear();
    await this.flushing;
    await Promise.all([...this.records.values()].map((r) => r.chain.then(() => r.statusChain)));
    this.agent.stop();
  }

  /** The pod's record, by "<namespace>/<name>" (the streams provider reads it). */
  record(namespace: string, name: string): { pod: Pod; uid: string } | undefined {
    return this.records.get(`${namespace}/${name}`);
  }

  // --- Start: adoption and orphans ---------------------------------------------------------

  private async initialSync(): Promise<void> {
    const { paths } = this.opts;
    const runtime = runtimeFor(paths);
    const listed = await this.settledContainers();
    const api = this.pods.list();
    const names = new Map(api.map((p) => [p.metadata.name, p.metadata.uid ?? '']));
    // Orphans: pods whose containers, network or files are here but which the API no longer has
    // (deleted while the kubelet was down), or has under another uid (deleted and made again).
    const orphans = new Set<string>();
    for (const c of listed) if (names.get(c.pod.name) !== c.pod.uid) orphans.add(c.pod.name);
    const prefix = paths.netnsPrefix;
    for (const a of await readAttachments(paths, this.opts.node.name)) if (a.netns.startsWith(prefix) && !names.has(a.netns.slice(prefix.length))) orphans.add(a.netns.slice(prefix.length));
    for (const n of await readdir(`${paths.stateDir}/pods`).catch(() => [] as string[])) if (!names.has(n)) orphans.add(n);
    if (orphans.size) {
      this.log(`kubelet: removing ${orphans.size} orphaned pod(s): ${[...orphans].join(', ')}`);
      await removePods({ paths, cni: cniNode(this.opts) }, [...orphans].map((name) => ({ name, netns: paths.podNetns(name), uid: listed.find((c) => c.pod.name === name)?.pod.uid || name, terminationGracePeriodSeconds: 0 })), { graceSeconds: 0 });
    }
    const now = new Date().toISOString();
    const live = orphans.size ? await runtime.listContainers() : listed;
    const recs: PodRecord[] = [];
    for (const a of api) {
      const rec = this.newRecord(a);
      const netns = podNetns(rec.pod);
      const running = new Map<string, LiveContainer>();
      for (const c of live) if (c.kind === 'container' && c.pod.name === a.metadata.name && c.status === 'running' && isContainerAlive(c.pid, netns)) running.set(c.name, { id: c.id, pid: c.pid });
      rec.pod.status.containerStatuses = adoptStatuses(rec.pod, (a.status?.containerStatuses ?? []) as Obj[], running, now);
      if (running.size && typeof a.status?.startTime === 'string') rec.pod.status.startTime = a.status.startTime;
      if (running.size) this.log(`kubelet: pod ${rec.key}: adopted ${running.size} running container(s)`);
      recs.push(rec);
    }
    // Every pod of the node at once: addresses and containers of anything else are collected.
    // Each pod's status as its own sync ends (the status manager is per pod); terminating pods,
    // which syncPods leaves to their pod workers, once all are done.
    const reported = new Set<PodRecord>();
    const failed = await this.syncOrRetry(recs, true, async (rec) => {
      if (rec.api.metadata.deletionTimestamp) return;
      reported.add(rec);
      await this.imageIDsOf(rec.pod);
      this.afterSync(rec);
    });
    for (const rec of recs) {
      if (failed.has(rec) || reported.has(rec)) continue;
      if (rec.api.metadata.deletionTimestamp) this.terminate(rec);
      else {
        await this.imageIDsOf(rec.pod);
        this.afterSync(rec);
      }
    }
  }

  /**
   * The runtime's containers once none is mid-start. A kubelet killed while `runc run` started a
   * container leaves that waiter running (it is detached): the container is "created" for a
   * moment, then running. Taken as absent, it would be started a second time beside itself; so
   * the kubelet waits for it, and removes one still not running after STARTING_WAIT_MS (its
   * waiter died too).
   */
  private async settledContainers() {
    const runtime = runtimeFor(this.opts.paths);
    const deadline = Date.now() + STARTING_WAIT_MS;
    for (;;) {
      const listed = await runtime.listContainers();
      const starting = listed.filter((c) => c.status === 'created' || c.status === 'creating');
      if (starting.length === 0) return listed;
      if (Date.now() >= deadline) {
        this.log(`kubelet: removing ${starting.length} container(s) that never started: ${starting.map((c) => `${c.pod.name}/${c.name || 'sandbox'}`).join(', ')}`);
        await Promise.all(starting.map((c) => runtime.removeContainer(c.id, bundleDir(this.opts.paths, c))));
        return runtime.listContainers();
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private newRecord(a: ApiPod): PodRecord {
    const rec: PodRecord = {
      key: objectKey(a),
      uid: a.metadata.uid ?? '',
      pod: toInternalPod(a, this.opts.paths),
      api: a,
      chain: Promise.resolve(),
      terminating: false,
      removed: false,
      written: a.status,
      statusChain: Promise.resolve(),
      timers: new Set(),
      pending: new Set(),
    };
    this.records.set(rec.key, rec);
    return rec;
  }

  private byName(name: string): PodRecord | undefined {
    for (const r of this.records.values()) if (r.pod.metadata.name === name) return r;
    return undefined;
  }

  /** Runs `fn` when the pod's earlier work is done (the pod worker); failures are logged. */
  private withPod(recs: PodRecord[], what: string, fn: () => Promise<void>): Promise<void> {
    const run = Promise.all(recs.map((r) => r.chain)).then(() => (this.stopped ? undefined : fn()));
    const done = run.catch((e: unknown) => this.log(`kubelet: ${what} failed: ${(e as Error)?.stack ?? e}`));
    for (const r of recs) r.chain = done;
    return done;
  }

  // --- Changes from the API ----------------------------------------------------------------

  private markDirty(key: string): void {
    this.dirty.add(key);
    if (this.started) this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.stopped) return;
    if (this.flushing) {
      this.flushAgain = true;
      return;
    }
    // One turn of the event loop: the pods a ReplicaSet made together arrive as one batch.
    this.flushing = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.flush())
      .catch((e: unknown) => this.log(`kubelet: ${(e as Error)?.stack ?? e}`))
      .finally(() => {
        this.flushing = null;
        if (this.flushAgain || this.dirty.size) {
          this.flushAgain = false;
          if (this.dirty.size) this.scheduleFlush();
        }
      });
  }

  private async flush(): Promise<void> {
    const keys = [...this.dirty];
    this.dirty.clear();
    const work = planPodWork(
      keys,
      (k) => {
        const a = this.pods.get(k);
        return a && { uid: a.metadata.uid ?? '', deletionTimestamp: a.metadata.deletionTimestamp };
      },
      (k) => this.records.get(k),
    );
    for (const k of keys) {
      const a = this.pods.get(k);
      if (!a) this.waitingForVolumes.delete(k);
      const rec = this.records.get(k);
      if (a && rec && rec.uid === a.metadata.uid) rec.api = a;
    }
    await Promise.all(work.remove.map((k) => this.removeGone(this.records.get(k)!)));
    for (const k of work.terminate) this.terminate(this.records.get(k) ?? this.newRecord(this.pods.get(k)!));
    const fresh = work.create.map((k) => this.newRecord(this.pods.get(k)!));
    if (fresh.length) await this.syncBatch(fresh);
  }

  /** New pods, synced together: one syncPods (their sandboxes' networks set up concurrently). */
  private syncBatch(recs: PodRecord[]): Promise<void> {
    if (recs.length > 1) this.log(`kubelet: syncing ${recs.length} new pods`);
    return this.withPod(recs, `sync of ${recs.length} pod(s)`, async () => {
      const live = recs.filter((r) => !r.removed && !r.terminating);
      // Each pod's status goes to the API as soon as its own containers have started, while the
      // rest of the batch still starts (kubelet's status manager is per pod: a pod's Ready never
      // waits for the slowest of the ReplicaSet's other pods).
      await this.syncOrRetry(live, false, async (r) => {
        await this.imageIDsOf(r.pod);
        this.afterSync(r);
      });
    });
  }

  /**
   * syncPods for the records; the ones it could not sync (all of them, or those whose sandbox's
   * network could not be set up) are forgotten and synced again as new pods after RETRY_MS.
   */
  private async syncOrRetry(recs: PodRecord[], complete: boolean, onSynced?: (rec: PodRecord) => Promise<void>): Promise<Set<PodRecord>> {
    const byPod = new Map(recs.map((r) => [r.pod, r]));
    // Pods already synced (and reported) when another's failure ends syncPods are not retried.
    const synced = new Set<PodRecord>();
    const onPodSynced = onSynced && (async (pod: Pod) => {
      const r = byPod.get(pod);
      if (!r) return;
      synced.add(r);
      await onSynced(r);
    });
    try {
      await this.network.run(() => syncPods(this.ctx, recs.map((r) => r.pod), { complete, onPodSynced }));
      return new Set();
    } catch (e) {
      const failed = (e instanceof PodSyncError ? recs.filter((r) => e.failed.has(r.pod.metadata.name)) : recs).filter((r) => !synced.has(r));
      if (!(e instanceof PodSyncError) && complete) throw e;
      if (failed.length === 0) {
        this.log(`kubelet: sync of ${recs.map((r) => r.key).join(', ')}: ${(e as Error).message}`);
        return new Set();
      }
      // A pod waiting for its volumes (FailedMount) is tried again with a backoff, and at once
      // when a ConfigMap it mounts changes (configMapChanged); any other failure after RETRY_MS.
      const waits = new Map(failed.map((r) => {
        const mount = e instanceof PodSyncError && e.failed.get(r.pod.metadata.name)?.message.startsWith('MountVolume.');
        const tries = mount ? (this.waitingForVolumes.get(r.key) ?? 0) + 1 : 0;
        if (mount) this.waitingForVolumes.set(r.key, tries);
        return [r, mount ? Math.min(RETRY_MS * 2 ** (tries - 1), MAX_MOUNT_RETRY_MS) : RETRY_MS];
      }));
      this.log(`kubelet: sync of ${failed.map((r) => `${r.key} (again in ${waits.get(r)} ms)`).join(', ')} failed: ${(e as Error).message}`);
      for (const r of failed) {
        this.records.delete(r.key);
        const t = setLongTimeout(() => this.markDirty(r.key), waits.get(r)!, { unref: true });
        r.timers.add(t);
      }
      return new Set(failed);
    }
  }

  /** After a sync of the pod: status to the API, probes, retries of containers that could not start. */
  private afterSync(rec: PodRecord): void {
    this.waitingForVolumes.delete(rec.key);
    this.writeStatus(rec);
    this.syncProbes(rec);
    for (const st of rec.pod.status.containerStatuses) {
      if (!st.pid && st.state.waiting && st.backoff?.until) this.startAt(rec, st.name, st.backoff.until, `${st.name}/start`);
    }
  }

  /**
   * The image IDs of the pod's containers known (their builds are read again when one is not: a
   * container's first start builds its image).
   */
  private async imageIDsOf(pod: Pod): Promise<void> {
    const known = () => pod.spec.containers.every((c) => {
      const n = normalizeReference(c.image);
      return !n || this.imageIDs.has(n.repository);
    });
    if (known()) return;
    // One read at a time for the pods of a batch; a read begun before this pod's image was built
    // may miss it: read once more then.
    if (this.imageRead) await this.imageRead;
    if (known()) return;
    this.imageRead ??= this.refreshImageIDs().finally(() => (this.imageRead = null));
    await this.imageRead;
  }

  private async refreshImageIDs(): Promise<void> {
    const builds = await builtImages(this.opts.paths.imagesDir).catch(() => []);
    const ids = new Map<string, string>();
    for (const b of builds) if (!ids.has(b.name)) ids.set(b.name, `sha256:${b.id}`);
    this.imageIDs = ids;
  }

  private configMapChanged(o: ApiConfigMap, gone: boolean): void {
    const key = objectKey(o);
    if (gone) this.configMaps.delete(key);
    else this.configMaps.set(key, toInternalConfigMap(o));
    // Pods waiting for it (FailedMount): tried again now (after the start, if it is still going on).
    for (const k of this.waitingForVolumes.keys()) {
      const pod = this.pods.get(k);
      const volumes = ((pod?.spec as { volumes?: { configMap?: { name?: string } }[] } | undefined)?.volumes ?? []);
      if (pod?.metadata.namespace === o.metadata.namespace && volumes.some((v) => v.configMap?.name === o.metadata.name)) this.markDirty(k);
    }
    // A change while the first sync runs is applied once it is done (start()).
    if (!this.started) this.configMapsChangedBeforeStart.add(key);
    else this.refreshVolumes(o.metadata.namespace ?? '', o.metadata.name);
  }

  /** The kubelet refreshes the configMap volumes of the running pods that mount the ConfigMap. */
  private refreshVolumes(namespace: string, name: string): void {
    for (const rec of this.records.values()) {
      if (rec.removed || rec.terminating || rec.pod.metadata.namespace !== namespace) continue;
      if (!rec.pod.spec.volumes.some((v) => v.configMap?.name === name)) continue;
      void this.withPod([rec], `volumes of ${rec.key}`, async () => {
        await writeVolumes(this.opts.paths.podDir(rec.pod.metadata.name), rec.pod, this.configMaps);
      });
    }
  }

  // --- Status -----------------------------------------------------------------------------

  /** Writes the pod's status when it differs from what the API has (in order, per pod). */
  private writeStatus(rec: PodRecord): Promise<void> {
    rec.statusChain = rec.statusChain.then(async () => {
      if (rec.removed) return;
      const input = { nodeIP: this.opts.node.nodeIP, now: new Date().toISOString(), imageIDs: this.imageIDs };
      const want = apiPodStatus(rec.pod, rec.written, input);
      if (sameStatus(want, rec.written)) return;
      const { namespace, name } = rec.pod.metadata;
      try {
        const written = await this.opts.client.mutate<ApiPod>(
          PODS,
          namespace,
          name,
          (cur) => {
            if (cur.metadata.uid !== rec.uid) throw Object.assign(new Error(`pod ${rec.key} was replaced`), { status: { code: 404 } });
            return { ...cur, status: apiPodStatus(rec.pod, cur.status, input) };
          },
          { subresource: 'status' },
        );
        rec.written = written.status;
      } catch (e) {
        if (isNotFound(e)) return;
        // Written again later (the status manager retries too): otherwise a readiness already
        // decided would never reach the API, and the pod would stay out of its Service.
        this.log(`kubelet: status of ${rec.key}: ${(e as Error).message}; again in ${RETRY_MS} ms`);
        const t = setLongTimeout(() => {
          rec.timers.delete(t);
          void this.writeStatus(rec);
        }, RETRY_MS, { unref: true });
        rec.timers.add(t);
      }
    });
    return rec.statusChain;
  }

  // --- Events -----------------------------------------------------------------------------

  private event(rec: PodRecord, type: EventType, reason: string, message: string): void {
    void this.recorder.event({ ...rec.api, apiVersion: 'v1', kind: 'Pod' }, type, reason, message);
  }

  /** Events from kubelet.ts's runtime work, as the kubelet writes them. */
  private runtimeEvent(pod: Pod, type: EventType, reason: string, message: string): void {
    const rec = this.byName(pod.metadata.name);
    if (!rec) return;
    if (reason === 'Adopted') return; // the lab's old path's word; kube's kubelet says nothing
    if (reason === 'Started') {
      // kuberuntime's startContainer: the image is there (the lab has no registry), the
      // container created, then started. kubelet.ts reports the start; the two before it go first.
      const name = message.replace(/^Started container /, '');
      const c = rec.pod.spec.containers.find((x) => x.name === name);
      if (c) {
        this.event(rec, 'Normal', 'Pulled', `Container image ${JSON.stringify(c.image)} already present on machine`);
        this.event(rec, 'Normal', 'Created', `Created container: ${name}`);
      }
    }
    this.event(rec, type, reason, message);
  }

  // --- Exits and restarts ------------------------------------------------------------------

  /** A container's exit: 128+N for signal N; null when nobody heard it (an adopted container is gone): 137. */
  private exited(podName: string, container: string, pid: number, code: number | null): void {
    const rec = this.byName(podName);
    if (!rec || rec.removed || rec.terminating) return;
    const k = `${container}/${pid}`;
    if (rec.pending.has(k)) return;
    rec.pending.add(k);
    const exitCode = code ?? 137;
    void this.withPod([rec], `exit of ${rec.key}/${container}`, async () => {
      const st = rec.pod.status.containerStatuses.find((s) => s.name === container);
      if (rec.terminating || rec.removed || !st || st.pid !== pid) return void rec.pending.delete(k);
      const now = Date.now();
      const restartAt = recordContainerExit(rec.pod, container, { exitCode }, now, { terminatedUntilRestart: true });
      this.stopProbes(rec, container);
      if (restartAt !== null && restartAt > now) {
        st.state = { waiting: { reason: 'CrashLoopBackOff', message: backOffWaitingMessage(restartAt - now, container, rec.pod.metadata) } };
        this.event(rec, 'Warning', 'BackOff', backOffEventMessage(container, rec.pod.metadata));
      }
      // The crash flow's first hop: Ready=False in the API now.
      await this.writeStatus(rec);
      if (restartAt !== null) this.startAt(rec, container, restartAt, k);
      else rec.pending.delete(k);
    });
  }

  /** Starts the container again at `at` (its backoff over), then lets go of `pendingKey`. */
  private startAt(rec: PodRecord, container: string, at: number, pendingKey: string): void {
    rec.pending.add(pendingKey);
    const t = setLongTimeout(() => {
      rec.timers.delete(t);
      void this.withPod([rec], `restart of ${rec.key}/${container}`, async () => {
        try {
          await this.restart(rec, container);
        } finally {
          rec.pending.delete(pendingKey);
        }
      });
    }, Math.max(0, at - Date.now()));
    rec.timers.add(t);
  }

  private async restart(rec: PodRecord, container: string): Promise<void> {
    const pod = rec.pod;
    const c = pod.spec.containers.find((x) => x.name === container);
    const i = pod.status.containerStatuses.findIndex((x) => x.name === container);
    if (rec.terminating || rec.removed || !c || i < 0) return;
    const prev = pod.status.containerStatuses[i]!;
    if (isContainerAlive(prev.pid, podNetns(pod))) return;
    if (prev.containerID) await rotateContainerLog(this.opts.paths, pod.metadata.name, container);
    pod.status.containerStatuses[i] = await startPodContainer(this.ctx, pod, c, prev);
    updatePodStatus(pod);
    this.afterSync(rec);
  }

  /** Pause gone or network namespace deleted: SandboxChanged, killed and made again (kubelet.ts). */
  private sandboxChanged(podName: string): void {
    const rec = this.byName(podName);
    if (!rec || rec.removed || rec.terminating || rec.pending.has('sandbox')) return;
    rec.pending.add('sandbox');
    void this.withPod([rec], `sandbox of ${rec.key}`, async () => {
      try {
        for (const st of rec.pod.status.containerStatuses) if (st.containerID) await rotateContainerLog(this.opts.paths, rec.pod.metadata.name, st.name);
        for (const st of rec.pod.status.containerStatuses) this.stopProbes(rec, st.name);
        if ((await this.syncOrRetry([rec], false)).size === 0) this.afterSync(rec);
      } finally {
        rec.pending.delete('sandbox');
      }
    });
  }

  /**
   * Containers whose process is gone though nobody said so (adopted ones: their waiter was
   * another process's child). The cheap check (the PID exists) every poll, the thorough one
   * (state, network namespace: PID reuse; the pod's netns itself) every THOROUGH_EVERY-th.
   */
  private checkLiveness(): void {
    if (this.stopped) return;
    const thorough = ++this.polls % THOROUGH_EVERY === 0;
    for (const rec of this.records.values()) {
      const pod = rec.pod;
      if (rec.removed || rec.terminating || !pod.status.startTime) continue;
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

  // --- Probes -----------------------------------------------------------------------------

  private workerKey(rec: PodRecord, container: string): string {
    return `${rec.key}/${container}/`;
  }

  private stopProbes(rec: PodRecord, container?: string): void {
    const prefix = container === undefined ? `${rec.key}/` : this.workerKey(rec, container);
    for (const [k, w] of this.workers) {
      if (!k.startsWith(prefix)) continue;
      w.stop();
      this.workers.delete(k);
    }
  }

  /** Workers for the pod's running containers (also adopted ones); stale ones stop. */
  private syncProbes(rec: PodRecord): void {
    if (this.stopped) return;
    const pod = rec.pod;
    const wanted = new Set<string>();
    if (!rec.terminating && !rec.removed && pod.status.podIP) {
      for (const c of pod.spec.containers) {
        const st = pod.status.containerStatuses.find((x) => x.name === c.name);
        if (!st?.pid || !st.state.running) continue;
        if (st.started && !st.ready && !c.readinessProbe) this.confirmRunning(rec, c.name, st.pid);
        const kinds: [ProbeKind, typeof c.readinessProbe][] = st.started ? [['readiness', c.readinessProbe], ['liveness', c.livenessProbe]] : [['startup', c.startupProbe]];
        for (const [kind, probe] of kinds) {
          if (!probe) continue;
          const k = `${this.workerKey(rec, c.name)}${st.pid}/${kind}`;
          wanted.add(k);
          if (this.workers.has(k)) continue;
          const exec = containerIdOf(st.containerID);
          const target = { pod, container: c, pid: st.pid, podIP: pod.status.podIP, exec: exec ? runtimeFor(this.opts.paths).execArgv(exec, []) : undefined };
          const w = new ProbeWorker(this.agent, kind, probe, target, this.probeHandlers, kind === 'readiness' && st.ready);
          this.workers.set(k, w);
          void w.run();
        }
      }
    }
    for (const [k, w] of this.workers) {
      if (k.startsWith(`${rec.key}/`) && !wanted.has(k)) {
        w.stop();
        this.workers.delete(k);
      }
    }
  }

  private confirmRunning(rec: PodRecord, container: string, pid: number): void {
    const k = `${container}/${pid}/confirm`;
    if (rec.pending.has(k)) return;
    rec.pending.add(k);
    const t = setLongTimeout(() => {
      rec.timers.delete(t);
      rec.pending.delete(k);
      this.probeHandlers.ready(rec.pod.metadata.name, container, pid, true);
    }, RUNNING_CONFIRM_MS);
    rec.timers.add(t);
  }

  private readonly probeHandlers: ProbeHandlers = {
    ready: (podName, container, pid, ready) => {
      const rec = this.byName(podName);
      if (!rec) return;
      void this.withPod([rec], `readiness of ${rec.key}/${container}`, async () => {
        const st = rec.pod.status.containerStatuses.find((s) => s.name === container);
        if (rec.terminating || !st || st.pid !== pid || !st.state.running || st.ready === ready) return;
        st.ready = ready;
        st.started = true;
        updatePodStatus(rec.pod);
        await this.writeStatus(rec);
      });
    },
    started: (podName, container, pid) => {
      const rec = this.byName(podName);
      if (!rec) return;
      void this.withPod([rec], `startup of ${rec.key}/${container}`, async () => {
        const st = rec.pod.status.containerStatuses.find((s) => s.name === container);
        if (!st || st.pid !== pid || st.started) return;
        st.started = true;
        this.syncProbes(rec);
        await this.writeStatus(rec);
      });
    },
    killContainer: (podName, container, pid, reason) => {
      const rec = this.byName(podName);
      if (!rec) return;
      void this.withPod([rec], `kill of ${rec.key}/${container}`, async () => {
        const st = rec.pod.status.containerStatuses.find((s) => s.name === container);
        if (rec.terminating || !st || st.pid !== pid || !isContainerAlive(pid, podNetns(rec.pod))) return;
        // kuberuntime computePodActions: "Container X failed liveness probe, will be restarted".
        const kind = reason.startsWith('Startup') ? 'startup' : 'liveness';
        this.event(rec, 'Normal', 'Killing', `Container ${container} failed ${kind} probe, will be restarted`);
        signalProcess(pid, 'SIGKILL');
      });
    },
    unhealthy: (podName, _container, kind, message) => {
      const rec = this.byName(podName);
      if (rec) this.event(rec, 'Warning', 'Unhealthy', `${kind[0]!.toUpperCase()}${kind.slice(1)} probe failed: ${message}`);
    },
  };

  // --- Deletion ---------------------------------------------------------------------------

  /**
   * Graceful deletion: SIGTERM to the containers, SIGKILL once the grace period is over, then
   * the sandbox, CNI DEL, the address and the pod's files; then the kubelet's own final delete
   * (grace 0, for this uid only), after which the API server removes the object.
   */
  private terminate(rec: PodRecord): void {
    if (rec.terminating || rec.removed) return;
    rec.terminating = true;
    rec.api = this.pods.get(rec.key) ?? rec.api;
    for (const t of rec.timers) t.clear();
    rec.timers.clear();
    this.stopProbes(rec);
    void this.withPod([rec], `deletion of ${rec.key}`, async () => {
      try {
        await this.stopAndDelete(rec);
      } catch (e) {
        // Tried again, as the pod worker retries a termination that failed.
        this.log(`kubelet: deletion of ${rec.key} failed: ${(e as Error).message}; again in ${RETRY_MS} ms`);
        rec.terminating = false;
        rec.removed = false;
        const t = setLongTimeout(() => this.markDirty(rec.key), RETRY_MS, { unref: true });
        rec.timers.add(t);
      }
    });
  }

  private async stopAndDelete(rec: PodRecord): Promise<void> {
    const pod = rec.pod;
    const grace = remainingGrace(rec.api.metadata, Date.now());
    for (const st of pod.status.containerStatuses) if (st.pid && st.state.running) this.event(rec, 'Normal', 'Killing', `Stopping container ${st.name}`);
    // Its containers only: the sandbox, runc's leftovers and the mounts go in removeNetwork's
    // batch, with every pod that finished at the same moment.
    await stopContainersOf(this.opts.paths, pod.metadata.name, grace);
    rec.removed = true;
    await this.removeNetwork(podToRemove(pod));
    await rec.statusChain;
    try {
      await this.opts.client.delete(PODS, pod.metadata.namespace, pod.metadata.name, { gracePeriodSeconds: 0, preconditions: { uid: rec.uid } });
    } catch (e) {
      // Gone already, or a new pod of the same name (the uid precondition): nothing of ours left.
      const code = (e as { status?: { code?: number } }).status?.code;
      if (code !== 404 && code !== 409) throw e;
    }
    if (this.records.get(rec.key) === rec) this.records.delete(rec.key);
  }

  /** The pod is gone from the API (force-deleted, or replaced): everything of it goes at once. */
  private removeGone(rec: PodRecord): Promise<void> {
    if (this.records.get(rec.key) === rec) this.records.delete(rec.key);
    if (rec.removed) return rec.chain;
    rec.removed = true;
    for (const t of rec.timers) t.clear();
    this.stopProbes(rec);
    return this.withPod([rec], `removal of ${rec.key}`, () => this.removeNetwork(podToRemove(rec.pod)));
  }

  /**
   * Removes a pod's (stopped) containers, network, address and files, with every other pod whose
   * removal is waiting for the network at that moment: the CNI DELs of pods that finished
   * terminating together (a scale-down) run concurrently, their namespaces go in one `ip -batch`.
   */
  private removeNetwork(pod: PodToRemove): Promise<void> {
    return new Promise((resolve, reject) => {
      this.removals.push({ pod, resolve, reject });
      if (this.removals.length > 1) return; // a removal is queued already: this pod joins it
      void this.network
        .run(async () => {
          const batch = this.removals.splice(0);
          try {
            await removePods({ paths: this.opts.paths, cni: cniNode(this.opts) }, batch.map((b) => b.pod), { graceSeconds: 0 });
            for (const b of batch) b.resolve();
          } catch (e) {
            for (const b of batch) b.reject(e);
          }
        })
        .catch(() => {});
    });
  }

  /** True once every pod known is past its work (tests). */
  async idle(): Promise<void> {
    await this.flushing;
    await Promise.all([...this.records.values()].map((r) => r.chain.then(() => r.statusChain)));
  }
}
