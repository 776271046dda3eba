// What the kubelet reports of its machine in the Node object's status.nodeInfo and capacity:
// the files it reads are the same ones (boot id, machine id, os-release, meminfo).
import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface HostInfo {
  bootID: string;
  machineID: string;
  /** PRETTY_NAME of /etc/os-release, e.g. "Debian GNU/Linux 12 (bookworm)". */
  osImage: string;
  kernelVersion: string;
  /** Go's GOARCH name (amd64, arm64). */
  architecture: string;
  cpus: number;
  /** MemTotal in KiB. */
  memoryKi: number;
}

const GOARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' };

/** Go's name for this machine's architecture (GOARCH). */
export const goArch = (): string => GOARCH[process.arch] ?? process.arch;

function read(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** PRETTY_NAME from an os-release text ("Linux" without one, as the kubelet falls back). */
export function osImageOf(osRelease: string): string {
  const m = /^PRETTY_NAME=(.*)$/m.exec(osRelease);
  return m ? m[1]!.replace(/^"(.*)"$/, '$1') : 'Linux';
}

export function hostInfo(): HostInfo {
  const mem = /^MemTotal:\s+(\d+) kB$/m.exec(read('/proc/meminfo'));
  return {
    bootID: read('/proc/sys/kernel/random/boot_id').trim(),
    machineID: read('/etc/machine-id').trim(),
    osImage: osImageOf(read('/etc/os-release') || read('/usr/lib/os-release')),
    kernelVersion: os.release(),
    architecture: goArch(),
    cpus: os.availableParallelism(),
    memoryKi: mem ? Number(mem[1]) : Math.floor(os.totalmem() / 1024),
  };
}
