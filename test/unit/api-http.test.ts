// The API server's HTTPS front against real kubectl (v1.32): a PKI made as k3s makes it, the
// server on 127.0.0.1 at a free port, kubeconfigs rendered as k3s.yaml. Authentication (client
// certificate, token, none, wrong ones), the 3 MiB body limit, kube's error bodies, /version and
// the health checks, watch streaming, and the PKI kept across starts. No root namespace is
// touched: a listening socket on 127.0.0.1 and a temporary directory, both removed afterwards.
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderKubeconfig } from '../../src/api/kubeconfig.ts';
import { ADMIN_USER, ensurePki, fingerprint, type Pki, type PkiPaths } from '../../src/api/pki.ts';
import { startApiServer, type ApiRequest, type ApiServer } from '../../src/api/server/http.ts';
import { decodeObject } from '../../src/api/server/json.ts';
import { failure } from '../../src/api/server/status.ts';
import { instancePaths } from '../../src/node/instance.ts';
import { run } from '../../src/sys/exec.ts';

const SETTINGS = { nodeName: 'labs', nodeIP: '192.168.56.110', serviceIP: '10.43.0.1', clusterDomain: 'cluster.local' };
const UNAUTHORIZED = '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}\n';
const LIMIT = 3 * 1024 * 1024;

const ROOT = path.resolve(import.meta.dirname, '../..');
const CLI_INSTANCE = 'pplt-kubecfg';
const tmp = mkdtempSync(path.join(tmpdir(), 'lab-api-http-'));
const pkiPaths = (name: string): PkiPaths => ({ tlsDir: path.join(tmp, name, 'server', 'tls'), tokenFile: path.join(tmp, name, 'server', 'token') });
const servers: ApiServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  rmSync(tmp, { recursive: true, force: true });
  rmSync(instancePaths(CLI_INSTANCE).stateDir, { recursive: true, force: true });
});

let pki: Pki;
let other: Pki; // a second cluster's PKI: its client certificates are from another CA
let server: ApiServer;
let url: string;
/** Every request that reached the handler. */
const seen: ApiRequest[] = [];
/** Watch streams: how many are open, and a way to let the next event go. */
const watch = { open: 0, ended: 0, next: () => {} };

beforeAll(async () => {
  pki = await ensurePki(pkiPaths('lab'), SETTINGS);
  other = await ensurePki(pkiPaths('other'), SETTINGS);
  server = await startApiServer({
    tls: { cert: pki.servingCert, key: pki.servingKey, clientCa: pki.clientCaCert },
    tokens: [{ token: pki.token, user: ADMIN_USER }],
    listen: [{ host: '127.0.0.1', port: 0 }],
    handler: async (req) => {
      seen.push(req);
      if (req.path === '/whoami') return { status: 200, body: { user: req.user } };
      if (req.path === '/api/v1/namespaces/default/pods' && req.method === 'POST') return { status: 201, body: { ...decodeObject(req.body, 'Pod'), size: req.body.length } };
      if (req.path === '/conflict') throw failure(409, 'Conflict', 'Operation cannot be fulfilled on pods "x": the object has been modified; please apply your changes to the latest version and try again');
      if (req.path === '/boom') throw new Error('boom');
      if (req.path === '/watch') {
        return {
          stream(sink) {
            watch.open++;
            let n = 0;
            sink.send({ type: 'ADDED', object: { n: n++ } });
            watch.next = () => sink.send({ type: 'MODIFIED', object: { n: n++ } });
            return () => {
              watch.open--;
              watch.ended++;
            };
          },
        };
      }
      return undefined;
    },
  });
  servers.push(server);
  url = `https://127.0.0.1:${server.addresses[0]!.port}`;
});

function kubeconfig(name: string, user: { clientCertificate?: string; clientKey?: string; token?: string }): string {
  const file = path.join(tmp, `${name}.yaml`);
  writeFileSync(file, renderKubeconfig({ server: url, certificateAuthority: pki.serverCaCert, ...user }), { mode: 0o600 });
  return file;
}

