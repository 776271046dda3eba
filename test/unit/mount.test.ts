// The mount table readers behind `lab down`'s unmounting and cgroup removal.
import { describe, expect, it } from 'vitest';
import { cgroupRoots } from '../../src/sys/cgroup.ts';
import { mountsUnder, mountTable, overlayOptions } from '../../src/sys/mount.ts';

describe('mount table', () => {
  it('names the root and /proc with their filesystem types', () => {
    const table = mountTable();
    expect(table.some((m) => m.target === '/')).toBe(true);
    expect(table.find((m) => m.target === '/proc')?.fstype).toBe('proc');
  });

  it('lists mount points under a directory deepest first, the directory itself included', () => {
    const under = mountsUnder('/proc');
    expect(under).toContain('/proc');
    expect(under.at(-1)).toBe('/proc');
    expect(mountsUnder('/no/such/dir')).toEqual([]);
  });

  it('finds the cgroup hierarchies among the mounts', () => {
    const roots = cgroupRoots();
    expect(roots.length).toBeGreaterThan(0);
    for (const r of roots) expect(r.startsWith('/sys/fs/cgroup')).toBe(true);
  });

  it('refuses overlay layer paths that would break the option string', () => {
    expect(overlayOptions({ lower: '/a', upper: '/b', work: '/c' })).toBe('lowerdir=/a,upperdir=/b,workdir=/c');
    expect(() => overlayOptions({ lower: '/a,upperdir=/etc', upper: '/b', work: '/c' })).toThrow(/mount options cannot carry/);
  });
});
