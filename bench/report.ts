// Pure rendering of benchmark results: the terminal table and docs/BENCHMARKS.md. The markdown
// carries its own data (one JSON comment at the end), so running one benchmark rewrites the file
// with that benchmark's new figures and keeps the others' last figures, each with its machine.
import { meetsGoal, type BenchResult, type Figure } from './harness.ts';

export interface MachineFacts {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  /** `iptables --version`, e.g. "iptables v1.8.9 (nf_tables)". */
  iptables: string;
  /** nf_tables or legacy, from the version line. */
  iptablesBackend: string;
  iproute2: string;
  busybox: string;
  node: string;
  date: string;
}

export interface StoredRun {
  machine: MachineFacts;
  result: BenchResult;
}

/** A number with about three significant digits (seconds, counts, ratios). */
export function formatNumber(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '';
  const a = Math.abs(v);
  if (Number.isInteger(v)) return String(v);
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  if (a === 0) return '0';
  return v.toPrecision(2);
}

export function formatRatio(r: number | undefined): string {
  return r === undefined || !Number.isFinite(r) ? '' : `${r.toFixed(2)}x`;
}

export function formatGoal(f: Figure): string {
  if (f.goal === undefined) return '';
  const cmp = (f.better ?? 'lower') === 'lower' ? '<=' : '>=';
  return f.floor !== undefined ? `${cmp} ${f.goal}x` : `${cmp} ${formatNumber(f.goal)} ${f.unit}`;
}

export function verdict(f: Figure): string {
  const m = meetsGoal(f);
  return m === undefined ? '' : m ? 'ok' : 'MISSED';
}

const HEADER = ['benchmark', 'figure', 'value', 'floor', 'ratio', 'goal', ''];

/** Rows of the summary: one per figure, one per skipped or failed benchmark. */
export function summaryRows(results: BenchResult[]): string[][] {
  const rows: string[][] = [];
  for (const r of results) {
    if (r.status !== 'ok') {
      rows.push([r.name, r.status, '', '', '', '', firstLine(r.reason ?? '')]);
      continue;
    }
    for (const f of r.figures) {
      rows.push([r.name, f.name, `${formatNumber(f.value)} ${f.unit}`, f.floor !== undefined ? `${formatNumber(f.floor)} ${f.unit}` : '', formatRatio(f.ratio), formatGoal(f), verdict(f)]);
    }
  }
  return rows;
}

function firstLine(s: string): string {
  return s.split('\n')[0]!;
}

