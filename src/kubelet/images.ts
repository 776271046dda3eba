// The lab's local images: the only root filesystems a container can have. The lab has no registry
// and pulls nothing; each image is built per instance from files of the machine that a Debian
// package installed (or the lab's own DNS bundle), and nothing else of the machine is ever in it.
// Any other image is refused (ImageNotFoundError), as a kubelet reports ErrImagePull for an image
// its runtime cannot pull. `lab images` lists them.
//
// An image's root filesystem is the overlay lowerdir of its containers (image-build.ts builds
// it); imageConfig() is the part of an OCI image config the runtime needs: Env, Entrypoint, Cmd.
// As in Kubernetes, a container's `command` replaces the image's Entrypoint and `args` its Cmd.
import { DEFAULT_MOUNTS } from './oci.ts';
import { stat } from 'node:fs/promises';
import { debianPackageVersion, upstreamVersion } from '../sys/dpkg.ts';
import { run } from '../sys/exec.ts';
import { ensureBuilt, listBuilds, type Entry, type ImageRecord } from './image-build.ts';
import { ensureProgram } from './programs.ts';

export interface ImageConfig {
  env: string[];
  entrypoint?: string[];
  cmd?: string[];
  workingDir?: string;
}

export class ImageNotFoundError extends Error {
  readonly image: string;
  constructor(image: string) {
    const known = LOCAL_IMAGES.map((i) => i.name).join(', ');
    const same = resolveName(image);
    const tags = same ? `; the lab has ${same.tags().map((t) => `${same.name}:${t}`).join(', ')}` : '';
    super(`image ${JSON.stringify(image)} is not one of the lab's local images (${known})${tags}; the lab has no registry: see 'lab images'`);
    this.image = image;
    this.name = 'ImageNotFoundError';
  }
}

interface LocalImage {
  /** As a manifest writes it (`busybox`). */
  name: string;
  /** Normalized as containerd and crictl show it (`docker.io/library/busybox`). */
  repository: string;
  /** Directory name of its builds. */
  slug: string;
  tags: () => string[];
  /** Where it comes from, cheap to compute (no process). */
  source: () => string;
  config: ImageConfig;
  plan: () => Promise<Entry[]>;
}

// The busybox image's config: PATH as Docker's busybox sets it, `sh` when nothing is given.
const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Where Debian's busybox-static installs its (statically linked) binary. */
export const BUSYBOX = '/bin/busybox';

const pkg = (name: string) => `${name} ${debianPackageVersion(name) ?? '(not installed)'}`;

const LOCAL_IMAGES: readonly LocalImage[] = [
  {
    name: 'busybox',
    repository: 'docker.io/library/busybox',
    slug: 'busybox',
    tags: busyboxTags,
    source: () => `Debian package ${pkg('busybox-static')}`,
    config: { env: [PATH_ENV], cmd: ['sh'] },
    plan: async () => [...base(), ...(await busyboxFiles()), { kind: 'dir', path: '/var/www' }],
  },
  {
    // The pod sandbox ("pause") container, as registry.k8s.io/pause (k3s: rancher/mirrored-pause).
    name: 'packet-path-lab/pause',
    repository: 'docker.io/packet-path-lab/pause',
    slug: 'pause',
    tags: () => ['latest'],
    source: () => `Debian package ${pkg('busybox-static')} + /pause (a busybox sh script)`,
    config: { env: [PATH_ENV], entrypoint: ['/pause'] },
    // Its root is mounted read-only as it is (containerd's sandbox spec: WithRootFSReadonly), with
    // no writable layer: every mount point runc uses is here already, so runc never writes into it.
    plan: async () => [...base(), ...(await busyboxFiles()), ...SANDBOX_MOUNT_POINTS, { kind: 'text', path: '/pause', content: PAUSE, mode: 0o755 }],
  },
  {
    // The lab's own DNS server (src/dns), bundled by bin/bundles.mjs, run by the controller's node.
    name: 'packet-path-lab/coredns',
    repository: 'docker.io/packet-path-lab/coredns',
    slug: 'coredns',
    tags: () => ['latest'],
    source: () => `node ${process.version} (${process.execPath}) + build/coredns.mjs`,
    config: { env: [PATH_ENV], entrypoint: ['/usr/bin/node', '/coredns.mjs'] },
    plan: async () => [
      ...base(),
      ...(await dynamicBinary(process.execPath, '/usr/bin/node')),
      // ensureProgram rebuilds the bundle first if src/dns changed: a new bundle is a new image id.
      { kind: 'copy', path: '/coredns.mjs', from: await ensureProgram('coredns') },
    ],
  },
  {
    // Debian's nginx, run with the configuration src/ingress renders; busybox gives it a shell, as
    // the real ingress-nginx image (Alpine) has one.
    name: 'packet-path-lab/ingress-nginx',
    repository: 'docker.io/packet-path-lab/ingress-nginx',
    slug: 'ingress-nginx',
    tags: () => ['latest'],
    source: () => `Debian packages ${pkg('nginx')}, ${pkg('busybox-static')}`,
    config: { env: [PATH_ENV], cmd: ['nginx', '-g', 'daemon off;'] },
    plan: async () => [
      ...base([WWW_DATA]),
      ...(await busyboxFiles()),
      ...(await dynamicBinary('/usr/sbin/nginx', '/usr/sbin/nginx')),
      { kind: 'file', path: '/etc/nginx/mime.types', from: '/etc/nginx/mime.types' },
      // Debian's nginx is built with these paths (nginx -V); a configuration that does not move
      // its temp files, logs and pid file elsewhere (the lab's does) needs them to exist.
      ...['/var/lib/nginx', '/var/log/nginx', '/run'].map((p): Entry => ({ kind: 'dir', path: p })),
    ],
  },
];

