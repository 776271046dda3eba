// A pod sandbox's network, as k3s's containerd sets it up through go-cni: the loopback network
// and the node's default network (the first conflist of its config directory) are added
// concurrently, each with CNI_CONTAINERID = the sandbox's ID, CNI_NETNS = the sandbox's network
// namespace, CNI_IFNAME lo / eth0 and containerd's CNI_ARGS (the pod's namespace, name, sandbox ID
// and uid); a failed setup is torn down again. Teardown deletes every network the cache lists for
// the sandbox, loopback first, each with the configuration it was added with. Setups and teardowns
// of many pods run concurrently, a few at a time.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { InstancePaths } from '../node/instance.ts';
import { BRIDGE } from '../node/node.ts';
import type { Netns } from '../sys/exec.ts';
import { netnsExists } from '../sys/ip.ts';
import { Semaphore } from '../util/semaphore.ts';
import { cacheFile, cachedConfig, listCache, type CacheEntry } from './cache.ts';
import { LOOPBACK, loadDefaultNetwork, type NodeCniFiles } from './conflist.ts';
import { savedContainerIds } from './flannel.ts';
import { CniConfig, loadedList, type LoadedList } from './runtime.ts';
import { containerIPs, hostVeth, type CniResult, type RuntimeConf } from './spec.ts';

/** The node whose CNI this is: its files, and the namespace its plugins run in. */
export interface CniNode {
  name: string;
  netns: Netns;
  paths: InstancePaths;
}

export interface NodeCniDirs extends NodeCniFiles {
  confDir: string;
  /** libcni's cache directory (/var/lib/cni on a node): results/ holds the cached results. */
  cacheDir: string;
}

/** The node's CNI files, laid out as on a k3s node under the node's directory of the instance. */
export function nodeCniDirs(paths: InstancePaths, node: string): NodeCniDirs {
  const ipamDataDir = paths.cniDataDir(node); // <node>/cni/networks, as /var/lib/cni/networks
  const cacheDir = path.dirname(ipamDataDir); // <node>/cni, as /var/lib/cni
  return { confDir: paths.cniConfDir(node), subnetFile: paths.subnetEnvFile(node), ipamDataDir, flannelDataDir: path.join(cacheDir, 'flannel'), cacheDir };
}

/** The pod a sandbox belongs to, and its network namespace's name. */
export interface SandboxRef {
  name: string;
  namespace: string;
  uid: string;
  netns: string;
}

/** One sandbox's attachment to the default network, as its cached ADD result records it. */
export interface PodAttachment {
  containerId: string;
  /** The network namespace's name (from /run/netns/<name>). */
  netns: string;
  network: string;
  ifName: string;
  /** The pod, from containerd's CNI_ARGS (K8S_POD_NAMESPACE, K8S_POD_NAME, K8S_POD_UID). */
  pod: { namespace?: string; name?: string; uid?: string };
  result: CniResult;
  /** The cache file it was read from. */
  file: string;
}

/** Pods whose network is set up or torn down at once (each is a few plugin processes in a row). */
export const NETWORK_PARALLEL = 8;
const limit = new Semaphore(NETWORK_PARALLEL);

const netnsPath = (name: string) => `/run/netns/${name}`;

function attachmentOf(e: CacheEntry, dirs: NodeCniDirs): PodAttachment | null {
  if (!e.result || !e.netns) return null;
  const args = new Map(e.cniArgs ?? []);
  return {
    containerId: e.containerId,
    netns: path.basename(e.netns),
    network: e.networkName,
    ifName: e.ifName,
    pod: { namespace: args.get('K8S_POD_NAMESPACE'), name: args.get('K8S_POD_NAME'), uid: args.get('K8S_POD_UID') },
    result: e.result,
    file: cacheFile(dirs.cacheDir, e.networkName, e.containerId, e.ifName),
  };
}

/** The pod's address and the host end of its veth, from what the plugins returned. */
export function attachmentAddresses(a: PodAttachment): { podIP?: string; veth?: string } {
  return { podIP: containerIPs(a.result)[0], veth: hostVeth(a.result, BRIDGE) };
}

/** The node's cached attachments to its default network (every network but loopback). Files only. */
export async function readAttachments(paths: InstancePaths, node: string): Promise<PodAttachment[]> {
  const dirs = nodeCniDirs(paths, node);
  return (await listCache(dirs.cacheDir)).filter((e) => e.networkName !== LOOPBACK.list.name).flatMap((e) => attachmentOf(e, dirs) ?? []);
}

