// `lab down`'s work: everything the instance made goes, whoever made it and however it stopped.
// The caller holds the instance (src/cli/lock.ts), so its server has stopped: nothing adds pods
// while this runs, except children a server killed with SIGKILL left behind for a moment.
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { instanceNodes, PodNetworks, type CniNode } from '../cni/pod-network.ts';
import { runtimeFor } from '../kubelet/runc.ts';
import { removePods, type PodToRemove } from '../kubelet/teardown.ts';
import { agentPaths, instancePaths, type InstancePaths } from '../node/instance.ts';
import { agentNodes, stopAgents } from './agent-machines.ts';
import { podsOf } from './node-pods.ts';
import type { LabNode, NodeMode } from '../node/node.ts';
import { hostSysctlsFile, teardownNode } from '../node/setup.ts';
import { teardownProxyRules } from '../proxy/index.ts';
import { teardownNftTable } from '../proxy/nft-teardown.ts';
import { LAB_TRACE_TABLE } from '../proxy/nft-names.ts';
import { teardownFlannel } from '../flannel/dataplane.ts';
import { netnsExists } from '../sys/ip.ts';
import { K3S_KUBECONFIG } from './server.ts';

export interface DownOptions {
  instance: string;
  log?: (line: string) => void;
  /**
   * The instance lock the caller holds (`lab down`, src/cli/lock.ts), a file in the instance's
   * directory: everything else is removed first, the lock file last, by its holder.
   */
  lock?: { file: string; unlinkHeld(): void };
}

/** How many times `down` sweeps at most: again only when a sweep finds something it had removed come back. */
const DOWN_SWEEPS = 3;

/**
 * Removes everything of the instance. Idempotent: a second `down` finds nothing and succeeds.
 *
 * Pods are found in every place that names them (podsOf), on every node. A server killed with
 * SIGKILL leaves its children running for a moment (an `ip -batch` still adding namespaces, a
 * container still starting): the sweep runs again while anything it removed is back, so down
 * ends with nothing left.
 */
