// One controller per instance: a second `lab up --watch` would fight the first over every pod.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { instancePaths } from '../node/instance.ts';

function lockFile(instance: string): string {
  return path.join(instancePaths(instance).stateDir, 'controller.pid');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function acquireControllerLock(instance: string): Promise<void> {
  const file = lockFile(instance);
  const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
  if (pid && pid !== process.pid && alive(pid)) {
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes('lab')) throw new Error(`a controller for instance ${instance} is already running (pid ${pid}); stop it first (Ctrl-C in its terminal, or kill ${pid})`);
  }
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${process.pid}\n`);
}

export async function releaseControllerLock(instance: string): Promise<void> {
  const file = lockFile(instance);
  const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
  if (pid === process.pid) await rm(file, { force: true });
}
