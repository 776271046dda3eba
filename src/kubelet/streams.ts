// The kubelet's side of `kubectl logs` and `kubectl exec` (what kube-apiserver reaches through
// the kubelet's :10250 server): logs are read from the container's log file, exec runs through
// the runtime (`runc exec`, the CRI's Exec). The HTTP side is src/api/server's.
//
// Log files: runc's waiter writes a container's output to <podDir>/containers/<name>/container.log.
// Before the kubelet starts a container again, the last instance's log becomes previous.log, so
// `--previous` shows the instance before (kube keeps one file per restart, 0.log, 1.log ...,
// and shows the last but one). The lines carry no time stamps of their own: `timestamps` and
// `sinceSeconds` are not supported (the lab's runtime writes raw output, not CRI log lines).
import { createReadStream, existsSync } from 'node:fs';
import { open, readFile, rename, stat } from 'node:fs/promises';
import { constants } from 'node:os';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import type { Pod } from '../api/types.ts';
import type { ContainerStreams, ExecOptions, ExecSession, LogOptions } from '../api/server/node-streams.ts';
import type { InstancePaths } from '../node/instance.ts';
import { spawnStream } from '../sys/stream.ts';
import { runtimeFor } from './runc.ts';
import { containerIdOf, isContainerAlive } from './runtime.ts';
import { podNetns } from './kubelet.ts';

const CURRENT = 'container.log';
const PREVIOUS = 'previous.log';
/** How often a followed log is read for more. */
const FOLLOW_POLL_MS = 100;

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

  private find(ref: { namespace: string; name: string; uid: string }, container: string): Pod {
    const rec = this.pods.record(ref.namespace, ref.name);
    if (!rec || (ref.uid && rec.uid !== ref.uid)) throw new Error(`pod "${ref.name}" not found on this node`);
    if (!rec.pod.spec.containers.some((c) => c.name === container)) throw new Error(`container ${container} is not valid for pod ${ref.name}`);
    return rec.pod;
  }

  /** The container's running process, by the status the kubelet keeps: for follow and exec. */
  private running(pod: Pod, container: string): { id: string; pid: number } | undefined {
    const st = pod.status.containerStatuses.find((s) => s.name === container);
    const id = containerIdOf(st?.containerID);
    return st?.pid && id && st.state.running && isContainerAlive(st.pid, podNetns(pod)) ? { id, pid: st.pid } : undefined;
  }

  async logs(ref: { namespace: string; name: string; uid: string }, container: string, opts: LogOptions): Promise<Readable> {
    const pod = this.find(ref, container);
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

  async exec(ref: { namespace: string; name: string; uid: string }, container: string, command: string[], opts: ExecOptions): Promise<ExecSession> {
    const pod = this.find(ref, container);
    const c = this.running(pod, container);
    // kubelet's GetExec for a container that is not running: the CRI finds no container.
    if (!c) throw new Error(`container not found ("${container}")`);
    if (command.length === 0) throw new Error('you must specify at least one command for the container');
    // Without a terminal on this side runc cannot give the command one (`runc exec --tty` needs a
    // console socket or a terminal of its own): a tty request runs without one, stderr merged
    // into stdout as a terminal would show it. Resizing is a no-op.
    const argv = runtimeFor(this.paths).execArgv(c.id, command);
    const child = spawnStream(argv, { stdin: opts.stdin });
    let stdout: Readable = child.stdout;
    let stderr: Readable | null = child.stderr;
    if (opts.tty) {
      const merged = new PassThrough();
      let open = 2;
      const end = () => --open === 0 && merged.end();
      child.stdout.on('data', (d: Buffer) => merged.write(d)).on('end', end);
      child.stderr.on('data', (d: Buffer) => merged.write(d)).on('end', end);
      stdout = merged;
      stderr = null;
    }
    return {
      stdin: child.stdin,
      stdout,
      stderr,
      resize: () => {},
      done: child.exited.then(({ code, signal }) => {
        if (code === null) return { exitCode: 128 + (signal ? (constants.signals[signal] ?? 1) : 1) };
        return { exitCode: code };
      }),
      stop: () => child.stop('SIGKILL'),
    };
  }
}
