// The lint encodes the architecture (lint/layers.js, lint/plugin.js): these are the violations it
// must catch, written as a new file would be, and the code it must leave alone.
import path from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { LAYERS, layerOrder } from '../../lint/layers.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const eslint = new ESLint({ cwd: ROOT });

/** The `lab/*` problems eslint reports for `code` as if it were the file `file`. */
async function labProblems(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(ROOT, file) });
  return result!.messages.filter((m) => m.ruleId?.startsWith('lab/') || m.fatal).map((m) => `${m.ruleId}: ${m.message}`);
}

describe('lint: only src/sys spawns processes, sends signals, reads /proc', () => {
  it("refuses `import { execa }` in src/dns", async () => {
    const problems = await labProblems('src/dns/lookup-helper.ts', "import { execa } from 'execa';\nexport const r = () => execa('dig', ['x']);\n");
    expect(problems).toEqual([expect.stringMatching(/^lab\/layers: only src\/sys starts processes.*'execa'/)]);
  });

  it('refuses node:child_process in src/kubelet', async () => {
    const problems = await labProblems('src/kubelet/starter.ts', "import { spawn } from 'node:child_process';\nexport const s = () => spawn('busybox');\n");
    expect(problems).toEqual([expect.stringMatching(/^lab\/layers: .*node:child_process/)]);
  });

  it('refuses process.kill and any .kill() outside src/sys', async () => {
    const code = "export function stop(pid: number, c: { kill(): void }) {\n  process.kill(pid, 'SIGTERM');\n  c.kill();\n}\n";
    const problems = await labProblems('src/controllers/stopper.ts', code);
    expect(problems).toEqual([expect.stringMatching(/^lab\/no-signals: .*process\.kill\(\)/), expect.stringMatching(/^lab\/no-signals: .*c\.kill\(\)/)]);
  });

  it('refuses naming /proc outside src/sys', async () => {
    const code = "import { readFile } from 'node:fs/promises';\nexport const cmd = (pid: number) => readFile(`/proc/${pid}/cmdline`, 'utf8');\nexport const all = '/proc';\n";
    const problems = await labProblems('src/ingress/pids.ts', code);
    expect(problems).toHaveLength(2);
    for (const p of problems) expect(p).toMatch(/^lab\/no-proc: /);
  });

  it('allows all of it in src/sys', async () => {
    const code = "import { spawn } from 'node:child_process';\nimport { readFile } from 'node:fs/promises';\nexport const f = (pid: number) => { process.kill(pid, 0); spawn('ip').kill(); return readFile(`/proc/${pid}/stat`, 'utf8'); };\n";
    expect(await labProblems('src/sys/example.ts', code)).toEqual([]);
  });
});

describe('lint: folders import only the folders below them', () => {
  it('refuses an import of cli/ from trace/', async () => {
    const problems = await labProblems('src/trace/when.ts', "import { table } from '../cli/format.ts';\nexport const t = table;\n");
    expect(problems).toEqual([expect.stringMatching(/^lab\/layers: src\/trace may not import src\/cli/)]);
  });

  it('refuses an import of node/ from api/ (the store is below the node plumbing)', async () => {
    const problems = await labProblems('src/api/modes.ts', "import { BRIDGE } from '../node/node.ts';\nexport const b = BRIDGE;\n");
    expect(problems).toEqual([expect.stringMatching(/^lab\/layers: src\/api may not import src\/node/)]);
  });

  it('allows imports down the layers, within a folder, dynamic ones included', async () => {
    const code = "import type { Pod } from '../../api/types.ts';\nimport { common } from '../common.ts';\nexport const f = async (p: Pod) => [common, p, await import('../../trace/render.ts')];\n";
    expect(await labProblems('src/cli/commands/example.ts', code)).toEqual([]);
  });

  it('checks dynamic imports too', async () => {
    const problems = await labProblems('src/proxy/lazy.ts', "export const f = () => import('../controllers/lab.ts');\n");
    expect(problems).toEqual([expect.stringMatching(/^lab\/layers: src\/proxy may not import src\/controllers/)]);
  });

  it('refuses a folder that is not in lint/layers.js, and imports from outside src/', async () => {
    expect(await labProblems('src/web/page.ts', 'export const x = 1;\n')).toEqual([expect.stringMatching(/src\/web is not in lint\/layers\.js/)]);
    expect(await labProblems('src/dns/t.ts', "import { x } from '../../test/e2e/helpers.ts';\nexport const y = x;\n")).toEqual([expect.stringMatching(/may not import test\/e2e\/helpers\.ts/)]);
  });

  it('the declared layers are acyclic, and a cycle is refused', () => {
    const order = layerOrder();
    for (const [folder, deps] of Object.entries(LAYERS)) for (const d of deps) expect(order.indexOf(d)).toBeLessThan(order.indexOf(folder));
    expect(() => layerOrder({ a: ['b'], b: ['c'], c: ['a'] })).toThrow(/folder cycle: a -> b -> c -> a/);
  });
});
