// The CLI and the lab's own programs run from esbuild bundles, rebuilt only when a source changed.
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle, ensureBundle, isFresh, LAB_ROOT, type BundleOptions } from '../../bin/bundles.mjs';
import { ensurePrograms, programPath } from '../../src/kubelet/programs.ts';

const run = (file: string, ...args: string[]) => execFileSync(process.execPath, [file, ...args], { encoding: 'utf8' });

describe('bundles', () => {
  let opts: BundleOptions & { root: string };
  beforeAll(async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'pplt-bundles-'));
    opts = {
      root,
      bundles: {
        hello: { entry: 'main.ts', outfile: 'build/hello.mjs', splitting: false },
        split: { entry: 'cli.ts', outfile: 'build/split/main.mjs', splitting: true },
      },
    };
    await writeFile(path.join(root, 'package.json'), '{}\n');
    await writeFile(path.join(root, 'greeting.ts'), "export const greeting: string = 'hello';\n");
    await writeFile(path.join(root, 'main.ts'), "import { greeting } from './greeting.ts';\nconst n: number = 2;\nconsole.log(`${greeting} ${n}`);\n");
    await writeFile(path.join(root, 'cli.ts'), "const which = process.argv[2] ?? 'a';\nconst m = which === 'a' ? await import('./a.ts') : await import('./b.ts');\nconsole.log(m.word);\n");
    await writeFile(path.join(root, 'a.ts'), "export const word = 'alpha';\n");
    await writeFile(path.join(root, 'b.ts'), "export const word = 'beta';\n");
  });
  afterAll(async () => {
    if (opts) await rm(opts.root, { recursive: true, force: true });
  });
  it('bundles TypeScript into a module plain node runs', async () => {
    expect(isFresh('hello', opts)).toBe(false);
    const out = await ensureBundle('hello', opts);
    expect(out).toBe(path.join(opts.root, 'build/hello.mjs'));
    expect(run(out)).toBe('hello 2\n');
    expect(isFresh('hello', opts)).toBe(true);
  });

  it('keeps the bundle while no source changed (even when touched), rebuilds when an imported file did', async () => {
    const out = path.join(opts.root, 'build/hello.mjs');
    const built = (await stat(out)).mtimeMs;
    const later = new Date(Date.now() + 5000);
    await utimes(path.join(opts.root, 'greeting.ts'), later, later);
    expect(isFresh('hello', opts)).toBe(true);
    await ensureBundle('hello', opts);
    expect((await stat(out)).mtimeMs).toBe(built);
    await writeFile(path.join(opts.root, 'greeting.ts'), "export const greeting: string = 'bonjour';\n");
    expect(isFresh('hello', opts)).toBe(false);
    expect(run(await ensureBundle('hello', opts))).toBe('bonjour 2\n');
    expect(await readFile(path.join(opts.root, 'build/hello.inputs.json'), 'utf8')).toContain('greeting.ts');
  });

  it('a deleted input or bundle makes it stale', async () => {
    await rm(path.join(opts.root, 'build/hello.mjs'));
    expect(isFresh('hello', opts)).toBe(false);
    await ensureBundle('hello', opts);
    await rm(path.join(opts.root, 'greeting.ts'));
    expect(isFresh('hello', opts)).toBe(false);
    await writeFile(path.join(opts.root, 'greeting.ts'), "export const greeting: string = 'hello';\n");
  });

  it('splits dynamic imports into chunks; a rebuild keeps the old chunks a running process may still load', async () => {
    const out = await ensureBundle('split', opts);
    expect(run(out, 'a')).toBe('alpha\n');
    expect(run(out, 'b')).toBe('beta\n');
    const chunks = async () => (await import('node:fs/promises')).readdir(path.join(opts.root, 'build/split/chunks'));
    const before = await chunks();
    expect(before.length).toBeGreaterThanOrEqual(2);
    await writeFile(path.join(opts.root, 'b.ts'), "export const word = 'gamma';\n");
    await buildBundle('split', opts);
    expect(run(out, 'b')).toBe('gamma\n');
    const after = await chunks();
    for (const c of before) expect(after).toContain(c);
    expect(after.length).toBe(before.length + 1);
  });

  it('refuses an unknown bundle', async () => {
    await expect(ensureBundle('nope', opts)).rejects.toThrow(/unknown bundle nope/);
  });

  it('finds the checkout from a bundled copy of itself', async () => {
    const dir = path.join(opts.root, 'build', 'x', 'chunks');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'probe.mjs'), await readFile(path.join(LAB_ROOT, 'bin/bundles.mjs'), 'utf8'));
    const printed = execFileSync(process.execPath, ['--input-type=module', '-e', `import(${JSON.stringify(path.join(dir, 'probe.mjs'))}).then((m) => console.log(m.LAB_ROOT))`], { encoding: 'utf8' });
    expect(printed.trim()).toBe(opts.root);
  });
});

describe("the lab's bundles", () => {
  it('the CLI bundle answers --version and --help under plain node', async () => {
    const cli = await ensureBundle('cli');
    const pkg = JSON.parse(await readFile(path.join(LAB_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(run(cli, '--version').trim()).toBe(pkg.version);
    const help = run(cli, '--help');
    for (const cmd of ['up', 'down', 'get', 'trace', 'tcpdump', 'explain', 'kill']) expect(help).toMatch(new RegExp(`lab ${cmd}`));
  });

  it('the prober agent answers a probe, the DNS server its usage', async () => {
    await ensurePrograms();
    const server = net.createServer((c) => c.end()).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as net.AddressInfo).port;
    const agent = spawn(process.execPath, [programPath('prober-agent')], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      const line = new Promise<string>((resolve) => readline.createInterface({ input: agent.stdout! }).once('line', resolve));
      agent.stdin!.write(`${JSON.stringify({ id: 7, kind: 'tcp', host: '127.0.0.1', port, timeoutMs: 1000 })}\n`);
      expect(JSON.parse(await line)).toMatchObject({ id: 7, ok: true });
    } finally {
      agent.kill();
      server.close();
    }
    let usage = '';
    try {
      execFileSync(process.execPath, [programPath('coredns'), '--bogus'], { encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      usage = String((e as { stderr: string }).stderr);
    }
    expect(usage).toContain('usage: main.ts --snapshot');
  });
});