/** A plain-text table with columns padded to their widest cell; numbers right-aligned. */
export function formatTable(header: string[], rows: string[][]): string {
  const width = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => /^[\d.]*x?( \S+)?$/.test(r[i] ?? '') || (r[i] ?? '') === ''));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (numeric[i] ? c.padStart(width[i]!) : c.padEnd(width[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), line(width.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n') + '\n';
}

export function formatSummary(results: BenchResult[]): string {
  return formatTable(HEADER, summaryRows(results));
}

function mdEscape(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function markdownTable(header: string[], rows: string[][]): string {
  return [`| ${header.map(mdEscape).join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(mdEscape).join(' | ')} |`)].join('\n') + '\n';
}

export function machineRows(m: MachineFacts): string[][] {
  return [
    ['CPU', `${m.cores} cores, ${m.cpuModel}`],
    ['memory', `${formatNumber(m.memoryGiB)} GiB`],
    ['kernel', m.kernel],
    ['iptables', `${m.iptables} (backend: ${m.iptablesBackend})`],
    ['iproute2', m.iproute2],
    ['busybox', m.busybox],
    ['node', m.node],
    ['date', m.date],
  ];
}

/** The fields that make two machines "the same" for comparing figures. */
export function sameMachine(a: MachineFacts, b: MachineFacts): boolean {
  return a.cores === b.cores && a.cpuModel === b.cpuModel && a.kernel === b.kernel && a.iptables === b.iptables && a.node === b.node;
}

export const DATA_MARKER = 'bench-data';

/**
 * Merges the runs of this invocation into the previous ones: a benchmark run now replaces its
 * previous entry (unless it was only skipped), the others are kept. Order: the registry's order;
 * a name it no longer has is dropped.
 */
export function mergeRuns(previous: StoredRun[], current: StoredRun[], order: string[]): StoredRun[] {
  const byName = new Map(previous.map((r) => [r.result.name, r]));
  for (const r of current) {
    // A benchmark skipped now (not root, a tool missing) keeps the figures it last measured.
    const prev = byName.get(r.result.name);
    if (r.result.status === 'skipped' && prev && prev.result.status !== 'skipped') continue;
    byName.set(r.result.name, r);
  }
  // A benchmark no longer in the registry (renamed, removed) leaves the page with its figures.
  return [...byName.values()].filter((r) => order.includes(r.result.name)).sort((a, b) => order.indexOf(a.result.name) - order.indexOf(b.result.name));
}

/** Reads the runs stored in a previous docs/BENCHMARKS.md ([] when there are none or it is garbled). */
export function parseStoredRuns(markdown: string): StoredRun[] {
  const m = markdown.match(new RegExp(`<!-- ${DATA_MARKER}\\n([\\s\\S]*?)\\n-->`));
  if (!m) return [];
  try {
    const data = JSON.parse(m[1]!) as unknown;
    return Array.isArray(data) ? (data as StoredRun[]).filter((r) => r && r.result && r.machine && typeof r.result.name === 'string') : [];
  } catch {
    return [];
  }
}

/** docs/BENCHMARKS.md: machine, summary, one section per benchmark, then the data. */
export function renderMarkdown(runs: StoredRun[], machine: MachineFacts): string {
  const out: string[] = [];
  out.push('# Benchmarks', '');
  out.push('Written by `npm run bench` (bench/main.ts); do not edit by hand. `sudo npm run bench` runs every');
  out.push('benchmark, `sudo npm run bench -- <name>` one of them (the others keep their last figures).');
  out.push('Each figure is compared with a **floor**: the same kernel work done the plainest way, measured in');
  out.push('the same run on the same machine. **ratio** = value / floor; **goal** is the ratio to stay within');
  out.push('(or, for a figure without a floor, a limit on the value). Options: `--repeat N` (best of N),');
  out.push('`--no-write` (print only), `--list`, and per benchmark (see `npm run bench -- --help`).', '');
  out.push('To add a benchmark: write `bench/<name>.ts` exporting a `Benchmark` (bench/harness.ts: name,');
  out.push('description, `needsRoot`, `run(ctx)` returning figures `{name, value, unit, floor?, goal?}`; register');
  out.push('cleanups with `deferCleanup` so Ctrl-C removes what it made) and add it to bench/registry.ts.', '');
  out.push('## Machine (latest run)', '');
  out.push(markdownTable(['', ''], machineRows(machine)));
  out.push('## Summary', '');
  out.push(markdownTable(HEADER, summaryRows(runs.map((r) => r.result))));
  for (const { machine: m, result: r } of runs) {
    out.push(r.title ? `## ${r.title} (\`${r.name}\`)` : `## ${r.name}`, '');
    out.push(`${r.description}`, '');
    const where = sameMachine(m, machine) ? 'on the machine above' : `on another machine: ${m.cores} cores, ${m.cpuModel}, kernel ${m.kernel}, ${m.iptables}, node ${m.node}`;
    out.push(`Run ${r.date} ${where}; took ${formatNumber(r.seconds)} s. Status: **${r.status}**.`, '');
    if (r.status !== 'ok' && r.reason) out.push('```', r.reason.trim(), '```', '');
    if (r.figures.length) {
      out.push(markdownTable(['figure', 'value', 'floor', 'ratio', 'goal', ''], r.figures.map((f) => [f.name, `${formatNumber(f.value)} ${f.unit}`, f.floor !== undefined ? `${formatNumber(f.floor)} ${f.unit}` : '', formatRatio(f.ratio), formatGoal(f), verdict(f)])));
    }
    if (r.notes.length) out.push(...r.notes.map((n) => (n.startsWith('- ') || n.startsWith('  ') || n === '' ? n : `- ${n}`)), '');
  }
  // `-->` inside a string would end the comment early; \u003e is the same character to JSON.
  out.push(`<!-- ${DATA_MARKER}`, JSON.stringify(runs).replace(/-->/g, '--\\u003e'), '-->', '');
  return out.join('\n');
}