async function kubectl(config: string, ...args: string[]) {
  const r = await run(['kubectl', '--kubeconfig', config, '--cache-dir', path.join(tmp, 'kube-cache'), ...args], { allowFail: true, timeoutMs: 30_000 });
  return { ...r, out: r.stdout.trim(), err: r.stderr.trim() };
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A request without kubectl: no credentials unless given, any body. */
function call(p: string, opts: { method?: string; headers?: Record<string, string>; body?: Buffer; chunked?: boolean; cert?: string; key?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`${url}${p}`, { method: opts.method ?? 'GET', headers: opts.headers, ca: pki.serverCaCert, cert: opts.cert, key: opts.key, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    if (opts.body && !opts.chunked) req.setHeader('Content-Length', opts.body.length);
    req.end(opts.body);
  });
}
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

describe('kubectl against the API server', () => {
  it('kubectl version shows the server version (a kube-shaped /version)', async () => {
    const r = await kubectl(kubeconfig('admin', { clientCertificate: pki.adminCert, clientKey: pki.adminKey }), 'version', '-o', 'json');
    expect(r.exitCode, r.err).toBe(0);
    const server = JSON.parse(r.out).serverVersion;
    expect(server).toMatchObject({ major: '1', minor: '32', gitVersion: 'v1.32.0+lab', platform: expect.stringMatching(/^linux\/(amd64|arm64)$/) });
  });

  it('health checks answer "ok" (and list their checks with ?verbose)', async () => {
    const config = kubeconfig('admin', { clientCertificate: pki.adminCert, clientKey: pki.adminKey });
    for (const p of ['/healthz', '/livez', '/readyz', '/healthz/ping']) expect((await kubectl(config, 'get', '--raw', p)).out, p).toBe('ok');
    expect((await kubectl(config, 'get', '--raw', '/readyz?verbose')).out).toBe('[+]ping ok\nreadyz check passed');
  });

  it('the client certificate is the user: CN system:admin, O system:masters', async () => {
    const r = await kubectl(kubeconfig('admin', { clientCertificate: pki.adminCert, clientKey: pki.adminKey }), 'get', '--raw', '/whoami');
    expect(JSON.parse(r.out).user).toEqual({ name: 'system:admin', groups: ['system:masters', 'system:authenticated'] });
  });

  it('a kubeconfig with the token alone works', async () => {
    const config = kubeconfig('token', { token: pki.token });
    expect((await kubectl(config, 'get', '--raw', '/healthz')).out).toBe('ok');
    expect(JSON.parse((await kubectl(config, 'get', '--raw', '/whoami')).out).user.name).toBe('system:admin');
  });

  it('no credentials: 401 with kube Status body; kubectl says "You must be logged in"', async () => {
    const before = seen.length;
    const r = await call('/api/v1/pods');
    expect(r.status).toBe(401);
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.body).toBe(UNAUTHORIZED);
    // --anonymous-auth=false, as k3s runs it: not even the health checks and /version are public.
    for (const p of ['/healthz', '/version']) expect((await call(p)).status, p).toBe(401);
    // kubectl prompts for a user name when a kubeconfig has no credentials (not a test's business);
    // basic auth, which kube-apiserver dropped in 1.19, is no credential either.
    const none = await kubectl(kubeconfig('none', {}), '--username', 'admin', '--password', 'admin', 'get', '--raw', '/healthz');
    expect(none.exitCode).toBe(1);
    expect(none.err).toBe('error: You must be logged in to the server (Unauthorized)');
    expect(seen.length).toBe(before);
  });

  it('a wrong token: 401', async () => {
    const r = await kubectl(kubeconfig('wrong', { token: 'f'.repeat(64) }), 'get', '--raw', '/whoami');
    expect(r.exitCode).toBe(1);
    expect(r.err).toBe('error: You must be logged in to the server (Unauthorized)');
    expect((await call('/whoami', { headers: bearer(`${pki.token}x`) })).body).toBe(UNAUTHORIZED);
  });

  it('a client certificate signed by another CA: 401 (a token beside it still counts)', async () => {
    const r = await kubectl(kubeconfig('foreign', { clientCertificate: other.adminCert, clientKey: other.adminKey }), 'get', '--raw', '/whoami');
    expect(r.exitCode).toBe(1);
    expect(r.err).toBe('error: You must be logged in to the server (Unauthorized)');
    const both = await kubectl(kubeconfig('foreign-and-token', { clientCertificate: other.adminCert, clientKey: other.adminKey, token: pki.token }), 'get', '--raw', '/whoami');
    expect(JSON.parse(both.out).user.name).toBe('system:admin');
  });

  it('the serving certificate is no client certificate (its CA is the server CA, its usage serverAuth)', async () => {
    const r = await call('/whoami', { cert: pki.servingCert, key: pki.servingKey });
    expect(r.status).toBe(401);
  });

  it('a 4 MiB body: 413 with kube-apiserver\'s message, and the handler never sees it', async () => {
    const before = seen.length;
    const big = path.join(tmp, 'big.json');
    writeFileSync(big, `{"kind":"Pod","pad":"${'a'.repeat(4 * 1024 * 1024)}"}`);
    const r = await kubectl(kubeconfig('admin', { clientCertificate: pki.adminCert, clientKey: pki.adminKey }), 'create', '--raw', '/api/v1/namespaces/default/pods', '-f', big);
    expect(r.exitCode).toBe(1);
    expect(r.err).toBe('Error from server (RequestEntityTooLarge): Request entity too large: limit is 3145728');
    // Without Content-Length (chunked), and one byte over the limit.
    const chunked = await call('/api/v1/namespaces/default/pods', { method: 'POST', headers: bearer(pki.token), body: Buffer.alloc(LIMIT + 1, 0x20), chunked: true });
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.body)).toEqual({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Request entity too large: limit is 3145728', reason: 'RequestEntityTooLarge', code: 413 });
    expect(seen.length).toBe(before);
  });

  it('a body of exactly 3 MiB is read whole', async () => {
    const body = Buffer.from(`{"kind":"Pod"${' '.repeat(LIMIT - 14)}}`);
    expect(body.length).toBe(LIMIT);
    const r = await call('/api/v1/namespaces/default/pods', { method: 'POST', headers: bearer(pki.token), body });
    expect(r.status).toBe(201);
    expect(JSON.parse(r.body)).toEqual({ kind: 'Pod', size: LIMIT });
  });

  it('a body that is not JSON: 400 BadRequest as kube-apiserver words it', async () => {
    const bad = path.join(tmp, 'bad.json');
    writeFileSync(bad, '{"kind":');
    const r = await kubectl(kubeconfig('admin', { clientCertificate: pki.adminCert, clientKey: pki.adminKey }), 'create', '--raw', '/api/v1/namespaces/default/pods', '-f', bad);
    expect(r.err).toBe('Error from server (BadRequest): the object provided is unrecognized (must be of type Pod): couldn\'t get version/kind; json parse error: unexpected end of JSON input ({"kind":)');
    const hex = await call('/api/v1/namespaces/default/pods', { method: 'POST', headers: bearer(pki.token), body: Buffer.from('kind: Pod') });
    expect(JSON.parse(hex.body)).toMatchObject({ code: 400, reason: 'BadRequest', message: "the object provided is unrecognized (must be of type Pod): couldn't get version/kind; json parse error: invalid character 'k' looking for beginning of value (6b696e643a20506f64)" });
  });

  it('a path nothing serves: Go\'s plain 404, which kubectl calls NotFound', async () => {
    const r = await kubectl(kubeconfig('admin', { clientCertificate: pki.adminCert, clientKey: pki.adminKey }), 'get', '--raw', '/apis/nothing.example.com/v1');
    expect(r.err).toBe('Error from server (NotFound): the server could not find the requested resource');
    const raw = await call('/nope', { headers: bearer(pki.token) });
    expect([raw.status, raw.headers['content-type'], raw.body]).toEqual([404, 'text/plain; charset=utf-8', '404 page not found\n']);
  });

  it('errors a handler throws: its Status, or 500 InternalError', async () => {
    const conflict = await call('/conflict', { headers: bearer(pki.token) });
    expect(conflict.status).toBe(409);
    expect(JSON.parse(conflict.body)).toMatchObject({ reason: 'Conflict', code: 409 });
    const boom = await call('/boom', { headers: bearer(pki.token) });
    expect(boom.body).toBe('{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Internal error occurred: boom","reason":"InternalError","details":{"causes":[{"message":"boom"}]},"code":500}\n');
  });

  it('responses are JSON as Go encodes it, indented for curl', async () => {
    const compact = await call('/whoami', { headers: { ...bearer(pki.token), 'User-Agent': 'kubectl/v1.32.4' } });
    expect(compact.body).toBe('{"user":{"name":"system:admin","groups":["system:masters","system:authenticated"]}}\n');
    expect(compact.headers['cache-control']).toBe('no-cache, private');
    expect(compact.headers['audit-id']).toMatch(/^[0-9a-f-]{36}$/);
    const pretty = await call('/whoami', { headers: { ...bearer(pki.token), 'User-Agent': 'curl/7.88.1' } });
    expect(pretty.body).toBe(JSON.stringify({ user: { name: 'system:admin', groups: ['system:masters', 'system:authenticated'] } }, null, 2));
  });

  it('a watch streams one line per event as it happens, and ends when the client goes away', async () => {
    const lines: string[] = [];
    const req = httpsRequest(`${url}/watch`, { headers: bearer(pki.token), ca: pki.serverCaCert, agent: false });
    const gotLine = (n: number) =>
      new Promise<void>((resolve) => {
        const check = () => (lines.length >= n ? resolve() : setTimeout(check, 5));
        check();
      });
    const response = new Promise<Record<string, unknown>>((resolve) =>
      req.on('response', (res) => {
        let buf = '';
        res.on('data', (c: Buffer) => {
          buf += c.toString();
          const parts = buf.split('\n');
          buf = parts.pop()!;
          lines.push(...parts);
        });
        resolve(res.headers);
      }),
    );
    req.on('error', () => {});
    req.end();
    expect((await response)['transfer-encoding']).toBe('chunked');
    // The first event arrives before the handler has even made the second: flushed per event.
    await gotLine(1);
    expect(watch.open).toBe(1);
    watch.next();
    await gotLine(2);
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      { type: 'ADDED', object: { n: 0 } },
      { type: 'MODIFIED', object: { n: 1 } },
    ]);
    req.destroy();
    for (let i = 0; i < 200 && watch.open > 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect([watch.open, watch.ended]).toEqual([0, 1]);
  });

  it('fifteen watches at once are no listener leak (no MaxListenersExceededWarning), and all end with their clients', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    const ended0 = watch.ended;
    try {
      const reqs = Array.from({ length: 15 }, () => {
        const req = httpsRequest(`${url}/watch`, { headers: bearer(pki.token), ca: pki.serverCaCert, agent: false });
        req.on('error', () => {});
        req.end();
        return req;
      });
      for (let i = 0; i < 400 && watch.open < 15; i++) await new Promise((r) => setTimeout(r, 5));
      expect(watch.open).toBe(15);
      for (const req of reqs) req.destroy();
      for (let i = 0; i < 400 && watch.open > 0; i++) await new Promise((r) => setTimeout(r, 5));
      expect([watch.open, watch.ended - ended0]).toEqual([0, 15]);
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
      expect(warnings.filter((w) => w.includes('MaxListeners'))).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });
});

