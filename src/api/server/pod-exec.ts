// pods/exec (kubectl exec): kube-apiserver 1.32's ExecREST with its WebSocket stream translator.
// Before the upgrade: the pod (404), the container (400), the node (400 `pod x does not have a
// host assigned`) — answered as a Status over plain HTTP, which makes kubectl retry as SPDY and
// print the same Status from that answer. Then the WebSocket (subprotocol v5.channel.k8s.io, or
// v4.channel.k8s.io): every binary message is one channel byte and its data — 0 stdin, 1 stdout,
// 2 stderr, 3 the final metav1.Status, 4 terminal resize `{"Width":80,"Height":24}`, and in v5
// 255 `[255, <channel>]` for "the client closed this stream" (stdin at EOF). The command runs in
// the container through the pod's kubelet (ContainerStreams). When it has exited and its output
// is out, channel 3 carries Success or Failure/NonZeroExitCode with the exit code as the cause
// kubectl exits with, and the server closes the WebSocket (1000): kubectl waits for that close.
// Errors after the upgrade (kubelet refused, no kubelet) are InternalError Statuses on channel 3,
// as the translator reports what its SPDY connection to the kubelet said.
// kubectl falls back to SPDY when the WebSocket upgrade fails; SPDY is not spoken here and gets
// a 400 saying so. pods/attach and pods/portforward answer 405 with what to use instead.
import type { IncomingMessage } from 'node:http';
import { STATUS_CODES } from 'node:http';
import { finished, type Readable } from 'node:stream';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket } from 'ws';
import type { UpgradeHandler } from './http.ts';
import { KubeletUnreachable, type ContainerStreams, type ExecSession } from './node-streams.ts';
import { connectionRefused, encodeQuery, kubeletAddress, noHostAssigned, paramBool, streamTarget, type StreamTarget } from './pod-streams.ts';
import type { Registry } from './registry.ts';
import type { ResourceInfo } from './resources.ts';
import { goJson } from './respond.ts';
import * as errors from './status.ts';

export const EXEC_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'] as const;
const STREAM_CLOSE = 255;
const [STDIN, STDOUT, STDERR, ERROR, RESIZE] = [0, 1, 2, 3, 4];
/** Output waits for the client past this much buffered, and resumes below LOW. */
const HIGH = 1 << 20;
const LOW = 1 << 18;
/** How long the output may still flow after the command has exited (a child holding stdout open). */
const OUTPUT_GRACE_MS = 2000;

export const CONNECT_SUBRESOURCES = ['exec', 'attach', 'portforward'];

