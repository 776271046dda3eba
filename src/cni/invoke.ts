// Running one CNI plugin executable, as the spec says a runtime does: found by its `type` in
// CNI_PATH, its arguments in CNI_* environment variables, its config on stdin, its result (or its
// error object) on stdout. A plugin runs in the runtime's network namespace, which for the lab is
// the node's (in the sandbox, `ip netns exec <instance>-node`); it reaches the pod through
// CNI_NETNS. Only src/sys spawns: this module hands it the argv, input and environment.
import { appendFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { run, type Netns } from '../sys/exec.ts';
import { goJson, parseResult, pluginEnv, pluginFailure, type CniCommand, type CniResult, type RuntimeConf } from './spec.ts';

/** Where Debian's containernetworking-plugins installs the plugins (k3s: /var/lib/rancher/k3s/data/current/bin). */
export const CNI_BIN_DIR = '/usr/lib/cni';

/**
 * What the CNI plugins cost: executions, their summed time, and the wall time during which at
 * least one ran (calls overlap: pods are attached concurrently). The pods benchmark reads it.
 */
export const cniStats = { calls: 0, sumMs: 0, busyMs: 0 };
let inFlight = 0;
let busySince = 0;

function began(): number {
  const now = performance.now();
  if (inFlight++ === 0) busySince = now;
  return now;
}

/**
 * LAB_CNI_TIMINGS=<file>: every plugin run is also appended there, one line each: pid, plugin,
 * command, start and end (ms since the epoch). For the benchmarks of agents, which run their
 * plugins in processes of their own (bench/nodes.ts reads it per node); unset, nothing is written.
 */
export const CNI_TIMINGS_ENV = 'LAB_CNI_TIMINGS';

function record(type: string, command: CniCommand, start: number, end: number): void {
  const file = process.env[CNI_TIMINGS_ENV];
  if (!file) return;
  const epoch = (t: number) => (performance.timeOrigin + t).toFixed(1);
  try {
    appendFileSync(file, `${process.pid} ${type} ${command} ${epoch(start)} ${epoch(end)}\n`);
  } catch {
    // a measurement aid: never a reason for an ADD to fail
  }
}

function ended(start: number): void {
  const now = performance.now();
  cniStats.calls++;
  cniStats.sumMs += now - start;
  if (--inFlight === 0) cniStats.busyMs += now - busySince;
}

/**
 * Runs the plugin `type` with `command`: its result for ADD, nothing for DEL and CHECK. A plugin
 * that fails throws its PluginError (code, msg, details).
 */
export async function execPlugin(type: string, command: CniCommand, conf: Record<string, unknown>, rt: RuntimeConf, opts: { netns: Netns; binDir?: string }): Promise<CniResult | undefined> {
  const binDir = opts.binDir ?? CNI_BIN_DIR;
  const file = path.join(binDir, type);
  // libcni's FindInPath, with its message.
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(type) || !existsSync(file)) throw new Error(`failed to find plugin ${JSON.stringify(type)} in path [${binDir}]`);
  const t0 = began();
  try {
    const r = await run([file], { netns: opts.netns, input: goJson(conf), env: pluginEnv(command, rt, [binDir]), allowFail: true });
    if (r.exitCode !== 0) throw pluginFailure(r.exitCode, r.stdout, r.stderr);
    return command === 'ADD' ? parseResult(r.stdout) : undefined;
  } finally {
    ended(t0);
    record(type, command, t0, performance.now());
  }
}
