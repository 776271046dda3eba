// The pure parts of the benchmark harness: ratios and goals, the table, docs/BENCHMARKS.md
// (rendering, the data it carries, merging a partial run) and the `pods` floor script.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDesiredState } from '../../src/api/load.ts';
import { parseCidr } from '../../src/util/cidr.ts';
import { best, meetsGoal, parseCpuTimes, percentile, ratioOf, runBenchmark, withRatios, type BenchResult, type Benchmark } from '../../bench/harness.ts';
import { iptablesBackend } from '../../bench/machine.ts';
import { PID_SENTINEL, planFloor, shq, specShape, type FloorKind } from '../../bench/pods-floor.ts';
import { cpuTicks, rssKiB } from '../../bench/server.ts';
import { sepChainFor } from '../../bench/healing.ts';
import { assertSameSpecs, FLOOR_PARALLEL, nodeMaskFor, parseParallel, parseSizes, podsConfigYaml, podsStateYaml, sortIps, spawnMilestones } from '../../bench/pods.ts';
import { programFor } from '../../src/sys/packages.ts';
import { formatNumber, formatSummary, formatTable, mergeRuns, parseStoredRuns, renderMarkdown, type MachineFacts, type StoredRun } from '../../bench/report.ts';

const machine: MachineFacts = {
  cores: 8,
  cpuModel: 'Test CPU @ 3.00GHz',
  memoryGiB: 15.5,
  kernel: 'Linux 6.1.0',
  iptables: 'iptables v1.8.9 (nf_tables)',
  iptablesBackend: 'nf_tables',
  iproute2: 'ip utility, iproute2-6.1.0',
  busybox: 'BusyBox v1.35.0',
  node: 'v20.11.0',
  date: '2025-01-02T03:04:05.000Z',
};

function result(name: string, over: Partial<BenchResult> = {}): BenchResult {
  return {
    name,
    description: `the ${name} benchmark`,
    status: 'ok',
    figures: withRatios([{ name: '100 pods to Running', value: 3, unit: 's', floor: 2, goal: 1.5 }]),
    notes: [],
    seconds: 12.5,
    date: '2025-01-02T03:04:05.000Z',
    ...over,
  };
}

describe('ratios and goals', () => {
  it('computes value / floor and refuses a missing or zero floor', () => {
    expect(ratioOf(3, 2)).toBe(1.5);
    expect(ratioOf(1, 4)).toBe(0.25);
    expect(ratioOf(3, undefined)).toBeUndefined();
    expect(ratioOf(3, 0)).toBeUndefined();
    expect(ratioOf(Number.NaN, 2)).toBeUndefined();
  });

  it('fills in ratios but keeps one a benchmark set itself', () => {
    const [a, b, c] = withRatios([
      { name: 'a', value: 6, unit: 's', floor: 4 },
      { name: 'b', value: 6, unit: 's' },
      { name: 'c', value: 6, unit: 's', floor: 4, ratio: 9 },
    ]);
    expect(a!.ratio).toBe(1.5);
    expect(b!.ratio).toBeUndefined();
    expect(c!.ratio).toBe(9);
  });

  it('compares the ratio with the goal in the direction of "better"', () => {
    expect(meetsGoal({ name: 'x', value: 3, unit: 's', floor: 2, goal: 1.5 })).toBe(true);
    expect(meetsGoal({ name: 'x', value: 3.1, unit: 's', floor: 2, goal: 1.5 })).toBe(false);
    expect(meetsGoal({ name: 'x', value: 800, unit: 'req/s', floor: 1000, goal: 0.9, better: 'higher' })).toBe(false);
    expect(meetsGoal({ name: 'x', value: 950, unit: 'req/s', floor: 1000, goal: 0.9, better: 'higher' })).toBe(true);
    // Without a floor the goal is a limit on the value itself.
    expect(meetsGoal({ name: 'x', value: 40, unit: 'ms', goal: 50 })).toBe(true);
    expect(meetsGoal({ name: 'x', value: 60, unit: 'ms', goal: 50 })).toBe(false);
    expect(meetsGoal({ name: 'x', value: 60, unit: 'ms' })).toBeUndefined();
  });

  it('keeps the best of several measurements', () => {
    expect(best([3, 1.5, 2])).toBe(1.5);
    expect(best([3, 1.5, 2], 'higher')).toBe(3);
    expect(() => best([])).toThrow();
  });
});

