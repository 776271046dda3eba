// The lab's local images (src/kubelet/images.ts, image-build.ts): which references name them, that
// every other one is refused, and that each built root filesystem holds what its program needs to
// run with nothing of the machine around it (checked by running it chrooted into the image).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderIngress } from '../../src/ingress/controller.ts';
import { ensureBuilt, listBuilds } from '../../src/kubelet/image-build.ts';
import { BUSYBOX, ensureImage, imageConfig, ImageNotFoundError, localImages, normalizeReference, parseLdd, sharedLibraries } from '../../src/kubelet/images.ts';
import { programPath } from '../../src/kubelet/programs.ts';
import { debianPackageVersion, parseDpkgStatus, upstreamVersion } from '../../src/sys/dpkg.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'pplt-images-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const imagesDir = path.join(tmp, 'images');
const isRoot = process.getuid?.() === 0;
/** Runs a command chrooted into an image's root filesystem: only the image's files exist there. */
const inImage = (rootfs: string, argv: string[]) => execFileSync('chroot', [rootfs, ...argv], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } });

describe('image references', () => {
  it('normalizes as containerd does: docker.io, library/, latest', () => {
    expect(normalizeReference('busybox')).toEqual({ repository: 'docker.io/library/busybox', tag: 'latest' });
    expect(normalizeReference('docker.io/busybox:1.35')).toEqual({ repository: 'docker.io/library/busybox', tag: '1.35' });
    expect(normalizeReference('packet-path-lab/pause')).toEqual({ repository: 'docker.io/packet-path-lab/pause', tag: 'latest' });
    expect(normalizeReference('localhost:5000/lab/busybox:x')).toEqual({ repository: 'localhost:5000/lab/busybox', tag: 'x' });
    expect(normalizeReference(`busybox@sha256:${'a'.repeat(64)}`)).toEqual({ repository: 'docker.io/library/busybox', tag: 'latest', digest: `sha256:${'a'.repeat(64)}` });
    for (const bad of ['', 'Busybox', 'busybox; reboot', 'busybox:', '../busybox']) expect(normalizeReference(bad), bad).toBeUndefined();
  });

  it("busybox's tags are latest and the installed busybox-static's version", () => {
    const v = debianPackageVersion('busybox-static');
    expect(v, 'busybox-static is installed (the lab needs it)').toBeDefined();
    const up = upstreamVersion(v!);
    expect(localImages().find((i) => i.name === 'busybox')?.tags).toEqual(['latest', up, up.replace(/\.\d+$/, '')]);
    for (const ok of ['busybox', 'busybox:latest', `busybox:${up}`, 'docker.io/busybox', `docker.io/library/busybox:${up}`, 'library/busybox']) {
      expect(imageConfig(ok), ok).toEqual({ env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], cmd: ['sh'] });
    }
  });

  it('knows no other image, tag or digest', () => {
    for (const unknown of ['debian:12', 'nginx', 'busybox:0.1', `busybox@sha256:${'a'.repeat(64)}`, 'quay.io/busybox', 'packet-path-lab/coredns:1.0', 'packet-path-lab/other']) {
      expect(imageConfig(unknown), unknown).toBeUndefined();
    }
  });

  it('gives each image its entrypoint or cmd, as its OCI config would', () => {
    expect(imageConfig('packet-path-lab/pause')?.entrypoint).toEqual(['/pause']);
    expect(imageConfig('packet-path-lab/coredns')?.entrypoint).toEqual(['/usr/bin/node', '/coredns.mjs']);
    expect(imageConfig('docker.io/packet-path-lab/ingress-nginx:latest')?.cmd).toEqual(['nginx', '-g', 'daemon off;']);
    // A copy: a caller that edits it changes nothing for the next one.
    imageConfig('busybox')!.env.push('X=1');
    expect(imageConfig('busybox')!.env).toHaveLength(1);
  });

  it('refuses an unknown image with ImageNotFoundError naming the images there are', async () => {
    const err = await ensureImage(imagesDir, 'debian:12').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageNotFoundError);
    expect((err as ImageNotFoundError).image).toBe('debian:12');
    expect((err as Error).message).toBe(
      `image "debian:12" is not one of the lab's local images (busybox, packet-path-lab/pause, packet-path-lab/coredns, packet-path-lab/ingress-nginx); the lab has no registry: see 'lab images'`,
    );
    const tag = await ensureImage(imagesDir, 'busybox:0.1').catch((e: Error) => e.message);
    expect(tag).toContain('the lab has busybox:latest, busybox:');
    expect(existsSync(imagesDir)).toBe(false); // nothing built for a refused image
  });
});

