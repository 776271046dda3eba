// The control plane in one place, in the order of a real cluster's reconcile:
//   API server (declared state, Service allocation) -> ReplicaSet controller -> scheduler ->
//   kubelet (CNI + containers) -> endpoints controller -> kube-proxy, cluster DNS, ingress.
// `reconcile()` converges once and is idempotent: over a running instance it changes nothing
// that is already right (same pods, IPs, pids, rules).
import { useSpawnPool } from '../sys/spawner.ts';
import { readFile } from 'node:fs/promises';
import { podSecurityWarnings } from '../api/admission.ts';
import { allocateServices, applyAllocations, type ServiceAllocations } from '../api/allocators.ts';
import { ValidationError, type Issue } from '../api/errors.ts';
import { loadDesiredState, parseClusterConfig } from '../api/load.ts';
import { readState, recordEvent, writeState, type LabState } from '../api/store.ts';
import { isSystemPod } from '../api/owners.ts';
import { loadSystemManifests } from '../api/system.ts';
import { isTerminating, key, type ClusterConfig, type DesiredState, type EndpointSlice, type Endpoints, type Pod, type Service } from '../api/types.ts';
import { size } from '../util/cidr.ts';
import { publishDns } from '../dns/publish.ts';
import { renderIngress, syncIngress } from '../ingress/controller.ts';
import { assignSandbox, podNetns, podToRemove, recordContainerExit, removePods, startPodContainer, syncPods, updatePodStatus, type KubeletContext } from '../kubelet/kubelet.ts';
import { runtimeFor } from '../kubelet/runc.ts';
import { removeContainersOf } from '../kubelet/teardown.ts';
import { containerIdOf, isContainerAlive } from '../kubelet/runtime.ts';
import { ProberAgent, runProbe } from '../kubelet/prober.ts';
import { ensurePrograms } from '../kubelet/programs.ts';
import { instancePaths, type InstancePaths } from '../node/instance.ts';
import { chooseMode } from '../node/mode.ts';
import { describeNode, type LabNode, type NodeMode } from '../node/node.ts';
import { ensureNode } from '../node/setup.ts';
import { ProxySyncer, type SyncResult } from '../proxy/index.ts';
import { schedule } from '../scheduler/scheduler.ts';
import { netnsExists } from '../sys/ip.ts';
import { signalProcess } from '../sys/proc.ts';
import { computeEndpoints, computeEndpointSlices } from './endpoints.ts';
import { LAPTOP_HOSTS_ANNOTATION, laptopHostsLines } from './laptop-hosts.ts';
import { admitPods, planReplicaSets, rolloutInProgress, type RefusedCreate } from './replicaset.ts';

export interface ClusterOptions {
  instance: string;
  statePath: string;
  configPath: string;
  mode?: NodeMode;
  log?: (line: string) => void;
}

export interface ReconcileResult {
  state: LabState;
  desired: DesiredState;
  node: LabNode;
  created: Pod[];
  deleted: Pod[];
  /** ReplicaSets whose pods Pod Security admission refused in this step (one FailedCreate each). */
  refused: RefusedCreate[];
  proxy?: SyncResult;
}

export { LAPTOP_HOSTS_ANNOTATION, laptopHostsLines };

/** Pod names for a progress line: all of a few, the first of many. */
function names(pods: Pod[], max = 6): string {
  const n = pods.map((p) => p.metadata.name);
  return n.length <= max ? n.join(', ') : `${n.slice(0, max).join(', ')} and ${n.length - max} more`;
}

function newState(instance: string, mode: NodeMode, config: ClusterConfig): LabState {
  return { version: 1, instance, mode, nodeName: config.nodeName, nodeIP: config.nodeIP, createdAt: new Date().toISOString(), pods: {}, serviceAllocations: {}, services: [], endpoints: [], events: [] };
}

/** Service allocation (ClusterIP, NodePort) like the API server, errors naming the manifest. */
export function allocate(desired: DesiredState, previous: ServiceAllocations): { services: Service[]; allocations: ServiceAllocations } {
  const c = desired.config;
  const r = allocateServices(desired.services, previous, { serviceCIDR: c.serviceCIDR, serviceNodePortRange: c.serviceNodePortRange, clusterDNS: c.clusterDNS });
  if (r.errors.length) {
    const issues: Issue[] = r.errors.map((e) => {
      const svc = desired.services.find((s) => key(s.metadata) === e.service);
      return { file: svc?.source.file ?? '<state>', line: svc?.source.line ?? 0, object: `Service ${e.service}`, field: e.field, message: e.message };
    });
    throw new ValidationError(issues);
  }
  return { services: applyAllocations(desired.services, r.allocations), allocations: r.allocations };
}

