// Benchmark `cli`: how long a learner waits for `lab` to answer. `lab --version` and `lab get pods`
// (against a running sandbox lab) from a fresh process each time, as typed in a terminal, against
// `node -e ''` on the same machine (the floor: what any Node program pays to start).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBundle } from '../bin/bundles.mjs';
import { which } from '../src/cli/preflight.ts';
import { Cluster, down } from '../src/controllers/lab.ts';
import { median, type Benchmark, type Figure } from './harness.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const LAB_BIN = path.join(ROOT, 'bin', 'lab.js');

/** Wall-clock milliseconds of one run; throws when the command fails. */
function timeOnce(argv: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', cwd: ROOT });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

export const cliBenchmark: Benchmark = {
  name: 'cli',
  description: "`lab --version` and `lab get pods` (a running sandbox lab) against `node -e ''`: median wall-clock time of a fresh process, as a learner types them",
  needsRoot: true,
  options: { runs: 'runs of each command (default 21)' },
  async run(ctx) {
    const runs = Number(ctx.options.runs ?? 21);
    await ensureBundle('cli'); // the first run after a source change rebuilds; not what is measured
    const instance = `bcli${process.pid.toString(36)}`.slice(0, 16);
    const cluster = new Cluster({ instance, statePath: `${ROOT}/lab/cluster.yaml`, configPath: `${ROOT}/lab/config.yaml`, mode: 'sandbox' });
    try {
      await cluster.reconcile();
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
      // Interleaved, so that a slow moment of the machine hits every command alike.
      for (let i = 0; i < runs; i++) for (const [k, argv] of Object.entries(commands)) times[k]!.push(timeOnce(argv));
      const floor = median(times.floor!);
      ctx.note(`${runs} runs of each command, interleaved; medians. Floor \`node -e ''\`: ${floor.toFixed(0)} ms.`);
      if (times.kubectl) ctx.note(`For reference, \`kubectl version --client\` on the same machine: ${median(times.kubectl).toFixed(0)} ms (a Go binary: no runtime to start).`);
      ctx.note('`lab` runs build/cli/main.mjs (bin/bundles.mjs; rebuilt only when a source changed): yargs and the command table; a subcommand loads its own chunk.');
      const fig = (name: string, xs: number[]): Figure => ({ name, value: Math.round(median(xs)), unit: 'ms', floor: Math.round(floor), goal: 4 });
      return [
        fig('lab --version', times.version!),
        fig('lab get pods (7 pods)', times.getPods!),
        { name: 'lab --version from the sources through tsx (no bundle; for comparison)', value: Math.round(median(times.tsx!)), unit: 'ms', floor: Math.round(floor) },
      ];
    } finally {
      await down({ instance });
    }
  },
};
