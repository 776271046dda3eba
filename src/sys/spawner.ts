// Spawning off the main thread. Node's spawn() is synchronous: it forks and then waits until the
// child has exec'd (libuv reads a close-on-exec pipe to learn whether exec failed). On a machine
// whose cores are busy (runc starting a hundred containers) that wait is several milliseconds a
// process, and the controller's event loop stands still all along: no pid file read, no status
// written. A few worker threads each do their own spawns, so those waits overlap and the main
// thread keeps working. Used only where many processes start at once (the kubelet's container
// starts, mounts and CNI batches, through `run` and `spawnDetached`); every other command spawns
// on the main thread as before. Same rules as exec.ts: argument arrays only, never a shell.
import { Worker } from 'node:worker_threads';

export interface PooledResult {
  stdout: string;
  stderr: string;
  exitCode: number;
  /** Set when the command could not be started (no such file, a bad argument). */
  error?: string;
}

interface Request {
  id: number;
  kind: 'run' | 'detached';
  file: string;
  args: string[];
  env: Record<string, string>;
  input?: string;
  timeoutMs?: number;
  logFile?: string;
}

type Reply =
  | { id: number; kind: 'done'; result: PooledResult }
  | { id: number; kind: 'started'; pid: number | null; error?: string }
  | { id: number; kind: 'exit'; code: number | null; signal: NodeJS.Signals | null };

/**
 * The worker's whole program, a function without free variables: its source text is what the
 * worker evaluates, so the bundler needs no extra file.
 */
function workerMain(): void {
  // Node's own modules only (no import: the text runs as a script, and the bundler rewrites require).
  const { spawn } = process.getBuiltinModule('node:child_process');
  const { openSync, closeSync } = process.getBuiltinModule('node:fs');
  const { parentPort } = process.getBuiltinModule('node:worker_threads');
  const { signals } = process.getBuiltinModule('node:os').constants;
  const port = parentPort!;
  port.on('message', (r: Request) => {
    if (r.kind === 'detached') {
      let log: number | undefined;
      try {
        log = openSync(r.logFile!, 'a');
        const child = spawn(r.file, r.args, { detached: true, stdio: ['ignore', log, log], env: r.env });
        child.on('error', (e) => port.postMessage({ id: r.id, kind: 'started', pid: null, error: e.message }));
        if (child.pid === undefined) return;
        port.postMessage({ id: r.id, kind: 'started', pid: child.pid });
        child.on('exit', (code, signal) => port.postMessage({ id: r.id, kind: 'exit', code, signal }));
        child.unref();
      } catch (e) {
        port.postMessage({ id: r.id, kind: 'started', pid: null, error: (e as Error).message });
      } finally {
        if (log !== undefined) closeSync(log);
      }
      return;
    }
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let error: string | undefined;
    let timedOut = false;
    const child = spawn(r.file, r.args, { stdio: [r.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], env: r.env });
    const timer = r.timeoutMs ? setTimeout(() => ((timedOut = true), child.kill('SIGTERM')), r.timeoutMs) : undefined;
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    if (r.input !== undefined) {
      child.stdin!.on('error', () => {}); // a command that exits without reading its input
      child.stdin!.end(r.input);
    }
    child.on('error', (e) => (error = e.message));
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      const stderr = Buffer.concat(err).toString();
      port.postMessage({
        id: r.id,
        kind: 'done',
        result: {
          stdout: Buffer.concat(out).toString(),
          stderr: timedOut ? `${stderr}timed out after ${r.timeoutMs} ms` : stderr,
          exitCode: code ?? (signal ? 128 + signals[signal] : 1),
          error,
        },
      });
    });
  });
}

const POOL_SIZE = 2;

class SpawnPool {
  private readonly workers: Worker[] = [];
  private next = 0;
  private nextId = 0;
  private busy = 0;
  private readonly runs = new Map<number, (r: PooledResult) => void>();
  private readonly detached = new Map<number, { started: (pid: number | null, error?: string) => void; exit: (code: number | null, signal: NodeJS.Signals | null) => void }>();

  private worker(): Worker {
    if (this.workers.length < POOL_SIZE) {
      const w = new Worker(`(${workerMain.toString()})()`, { eval: true });
      w.on('message', (m: Reply) => this.reply(m));
      w.unref(); // an idle pool never keeps the process alive
      this.workers.push(w);
    }
    return this.workers[this.next++ % this.workers.length]!;
  }

  private post(r: Request): void {
    const w = this.worker();
    if (this.busy++ === 0) for (const x of this.workers) x.ref();
    w.postMessage(r);
  }

  private settle(): void {
    if (--this.busy === 0) for (const x of this.workers) x.unref();
  }

  private reply(m: Reply): void {
    if (m.kind === 'done') {
      this.runs.get(m.id)?.(m.result);
      this.runs.delete(m.id);
      this.settle();
    } else if (m.kind === 'started') {
      this.detached.get(m.id)?.started(m.pid, m.error);
      this.settle();
      if (m.pid === null) this.detached.delete(m.id);
    } else {
      this.detached.get(m.id)?.exit(m.code, m.signal);
      this.detached.delete(m.id);
    }
  }

  run(file: string, args: string[], opts: { env: Record<string, string>; input?: string; timeoutMs?: number }): Promise<PooledResult> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.runs.set(id, resolve);
      this.post({ id, kind: 'run', file, args, env: opts.env, input: opts.input, timeoutMs: opts.timeoutMs });
    });
  }

  spawnDetached(file: string, args: string[], opts: { env: Record<string, string>; logFile: string; onExit: (code: number | null, signal: NodeJS.Signals | null) => void }): Promise<number | null> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.detached.set(id, { started: (pid) => resolve(pid), exit: opts.onExit });
      this.post({ id, kind: 'detached', file, args, env: opts.env, logFile: opts.logFile });
    });
  }

  close(): Promise<void> {
    const ws = this.workers.splice(0);
    return Promise.all(ws.map((w) => w.terminate())).then(() => {});
  }
}

let pool: SpawnPool | null = null;

/** Spawns from now on go through worker threads (the controller turns this on for its syncs). */
export function useSpawnPool(): void {
  pool ??= new SpawnPool();
}

export function spawnPool(): SpawnPool | null {
  return pool;
}

/** Ends the pool's threads (tests); later spawns are on the main thread again. */
export async function closeSpawnPool(): Promise<void> {
  const p = pool;
  pool = null;
  await p?.close();
}
