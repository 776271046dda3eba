// A node's CNI files before its kubelet starts: the conflist k3s's agent writes into its CNI config
// directory (flannel.Prepare -> createCNIConf), and, until the lab's flanneld (src/flannel) runs on
// the node and writes it itself, the node's subnet.env as flanneld would: the cluster CIDR, the
// node's pod CIDR, the VXLAN MTU and FLANNEL_IPMASQ=true. Both are read by the flannel plugin at
// every ADD; cni0 is made by the bridge plugin on the first one.
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { renderSubnetEnv, VXLAN_OVERHEAD } from '../flannel/subnet-env.ts';
import type { InstancePaths } from '../node/instance.ts';
import type { LabNode } from '../node/node.ts';
import { writeFileAtomic } from '../sys/files.ts';
import { parseCidr } from '../util/cidr.ts';
import { CONFLIST_FILE, k3sConflist, renderConflist } from './conflist.ts';
import { nodeCniDirs } from './pod-network.ts';

/** The node network's MTU (eth1, VirtualBox's default) less VXLAN's outer headers: 1450. */
export const POD_MTU = 1500 - VXLAN_OVERHEAD;

export async function writeNodeCniConfig(node: Pick<LabNode, 'name' | 'podCIDR'>, paths: InstancePaths, opts: { clusterCIDR: string; subnetEnv?: boolean }): Promise<void> {
  const dirs = nodeCniDirs(paths, node.name);
  if (opts.subnetEnv ?? true) {
    await mkdir(path.dirname(dirs.subnetFile), { recursive: true });
    const text = renderSubnetEnv({ network: parseCidr(opts.clusterCIDR), subnet: node.podCIDR, mtu: POD_MTU, ipMasq: true });
    await replaceIfChanged(dirs.subnetFile, text);
  }
  await mkdir(dirs.confDir, { recursive: true });
  await replaceIfChanged(path.join(dirs.confDir, CONFLIST_FILE), renderConflist(k3sConflist(dirs)));
}

/** Replaced whole when it changed: an ADD may be reading it at this moment. */
async function replaceIfChanged(file: string, text: string): Promise<void> {
  if ((await readFile(file, 'utf8').catch(() => null)) !== text) await writeFileAtomic(file, text);
}
