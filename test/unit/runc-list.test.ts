// The runtime's listing is shared by callers at the same moment (a scale-down's thousand pod
// workers each asking for it would otherwise run a thousand `runc list` at once).
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runtimeFor } from '../../src/kubelet/runc.ts';
import { instancePaths } from '../../src/node/instance.ts';
import { spawnCounter } from '../../src/sys/exec.ts';
import { which } from '../../src/cli/preflight.ts';

describe.skipIf(!which('runc'))('runc list, shared', () => {
  let dir: string;
  let runtime: ReturnType<typeof runtimeFor>;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'pplt-runclist-'));
    const paths = { ...instancePaths('pplt-runclist'), stateDir: dir };
    runtime = runtimeFor(paths);
    await mkdir(runtime.root, { recursive: true });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('twenty callers at once cost at most two listings, and each gets its own array', async () => {
    const before = spawnCounter.count;
    const lists = await Promise.all(Array.from({ length: 20 }, () => runtime.listContainers()));
    const spawned = spawnCounter.count - before;
    expect(spawned).toBeGreaterThanOrEqual(1);
    expect(spawned).toBeLessThanOrEqual(2);
    for (const l of lists) expect(l).toEqual([]);
    expect(new Set(lists).size).toBe(20);
    lists[0]!.push({ id: 'x', pid: 1, status: 'running', kind: 'sandbox', pod: { name: 'p', namespace: 'd', uid: 'u' }, name: '', sandboxId: '' });
    expect(lists[1]).toEqual([]);
  });

  it('a caller after the listings ended starts a new one', async () => {
    await runtime.listContainers();
    const before = spawnCounter.count;
    await runtime.listContainers();
    expect(spawnCounter.count - before).toBe(1);
  });
});
