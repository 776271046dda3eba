// kube-apiserver's client of the kubelets (pkg/kubelet/client): pods/log and pods/exec of a pod
// are connected to https://<its node's InternalIP>:10250, the kubelet's server. TLS both ways:
// the kubelet's serving certificate is checked against the server CA (k3s runs kube-apiserver
// with --kubelet-certificate-authority), and the API server shows its own client certificate
// (k3s's client-kube-apiserver.crt), without which the kubelet answers 401.
//   logs: GET /containerLogs/<ns>/<pod>/<container>?<PodLogOptions>; the body is passed on as it
//     comes; a refusal is mapped as GenericHttpResponseChecker maps it (400 BadRequest with the
//     kubelet's text, 500 InternalError, anything else NewGenericServerResponse: `the server could
//     not find the requested resource ( pods/log p)` for a 404, `the server has asked for the
//     client to provide credentials ( pods/log p)` for a 401).
//   exec: /exec/<ns>/<pod>/<container>?command=...&input=1&output=1&error=1&tty=1 upgraded to a
//     WebSocket (v5.channel.k8s.io): the kubelet speaks the protocol the API server speaks to
//     kubectl (the real kubelet does with its ExtendWebSocketsToKubelet gate; without it kube-
//     apiserver translates to SPDY), so the frames are relayed as an ExecSession. A kubelet that
//     answers the upgrade with anything but 101 is `unable to upgrade connection: <its text>`.
// A kubelet that cannot be reached is Go's client error: `Get "https://192.168.56.111:10250/
// containerLogs/...": dial tcp 192.168.56.111:10250: connect: connection refused`.
// Connections are made through a Dial (src/sys/netns-dial.ts): in the sandbox the node network
// is reachable only from inside the server node's namespace.
//
// KubeletRouter is the ContainerStreams the API server is given: the server's own node's pods go
// to its kubelet in process (no TLS hop, the single-node latency), every other node's through
// this client.
import { request } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { PassThrough, Writable, type Readable } from 'node:stream';
import { checkServerIdentity, connect as tlsConnect, type PeerCertificate, type TLSSocket } from 'node:tls';
import { WebSocket } from 'ws';
import type { Dial } from '../../sys/netns-dial.ts';
import { KubeletError, KubeletUnreachable, type ContainerStreams, type ExecOptions, type ExecSession, type LogOptions, type StreamPod } from './node-streams.ts';
import { EXEC_PROTOCOLS, execQuery } from './pod-exec.ts';
import { logQuery, unknownError } from './pod-streams.ts';
import * as errors from './status.ts';

/** kube-apiserver's kubelet client dials with a 30 s timeout. */
const DIAL_TIMEOUT_MS = 30_000;
/** GenericHttpResponseChecker reads at most this much of a refusal. */
const MAX_READ = 50_000;
const [STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE] = [0, 1, 2, 3, 4, 255];

export interface KubeletClientOptions {
  /** The server CA: what the kubelets' serving certificates are signed by. */
  ca: string;
  /** The API server's client certificate and key for the kubelets. */
  cert: string;
  key: string;
  dial: Dial;
  dialTimeoutMs?: number;
}

/** `host:port` or `[v6]:port`. */
function splitHostPort(address: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(address) ?? /^([^:]+):(\d+)$/.exec(address);
  if (!m) throw new Error(`bad kubelet address ${JSON.stringify(address)}`);
  return { host: m[1]!, port: Number(m[2]) };
}

/** Go's net.Dial error text for a Node errno. */
export function dialErrorText(address: string, code: string | undefined, message: string): string {
  const why: Record<string, string> = { ECONNREFUSED: 'connect: connection refused', EHOSTUNREACH: 'connect: no route to host', ENETUNREACH: 'connect: network is unreachable', ETIMEDOUT: 'i/o timeout' };
  return `dial tcp ${address}: ${why[code ?? ''] ?? message}`;
}

/** crypto/tls's verification errors, as Go's client reports them. */
export function tlsErrorText(code: string | undefined, message: string): string {
  const unknownAuthority = ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT'];
  if (unknownAuthority.includes(code ?? '')) return 'tls: failed to verify certificate: x509: certificate signed by unknown authority';
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return 'tls: failed to verify certificate: x509: certificate has expired or is not yet valid';
  return message.startsWith('tls: ') ? message : `tls: ${message}`;
}

