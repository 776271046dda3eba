// The mount table readers behind `lab down`'s unmounting and cgroup removal.
import { describe, expect, it } from 'vitest';
import { cgroupRoots } from '../../src/sys/cgroup.ts';
import { mountsUnder, mountsUnderAny, mountTable, overlayOptions } from '../../src/sys/mount.ts';

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

  it('lists the mount points under many directories from one table, deepest first', () => {
    const table = ['/', '/run/pods/a/rootfs', '/run/pods/a/rootfs/proc', '/run/pods/ab/rootfs', '/run/pods/b', '/run/pods/c/rootfs', '/run/podsx'].map((target) => ({ target, fstype: 'overlay' }));
    expect(mountsUnderAny(['/run/pods/a', '/run/pods/b/'], table)).toEqual(['/run/pods/a/rootfs/proc', '/run/pods/a/rootfs', '/run/pods/b']);
    expect(mountsUnderAny(['/run/pods'], table)).toEqual(['/run/pods/a/rootfs/proc', '/run/pods/ab/rootfs', '/run/pods/a/rootfs', '/run/pods/c/rootfs', '/run/pods/b']);
    expect(mountsUnderAny([], table)).toEqual([]);
    expect(mountsUnderAny(['/'], table)).toHaveLength(table.length);
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
