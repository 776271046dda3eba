// Where a node's pods are named outside the API (`lab down`, a node leaving the cluster).
import { readdir } from 'node:fs/promises';
import { instanceNodes, readAttachments } from '../cni/pod-network.ts';
import { runtimeFor } from '../kubelet/runc.ts';
import type { PodToRemove } from '../kubelet/teardown.ts';
import type { InstancePaths } from '../node/instance.ts';

/**
 * The pods one node's files name, not the API's (its server may never have written a pod it had
 * started making): the runtime's containers (their OCI annotations name the pod and its uid), pod
 * directories (made before a pod's namespace) and the nodes' cached CNI results.
 */
export async function podsOf(paths: InstancePaths): Promise<PodToRemove[]> {
  const runtime = runtimeFor(paths);
  const pods = new Map<string, PodToRemove>();
  const found = (name: string, uid = name) => {
    if (!pods.has(name)) pods.set(name, { name, netns: paths.podNetns(name), uid, terminationGracePeriodSeconds: 0 });
  };
  for (const c of await runtime.listContainers().catch(() => [])) if (c.pod.name) found(c.pod.name, c.pod.uid || c.pod.name);
  for (const name of await readdir(`${paths.stateDir}/pods`).catch(() => [] as string[])) found(name);
  for (const node of await instanceNodes(paths)) for (const a of await readAttachments(paths, node)) if (a.netns.startsWith(paths.netnsPrefix)) found(a.netns.slice(paths.netnsPrefix.length), a.pod.uid);
  return [...pods.values()];
}
