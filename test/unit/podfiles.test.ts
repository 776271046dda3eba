// The kubelet's AtomicWriter (volumes: ConfigMaps, downward API): a set of files swapped at once.
import { mkdtemp, readFile, readlink, rm, symlink, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { atomicWriteDir } from '../../src/kubelet/podfiles.ts';

describe('atomicWriteDir', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'pplt-atomic-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the files behind ..data and swaps the whole set on an update', async () => {
    await atomicWriteDir(dir, new Map([['index.html', 'one\n']]));
    const first = await readlink(path.join(dir, '..data'));
    expect(await readFile(path.join(dir, 'index.html'), 'utf8')).toBe('one\n');
    await atomicWriteDir(dir, new Map([['index.html', 'two\n']]));
    expect(await readlink(path.join(dir, '..data'))).not.toBe(first);
    expect(await readFile(path.join(dir, 'index.html'), 'utf8')).toBe('two\n');
  });

  it('finishes a write that a killed writer left half done (a stale ..data_tmp)', async () => {
    await mkdir(path.join(dir, '..stale'), { recursive: true });
    await symlink('..stale', path.join(dir, '..data_tmp'));
    await atomicWriteDir(dir, new Map([['index.html', 'after the kill\n']]));
    expect(await readFile(path.join(dir, 'index.html'), 'utf8')).toBe('after the kill\n');
  });
});