describe('table', () => {
  it('formats numbers with about three significant digits', () => {
    expect(formatNumber(2.3456)).toBe('2.35');
    expect(formatNumber(16.31)).toBe('16.3');
    expect(formatNumber(1011)).toBe('1011');
    expect(formatNumber(31)).toBe('31');
    expect(formatNumber(123.456)).toBe('123');
    expect(formatNumber(0.01234)).toBe('0.012');
    expect(formatNumber(undefined)).toBe('');
  });

  it('pads columns, right-aligns numbers and marks a missed goal', () => {
    const out = formatSummary([
      result('pods', { figures: withRatios([{ name: '100 pods to Running', value: 3.4, unit: 's', floor: 2, goal: 1.5 }, { name: 'processes', value: 211, unit: 'procs', floor: 208 }]) }),
      result('proxy', { status: 'skipped', reason: 'needs root (it creates network namespaces)\nsecond line', figures: [] }),
    ]);
    const lines = out.trimEnd().split('\n');
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatch(/^benchmark\s+figure\s+value\s+floor\s+ratio\s+goal$/);
    expect(lines[2]).toMatch(/^pods\s+100 pods to Running\s+3\.40 s\s+2 s\s+1\.70x\s+<= 1\.5x\s+MISSED$/);
    expect(lines[3]).toMatch(/^pods\s+processes\s+211 procs\s+208 procs\s+1\.01x$/);
    expect(lines[4]).toMatch(/^proxy\s+skipped\s+needs root \(it creates network namespaces\)$/);
    // Every row has the value column ending at the same place (right-aligned numbers).
    const end = (l: string, v: string) => l.indexOf(v) + v.length;
    expect(end(lines[2]!, '3.40 s')).toBe(end(lines[3]!, '211 procs'));
  });

  it('lays out a table with a dashed rule as wide as each column', () => {
    expect(formatTable(['a', 'name'], [['1', 'x'], ['22', 'yyyyy']])).toBe(' a  name\n--  -----\n 1  x\n22  yyyyy\n');
  });
});

