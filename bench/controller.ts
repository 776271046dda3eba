// Benchmark `controller`: what the long-running controller (`lab up --watch`, a real child
// process) costs at 1,000 pods: resident memory, open file descriptors and CPU while nothing
// happens. The floor of each is the same process measured in the same run before the pods
// existed (only the lab's two kube-system pods). The controller is then scaled back to 0 and
// measured again: memory or descriptors that stay behind are a leak.
import { isTerminating } from '../src/api/types.ts';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { readState } from '../src/api/store.ts';
import { down } from '../src/controllers/lab.ts';
import { instancePaths } from '../src/node/instance.ts';
import { deferCleanup, settle, type Benchmark, type Figure } from './harness.ts';
import { makeWorkDir, podsConfigYaml, podsStateYaml, sortIps, startChecker } from './pods.ts';
import { startWatchProcess, type WatchProcess } from './watch-process.ts';

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

export interface Usage {
  rssKiB: number;
  fds: number;
  /** CPU time of the process over the window, in percent of one core. */
  cpuPercent: number;
}

/** utime + stime of a process in clock ticks, from /proc/<pid>/stat (fields 14 and 15). */
export function cpuTicks(procStat: string): number {
  const f = procStat.slice(procStat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

export function rssKiB(procStatus: string): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(procStatus);
  if (!m) throw new Error('no VmRSS line in /proc/<pid>/status');
  return Number(m[1]);
}

/** Memory and descriptors at the end of a `windowMs` window, and the CPU used during it. */
async function usage(pid: number, windowMs: number): Promise<Usage> {
  const t0 = cpuTicks(await readFile(`/proc/${pid}/stat`, 'utf8'));
  const s0 = performance.now();
  await new Promise((r) => setTimeout(r, windowMs));
  const ticks = cpuTicks(await readFile(`/proc/${pid}/stat`, 'utf8')) - t0;
  const seconds = (performance.now() - s0) / 1000;
  return {
    rssKiB: rssKiB(await readFile(`/proc/${pid}/status`, 'utf8')),
    fds: (await readdir(`/proc/${pid}/fd`)).length,
    cpuPercent: (100 * ticks) / USER_HZ / seconds,
  };
}

/** Waits until the state file shows `n` bench pods, every one Ready (or none left when n = 0). */
async function benchPodsReady(stateFile: string, n: number, controller: WatchProcess, timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    controller.assertRunning();
    const state = await readState(stateFile).catch(() => null); // read while it is being replaced: try again
    const pods = Object.values(state?.pods ?? {}).filter((p) => p.metadata.labels.app === 'bench');
    const ready = pods.filter((p) => !isTerminating(p) && p.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True'));
    if (pods.length === n && ready.length === n) return ready.map((p) => p.status.podIP!);
    if (Date.now() > deadline) throw new Error(`after ${timeoutMs / 1000} s: ${pods.length} bench pods, ${ready.length} ready, want ${n}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const MiB = (kib: number) => Math.round(kib / 102.4) / 10;

export const controllerBenchmark: Benchmark = {
  name: 'controller',
  description: '`lab up --watch` at 1,000 pods (`--pods N`): controller memory, open file descriptors and idle CPU against the same process before the pods existed; and after scaling back to 0 (leaks)',
  needsRoot: true,
  options: { pods: 'pod count (default 1000)', idle: 'seconds of each idle window (default 10)' },
  async run(ctx) {
    const n = Number(ctx.options.pods ?? 1000);
    const idleMs = Number(ctx.options.idle ?? 10) * 1000;
    if (!Number.isInteger(n) || n < 1 || n > 1000) throw new Error(`--pods wants a pod count between 1 and 1000, got ${ctx.options.pods}`);
    const dir = await makeWorkDir();
    const instance = `bct${process.pid.toString(36)}`.slice(0, 16);
    const statePath = path.join(dir, 'state.yaml');
    const configPath = path.join(dir, 'config.yaml');
    const paths = instancePaths(instance);
    await writeFile(statePath, podsStateYaml(0));
    await writeFile(configPath, podsConfigYaml(n)); // the node pod CIDR sized for n pods from the start
    let controller: WatchProcess | undefined;
    const cleanup = deferCleanup(async () => {
      await controller?.stop();
      await down({ instance });
      await rm(dir, { recursive: true, force: true });
    });
    try {
      controller = await startWatchProcess({ instance, statePath, configPath });
      const pid = controller.pid;
      await settle();
      const before = await usage(pid, idleMs);
      ctx.log(`before: RSS ${MiB(before.rssKiB)} MiB, ${before.fds} fds, idle CPU ${before.cpuPercent.toFixed(1)}%`);

      const t0 = performance.now();
      await writeFile(statePath, podsStateYaml(n));
      const ips = await benchPodsReady(paths.stateFile, n, controller, 30 * 60_000);
      const readySeconds = (performance.now() - t0) / 1000;
      // Every pod really serves: one checker process in the node namespace GETs every pod IP.
      const checker = await startChecker(paths.nodeNetns);
      const check = await checker.check(sortIps(ips)).finally(() => checker.stop());
      ctx.log(`${n} pods Ready in ${readySeconds.toFixed(1)} s, all ${check.ready} answer HTTP`);
      await settle({ timeoutMs: 60_000 });
      const loaded = await usage(pid, idleMs);
      ctx.log(`${n} pods: RSS ${MiB(loaded.rssKiB)} MiB, ${loaded.fds} fds, idle CPU ${loaded.cpuPercent.toFixed(1)}%`);

      await writeFile(statePath, podsStateYaml(0));
      await benchPodsReady(paths.stateFile, 0, controller, 30 * 60_000);
      await settle({ timeoutMs: 60_000 });
      const after = await usage(pid, idleMs);
      ctx.log(`back to 0: RSS ${MiB(after.rssKiB)} MiB, ${after.fds} fds, idle CPU ${after.cpuPercent.toFixed(1)}%`);

      ctx.note(`One \`lab up --watch\` process (node ${process.version}, TypeScript through the tsx loader) on a fresh sandbox instance. Floor: the same process after start-up with only the two kube-system pods. Then replicas 0 -> ${n} in the state file (Ready in ${readySeconds.toFixed(1)} s through the watch controller, all ${check.ready} pods answering HTTP), then ${n} -> 0. Each figure is read at the end of a ${idleMs / 1000} s window with nothing happening (after waiting for the machine to settle); idle CPU = utime+stime of the process over that window.`);
      ctx.note(`Idle work of the controller: the 1 s state-file poll and the kubelet's 50 ms liveness poll, which looks only at containers it did not start itself (adopted after a restart; none here: every exit of a container it started arrives as an event). No probes in this Deployment.`);
      const fig = (name: string, value: number, floor: number, unit: string, goal?: number): Figure => ({ name, value, unit, floor, ...(goal !== undefined ? { goal } : {}) });
      return [
        fig(`controller RSS at ${n} pods`, MiB(loaded.rssKiB), MiB(before.rssKiB), 'MiB'),
        fig(`controller open fds at ${n} pods`, loaded.fds, before.fds, 'fds', 1.1),
        fig(`controller idle CPU at ${n} pods`, Math.round(loaded.cpuPercent * 10) / 10, Math.round(before.cpuPercent * 10) / 10, '% of a core'),
        fig(`controller RSS after ${n} -> 0 pods`, MiB(after.rssKiB), MiB(before.rssKiB), 'MiB', 1.5),
        fig(`controller open fds after ${n} -> 0 pods`, after.fds, before.fds, 'fds', 1.0),
      ];
    } finally {
      await cleanup();
    }
  },
};
