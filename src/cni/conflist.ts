// The network configurations a k3s node's containerd loads: the `10-flannel.conflist` k3s's agent
// writes into its CNI config directory (pkg/agent/flannel, setup_linux.go's cniConf, v1.27 on:
// flannel delegating with hairpinMode, forceAddress and isDefaultGateway, then portmap and
// bandwidth for the kubelet's hostPorts and bandwidth annotations), and the loopback network
// containerd adds itself (go-cni's WithLoNetwork, never a file).
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { loadedList, listBytes, type LoadedList } from './runtime.ts';
import type { NetConfList } from './spec.ts';

export const CONFLIST_FILE = '10-flannel.conflist';

export interface NodeCniFiles {
  /** flannel's subnet.env on this node (k3s: /run/flannel/subnet.env). */
  subnetFile: string;
  /** flannel's saved delegate configs (k3s: /var/lib/cni/flannel). */
  flannelDataDir: string;
  /** host-local's allocations (the plugin's default: /var/lib/cni/networks). */
  ipamDataDir: string;
}

/**
 * k3s's conflist. One node of the lab's sandbox shares the machine's file system with the others,
 * so each node's files are in the instance: the lab adds flannel's own `subnetFile` and `dataDir`
 * keys, and host-local's `dataDir` through flannel's `ipam` (which flannel merges into the IPAM it
 * builds). Everything else is k3s's text.
 */
export function k3sConflist(files: NodeCniFiles): NetConfList {
  return {
    name: 'cbr0',
    cniVersion: '1.0.0',
    plugins: [
      {
        type: 'flannel',
        subnetFile: files.subnetFile,
        dataDir: files.flannelDataDir,
        ipam: { dataDir: files.ipamDataDir },
        delegate: { hairpinMode: true, forceAddress: true, isDefaultGateway: true },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
      { type: 'bandwidth', capabilities: { bandwidth: true } },
    ],
  };
}

export function renderConflist(list: NetConfList): string {
  return `${JSON.stringify(list, null, 2)}\n`;
}

/** containerd's loopback network (CNI 0.3.1: no CHECK, no cached result on DEL). */
export const LOOPBACK: LoadedList = (() => {
  const list: NetConfList = { cniVersion: '0.3.1', name: 'cni-loopback', plugins: [{ type: 'loopback' }] };
  return { list, bytes: listBytes(list) };
})();

/**
 * The node's default network, as containerd picks it: the first file of the config directory in
 * name order with a .conf, .conflist or .json extension.
 */
export async function loadDefaultNetwork(confDir: string): Promise<LoadedList & { file: string }> {
  const names = (await readdir(confDir).catch(() => [] as string[])).filter((n) => /\.(conf|conflist|json)$/.test(n)).sort();
  if (names.length === 0) throw new Error(`no network config found in ${confDir}`);
  const file = path.join(confDir, names[0]!);
  return { ...loadedList(await readFile(file, 'utf8'), file), file };
}
