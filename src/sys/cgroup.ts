// Control groups runc makes for containers (OCI linux.cgroupsPath), found and removed again.
// runc removes a container's own cgroup when the container is deleted; the pod and instance
// directories above it are the lab's to remove. Works for cgroup v1 (one tree per controller)
// and v2 (one unified tree).
import { readFileSync, readdirSync, rmdirSync } from 'node:fs';
import path from 'node:path';

/** The cgroup hierarchies' mount points (v1 controllers, v2 unified), from /proc/self/mountinfo. */
export function cgroupRoots(): string[] {
  const roots: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [pre, post] = line.split(' - ');
    const fstype = post?.split(' ')[0];
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    const mountPoint = pre?.split(' ')[4];
    if (mountPoint) roots.push(mountPoint);
  }
  return roots;
}

/**
 * Removes the cgroup directory `rel` (e.g. /packet-path-lab/lab) and everything below it, deepest
 * first, in every hierarchy. A cgroup directory is removed with rmdir, never by deleting its
 * files; one that still has processes stays (EBUSY) and is reported.
 */
export function removeCgroupTree(rel: string): string[] {
  const busy: string[] = [];
  const remove = (dir: string): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // not there
    }
    for (const e of entries) if (e.isDirectory()) remove(path.join(dir, e.name));
    try {
      rmdirSync(dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') busy.push(`${dir} (${code})`);
    }
  };
  for (const root of cgroupRoots()) remove(path.join(root, rel));
  return busy;
}

/** Removes the directory `rel` in every hierarchy if it is empty (a shared parent). */
export function removeCgroupIfEmpty(rel: string): void {
  for (const root of cgroupRoots()) {
    try {
      rmdirSync(path.join(root, rel));
    } catch {
      /* not empty (another instance), or not there */
    }
  }
}

/**
 * The processes in the cgroup directory `rel` and below it (cgroup.procs of each), in every
 * hierarchy, without duplicates: every process of the containers runc made there.
 */
export function cgroupTreePids(rel: string): number[] {
  const pids = new Set<number>();
  const walk = (dir: string): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // not there
    }
    try {
      for (const l of readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (/^\d+$/.test(l)) pids.add(Number(l));
    } catch {
      /* removed meanwhile */
    }
    for (const e of entries) if (e.isDirectory()) walk(path.join(dir, e.name));
  };
  for (const root of cgroupRoots()) walk(path.join(root, rel));
  return [...pids];
}