/** What the last successful reconcile saw; the kubelet's event handlers work from it. */
interface Current {
  desired: DesiredState;
  services: Service[];
  node: LabNode;
}

export class Cluster {
  readonly paths: InstancePaths;
  private syncer: ProxySyncer | null = null;
  private readonly log: (line: string) => void;
  /** The observed state, kept in memory once loaded and written through to the state file. */
  state: LabState | null = null;
  current: Current | null = null;
  /** Called for containers this process starts when they exit (set by the watch controller). */
  onContainerExit?: KubeletContext['onContainerExit'];
  /** Called when a pod's sandbox this process started exits (set by the watch controller). */
  onSandboxExit?: (pod: string) => void;

  constructor(readonly opts: ClusterOptions) {
    // A sync starts hundreds of processes: spawn them off the event loop (src/sys/spawner.ts).
    useSpawnPool();
    this.paths = instancePaths(opts.instance);
    this.log = opts.log ?? (() => {});
  }

  /** Reads and validates everything declared; throws before anything is changed. */
  async load(prior: LabState | null): Promise<{ desired: DesiredState; mode: NodeMode }> {
    const configText = await readFile(this.opts.configPath, 'utf8').catch((e: NodeJS.ErrnoException) => {
      throw new Error(`cannot read config file ${this.opts.configPath}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
    });
    const config = parseClusterConfig(configText, this.opts.configPath);
    // Host mode only when asked (--mode host, or the lab VM's mark): src/node/mode.ts.
    const mode = await chooseMode({ requested: this.opts.mode, prior: prior?.mode, nodeIP: config.nodeIP, configFile: this.opts.configPath });
    const system = await loadSystemManifests({ stateDir: this.paths.stateDir, mode, clusterDNS: config.clusterDNS });
    const desired = await loadDesiredState({ statePath: this.opts.statePath, configPath: this.opts.configPath, extraStates: [system], systemPods: 0 });
    laptopHostsLines(desired, desired.config); // validates the annotation
    return { desired, mode };
  }

  /** Reads the state files again and converges to them. */
  async reconcile(): Promise<ReconcileResult> {
    const prior = this.state ?? (await readState(this.paths.stateFile));
    const { desired, mode } = await this.load(prior);
    for (const w of podSecurityWarnings(desired)) this.log(w);
    if (prior && prior.mode !== mode) throw new Error(`instance ${this.opts.instance} is running in ${prior.mode} mode; run 'lab down --name ${this.opts.instance}' first`);
    this.state = prior ?? newState(this.opts.instance, mode, desired.config);
    return this.converge(desired, mode, true);
  }

  /** One more step towards the last loaded state (a rollout waiting on readiness). */
  async step(): Promise<ReconcileResult | null> {
    if (!this.current || !this.state) return null;
    return this.converge(this.current.desired, this.current.node.mode, false);
  }

  /** True while some Deployment still has pods of an older template. */
  rolloutInProgress(): boolean {
    return Boolean(this.current && this.state && rolloutInProgress(this.current.desired.deployments, Object.values(this.state.pods)));
  }

  private async converge(desired: DesiredState, mode: NodeMode, verbose: boolean): Promise<ReconcileResult> {
    const { paths } = this;
    const log = verbose ? this.log : () => {};
    const node = describeNode(desired.config, mode, paths);
    const state = this.state!;
    const { services, allocations } = allocate(desired, state.serviceAllocations as ServiceAllocations);

    // The lab's own programs (DNS server, prober agent) are bundled meanwhile, if a source changed.
    const programs = ensurePrograms();
    programs.catch(() => {}); // awaited below; not an unhandled rejection meanwhile
    log(`node ${node.name} (${mode} mode): ${mode === 'sandbox' ? `namespace ${paths.nodeNetns}, ` : ''}eth1 ${node.nodeIP}, cni0 ${node.gateway}`);
    await ensureNode(node, paths, { hostsLines: laptopHostsLines(desired, desired.config) });
    this.syncer ??= new ProxySyncer({ netns: node.netns, config: { nodeName: node.name, nodeIPs: [node.nodeIP], clusterCIDR: desired.config.clusterCIDR } });

    // ReplicaSet controller. New pods are recorded before any kernel object is made, so an
    // interrupted reconcile can always be finished or torn down.
    const plan = planReplicaSets(desired.deployments, Object.values(state.pods));
    // Pod Security admission: a refused pod is not created; the ReplicaSet records why.
    const { admitted, refused } = admitPods(plan.create, desired.namespaceLabels);
    const rs = { create: admitted, delete: plan.delete };
    for (const r of refused) {
      recordEvent(state, { type: 'Warning', reason: 'FailedCreate', object: `replicaset/${r.replicaSet}`, message: `Error creating: ${r.message}` });
      log(`replicaset ${r.namespace}/${r.replicaSet}: Error creating: ${r.message}`);
    }
    for (const p of rs.create) {
      assignSandbox(p, paths);
      state.pods[p.metadata.name] = p;
      recordEvent(state, { type: 'Normal', reason: 'SuccessfulCreate', object: `replicaset/${p.metadata.ownerReferences?.[0]?.name}`, message: `Created pod: ${p.metadata.name}` });
    }
    state.serviceAllocations = allocations;
    await writeState(paths.stateFile, state);

    // Graceful deletion, as the API server and the kubelet do it: the pod gets its deletionTimestamp
    // and leaves every Service at once (Terminating); the kubelet stops its containers in the
    // background (SIGTERM, SIGKILL after the grace period) and only then is the pod removed.
    if (rs.delete.length) {
      this.log(`deleting ${rs.delete.length} pod(s): ${names(rs.delete)}`);
      const now = new Date().toISOString();
      for (const p of rs.delete) {
        p.metadata.deletionTimestamp = now;
        p.metadata.deletionGracePeriodSeconds = p.spec.terminationGracePeriodSeconds ?? 30;
        recordEvent(state, { type: 'Normal', reason: 'Killing', object: `pod/${p.metadata.name}`, message: `Stopping container ${p.spec.containers[0]?.name ?? ''}` });
      }
      await this.syncServices(desired, services, state);
      await writeState(paths.stateFile, state);
    }
    this.terminatePods();

    // Scheduler.
    const all = Object.values(state.pods);
    const unscheduled = all.filter((p) => !p.spec.nodeName);
    const placement = schedule(unscheduled, [{ name: node.name, capacity: size(node.podCIDR) - 3 }], all);
    for (const p of unscheduled) {
      const n = placement.get(p.metadata.name);
      if (!n) continue;
      p.spec.nodeName = n;
      recordEvent(state, { type: 'Normal', reason: 'Scheduled', object: `pod/${p.metadata.name}`, message: `Successfully assigned ${key(p.metadata)} to ${n}` });
    }

    // The add-ons' inputs exist before their pods start: nginx needs its config to start at all.
    await this.syncAddons(desired, services, state, computeEndpoints(services, Object.values(state.pods), desired.endpoints));

    // Kubelet.
    this.current = { desired, services, node };
    const onNode = Object.values(state.pods).filter((p) => p.spec.nodeName === node.name);
    if (rs.create.length) this.log(`creating ${rs.create.length} pod(s): ${names(rs.create)}`);
    await programs;
    await syncPods(this.kubeletContext(), onNode);
    await writeState(paths.stateFile, state);

    // Endpoints, kube-proxy, DNS, ingress.
    const proxy = await this.syncServices(desired, services, state);
    await writeState(paths.stateFile, state);
    return { state, desired, node, created: rs.create, deleted: rs.delete, refused, proxy };
  }

  /** The kubelet's pod workers for Terminating pods, by pod name; `terminated` once their containers are gone. */
  private terminations = new Map<string, Promise<void>>();
  private terminated = new Set<string>();
  /** Called when a Terminating pod's containers are gone (the watch controller queues finishDeletions). */
  onPodsTerminated?: () => void;

  /** Stops the containers of every Terminating pod that has no worker yet (also those a killed controller left). */
  private terminatePods(): void {
    for (const p of Object.values(this.state?.pods ?? {})) {
      const name = p.metadata.name;
      if (!isTerminating(p) || this.terminations.has(name)) continue;
      const elapsed = (Date.now() - Date.parse(p.metadata.deletionTimestamp!)) / 1000;
      const grace = Math.max(0, (p.metadata.deletionGracePeriodSeconds ?? 30) - elapsed);
      const work = removeContainersOf(this.paths, [{ name, grace }])
        .catch((e: unknown) => this.log(`pod ${name}: stopping its containers failed: ${(e as Error).message}`))
        .then(() => {
          this.terminated.add(name);
          this.onPodsTerminated?.();
        });
      this.terminations.set(name, work);
    }
  }

  /** Terminating pods whose containers have stopped: network, address and files removed, the pod deleted. */
  async finishDeletions(): Promise<void> {
    const state = this.state;
    if (!state) return;
    const done = Object.values(state.pods).filter((p) => isTerminating(p) && this.terminated.has(p.metadata.name));
    if (done.length === 0) return;
    await removePods({ paths: this.paths }, done.map(podToRemove), { graceSeconds: 0 });
    for (const p of done) {
      delete state.pods[p.metadata.name];
      this.terminations.delete(p.metadata.name);
      this.terminated.delete(p.metadata.name);
    }
    await writeState(this.paths.stateFile, state);
  }

  /** Waits until every Terminating pod is gone (a one-shot `up`, which leaves nothing running behind). */
  async awaitDeletions(): Promise<void> {
    this.terminatePods();
    await Promise.all(this.terminations.values());
    await this.finishDeletions();
  }

  kubeletContext(): KubeletContext {
    const { desired, node } = this.current!;
    const state = this.state!;
    return {
      node,
      paths: this.paths,
      config: desired.config,
      configMaps: new Map(desired.configMaps.map((c) => [key(c.metadata), c])),
      onProgress: this.log,
      onEvent: (pod, type, reason, message) => recordEvent(state, { type, reason, object: `pod/${pod.metadata.name}`, message }),
      onContainerExit: (...a) => this.onContainerExit?.(...a),
      onSandboxExit: (pod) => this.onSandboxExit?.(pod.metadata.name),
    };
  }

  /** Endpoints, rules, DNS and ingress from the pods as they are now (after a status change). */
  async resyncServices(): Promise<SyncResult | null> {
    if (!this.current || !this.state) return null;
    const r = await this.syncServices(this.current.desired, this.current.services, this.state);
    await writeState(this.paths.stateFile, this.state);
    return r;
  }

  /**
   * kube-proxy's canary check: when its chains or jumps are gone from the node (someone flushed
   * nat), force a full sync of the Services as they are. Returns what was lost (empty: nothing).
   */
  async repairProxyRules(): Promise<string[]> {
    if (!this.syncer || !this.current || !this.state) return [];
    const lost = await this.syncer.lostRules();
    if (lost.length === 0) return lost;
    this.repairing = true;
    try {
      await this.fullProxySync();
    } finally {
      this.repairing = false;
    }
    return lost;
  }

  /** Whether the rules were synced once (a later sync that puts jumps back is a repair). */
  private proxySynced = false;
  /** The canary's own full sync is running (it logs what it found itself). */
  private repairing = false;

  /** kube-proxy's periodic (and forced) full sync: every chain rewritten, missing jumps put back. */
  async fullProxySync(): Promise<SyncResult | null> {
    if (!this.syncer) return null;
    this.syncer.requestFullSync();
    return this.resyncServices();
  }

  /**
   * The kubelet noticed a container exit: the pod stops being ready, its endpoint leaves the
   * Service rules, and the restart is scheduled per restartPolicy and backoff. Returns when to
   * restart (ms since epoch), null when it stays down, undefined when the exit was not news.
   */
  async containerExited(podName: string, container: string, pid: number, exit: { exitCode: number; signal?: number }): Promise<number | null | undefined> {
    const pod = this.state?.pods[podName];
    const st = pod?.status.containerStatuses.find((c) => c.name === container);
    if (!pod || !st || st.pid !== pid) return undefined; // already handled, or an older process
    if (isTerminating(pod)) return undefined; // being deleted: expected to stop
    const restartAt = recordContainerExit(pod, container, exit);
    const how = exit.signal ? `signal ${exit.signal}` : `exit code ${exit.exitCode}`;
    recordEvent(this.state!, { type: 'Warning', reason: 'BackOff', object: `pod/${podName}`, message: `Container ${container} exited (${how})${restartAt && restartAt > Date.now() ? `; Back-off restarting failed container ${container} in pod ${podName}` : ''}` });
    await this.resyncServices();
    return restartAt;
  }

  /**
   * A pod whose network namespace vanished or whose pause container died: the kubelet's sync of
   * that pod kills what is left and starts it again in a new sandbox (kubelet.ts changedSandboxes).
   */
  async recreateSandbox(podName: string): Promise<boolean> {
    const pod = this.state?.pods[podName];
    if (!pod || !this.current || isTerminating(pod)) return false;
    const restarts = pod.status.containerStatuses.map((s) => s.restartCount).join();
    await syncPods(this.kubeletContext(), [pod], { complete: false });
    if (pod.status.containerStatuses.map((s) => s.restartCount).join() === restarts && netnsExists(podNetns(pod))) return false;
    await writeState(this.paths.stateFile, this.state!);
    await this.resyncServices();
    return true;
  }

  /** Starts a container again after its backoff. */
  async restartContainer(podName: string, container: string): Promise<void> {
    const pod = this.state?.pods[podName];
    const c = pod?.spec.containers.find((x) => x.name === container);
    const i = pod?.status.containerStatuses.findIndex((x) => x.name === container) ?? -1;
    if (!pod || !c || i < 0 || isTerminating(pod)) return;
    const prev = pod.status.containerStatuses[i]!;
    if (isContainerAlive(prev.pid, podNetns(pod))) return;
    pod.status.containerStatuses[i] = await startPodContainer(this.kubeletContext(), pod, c, prev);
    updatePodStatus(pod);
    await this.resyncServices();
  }

  /** The argv prefix that runs a command in a container (exec probes), by its containerID. */
  execPrefix(containerID: string | undefined): string[] | undefined {
    const id = containerIdOf(containerID);
    return id ? runtimeFor(this.paths).execArgv(id, []) : undefined;
  }

  /** Probes every unready container until it passes its startup and readiness probes, or time runs out. */
  async awaitReadiness(timeoutMs: number): Promise<void> {
    if (!this.state || !this.current) return;
    const agent = new ProberAgent(this.current.node.netns);
    const deadline = Date.now() + timeoutMs;
    try {
      const waits: Promise<void>[] = [];
      for (const pod of Object.values(this.state.pods)) {
        for (const c of pod.spec.containers) {
          const st = pod.status.containerStatuses.find((x) => x.name === c.name);
          if (!st?.pid || st.ready || !st.state.running || !pod.status.podIP) continue;
          const target = { pod, container: c, pid: st.pid, podIP: pod.status.podIP, exec: this.execPrefix(st.containerID) };
          waits.push(
            (async () => {
              for (const probe of [c.startupProbe, c.readinessProbe]) {
                while (probe && Date.now() < deadline && !(await runProbe(agent, probe, target)).ok) await new Promise((r) => setTimeout(r, 100));
              }
              if (Date.now() < deadline) {
                st.started = true;
                st.ready = true;
                updatePodStatus(pod);
              }
            })(),
          );
        }
      }
      await Promise.all(waits);
    } finally {
      agent.stop();
    }
    await this.resyncServices();
  }

  /** The startup probe passed: readiness and liveness probing begins. */
  async setStarted(podName: string, container: string): Promise<void> {
    const st = this.state?.pods[podName]?.status.containerStatuses.find((x) => x.name === container);
    if (!st || st.started) return;
    st.started = true;
    // Without a readiness probe a started container is ready at once.
    const c = this.state!.pods[podName]!.spec.containers.find((x) => x.name === container);
    if (!c?.readinessProbe) await this.setReady(podName, container, true);
    else await writeState(this.paths.stateFile, this.state!);
  }

  event(podName: string, type: 'Normal' | 'Warning', reason: string, message: string): void {
    if (this.state) recordEvent(this.state, { type, reason, object: `pod/${podName}`, message });
  }

  /** Sends a signal to a container's process, after checking it is that container's. */
  killContainer(podName: string, container: string, signal: NodeJS.Signals): boolean {
    const pod = this.state?.pods[podName];
    const st = pod?.status.containerStatuses.find((x) => x.name === container);
    if (!pod || !st?.pid || !isContainerAlive(st.pid, podNetns(pod))) return false;
    signalProcess(st.pid, signal);
    return true;
  }

  /** A probe changed a container's readiness. */
  async setReady(podName: string, container: string, ready: boolean): Promise<void> {
    const pod = this.state?.pods[podName];
    const st = pod?.status.containerStatuses.find((x) => x.name === container);
    if (!pod || !st || st.ready === ready) return;
    st.ready = ready;
    st.started = true;
    updatePodStatus(pod);
    await this.resyncServices();
  }

  /** Endpoints controller -> kube-proxy -> DNS and ingress, from the pods as they are now. */
  private async syncServices(desired: DesiredState, services: Service[], state: LabState): Promise<SyncResult> {
    const pods = Object.values(state.pods);
    const slices: EndpointSlice[] = computeEndpointSlices(services, pods, desired.endpoints);
    const endpoints = computeEndpoints(services, pods, desired.endpoints);
    const result = await this.syncer!.sync({ services, endpointSlices: slices });
    // A full sync that had to put jump rules back, and was not the canary's (which says so
    // itself): someone wiped the rules and a sync failed on it (the next one is always full).
    if (result.jumpsInserted > 0 && this.proxySynced && !this.repairing) this.log(`kube-proxy: iptables rules were flushed (${result.jumpsInserted} jump rule(s) missing after a failed sync); forced a full sync`);
    this.proxySynced = true;
    const since = new Map((state.services ?? []).map((s) => [key(s.metadata), s.metadata.creationTimestamp]));
    const now = new Date().toISOString();
    for (const s of services) s.metadata.creationTimestamp = since.get(key(s.metadata)) ?? now;
    for (const e of endpoints) e.metadata.creationTimestamp = since.get(key(e.metadata)) ?? now;
    state.services = services;
    state.endpoints = endpoints;
    await this.syncAddons(desired, services, state, endpoints);
    return result;
  }

  private async syncAddons(desired: DesiredState, services: Service[], state: LabState, endpoints: Endpoints[]): Promise<void> {
    const pods = Object.values(state.pods);
    await publishDns(this.paths.stateDir, { services, endpoints, pods, config: desired.config });
    const rendered = renderIngress(this.paths.stateDir, { ingresses: desired.ingresses, services, config: desired.config });
    for (const w of rendered.warnings) this.log(`ingress: ${w}`);
    // The ingress controller's pod by owner, not by label: a user's pod labelled like it is not reloaded.
    const ingressPod = pods.find((p) => isSystemPod(p, 'ingress') && !isTerminating(p));
    const pid = ingressPod?.status.containerStatuses[0]?.pid;
    const r = await syncIngress(this.paths.stateDir, rendered.text, ingressPod && pid ? { netns: podNetns(ingressPod), masterPid: pid } : null);
    if (r.error) {
      this.log(`ingress: configuration refused, the last good one keeps serving: ${r.error}`);
      if (ingressPod) recordEvent(state, { type: 'Warning', reason: 'RELOAD', object: `pod/${ingressPod.metadata.name}`, message: r.error });
    } else if (r.reloadedPid) {
      if (ingressPod) recordEvent(state, { type: 'Normal', reason: 'RELOAD', object: `pod/${ingressPod.metadata.name}`, message: 'NGINX reload triggered due to a change in configuration' });
    }
  }
}

/**
 * One-shot `lab up`: reconcile, then wait (bounded) for the readiness of new containers, since no
 * controller stays behind to run their probes. `lab up --watch` probes continuously instead.
 */
export async function up(opts: ClusterOptions, readinessTimeoutMs = 10_000): Promise<ReconcileResult> {
  const cluster = new Cluster(opts);
  const r = await cluster.reconcile();
  await cluster.awaitReadiness(readinessTimeoutMs);
  // A rollout proceeds as new pods become ready; with no controller staying behind, drive it here.
  for (let i = 0; i < 100 && cluster.rolloutInProgress(); i++) {
    const s = await cluster.step();
    r.created.push(...(s?.created ?? []));
    r.deleted.push(...(s?.deleted ?? []));
    // A rollout whose new pods admission refuses is stuck until the template or the namespace changes.
    if (s && s.refused.length > 0 && s.created.length === 0 && s.deleted.length === 0) break;
    await cluster.awaitReadiness(readinessTimeoutMs);
  }
  await cluster.awaitDeletions();
  return r;
}

export { down, type DownOptions } from './down.ts';

export { instancePaths, type InstancePaths };