describe('ldd and dpkg', () => {
  it("parses ldd's libraries and loader, and fails on a missing library", () => {
    const out = '\tlinux-vdso.so.1 (0x00007ffd)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n';
    expect(parseLdd(out)).toEqual(['/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2']);
    expect(() => parseLdd('\tlibgone.so.1 => not found\n', '/usr/bin/x')).toThrow(/\/usr\/bin\/x needs libgone\.so\.1/);
  });

  it('reads installed versions from a dpkg status file, skipping removed packages', () => {
    const status = 'Package: a\nStatus: install ok installed\nVersion: 1:1.35.0-4+deb12u1+b1\n\nPackage: b\nStatus: deinstall ok config-files\nVersion: 2\n';
    expect([...parseDpkgStatus(status)]).toEqual([['a', '1:1.35.0-4+deb12u1+b1']]);
    expect(upstreamVersion('1:1.35.0-4+deb12u1+b1')).toBe('1.35.0');
    expect(upstreamVersion('1.22.1-9+deb12u11')).toBe('1.22.1');
  });
});

describe('built images', () => {
  it('busybox: the static binary from busybox-static and one symlink per applet', async () => {
    const rootfs = await ensureImage(imagesDir, 'busybox');
    expect(await sharedLibraries(BUSYBOX)).toEqual([]); // statically linked: nothing else needed
    expect(statSync(path.join(rootfs, 'bin/busybox')).size).toBe(statSync(BUSYBOX).size);
    const applets = readdirSync(path.join(rootfs, 'bin')).filter((f) => f !== 'busybox');
    expect(applets.length).toBeGreaterThan(200);
    for (const a of ['sh', 'httpd', 'wget', 'sleep']) expect(readlinkSync(path.join(rootfs, 'bin', a)), a).toBe('busybox');
    expect(readFileSync(path.join(rootfs, 'etc/passwd'), 'utf8')).toMatch(/^root:x:0:0:/);
    expect(existsSync(path.join(rootfs, 'etc/shadow'))).toBe(false);
    expect(statSync(path.join(rootfs, 'tmp')).mode & 0o7777).toBe(0o1777);
    // The same inputs: the same build, no second one.
    expect(await Promise.all([ensureImage(imagesDir, 'docker.io/library/busybox:latest'), ensureImage(imagesDir, 'busybox')])).toEqual([rootfs, rootfs]);
    expect((await listBuilds(imagesDir)).filter((b) => b.name === 'docker.io/library/busybox')).toHaveLength(1);
  });

  it.skipIf(!isRoot)('busybox: sh runs chrooted into the image (needs root)', async () => {
    const rootfs = await ensureImage(imagesDir, 'busybox');
    expect(inImage(rootfs, ['/bin/sh', '-c', 'echo hi from $(cat /etc/passwd | wc -l) users; ls /usr/bin/node /etc/shadow 2>&1 || true'])).toMatch(/^hi from 2 users\n.*No such file/);
  });

  it('pause: /pause sleeps until SIGTERM, then exits 0 at once', async () => {
    const rootfs = await ensureImage(imagesDir, 'packet-path-lab/pause');
    expect(statSync(path.join(rootfs, 'pause')).mode & 0o111).not.toBe(0);
    // Run by the image's busybox, outside the image: a chroot has no /dev (the runtime mounts one).
    const child = spawn(BUSYBOX, ['sh', path.join(rootfs, 'pause')], { stdio: 'ignore' });
    const exited = new Promise<[number | null, NodeJS.Signals | null, number]>((resolve) => child.on('exit', (code, signal) => resolve([code, signal, Date.now()])));
    await new Promise((r) => setTimeout(r, 300));
    expect(child.exitCode).toBeNull(); // still sleeping
    const t = Date.now();
    child.kill('SIGTERM');
    // Exit 0 from the trap, at once; a script without one would die of the signal.
    const [code, signal, at] = await exited;
    expect([code, signal, at - t < 500]).toEqual([0, null, true]);
  });

  it.skipIf(!isRoot)('coredns: node, the libraries and loader ldd names, and the bundle; node runs chrooted (needs root)', async () => {
    const rootfs = await ensureImage(imagesDir, 'packet-path-lab/coredns');
    expect(statSync(path.join(rootfs, 'usr/bin/node')).size).toBe(statSync(process.execPath).size);
    const libs = await sharedLibraries(process.execPath);
    expect(libs.some((l) => /ld-linux/.test(l))).toBe(true);
    for (const lib of libs) expect(statSync(path.join(rootfs, lib)).isFile(), lib).toBe(true);
    expect(readFileSync(path.join(rootfs, 'coredns.mjs'))).toEqual(readFileSync(programPath('coredns')));
    expect(inImage(rootfs, ['/usr/bin/node', '-e', 'console.log(process.version, typeof require("node:dgram").createSocket)'])).toBe(`${process.version} function\n`);
    // The bundle loads and runs inside the image (and stops at its argument check).
    const r = spawnSync('chroot', [rootfs, '/usr/bin/node', '/coredns.mjs', '--snapshot', '/none', '--port', 'x'], { encoding: 'utf8' });
    expect([r.status, r.stderr]).toEqual([1, expect.stringContaining('dns: --port must be an integer 0..65535, got "x"')]);
  });

  it.skipIf(!isRoot)("ingress-nginx: nginx accepts the lab's rendered config chrooted, workers as nobody:nogroup (needs root)", async () => {
    const rootfs = await ensureImage(imagesDir, 'packet-path-lab/ingress-nginx');
    for (const lib of await sharedLibraries('/usr/sbin/nginx')) expect(existsSync(path.join(rootfs, lib)), lib).toBe(true);
    expect(readFileSync(path.join(rootfs, 'etc/passwd'), 'utf8')).toContain('nobody:x:65534:65534:');
    expect(readFileSync(path.join(rootfs, 'etc/group'), 'utf8')).toContain('nogroup:x:65534:');
    expect(existsSync(path.join(rootfs, 'etc/nginx/mime.types'))).toBe(true);
    // The prefix is a hostPath volume in the pod; here a directory of this test's own build.
    const prefix = '/tmp/ingress';
    await mkdir(path.join(rootfs, prefix), { recursive: true });
    const conf = renderIngress(prefix.replace(/\/ingress$/, ''), { ingresses: [], services: [], config: { clusterDNS: '10.43.0.10', clusterDomain: 'cluster.local' } as never }).text;
    await writeFile(path.join(rootfs, prefix, 'nginx.conf'), conf);
    const r = execFileSync('chroot', [rootfs, 'nginx', '-t', '-p', `${prefix}/`, '-c', `${prefix}/nginx.conf`, '-e', 'stderr'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: '/usr/sbin:/bin' } });
    expect(r).toBe('');
  });
});