// registry.k8s.io/pause in sh: sleep until SIGINT or SIGTERM (then exit 0), and meanwhile reap
// the processes reparented to it: ash's `wait` reaps any child, not only the one it waits for.
// As PID 1 of a PID namespace a signal without a handler is ignored, hence the trap. The sleep
// runs in the background so that the trap runs at once (a shell runs traps between commands).
// `|| sleep 1`: a background job's stdin is /dev/null; without one (a runtime that mounted no
// /dev) every `sleep &` fails at once, and the loop would spin.
const PAUSE = `#!/bin/sh
trap 'kill $! 2>/dev/null; exit 0' INT TERM
while :; do sleep 86400 & wait $! || sleep 1; done
`;

/** A user and its group, for /etc/passwd and /etc/group. */
interface User {
  name: string;
  id: number;
  home: string;
  shell: string;
}
const ROOT: User = { name: 'root', id: 0, home: '/root', shell: '/bin/sh' };
// nginx's workers run as nobody:nogroup when the configuration names no user (Debian's build).
const NOBODY: User = { name: 'nobody', id: 65534, home: '/nonexistent', shell: '/bin/false' };
const WWW_DATA: User = { name: 'www-data', id: 33, home: '/var/www', shell: '/bin/false' };

/**
 * What every image has: the usual directories, root and nobody, and files-only name lookups. No
 * mount points for the kernel's file systems: the runtime creates those in the container's
 * writable layer, as runc does for any image that lacks them.
 */
/** The mount points of the default mounts (/dev's own are inside its tmpfs, /sys/fs/cgroup inside sysfs). */
const SANDBOX_MOUNT_POINTS: Entry[] = DEFAULT_MOUNTS.filter((m) => m.destination.lastIndexOf('/') === 0).map((m) => ({ kind: 'dir', path: m.destination }));

function base(extra: User[] = []): Entry[] {
  const users = [ROOT, ...extra, NOBODY];
  const group = (u: User) => (u === NOBODY ? 'nogroup' : u.name);
  return [
    ...['/bin', '/etc', '/usr/bin', '/usr/sbin', '/var'].map((p): Entry => ({ kind: 'dir', path: p })),
    { kind: 'dir', path: '/root', mode: 0o700 },
    { kind: 'dir', path: '/tmp', mode: 0o1777 },
    { kind: 'text', path: '/etc/passwd', content: users.map((u) => `${u.name}:x:${u.id}:${u.id}:${u.name}:${u.home}:${u.shell}\n`).join('') },
    { kind: 'text', path: '/etc/group', content: users.map((u) => `${group(u)}:x:${u.id}:\n`).join('') },
    { kind: 'text', path: '/etc/nsswitch.conf', content: 'passwd: files\ngroup: files\nhosts: files dns\n' },
  ];
}

/** /bin/busybox and one symlink per applet in /bin, as Docker's busybox image has them. */
async function busyboxFiles(): Promise<Entry[]> {
  await stat(BUSYBOX).catch(() => {
    throw new Error(`${BUSYBOX} is missing: the lab's images need Debian's busybox-static (apt-get install busybox-static)`);
  });
  if ((await sharedLibraries(BUSYBOX)).length) throw new Error(`${BUSYBOX} is dynamically linked: the lab's images need Debian's busybox-static (apt-get install busybox-static)`);
  const applets = await memo(`applets ${BUSYBOX}`, BUSYBOX, async () => (await run([BUSYBOX, '--list'])).stdout.split('\n'));
  return [
    { kind: 'file', path: '/bin/busybox', from: BUSYBOX },
    ...applets.filter((a) => /^[\w.[\]-]+$/.test(a) && a !== 'busybox').map((a): Entry => ({ kind: 'symlink', path: `/bin/${a}`, target: 'busybox' })),
  ];
}

/** A dynamically linked binary at `to`, with the shared libraries and the loader ldd names, each where ldd found it. */
async function dynamicBinary(from: string, to: string): Promise<Entry[]> {
  return [{ kind: 'file', path: to, from }, ...(await sharedLibraries(from)).map((lib): Entry => ({ kind: 'file', path: lib, from: lib }))];
}

/** The absolute paths ldd prints for a binary (libraries and the loader); [] for a static one. */
export async function sharedLibraries(binary: string): Promise<string[]> {
  return memo(`ldd ${binary}`, binary, async () => {
    const r = await run(['ldd', binary], { allowFail: true });
    if (r.exitCode !== 0) {
      if (/not a dynamic executable/.test(r.stdout + r.stderr)) return [];
      throw new Error(`ldd ${binary} failed: ${r.stderr.trim()}`);
    }
    return parseLdd(r.stdout, binary);
  });
}

