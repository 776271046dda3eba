// A snapshot of everything the lab could leave behind on the machine, and of the machine's root
// network namespace, which the lab must never change. Compared before and after the suite
// (test/global-setup.ts) and around individual scenarios.
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import path from 'node:path';

export interface Residue {
  netns: string[];
  etcNetns: string[];
  runLab: string[];
  processes: string[];
  /** Container root filesystems and anything else mounted under /run/packet-path-lab. */
  mounts: string[];
  /** cgroups runc made for the lab's containers. */
  cgroups: string[];
  rootLinks: string;
  rootRoutes: string;
  rootIptables: string;
  /** The sysctls host mode sets, as the machine's root namespace has them. */
  rootSysctls: string;
}

function ls(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

function sh(argv: string[]): string {
  try {
    return execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return '<unavailable>';
  }
}

/** Processes of the kinds the lab starts (its containers, proxies, captures). */
function labProcesses(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
      // `/bin/sh /pause`: a pod sandbox's process (the pause image's entrypoint).
      if (/busybox httpd|^httpd |nginx: master|runc --root \/run\/packet-path-lab|^\/bin\/sh \/pause$|^sleep infinity|coredns\.mjs|src\/dns\/main\.ts|^tcpdump /.test(cmd)) out.push(`${pid} ${cmd}`);
    } catch {
      /* gone */
    }
  }
  return out.sort();
}

function labMounts(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith('/run/packet-path-lab'))
    .sort();
}

function labCgroups(): string[] {
  return ls('/sys/fs/cgroup')
    .filter((h) => existsSync(`/sys/fs/cgroup/${h}/packet-path-lab`))
    .map((h) => `/sys/fs/cgroup/${h}/packet-path-lab`);
}

export function snapshot(): Residue {
  return {
    netns: ls('/run/netns'),
    etcNetns: ls('/etc/netns'),
    runLab: ls('/run/packet-path-lab'),
    processes: labProcesses(),
    mounts: labMounts(),
    cgroups: labCgroups(),
    rootLinks: sh(['ip', '-o', 'link', 'show']).replace(/\s+link\/.*$/gm, '').replace(/state \w+/g, ''),
    rootRoutes: sh(['ip', 'route', 'show']),
    rootIptables: sh(['iptables-save']).replace(/^#.*$/gm, '').replace(/\[\d+:\d+\]/g, ''),
    rootSysctls: sh(['sysctl', 'net.ipv4.ip_forward', 'net.ipv4.conf.all.route_localnet']),
  };
}

export function diff(before: Residue, after: Residue): string[] {
  const problems: string[] = [];
  for (const k of ['netns', 'etcNetns', 'runLab', 'processes', 'mounts', 'cgroups'] as const) {
    const added = after[k].filter((x) => !before[k].includes(x));
    if (added.length) problems.push(`${k} left behind: ${added.join(', ')}`);
  }
  for (const k of ['rootLinks', 'rootRoutes', 'rootIptables', 'rootSysctls'] as const) {
    if (before[k] !== after[k]) problems.push(`root namespace ${k} changed:\n--- before\n${before[k]}\n--- after\n${after[k]}`);
  }
  return problems;
}

/**
 * The places a container that got out could write to, top level only: each entry of `dirs` (and
 * each dir itself) as "type mode size mtime" (lstat: a planted symbolic link is seen as one).
 */
export function fileSnapshot(dirs: string[]): Map<string, string> {
  const out = new Map<string, string>();
  const add = (p: string) => {
    try {
      const st = lstatSync(p);
      const type = st.isSymbolicLink() ? `link->${readlinkSync(p)}` : st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
      out.set(p, `${type} ${(st.mode & 0o7777).toString(8)} ${st.isDirectory() ? '-' : st.size} ${st.mtimeMs}`);
    } catch {
      /* removed meanwhile */
    }
  };
  for (const dir of dirs) {
    add(dir);
    for (const e of ls(dir)) add(path.join(dir, e));
  }
  return out;
}

/** Entries added, removed or changed between two file snapshots, except those `ignore` accepts. */
export function fileDiff(before: Map<string, string>, after: Map<string, string>, ignore: (p: string, change: 'added' | 'removed' | 'changed') => boolean = () => false): string[] {
  const problems: string[] = [];
  for (const [p, v] of after) {
    const was = before.get(p);
    if (was === undefined && !ignore(p, 'added')) problems.push(`added ${p} (${v})`);
    else if (was !== undefined && was !== v && !ignore(p, 'changed')) problems.push(`changed ${p}: ${was} -> ${v}`);
  }
  for (const [p, v] of before) if (!after.has(p) && !ignore(p, 'removed')) problems.push(`removed ${p} (${v})`);
  return problems;
}

/**
 * Every network namespace of the machine, by inode: the named ones (/run/netns) and those any
 * process is in, each with a description (its name, or the first process found in it).
 */
export function netnsSnapshot(): Map<number, string> {
  const out = new Map<number, string>();
  for (const name of ls('/run/netns')) {
    try {
      out.set(statSync(`/run/netns/${name}`).ino, `/run/netns/${name}`);
    } catch {
      /* removed meanwhile */
    }
  }
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const ino = Number(/\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/net`))![1]);
      if (!out.has(ino)) out.set(ino, `pid ${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim()}`);
    } catch {
      /* gone, or a kernel thread */
    }
  }
  return out;
}

/** Every mount point of the machine's mount namespace (this process's). */
export function mountSnapshot(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter(Boolean)
    .sort();
}
