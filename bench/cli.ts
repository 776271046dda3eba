// Benchmark `cli`: how long a learner waits for `lab` to answer. `lab --version` and `lab get pods`
// (against a running sandbox instance: its server, `lab up --watch`, answers over HTTPS) from a
// fresh process each time, as typed in a terminal, against `node -e ''` on the same machine (the
// floor: what any Node program pays to start).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBundle } from '../bin/bundles.mjs';
import { which } from '../src/cli/preflight.ts';
import { waitConverged } from '../src/client/converge.ts';
import { deferCleanup, median, type Benchmark, type Figure } from './harness.ts';
import { LAB_BIN, labDown, startServerProcess, type ServerProcess } from './server-process.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Wall-clock milliseconds of one run; throws when the command fails. */
function timeOnce(argv: string[]): number {
  return runOnce(argv).ms;
}

function runOnce(argv: string[]): { ms: number; stdout: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', cwd: ROOT });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { ms, stdout: r.stdout };
}

export const cliBenchmark: Benchmark = {
  name: 'cli',
  description: "`lab --version` and `lab get pods` (a running sandbox instance: its server answers over HTTPS) against `node -e ''`: median wall-clock time of a fresh process, as a learner types them",
  needsRoot: true,
  options: { runs: 'runs of each command (default 21)' },
  async run(ctx) {
    const runs = Number(ctx.options.runs ?? 21);
    await ensureBundle('cli'); // the first run after a source change rebuilds; not what is measured
    const instance = `bcli${process.pid.toString(36)}`.slice(0, 16);
    let server: ServerProcess | undefined;
    const cleanup = deferCleanup(async () => {
      await server?.stop();
      await labDown(instance);
    });
    try {
      server = await startServerProcess({ instance, statePath: `${ROOT}/lab/cluster.yaml`, configPath: `${ROOT}/lab/config.yaml` });
      const client = await server.client();
      const c = await waitConverged(client, { timeoutMs: 120_000 }).finally(() => client.close());
      if (!c.done) throw new Error(`the server did not converge: ${c.waiting.join('; ')}`);
      const commands: Record<string, string[]> = {
        floor: [process.execPath, '-e', ''],
        version: [process.execPath, LAB_BIN, '--version'],
        getPods: [process.execPath, LAB_BIN, 'get', 'pods', '--name', instance],
        // What every start cost before the bundles: the sources through the tsx loader.
        tsx: [process.execPath, '--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), '--version'],
      };
      const kubectl = which('kubectl');
      if (kubectl) commands.kubectl = [kubectl, 'version', '--client'];
      const times: Record<string, number[]> = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
      for (const argv of Object.values(commands)) timeOnce(argv); // warm the page cache
      // The pods it lists (the default namespace's: app1, app2, app3), from its table's rows.
      const rows = runOnce(commands.getPods!).stdout.trimEnd().split('\n').slice(1);
      if (!rows.length || rows.some((r) => !/\bRunning\b/.test(r))) throw new Error(`lab get pods did not list running pods:\n${rows.join('\n')}`);
      // Interleaved, so that a slow moment of the machine hits every command alike.
      for (let i = 0; i < runs; i++) for (const [k, argv] of Object.entries(commands)) times[k]!.push(timeOnce(argv));
      const floor = median(times.floor!);
      ctx.note(`${runs} runs of each command, interleaved; medians. Floor \`node -e ''\`: ${floor.toFixed(0)} ms.`);
      if (times.kubectl) ctx.note(`For reference, \`kubectl version --client\` on the same machine: ${median(times.kubectl).toFixed(0)} ms (a Go binary: no runtime to start).`);
      ctx.note('`lab` runs build/cli/main.mjs (bin/bundles.mjs; rebuilt only when a source changed): yargs and the command table; a subcommand loads its own chunk.');
      ctx.note(`\`lab get pods\`: the instance's server (\`lab up --watch\` on lab/cluster.yaml, converged) answers over HTTPS on 127.0.0.1 with the admin's client certificate; a Table of the default namespace's ${rows.length} pods, as kubectl prints it.`);
      const fig = (name: string, xs: number[]): Figure => ({ name, value: Math.round(median(xs)), unit: 'ms', floor: Math.round(floor), goal: 4 });
      return [
        fig('lab --version', times.version!),
        fig(`lab get pods (${rows.length} pods, from the server's API)`, times.getPods!),
        { name: 'lab --version from the sources through tsx (no bundle; for comparison)', value: Math.round(median(times.tsx!)), unit: 'ms', floor: Math.round(floor) },
      ];
    } finally {
      await cleanup();
    }
  },
};
