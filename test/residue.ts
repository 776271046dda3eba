// A snapshot of everything the lab could leave behind on the machine, and of the machine's root
// network namespace, which the lab must never change. Compared before and after the suite
// (test/global-setup.ts) and around individual scenarios.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';

export interface Residue {
  netns: string[];
  etcNetns: string[];
  runLab: string[];
  processes: string[];
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
      if (/busybox httpd|^httpd |nginx: master|container-init\.sh|src\/dns\/main\.ts|coredns\.mjs|^tcpdump /.test(cmd)) out.push(`${pid} ${cmd}`);
    } catch {
      /* gone */
    }
  }
  return out.sort();
}

export function snapshot(): Residue {
  return {
    netns: ls('/run/netns'),
    etcNetns: ls('/etc/netns'),
    runLab: ls('/run/packet-path-lab'),
    processes: labProcesses(),
    rootLinks: sh(['ip', '-o', 'link', 'show']).replace(/\s+link\/.*$/gm, '').replace(/state \w+/g, ''),
    rootRoutes: sh(['ip', 'route', 'show']),
    rootIptables: sh(['iptables-save']).replace(/^#.*$/gm, '').replace(/\[\d+:\d+\]/g, ''),
    rootSysctls: sh(['sysctl', 'net.ipv4.ip_forward', 'net.ipv4.conf.all.route_localnet']),
  };
}

export function diff(before: Residue, after: Residue): string[] {
  const problems: string[] = [];
  for (const k of ['netns', 'etcNetns', 'runLab', 'processes'] as const) {
    const added = after[k].filter((x) => !before[k].includes(x));
    if (added.length) problems.push(`${k} left behind: ${added.join(', ')}`);
  }
  for (const k of ['rootLinks', 'rootRoutes', 'rootIptables', 'rootSysctls'] as const) {
    if (before[k] !== after[k]) problems.push(`root namespace ${k} changed:\n--- before\n${before[k]}\n--- after\n${after[k]}`);
  }
  return problems;
}
