// What `lab up` needs before it touches anything: root, and the tools of the packet path.
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { PROGRAMS, programFor } from '../sys/packages.ts';

export interface Tool {
  command: string;
  aptPackage: string;
}

/** Everything the lab itself runs (src/sys/packages.ts). */
export const REQUIRED_TOOLS: Tool[] = PROGRAMS.filter((p) => p.usedBy === 'lab');

/** A learner's tool's programs, by command (each in src/sys/packages.ts). */
export function tools(...commands: string[]): Tool[] {
  return commands.map((c) => {
    const p = programFor(c);
    if (!p) throw new Error(`${c} is not in src/sys/packages.ts`);
    return p;
  });
}

export function which(command: string, envPath = process.env.PATH ?? ''): string | null {
  if (path.isAbsolute(command)) return executable(command) ? command : null;
  for (const dir of [...envPath.split(':'), '/usr/sbin', '/sbin', '/usr/bin', '/bin']) {
    if (!dir) continue;
    const p = path.join(dir, command);
    if (executable(p)) return p;
  }
  return null;
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function missingTools(tools: Tool[] = REQUIRED_TOOLS): Tool[] {
  return tools.filter((t) => !which(t.command));
}

/** Throws a message a learner can act on. */
export function preflight(opts: { needRoot: boolean; tools?: Tool[] }): void {
  if (opts.needRoot && process.getuid?.() !== 0) {
    throw new Error('lab needs root to create network namespaces, veth pairs and iptables rules: run it with sudo (e.g. `sudo npm run lab`)');
  }
  const missing = missingTools(opts.tools);
  if (missing.length) {
    const pkgs = [...new Set(missing.map((t) => t.aptPackage))].join(' ');
    throw new Error(`missing ${missing.map((t) => t.command).join(', ')}: install with \`sudo apt-get install -y ${pkgs}\``);
  }
}
