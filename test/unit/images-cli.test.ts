// `lab images`: crictl's columns plus SOURCE; ids and sizes only of what the instance has built.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { humanSize, imagesTable } from '../../src/cli/commands/images.ts';
import type { ImageRecord } from '../../src/kubelet/image-build.ts';
import { builtImages, ensureImage, localImages } from '../../src/kubelet/images.ts';
import { instancePaths } from '../../src/node/instance.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const INSTANCE = 'pplt-imgcli';
const paths = instancePaths(INSTANCE);
afterAll(() => rmSync(paths.stateDir, { recursive: true, force: true }));

const lab = (...args: string[]) => execFileSync(process.execPath, [path.join(ROOT, 'bin/lab.js'), ...args], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const rows = (out: string) => out.trimEnd().split('\n').map((l) => l.split(/ {3,}/));

describe('lab images', () => {
  it('sizes as crictl prints them (go-units, 3 significant digits, decimal units)', () => {
    expect([999, 1982409, 11772424, 105182750, 4_190].map(humanSize)).toEqual(['999B', '1.98MB', '11.8MB', '105MB', '4.19kB']);
  });

  it('one row per image and tag; the newest build gives id and size, older builds are <none>', () => {
    const build = (id: string, created: string, size = 1982409): ImageRecord => ({ name: 'docker.io/library/busybox', id: id.repeat(64), size, source: 'built from busybox-static', created });
    const out = imagesTable(localImages(), [build('a', '2026-01-01T00:00:00Z'), build('b', '2026-01-02T00:00:00Z', 2_000_000)]);
    const r = rows(out);
    expect(r[0]).toEqual(['IMAGE', 'TAG', 'IMAGE ID', 'SIZE', 'SOURCE']);
    const busybox = r.filter((x) => x[0] === 'docker.io/library/busybox');
    expect(busybox.map((x) => x.slice(1, 4))).toEqual([
      ...localImages()[0]!.tags.map((t) => [t, 'b'.repeat(13), '2MB']),
      ['<none>', 'a'.repeat(13), '1.98MB'],
    ]);
    expect(r.find((x) => x[0] === 'docker.io/packet-path-lab/coredns')).toEqual(['docker.io/packet-path-lab/coredns', 'latest', '-', '-', expect.stringMatching(/^node v\d+.* \+ build\/coredns\.mjs$/)]);
  });

  it('without an instance: what the lab can run, with where each image comes from', () => {
    const out = lab('images', '--name', 'pplt-none');
    const r = rows(out);
    expect(r.map((x) => `${x[0]}:${x[1]}`)).toEqual(['IMAGE:TAG', ...localImages().flatMap((i) => i.tags.map((t) => `${i.repository}:${t}`))]);
    expect(r.slice(1).every((x) => x[2] === '-' && x[3] === '-')).toBe(true);
    expect(r[1]![4]).toMatch(/^Debian package busybox-static \d+:1\.\d+/);
    expect(r.find((x) => x[0] === 'docker.io/packet-path-lab/ingress-nginx')![4]).toMatch(/^Debian packages nginx 1\.\d+.*, busybox-static /);
  });

  it.skipIf(process.getuid?.() !== 0)("an instance's builds: their id (13 hex, as crictl) and size (needs root: /run)", async () => {
    await ensureImage(paths.imagesDir, 'busybox');
    const [record] = await builtImages(paths.imagesDir);
    const r = rows(lab('images', '--name', INSTANCE));
    expect(r.find((x) => x[0] === 'docker.io/library/busybox' && x[1] === 'latest')!.slice(2, 4)).toEqual([record!.id.slice(0, 13), humanSize(record!.size)]);
    expect(r.find((x) => x[0] === 'docker.io/packet-path-lab/pause')!.slice(2, 4)).toEqual(['-', '-']);
  });
});