export async function down(opts: DownOptions): Promise<void> {
  const log = opts.log ?? (() => {});
  const paths = instancePaths(opts.instance);
  // Agents first: a running agent would start again what the sweep removes.
  const agents = await agentNodes(paths);
  await stopAgents(paths, agents, log);
  // The server's node and each agent's keep their pods apart (agentPaths): each is swept alone.
  // Agents' first: the server's runtime removes the instance's whole cgroup tree, theirs included.
  const roots = [...agents.map((n) => agentPaths(opts.instance, n)), paths];
  const agentNetns = agents.map((n) => paths.agentNetns(n));
  const pods = new Map<InstancePaths, PodToRemove[]>();
  for (const root of roots) pods.set(root, await podsOf(root));
  // The sandbox's node namespace, or host mode's record of the sysctls it changed, which is
  // written before anything else is.
  const mode: NodeMode | null = netnsExists(paths.nodeNetns) ? 'sandbox' : existsSync(hostSysctlsFile(paths)) ? 'host' : null;
  const count = [...pods.values()].reduce((n, l) => n + l.length, 0);
  if (count) log(`stopping ${count} pod(s)`);
  // Where each root's CNI plugins run to DEL its pods: its machine's namespace (an agent's, or the
  // server's; host mode: this one), while it is there. Without one there is nothing of the
  // network left but files, which go with the instance's directory.
  const machineOf = (root: InstancePaths): string | null => (root === paths ? paths.nodeNetns : paths.agentNetns(path.basename(root.stateDir)));
  const cniNodes = async (root: InstancePaths): Promise<CniNode[]> => {
    if (!mode || (mode === 'sandbox' && !netnsExists(machineOf(root)!))) return [];
    const netns = mode === 'sandbox' ? machineOf(root) : null;
    return (await instanceNodes(root)).map((name) => ({ name, netns, paths: root }));
  };
  const cniError = (e: Error) => log(`CNI DEL: ${e.message}`);

  const leftovers = async (): Promise<string[]> => [
    ...(await Promise.all(roots.map(async (root) => (await runtimeFor(root).listContainers()).map((c) => `container ${c.id.slice(0, 13)} (${c.pod.name}${c.name ? `/${c.name}` : ''})`)))).flat(),
    ...[...[...pods.values()].flat().map((p) => p.netns), ...(mode === 'host' ? [] : [...agentNetns, paths.nodeNetns, paths.hostNetns])].filter((n) => netnsExists(n) || existsSync(paths.netnsEtc(n))),
  ];
  for (let sweep = 1; ; sweep++) {
    for (const root of roots) {
      // Tearing the lab down is not a graceful deletion: every container is killed at once.
      const cni = await cniNodes(root);
      await removePods({ paths: root, cni: cni[0] ?? null }, pods.get(root)!, { graceSeconds: 0, onNetworkError: cniError });
      // What no pod names: ADDs cut short (flannel saved their config, nothing cached a result).
      for (const n of cni) await (await PodNetworks.load(n)).collectGarbage(new Set()).catch(cniError);
      // Containers of pods nothing else names (a server killed while it started them).
      const busy = await runtimeFor(root).removeAll({ cgroups: root === paths });
      if (busy.length) log(`cgroups still in use: ${busy.join(', ')}`);
    }
    if (mode) {
      const node = { mode, netns: mode === 'sandbox' ? paths.nodeNetns : null } as LabNode;
      // Only the chains and jump rules kube-proxy creates; any other rule in the node stays.
      if (mode === 'host' || netnsExists(paths.nodeNetns)) {
        await teardownProxyRules(node.netns);
        // nftables mode's table (kube-proxy's CleanupLeftovers); none in iptables mode.
        await teardownNftTable(node.netns);
        // A `lab trace` in nftables mode killed before it removed its table (host mode: the machine's).
        await teardownNftTable(node.netns, LAB_TRACE_TABLE);
      }
      // Host mode: flannel.1 and the FLANNEL-* rules are the machine's (a sandbox's go with its namespace).
      if (mode === 'host') await teardownFlannel(null);
      await teardownNode(node, paths, agentNetns);
      if (mode === 'host') await removeOwnKubeconfig(paths);
    }
    // Processes killed above take a moment to go; namespaces others were still adding appear late.
    await new Promise((r) => setTimeout(r, 50));
    const back = await leftovers();
    if (back.length === 0) break;
    if (sweep === DOWN_SWEEPS) throw new Error(`instance ${opts.instance}: still there after ${sweep} sweeps: ${back.join(', ')}`);
    log(`sweeping again: ${back.join(', ')}`);
  }
  await removeStateDir(paths.stateDir, opts.lock);
  log(`instance ${opts.instance} removed`);
}

/** Host mode: k3s.yaml, if it is this instance's (it names this instance's server CA), goes with it. */
async function removeOwnKubeconfig(paths: InstancePaths): Promise<void> {
  const [config, ca] = await Promise.all([readFile(K3S_KUBECONFIG, 'utf8').catch(() => ''), readFile(path.join(paths.tlsDir, 'server-ca.crt'), 'utf8').catch(() => '')]);
  if (config && ca && config.includes(Buffer.from(ca).toString('base64'))) await rm(K3S_KUBECONFIG, { force: true });
}

/** The instance's directory, the held lock file last (see DownOptions.lock). */
async function removeStateDir(dir: string, lock: DownOptions['lock']): Promise<void> {
  if (!lock) {
    await rm(dir, { recursive: true, force: true });
    if (existsSync(dir)) throw new Error(`could not remove ${dir}`);
    return;
  }
  const keep = path.basename(lock.file);
  for (const entry of await readdir(dir).catch(() => [] as string[])) if (entry !== keep) await rm(path.join(dir, entry), { recursive: true, force: true });
  lock.unlinkHeld();
  try {
    await rmdir(dir);
  } catch (e) {
    // ENOTEMPTY with a lock file in it: a `lab up` has taken the instance since ours went; it is its now.
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && !(code === 'ENOTEMPTY' && existsSync(lock.file))) throw e;
  }
}
