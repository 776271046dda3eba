// How the kubelet rewrites the files it bind-mounts into containers.
import { describe, expect, it } from 'vitest';

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
