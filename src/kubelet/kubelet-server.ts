// The kubelet's HTTPS server on :10250 (pkg/kubelet/server/server.go), the paths kube-apiserver
// connects pods/log and pods/exec to:
//   GET /containerLogs/<namespace>/<pod>/<container>?follow=&previous=&tailLines=&sinceSeconds=
//       &timestamps=&limitBytes=   the container's log, chunked, as it comes with follow
//   GET|POST /exec/<namespace>/<pod>/<container>?command=..&input=1&output=1&error=1&tty=1, and
//       /exec/<namespace>/<pod>/<uid>/<container>: upgraded to a WebSocket (v5.channel.k8s.io),
//       the protocol src/api/server/pod-exec.ts speaks to kubectl (the kubelet's own with its
//       ExtendWebSocketsToKubelet gate; kube-apiserver reaches a kubelet without it over SPDY)
//   GET /healthz
// TLS with the node's serving certificate (serving-kubelet.crt, signed by the server CA: what
// kube-apiserver checks it with). Authentication as k3s runs the kubelet (--anonymous-auth=false,
// --client-ca-file): a client certificate the client CA signed, else 401 `Unauthorized` on every
// path. Authorization: k3s's kubelet asks the API server (Webhook: a SubjectAccessReview of verb
// get/create on nodes/proxy); the lab's API server has no RBAC, so the answer RBAC gives is taken
// here: system:masters (kube-apiserver's client certificate, the admin's) may, anyone else is 403.
// Refusals are the kubelet's texts: 404 `pod "p" does not exist`, 400 with the log's problem,
// 500 `container not found ("c")` for an exec into a container that does not run.
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { WebSocketServer } from 'ws';
import { certificateUser, type UserInfo } from '../api/server/auth.ts';
import type { ListenAddress } from '../api/server/http.ts';
import { KubeletError, type ContainerStreams, type ExecSession } from '../api/server/node-streams.ts';
import { EXEC_PROTOCOLS, serveExecStream, type ExecRequest } from '../api/server/pod-exec.ts';
import { podLogOptions } from '../api/server/pod-streams.ts';
import { statusOf } from '../api/server/status.ts';

export interface KubeletServerOptions {
  tls: { cert: string; key: string; clientCa: string };
  listen: ListenAddress[];
  streams: ContainerStreams;
  log?: (line: string) => void;
}

export interface KubeletServer {
  addresses: { host: string; port: number }[];
  close(): Promise<void>;
}

type Route = { kind: 'logs' | 'exec' | 'healthz'; namespace: string; pod: string; uid: string; container: string };

/** The kubelet's routes; undefined for any other path (404). */
export function kubeletRoute(pathname: string): Route | undefined {
  if (pathname === '/healthz') return { kind: 'healthz', namespace: '', pod: '', uid: '', container: '' };
  const parts = pathname.split('/').slice(1).map((p) => decodeURIComponent(p));
  if (parts.some((p) => p === '')) return undefined;
  if (parts[0] === 'containerLogs' && parts.length === 4) return { kind: 'logs', namespace: parts[1]!, pod: parts[2]!, uid: '', container: parts[3]! };
  if (parts[0] === 'exec' && parts.length === 4) return { kind: 'exec', namespace: parts[1]!, pod: parts[2]!, uid: '', container: parts[3]! };
  if (parts[0] === 'exec' && parts.length === 5) return { kind: 'exec', namespace: parts[1]!, pod: parts[2]!, uid: parts[3]!, container: parts[4]! };
  return undefined;
}

/**
 * The kubelet's authorizer attributes (server/auth.go GetRequestAttributes) and RBAC's answer:
 * null when allowed, else the 403 text.
 */
export function forbidden(user: UserInfo, method: string, pathname: string): string | null {
  if (user.groups.includes('system:masters')) return null;
  const verbs: Record<string, string> = { GET: 'get', HEAD: 'get', POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };
  const sub = pathname.startsWith('/stats') ? 'stats' : pathname.startsWith('/metrics') ? 'metrics' : pathname.startsWith('/logs') ? 'log' : 'proxy';
  return `Forbidden (user=${user.name}, verb=${verbs[method] ?? method.toLowerCase()}, resource=nodes, subresource(s)=[${sub}])\n`;
}

/** remotecommand's NewOptions: the flags are "1" or absent; a terminal has no separate stderr. */
export function kubeletExecOptions(query: URLSearchParams): ExecRequest {
  const tty = query.get('tty') === '1';
  return { command: query.getAll('command'), container: '', stdin: query.get('input') === '1', stdout: query.get('output') === '1', stderr: query.get('error') === '1' && !tty, tty };
}

function answer(res: ServerResponse, code: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff', ...headers });
  res.end(text);
}

