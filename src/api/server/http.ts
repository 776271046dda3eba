// The API server's HTTPS front, as kube-apiserver's filter chain orders it: TLS (serving
// certificate; client certificates asked for, verified against the client CA), authentication
// (401 without a valid credential, src/api/server/auth.ts), the paths it answers itself (/version,
// /healthz, /livez, /readyz), the request body read whole with kube-apiserver's 3 MiB limit (413,
// and the handler never sees it), then the handler: the resource routes plug in there, and a
// path they do not serve is Go's plain `404 page not found`. A handler answers an object, or a
// stream (watch: newline-delimited JSON, one chunk per event, written as it comes; the stream
// ends when the client goes away), or bytes piped as they come (pods/log: text/plain, chunked,
// the source destroyed when the client goes away). Errors a handler throws with a Status are answered with it;
// anything else is a 500 InternalError. No routing to resources here.
import { setMaxListeners } from 'node:events';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Server as NetServer } from 'node:net';
import type { Duplex, Readable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { authenticate, type TokenUser, type UserInfo } from './auth.ts';
import { builtin, labVersion, type VersionInfo } from './builtin.ts';
import { commonHeaders, goJson, wantsPretty, writeJson, writeNotFound, writeRaw, writeStatus } from './respond.ts';
import { internalError, requestEntityTooLarge, statusOf, unauthorized } from './status.ts';
import { MAX_CSR_BYTES, supervisorRoute, type Supervisor } from './supervisor.ts';

export type { UserInfo, TokenUser } from './auth.ts';

/** kube-apiserver's --max-request-body-bytes default (3 * 1024 * 1024). */
export const MAX_REQUEST_BODY_BYTES = 3 * 1024 * 1024;

export interface ApiRequest {
  method: string;
  /** The URL's path as sent (percent-encoding kept). */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  user: UserInfo;
  /** The whole body (empty without one), at most MAX_REQUEST_BODY_BYTES. */
  body: Buffer;
  /** True when the client asked for indented JSON (?pretty, curl): pass to `ApiResponse.pretty`. */
  pretty: boolean;
  /** Aborted when the client goes away or the server closes. */
  signal: AbortSignal;
}

export interface ApiResponse {
  status: number;
  /** An object is written as JSON; a string or Buffer as is, with `contentType`. */
  body: unknown;
  contentType?: string;
  headers?: Record<string, string>;
}

export interface StreamSink {
  /** Writes one event as a line of JSON, sent at once. False once the stream has ended. */
  send(event: unknown): boolean;
  /** Ends the response (idempotent). */
  end(): void;
  /** Aborted when the client goes away, the server closes or the stream ends. */
  readonly signal: AbortSignal;
}

export interface ApiStream {
  status?: number;
  contentType?: string;
  headers?: Record<string, string>;
  /** Called once the headers are out; returns what to undo when the stream ends, however it ends. */
  stream(sink: StreamSink): void | (() => void);
}

/** Bytes as they come (kubectl logs -f): chunked, ended with the source, which is destroyed when the client goes. */
export interface ApiPipe {
  status?: number;
  contentType: string;
  headers?: Record<string, string>;
  pipe: Readable;
}

export type ApiResult = ApiResponse | ApiStream | ApiPipe;
/** The resource routes: undefined for a path they do not serve (404). */
export type ApiHandler = (req: ApiRequest) => ApiResult | undefined | Promise<ApiResult | undefined>;
/** Authenticated upgrade requests (kubectl exec's websocket); false for a path nobody serves. */
export type UpgradeHandler = (req: IncomingMessage, user: UserInfo, socket: Duplex, head: Buffer) => boolean;

export interface ApiServerOptions {
  tls: { cert: string; key: string; clientCa: string };
  tokens: readonly TokenUser[];
  /**
   * Where to listen. `handle`: a socket already bound elsewhere (in another network namespace:
   * src/sys/netns-listen.ts), served as is; host and port then only name it.
   */
  listen: ListenAddress[];
  handler?: ApiHandler;
  upgrade?: UpgradeHandler;
  version?: VersionInfo;
  maxBodyBytes?: number;
  /** k3s's supervisor paths (supervisor.ts): /cacerts before authentication, /v1-k3s/... after it. */
  k3s?: Supervisor;
  /** Handler failures (answered 500) are reported here. */
  log?: (line: string) => void;
}

export interface ListenAddress {
  host: string;
  port: number;
  handle?: NetServer;
}

export interface ApiServer {
  /** The addresses listened on (the ports chosen when 0 was asked for). */
  addresses: { host: string; port: number }[];
  close(): Promise<void>;
}

/**
 * A watch's output a client does not read piles up in memory; past this the stream is ended and
 * the client lists and watches again, as kube-apiserver's cacher closes a watcher it cannot keep up with.
 */
const MAX_STREAM_BUFFER = 16 * 1024 * 1024;
/** A too-large body is still read and thrown away (so the client sees the 413) up to this much. */
const MAX_DISCARD = 64 * 1024 * 1024;

/** The body, or null past `limit` (the rest is then read and dropped, as far as MAX_DISCARD). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  const declared = Number(req.headers['content-length'] ?? 0);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = declared > limit;
    if (over) resolve(null);
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (over) {
        if (size > MAX_DISCARD) req.socket.destroy();
        return;
      }
      if (size > limit) {
        over = true;
        chunks.length = 0;
        resolve(null);
      } else chunks.push(c);
    });
    req.on('end', () => resolve(over ? null : Buffer.concat(chunks)));
    req.on('error', reject);
    req.on('close', () => reject(new Error('the client went away before the end of its request'))); // no-op after 'end'
  });
}

export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const version = opts.version ?? labVersion();
  const limit = opts.maxBodyBytes ?? MAX_REQUEST_BODY_BYTES;
  const streams = new Set<() => void>();
  const upgraded = new Set<Duplex>();
  const closing = new AbortController();
  // Every request in flight (each watch for as long as it runs) listens for the server's close: more
  // than EventTarget's default of 10 is normal, not a leak (each listener goes with its response).
  setMaxListeners(0, closing.signal);

  function stream(res: ServerResponse, result: ApiStream, signal: AbortSignal, abort: () => void): void {
    res.writeHead(result.status ?? 200, commonHeaders({ 'Content-Type': result.contentType ?? 'application/json', ...result.headers }));
    res.flushHeaders();
    let cleanup: void | (() => void) = undefined;
    const end = () => {
      if (!streams.delete(end)) return;
      abort();
      if (!res.writableEnded) res.end();
      cleanup?.();
    };
    streams.add(end);
    res.on('close', end); // the client went away, or the response ended
    const sink: StreamSink = {
      send(event) {
        if (!streams.has(end)) return false;
        res.write(`${goJson(event)}\n`);
        if (res.writableLength <= MAX_STREAM_BUFFER) return true;
        end();
        return false;
      },
      end,
      signal,
    };
    cleanup = result.stream(sink);
    if (!streams.has(end)) cleanup?.(); // ended while starting
  }

  function pipeOut(res: ServerResponse, result: ApiPipe, abort: () => void): void {
    const src = result.pipe;
    res.writeHead(result.status ?? 200, commonHeaders({ 'Content-Type': result.contentType, ...result.headers }));
    res.flushHeaders();
    const end = () => {
      if (!streams.delete(end)) return;
      abort();
      src.destroy();
      if (!res.writableEnded) res.end();
    };
    streams.add(end);
    res.on('close', end); // the client went away, or the response ended
    src.on('end', end);
    // A source that fails halfway: the connection is cut, as kube-apiserver's copy loop does.
    src.on('error', () => {
      streams.delete(end);
      abort();
      res.destroy();
    });
    src.pipe(res, { end: false });
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://api');
    const pretty = wantsPretty(req, url.searchParams);
    const method = req.method ?? 'GET';
    if (opts.k3s && method === 'GET' && url.pathname === '/cacerts') return writeRaw(res, 200, 'text/plain', opts.k3s.cacerts, {});
    const user = authenticate(req.socket as TLSSocket, req.headers, opts.tokens);
    if (!user) return writeStatus(res, unauthorized().status, pretty);
    const k3s = opts.k3s && url.pathname.startsWith('/v1-k3s/') ? await supervisorRoute(opts.k3s, method, url.pathname, req.headers, () => readBody(req, MAX_CSR_BYTES)) : undefined;
    if (k3s) return writeRaw(res, k3s.status, k3s.contentType, k3s.body, {});
    const b = builtin(method, url.pathname, url.searchParams, version);
    if (b) return writeRaw(res, b.status, b.contentType, b.body, b.contentType.startsWith('text/') ? { 'X-Content-Type-Options': 'nosniff' } : {});
    if (!opts.handler) return writeNotFound(res);
    const body = await readBody(req, limit);
    if (body === null) return writeStatus(res, requestEntityTooLarge(limit).status, pretty);
    const ac = new AbortController();
    const abort = () => ac.abort();
    res.on('close', abort);
    closing.signal.addEventListener('abort', abort, { once: true });
    res.on('close', () => closing.signal.removeEventListener('abort', abort));
    try {
      const result = await opts.handler({ method, path: url.pathname, query: url.searchParams, headers: req.headers, user, body, pretty, signal: ac.signal });
      if (res.destroyed) {
        if (result && 'pipe' in result) result.pipe.destroy();
        return;
      }
      if (!result) return writeNotFound(res);
      if ('stream' in result) return stream(res, result, ac.signal, abort);
      if ('pipe' in result) return pipeOut(res, result, abort);
      const { status, body: out, contentType, headers } = result;
      if (typeof out === 'string' || Buffer.isBuffer(out)) return writeRaw(res, status, contentType ?? 'text/plain; charset=utf-8', out, headers);
      return writeJson(res, status, out, pretty, headers);
    } catch (e) {
      const status = statusOf(e);
      if (!status) opts.log?.(`api: ${method} ${url.pathname}: ${(e as Error)?.stack ?? String(e)}`);
      if (!res.headersSent && !res.destroyed) writeStatus(res, status ?? internalError(e).status, pretty);
      else res.destroy();
    }
  }

  function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const user = authenticate(req.socket as TLSSocket, req.headers, opts.tokens);
    const refuse = (status: number, type: string, body: string): void => {
      socket.end(`HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : 'Not Found'}\r\nContent-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    };
    if (!user) return refuse(401, 'application/json', `${goJson(unauthorized().status)}\n`);
    upgraded.add(socket);
    socket.on('close', () => upgraded.delete(socket));
    if (!opts.upgrade?.(req, user, socket, head)) refuse(404, 'text/plain; charset=utf-8', '404 page not found\n');
  }

  const servers: Server[] = [];
  const addresses: ApiServer['addresses'] = [];
  const close = async () => {
    closing.abort();
    for (const end of [...streams]) end();
    for (const s of upgraded) s.destroy();
    await Promise.all(
      servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      ),
    );
  };
  try {
    for (const { host, port, handle } of opts.listen) {
      // Client certificates are asked for, never required: a kubeconfig with a token has none, and
      // one from another CA is a 401 (as kube-apiserver's RequestClientCert), not a TLS failure.
      const server = createServer({ cert: opts.tls.cert, key: opts.tls.key, ca: opts.tls.clientCa, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' }, (req, res) => {
        onRequest(req, res).catch((e: unknown) => {
          if (res.destroyed) return; // the client is gone: nobody to answer
          opts.log?.(`api: ${String(e)}`);
          if (!res.headersSent) writeStatus(res, internalError(e).status, false);
        });
      });
      server.on('upgrade', onUpgrade);
      servers.push(server);
      addresses.push(await listenAt(server, { host, port, handle }));
    }
  } catch (e) {
    await close();
    throw e;
  }
  return { addresses, close };
}

/**
 * Starts `server` listening at one address: host and port, or a socket bound elsewhere (`handle`,
 * from src/sys/netns-listen.ts), which then only names it. Resolves with where it listens (the
 * port the kernel chose for port 0); rejects with the listen error (EADDRINUSE...).
 */
export function listenAt(server: NetServer, { host, port, handle }: ListenAddress): Promise<{ host: string; port: number }> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const listening = () => {
      server.off('error', reject);
      resolve({ host, port: handle ? port : (server.address() as AddressInfo).port });
    };
    if (handle) server.listen(handle, listening);
    else server.listen(port, host, listening);
  });
}
