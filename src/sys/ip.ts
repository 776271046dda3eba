// Observing and creating network namespaces and links. Observation is one `ip -j` call per
// namespace; creation goes through `ip -batch` built by the planners.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { ipArgs, run, type Netns } from './exec.ts';
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

/**
 * True when this process runs in the named namespace (an agent started inside its machine). A
 * sandbox agent refuses to start anywhere else: with `netns` null it would change the namespace
 * it runs in, and in the machine's own namespace that is forbidden.
 */
export function selfInNetns(netns: string): boolean {
  return isPidInNetns(process.pid, netns);
}
