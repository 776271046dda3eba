// What the API server needs from a node to serve `kubectl logs` and `kubectl exec`: in a real
// cluster kube-apiserver proxies pods/log and pods/exec to the kubelet of the pod's node (its
// :10250 server), which reads the container's log files and runs exec through the CRI. The lab's
// kubelet implements this interface (src/kubelet/streams.ts); the HTTP side (the streaming
// protocols kubectl speaks) lives in src/api/server.
import type { Readable, Writable } from 'node:stream';

export interface LogOptions {
  follow?: boolean;
  previous?: boolean;
  tailLines?: number;
  sinceSeconds?: number;
  timestamps?: boolean;
  limitBytes?: number;
}

export interface ExecOptions {
  tty: boolean;
  stdin: boolean;
}

export interface ExecSession {
  stdin: Writable | null;
  stdout: Readable;
  stderr: Readable | null;
  resize(cols: number, rows: number): void;
  /** resolves with the exit code (or rejects with a message for kube's Status) */
  done: Promise<{ exitCode: number }>;
  kill(): void;
}

export interface ContainerStreams {
  logs(pod: { namespace: string; name: string; uid: string }, container: string, opts: LogOptions): Promise<Readable>;
  exec(pod: { namespace: string; name: string; uid: string }, container: string, command: string[], opts: ExecOptions): Promise<ExecSession>;
}
