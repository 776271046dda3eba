// The instance's server as the user runs it: `lab up --watch` (the server in the foreground, the
// same process `lab server` is) in a child process of its own, so a benchmark measures that process
// (its memory, its event loop) and not its own; the API reached as `lab get` reaches it; the
// instance removed with `lab down`.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { serverClient } from '../src/cli/api-client.ts';
import type { HttpsClient } from '../src/client/https.ts';
import type { KubeObject } from '../src/client/types.ts';
import { instancePaths } from '../src/node/instance.ts';
import { run } from '../src/sys/exec.ts';

export const LAB_BIN = fileURLToPath(new URL('../bin/lab.js', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface ServerProcess {
  child: ChildProcess;
  pid: number;
  /** Everything it printed so far. */
  output(): string;
  /** Throws (with the end of its output) when it has exited. */
  assertRunning(): void;
  /** The admin's client of its API (127.0.0.1, the port it recorded); close it when done. */
  client(): Promise<HttpsClient>;
  /** SIGINT (it stops, the pods keep running), SIGKILL after 10 s. Leaves the instance up. */
  stop(): Promise<void>;
}

/**
 * Starts `lab up --watch --no-ui --mode sandbox [args]` (e.g. `--nodes 2`) on an instance (the lab
 * without its page: the `ui` benchmark serves its own); resolves once its API answers ("server of
 * instance ... running"). `reportDir`: the child writes a Node diagnostic report there on SIGUSR2
 * and a heap snapshot on SIGUSR1 (which collects all garbage first): how a benchmark sees the
 * JavaScript heaps inside its RSS, and what they hold once nothing unreachable is left.
 */
export async function startServerProcess(opts: { instance: string; statePath: string; configPath: string; timeoutMs?: number; args?: string[]; reportDir?: string }): Promise<ServerProcess> {
  const env = opts.reportDir ? { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --report-on-signal --report-signal=SIGUSR2 --report-directory=${opts.reportDir} --heapsnapshot-signal=SIGUSR1 --diagnostic-dir=${opts.reportDir}`.trim() } : process.env;
  const child = spawn(process.execPath, [LAB_BIN, 'up', '--watch', '--no-ui', '--mode', 'sandbox', '--name', opts.instance, '--state', opts.statePath, '--config', opts.configPath, ...(opts.args ?? [])], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const running = () => child.exitCode === null && child.signalCode === null;
  const paths = instancePaths(opts.instance);
  const s: ServerProcess = {
    child,
    pid: child.pid!,
    output: () => out,
    assertRunning() {
      if (!running()) throw new Error(`the server exited (${child.exitCode ?? child.signalCode}):\n${out.trimEnd().split('\n').slice(-30).join('\n')}`);
    },
    async client() {
      const c = await serverClient(opts.instance, paths);
      if (!c) throw new Error(`no server holds instance ${opts.instance}`);
      return c;
    },
    async stop() {
      if (!running()) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 10_000))]);
      if (running()) child.kill('SIGKILL');
    },
  };
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  while (!/^server of instance \S+ running/m.test(out)) {
    s.assertRunning();
    if (Date.now() > deadline) {
      await s.stop();
      throw new Error(`the server did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return s;
}

/** `lab down --name <instance>`: stops its server if one runs and removes everything the instance made. */
export async function labDown(instance: string): Promise<void> {
  const r = await run([process.execPath, LAB_BIN, 'down', '--name', instance], { allowFail: true, timeoutMs: 300_000 });
  if (r.exitCode !== 0) throw new Error(`lab down --name ${instance} failed (exit ${r.exitCode}): ${r.stderr.trim()}`);
}

type Pod = KubeObject & { status?: { podIP?: string; conditions?: { type: string; status: string }[] } };

export const isReady = (p: Pod) => !p.metadata.deletionTimestamp && (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

/**
 * Polls the API until exactly `n` pods match the label selector, none terminating, every one
 * Ready (none left when n = 0); returns their IPs. `alive` throws when the server has died.
 */
export async function podsReady(client: HttpsClient, labelSelector: string, n: number, opts: { timeoutMs: number; everyMs?: number; alive?: () => void; log?: (line: string) => void }): Promise<string[]> {
  const t0 = Date.now();
  const deadline = t0 + opts.timeoutMs;
  let told = t0;
  for (;;) {
    opts.alive?.();
    const pods = (
      await client.list<Pod>({ group: '', resource: 'pods' }, { labelSelector }).catch(async (e: Error) => {
        await new Promise((r) => setTimeout(r, 500));
        opts.alive?.(); // a server that died answers nothing: say so, with its last words
        throw e;
      })
    ).items;
    const ready = pods.filter(isReady);
    if (pods.length === n && ready.length === n) return ready.map((p) => p.status!.podIP!);
    if (opts.log && Date.now() - told >= 30_000) {
      told = Date.now();
      opts.log(`${Math.round((told - t0) / 1000)} s: ${pods.length} pods (${labelSelector}), ${ready.length} ready, ${pods.filter((p) => p.metadata.deletionTimestamp).length} terminating; want ${n}`);
    }
    if (Date.now() > deadline) throw new Error(`after ${opts.timeoutMs / 1000} s: ${pods.length} pods (${labelSelector}), ${ready.length} ready, want ${n}`);
    await new Promise((r) => setTimeout(r, opts.everyMs ?? 500));
  }
}