/** x509's HostnameError for an IP address: the IP SANs the certificate is valid for. */
function checkIdentity(host: string, cert: PeerCertificate): Error | undefined {
  if (!checkServerIdentity(host, cert)) return undefined;
  const ips = (cert.subjectaltname ?? '').split(', ').filter((e) => e.startsWith('IP Address:')).map((e) => e.slice(11));
  return new Error(`tls: failed to verify certificate: x509: certificate is valid for ${ips.join(', ')}, not ${host}`);
}

/** GenericHttpResponseChecker: the kubelet's non-2xx answer as kube-apiserver passes it on. */
export function kubeletResponseError(code: number, body: string, resource: string, name: string): errors.StatusError {
  if (code === 500) return errors.internalError(new Error(body));
  if (code === 400) return errors.badRequest(body);
  // NewGenericServerResponse, verb "" (hence the double space kube prints).
  const generic: Record<number, [string, string]> = {
    401: ['Unauthorized', 'the server has asked for the client to provide credentials'],
    403: ['Forbidden', body],
    404: ['NotFound', 'the server could not find the requested resource'],
    405: ['MethodNotAllowed', 'the server does not allow this method on the requested resource'],
    503: ['ServiceUnavailable', 'the server is currently unable to handle the request'],
  };
  const [reason, message] = generic[code] ?? (code > 500 ? ['InternalError', `an error on the server (${JSON.stringify(body)}) has prevented the request from succeeding`] : ['', `the server responded with the status code ${code} but did not return more information`]);
  return errors.failure(code, reason, `${message} ( ${resource} ${name})`, { group: '', kind: resource, name });
}

function readSome(res: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (c: Buffer) => {
      if (size < MAX_READ) chunks.push(c);
      size += c.length;
    });
    res.on('end', () => resolve(Buffer.concat(chunks).subarray(0, MAX_READ).toString()));
    res.on('error', () => resolve(Buffer.concat(chunks).toString()));
    res.on('close', () => resolve(Buffer.concat(chunks).toString()));
  });
}

export class KubeletClient implements ContainerStreams {
  constructor(private readonly opts: KubeletClientOptions) {}

  /** A TLS connection to the kubelet, its certificate checked; failures are KubeletUnreachable. */
  private async connect(method: 'Get' | 'Post', address: string, pathAndQuery: string): Promise<TLSSocket> {
    const url = `${method} "https://${address}${pathAndQuery}"`;
    const { host, port } = splitHostPort(address);
    let raw;
    try {
      raw = await this.opts.dial(host, port, this.opts.dialTimeoutMs ?? DIAL_TIMEOUT_MS);
    } catch (e) {
      throw new KubeletUnreachable(`${url}: ${dialErrorText(address, (e as NodeJS.ErrnoException).code, (e as Error).message)}`);
    }
    return new Promise((resolve, reject) => {
      const tls = tlsConnect({ socket: raw, host, ca: this.opts.ca, cert: this.opts.cert, key: this.opts.key, minVersion: 'TLSv1.2', checkServerIdentity: checkIdentity });
      tls.once('secureConnect', () => resolve(tls));
      tls.once('error', (e: NodeJS.ErrnoException) => {
        raw.destroy();
        reject(new KubeletUnreachable(`${url}: ${tlsErrorText(e.code, e.message)}`));
      });
    });
  }

  async logs(pod: StreamPod, container: string, opts: LogOptions): Promise<Readable> {
    const address = pod.kubelet ?? '';
    const pathAndQuery = `/containerLogs/${encodeURIComponent(pod.namespace)}/${encodeURIComponent(pod.name)}/${encodeURIComponent(container)}${logQuery(opts)}`;
    let socket: TLSSocket;
    try {
      socket = await this.connect('Get', address, pathAndQuery);
    } catch (e) {
      throw unknownError((e as Error).message);
    }
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      // No agent: the request goes out on the connection made above (http's createConnection).
      const { host, port } = splitHostPort(address);
      const req = request({ method: 'GET', host, port, path: pathAndQuery, createConnection: () => socket, headers: { Accept: '*/*' } }, resolve);
      req.on('error', (e) => reject(unknownError(`Get "https://${address}${pathAndQuery}": ${e.message}`)));
      req.end();
    });
    const code = res.statusCode ?? 500;
    if (code >= 200 && code <= 206) return res;
    throw kubeletResponseError(code, (await readSome(res)).trim(), 'pods/log', pod.name);
  }

  async exec(pod: StreamPod, container: string, command: string[], opts: ExecOptions): Promise<ExecSession> {
    const address = pod.kubelet ?? '';
    const exec = { command, stdin: opts.stdin, stdout: opts.stdout ?? true, stderr: (opts.stderr ?? true) && !opts.tty, tty: opts.tty };
    const pathAndQuery = `/exec/${encodeURIComponent(pod.namespace)}/${encodeURIComponent(pod.name)}/${encodeURIComponent(container)}${execQuery(exec)}`;
    // client-go's SPDY dialer errors: "error sending request: <url error>".
    const socket = await this.connect('Post', address, pathAndQuery).catch((e: Error) => {
      throw new KubeletUnreachable(`error sending request: ${e.message}`);
    });
    const ws = new WebSocket(`wss://${address}${pathAndQuery}`, [EXEC_PROTOCOLS[0]], { createConnection: () => socket, perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => void readSome(res).then((body) => reject(new KubeletError(res.statusCode ?? 500, body.trim() || `the kubelet answered ${res.statusCode}`))));
      ws.once('error', (e) => reject(new KubeletUnreachable(`error sending request: Post "https://${address}${pathAndQuery}": ${e.message}`)));
    });
    return relaySession(ws, exec.stdin);
  }
}

