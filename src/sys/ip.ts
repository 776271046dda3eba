// Observing and creating network namespaces and links. Observation is one `ip -j` call per
// namespace; creation goes through `ip -batch` built by the planners.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { ipArgs, ipBatch, run, type Netns } from './exec.ts';
import { listPids, procNetnsInode } from './proc.ts';

export interface ObservedLink {
  ifname: string;
  kind?: string;
  master?: string;
  up: boolean;
  hairpin?: boolean;
  addrs: string[]; // "10.42.0.1/24"
}

export function netnsExists(name: string): boolean {
  return existsSync(`/run/netns/${name}`);
}

export function listNetns(): string[] {
  try {
    return readdirSync('/run/netns');
  } catch {
    return [];
  }
}

interface IpJsonLink {
  ifname: string;
  flags?: string[];
  master?: string;
  linkinfo?: { info_kind?: string; info_slave_data?: { hairpin?: boolean } };
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

/** All links of a namespace with their IPv4 addresses, bridge master and hairpin flag. */
export async function observeLinks(netns: Netns): Promise<Map<string, ObservedLink>> {
  const { stdout } = await run(ipArgs(netns, '-j', '-d', 'addr', 'show'));
  const links = JSON.parse(stdout || '[]') as IpJsonLink[];
  const out = new Map<string, ObservedLink>();
  for (const l of links) {
    out.set(l.ifname, {
      ifname: l.ifname,
      kind: l.linkinfo?.info_kind,
      master: l.master,
      up: (l.flags ?? []).includes('UP'),
      hairpin: l.linkinfo?.info_slave_data?.hairpin,
      addrs: (l.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`),
    });
  }
  return out;
}

/** Inode of a named namespace's file (/run/netns/<name>), or null when it is gone. */
function netnsInode(name: string): number | null {
  try {
    return statSync(`/run/netns/${name}`).ino;
  } catch {
    return null;
  }
}

/**
 * True when the process is inside the named namespace: compares the inode of its network
 * namespace with the namespace file's, so a reused PID in another namespace never counts.
 */
export function isPidInNetns(pid: number, netns: string): boolean {
  const own = procNetnsInode(pid);
  return own !== null && own === netnsInode(netns);
}

/**
 * Pids of the processes inside each of the given namespaces (what `ip netns pids` prints), found
 * with one scan of /proc instead of one process per namespace.
 */
export function pidsInNetns(netnsNames: string[]): Map<string, number[]> {
  const byIno = new Map<number, string>();
  const out = new Map<string, number[]>();
  for (const n of netnsNames) {
    const ino = netnsInode(n);
    if (ino === null) continue; // namespace already gone
    byIno.set(ino, n);
    out.set(n, []);
  }
  if (byIno.size === 0) return out;
  for (const pid of listPids()) {
    const ino = procNetnsInode(pid); // null: the process exited meanwhile
    const ns = ino === null ? undefined : byIno.get(ino);
    if (ns) out.get(ns)!.push(pid);
  }
  return out;
}

/** Makes the named namespaces that do not exist yet, in one `ip -batch` (the runtime's part of a pod sandbox). */
export async function addNetns(names: string[]): Promise<void> {
  await ipBatch(null, names.filter((n) => !netnsExists(n)).map((n) => ['netns', 'add', n]));
}

/**
 * Deletes the named namespaces (one `ip -batch`; a missing one is no error). The kernel destroys a
 * namespace, and every link in it, once nothing holds it any more: a pod's eth0 and with it its
 * veth peer on cni0 go when its processes have. `ip netns delete` fails on a namespace file still
 * in use by a mount: such a file is removed directly.
 */
export async function deleteNetns(names: string[]): Promise<void> {
  const existing = names.filter(netnsExists);
  if (existing.length) await ipBatch(null, existing.map((n) => ['netns', 'delete', n]), { force: true });
  for (const n of existing) {
    if (!netnsExists(n)) continue;
    await run(['ip', 'netns', 'delete', n], { allowFail: true });
    if (netnsExists(n)) await rm(`/run/netns/${n}`, { force: true });
  }
}

/**
 * True when this process runs in the named namespace (an agent started inside its machine). A
 * sandbox agent refuses to start anywhere else: with `netns` null it would change the namespace
 * it runs in, and in the machine's own namespace that is forbidden.
 */
export function selfInNetns(netns: string): boolean {
  return isPidInNetns(process.pid, netns);
}
