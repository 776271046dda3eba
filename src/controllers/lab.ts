// The control plane in one place, in the order of a real cluster's reconcile: API (declared state)
// -> ReplicaSet controller -> scheduler -> kubelet (CNI + containers) -> endpoints -> kube-proxy.
// `up` converges once; it is idempotent: over a running instance it changes nothing that is right.
import { existsSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { loadDesiredState } from '../api/load.ts';
import { isDns1123Subdomain } from '../api/names.ts';
import { readState, recordEvent, writeState, type LabState } from '../api/store.ts';
import { key, type ClusterConfig, type DesiredState, type Pod } from '../api/types.ts';
import { size } from '../cni/cidr.ts';
import { assignSandbox, removePods, syncPods, NETNS_ANNOTATION } from '../kubelet/kubelet.ts';
import { instancePaths, type InstancePaths } from '../node/instance.ts';
import { describeNode, type LabNode, type NodeMode } from '../node/node.ts';
import { ensureNode, teardownNode } from '../node/setup.ts';
import { schedule } from '../scheduler/scheduler.ts';
import { observeLinks } from '../sys/ip.ts';
import { planReplicaSets } from './replicaset.ts';

export interface UpOptions {
  instance: string;
  statePath: string;
  configPath: string;
  mode?: NodeMode;
  log?: (line: string) => void;
}

export interface UpResult {
  state: LabState;
  desired: DesiredState;
  node: LabNode;
  created: Pod[];
  deleted: Pod[];
}

/** Host mode when an interface of this namespace already holds the node IP (the Vagrant VM). */
export async function detectMode(config: ClusterConfig): Promise<NodeMode> {
  const links = await observeLinks(null);
  for (const l of links.values()) if (l.addrs.some((a) => a.split('/')[0] === config.nodeIP)) return 'host';
  return 'sandbox';
}

/** Annotation on an Ingress naming extra hosts the laptop maps to the node (e.g. app3.com). */
export const LAPTOP_HOSTS_ANNOTATION = 'lab/laptop-hosts';

/**
 * The sandbox laptop's /etc/hosts line: every exact Ingress host, plus the names an Ingress lists
 * in its `lab/laptop-hosts` annotation (a host served only by the default backend has no rule).
 */
export function laptopHostsLines(desired: DesiredState, config: ClusterConfig): string[] {
  const hosts = new Set<string>();
  for (const ing of desired.ingresses) {
    for (const r of ing.spec.rules) if (r.host && !r.host.startsWith('*')) hosts.add(r.host);
    for (const h of (ing.metadata.annotations[LAPTOP_HOSTS_ANNOTATION] ?? '').split(/[\s,]+/).filter(Boolean)) {
      if (!isDns1123Subdomain(h)) throw new Error(`${ing.source.file}:${ing.source.line}: Ingress ${key(ing.metadata)}: metadata.annotations.${LAPTOP_HOSTS_ANNOTATION}: ${JSON.stringify(h)} is not a valid host name`);
      hosts.add(h);
    }
  }
  return hosts.size ? [`${config.nodeIP}\t${[...hosts].sort().join(' ')}`] : [];
}

function newState(instance: string, mode: NodeMode, config: ClusterConfig): LabState {
  return { version: 1, instance, mode, nodeName: config.nodeName, nodeIP: config.nodeIP, createdAt: new Date().toISOString(), pods: {}, serviceAllocations: {}, events: [] };
}

export async function up(opts: UpOptions): Promise<UpResult> {
  const log = opts.log ?? (() => {});
  const paths = instancePaths(opts.instance);
  const desired = await loadDesiredState({ statePath: opts.statePath, configPath: opts.configPath });
  const prior = await readState(paths.stateFile);
  const mode = opts.mode ?? prior?.mode ?? (await detectMode(desired.config));
  if (prior && prior.mode !== mode) throw new Error(`instance ${opts.instance} is running in ${prior.mode} mode; run 'lab down --name ${opts.instance}' first`);
  const node = describeNode(desired.config, mode, paths);
  const state = prior ?? newState(opts.instance, mode, desired.config);

  log(`node ${node.name} (${mode} mode): ${mode === 'sandbox' ? `namespace ${paths.nodeNetns}, ` : ''}eth1 ${node.nodeIP}, cni0 ${node.gateway}`);
  await ensureNode(node, paths, { hostsLines: laptopHostsLines(desired, desired.config) });

  // ReplicaSet controller: decide which pods should exist. New pods are recorded before any
  // kernel object is made, so an interrupted `up` can always be finished or torn down.
  const pods = Object.values(state.pods);
  const rs = planReplicaSets(desired.deployments, pods);
  for (const p of rs.create) {
    assignSandbox(p, paths);
    state.pods[p.metadata.name] = p;
    recordEvent(state, { type: 'Normal', reason: 'SuccessfulCreate', object: `replicaset/${p.metadata.ownerReferences?.[0]?.name}`, message: `Created pod: ${p.metadata.name}` });
  }
  await writeState(paths.stateFile, state);

  if (rs.delete.length) {
    log(`deleting ${rs.delete.length} pod(s): ${rs.delete.map((p) => p.metadata.name).join(', ')}`);
    await removePods({ paths }, rs.delete);
    for (const p of rs.delete) {
      delete state.pods[p.metadata.name];
      recordEvent(state, { type: 'Normal', reason: 'Killing', object: `pod/${p.metadata.name}`, message: 'Stopping container' });
    }
    await writeState(paths.stateFile, state);
  }

  // Scheduler: place unscheduled pods (one node today; the planner already takes a list).
  const all = Object.values(state.pods);
  const unscheduled = all.filter((p) => !p.spec.nodeName);
  const placement = schedule(unscheduled, [{ name: node.name, capacity: size(node.podCIDR) - 3 }], all);
  for (const p of unscheduled) {
    const n = placement.get(p.metadata.name);
    if (!n) continue;
    p.spec.nodeName = n;
    recordEvent(state, { type: 'Normal', reason: 'Scheduled', object: `pod/${p.metadata.name}`, message: `Successfully assigned ${key(p.metadata)} to ${n}` });
  }

  // Kubelet: sandboxes and containers.
  const configMaps = new Map(desired.configMaps.map((c) => [key(c.metadata), c]));
  const onNode = Object.values(state.pods).filter((p) => p.spec.nodeName === node.name);
  if (rs.create.length) log(`creating ${rs.create.length} pod(s)`);
  await syncPods(
    {
      node,
      paths,
      config: desired.config,
      configMaps,
      onProgress: log,
      onEvent: (pod, type, reason, message) => recordEvent(state, { type, reason, object: `pod/${pod.metadata.name}`, message }),
    },
    onNode,
  );
  await writeState(paths.stateFile, state);
  return { state, desired, node, created: rs.create, deleted: rs.delete };
}

export interface DownOptions {
  instance: string;
  log?: (line: string) => void;
}

/** Removes everything of the instance. Idempotent: a second `down` finds nothing and succeeds. */
export async function down(opts: DownOptions): Promise<void> {
  const log = opts.log ?? (() => {});
  const paths = instancePaths(opts.instance);
  const state = await readState(paths.stateFile);
  const pods = Object.values(state?.pods ?? {});
  // Pod directories name pods the state file might have lost (a crash between two writes).
  for (const name of await readdir(`${paths.stateDir}/pods`).catch(() => [] as string[])) {
    if (!state?.pods[name]) pods.push({ metadata: { name, annotations: { [NETNS_ANNOTATION]: paths.podNetns(name) } }, spec: {} } as unknown as Pod);
  }
  if (pods.length) log(`stopping ${pods.length} pod(s)`);
  await removePods({ paths }, pods, { graceSeconds: 5 });
  const mode = state?.mode ?? (existsSync(`/run/netns/${paths.nodeNetns}`) ? 'sandbox' : 'host');
  if (mode === 'sandbox' || state) {
    const node = { mode, netns: mode === 'sandbox' ? paths.nodeNetns : null } as LabNode;
    await teardownNode(node, paths);
  }
  await rm(paths.stateDir, { recursive: true, force: true });
  log(`instance ${opts.instance} removed`);
}

export { instancePaths, type InstancePaths };
