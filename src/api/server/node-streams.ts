// What the API server needs from a node's kubelet for pods/log and pods/exec (ContainerStreams),
// implemented by the kubelet itself (src/kubelet/streams.ts, in process for the server's own node)
// and by the API server's client of a kubelet's :10250 (kubelet-client.ts), chosen per pod by
// kubelet-client.ts's KubeletRouter from the pod's spec.nodeName.
export interface LogOptions { follow?: boolean; previous?: boolean; tailLines?: number; sinceSeconds?: number; timestamps?: boolean; limitBytes?: number }
/** stdout and stderr default to true (the kubelet's own callers want both). */
export interface ExecOptions { tty: boolean; stdin: boolean; stdout?: boolean; stderr?: boolean }
export interface ExecSession { stdin: import('node:stream').Writable | null; stdout: import('node:stream').Readable; stderr: import('node:stream').Readable | null; resize(cols: number, rows: number): void; /** resolves with the exit code (or rejects with a message for kube's Status) */ done: Promise<{ exitCode: number }>; /** Ends the command (the kubelet signals it through src/sys). */ stop(): void }

/** The pod a request is for; the API server adds where its kubelet is (the kubelet itself ignores it). */
export interface StreamPod {
  namespace: string;
  name: string;
  uid: string;
  /** spec.nodeName. */
  nodeName?: string;
  /** The kubelet's host:port, from the Node's addresses (pod-streams.ts kubeletAddress). */
  kubelet?: string;
}

export interface ContainerStreams {
  logs(pod: StreamPod, container: string, opts: LogOptions): Promise<import('node:stream').Readable>;
  exec(pod: StreamPod, container: string, command: string[], opts: ExecOptions): Promise<ExecSession>;
}

/** A kubelet's refusal with the HTTP status its :10250 answers it with (404 `pod "x" does not exist` ...). */
export class KubeletError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The kubelet could not be reached (dial or TLS failure): the message is the whole error as Go's
 * HTTP client words it (`Post "https://...": dial tcp ...: connect: connection refused`).
 */
export class KubeletUnreachable extends Error {}