/** The kubelet's WebSocket as an ExecSession: channels 1 and 2 in, 0 and 4 out, 3 the result. */
function relaySession(ws: WebSocket, stdin: boolean): ExecSession {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const send = (channel: number, data: Buffer | string) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(Buffer.concat([Buffer.from([channel]), Buffer.from(data)]), { binary: true });
  };
  let result: { exitCode: number } | Error | undefined;
  const done = new Promise<{ exitCode: number }>((resolve, reject) => {
    ws.on('message', (frame: Buffer) => {
      if (frame.length === 0) return;
      const data = frame.subarray(1);
      if (frame[0] === STDOUT || frame[0] === STDERR) {
        const out = frame[0] === STDOUT ? stdout : stderr;
        // Back-pressure: stop reading the kubelet while the API server's side is full.
        if (data.length && !out.write(data)) {
          ws.pause();
          out.once('drain', () => ws.resume());
        }
      } else if (frame[0] === ERROR && data.length) {
        result = exitOf(data.toString());
      }
    });
    ws.on('close', () => {
      stdout.end();
      stderr.end();
      if (result instanceof Error) reject(result);
      else if (result) resolve(result);
      else reject(new Error('the kubelet closed the stream without a status'));
    });
  });
  const input = stdin
    ? new Writable({
        write(chunk: Buffer, _enc, cb) {
          send(STDIN, chunk);
          cb();
        },
        final(cb) {
          send(CLOSE, Buffer.from([STDIN]));
          cb();
        },
      })
    : null;
  return {
    stdin: input,
    stdout,
    stderr,
    resize: (cols, rows) => send(RESIZE, JSON.stringify({ Width: cols, Height: rows })),
    done,
    stop: () => ws.close(1000),
  };
}

/** The channel-3 Status: Success, NonZeroExitCode with its ExitCode cause, or a failure's message. */
export function exitOf(text: string): { exitCode: number } | Error {
  try {
    const s = JSON.parse(text) as { status?: string; reason?: string; message?: string; details?: { causes?: { reason?: string; message?: string }[] } };
    if (s.status === 'Success') return { exitCode: 0 };
    const code = s.details?.causes?.find((c) => c.reason === 'ExitCode')?.message;
    if (s.reason === 'NonZeroExitCode' && code !== undefined && /^\d+$/.test(code)) return { exitCode: Number(code) };
    // The kubelet's InternalError already says "Internal error occurred: "; the API server says it once.
    return new Error((s.message ?? text).replace(/^Internal error occurred: /, ''));
  } catch {
    return new Error(text);
  }
}

/** The server's own node in process, every other node through its :10250. */
export class KubeletRouter implements ContainerStreams {
  constructor(
    private readonly remote: ContainerStreams,
    private readonly local?: { nodeName: string; streams: ContainerStreams },
  ) {}

  private pick(pod: StreamPod): ContainerStreams {
    return this.local && pod.nodeName === this.local.nodeName ? this.local.streams : this.remote;
  }

  async logs(pod: StreamPod, container: string, opts: LogOptions): Promise<Readable> {
    try {
      return await this.pick(pod).logs(pod, container, opts);
    } catch (e) {
      // The in-process kubelet's refusals answer as its :10250 would have.
      if (e instanceof KubeletError) throw kubeletResponseError(e.code, e.message, 'pods/log', pod.name);
      throw e;
    }
  }

  exec(pod: StreamPod, container: string, command: string[], opts: ExecOptions): Promise<ExecSession> {
    return this.pick(pod).exec(pod, container, command, opts);
  }
}