export interface ExecRequest {
  command: string[];
  container: string;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

/** PodExecOptions from the query (tty leaves no stderr: the terminal carries both). */
export function podExecOptions(query: URLSearchParams): ExecRequest {
  const tty = paramBool(query, 'tty');
  return { command: query.getAll('command'), container: query.get('container') ?? '', stdin: paramBool(query, 'stdin'), stdout: paramBool(query, 'stdout'), stderr: paramBool(query, 'stderr') && !tty, tty };
}

export interface ExecTarget extends StreamTarget {
  exec: ExecRequest;
  /** The kubelet's host:port, for the error when there is none to reach. */
  kubelet: string;
}

/** Not served: the lab's kubelet streams logs and exec only. */
function notServed(sub: string): errors.StatusError {
  const what = sub === 'portforward' ? 'kubectl port-forward' : 'kubectl attach';
  const instead = sub === 'portforward' ? 'reach the pod through its Service or its pod IP' : 'use kubectl logs -f or kubectl exec';
  return errors.failure(405, 'MethodNotAllowed', `pods/${sub} is not supported by this server: ${what} is not available in the lab; ${instead}`, { kind: `pods/${sub}` });
}

/** What ExecREST.Connect checks before any connection (pod, container, node, kubelet address). */
export function connectCheck(registry: Registry, sub: string, method: string, namespace: string, name: string, query: URLSearchParams): ExecTarget {
  if (method !== 'GET' && method !== 'POST') throw errors.failure(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {});
  const exec = podExecOptions(query);
  const target = streamTarget(registry, namespace, name, exec.container);
  if (!target.nodeName) throw noHostAssigned(name);
  if (sub !== 'exec') throw notServed(sub);
  // The lab's own text: kubectl always sends a command (kube leaves the check to the runtime).
  if (exec.command.length === 0) throw errors.badRequest('you must specify at least 1 command');
  return { ...target, exec, kubelet: kubeletAddress(registry, target.nodeName) };
}

function writeHttpStatus(socket: Duplex, e: unknown): void {
  const status = errors.statusOf(e) ?? errors.internalError(e).status;
  const code = status.code ?? 500;
  const body = `${goJson(status)}\n`;
  socket.end(`HTTP/1.1 ${code} ${STATUS_CODES[code] ?? ''}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/** A metav1.Status as the translator writes it on channel 3: no kind or apiVersion. */
function channelStatus(status: errors.Status): string {
  const { kind: _k, apiVersion: _a, ...rest } = status;
  return JSON.stringify(rest);
}

const SUCCESS = channelStatus({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success' });
const internal = (message: string) => channelStatus(errors.internalError(new Error(message)).status);

/** codeExitToStatusError: what kubectl turns into `command terminated with exit code N` and its own exit code. */
export function nonZeroExit(command: string[], exitCode: number): string {
  return JSON.stringify({
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [${command.join(' ')}], exit code ${exitCode}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
  });
}

const messageOf = (e: unknown) => (errors.statusOf(e)?.message ?? (e instanceof Error ? e.message : String(e)));

/**
 * One exec over an open WebSocket (the v5/v4 channel protocol), from the first frame to the close:
 * the API server's (towards kubectl, the session its kubelet gives) and a kubelet's on :10250
 * (towards the API server, the session its runtime gives) are the same stream. `open` gives the
 * session; its failure is reported on channel 3 as the translator reports a kubelet that refused
 * the upgrade, or, for a kubelet that could not be reached, as Go's client words it.
 */
export async function serveExecStream(ws: WebSocket, exec: ExecRequest, open: () => Promise<ExecSession>): Promise<void> {
  const v5 = ws.protocol === EXEC_PROTOCOLS[0];
  const send = (channel: number, data: Buffer | string, cb?: () => void) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(Buffer.concat([Buffer.from([channel]), Buffer.from(data)]), { binary: true }, cb);
  };
  const finish = (status: string) => {
    send(ERROR, status);
    if (ws.readyState === WebSocket.OPEN) ws.close(1000);
  };
  // The empty message on the lowest writable channel: "the streams are there".
  send(exec.stdout ? STDOUT : exec.stderr ? STDERR : ERROR, '');
  if (!exec.stdin && !exec.stdout && !exec.stderr) return finish(internal('you must specify at least 1 of stdin, stdout, stderr'));

  let session: ExecSession | undefined;
  let exited = false;
  let gone = false;
  const early: Buffer[] = [];
  const onFrame = (frame: Buffer) => {
    if (frame.length === 0 || !session) return;
    const [channel] = frame;
    const data = frame.subarray(1);
    if (v5 && channel === STREAM_CLOSE) {
      if (data.length === 1 && data[0] === STDIN) session.stdin?.end();
    } else if (channel === STDIN) {
      if (exec.stdin && session.stdin && !session.stdin.writableEnded) session.stdin.write(data);
    } else if (channel === RESIZE && exec.tty) {
      try {
        const size = JSON.parse(data.toString()) as { Width?: number; Height?: number };
        if (size.Width && size.Height) session.resize(size.Width, size.Height);
      } catch {
        /* kube logs and ignores a resize it cannot read */
      }
    }
  };
  ws.on('message', (data: Buffer) => (session ? onFrame(data) : early.push(data)));
  const endSession = (s: ExecSession) => s.stop();
  ws.on('close', () => {
    gone = true;
    if (session && !exited) endSession(session);
  });

  try {
    session = await open();
  } catch (e) {
    // The kubelet refused the upgrade (the translator reports its answer), or was never reached.
    return finish(internal(e instanceof KubeletUnreachable ? e.message : `unable to upgrade connection: ${messageOf(e)}`));
  }
  if (gone) {
    endSession(session);
    return;
  }
  if (!exec.stdin) session.stdin?.end();
  for (const f of early.splice(0)) onFrame(f);

  const outputs: Promise<void>[] = [];
  const forward = (src: Readable | null, channel: number, wanted: boolean) => {
    if (!src) return;
    outputs.push(new Promise((resolve) => finished(src, () => resolve())));
    src.on('data', (chunk: Buffer) => {
      if (!wanted) return;
      send(channel, chunk, () => {
        if (src.isPaused() && ws.bufferedAmount < LOW) src.resume();
      });
      if (ws.bufferedAmount > HIGH) src.pause();
    });
  };
  forward(session.stdout, STDOUT, exec.stdout);
  forward(session.stderr, STDERR, exec.stderr);

  let result: string;
  try {
    const { exitCode } = await session.done;
    result = exitCode === 0 ? SUCCESS : nonZeroExit(exec.command, exitCode);
  } catch (e) {
    result = internal(messageOf(e));
  }
  exited = true;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(outputs), new Promise((resolve) => (timer = setTimeout(resolve, OUTPUT_GRACE_MS)))]);
  clearTimeout(timer);
  finish(result);
}

/** kube-apiserver's exec: the pod's kubelet's session, or the dial error when none can be reached. */
function runExec(ws: WebSocket, streams: ContainerStreams | undefined, t: ExecTarget): Promise<void> {
  const { exec } = t;
  return serveExecStream(ws, exec, async () => {
    if (!streams) throw new KubeletUnreachable(`error sending request: ${connectionRefused('Post', t.kubelet, `/exec/${t.ref.namespace}/${t.ref.name}/${t.container}${execQuery(exec)}`)}`);
    return streams.exec({ ...t.ref, nodeName: t.nodeName, kubelet: t.kubelet }, t.container, exec.command, { tty: exec.tty, stdin: exec.stdin, stdout: exec.stdout, stderr: exec.stderr });
  });
}

/** The kubelet's exec query, as streamParams writes it (url.Values: keys sorted). */
export function execQuery(exec: Pick<ExecRequest, 'command' | 'stdin' | 'stdout' | 'stderr' | 'tty'>): string {
  const params: [string, string][] = exec.command.map((c) => ['command', c]);
  if (exec.stdin) params.push(['input', '1']);
  if (exec.stdout) params.push(['output', '1']);
  if (exec.stderr) params.push(['error', '1']);
  if (exec.tty) params.push(['tty', '1']);
  return encodeQuery(params);
}

export type ParsePath = (path: string) => { r: ResourceInfo; namespace?: string; name?: string; subresource?: string } | undefined;

/** The `upgrade` hook of http.ts for pods/exec (attach, portforward refused); false for any other path. */
export function execUpgradeHandler(registry: Registry, streams: ContainerStreams | undefined, parse: ParsePath, log?: (line: string) => void): UpgradeHandler {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, handleProtocols: (offered) => EXEC_PROTOCOLS.find((p) => offered.has(p)) ?? false });
  return (req: IncomingMessage, _user, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'https://api');
    let target: ReturnType<ParsePath>;
    try {
      target = parse(url.pathname);
    } catch (e) {
      writeHttpStatus(socket, e);
      return true;
    }
    if (!target || target.r.group !== '' || target.r.plural !== 'pods' || !CONNECT_SUBRESOURCES.includes(target.subresource ?? '')) return false;
    socket.on('error', () => {}); // a client that resets the connection is not this process's failure
    let t: ExecTarget;
    try {
      t = connectCheck(registry, target.subresource!, req.method ?? 'GET', target.namespace!, target.name!, url.searchParams);
    } catch (e) {
      writeHttpStatus(socket, e);
      return true;
    }
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
      // kubectl's fallback after a failed WebSocket upgrade, or KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false.
      writeHttpStatus(socket, errors.badRequest(`this server speaks the WebSocket exec protocol (${EXEC_PROTOCOLS.join(', ')}) only, not ${String(req.headers.upgrade ?? 'a plain request')}: run kubectl without KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false`));
      return true;
    }
    const offered = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    if (!EXEC_PROTOCOLS.some((p) => offered.includes(p))) {
      // x/net/websocket's answer to a handshake whose protocols the server does not support.
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return true;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      runExec(ws, streams, t).catch((e: unknown) => {
        log?.(`api: exec ${t.ref.namespace}/${t.ref.name}: ${(e as Error)?.stack ?? String(e)}`);
        ws.terminate();
      });
    });
    return true;
  };
}
