// Turns an image's plan (a list of directories, files, symlinks and small text files) into a
// directory that is the image's root filesystem: the overlay lowerdir of its containers.
//
// Layout under the instance's imagesDir (/run/packet-path-lab/<instance>/images):
//   <slug>-<id16>/rootfs       the root filesystem (never written again once renamed into place)
//   <slug>-<id16>/image.json   what it is (ImageRecord); outside rootfs, so no container sees it
//   blobs/<key>                the machine's files the images share (node is ~95 MB)
// The id is a sha256 of the plan and its inputs: each machine file by path, device, inode, size
// and mtime (dpkg replaces a file by renaming a new one over it, so an upgrade changes the inode),
// the lab's own files (the DNS bundle) by content. A changed input is a new id and a new build
// next to the old one; the old build stays until `lab down` removes the directory, because a
// container still running on it has it as its overlay lowerdir, and the kernel's overlayfs
// documentation leaves the result undefined when a lower layer changes under a mounted overlay.
// Only the runtime knows which containers use which build, so nothing here deletes one. An old
// build costs little: the big files are hard links into blobs/, only the bundle is a copy.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, copyFile, link, mkdir, readdir, readFile, realpath, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

export type Entry =
  | { kind: 'dir'; path: string; mode?: number }
  /** A file of a Debian package: hard-linked (through blobs/) where it can be. */
  | { kind: 'file'; path: string; from: string }
  /** A file of the lab's own (a checkout file anyone may edit in place): always a copy, keyed by content. */
  | { kind: 'copy'; path: string; from: string }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'text'; path: string; content: string; mode?: number };

export interface ImageRecord {
  /** Repository, e.g. docker.io/library/busybox. */
  name: string;
  /** sha256 of the plan and its inputs (hex, no prefix). */
  id: string;
  /** Bytes of the files in rootfs, each inode counted once. */
  size: number;
  /** Where it came from, e.g. "Debian package busybox-static 1:1.35.0-4+deb12u1+b1". */
  source: string;
  /** ISO time of the build. */
  created: string;
}

/** Bump when the builder's output changes for the same plan: older builds get a new id. */
const BUILDER_VERSION = '1';