/** The nodes with files in the instance (<stateDir>/nodes/<node>). */
export async function instanceNodes(paths: InstancePaths): Promise<string[]> {
  return (await readdir(path.dirname(paths.nodeDir('x'))).catch(() => [] as string[])).sort();
}

/** Every node's cached attachments, by network namespace name. Files only. */
export async function readAllAttachments(paths: InstancePaths): Promise<Map<string, PodAttachment & { node: string }>> {
  const out = new Map<string, PodAttachment & { node: string }>();
  for (const node of await instanceNodes(paths)) for (const a of await readAttachments(paths, node)) out.set(a.netns, { ...a, node });
  return out;
}

export class PodNetworks {
  readonly dirs: NodeCniDirs;
  private readonly cni: CniConfig;

  private constructor(
    readonly node: CniNode,
    /** The default network; null when there is none to load (setUp then fails; teardown uses the cached configs). */
    readonly network: (LoadedList & { file: string }) | null,
    private readonly loadError?: string,
  ) {
    this.dirs = nodeCniDirs(node.paths, node.name);
    this.cni = new CniConfig({ cacheDir: this.dirs.cacheDir, netns: node.netns });
  }

  /** The node's networks, its default one loaded from its config directory as containerd does. */
  static async load(node: CniNode): Promise<PodNetworks> {
    try {
      return new PodNetworks(node, await loadDefaultNetwork(nodeCniDirs(node.paths, node.name).confDir));
    } catch (e) {
      return new PodNetworks(node, null, (e as Error).message);
    }
  }

  /** For teardown only: every DEL uses the configuration its ADD cached. */
  static forTeardown(node: CniNode): PodNetworks {
    return new PodNetworks(node, null, 'not loaded');
  }

  /** "cbr0 (10-flannel.conflist: flannel, portmap, bandwidth)". */
  describe(): string {
    const n = this.network;
    return n ? `${n.list.name} (${path.basename(n.file)}: ${n.list.plugins.map((p) => p.type).join(', ')})` : '';
  }

  private runtimeConf(pod: SandboxRef, containerId: string, ifName: string): RuntimeConf {
    return {
      containerId,
      netns: netnsPath(pod.netns),
      ifName,
      args: [
        ['IgnoreUnknown', '1'],
        ['K8S_POD_NAMESPACE', pod.namespace],
        ['K8S_POD_NAME', pod.name],
        ['K8S_POD_INFRA_CONTAINER_ID', containerId],
        ['K8S_POD_UID', pod.uid],
      ],
      // containerd always passes the pod's hostPorts (the lab's pods have none) and the bandwidth
      // only for a pod with kubernetes.io/ingress-bandwidth or egress-bandwidth (not supported).
      capabilityArgs: { portMappings: [] },
    };
  }

  /** Adds the sandbox to loopback and the default network; its attachment to the latter. */
  setUp(pod: SandboxRef, containerId: string): Promise<PodAttachment> {
    const net = this.network;
    // containerd's words when its CNI config directory has nothing usable.
    if (!net) return Promise.reject(new Error(`failed to setup network for sandbox ${JSON.stringify(containerId)}: cni plugin not initialized (${this.loadError})`));
    return limit.run(async () => {
      const [lo, main] = await Promise.allSettled([this.cni.addNetworkList(LOOPBACK, this.runtimeConf(pod, containerId, 'lo')), this.cni.addNetworkList(net, this.runtimeConf(pod, containerId, 'eth0'))]);
      if (lo.status === 'rejected' || main.status === 'rejected') {
        // containerd removes what a failed setup made before it reports it.
        await this.del(containerId, pod.netns, [LOOPBACK, net], this.runtimeConf(pod, containerId, '')).catch(() => {});
        const why = (lo.status === 'rejected' ? lo.reason : (main as PromiseRejectedResult).reason) as Error;
        throw new Error(`failed to setup network for sandbox ${JSON.stringify(containerId)}: ${why.message}`, { cause: why });
      }
      const rt = this.runtimeConf(pod, containerId, 'eth0');
      return attachmentOf({ kind: 'cniCacheV1', containerId, config: '', ifName: rt.ifName, networkName: net.list.name, netns: rt.netns, cniArgs: rt.args, result: main.value }, this.dirs)!;
    });
  }

