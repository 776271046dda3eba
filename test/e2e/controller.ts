// Runs `lab up --watch` (the instance's server in the foreground) as a child process for a test,
// and stops it (by its PID) afterwards.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll } from 'vitest';
import { editableState, getPods, lab, LAB_BIN, ROOT, type EditableState } from './helpers.ts';

export interface RunningController {
  child: ChildProcess;
  /** Everything the controller printed on stderr so far. */
  log(): string;
  /** Resolves when the log matches (polls), rejects after timeoutMs. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function startController(args: string[]): Promise<RunningController> {
  const child = spawn(process.execPath, [LAB_BIN, 'up', '--watch', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const rc: RunningController = {
    child,
    log: () => out,
    async waitFor(re, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (!re.test(out)) {
        if (child.exitCode !== null) throw new Error(`controller exited (${child.exitCode}):\n${out}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${re} in controller output:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop(signal = 'SIGINT') {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
    },
  };
  // Ready once it says so (its API answers; its pods may still be starting).
  await rc.waitFor(/^server of instance \S+ running/m);
  return rc;
}

/**
 * Waits until every pod of the instance is Ready (the controller's probes run after `up` returns,
 * as a kubelet's do; a test that sends traffic first must wait, like `kubectl wait`).
 */
export async function waitForPodsReady(instance: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pods = await getPods(instance, true);
    const notReady = pods.filter((p) => !p.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True'));
    if (pods.length > 0 && notReady.length === 0) return;
    if (Date.now() > deadline) throw new Error(`pods not Ready after ${timeoutMs} ms: ${notReady.map((p) => p.metadata.name).join(', ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A watch controller on an editable copy of lab/cluster.yaml, shared by a test file's tests. */
export interface WatchedLab {
  /** The copy's directory (scratch files may go there too). */
  readonly dir: string;
  /** Path of the state file the controller watches. */
  readonly state: string;
  /** The default state's text, to derive edits from. */
  readonly original: string;
  readonly controller: RunningController;
  /** Starts a new controller on the same instance (after the test stopped or killed this one). */
  startAgain(): Promise<void>;
}

/**
 * Registers beforeAll/afterAll for a test file: the controller starts before its tests; afterwards
 * (also after a failure) it is stopped, the instance removed and the state copy deleted. `extra`
 * is appended to the state copy (`original` stays the default state's text).
 */
export function useWatchedLab(prefix: string, instance: string, extra = ''): WatchedLab {
  let fixture: EditableState | undefined;
  let controller: RunningController | undefined;
  const start = async () => {
    controller = await startController(['--name', instance, '--state', fixture!.state]);
    await waitForPodsReady(instance);
  };
  beforeAll(async () => {
    fixture = await editableState(prefix, extra);
    await start();
  });
  afterAll(async () => {
    await controller?.stop();
    await lab(['down', '--name', instance]);
    await fixture?.remove();
  });
  return {
    get dir() {
      return fixture!.dir;
    },
    get state() {
      return fixture!.state;
    },
    get original() {
      return fixture!.original;
    },
    get controller() {
      return controller!;
    },
    startAgain: start,
  };
}