describe('docs/BENCHMARKS.md', () => {
  it('renders machine facts, the summary and a section per benchmark', () => {
    const md = renderMarkdown([{ machine, result: result('pods', { notes: ['the floor is a shell script', '', '  ```', '  0.02 s  node', '  ```'] }) }], machine);
    expect(md).toMatch(/^# Benchmarks\n/);
    expect(md).toContain('| CPU | 8 cores, Test CPU @ 3.00GHz |');
    expect(md).toContain('| iptables | iptables v1.8.9 (nf_tables) (backend: nf_tables) |');
    expect(md).toContain('| kernel | Linux 6.1.0 |');
    expect(md).toContain('| node | v20.11.0 |');
    expect(md).toContain('| pods | 100 pods to Running | 3 s | 2 s | 1.50x | <= 1.5x | ok |');
    expect(md).toContain('## pods\n\nthe pods benchmark\n');
    expect(md).toContain('on the machine above');
    expect(md).toContain('- the floor is a shell script\n\n  ```\n  0.02 s  node\n  ```');
  });

  it('heads a benchmark with a title by the title and its name', () => {
    const md = renderMarkdown([{ machine, result: { ...result('nodes'), title: 'Multi-node' } }], machine);
    expect(md).toContain('## Multi-node (`nodes`)\n');
    expect(md).not.toContain('## nodes\n');
  });

  it('carries its data, so a later partial run keeps the other benchmarks', () => {
    const first: StoredRun[] = [{ machine, result: result('pods') }, { machine, result: result('proxy-sync') }];
    const md = renderMarkdown(first, machine);
    expect(parseStoredRuns(md)).toEqual(first);

    const other = { ...machine, cores: 2, cpuModel: 'Other CPU' };
    const rerun = result('pods', { figures: withRatios([{ name: '100 pods to Running', value: 2.5, unit: 's', floor: 2, goal: 1.5 }]) });
    const merged = mergeRuns(parseStoredRuns(md), [{ machine: other, result: rerun }], ['pods', 'proxy-sync']);
    expect(merged.map((r) => [r.result.name, r.result.figures[0]!.value])).toEqual([['pods', 2.5], ['proxy-sync', 3]]);
    const md2 = renderMarkdown(merged, other);
    expect(md2).toContain('| pods | 100 pods to Running | 2.50 s | 2 s | 1.25x | <= 1.5x | ok |');
    // proxy-sync was measured elsewhere: its section says on what.
    expect(md2).toContain('on another machine: 8 cores, Test CPU @ 3.00GHz, kernel Linux 6.1.0');
  });

  it('drops the figures of a benchmark that is no longer registered (renamed or removed)', () => {
    const prev: StoredRun[] = [{ machine, result: result('controller') }, { machine, result: result('pods') }];
    const merged = mergeRuns(prev, [{ machine, result: result('server') }], ['pods', 'server']);
    expect(merged.map((r) => r.result.name)).toEqual(['pods', 'server']);
  });

  it('does not let a skipped run replace figures that were measured', () => {
    const prev: StoredRun[] = [{ machine, result: result('pods') }];
    const merged = mergeRuns(prev, [{ machine, result: result('pods', { status: 'skipped', reason: 'needs root', figures: [] }) }], ['pods']);
    expect(merged[0]!.result.status).toBe('ok');
    const failed = mergeRuns(prev, [{ machine, result: result('pods', { status: 'failed', reason: 'boom', figures: [] }) }], ['pods']);
    expect(failed[0]!.result.status).toBe('failed');
  });

  it('survives "-->" inside the data and a garbled data block', () => {
    const runs: StoredRun[] = [{ machine, result: result('pods', { status: 'failed', reason: 'a --> b', figures: [] }) }];
    const md = renderMarkdown(runs, machine);
    const data = md.slice(md.indexOf('<!-- bench-data'));
    expect(data.match(/-->/g)).toHaveLength(1);
    expect(data).toContain('a --\\u003e b');
    expect(parseStoredRuns(md)[0]!.result.reason).toBe('a --> b');
    expect(parseStoredRuns('<!-- bench-data\n{not json\n-->')).toEqual([]);
    expect(parseStoredRuns('')).toEqual([]);
  });
});

describe('runner', () => {
  const bench = (over: Partial<Benchmark>): Benchmark => ({ name: 't', description: 'test', run: async () => [{ name: 'f', value: 4, unit: 's', floor: 2 }], ...over });
  const opts = { repeat: 1, options: {}, isRoot: false, log: () => {} };

  it('skips a root benchmark when not root, and says so', async () => {
    const r = await runBenchmark(bench({ needsRoot: true }), opts);
    expect(r.status).toBe('skipped');
    expect(r.reason).toMatch(/needs root/);
    expect(r.figures).toEqual([]);
  });

  it('runs, fills in ratios, and turns a throw into a failed result', async () => {
    const ok = await runBenchmark(bench({}), opts);
    expect(ok.status).toBe('ok');
    expect(ok.figures[0]!.ratio).toBe(2);
    const failed = await runBenchmark(bench({ run: async () => Promise.reject(new Error('no busybox')) }), opts);
    expect(failed.status).toBe('failed');
    expect(failed.reason).toMatch(/no busybox/);
    const pre = await runBenchmark(bench({ precheck: () => 'iperf3 missing' }), opts);
    expect(pre).toMatchObject({ status: 'skipped', reason: 'iperf3 missing' });
  });
});

describe('machine facts', () => {
  it('reads busy and total CPU time from /proc/stat (idle and iowait are idle)', () => {
    expect(parseCpuTimes('cpu  100 5 50 800 20 1 2 3 0 0\ncpu0 1 2 3 4\n')).toEqual({ busy: 161, total: 981 });
  });

  it('reads the iptables backend from the version line', () => {
    expect(iptablesBackend('iptables v1.8.9 (nf_tables)')).toBe('nf_tables');
    expect(iptablesBackend('iptables v1.8.7 (legacy)')).toBe('legacy');
    expect(iptablesBackend('iptables v1.6.1')).toBe('legacy');
    expect(iptablesBackend('not installed')).toBe('unknown');
  });
});

describe('pods benchmark', () => {
  it('picks a node pod CIDR that holds the pods and the system pods', () => {
    expect(nodeMaskFor(100)).toBe(24);
    expect(nodeMaskFor(251)).toBe(24);
    expect(nodeMaskFor(252)).toBe(23);
    expect(nodeMaskFor(500)).toBe(23);
    expect(nodeMaskFor(1000)).toBe(22);
  });

  it('generates a state and config the lab accepts', () => {
    for (const n of [100, 500]) {
      const d = parseDesiredState({ stateText: podsStateYaml(n), statePath: 'bench.yaml', configText: podsConfigYaml(n), configPath: 'config.yaml', hostname: 'h' });
      expect(d.deployments).toHaveLength(1);
      expect(d.deployments[0]!.spec.replicas).toBe(n);
      expect(d.config.nodeCIDRMaskSize).toBe(nodeMaskFor(n));
    }
  });

  it('marks each tenth of the controller\'s processes on the timeline', () => {
    const samples: [string, number][] = [['0.05', 0], ['0.10', 5], ['0.15', 9], ['0.20', 30], ['0.25', 30], ['0.30', 100]];
    expect(spawnMilestones(samples, 100)).toEqual(['0.20 s  30 of 100 processes started', '0.30 s  100 of 100 processes started']);
    expect(spawnMilestones([['0.05', 3]], 3)).toEqual(['0.05 s  3 of 3 processes started']);
  });

  it('parses --pods and sorts IPs numerically', () => {
    expect(parseSizes(undefined)).toEqual([100]);
    expect(parseSizes('10, 20')).toEqual([10, 20]);
    expect(() => parseSizes('10,x')).toThrow(/--pods/);
    expect(() => parseSizes('0')).toThrow();
    expect(sortIps(['10.42.1.0', '10.42.0.10', '10.42.0.9'])).toEqual(['10.42.0.9', '10.42.0.10', '10.42.1.0']);
    expect(parseParallel(undefined)).toBe(FLOOR_PARALLEL);
    expect(parseParallel('all')).toBe('all');
    expect(parseParallel('3')).toBe(3);
    expect(() => parseParallel('0')).toThrow(/--parallel/);
  });

  const floorSpec = (kind: FloorKind, pods: number, workDir = '/run/pplt-bench-x/floor') => ({
    kind,
    prefix: 'pplt-bf-test01',
    workDir,
    pods,
    podCIDR: parseCidr('10.42.0.0/22'),
    gateway: '10.42.0.1',
    nodeIP: '192.168.56.110',
    hostIP: '192.168.56.1',
    etcRoot: '/etc/netns',
    page: "it's ready",
    clusterDNS: '10.43.0.10',
    clusterDomain: 'cluster.local',
    images: { busybox: '/run/pplt-bench-x/images/busybox', pause: '/run/pplt-bench-x/images/pause' },
  });

  it('floors: the same batches as the lab, one ip process per pod', () => {
    const plan = planFloor(floorSpec('shell', 300));
    expect(plan.netns).toHaveLength(302);
    expect(new Set(plan.netns).size).toBe(302);
    expect(plan.ips[0]).toBe('10.42.0.2');
    expect(plan.ips[253]).toBe('10.42.0.255'); // host-local hands out .255 and .0 inside a /22
    expect(plan.ips[254]).toBe('10.42.1.0');
    expect(plan.ips).not.toContain('10.42.0.1');
    // the node namespace was made before the clock started: only the host one is added
    expect(plan.files.get('/run/pplt-bench-x/floor/batch/netns-host')).toBe('netns add pplt-bf-test01-host\n');
    const veths = plan.files.get('/run/pplt-bench-x/floor/batch/veths')!.trimEnd().split('\n');
    expect(veths).toHaveLength(900);
    expect(veths[0]).toMatch(/^link add veth[0-9a-f]{8} type veth peer name eth0 netns pplt-bf-test01-p1$/);
    expect(veths.filter((l) => l.endsWith('hairpin on'))).toHaveLength(300);
    expect(plan.files.get('/run/pplt-bench-x/floor/batch/p2')).toBe('link set lo up\naddr add 10.42.0.3/22 dev eth0\nlink set eth0 up\nroute add default via 10.42.0.1 dev eth0\n');
    const lines = plan.script.split('\n');
    expect(lines.filter((l) => l.startsWith("'ip' '-n' 'pplt-bf-test01-p") && l.endsWith('& pids="$pids $!"'))).toHaveLength(300);
    // the page's quote is escaped for the shell
    expect(plan.script).toContain(shq("it's ready\n"));
    expect(shq("it's")).toBe(`'it'\\''s'`);
    // the kubelet's own hosts file
    expect(plan.script).toContain('::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet');
  });

  it('shell floor: busybox httpd in each pod namespace, no runtime, every PID recorded', () => {
    const plan = planFloor(floorSpec('shell', 300));
    const starts = plan.script.split('\n').filter((l) => l.includes("'ip' 'netns' 'exec' 'pplt-bf-test01-p"));
    expect(starts).toHaveLength(300);
    expect(starts[0]).toBe("'ip' 'netns' 'exec' 'pplt-bf-test01-p1' 'busybox' 'httpd' '-f' '-p' '80' '-h' '/run/pplt-bench-x/floor/pods/p1/volumes/html' </dev/null >>'/run/pplt-bench-x/floor/pods/p1/httpd.log' 2>&1 & echo $! >> '/run/pplt-bench-x/floor/httpd.pids'");
    expect(plan.script).not.toContain('runc');
    // netns-host, node, host, mkdir (host etc), sysctl, netns-pods, veths, pod files mkdir
    expect(plan.processes).toBe(8 + 2 * 300);
  });

  it('runc floor: per pod a subshell with the runtime\'s mounts and `runc run` calls, waiting for the pause pid', () => {
    const plan = planFloor(floorSpec('runc', 3));
    const lines = plan.script.split('\n');
    expect(lines.filter((l) => l === ')&')).toHaveLength(3);
    // all pods at once unless told otherwise; bash's `wait -n` keeps at most `parallel` in flight
    expect(lines).toContain('running=0; failed=0; parallel=3');
    expect(planFloor({ ...floorSpec('runc', 3), parallel: 2 }).script).toContain('running=0; failed=0; parallel=2\n');
    expect(() => planFloor({ ...floorSpec('runc', 3), parallel: 0 })).toThrow(/parallel/);
    const mounts = lines.filter((l) => l.startsWith("  'mount' '-t' 'overlay'"));
    // the pause container runs on its image read-only, as the runtime runs it: one overlay a pod
    expect(mounts).toHaveLength(3);
    expect(mounts[0]).toMatch(/^ {2}'mount' '-t' 'overlay' 'overlay' '-o' 'lowerdir=\/run\/pplt-bench-x\/images\/busybox,upperdir=\/run\/pplt-bench-x\/floor\/pods\/p1\/containers\/web\/upper,/);
    expect((plan.sampleSpecs!.sandbox as { root: { path: string; readonly: boolean } }).root).toEqual({ path: '/run/pplt-bench-x/images/pause', readonly: true });
    const runs = lines.filter((l) => l.includes("'runc' '--root' '/run/pplt-bench-x/floor/runc' 'run' '--bundle'"));
    expect(runs).toHaveLength(6);
    expect(runs[0]).toMatch(/^ {2}PATH=\S+ 'setsid' 'runc' .* '--pid-file' '\/run\/pplt-bench-x\/floor\/pods\/p1\/sandbox\/init\.pid' '[0-9a-f]{64}' <\/dev\/null >>'[^']+sandbox\.log' 2>&1 &$/);
    expect(lines.filter((l) => l.startsWith('  wait_pid '))).toHaveLength(3);
    expect(planFloor({ ...floorSpec('runc', 1), setsid: false }).script).not.toContain("'setsid'");
    // the sandbox's network namespace is the pod's, the container joins the pause container's
    expect(JSON.stringify(plan.sampleSpecs!.sandbox)).toContain('"path":"/run/netns/pplt-bf-test01-p1"');
    expect(JSON.stringify(plan.sampleSpecs!.container)).toContain(`"path":"/proc/${PID_SENTINEL}/ns/ipc"`);
    expect(plan.processes).toBe(8 + 1 * 3 + 4 * 3);
    expect(() => planFloor({ ...floorSpec('runc', 1), images: undefined })).toThrow(/images/);
  });

  it('runc floor: the script writes the runtime\'s config.json, the pause pid spliced in (bash)', () => {
    const work = mkdtempSync(path.join(os.tmpdir(), 'pplt-floor-test-'));
    try {
      const plan = planFloor(floorSpec('runc', 2, work));
      for (const kind of ['shell', 'runc'] as const) execFileSync('bash', ['-n', '-c', planFloor(floorSpec(kind, 2, work)).script]);
      // Pod p1's subshell, run by bash with mount, setsid and runc stubbed and the pause pid 4242.
      const from = plan.script.indexOf('parallel=2\n(\n') + 'parallel=2\n'.length;
      const block = plan.script.slice(from, plan.script.indexOf('\n)&\n', from) + 2);
      expect(block).toContain('/pods/p1/sandbox/config.json');
      expect(block).not.toContain('/pods/p2/');
      for (const d of ['sandbox', 'containers/web']) mkdirSync(path.join(work, 'pods', 'p1', d), { recursive: true });
      execFileSync('bash', ['-euc', ['mount() { :; }', 'setsid() { :; }', 'wait_pid() { pid=4242; }', block].join('\n')]);
      const read = (d: string) => JSON.parse(readFileSync(path.join(work, 'pods', 'p1', d, 'config.json'), 'utf8'));
      expect(read('sandbox')).toEqual(plan.sampleSpecs!.sandbox);
      const container = read('containers/web');
      expect(container).toEqual(JSON.parse(JSON.stringify(plan.sampleSpecs!.container).replaceAll(`/proc/${PID_SENTINEL}/`, '/proc/4242/')));
      expect(container.linux.namespaces).toContainEqual({ type: 'uts', path: '/proc/4242/ns/uts' });
      expect(container.process.args).toEqual(['httpd', '-f', '-p', '80', '-h', '/www']);
      expect(container.mounts.at(-1)).toEqual({ destination: '/www', type: 'bind', source: path.join(work, 'pods/p1/volumes/html'), options: ['rbind', 'rprivate', 'ro'] });
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('floors run only programs of src/sys/packages.ts', () => {
    for (const kind of ['shell', 'runc'] as const) {
      const programs = [...planFloor(floorSpec(kind, 2)).programs];
      expect(programs).toContain(kind === 'shell' ? 'busybox' : 'runc');
      expect(programs.filter((p) => !programFor(p))).toEqual([]);
    }
  });

  it('compares config.json shapes: two pods alike, a changed capability not', () => {
    const a = planFloor(floorSpec('runc', 1)).sampleSpecs!;
    const b = planFloor({ ...floorSpec('runc', 1, '/run/elsewhere'), prefix: 'pplt-bf-other2' }).sampleSpecs!;
    expect(a.container).not.toEqual(b.container); // IDs, UIDs and paths differ
    expect(specShape(a.container)).toEqual(specShape(b.container));
    expect(specShape(a.sandbox)).toEqual(specShape(b.sandbox));
    expect(() => assertSameSpecs(a, b)).not.toThrow();
    const changed = structuredClone(b.container) as { process: { capabilities: { bounding: string[] } } };
    changed.process.capabilities.bounding.pop();
    expect(() => assertSameSpecs(a, { ...b, container: changed as unknown as Record<string, unknown> })).toThrow(/container config\.json differs from the lab's at line \d+/);
  });
});

describe('server benchmark', () => {
  it('reads utime + stime from /proc/<pid>/stat, even when the command name holds ") "', () => {
    // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
    const stat = '4242 (node (a) b) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 11 0 123 456 789';
    expect(cpuTicks(stat)).toBe(325);
  });

  it('reads VmRSS in KiB from /proc/<pid>/status and says when it is missing', () => {
    expect(rssKiB('Name:\tnode\nVmPeak:\t  999999 kB\nVmRSS:\t  123456 kB\nRssAnon:\t 1 kB\n')).toBe(123456);
    expect(() => rssKiB('Name:\tzombie\n')).toThrow(/VmRSS/);
  });
});

describe('healing benchmark', () => {
  it('finds the KUBE-SEP chain of an endpoint in iptables-save output, not one of a longer address', () => {
    const save = [
      '-A KUBE-SEP-AAAA -s 10.42.0.10/32 -m comment --comment "default/heal:http" -j KUBE-MARK-MASQ',
      '-A KUBE-SEP-AAAA -p tcp -m comment --comment "default/heal:http" -m tcp -j DNAT --to-destination 10.42.0.10:80',
      '-A KUBE-SEP-BBBB -p tcp -m comment --comment "default/heal:http" -m tcp -j DNAT --to-destination 10.42.0.1:80',
    ].join('\n');
    expect(sepChainFor(save, '10.42.0.1', 80)).toBe('KUBE-SEP-BBBB');
    expect(sepChainFor(save, '10.42.0.10', 80)).toBe('KUBE-SEP-AAAA');
    expect(sepChainFor(save, '10.42.0.10', 8080)).toBeUndefined();
  });

  it('takes nearest-rank percentiles', () => {
    const xs = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 99)).toBe(99);
    expect(percentile([7], 99)).toBe(7);
  });
});

describe('benchmark server: the heaps of a diagnostic report', () => {
  it("sums the worker threads' heaps apart from the main thread's, in MiB", async () => {
    const { heapsOf } = await import('../../bench/server.ts');
    const MiB = 1024 * 1024;
    const report = {
      javascriptHeap: { totalMemory: 99 * MiB, usedMemory: 57 * MiB },
      resourceUsage: { rss: 257 * MiB },
      workers: [
        { javascriptHeap: { totalMemory: 19 * MiB, usedMemory: 7 * MiB }, resourceUsage: { rss: 257 * MiB } },
        { javascriptHeap: { totalMemory: 21 * MiB, usedMemory: 6.5 * MiB }, resourceUsage: { rss: 257 * MiB } },
      ],
    };
    expect(heapsOf(report)).toEqual({ main: { total: 99, used: 57 }, workers: { total: 40, used: 13.5, count: 2 }, rssMiB: 257 });
    expect(heapsOf({ ...report, workers: undefined }).workers).toEqual({ total: 0, used: 0, count: 0 });
  });
});
