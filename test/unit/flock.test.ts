// src/sys/flock.ts: flock(2) through flock(1) on an inherited descriptor. The lock is exclusive,
// lives as long as the descriptor of the process that asked for it (a SIGKILL drops it), is not
// inherited by processes started later, and survives its file being removed by its holder.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lockFile, readLockFile } from '../../src/sys/flock.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'pplt-flock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = () => path.join(dir, `d${++n}`, 'lock');

/** A node process that takes the lock on `file` with src/sys/flock.ts, says "locked" and waits. */
function holderProcess(file: string): Promise<{ pid: number; kill: () => Promise<void> }> {
  const script = `const { lockFile } = await import(${JSON.stringify(path.resolve('src/sys/flock.ts'))});
    const l = await lockFile(${JSON.stringify(file)});
    l.write('child');
    process.stdout.write(l ? 'locked\\n' : 'busy\\n');
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return new Promise((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => {
      if (d.toString().trim() !== 'locked') reject(new Error(`child: ${d.toString()}`));
      resolve({
        pid: child.pid!,
        kill: async () => {
          child.kill('SIGKILL');
          await exited;
        },
      });
    });
  });
}

describe('lockFile (flock(2) via flock(1))', () => {
  it('is exclusive, and free again once released', async () => {
    const file = fresh();
    const a = await lockFile(file);
    expect(a).not.toBeNull();
    expect(await lockFile(file)).toBeNull();
    a!.write('{"pid":1}\n');
    expect(readLockFile(file)).toBe('{"pid":1}\n');
    a!.release();
    expect(readLockFile(file)).toBe(''); // a holder that let go leaves no record behind
    const b = await lockFile(file);
    expect(b).not.toBeNull();
    b!.release();
  });

  it('waits at most waitMs, and gets it as soon as the holder lets go', async () => {
    const file = fresh();
    const a = (await lockFile(file))!;
    const t0 = performance.now();
    expect(await lockFile(file, 300)).toBeNull();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(250);
    setTimeout(() => a.release(), 200);
    const t1 = performance.now();
    const b = await lockFile(file, 5_000);
    expect(b).not.toBeNull();
    expect(performance.now() - t1).toBeLessThan(2_000);
    b!.release();
  });

  it('is dropped by the kernel when its holder is killed with SIGKILL (no stale lock)', async () => {
    const file = fresh();
    const child = await holderProcess(file);
    expect(readLockFile(file)).toBe('child');
    expect(await lockFile(file)).toBeNull();
    await child.kill();
    const b = await lockFile(file);
    expect(b).not.toBeNull();
    b!.release();
  }, 20_000);

  it('is not inherited by processes started while it is held', async () => {
    const file = fresh();
    const a = (await lockFile(file))!;
    const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { detached: true, stdio: 'ignore' });
    try {
      a.release();
      const b = await lockFile(file);
      expect(b).not.toBeNull(); // the sleeper, still running, holds nothing
      b!.release();
    } finally {
      sleeper.kill('SIGKILL');
    }
  });

  it('follows the path: a waiter blocked on a file its holder removed locks the new file', async () => {
    const file = fresh();
    const a = (await lockFile(file))!;
    const waiting = lockFile(file, 1_500); // blocked on a's inode
    await new Promise((r) => setTimeout(r, 100));
    a.unlinkHeld();
    rmSync(path.dirname(file), { recursive: true }); // `lab down` removes the instance's directory
    const c = (await lockFile(file))!; // someone new creates the directory and the file, and holds it
    const inode = statSync(file).ino;
    a.release(); // the waiter gets the old inode, sees it is no longer at the path, and tries the new one
    const b = await lockFile(file, 300);
    expect(await waiting).toBeNull(); // c holds the file at the path: nobody else may
    expect(b).toBeNull();
    expect(statSync(file).ino).toBe(inode);
    c.release();
    const d = await lockFile(file);
    expect(d).not.toBeNull();
    d!.unlinkHeld();
    d!.release();
    expect(existsSync(file)).toBe(false);
  }, 10_000);
});
