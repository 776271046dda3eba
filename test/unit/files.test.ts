import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../src/sys/files.ts';

describe('writeFileAtomic', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'pplt-atomic-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('replaces the file with a new inode and leaves no temporary file', async () => {
    const f = path.join(dir, 'state.json');
    await writeFile(f, 'old');
    const before = await stat(f);
    expect(await writeFileAtomic(f, 'new', { mode: 0o600 })).toBe(true);
    expect(await readFile(f, 'utf8')).toBe('new');
    const after = await stat(f);
    expect(after.ino).not.toBe(before.ino); // a reader holding the old file keeps reading it whole
    expect(after.mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['state.json']);
  });

  it('concurrent writers of one file never share a temporary file: one of them wins whole', async () => {
    const f = path.join(dir, 'snapshot');
    const contents = Array.from({ length: 20 }, (_, i) => `${i}`.repeat(10_000));
    await Promise.all(contents.map((c) => writeFileAtomic(f, c)));
    expect(contents).toContain(await readFile(f, 'utf8'));
    expect(await readdir(dir)).toEqual(['snapshot']);
  });

  it('keeps the old file and removes the temporary one when the check refuses the new content', async () => {
    const f = path.join(dir, 'nginx.conf');
    await writeFile(f, 'good');
    let checked = '';
    expect(await writeFileAtomic(f, 'bad', { check: async (tmp) => ((checked = await readFile(tmp, 'utf8')), false) })).toBe(false);
    expect(checked).toBe('bad');
    expect(await readFile(f, 'utf8')).toBe('good');
    expect(await readdir(dir)).toEqual(['nginx.conf']);
  });

  it('removes the temporary file when the rename fails, and says why', async () => {
    const target = path.join(dir, 'a-directory');
    await writeFile(path.join(dir, 'keep'), '');
    await mkdir(path.join(target, 'child'), { recursive: true });
    await expect(writeFileAtomic(target, 'x')).rejects.toThrow(/EISDIR|ENOTEMPTY|EEXIST/);
    expect((await readdir(dir)).sort()).toEqual(['a-directory', 'keep']);
  });

  it('fails when the directory does not exist (callers create it)', async () => {
    await expect(writeFileAtomic(path.join(dir, 'missing', 'f'), 'x')).rejects.toThrow(/ENOENT/);
  });
});