describe('rebuilds (image-build.ts)', () => {
  it("a changed file of the lab's own is a new build beside the old one; unchanged inputs reuse the build", async () => {
    const dir = path.join(tmp, 'rebuild');
    const src = path.join(tmp, 'program.mjs');
    writeFileSync(src, 'console.log(1)\n');
    const plan = () => [{ kind: 'copy' as const, path: '/program.mjs', from: src }, { kind: 'file' as const, path: '/bin/busybox', from: BUSYBOX }];
    const image = { name: 'docker.io/packet-path-lab/test', slug: 'test', source: 'a test' };
    const first = await ensureBuilt(dir, image, plan());
    expect(await ensureBuilt(dir, image, plan())).toBe(first);
    writeFileSync(src, 'console.log(2)\n');
    const second = await ensureBuilt(dir, image, plan());
    expect(second).not.toBe(first);
    expect(readFileSync(path.join(first, 'program.mjs'), 'utf8')).toBe('console.log(1)\n'); // the old build is untouched
    expect(readFileSync(path.join(second, 'program.mjs'), 'utf8')).toBe('console.log(2)\n');
    const builds = await listBuilds(dir);
    expect(builds.map((b) => b.rootfs).sort()).toEqual([first, second].sort());
    expect(builds.every((b) => /^[0-9a-f]{64}$/.test(b.id) && b.size === statSync(BUSYBOX).size + 15)).toBe(true);
    // The machine's file is one inode shared by both builds (a hard link, or one copy in blobs/).
    expect(statSync(path.join(first, 'bin/busybox')).ino).toBe(statSync(path.join(second, 'bin/busybox')).ino);
    expect(lstatSync(path.join(dir, 'blobs')).isDirectory()).toBe(true);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  it('refuses a plan path outside the image', async () => {
    await expect(ensureBuilt(path.join(tmp, 'bad'), { name: 'x', slug: 'x', source: '' }, [{ kind: 'text', path: '/../etc/x', content: '' }])).rejects.toThrow(/must be absolute, without \.\./);
  });
});
