// "Images": the lower layer of a container's overlay root filesystem.
// - busybox: a minimal root built once per instance from the machine's busybox (the binary,
//   the shared libraries it links, one symlink per applet in /bin), like the busybox image.
// - any other image: the machine's own root filesystem, read-only below the pod's writable
//   layer. The lab has no registry; system pods (DNS, ingress) run the Debian packages
//   installed on the machine, the way the VM provisions them.
import { copyFile, mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { run } from '../sys/exec.ts';

export const HOST_ROOT_IMAGE_LOWER = '/';

/** Default PATH inside a container, as the images set it. */
export function imagePath(image: string): string {
  return isBusybox(image) ? '/bin:/sbin:/usr/bin:/usr/sbin' : '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
}

export function isBusybox(image: string): boolean {
  return /^(docker\.io\/)?(library\/)?busybox(:[\w.-]+)?(@sha256:[a-f0-9]{64})?$/.test(image);
}

export async function findBusybox(): Promise<string> {
  for (const p of ['/usr/bin/busybox', '/bin/busybox']) if (existsSync(p)) return p;
  throw new Error('busybox is not installed: apt-get install busybox');
}

const building = new Map<string, Promise<string>>();

/** Returns the overlay lowerdir for the image, building the busybox layer on first use. */
export function ensureImage(imagesDir: string, image: string): Promise<string> {
  if (!isBusybox(image)) return Promise.resolve(HOST_ROOT_IMAGE_LOWER);
  const dir = path.join(imagesDir, 'busybox');
  if (existsSync(path.join(dir, '.complete'))) return Promise.resolve(dir);
  let p = building.get(dir);
  if (!p) {
    p = buildBusyboxLayer(imagesDir, dir).finally(() => building.delete(dir));
    building.set(dir, p);
  }
  return p;
}

// Built in a temporary directory and renamed into place, so a layer is there whole or not at all.
// Not sys/files.ts's writeFileAtomic: this is a directory, and the first `lab up` to rename wins
// (a second rename fails on the now non-empty directory; the loser removes its copy).
async function buildBusyboxLayer(imagesDir: string, dir: string): Promise<string> {
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  await rm(tmp, { recursive: true, force: true });
  const busybox = await findBusybox();
  await mkdir(path.join(tmp, 'bin'), { recursive: true });
  await copyFile(busybox, path.join(tmp, 'bin', 'busybox'));
  // Shared libraries, from ldd (empty for busybox-static).
  const ldd = await run(['ldd', busybox], { allowFail: true });
  for (const m of ldd.stdout.matchAll(/(\/\S+\.so[\w.]*)/g)) {
    const lib = m[1]!;
    await mkdir(path.join(tmp, path.dirname(lib)), { recursive: true });
    await copyFile(lib, path.join(tmp, lib));
  }
  const { stdout } = await run([busybox, '--list']);
  for (const applet of stdout.split('\n')) {
    if (!/^[\w.[\]-]+$/.test(applet) || applet === 'busybox') continue;
    await symlink('busybox', path.join(tmp, 'bin', applet));
  }
  for (const d of ['etc', 'tmp', 'proc', 'dev', 'root', 'var/www']) await mkdir(path.join(tmp, d), { recursive: true });
  await writeFile(path.join(tmp, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n');
  await writeFile(path.join(tmp, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  await writeFile(path.join(tmp, '.complete'), `${busybox}\n`);
  await mkdir(imagesDir, { recursive: true });
  try {
    await rename(tmp, dir);
  } catch {
    await rm(tmp, { recursive: true, force: true }); // another `lab up` built it first
  }
  return dir;
}

/** An image the lab does not have (it has no registry). */
export class ImageNotFoundError extends Error {
  constructor(readonly image: string) {
    super(`image ${JSON.stringify(image)} is not one of the lab's local images; the lab has no registry`);
  }
}