function answerSocket(socket: Duplex, code: number, text: string): void {
  const reason = ({ 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 500: 'Internal Server Error' } as Record<number, string>)[code] ?? '';
  socket.end(`HTTP/1.1 ${code} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
}

const codeOf = (e: unknown) => (e instanceof KubeletError ? e.code : 500);
const textOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

export async function startKubeletServer(opts: KubeletServerOptions): Promise<KubeletServer> {
  const { streams } = opts;
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, handleProtocols: (offered) => EXEC_PROTOCOLS.find((p) => offered.has(p)) ?? false });
  const open = new Set<Duplex>();

  /** Authentication, then authorization: the refusal's code and text, or the user. */
  function admit(req: IncomingMessage, pathname: string): { code: number; text: string } | null {
    const user = certificateUser(req.socket as TLSSocket);
    if (!user) return { code: 401, text: 'Unauthorized' };
    const no = forbidden(user, req.method ?? 'GET', pathname);
    return no ? { code: 403, text: no } : null;
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://kubelet');
    const refused = admit(req, url.pathname);
    if (refused) return answer(res, refused.code, refused.text);
    const route = kubeletRoute(url.pathname);
    if (!route) return answer(res, 404, '404 page not found\n');
    if (route.kind === 'healthz') return answer(res, 200, 'ok');
    // exec without an upgrade: the UpgradeAwareHandler's responder.
    if (route.kind === 'exec') return answer(res, 500, 'Upgrade request required\n');
    if (req.method !== 'GET') return answer(res, 405, 'Method Not Allowed', { Allow: 'GET' });
    let options;
    try {
      options = podLogOptions(url.searchParams, route.pod).options;
    } catch (e) {
      // The kubelet's own answers, JSON-looking text and all (server.go getContainerLogs).
      return answer(res, statusOf(e)?.code === 422 ? 422 : 400, statusOf(e)?.code === 422 ? '{"message": "Invalid request."}' : '{"message": "Unable to decode query."}');
    }
    let src;
    try {
      src = await streams.logs({ namespace: route.namespace, name: route.pod, uid: '' }, route.container, options);
    } catch (e) {
      return answer(res, e instanceof KubeletError ? e.code : 400, textOf(e));
    }
    if (res.destroyed) return void src.destroy();
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    res.on('close', () => src.destroy());
    src.on('error', () => res.destroy());
    src.pipe(res);
  }

  async function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => {});
    const url = new URL(req.url ?? '/', 'https://kubelet');
    const refused = admit(req, url.pathname);
    if (refused) return answerSocket(socket, refused.code, refused.text);
    const route = kubeletRoute(url.pathname);
    if (route?.kind !== 'exec') return answerSocket(socket, 404, '404 page not found\n');
    const exec = { ...kubeletExecOptions(url.searchParams), container: route.container };
    if (!exec.stdin && !exec.stdout && !exec.stderr) return answerSocket(socket, 400, 'you must specify at least 1 of stdin, stdout, stderr');
    const offered = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket' || !EXEC_PROTOCOLS.some((p) => offered.includes(p))) {
      return answerSocket(socket, 400, `this kubelet speaks the WebSocket exec protocol (${EXEC_PROTOCOLS.join(', ')}) only`);
    }
    // GetExec before the upgrade, as the kubelet asks the runtime before it proxies the stream.
    let session: ExecSession;
    try {
      session = await streams.exec({ namespace: route.namespace, name: route.pod, uid: route.uid }, route.container, exec.command, { tty: exec.tty, stdin: exec.stdin, stdout: exec.stdout, stderr: exec.stderr });
    } catch (e) {
      return answerSocket(socket, codeOf(e), textOf(e));
    }
    if (socket.destroyed) return session.stop();
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    wss.handleUpgrade(req, socket, head, (ws) => {
      serveExecStream(ws, exec, () => Promise.resolve(session)).catch((e: unknown) => {
        opts.log?.(`kubelet: exec ${route.namespace}/${route.pod}: ${(e as Error)?.stack ?? String(e)}`);
        session.stop();
        ws.terminate();
      });
    });
  }

  const servers: Server[] = [];
  const addresses: KubeletServer['addresses'] = [];
  const close = async () => {
    for (const s of open) s.destroy();
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => (s.close(() => resolve()), s.closeAllConnections()))));
  };
  try {
    for (const { host, port, handle } of opts.listen) {
      // Client certificates asked for, not required: a request without one is answered 401.
      const server = createServer({ cert: opts.tls.cert, key: opts.tls.key, ca: opts.tls.clientCa, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' }, (req, res) => {
        onRequest(req, res).catch((e: unknown) => {
          opts.log?.(`kubelet: ${req.method} ${req.url}: ${String(e)}`);
          if (!res.headersSent && !res.destroyed) answer(res, 500, textOf(e));
        });
      });
      server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void onUpgrade(req, socket, head).catch(() => socket.destroy()));
      server.on('tlsClientError', () => {}); // a client that gives up during the handshake
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        const listening = () => (server.off('error', reject), resolve());
        if (handle) server.listen(handle, listening);
        else server.listen(port, host, listening);
      });
      addresses.push({ host, port: handle ? port : (server.address() as AddressInfo).port });
    }
  } catch (e) {
    await close();
    throw e;
  }
  return { addresses, close };
}
