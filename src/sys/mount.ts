// Mounts the kubelet makes on the machine for containers: each container's root filesystem is an
// overlay (the image below, a writable layer above) mounted before runc starts, as containerd's
// overlayfs snapshotter mounts it. `lab down` finds them again in /proc/self/mountinfo.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { run } from './exec.ts';

/** mountinfo escapes space, tab, newline and backslash in paths as \ooo octal. */
function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export interface MountEntry {
  target: string;
  fstype: string;
}

/** This process's mount table (/proc/self/mountinfo): mount point and filesystem type of each. */
export function mountTable(): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    // "<id> <parent> <dev> <root> <mount point> <options> [optional fields] - <fstype> <source> ..."
    const [pre, post] = line.split(' - ');
    const target = pre?.split(' ')[4];
    if (target) out.push({ target: unescapeMountPath(target), fstype: post?.split(' ')[0] ?? '' });
  }
  return out;
}

/** Mount points at or below `dir` in this process's mount namespace, deepest first. */
export function mountsUnder(dir: string): string[] {
  return mountsUnderAny([dir]);
}

/**
 * Mount points at or below any of `dirs`, deepest first, from one read of the mount table (or
 * `table`): the table of a node running a thousand containers has thousands of lines, so pods
 * removed together look it up once, not once each.
 */
export function mountsUnderAny(dirs: string[], table: MountEntry[] = mountTable()): string[] {
  const wanted = new Set(dirs.map((d) => path.resolve(d)));
  if (wanted.size === 0) return [];
  const under = new Set<string>();
  for (const { target } of table) {
    // The target or one of its ancestors is one of `dirs` (a path's depth, not a scan of `dirs`).
    for (let p = target; ; p = path.dirname(p)) {
      if (wanted.has(p)) {
        under.add(target);
        break;
      }
      if (p === '/' || p === '.') break;
    }
  }
  return [...under].sort((a, b) => b.length - a.length);
}

export interface OverlayLayers {
  lower: string;
  upper: string;
  work: string;
}

/** The overlay options, refusing paths that would break the comma-separated option string. */
export function overlayOptions(l: OverlayLayers): string {
  for (const p of [l.lower, l.upper, l.work]) if (/[,:\\\s]/.test(p)) throw new Error(`overlay layer path ${JSON.stringify(p)} has a character mount options cannot carry`);
  return `lowerdir=${l.lower},upperdir=${l.upper},workdir=${l.work}`;
}

export async function mountOverlay(target: string, layers: OverlayLayers): Promise<void> {
  await run(['mount', '-t', 'overlay', 'overlay', '-o', overlayOptions(layers), target]);
}

/**
 * Unmounts each of `targets` (one `umount` for all). Lazy (-l): a container's process that has
 * not been reaped yet may still hold its root; the mount goes when it does.
 */
export async function unmount(targets: string[]): Promise<void> {
  if (targets.length === 0) return;
  await run(['umount', '-l', ...targets], { allowFail: true });
}
