// The runtime side of CNI for one node, as libcni (containernetworking/cni, under containerd's
// go-cni) runs a network configuration list: ADD runs the plugins in order, each given the
// previous one's result as prevResult, and caches the last result; DEL runs them in reverse with
// the cached result and then drops it (a missing cache, namespace or allocation is no error:
// the plugins make DEL idempotent); CHECK runs them in order with the cached result. Plugins run
// in the node's network namespace. `flannel` is run in-process (src/cni/flannel.ts), calling its
// delegate as a real plugin; every other type is an executable in CNI_BIN_DIR.
import type { Netns } from '../sys/exec.ts';
import { deleteCache, readCache, writeCache } from './cache.ts';
import { flannelPlugin } from './flannel.ts';
import { execPlugin } from './invoke.ts';
import { goJson, parseNetConf, PluginListError, pluginConfig, validateRuntimeConf, versionAtLeast, type CniCommand, type CniResult, type NetConfList, type PluginConf, type RuntimeConf } from './spec.ts';

export interface CniConfigOptions {
  /** libcni's cache directory (its `results/` holds the cached results). */
  cacheDir: string;
  /** Where the plugins run: the node's namespace (null: this process's own, host mode). */
  netns: Netns;
  binDir?: string;
}

/** A loaded list and the bytes it was loaded from (cached with each result, as libcni does). */
export interface LoadedList {
  list: NetConfList;
  bytes: string;
}

export function loadedList(bytes: string, file: string): LoadedList {
  return { list: parseNetConf(bytes, file), bytes };
}

export class CniConfig {
  constructor(readonly opts: CniConfigOptions) {}

  async addNetworkList(net: LoadedList, rt: RuntimeConf): Promise<CniResult> {
    const { list } = net;
    validateRuntimeConf(rt, list.name);
    let result: CniResult | undefined;
    for (const p of list.plugins) {
      try {
        result = (await this.invoke(p, 'ADD', pluginConfig(list, p, result, rt), rt)) ?? result;
      } catch (e) {
        throw new PluginListError(p.type, 'ADD', e as Error);
      }
    }
    if (!result) throw new Error(`network ${list.name}: no plugin returned a result`);
    await writeCache(this.opts.cacheDir, list.name, net.bytes, rt, result);
    return result;
  }

  async delNetworkList(net: LoadedList, rt: RuntimeConf): Promise<void> {
    const { list } = net;
    validateRuntimeConf(rt, list.name);
    // The cached result goes to DEL from spec 0.4.0 on.
    const cached = versionAtLeast(list.cniVersion, '0.4.0') ? ((await readCache(this.opts.cacheDir, list.name, rt.containerId, rt.ifName))?.result ?? undefined) : undefined;
    for (const p of [...list.plugins].reverse()) {
      try {
        await this.invoke(p, 'DEL', pluginConfig(list, p, cached, rt), rt);
      } catch (e) {
        throw new PluginListError(p.type, 'DEL', e as Error);
      }
    }
    await deleteCache(this.opts.cacheDir, list.name, rt.containerId, rt.ifName);
  }

  async checkNetworkList(net: LoadedList, rt: RuntimeConf): Promise<void> {
    const { list } = net;
    validateRuntimeConf(rt, list.name);
    if (!versionAtLeast(list.cniVersion, '0.4.0')) throw new Error(`configuration version ${JSON.stringify(list.cniVersion)} does not support the CHECK command`);
    if (list.disableCheck) return;
    const cached = await readCache(this.opts.cacheDir, list.name, rt.containerId, rt.ifName);
    if (!cached?.result) throw new Error(`could not retrieve cached network ${JSON.stringify(list.name)} result`);
    for (const p of list.plugins) {
      try {
        await this.invoke(p, 'CHECK', pluginConfig(list, p, cached.result, rt), rt);
      } catch (e) {
        throw new PluginListError(p.type, 'CHECK', e as Error);
      }
    }
  }

  private invoke(p: PluginConf, command: CniCommand, conf: Record<string, unknown>, rt: RuntimeConf): Promise<CniResult | undefined> {
    const exec = (type: string, cmd: CniCommand, c: Record<string, unknown>) => execPlugin(type, cmd, c, rt, { netns: this.opts.netns, ...(this.opts.binDir ? { binDir: this.opts.binDir } : {}) });
    if (p.type === 'flannel') return flannelPlugin(command, conf, rt.containerId, exec);
    return exec(p.type, command, conf);
  }
}

/** The bytes of a list as libcni would have loaded them from a file (for lists made in code). */
export function listBytes(list: NetConfList): string {
  return goJson(list);
}
