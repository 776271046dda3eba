// The kubelet's search for container processes a killed controller left behind while starting, and
// how it rewrites the files it bind-mounts into containers.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { containerProcessesUnder } from '../../src/kubelet/kubelet.ts';
import { CONTAINER_INIT } from '../../src/kubelet/runtime.ts';

describe('containerProcessesUnder', () => {
  it('finds a container still in its init script by its arguments, and only under the given directory', async () => {
    const dir = `/tmp/pplt-kubelet-test-${process.pid}/pods`;
    const rootfs = `${dir}/web-abc12/containers/web/rootfs`;
    // Stands in for `sh container-init.sh <rootfs> …`: same arguments, sleeping instead of mounting.
    const starting = spawn('sh', ['-c', 'sleep 30', CONTAINER_INIT, rootfs, 'lower', 'upper'], { stdio: 'ignore' });
    const unrelated = spawn('sh', ['-c', 'sleep 30', 'not-the-init-script', rootfs], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 100));
      expect(containerProcessesUnder(dir).starting).toEqual([starting.pid]);
      expect(containerProcessesUnder(`${dir}/web-abc12/containers/web`).starting).toEqual([starting.pid]);
      expect(containerProcessesUnder(`/tmp/pplt-kubelet-test-${process.pid}/other`).starting).toEqual([]);
    } finally {
      starting.kill('SIGKILL');
      unrelated.kill('SIGKILL');
    }
    await new Promise((r) => setTimeout(r, 100));
    expect(containerProcessesUnder(dir).starting).toEqual([]);
  });
});

describe('writeFileIfChanged', () => {
  it('leaves a file with the same content alone (same mtime), rewrites it in place otherwise (same inode)', async () => {
    const { mkdtemp, rm, stat, readFile } = await import('node:fs/promises');
    const os = await import('node:os');
    const path = await import('node:path');
    const { writeFileIfChanged } = await import('../../src/sys/files.ts');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'pplt-files-'));
    try {
      const f = path.join(dir, 'hosts');
      expect(await writeFileIfChanged(f, 'a\n')).toBe(true);
      const first = await stat(f);
      await new Promise((r) => setTimeout(r, 20));
      expect(await writeFileIfChanged(f, 'a\n')).toBe(false);
      expect((await stat(f)).mtimeMs).toBe(first.mtimeMs);
      expect(await writeFileIfChanged(f, 'b\n')).toBe(true);
      expect((await stat(f)).ino).toBe(first.ino); // bind mounts of it see the change
      expect(await readFile(f, 'utf8')).toBe('b\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