describe('kubeconfig', () => {
  it('is byte for byte what kubectl itself writes (kubectl config view --raw)', async () => {
    for (const [name, user] of [
      ['admin', { clientCertificate: pki.adminCert, clientKey: pki.adminKey }],
      ['token', { token: pki.token }],
      ['none', {}],
    ] as const) {
      const file = kubeconfig(name, user);
      const view = await kubectl(file, 'config', 'view', '--raw');
      expect(`${view.out}\n`, name).toBe(renderKubeconfig({ server: url, certificateAuthority: pki.serverCaCert, ...user }));
    }
  });
});

describe('the PKI, as k3s keeps it', () => {
  const mode = (f: string) => (statSync(f).mode & 0o777).toString(8);

  it("k3s's files; keys and token 0600, the directory 0700", () => {
    const { tlsDir, tokenFile } = pkiPaths('lab');
    for (const name of ['server-ca', 'client-ca', 'serving-kube-apiserver', 'client-admin', 'client-kube-apiserver']) {
      expect(mode(path.join(tlsDir, `${name}.key`)), name).toBe('600');
      expect(mode(path.join(tlsDir, `${name}.crt`)), name).toBe('644');
    }
    expect(mode(tokenFile)).toBe('600');
    expect(mode(tlsDir)).toBe('700');
    expect(pki.token).toMatch(/^[0-9a-f]{64}$/);
  });

  it("the serving certificate carries k3s's SANs and the admin certificate k3s's subject", () => {
    const serving = new X509Certificate(pki.servingCert);
    expect(serving.subjectAltName).toBe(
      'DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local, DNS:localhost, DNS:labs, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, IP Address:192.168.56.110, IP Address:10.43.0.1',
    );
    expect(serving.checkIssued(new X509Certificate(pki.serverCaCert))).toBe(true);
    const admin = new X509Certificate(pki.adminCert);
    expect(admin.subject).toBe('O=system:masters\nCN=system:admin');
    expect(admin.checkIssued(new X509Certificate(pki.clientCaCert))).toBe(true);
    expect(admin.publicKey.asymmetricKeyDetails).toEqual({ namedCurve: 'prime256v1' });
    // kube-apiserver's certificate for the kubelets (k3s's client-kube-apiserver.crt).
    const toKubelets = new X509Certificate(pki.kubeletClientCert);
    expect(toKubelets.subject).toBe('O=system:masters\nCN=system:apiserver');
    expect(toKubelets.checkIssued(new X509Certificate(pki.clientCaCert))).toBe(true);
  });

  it('a second start reuses everything (same CA fingerprint); a missing or wrong piece is made again', async () => {
    const again = await ensurePki(pkiPaths('lab'), SETTINGS);
    expect(again.generated).toEqual([]);
    expect(fingerprint(again.serverCaCert)).toBe(fingerprint(pki.serverCaCert));
    expect(again.token).toBe(pki.token);

    // The other cluster's directory is free to break.
    const dir = pkiPaths('other');
    unlinkSync(path.join(dir.tlsDir, 'serving-kube-apiserver.key'));
    const fixed = await ensurePki(dir, SETTINGS);
    expect(fixed.generated).toEqual([{ name: 'serving-kube-apiserver', reason: 'missing' }]);
    expect(fingerprint(fixed.serverCaCert)).toBe(fingerprint(other.serverCaCert));

    // A new node IP is a missing SAN; a new client CA makes the client certificates again.
    const moved = await ensurePki(dir, { ...SETTINGS, nodeIP: '192.168.56.120' });
    expect(moved.generated).toEqual([{ name: 'serving-kube-apiserver', reason: 'SAN 192.168.56.120 missing' }]);
    unlinkSync(path.join(dir.tlsDir, 'client-ca.crt'));
    const newCa = await ensurePki(dir, { ...SETTINGS, nodeIP: '192.168.56.120' });
    expect(newCa.generated).toEqual([
      { name: 'client-ca', reason: 'missing' },
      { name: 'client-admin', reason: 'not signed by the current CA' },
      { name: 'client-kube-apiserver', reason: 'not signed by the current CA' },
    ]);
    writeFileSync(dir.tokenFile, 'short\n');
    expect((await ensurePki(dir, { ...SETTINGS, nodeIP: '192.168.56.120' })).generated).toEqual([{ name: 'token', reason: 'not 64 hex digits' }]);
  });

  it('a restarted server with the kept PKI still accepts the old kubeconfig', async () => {
    const again = await ensurePki(pkiPaths('lab'), SETTINGS);
    const second = await startApiServer({
      tls: { cert: again.servingCert, key: again.servingKey, clientCa: again.clientCaCert },
      tokens: [{ token: again.token, user: ADMIN_USER }],
      listen: [{ host: '127.0.0.1', port: 0 }],
    });
    servers.push(second);
    const old = renderKubeconfig({ server: `https://127.0.0.1:${second.addresses[0]!.port}`, certificateAuthority: pki.serverCaCert, clientCertificate: pki.adminCert, clientKey: pki.adminKey });
    const file = path.join(tmp, 'old.yaml');
    writeFileSync(file, old, { mode: 0o600 });
    expect((await kubectl(file, 'get', '--raw', '/healthz')).out).toBe('ok');
    await second.close();
  });
});

