// A node's CNI config before its kubelet starts: the conflist k3s's agent writes into its CNI
// config directory (flannel.Prepare -> createCNIConf). The flannel plugin reads it, and the
// subnet.env flanneld writes (src/flannel), at every ADD; cni0 is made by the bridge plugin at the
// first one.
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { InstancePaths } from '../node/instance.ts';
import { writeFileAtomic } from '../sys/files.ts';
import { CONFLIST_FILE, k3sConflist, renderConflist } from './conflist.ts';
import { nodeCniDirs } from './pod-network.ts';

export async function writeNodeCniConfig(node: { name: string }, paths: InstancePaths): Promise<void> {
  const dirs = nodeCniDirs(paths, node.name);
  await mkdir(dirs.confDir, { recursive: true });
  const file = path.join(dirs.confDir, CONFLIST_FILE);
  const text = renderConflist(k3sConflist(dirs));
  // Replaced whole when it changed: an ADD may be reading it at this moment.
  if ((await readFile(file, 'utf8').catch(() => null)) !== text) await writeFileAtomic(file, text);
}
