// The watch controller as the user runs it: `lab up --watch` in a child process of its own, so a
// benchmark measures that process (its memory, its event loop) and not its own.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const LAB_BIN = fileURLToPath(new URL('../bin/lab.js', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface WatchProcess {
  child: ChildProcess;
  pid: number;
  /** Everything it printed so far. */
  output(): string;
  /** Throws (with its output) when it has exited. */
  assertRunning(): void;
  /** SIGINT (it stops watching and exits), SIGKILL after 10 s. Leaves the instance up. */
  stop(): Promise<void>;
}

/**
 * Starts `lab up --watch --mode sandbox` on an instance; resolves once it is watching. `api`: the
 * instance's server instead (`lab up --api --watch`), ready once it says it runs.
 */
export async function startWatchProcess(opts: { instance: string; statePath: string; configPath: string; timeoutMs?: number; api?: boolean }): Promise<WatchProcess> {
  const child = spawn(process.execPath, [LAB_BIN, 'up', '--watch', ...(opts.api ? ['--api'] : []), '--mode', 'sandbox', '--name', opts.instance, '--state', opts.statePath, '--config', opts.configPath], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const running = () => child.exitCode === null && child.signalCode === null;
  const w: WatchProcess = {
    child,
    pid: child.pid!,
    output: () => out,
    assertRunning() {
      if (!running()) throw new Error(`the controller exited (${child.exitCode ?? child.signalCode}):\n${out}`);
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
  const ready = opts.api ? /^server of instance \S+ running/m : /Watching /;
  while (!ready.test(out)) {
    w.assertRunning();
    if (Date.now() > deadline) {
      await w.stop();
      throw new Error(`the controller did not start watching:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return w;
}
