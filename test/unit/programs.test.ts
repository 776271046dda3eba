// The lab's own programs are bundled once and rebuilt only when a source file changed.
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import net from 'node:net';
import readline from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureProgram, ensurePrograms, LAB_PROGRAMS, programPath, upToDate, type ProgramSet } from '../../src/kubelet/programs.ts';

describe('program bundles', () => {
  let set: ProgramSet;
  beforeAll(async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'pplt-programs-'));
    set = { root, buildDir: path.join(root, 'build'), programs: { hello: 'main.ts' } };
    await writeFile(path.join(root, 'greeting.ts'), "export const greeting: string = 'hello';\n");
    await writeFile(path.join(root, 'main.ts'), "import { greeting } from './greeting.ts';\nconst n: number = 2;\nconsole.log(`${greeting} ${n}`);\n");
  });
  afterAll(async () => {
    if (set) await rm(set.root, { recursive: true, force: true });
  });

  it('bundles TypeScript into a module plain node runs', async () => {
    expect(await upToDate('hello', set)).toBe(false);
    const out = await ensureProgram('hello', set);
    expect(out).toBe(programPath('hello', set));
    expect(execFileSync(process.execPath, [out], { encoding: 'utf8' })).toBe('hello 2\n');
    expect(await upToDate('hello', set)).toBe(true);
  });

  it('keeps the bundle while no source changed, rebuilds when an imported file did', async () => {
    const built = (await stat(programPath('hello', set))).mtimeMs;
    await ensureProgram('hello', set);
    expect((await stat(programPath('hello', set))).mtimeMs).toBe(built);
    await writeFile(path.join(set.root, 'greeting.ts'), "export const greeting: string = 'bonjour';\n");
    expect(await upToDate('hello', set)).toBe(false);
    const out = await ensureProgram('hello', set);
    expect(execFileSync(process.execPath, [out], { encoding: 'utf8' })).toBe('bonjour 2\n');
    expect(await readFile(path.join(set.buildDir, 'hello.inputs.json'), 'utf8')).toContain('greeting.ts');
  });

  it('refuses an unknown program', async () => {
    await expect(ensureProgram('nope', set)).rejects.toThrow(/unknown program nope/);
  });

  it("the lab's bundles run under plain node: the prober agent answers a probe, the DNS server its usage", async () => {
    await ensurePrograms();
    const server = net.createServer((c) => c.end()).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as net.AddressInfo).port;
    const agent = spawn(process.execPath, [programPath('prober-agent', LAB_PROGRAMS)], { stdio: ['pipe', 'pipe', 'inherit'] });
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
      execFileSync(process.execPath, [programPath('coredns', LAB_PROGRAMS), '--bogus'], { encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      usage = String((e as { stderr: string }).stderr);
    }
    expect(usage).toContain('usage: main.ts --snapshot');
  });
});
