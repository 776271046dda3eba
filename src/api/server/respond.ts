// Writing responses as kube-apiserver does: JSON from Go's encoder (compact, a newline after it,
// and <, >, & and U+2028/9 escaped as \u003c etc., which encoding/json does by default), indented
// when asked with ?pretty=true or by curl, wget or a browser; every response with
// `Cache-Control: no-cache, private` and an `Audit-Id`; newline-delimited JSON for watches.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Status } from './status.ts';

/** encoding/json's output for a value: JSON.stringify with Go's HTML-safe escapes (only strings hold these characters). */
export function goJson(value: unknown, pretty = false): string {
  const text = pretty ? JSON.stringify(value, null, 2) : JSON.stringify(value);
  return text.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** apiserver negotiation's isPrettyPrint: ?pretty=<bool>, else the user agents of people reading. */
export function wantsPretty(req: IncomingMessage, query: URLSearchParams): boolean {
  const p = query.get('pretty');
  if (p !== null && p !== '') return ['1', 't', 'T', 'true', 'TRUE', 'True'].includes(p);
  const ua = req.headers['user-agent'] ?? '';
  return ua.startsWith('curl') || ua.startsWith('Wget') || ua.startsWith('Mozilla/5.0');
}

export function commonHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return { 'Audit-Id': randomUUID(), 'Cache-Control': 'no-cache, private', ...extra };
}

/** A JSON object, as the JSON serializer encodes it (pretty: MarshalIndent, without the newline). */
export function writeJson(res: ServerResponse, status: number, value: unknown, pretty: boolean, headers: Record<string, string> = {}): void {
  const body = pretty ? goJson(value, true) : `${goJson(value)}\n`;
  res.writeHead(status, commonHeaders({ 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)), ...headers }));
  res.end(body);
}

export function writeStatus(res: ServerResponse, status: Status, pretty: boolean, headers: Record<string, string> = {}): void {
  writeJson(res, status.code ?? 200, status, pretty, headers);
}

/** Text or bytes as they are (health checks, Go's http.NotFound). */
export function writeRaw(res: ServerResponse, status: number, contentType: string, body: string | Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(status, commonHeaders({ 'Content-Type': contentType, 'Content-Length': String(Buffer.byteLength(body)), ...headers }));
  res.end(body);
}

/**
 * What kube-apiserver 1.32 answers for a path nothing serves: Go's http.NotFound, plain text.
 * (Kubernetes later answers a Status there; kubectl shows both as "the server could not find the
 * requested resource".)
 */
export function writeNotFound(res: ServerResponse): void {
  writeRaw(res, 404, 'text/plain; charset=utf-8', '404 page not found\n', { 'X-Content-Type-Options': 'nosniff' });
}