/** A plan with its inputs read: what the id is computed from and the build is made of. */
interface Resolved {
  entries: Entry[];
  /** Machine files: path -> stat at resolve time. */
  stats: Map<string, { dev: number; ino: number; size: number; mtimeMs: number }>;
  /** The lab's own files, read once: the id and the copy come from the same bytes. */
  contents: Map<string, Buffer>;
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

async function resolve(entries: Entry[]): Promise<Resolved> {
  const r: Resolved = { entries, stats: new Map(), contents: new Map() };
  for (const e of entries) {
    if (!e.path.startsWith('/') || e.path.split('/').includes('..')) throw new Error(`image path ${JSON.stringify(e.path)} must be absolute, without ..`);
    if (e.kind === 'file') r.stats.set(e.from, await stat(e.from));
    if (e.kind === 'copy') r.contents.set(e.from, await readFile(e.from));
  }
  return r;
}

function imageId(name: string, r: Resolved): string {
  const lines = [`builder ${BUILDER_VERSION}`, `name ${name}`];
  for (const e of r.entries) {
    if (e.kind === 'dir') lines.push(`dir ${e.path} ${e.mode ?? 0o755}`);
    if (e.kind === 'symlink') lines.push(`symlink ${e.path} ${e.target}`);
    if (e.kind === 'text') lines.push(`text ${e.path} ${e.mode ?? 0o644} ${sha256(e.content)}`);
    if (e.kind === 'copy') lines.push(`copy ${e.path} ${sha256(r.contents.get(e.from)!)}`);
    if (e.kind === 'file') {
      const s = r.stats.get(e.from)!;
      lines.push(`file ${e.path} ${e.from} ${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}`);
    }
  }
  return sha256(lines.join('\n'));
}

/** The build directory of an image id (`<slug>-<first 16 hex>`). */
export function buildDir(imagesDir: string, slug: string, id: string): string {
  return path.join(imagesDir, `${slug}-${id.slice(0, 16)}`);
}

const building = new Map<string, Promise<string>>();
let tmpCounter = 0;
const tmpName = (p: string) => `${p}.${process.pid}.${++tmpCounter}.tmp`;

/**
 * The rootfs of the image `plan` describes, built on first use: the same inputs give the same
 * directory, which is returned at the cost of a stat per machine file and a hash of the lab's own.
 */
export async function ensureBuilt(imagesDir: string, image: { name: string; slug: string; source: string }, plan: Entry[]): Promise<string> {
  const r = await resolve(plan);
  const id = imageId(image.name, r);
  const dir = buildDir(imagesDir, image.slug, id);
  const rootfs = path.join(dir, 'rootfs');
  if (existsSync(path.join(dir, 'image.json'))) return rootfs;
  let p = building.get(dir);
  if (!p) {
    p = build(imagesDir, dir, { name: image.name, id, source: image.source }, r)
      .then(() => rootfs)
      .finally(() => building.delete(dir));
    building.set(dir, p);
  }
  return p;
}

// Built in a temporary directory and renamed into place, so a build is there whole or not at all.
// Two `lab up`s building the same id: the first rename wins, the second fails on the now non-empty
// directory and its builder removes its own copy.
async function build(imagesDir: string, dir: string, meta: Omit<ImageRecord, 'size' | 'created'>, r: Resolved): Promise<void> {
  const tmp = tmpName(dir);
  const root = path.join(tmp, 'rootfs');
  try {
    await mkdir(root, { recursive: true });
    await chmod(root, 0o755);
    const inodes = new Map<string, number>();
    for (const e of r.entries) {
      const to = path.join(root, e.path);
      if (e.kind === 'dir') {
        await mkdirs(root, e.path);
        await chmod(to, e.mode ?? 0o755);
        continue;
      }
      await mkdirs(root, path.dirname(e.path));
      if (e.kind === 'symlink') await symlink(e.target, to);
      else if (e.kind === 'file') await link(await blob(imagesDir, e.from, r.stats.get(e.from)!), to);
      else {
        // Modes set explicitly: the controller's umask must not decide what a container can read.
        await writeFile(to, e.kind === 'text' ? e.content : r.contents.get(e.from)!);
        await chmod(to, e.kind === 'text' ? (e.mode ?? 0o644) : 0o644);
      }
      if (e.kind !== 'symlink') {
        const s = await stat(to);
        inodes.set(`${s.dev}:${s.ino}`, s.size);
      }
    }
    const record: ImageRecord = { ...meta, size: [...inodes.values()].reduce((a, b) => a + b, 0), created: new Date().toISOString() };
    await writeFile(path.join(tmp, 'image.json'), `${JSON.stringify(record, null, 2)}\n`);
    try {
      await rename(tmp, dir);
    } catch (err) {
      if (!existsSync(path.join(dir, 'image.json'))) throw err;
      // another `lab up` renamed the same build into place first
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** mkdir -p of `rel` under `root`, each directory it creates 0755 whatever the umask. */
async function mkdirs(root: string, rel: string): Promise<void> {
  let dir = root;
  for (const part of rel.split('/').filter(Boolean)) {
    dir = path.join(dir, part);
    if (existsSync(dir)) continue;
    await mkdir(dir);
    await chmod(dir, 0o755);
  }
}

/**
 * The instance's own link to a machine file. A hard link when the instance directory is on the
 * machine file's file system (no bytes copied; a later upgrade renames a new file over the
 * package's path and leaves this inode alone). Otherwise a copy: in the lab VM /run is a tmpfs,
 * and node alone is ~95 MB there, copied once per instance and then hard-linked into every build.
 * Hard links share the machine file's inode: nothing may ever chmod, chown or write a file of an
 * image (the overlay above it takes every write of a container).
 */
async function blob(imagesDir: string, from: string, s: { dev: number; ino: number; size: number; mtimeMs: number }): Promise<string> {
  const file = path.join(imagesDir, 'blobs', sha256(`${from} ${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}`));
  if (existsSync(file)) return file;
  await mkdir(path.dirname(file), { recursive: true });
  const real = await realpath(from); // link(2) does not follow a symlink (/lib64/ld-linux-x86-64.so.2 is one)
  const tmp = tmpName(file);
  try {
    await link(real, tmp).catch(() => copyFile(real, tmp)); // EXDEV across file systems; EPERM where links are refused
    await rename(tmp, file);
  } finally {
    // rename(2) between two links of one inode (two builders linked the same file) does nothing
    // and leaves the source: remove it.
    await rm(tmp, { force: true });
  }
  return file;
}

/** The builds in an instance's images directory, newest first. */
export async function listBuilds(imagesDir: string): Promise<(ImageRecord & { rootfs: string })[]> {
  const out: (ImageRecord & { rootfs: string })[] = [];
  for (const name of await readdir(imagesDir).catch(() => [] as string[])) {
    if (!/^[a-z0-9-]+-[0-9a-f]{16}$/.test(name)) continue;
    const text = await readFile(path.join(imagesDir, name, 'image.json'), 'utf8').catch(() => null);
    if (text) out.push({ ...(JSON.parse(text) as ImageRecord), rootfs: path.join(imagesDir, name, 'rootfs') });
  }
  return out.sort((a, b) => b.created.localeCompare(a.created));
}
