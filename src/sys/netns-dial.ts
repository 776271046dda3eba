// TCP connections made from inside another network namespace, used by this process.
//
// The counterpart of netns-listen.ts for the client side. The lab's server runs in the machine's
// namespace, but the kubelets it calls (https://<node IP>:10250) are reachable only on the
// sandbox's node network, from inside the server node's namespace: the machine's namespace has no
// route there, and must never get one. A socket keeps the namespace it was created in, so a
// helper process started with `ip netns exec <ns> node` connects on request and hands each
// connected socket back over Node's IPC channel (the descriptor travels with SCM_RIGHTS). The
// packets then leave from the node's eth1 with the node's address, as the server VM's would.
// One helper serves every connection (a request is an IPC round trip, not a process start); it
// is started on the first dial, started again if it dies, and exits when this process lets go of
// its channel (close(), or this process dying).
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { assertKnownProgram } from './packages.ts';
import { spawnCounter } from './exec.ts';

const SAFE_NETNS = /^[a-z0-9][a-z0-9.-]{0,62}$/;

/** The helper's program: one connect per request; the socket sent once connected, then closed here. */
const CHILD = `
const net = require('node:net');
process.on('message', (m) => {
  let done = false;
  const s = net.connect({ host: m.host, port: m.port });
  const reply = (msg, handle) => { if (done) return; done = true; clearTimeout(t); process.send(msg, handle); };
  const t = setTimeout(() => { reply({ id: m.id, error: 'ETIMEDOUT', message: 'timed out' }); s.destroy(); }, m.timeoutMs);
  s.once('connect', () => reply({ id: m.id, ok: true }, s));
  s.once('error', (e) => reply({ id: m.id, error: e.code || 'EIO', message: e.message }));
});
process.on('disconnect', () => process.exit(0));
`;

/** A dial failure: `code` is the errno name (ECONNREFUSED, EHOSTUNREACH, ETIMEDOUT ...). */
export class DialError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export type Dial = (host: string, port: number, timeoutMs: number) => Promise<Socket>;

interface Pending {
  resolve(s: Socket): void;
  reject(e: Error): void;
}

function checkTarget(host: string, port: number): void {
  if (!/^[0-9.]+$|^[0-9a-f:]+$/i.test(host)) throw new Error(`dial address must be an IP address, got ${JSON.stringify(host)}`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`invalid port ${port}`);
}

/** Connects from this process's own namespace (host mode: the server runs on its node). */
export const dialHere: Dial = (host, port, timeoutMs) => {
  checkTarget(host, port);
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    const t = setTimeout(() => {
      s.destroy();
      reject(new DialError('ETIMEDOUT', `connect ETIMEDOUT ${host}:${port}`));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      resolve(s);
    });
    s.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(t);
      reject(new DialError(e.code ?? 'EIO', e.message));
    });
  });
};

export class NetnsDialer {
  private child: ChildProcess | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;

  constructor(private readonly netns: string) {
    if (!SAFE_NETNS.test(netns)) throw new Error(`invalid network namespace name ${JSON.stringify(netns)}`);
  }

  /** A connected TCP socket to host:port, made inside the namespace. */
  readonly dial: Dial = (host, port, timeoutMs) => {
    checkTarget(host, port);
    if (this.closed) return Promise.reject(new Error('the dialer is closed'));
    const child = this.helper();
    const id = this.nextId++;
    return new Promise<Socket>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      child.send({ id, host, port, timeoutMs }, (e) => {
        if (!e) return;
        this.pending.delete(id);
        reject(e);
      });
    });
  };

  private helper(): ChildProcess {
    if (this.child) return this.child;
    assertKnownProgram('ip');
    spawnCounter.count++;
    const child = spawn('ip', ['netns', 'exec', this.netns, process.execPath, '-e', CHILD], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-2000)));
    child.on('message', (m: { id: number; ok?: boolean; error?: string; message?: string }, handle?: unknown) => {
      const p = this.pending.get(m.id);
      if (!p) {
        (handle as Socket | undefined)?.destroy();
        return;
      }
      this.pending.delete(m.id);
      if (m.ok && handle) p.resolve(handle as Socket);
      else p.reject(new DialError(m.error ?? 'EIO', m.message ?? 'no socket received'));
    });
    const gone = (why: string) => {
      if (this.child !== child) return;
      this.child = null;
      for (const p of this.pending.values()) p.reject(new DialError('EIO', `the dialer in network namespace ${this.netns} ${why}${stderr.trim() ? `: ${stderr.trim()}` : ''}`));
      this.pending.clear();
    };
    child.on('error', (e) => gone(`could not start (${e.message})`));
    child.on('close', (code) => gone(`exited (${code})`));
    // The helper must not keep this process alive, nor outlive it (it exits on 'disconnect').
    child.unref();
    (child.channel as { unref?(): void } | undefined)?.unref?.();
    this.child = child;
    return child;
  }

  /** Lets the helper go (it exits); later dials fail. */
  close(): void {
    this.closed = true;
    const child = this.child;
    this.child = null;
    if (child?.connected) child.disconnect();
    for (const p of this.pending.values()) p.reject(new Error('the dialer is closed'));
    this.pending.clear();
  }
}
