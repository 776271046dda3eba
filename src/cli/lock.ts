// One controller per instance: a second `lab up --watch` would fight the first over every pod.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { instancePaths } from '../node/instance.ts';
import { pidExists, procCmdline, signalProcess } from '../sys/proc.ts';

function lockFile(instance: string): string {
  return path.join(instancePaths(instance).stateDir, 'controller.pid');
}

/** `lab up` started as bin/lab, bin/lab.js or npx's `lab`: the script, then `up`. */
function isLabUp(argv: string[]): boolean {
  return argv.some((a, i) => /lab(\.js)?$/.test(a) && argv[i + 1] === 'up');
}

export async function acquireControllerLock(instance: string): Promise<void> {
  const file = lockFile(instance);
  const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
  if (pid && pid !== process.pid && pidExists(pid)) {
    const argv = procCmdline(pid) ?? [];
    if (argv.some((a) => a.includes('lab'))) throw new Error(`a controller for instance ${instance} is already running (pid ${pid}); stop it first (Ctrl-C in its terminal, or kill ${pid})`);
  }
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${process.pid}\n`);
}

export async function releaseControllerLock(instance: string): Promise<void> {
  const file = lockFile(instance);
  const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
  if (pid === process.pid) await rm(file, { force: true });
}

/**
 * `lab down` first stops the instance's watch controller (the pid in its lock file, checked to be
 * a lab controller), or it would recreate what down removes.
 */
export async function stopController(instance: string, timeoutMs = 10_000): Promise<number | null> {
  const pid = Number((await readFile(lockFile(instance), 'utf8').catch(() => '')).trim());
  if (!pid || pid === process.pid || !pidExists(pid)) return null;
  if (!isLabUp(procCmdline(pid) ?? [])) return null;
  signalProcess(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (pidExists(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (pidExists(pid)) signalProcess(pid, 'SIGKILL');
  return pid;
}
