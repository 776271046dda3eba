// The child process of benchmark `api` (bench/api.ts), bundled like the lab's own programs
// (bin/bundles.mjs) so that its memory is the server's and not a TypeScript loader's:
//   api-server.mjs api <dir>    the lab's API server (startApiServer: kine store, registry, HTTPS)
//   api-server.mjs floor <dir>  the floor: a bare Node https server that writes the body of each
//                               POST as one watch-event line to every open GET, then answers it
// Both listen on 127.0.0.1 (a free port), print one JSON line {url, ca, cert, key, kubeconfig} on
// stdout when ready, and exit when stdin closes (the benchmark ended or died) or on SIGTERM.
import type { ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import path from 'node:path';
import { ensurePki } from '../src/api/pki.ts';
import { DEFAULT_PKI_SETTINGS, startApiServer } from '../src/api/server/index.ts';

export interface ChildReady {
  url: string;
  ca: string;
  cert: string;
  key: string;
  kubeconfig: string;
}

/** The floor: what moving one event line from a write to N open watch responses costs in Node. */
async function startFloor(dir: string): Promise<{ ready: ChildReady; close: () => Promise<void> }> {
  const pki = await ensurePki({ tlsDir: path.join(dir, 'server', 'tls'), tokenFile: path.join(dir, 'server', 'token') }, DEFAULT_PKI_SETTINGS);
  const watchers = new Set<ServerResponse>();
  // The same TLS as the API server: its serving certificate, client certificates asked for.
  const server = createServer({ cert: pki.servingCert, key: pki.servingKey, ca: pki.clientCaCert, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.flushHeaders();
      watchers.add(res);
      res.on('close', () => watchers.delete(res));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      const line = `{"type":"MODIFIED","object":${body}}\n`;
      for (const w of watchers) w.write(line);
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) });
      res.end(body);
    });
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as { port: number };
  return {
    ready: { url: `https://127.0.0.1:${port}`, ca: pki.serverCaCert, cert: pki.adminCert, key: pki.adminKey, kubeconfig: '' },
    close: () =>
      new Promise<void>((resolve) => {
        for (const w of watchers) w.end();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function startApi(dir: string): Promise<{ ready: ChildReady; close: () => Promise<void> }> {
  const api = await startApiServer({ storeFile: path.join(dir, 'server', 'db', 'state.db'), pkiDir: path.join(dir, 'server') });
  return { ready: { url: api.url, ca: api.pki.serverCaCert, cert: api.pki.adminCert, key: api.pki.adminKey, kubeconfig: api.kubeconfig() }, close: () => api.close() };
}

async function main(): Promise<void> {
  const [mode, dir] = process.argv.slice(2);
  if ((mode !== 'api' && mode !== 'floor') || !dir) throw new Error('usage: api-server.mjs api|floor <dir>');
  const running = mode === 'api' ? await startApi(dir) : await startFloor(dir);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void running.close().finally(() => process.exit(0));
  };
  process.stdin.on('end', stop).on('close', stop).resume();
  process.once('SIGTERM', stop);
  process.stdout.write(`${JSON.stringify(running.ready)}\n`);
}

main().catch((e: Error) => {
  process.stderr.write(`${e.stack ?? e.message}\n`);
  process.exit(1);
});