/** ldd's output -> the files it names: `libc.so.6 => /lib/.../libc.so.6 (0x…)` and `/lib64/ld-linux-x86-64.so.2 (0x…)`. */
export function parseLdd(stdout: string, binary = 'the binary'): string[] {
  const out: string[] = [];
  for (const line of stdout.split('\n')) {
    if (/=>\s*not found/.test(line)) throw new Error(`${binary} needs ${line.trim().split(/\s/)[0]}, which ldd does not find`);
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(0x/.exec(line);
    if (m && !out.includes(m[1]!)) out.push(m[1]!);
  }
  return out;
}

// ldd and `busybox --list` run once per binary (as long as its inode and mtime stay the same).
const memos = new Map<string, Promise<string[]>>();
async function memo(what: string, file: string, f: () => Promise<string[]>): Promise<string[]> {
  const s = await stat(file);
  const key = `${what} ${s.ino}:${s.mtimeMs}`;
  let p = memos.get(key);
  if (!p) {
    p = f();
    p.catch(() => memos.delete(key));
    memos.set(key, p);
  }
  return p;
}

/** Tags of the busybox image: latest and the installed busybox-static's version (1.35.0, 1.35). */
function busyboxTags(): string[] {
  const v = debianPackageVersion('busybox-static');
  if (!v) return ['latest'];
  const up = upstreamVersion(v);
  const minor = /^(\d+\.\d+)\.\d+$/.exec(up)?.[1];
  return ['latest', up, ...(minor ? [minor] : [])];
}

// --- Resolving a reference -------------------------------------------------------------------

/**
 * A reference normalized as containerd does (docker/distribution's rules): no registry is
 * docker.io, a single name on docker.io is under library/, no tag is `latest`.
 */
export function normalizeReference(ref: string): { repository: string; tag: string; digest?: string } | undefined {
  const m = /^([a-z0-9.:/_-]+?)(?::([\w][\w.-]{0,127}))?(?:@(sha256:[a-f0-9]{64}))?$/.exec(ref);
  if (!m) return undefined;
  const parts = m[1]!.split('/');
  const first = parts[0]!;
  const hasDomain = parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost');
  const domain = hasDomain ? parts.shift()! : 'docker.io';
  if (!/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*(?::\d+)?$/.test(domain)) return undefined;
  if (domain === 'docker.io' && parts.length === 1) parts.unshift('library');
  if (parts.some((p) => !/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/.test(p))) return undefined;
  return { repository: `${domain}/${parts.join('/')}`, tag: m[2] ?? 'latest', ...(m[3] ? { digest: m[3] } : {}) };
}

function resolveName(ref: string): LocalImage | undefined {
  const n = normalizeReference(ref);
  return n && LOCAL_IMAGES.find((i) => i.repository === n.repository);
}

/**
 * The local image a reference names, or undefined. A digest never matches: the lab's images are
 * built here and have no registry digest, so `busybox@sha256:…` would be a promise it cannot keep.
 */
function resolveImage(ref: string): LocalImage | undefined {
  const n = normalizeReference(ref);
  const image = resolveName(ref);
  return n && !n.digest && image?.tags().includes(n.tag) ? image : undefined;
}

// --- What the runtime calls ------------------------------------------------------------------

/** The image's root filesystem (overlay lowerdir), built on first use. Throws ImageNotFoundError for images the lab does not have. */
export async function ensureImage(imagesDir: string, image: string): Promise<string> {
  const local = resolveImage(image);
  if (!local) throw new ImageNotFoundError(image);
  return ensureBuilt(imagesDir, { name: local.repository, slug: local.slug, source: local.source() }, dedupe(await local.plan()));
}

/** Default PATH / env, entrypoint (command) and cmd (args) of a known image; undefined for an unknown one. */
export function imageConfig(image: string): ImageConfig | undefined {
  const c = resolveImage(image)?.config;
  return c && structuredClone(c);
}

/** The default PATH of an image (the chroot runtime's; the runc runtime takes imageConfig's env). */
export function imagePath(image: string): string {
  const env = imageConfig(image)?.env.find((e) => e.startsWith('PATH='));
  return (env ?? PATH_ENV).slice('PATH='.length);
}

export function localImages(): { name: string; repository: string; tags: string[]; source: string }[] {
  return LOCAL_IMAGES.map((i) => ({ name: i.name, repository: i.repository, tags: i.tags(), source: i.source() }));
}

/** The builds an instance holds (newest first), for `lab images`. */
export function builtImages(imagesDir: string): Promise<ImageRecord[]> {
  return listBuilds(imagesDir);
}

/** Later entries for the same path are dropped (busybox's and nginx's images share /bin, /etc...). */
function dedupe(entries: Entry[]): Entry[] {
  const seen = new Set<string>();
  return entries.filter((e) => !seen.has(e.path) && seen.add(e.path));
}
