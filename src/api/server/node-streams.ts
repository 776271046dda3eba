export interface LogOptions { follow?: boolean; previous?: boolean; tailLines?: number; sinceSeconds?: number; timestamps?: boolean; limitBytes?: number }
export interface ExecOptions { tty: boolean; stdin: boolean }
export interface ExecSession { stdin: import('node:stream').Writable | null; stdout: import('node:stream').Readable; stderr: import('node:stream').Readable | null; resize(cols: number, rows: number): void; /** resolves with the exit code (or rejects with a message for kube's Status) */ done: Promise<{ exitCode: number }>; /** Ends the command (the kubelet signals it through src/sys). */ stop(): void }
export interface ContainerStreams {
  logs(pod: { namespace: string; name: string; uid: string }, container: string, opts: LogOptions): Promise<import('node:stream').Readable>;
  exec(pod: { namespace: string; name: string; uid: string }, container: string, command: string[], opts: ExecOptions): Promise<ExecSession>;
}
