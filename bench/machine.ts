// Facts about the machine a benchmark ran on, for docs/BENCHMARKS.md.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { run } from '../src/sys/exec.ts';
import type { MachineFacts } from './report.ts';

async function firstLine(argv: string[]): Promise<string> {
  try {
    const r = await run(argv, { allowFail: true });
    return (r.stdout || r.stderr).split('\n').find((l) => l.trim())?.trim() ?? 'unknown';
  } catch {
    return 'not installed';
  }
}

/** "nf_tables" or "legacy", from `iptables --version` ("iptables v1.8.9 (nf_tables)"). */
export function iptablesBackend(versionLine: string): string {
  const m = versionLine.match(/\((nf_tables|legacy)\)/);
  // iptables before 1.8 had no nf_tables variant and printed no backend.
  return m ? m[1]! : /^iptables v1\.[0-7]\./.test(versionLine) ? 'legacy' : 'unknown';
}

function cpuModel(): string {
  try {
    const m = readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.+)$/m);
    if (m) return m[1]!.trim();
  } catch {
    /* not Linux */
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

export async function machineFacts(): Promise<MachineFacts> {
  const [iptables, iproute2, busybox] = await Promise.all([firstLine(['iptables', '--version']), firstLine(['ip', '-V']), firstLine(['busybox'])]);
  return {
    cores: os.availableParallelism?.() ?? os.cpus().length,
    cpuModel: cpuModel(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    iptables,
    iptablesBackend: iptablesBackend(iptables),
    iproute2,
    busybox: busybox.replace(/ multi-call binary\.?$/, ''),
    node: process.version,
    date: new Date().toISOString(),
  };
}