  /**
   * Removes the sandbox from every network its cache lists (loopback first, as go-cni's Remove),
   * each with the configuration and CNI_ARGS it was added with. CNI_NETNS is empty once the
   * namespace is gone: the plugins then release what they hold outside it (host-local's address).
   */
  tearDown(containerId: string, netns: string): Promise<void> {
    return limit.run(async () => {
      const entries = (await listCache(this.dirs.cacheDir)).filter((e) => e.containerId === containerId);
      entries.sort((a, b) => Number(b.networkName === LOOPBACK.list.name) - Number(a.networkName === LOOPBACK.list.name));
      for (const e of entries) {
        const l = { ...loadedList(cachedConfig(e), e.networkName), ifName: e.ifName };
        await this.del(containerId, netns, [l], { containerId, netns: '', ifName: e.ifName, args: e.cniArgs ?? [], capabilityArgs: e.capabilityArgs ?? {} });
      }
    });
  }

  private async del(containerId: string, netns: string, lists: (LoadedList & { ifName?: string })[], base: RuntimeConf): Promise<void> {
    for (const l of lists) {
      const ifName = l.ifName ?? (l.list.name === LOOPBACK.list.name ? 'lo' : 'eth0');
      try {
        await this.cni.delNetworkList(l, { ...base, containerId, ifName, netns: netns && netnsExists(netns) ? netnsPath(netns) : '' });
      } catch (e) {
        throw new Error(`failed to destroy network for sandbox ${JSON.stringify(containerId)}: ${(e as Error).message}`, { cause: e });
      }
    }
  }

  /** Tears down every sandbox whose attachment is cached for one of the namespaces. */
  async tearDownNetns(netnsNames: string[]): Promise<void> {
    const wanted = new Set(netnsNames.map(netnsPath));
    const ids = new Map<string, string>();
    for (const e of await listCache(this.dirs.cacheDir)) if (e.netns && wanted.has(e.netns)) ids.set(e.containerId, path.basename(e.netns));
    await settleAll([...ids].map(([id, netns]) => this.tearDown(id, netns)));
  }

  /**
   * Garbage collection of the node's CNI state, as a restarted kubelet needs it. A sandbox is live
   * when its default network's result is cached for a namespace in `keep`; of every other sandbox,
   * what the cache lists is torn down, and an ADD flannel saved but whose result was never cached
   * (the server killed while bridge ran: loopback, quicker, may be cached already) is deleted
   * through flannel, which hands bridge and host-local the config it saved, so that the address
   * comes back. Returns what it removed.
   */
  async collectGarbage(keep: Set<string>): Promise<string[]> {
    const entries = await listCache(this.dirs.cacheDir);
    const isDefault = (e: CacheEntry) => e.networkName !== LOOPBACK.list.name;
    const live = new Set(entries.filter((e) => isDefault(e) && e.netns && keep.has(path.basename(e.netns))).map((e) => e.containerId));
    const stale = new Map<string, { netns: string; added: boolean }>();
    for (const e of entries) {
      if (live.has(e.containerId)) continue;
      const s = stale.get(e.containerId) ?? { netns: '', added: false };
      if (e.netns) s.netns = path.basename(e.netns);
      if (isDefault(e)) s.added = true;
      stale.set(e.containerId, s);
    }
    const net = this.network;
    const saved = net ? (await savedContainerIds(this.dirs.flannelDataDir)).filter((id) => !live.has(id) && /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(id)) : [];
    const unfinished = saved.filter((id) => !stale.get(id)?.added);
    await settleAll([
      ...[...stale].map(([id, s]) => this.tearDown(id, s.netns)),
      ...unfinished.map((id) => limit.run(() => this.del(id, stale.get(id)?.netns ?? '', [net!], { containerId: id, netns: '', ifName: 'eth0', args: [], capabilityArgs: {} }))),
    ]);
    return [...[...stale].filter(([, s]) => s.added).map(([id, s]) => `${s.netns || '?'} (sandbox ${id.slice(0, 13)})`), ...unfinished.map((id) => `unfinished ADD of sandbox ${id.slice(0, 13)}`)];
  }
}

/** Waits for all; then throws the first failure (every one was tried). */
async function settleAll(work: Promise<unknown>[]): Promise<void> {
  const failed = (await Promise.allSettled(work)).find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
}
