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

/**
 * `lab down` first stops the instance's watch controller (the pid in its lock file, checked to be
 * a lab controller), or it would recreate what down removes.
 */
export async function stopController(instance: string, timeoutMs = 10_000): Promise<number | null> {
  const pid = Number((await readFile(lockFile(instance), 'utf8').catch(() => '')).trim());
  if (!pid || pid === process.pid || !alive(pid)) return null;
  const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (!/lab(\.js)?\0up\0/.test(cmd) && !cmd.includes('lab.js\0up')) return null;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (alive(pid)) process.kill(pid, 'SIGKILL');
  return pid;
}
