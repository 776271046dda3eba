// Stopping pods, as the kubelet's KillPod: each container's first process gets SIGTERM, then
// SIGKILL when the grace period is over; then the sandbox; then the network (CNI DEL, which gives
// the address back), the files and the cgroups. The PID namespace does the rest: when a container's first
// process dies the kernel kills every other process in it, so nothing is hunted by name.
//
// A container's first process is PID 1 of its namespace, and the kernel delivers to it, from
// outside, only signals it has a handler for (and SIGKILL): busybox httpd ignores SIGTERM, so its
// pod takes its whole terminationGracePeriodSeconds to stop, exactly as on a real cluster.
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { PodNetworks, type CniNode } from '../cni/pod-network.ts';
import type { InstancePaths } from '../node/instance.ts';
import { deleteNetns } from '../sys/ip.ts';
import { mountsUnderAny, unmount } from '../sys/mount.ts';
import { isRunning, signalProcess } from '../sys/proc.ts';
import type { ListedContainer } from './runtime.ts';
import { runtimeFor } from './runc.ts';

/** What the kubelet needs to remove a pod. */
export interface PodToRemove {
  name: string;
  netns: string;
  uid: string;
  terminationGracePeriodSeconds: number;
}

function signal(pids: number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      signalProcess(pid, sig);
    } catch {
      /* exited meanwhile */
    }
  }
}

async function waitGone(pids: number[], deadline: number): Promise<boolean> {
  while (pids.some(isRunning)) {
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

/** A listed container's bundle directory: <podDir>/sandbox, or <podDir>/containers/<name>. */
export function bundleDir(paths: InstancePaths, c: Pick<ListedContainer, 'kind' | 'name' | 'pod'>): string {
  return path.join(paths.podDir(c.pod.name), c.kind === 'sandbox' ? 'sandbox' : path.join('containers', c.name));
}

/**
 * The kubelet's StopContainer for one pod's containers (not its sandbox): SIGTERM to each
 * container's first process, SIGKILL once `grace` seconds are over; resolves as soon as they are
 * gone, so a pod that stops at SIGTERM is not held for its grace period. What is left of the pod
 * (the pause container, runc's state of a container whose waiter was killed, the root filesystem
 * mounts) goes with its network in removePods, once for all the pods that finished together.
 */
export async function stopContainersOf(paths: InstancePaths, pod: string, grace: number): Promise<void> {
  const listed = await runtimeFor(paths).listContainers();
  await killContainers(listed.filter((c) => c.pod.name === pod && c.kind === 'container' && c.pid > 0).map((c) => c.pid), grace);
}

/** SIGTERM, then SIGKILL after `grace` seconds (at once when 0); resolves once the processes are gone. */
async function killContainers(pids: number[], grace: number): Promise<void> {
  if (pids.length === 0) return;
  if (grace > 0) {
    signal(pids, 'SIGTERM');
    if (await waitGone(pids, Date.now() + grace * 1000)) return;
  }
  signal(pids, 'SIGKILL');
  await waitGone(pids, Date.now() + 2000);
}

/**
 * Stops every container (and the sandbox) of the named pods, found in the runtime's list, and
 * removes them: SIGTERM to the containers, SIGKILL after `grace` seconds, then the pause containers.
 */
export async function removeContainersOf(paths: InstancePaths, pods: { name: string; grace: number }[], listed?: ListedContainer[]): Promise<void> {
  const runtime = runtimeFor(paths);
  const all = listed ?? (await runtime.listContainers());
  const names = new Set(pods.map((p) => p.name));
  const mine = all.filter((c) => names.has(c.pod.name));
  // Root filesystems stay mounted after their containers (runc's waiter does not unmount them):
  // one read of the mount table for all the pods.
  const unmountAll = () => unmount(mountsUnderAny(pods.map((p) => paths.podDir(p.name))));
  if (mine.length === 0) return unmountAll();
  const grace = Math.min(...pods.map((p) => p.grace));
  await killContainers(mine.filter((c) => c.kind === 'container' && c.pid > 0).map((c) => c.pid), grace);
  const sandboxes = mine.filter((c) => c.kind === 'sandbox' && c.pid > 0).map((c) => c.pid);
  signal(sandboxes, 'SIGKILL');
  await waitGone(sandboxes, Date.now() + 2000);
  // Their waiters delete them from runc's state as they exit; what is left (a waiter that was
  // itself killed) is deleted here (`runc delete --force`), then the root filesystem mounts.
  const left = new Set((await runtime.listContainers()).map((c) => c.id));
  await Promise.all(mine.filter((c) => left.has(c.id)).map((c) => runtime.deleteContainer(c.id)));
  await unmountAll();
}

/**
 * Stops and removes pods: their containers (up to the grace period), then their network (CNI DEL
 * through the node's plugins, with what each ADD cached; then the namespace), files and cgroups.
 * `cni`: the node whose plugins attached them (none: only the namespaces are deleted). A DEL that
 * fails throws, after everything else was removed, unless `onNetworkError` takes it (`lab down`
 * goes on whatever a plugin says).
 */
export async function removePods(ctx: { paths: InstancePaths; cni?: CniNode | null }, pods: PodToRemove[], opts: { graceSeconds?: number; onNetworkError?: (e: Error) => void } = {}): Promise<void> {
  if (pods.length === 0) return;
  const { paths } = ctx;
  const netnsNames = pods.map((p) => p.netns);
  const grace = Math.min(opts.graceSeconds ?? Infinity, ...pods.map((p) => p.terminationGracePeriodSeconds));
  await removeContainersOf(paths, pods.map((p) => ({ name: p.name, grace })));
  let networkError: Error | undefined;
  if (ctx.cni) {
    await PodNetworks.forTeardown(ctx.cni)
      .tearDownNetns(netnsNames)
      .catch((e: Error) => {
        if (opts.onNetworkError) opts.onNetworkError(e);
        else networkError = e;
      });
  }
  if (networkError) throw networkError;
  await deleteNetns(netnsNames);
  await Promise.all([
    ...pods.map((p) => rm(paths.podDir(p.name), { recursive: true, force: true })),
    ...netnsNames.map((n) => rm(paths.netnsEtc(n), { recursive: true, force: true })),
  ]);
  const runtime = runtimeFor(paths);
  runtime.removePodCgroups(pods.map((p) => ({ name: p.name, namespace: '', uid: p.uid })));
}
