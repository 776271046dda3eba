// `npm run bench [-- <name>...] [--repeat N] [--no-write] [--list] [--<option> value]`: runs the
// benchmarks of bench/registry.ts (all, or the named ones), prints a table and rewrites
// docs/BENCHMARKS.md. Options a benchmark understands (e.g. `--pods 100,500`) are passed through.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { runBenchmark, runPendingCleanups, type BenchResult } from './harness.ts';
import { machineFacts } from './machine.ts';
import { BENCHMARKS } from './registry.ts';
import { formatSummary, mergeRuns, parseStoredRuns, renderMarkdown, type StoredRun } from './report.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const BENCHMARKS_MD = path.join(ROOT, 'docs', 'BENCHMARKS.md');

const KNOWN = new Set(['_', '$0', 'repeat', 'write', 'list', 'help', 'version']);

async function main(): Promise<number> {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('npm run bench --')
    .usage('$0 [name...] [options]\n\nRuns the benchmarks (all, or the named ones) and rewrites docs/BENCHMARKS.md.')
    .option('repeat', { type: 'number', default: 1, describe: 'measure each figure N times, keep the best' })
    .option('write', { type: 'boolean', default: true, describe: 'rewrite docs/BENCHMARKS.md (--no-write to only print)' })
    .option('list', { type: 'boolean', default: false, describe: 'list the benchmarks and exit' })
    .epilog(
      [
        `Benchmarks: ${BENCHMARKS.map((b) => b.name).join(', ')} (--list describes them).`,
        ...BENCHMARKS.flatMap((b) => Object.entries(b.options ?? {}).map(([k, v]) => `  --${k}  ${v} (${b.name})`)),
      ].join('\n'),
    )
    .strict(false)
    .parse();

  if (argv.list) {
    for (const b of BENCHMARKS) process.stdout.write(`${b.name.padEnd(14)} ${b.needsRoot ? '[root] ' : ''}${b.description}\n`);
    return 0;
  }
  const names = argv._.map(String);
  const unknown = names.filter((n) => !BENCHMARKS.some((b) => b.name === n));
  if (unknown.length) {
    process.stderr.write(`unknown benchmark ${unknown.join(', ')}; known: ${BENCHMARKS.map((b) => b.name).join(', ')}\n`);
    return 2;
  }
  const repeat = argv.repeat;
  if (!Number.isInteger(repeat) || repeat < 1) {
    process.stderr.write(`--repeat wants a positive integer, got ${repeat}\n`);
    return 2;
  }
  const options: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(argv)) if (!KNOWN.has(k) && !k.includes('-') && v !== undefined) options[k] = String(v);

  const selected = names.length ? BENCHMARKS.filter((b) => names.includes(b.name)) : BENCHMARKS;
  const isRoot = process.getuid?.() === 0;
  const machine = await machineFacts();
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const results: BenchResult[] = [];
  for (const b of selected) {
    log(`== ${b.name}: ${b.description}`);
    const r = await runBenchmark(b, { repeat, options, isRoot, log });
    if (r.status !== 'ok') log(`${b.name} ${r.status}: ${r.reason}`);
    for (const n of r.notes) log(`[${b.name}] ${n}`);
    results.push(r);
  }

  process.stdout.write('\n' + formatSummary(results));
  process.stdout.write(`\n${machine.cores} cores ${machine.cpuModel}, ${machine.kernel}, ${machine.iptables}, node ${machine.node}\n`);
  if (argv.write) {
    const previous = parseStoredRuns(await readFile(BENCHMARKS_MD, 'utf8').catch(() => ''));
    const current: StoredRun[] = results.map((result) => ({ machine, result }));
    const runs = mergeRuns(previous, current, BENCHMARKS.map((b) => b.name));
    await writeFile(BENCHMARKS_MD, renderMarkdown(runs, machine));
    process.stdout.write(`wrote ${path.relative(process.cwd(), BENCHMARKS_MD) || BENCHMARKS_MD}\n`);
  }
  return results.some((r) => r.status === 'failed') ? 1 : 0;
}

// Ctrl-C or a kill during a benchmark: remove its namespaces and processes before leaving.
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    process.stderr.write(`\n${sig}: cleaning up\n`);
    void runPendingCleanups().finally(() => process.exit(130));
  });
}

process.exitCode = await main();
