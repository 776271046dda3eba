// The kubelet's side of `kubectl logs` and `kubectl exec` (what kube-apiserver reaches through
// the kubelet's :10250 server, kubelet/server.ts; the server's own node's kubelet is also called
// in process): logs are read from the container's log file, exec runs through the runtime (`runc
// exec`, the CRI's Exec; with a tty, on a pty runc makes in the container, through
// src/sys/terminal.ts). Refusals are KubeletErrors with the status and text :10250 answers.
//
// Log files: runc's waiter writes a container's output to <podDir>/containers/<name>/container.log.
// Before the kubelet starts a container again, the last instance's log becomes previous.log, so
// `--previous` shows the instance before (kube keeps one file per restart, 0.log, 1.log ...,
// and shows the last but one). The lines carry no time stamps of their own: `timestamps` and
// `sinceSeconds` are not supported (the lab's runtime writes raw output, not CRI log lines).
import { createReadStream, existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { constants } from 'node:os';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import type { Pod } from '../api/types.ts';
import { KubeletError, type ContainerStreams, type ExecOptions, type ExecSession, type LogOptions, type StreamPod } from '../api/server/node-streams.ts';
import type { InstancePaths } from '../node/instance.ts';
import { spawnStream, type StreamChild } from '../sys/stream.ts';
import { spawnOnConsole, type TerminalChild } from '../sys/terminal.ts';
import { isDns1123Label, isDns1123Subdomain } from '../api/server/validation.ts';
import { runtimeFor } from './runc.ts';
import { containerIdOf, isContainerAlive } from './runtime.ts';
import { podNetns } from './kubelet.ts';

const CURRENT = 'container.log';
const PREVIOUS = 'previous.log';
/** How often a followed log is read for more. */
const FOLLOW_POLL_MS = 100;
/** Under the instance's state directory: one private directory per `exec -it` (console socket...). */
const EXEC_DIR = 'exec';
/** How long a tty exec waits for the client's first window size (kubectl sends it at once). */
const FIRST_SIZE_WAIT_MS = 500;

function logDir(paths: InstancePaths, pod: string, container: string): string {
  return path.join(paths.podDir(pod), 'containers', container);
}

/** Before a container starts again: its last instance's log becomes the previous one. */
export async function rotateContainerLog(paths: InstancePaths, pod: string, container: string): Promise<void> {
  const dir = logDir(paths, pod, container);
  await rename(path.join(dir, CURRENT), path.join(dir, PREVIOUS)).catch(() => {});
}

/** The last `n` lines of `text` (a final newline does not count as a line). */
export function tailLines(text: string, n: number): string {
  if (n <= 0) return '';
  const lines = text.split('\n');
  const last = lines[lines.length - 1] === '' ? lines.pop() : undefined;
  return lines.slice(-n).join('\n') + (last === '' ? '\n' : '');
}

export interface PodLookup {
  record(namespace: string, name: string): { pod: Pod; uid: string } | undefined;
}

export class KubeletStreams implements ContainerStreams {
  constructor(
    private readonly paths: InstancePaths,
    private readonly pods: PodLookup,
  ) {}

  /** The pod this kubelet runs; its refusals are the kubelet server's (server.go getContainerLogs, getExec). */
  private find(ref: StreamPod, container: string, forExec: boolean): Pod {
    const rec = this.pods.record(ref.namespace, ref.name);
    if (!rec || (ref.uid && rec.uid !== ref.uid)) throw new KubeletError(404, forExec ? 'pod does not exist' : `pod "${ref.name}" does not exist`);
    if (!rec.pod.spec.containers.some((c) => c.name === container)) {
      // getExec finds no such container in the runtime; getContainerLogs checks the spec.
      if (forExec) throw new KubeletError(500, `container not found ("${container}")`);
      throw new KubeletError(404, `container "${container}" not found in pod "${ref.name}"`);
    }
    return rec.pod;
  }

  /** The container's running process, by the status the kubelet keeps: for follow and exec. */
  private running(pod: Pod, container: string): { id: string; pid: number } | undefined {
    const st = pod.status.containerStatuses.find((s) => s.name === container);
    const id = containerIdOf(st?.containerID);
    return st?.pid && id && st.state.running && isContainerAlive(st.pid, podNetns(pod)) ? { id, pid: st.pid } : undefined;
  }

  async logs(ref: StreamPod, container: string, opts: LogOptions): Promise<Readable> {
    const pod = this.find(ref, container, false);
    const dir = logDir(this.paths, pod.metadata.name, container);
    if (opts.previous) {
      const file = path.join(dir, PREVIOUS);
      if (!existsSync(file)) throw new Error(`previous terminated container "${container}" in pod "${ref.name}" not found`);
      return this.read(file, opts, false, () => false);
    }
    const file = path.join(dir, CURRENT);
    if (!existsSync(file)) {
      const st = pod.status.containerStatuses.find((s) => s.name === container);
      const why = st?.state.waiting?.reason ?? 'ContainerCreating';
      throw new Error(`container "${container}" in pod "${ref.name}" is waiting to start: ${why}`);
    }
    // Followed until the instance whose log this is has ended.
    const instance = pod.status.containerStatuses.find((s) => s.name === container)?.containerID;
    const ended = () => {
      const st = pod.status.containerStatuses.find((s) => s.name === container);
      return st?.containerID !== instance || !this.running(pod, container);
    };
    return this.read(file, opts, Boolean(opts.follow), ended);
  }

  /** The file's content (tail and byte limit applied), then, following, what is appended until `ended`. */
  private async read(file: string, opts: LogOptions, follow: boolean, ended: () => boolean): Promise<Readable> {
    if (!follow && opts.tailLines === undefined && opts.limitBytes === undefined) return createReadStream(file);
    let text = await readFile(file, 'utf8');
    let offset = Buffer.byteLength(text);
    if (opts.tailLines !== undefined) text = tailLines(text, opts.tailLines);
    let budget = opts.limitBytes ?? Infinity;
    const out = new PassThrough();
    const push = (chunk: Buffer): boolean => {
      const part = chunk.length > budget ? chunk.subarray(0, budget) : chunk;
      budget -= part.length;
      if (part.length) out.write(part);
      return budget > 0;
    };
    if (!push(Buffer.from(text)) || !follow) {
      out.end();
      return out;
    }
    let closed = false;
    out.on('close', () => (closed = true));
    const timer = setInterval(() => {
      void (async () => {
        const last = ended();
        const size = (await stat(file).catch(() => null))?.size ?? offset;
        if (size > offset) {
          const fh = await open(file, 'r');
          try {
            const buf = Buffer.alloc(size - offset);
            const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
            offset += bytesRead;
            if (!push(buf.subarray(0, bytesRead))) return finish();
          } finally {
            await fh.close();
          }
        }
        if (last || closed) finish();
      })().catch(() => finish());
    }, FOLLOW_POLL_MS);
    const finish = () => {
      clearInterval(timer);
      if (!out.writableEnded) out.end();
    };
    out.on('close', finish);
    return out;
  }

  async exec(ref: StreamPod, container: string, command: string[], opts: ExecOptions): Promise<ExecSession> {
    const pod = this.find(ref, container, true);
    const c = this.running(pod, container);
    // kubelet's GetExec for a container that is not running: the CRI finds no container.
    if (!c) throw new KubeletError(500, `container not found ("${container}")`);
    if (command.length === 0) throw new Error('you must specify at least one command for the container');
    if (opts.tty) return this.execTty(pod, container, c.id, command);
    const child = spawnStream(runtimeFor(this.paths).execArgv(c.id, command), { stdin: opts.stdin });
    // Ending it kills runc; the command, runc's child, may outlive it.
    return session(child, { stdout: child.stdout, stderr: child.stderr, resize: () => {}, stopSignal: 'SIGKILL' });
  }

  /**
   * `kubectl exec -it`: the command on a pty runc makes in the container (its /dev/pts), as
   * containerd runs it: the container's process with args, `terminal: true` and TERM=xterm (what
   * containerd's CRI adds), in a process.json; runc sends the master to a console socket in a
   * directory of its own under the instance's state (0700), which is removed when the exec ends.
   * The relay (src/sys/terminal.ts) puts the client's first window size into the process's
   * consoleSize, so the command starts at the size of the learner's window; later sizes are
   * applied as they come (containerd applies even the first one after the start, which races with
   * a command that reads it at once, such as `stty size`).
   */
  private async execTty(pod: Pod, container: string, id: string, command: string[]): Promise<ExecSession> {
    // Both come from the pod's validated spec; checked again because they make a path here.
    if (isDns1123Subdomain(pod.metadata.name).length || isDns1123Label(container).length) throw new Error(`invalid pod or container name ${JSON.stringify(`${pod.metadata.name}/${container}`)}`);
    const bundle = JSON.parse(await readFile(path.join(logDir(this.paths, pod.metadata.name, container), 'config.json'), 'utf8')) as { process: { env?: string[] } };
    const env = [...(bundle.process.env ?? []).filter((e) => !e.startsWith('TERM=')), 'TERM=xterm'];
    const base = path.join(this.paths.stateDir, EXEC_DIR);
    await mkdir(base, { recursive: true, mode: 0o700 });
    await chmod(base, 0o700);
    const dir = await mkdtemp(path.join(base, 'tty-'));
    const files = { socket: path.join(dir, 'console.sock'), pidFile: path.join(dir, 'pid'), process: path.join(dir, 'process.json') };
    const cleanup = () => rm(dir, { recursive: true, force: true }).catch(() => {});
    let child: TerminalChild;
    try {
      await writeFile(files.process, JSON.stringify({ ...bundle.process, args: command, terminal: true, env }), { mode: 0o600 });
      child = spawnOnConsole(runtimeFor(this.paths).execConsoleArgv(id, files), files, { waitSizeMs: FIRST_SIZE_WAIT_MS });
    } catch (e) {
      await cleanup();
      throw e;
    }
    // A terminal has one output: runc's own errors (no such command...) show in it.
    // Ending it (the client went away) hangs the terminal up: SIGHUP, then SIGKILL a second later.
    return session(child, { stdout: merge(child.stdout, child.stderr), stderr: null, resize: (cols, rows) => child.resize(cols, rows), stopSignal: 'SIGTERM', cleanup });
  }
}

/** An ExecSession over a runc exec (or its relay): exit code as a shell reports a signal's. */
function session(
  child: StreamChild,
  io: { stdout: Readable; stderr: Readable | null; resize(cols: number, rows: number): void; stopSignal: NodeJS.Signals; cleanup?: () => Promise<void> },
): ExecSession {
  return {
    stdin: child.stdin,
    stdout: io.stdout,
    stderr: io.stderr,
    resize: io.resize,
    done: child.exited.then(async ({ code, signal }) => {
      await io.cleanup?.();
      if (code === null) return { exitCode: 128 + (signal ? (constants.signals[signal] ?? 1) : 1) };
      return { exitCode: code };
    }),
    stop: () => child.stop(io.stopSignal),
  };
}

/** Two streams as one, ended when both have ended. */
function merge(a: Readable, b: Readable): Readable {
  const merged = new PassThrough();
  let open = 2;
  const end = () => --open === 0 && merged.end();
  for (const s of [a, b]) s.on('data', (d: Buffer) => merged.write(d)).on('end', end);
  return merged;
}