// The instance's certificates live under /run/packet-path-lab/<i>/server, root's.
describe.skipIf(process.getuid?.() !== 0)('lab kubeconfig', () => {
  const lab = (...args: string[]) => run([process.execPath, path.join(ROOT, 'bin/lab.js'), ...args, '--name', CLI_INSTANCE], { allowFail: true, timeoutMs: 60_000 });

  it("prints k3s.yaml for the instance's PKI (made on first use, kept after), which kubectl uses as is", async () => {
    const first = await lab('kubeconfig');
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^apiVersion: v1\nclusters:\n- cluster:\n {4}certificate-authority-data: [A-Za-z0-9+/=]+\n {4}server: https:\/\/127\.0\.0\.1:6443\n {2}name: default\n/);
    expect(first.stderr).toMatch(/# server-ca: made \(missing\)/);
    const paths = instancePaths(CLI_INSTANCE);
    expect((statSync(paths.tokenFile).mode & 0o777).toString(8)).toBe('600');
    expect((statSync(path.join(paths.tlsDir, 'client-admin.key')).mode & 0o777).toString(8)).toBe('600');

    // The API server of that instance, from the same files (a second reader: nothing is made again).
    const kept = await ensurePki(paths, SETTINGS);
    expect(kept.generated).toEqual([]);
    const api = await startApiServer({
      tls: { cert: kept.servingCert, key: kept.servingKey, clientCa: kept.clientCaCert },
      tokens: [{ token: kept.token, user: ADMIN_USER }],
      listen: [{ host: '127.0.0.1', port: 0 }],
    });
    servers.push(api);
    const second = await lab('kubeconfig', '--server', `https://127.0.0.1:${api.addresses[0]!.port}`);
    expect(second.stderr).toBe('');
    const file = path.join(tmp, 'cli.yaml');
    writeFileSync(file, second.stdout, { mode: 0o600 });
    const r = await kubectl(file, 'version', '-o', 'json');
    expect(r.exitCode, r.err).toBe(0);
    expect(JSON.parse(r.out).serverVersion.gitVersion).toBe('v1.32.0+lab');
  });
});
