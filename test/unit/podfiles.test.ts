// The kubelet's AtomicWriter (volumes: ConfigMaps, downward API): a set of files swapped at once;
// subPath mounts resolved inside their volume.
import { chmod, mkdtemp, readdir, readFile, readlink, realpath, rm, stat, symlink, mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { atomicWriteDir, containerMounts, resolveSubPath, volumeMountProblem } from '../../src/kubelet/podfiles.ts';
import type { ConfigMap, Pod } from '../../src/api/types.ts';

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

  it('a writer killed after it moved ..data, before the visible links: the same content again makes the links', async () => {
    await mkdir(path.join(dir, '..payload'), { recursive: true });
    await writeFile(path.join(dir, '..payload', 'index.html'), 'page\n');
    await symlink('..payload', path.join(dir, '..data'));
    await atomicWriteDir(dir, new Map([['index.html', 'page\n']]));
    expect(await readlink(path.join(dir, '..data'))).toBe('..payload');
    expect(await readlink(path.join(dir, 'index.html'))).toBe('..data/index.html');
    expect(await readFile(path.join(dir, 'index.html'), 'utf8')).toBe('page\n');
  });
});

describe('subPath (containerMounts, resolveSubPath)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'pplt-subpath-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const mountsOf = (sources: Record<string, string>, mounts: Parameters<typeof containerMounts>[1], cm: string[] = []) =>
    containerMounts(new Map(Object.entries(sources)), mounts, new Set(cm), 'web');

  it('mounts the file a ConfigMap key subPath names, resolved to its file of now (later updates do not reach it)', async () => {
    const vol = path.join(dir, 'html');
    await atomicWriteDir(vol, new Map([['index.html', 'one\n'], ['other.html', 'x\n']]));
    const [m] = mountsOf({ html: vol }, [{ name: 'html', mountPath: '/usr/share/html/index.html', subPath: 'index.html' }], ['html']);
    expect(m!.target).toBe('/usr/share/html/index.html');
    expect(m!.readOnly).toBe(true);
    expect(m!.source).toBe(path.join(await realpath(vol), await readlink(path.join(vol, '..data')), 'index.html'));
    expect(await readFile(m!.source, 'utf8')).toBe('one\n');
    await atomicWriteDir(vol, new Map([['index.html', 'two\n'], ['other.html', 'x\n']]));
    expect(await readFile(path.join(vol, 'index.html'), 'utf8')).toBe('two\n');
    expect(m!.source).not.toBe(path.join(await realpath(vol), await readlink(path.join(vol, '..data')), 'index.html'));
  });

  it('without subPath the volume directory itself, read-only only where asked', () => {
    expect(mountsOf({ data: '/srv/data', tmp: dir }, [{ name: 'data', mountPath: '/data', readOnly: true }, { name: 'tmp', mountPath: '/tmp' }])).toEqual([
      { source: '/srv/data', target: '/data', readOnly: true },
      { source: dir, target: '/tmp', readOnly: false },
    ]);
  });

  it('creates a subPath that does not exist as a directory with the volume\'s mode, as the kubelet does', async () => {
    const vol = path.join(dir, 'scratch');
    await mkdir(vol, { mode: 0o777 });
    await chmod(vol, 0o1777);
    const [m] = mountsOf({ scratch: vol }, [{ name: 'scratch', mountPath: '/cache', subPath: 'a/b/./c' }]);
    expect(m!.source).toBe(path.join(await realpath(vol), 'a/b/c'));
    const st = await stat(m!.source);
    expect(st.isDirectory()).toBe(true);
    expect(st.mode & 0o7777).toBe(0o1777);
    // An existing one is used as it is.
    await writeFile(path.join(vol, 'a', 'file'), 'data\n');
    expect(mountsOf({ scratch: vol }, [{ name: 'scratch', mountPath: '/f', subPath: 'a/file' }])[0]!.source).toBe(path.join(await realpath(vol), 'a/file'));
  });

  it('follows a symbolic link that stays inside the volume', async () => {
    const vol = path.join(dir, 'scratch');
    await mkdir(path.join(vol, 'real'), { recursive: true });
    await symlink('real', path.join(vol, 'link'));
    expect(resolveSubPath(vol, 'link')).toBe(path.join(await realpath(vol), 'real'));
  });

  it('refuses a symbolic link a container planted in an emptyDir that leads out of the volume', async () => {
    const vol = path.join(dir, 'scratch');
    await mkdir(path.join(vol, 'd'), { recursive: true });
    const outside = path.join(dir, 'secret');
    await mkdir(outside);
    await symlink(outside, path.join(vol, 'escape'));
    await symlink('../..', path.join(vol, 'd', 'up'));
    const mount = (subPath: string) => () => mountsOf({ scratch: vol }, [{ name: 'scratch', mountPath: '/x', subPath }]);
    expect(mount('escape')).toThrow(/^failed to prepare subPath for volumeMount "scratch" of container "web": subPath "escape" leads outside the volume \("escape" is a symbolic link out of it\)$/);
    expect(mount('escape/new')).toThrow(/leads outside the volume/);
    expect(mount('d/up/secret')).toThrow(/leads outside the volume \("up" is a symbolic link out of it\)/);
    // Nothing was created outside through the link.
    expect(await readdir(outside)).toEqual([]);
    await symlink('/nonexistent-pplt', path.join(vol, 'dangling'));
    expect(mount('dangling')).toThrow(/"dangling" is a symbolic link that leads nowhere/);
    expect(mount('dangling/x')).toThrow(/leads nowhere/);
    expect(() => resolveSubPath(vol, 'a/../../x')).toThrow(/must not contain '\.\.'/);
  });
});

describe('volumeMountProblem (the kubelet waits for a configMap volume before it starts the pod)', () => {
  const pod = (configMap: { name: string; items?: { key: string; path: string }[]; optional?: boolean }) => ({ metadata: { name: 'p', namespace: 'default' }, spec: { volumes: [{ name: 'html', configMap }, { name: 'scratch', emptyDir: {} }] } }) as unknown as Pod;
  const cms = new Map([['default/web', { data: { 'index.html': 'x' } } as unknown as ConfigMap]]);
  it('a ConfigMap that does not exist: FailedMount in the kubelet\'s words', () => {
    expect(volumeMountProblem(pod({ name: 'gone' }), cms)).toBe('MountVolume.SetUp failed for volume "html" : configmap "gone" not found');
  });
  it('an item whose key the ConfigMap lacks', () => {
    expect(volumeMountProblem(pod({ name: 'web', items: [{ key: 'index.html', path: 'a' }, { key: 'missing', path: 'b' }] }), cms)).toBe('MountVolume.SetUp failed for volume "html" : configmap references non-existent config key: missing');
  });
  it('optional, or all there: nothing to wait for', () => {
    expect(volumeMountProblem(pod({ name: 'gone', optional: true }), cms)).toBeUndefined();
    expect(volumeMountProblem(pod({ name: 'web' }), cms)).toBeUndefined();
    expect(volumeMountProblem(pod({ name: 'web', items: [{ key: 'index.html', path: 'a' }] }), cms)).toBeUndefined();
  });
  it('a ConfigMap of the same name in another namespace does not count', () => {
    expect(volumeMountProblem({ ...pod({ name: 'web' }), metadata: { name: 'p', namespace: 'other' } } as Pod, cms)).toBe('MountVolume.SetUp failed for volume "html" : configmap "web" not found');
  });
});
