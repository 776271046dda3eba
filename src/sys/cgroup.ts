// Control groups runc makes for containers (OCI linux.cgroupsPath), found and removed again.
// runc removes a container's own cgroup when the container is deleted; the pod and instance
// directories above it are the lab's to remove. Works for cgroup v1 (one tree per controller)
// and v2 (one unified tree).
import { readFileSync, readdirSync, rmdirSync } from 'node:fs';
import path from 'node:path';
import { mountTable } from './mount.ts';

/** The cgroup hierarchies' mount points (v1 controllers, v2 unified). */
export function cgroupRoots(): string[] {
  return mountTable().filter((m) => m.fstype === 'cgroup' || m.fstype === 'cgroup2').map((m) => m.target);
}

/**
 * Visits the cgroup directory `rel` and every one below it, in every hierarchy: `visit` runs for
 * a directory after its subdirectories (deepest first) when `after`, else before them.
 */
function walkCgroupTree(rel: string, visit: (dir: string) => void, order: 'before' | 'after', roots = cgroupRoots()): void {
  const walk = (dir: string): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // not there
    }
    if (order === 'before') visit(dir);
    for (const e of entries) if (e.isDirectory()) walk(path.join(dir, e.name));
    if (order === 'after') visit(dir);
  };
  for (const root of roots) walk(path.join(root, rel));
}

/**
 * Removes the cgroup directory `rel` (e.g. /packet-path-lab/lab) and everything below it, deepest
 * first, in every hierarchy. A cgroup directory is removed with rmdir, never by deleting its
 * files; one that still has processes stays (EBUSY) and is reported.
 */
export function removeCgroupTree(rel: string): string[] {
  return removeCgroupTrees([rel]);
}

/** removeCgroupTree for each of `rels`, the mount table read once (a thousand pods' cgroups at once). */
export function removeCgroupTrees(rels: string[]): string[] {
  const busy: string[] = [];
  const roots = rels.length ? cgroupRoots() : [];
  for (const rel of rels) {
    walkCgroupTree(
      rel,
      (dir) => {
        try {
          rmdirSync(dir);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code !== 'ENOENT') busy.push(`${dir} (${code})`);
        }
      },
      'after',
      roots,
    );
  }
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
  walkCgroupTree(
    rel,
    (dir) => {
      try {
        for (const l of readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (/^\d+$/.test(l)) pids.add(Number(l));
      } catch {
        /* removed meanwhile */
      }
    },
    'before',
  );
  return [...pids];
}
