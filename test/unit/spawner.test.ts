// The spawn pool (src/sys/spawner.ts): `run` and `spawnDetached` give the same results through
// worker threads as on the main thread.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CommandError, run } from '../../src/sys/exec.ts';
import { closeSpawnPool, spawnPool, useSpawnPool } from '../../src/sys/spawner.ts';
import { spawnDetached } from '../../src/sys/stream.ts';

const work = mkdtempSync(path.join(os.tmpdir(), 'pplt-spawner-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
afterEach(closeSpawnPool);

describe.each([
  ['main thread', false],
  ['spawn pool', true],
])('processes started from the %s', (_, pooled) => {
  const setup = () => {
    if (pooled) useSpawnPool();
    expect(spawnPool() !== null).toBe(pooled);
  };

  it('collects output and exit code, feeds input, throws CommandError unless allowed to fail', async () => {
    setup();
    expect(await run(['cat'], { input: 'hello\n' })).toEqual({ stdout: 'hello\n', stderr: '', exitCode: 0 });
    expect(await run(['sh', '-c', 'echo out; echo err >&2; exit 3'], { allowFail: true })).toEqual({ stdout: 'out\n', stderr: 'err\n', exitCode: 3 });
    await expect(run(['sh', '-c', 'echo bad >&2; exit 2'])).rejects.toThrow(CommandError);
    await expect(run(['sh', '-c', 'echo bad >&2; exit 2'])).rejects.toThrow(/exit 2[\s\S]*bad/);
    // the C locale, as every command the lab parses is read in
    expect((await run(['sh', '-c', 'echo $LC_ALL'])).stdout).toBe('C\n');
  });

  it('runs many at once, each with its own result', async () => {
    setup();
    const outs = await Promise.all(Array.from({ length: 40 }, (_, i) => run(['sh', '-c', `echo ${i}; exit ${i % 3}`], { allowFail: true })));
    expect(outs.map((o) => [o.stdout, o.exitCode])).toEqual(Array.from({ length: 40 }, (_, i) => [`${i}\n`, i % 3]));
  });

  it('stops a command at its timeout', async () => {
    setup();
    const t0 = Date.now();
    const r = await run(['busybox', 'sleep', '5'], { timeoutMs: 200, allowFail: true });
    expect(r.exitCode).not.toBe(0);
    expect(Date.now() - t0).toBeLessThan(4000);
  });

  it('starts a detached child with its output in a log file and reports its exit', async () => {
    setup();
    const log = path.join(work, `detached-${pooled}.log`);
    let onExit!: (v: [number | null, NodeJS.Signals | null]) => void;
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((r) => (onExit = r));
    const pid = await spawnDetached(['sh', '-c', 'echo started; exit 7'], { env: { PATH: process.env.PATH! }, logFile: log, onExit: (c, s) => onExit([c, s]) });
    expect(pid).toBeGreaterThan(0);
    expect(await exited).toEqual([7, null]);
    expect(readFileSync(log, 'utf8')).toBe('started\n');
  });
});
