// How an agent joins its server, as `k3s agent --server --token` does: the token's K10 form
// carries the SHA-256 of the server's CA bundle; the agent fetches /cacerts without trusting
// anything yet, and goes on only if the bundle hashes to the token's value (a server that is not
// the one the token came from is refused before a single credential is sent). Then the secret
// after `::server:` or `::node:` authenticates it, and /v1-k3s/config gives it the cluster's settings.
import { createHash } from 'node:crypto';
import { request } from 'node:https';
import { HttpsClient } from './https.ts';

export interface JoinToken {
  /** The CA bundle's SHA-256 (hex), when the token is a full K10 token. */
  caHash?: string;
  secret: string;
}

/** `K10<hash>::<user>:<secret>` or a bare secret (k3s accepts both; a bare one pins no CA). */
export function parseJoinToken(token: string): JoinToken {
  const t = token.trim();
  const m = /^K10([0-9a-f]{64})::[^:]+:(.+)$/.exec(t);
  if (m) return { caHash: m[1]!, secret: m[2]! };
  if (t.startsWith('K10')) throw new Error('the token starts like a K10 token but is not one (K10<64 hex digits>::server:<secret>): copy it whole from the server\'s node-token');
  if (!t) throw new Error('the token is empty');
  return { secret: t };
}

/** GET <server>/cacerts, trusting nobody yet (what the token's hash then checks). */
export function fetchCACerts(server: string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(new URL('/cacerts', server), { method: 'GET', rejectUnauthorized: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks).toString()) : reject(new Error(`${server}/cacerts answered HTTP ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${server} did not answer within ${timeoutMs / 1000} s`)));
    req.on('error', reject);
    req.end();
  });
}

export interface Joined {
  client: HttpsClient;
  /** The server's CA bundle, checked against the token. */
  ca: string;
  /** What /v1-k3s/config returned. */
  config: Record<string, unknown>;
}

/**
 * The agent's client of its server. Refuses, naming what is wrong: a CA that does not match the
 * token's hash, a secret the server does not take (401), a server that cannot be reached.
 */
export async function join(server: string, token: string, opts: { userAgent?: string; log?: (line: string) => void } = {}): Promise<Joined> {
  const t = parseJoinToken(token);
  let ca: string;
  try {
    ca = await fetchCACerts(server);
  } catch (e) {
    throw new Error(`cannot reach the server at ${server}: ${(e as Error).message}`, { cause: e });
  }
  if (t.caHash) {
    const got = createHash('sha256').update(ca).digest('hex');
    if (got !== t.caHash) throw new Error(`the server at ${server} is not the one the token is for: its CA bundle hashes to ${got.slice(0, 12)}..., the token names ${t.caHash.slice(0, 12)}...`);
  } else {
    opts.log?.('warning: the token is not a K10 token, so the server\'s CA is trusted without a check (use the server\'s node-token)');
  }
  const client = new HttpsClient({ server, ca, token: t.secret, userAgent: opts.userAgent });
  try {
    const config = await client.call<Record<string, unknown>>('GET', '/v1-k3s/config');
    return { client, ca, config };
  } catch (e) {
    client.close();
    const code = (e as { status?: { code?: number } }).status?.code;
    if (code === 401) throw new Error(`the server at ${server} refused the token (401 Unauthorized): use the token: of the server's config.yaml, or its node-token (/run/packet-path-lab/<instance>/server/node-token on the server)`, { cause: e });
    throw e;
  }
}

/**
 * One of the supervisor's text paths (k3s's agent fetches its kubelet's certificates this way):
 * GET /v1-k3s/client-ca.crt, POST /v1-k3s/serving-kubelet.crt with a CSR. Answers the body; a
 * non-200 answer is an error with the server's text.
 */
export function supervisorText(server: string, ca: string, token: string, method: 'GET' | 'POST', path: string, opts: { headers?: Record<string, string>; body?: string; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { Authorization: `Bearer ${token}`, ...opts.headers };
    if (opts.body !== undefined) Object.assign(headers, { 'Content-Type': 'application/pkcs10', 'Content-Length': String(Buffer.byteLength(opts.body)) });
    const req = request(new URL(path, server), { method, ca, headers, timeout: opts.timeoutMs ?? 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        if (res.statusCode === 200) resolve(text);
        else reject(new Error(`${method} ${server}${path}: HTTP ${res.statusCode}: ${text.trim()}`));
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${server} did not answer within ${(opts.timeoutMs ?? 30_000) / 1000} s`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}
