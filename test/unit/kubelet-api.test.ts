// The kubelet's :10250 (src/kubelet/kubelet-server.ts) and kube-apiserver's client of it
// (src/api/server/kubelet-client.ts), with real kubectl 1.32 in front: kubectl -> API server ->
// HTTPS with the API server's client certificate -> a kubelet server on 127.0.0.1 with a
// serving certificate signed through the supervisor's /v1-k3s/serving-kubelet.crt -> a test
// ContainerStreams whose exec runs real processes (sh, cat) through src/sys's spawnStream, in
// this machine's namespaces: no network change. Checked: the bytes both ways, exit codes, kube's
// texts for a kubelet that refuses (404, 401, a certificate from another CA), cannot be reached
// (connection refused) or presents a certificate the server CA did not sign; the kubelet's 401
// and 403; the supervisor's certificates (subject, SANs, issuer).
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensurePki } from '../../src/api/pki.ts';
import { nodeCertSpec } from '../../src/api/node-certs.ts';
import { startApiServer, type RunningApiServer } from '../../src/api/server/index.ts';
import { dialErrorText, exitOf, KubeletClient, kubeletResponseError, KubeletRouter } from '../../src/api/server/kubelet-client.ts';
import { KubeletError, type ContainerStreams, type LogOptions } from '../../src/api/server/node-streams.ts';
import type { KubeObject } from '../../src/api/server/object.ts';
import { resourceFor } from '../../src/api/server/resources.ts';
import { supervisorText } from '../../src/client/join.ts';
import { ensureKubeletCerts, type KubeletCerts } from '../../src/kubelet/certs.ts';
import { forbidden, kubeletExecOptions, kubeletRoute, startKubeletServer, type KubeletServer } from '../../src/kubelet/kubelet-server.ts';
import { dialHere } from '../../src/sys/netns-dial.ts';
import { run } from '../../src/sys/exec.ts';
import { spawnStream } from '../../src/sys/stream.ts';

const PODS = resourceFor('', 'pods')!;
const NODES = resourceFor('', 'nodes')!;
const tmp = mkdtempSync(path.join(tmpdir(), 'lab-kubelet-api-'));
const cacheDir = path.join(tmp, 'kube-cache');
let api: RunningApiServer;
let kubelet: KubeletServer;
let certs: KubeletCerts;
let kubeconfig: string;
let follow: PassThrough | undefined;
const logCalls: { pod: string; container: string; opts: LogOptions }[] = [];

/** The test node's kubelet: it runs pod1 (container c) and knows no other pod. */
const streams: ContainerStreams = {
  async logs(pod, container, opts) {
    logCalls.push({ pod: `${pod.namespace}/${pod.name}`, container, opts });
    if (pod.name !== 'pod1') throw new KubeletError(404, `pod "${pod.name}" does not exist`);
    if (opts.previous) throw new Error(`previous terminated container "${container}" in pod "${pod.name}" not found`);
    if (opts.follow) return (follow = new PassThrough());
    const lines = ['line 1', 'line 2', 'line 3'];
    return Readable.from([lines.slice(opts.tailLines === undefined ? 0 : lines.length - opts.tailLines).map((l) => `${l}\n`).join('')]);
  },
  async exec(pod, _container, command, opts) {
    if (pod.name !== 'pod1') throw new KubeletError(404, 'pod does not exist');
    const child = spawnStream(command, { stdin: opts.stdin });
    return { stdin: child.stdin, stdout: child.stdout, stderr: child.stderr, resize: () => {}, done: child.exited.then(({ code }) => ({ exitCode: code ?? 137 })), stop: () => child.stop('SIGKILL') };
  },
};

const node = (name: string, ip: string, port: number): KubeObject => ({ apiVersion: 'v1', kind: 'Node', metadata: { name }, status: { addresses: [{ type: 'InternalIP', address: ip }], daemonEndpoints: { kubeletEndpoint: { Port: port } } } });
function addNode(n: KubeObject): void {
  const { status, ...rest } = n;
  api.registry.create(NODES, undefined, rest as KubeObject);
  api.registry.guaranteedUpdate(NODES, undefined, n.metadata.name!, (cur) => ({ ...cur, status }), { subresource: 'status' });
}
function addPod(name: string, nodeName: string): void {
  api.registry.create(PODS, 'default', { apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { nodeName, containers: [{ name: 'c', image: 'busybox' }] } });
  const status = { phase: 'Running', containerStatuses: [{ name: 'c', state: { running: { startedAt: '2026-11-28T06:00:00Z' } }, lastState: { terminated: { exitCode: 1 } }, ready: true, restartCount: 1, image: 'busybox', imageID: '' }] };
  api.registry.guaranteedUpdate(PODS, 'default', name, (cur) => ({ ...cur, status }), { subresource: 'status' });
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

beforeAll(async () => {
  api = await startApiServer({ storeFile: path.join(tmp, 'server', 'db', 'state.db'), pkiDir: path.join(tmp, 'server'), kubelets: { dial: dialHere } });
  // The node's certificates as an agent gets them: CSRs to the supervisor, with the join token.
  const supervisor = (method: 'GET' | 'POST', p: string, body?: string) => supervisorText(api.url, api.pki.serverCaCert, api.pki.token, method, p, { headers: { 'k3s-Node-Name': 'labsw', 'k3s-Node-IP': '127.0.0.1' }, body });
  certs = await ensureKubeletCerts(path.join(tmp, 'agent'), 'labsw', await supervisor('GET', '/v1-k3s/client-ca.crt'), (kind, csr) => supervisor('POST', `/v1-k3s/${kind}.crt`, csr));
  kubelet = await startKubeletServer({ tls: { cert: certs.servingCert, key: certs.servingKey, clientCa: certs.clientCa }, listen: [{ host: '127.0.0.1', port: 0 }], streams });
  addNode(node('labsw', '127.0.0.1', kubelet.addresses[0]!.port));
  addNode(node('gone', '127.0.0.1', await closedPort()));
  addPod('pod1', 'labsw');
  addPod('ghost', 'labsw');
  addPod('orphan', 'gone');
  kubeconfig = path.join(tmp, 'kubeconfig.yaml');
  writeFileSync(kubeconfig, api.kubeconfig(), { mode: 0o600 });
});

afterAll(async () => {
  await kubelet?.close();
  await api?.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function kubectl(args: string[], input?: string) {
  const r = await run(['kubectl', '--kubeconfig', kubeconfig, '--cache-dir', cacheDir, ...args], { allowFail: true, timeoutMs: 30_000, input });
  return { code: r.exitCode, out: r.stdout, err: r.stderr.trim() };
}

async function until(test: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!test()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A raw HTTPS request to the kubelet, with or without a client certificate. */
function toKubelet(p: string, client?: { cert: string; key: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port: kubelet.addresses[0]!.port, path: p, ca: api.pki.serverCaCert, agent: false, ...client }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('kubectl through the API server to a node kubelet on :10250', () => {
  it('logs: the bytes, --tail reaching the kubelet, -f as it comes', async () => {
    const all = await kubectl(['logs', 'pod1']);
    expect([all.code, all.out]).toEqual([0, 'line 1\nline 2\nline 3\n']);
    const tail = await kubectl(['logs', 'pod1', '--tail=1']);
    expect(tail.out).toBe('line 3\n');
    expect(logCalls.at(-1)).toEqual({ pod: 'default/pod1', container: 'c', opts: { tailLines: 1 } });
    follow = undefined;
    const running = kubectl(['logs', '-f', 'pod1']);
    await until(() => follow !== undefined, 'the follow request');
    expect(logCalls.at(-1)!.opts).toEqual({ follow: true });
    follow!.write('live 1\n');
    follow!.end('live 2\n');
    expect(await running).toMatchObject({ code: 0, out: 'live 1\nlive 2\n' });

    // kubectl goes away: the API server's connection to the kubelet closes, which ends the kubelet's stream.
    follow = undefined;
    const leaving = spawn('kubectl', ['--kubeconfig', kubeconfig, '--cache-dir', cacheDir, 'logs', '-f', 'pod1'], { stdio: 'ignore' });
    await until(() => follow !== undefined, 'the follow request');
    const stream = follow!;
    leaving.kill('SIGTERM');
    await until(() => stream.destroyed, 'the kubelet side of the stream to be destroyed');
  });

  it("logs: the kubelet's refusals as kube-apiserver passes them on", async () => {
    const previous = await kubectl(['logs', 'pod1', '--previous']);
    expect(previous.err).toBe('Error from server (BadRequest): previous terminated container "c" in pod "pod1" not found');
    const ghost = await kubectl(['logs', 'ghost']);
    expect(ghost.err).toBe('Error from server (NotFound): the server could not find the requested resource ( pods/log ghost)');
  });

  it('exec: stdout, stderr, stdin and the exit code, relayed frame by frame', async () => {
    const r = await kubectl(['exec', 'pod1', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect([r.code, r.out, r.err]).toEqual([3, 'out\n', 'err\ncommand terminated with exit code 3']);
    const cat = await kubectl(['exec', '-i', 'pod1', '--', 'cat'], 'hello\nworld\n');
    expect([cat.code, cat.out, cat.err]).toEqual([0, 'hello\nworld\n', '']);
    const ghost = await kubectl(['exec', 'ghost', '--', 'true']);
    expect([ghost.code, ghost.err]).toEqual([1, 'error: Internal error occurred: unable to upgrade connection: pod does not exist']);
  });

  it("a node whose kubelet cannot be reached: Go's dial error, as kube-apiserver reports it", async () => {
    const port = (await api.registry.get(NODES, undefined, 'gone')).status as { daemonEndpoints: { kubeletEndpoint: { Port: number } } };
    const at = `127.0.0.1:${port.daemonEndpoints.kubeletEndpoint.Port}`;
    const logs = await kubectl(['logs', 'orphan']);
    expect(logs.err).toBe(`Error from server: Get "https://${at}/containerLogs/default/orphan/c": dial tcp ${at}: connect: connection refused`);
    const exec = await kubectl(['exec', 'orphan', '--', 'true']);
    expect(exec.err).toBe(`error: Internal error occurred: error sending request: Post "https://${at}/exec/default/orphan/c?command=true&error=1&output=1": dial tcp ${at}: connect: connection refused`);
  });
});

describe("the kubelet's authentication and authorization", () => {
  it('no client certificate: 401 Unauthorized on every path', async () => {
    for (const p of ['/containerLogs/default/pod1/c', '/healthz', '/nope']) expect(await toKubelet(p)).toEqual({ status: 401, body: 'Unauthorized' });
  });

  it("the admin's certificate may (system:masters); a node's own is 403 with the kubelet's text", async () => {
    expect(await toKubelet('/healthz', { cert: api.pki.adminCert, key: api.pki.adminKey })).toEqual({ status: 200, body: 'ok' });
    expect(await toKubelet('/containerLogs/default/pod1/c?tailLines=2', { cert: api.pki.adminCert, key: api.pki.adminKey })).toEqual({ status: 200, body: 'line 2\nline 3\n' });
    expect(await toKubelet('/containerLogs/default/nope/c', { cert: api.pki.adminCert, key: api.pki.adminKey })).toEqual({ status: 404, body: 'pod "nope" does not exist' });
    expect(await toKubelet('/containerLogs/default/pod1/c', { cert: certs.clientCert, key: certs.clientKey })).toEqual({
      status: 403,
      body: 'Forbidden (user=system:node:labsw, verb=get, resource=nodes, subresource(s)=[proxy])\n',
    });
  });

  it('an API server whose client certificate another CA signed: 401, which kube-apiserver names', async () => {
    const other = await ensurePki({ tlsDir: path.join(tmp, 'other', 'tls'), tokenFile: path.join(tmp, 'other', 'token') }, { nodeName: 'x', nodeIP: '127.0.0.1', serviceIP: '10.43.0.1', clusterDomain: 'cluster.local' });
    const client = new KubeletClient({ ca: api.pki.serverCaCert, cert: other.kubeletClientCert, key: other.kubeletClientKey, dial: dialHere });
    const pod = { namespace: 'default', name: 'pod1', uid: '', kubelet: `127.0.0.1:${kubelet.addresses[0]!.port}` };
    await expect(client.logs(pod, 'c', {})).rejects.toMatchObject({ status: { code: 401, reason: 'Unauthorized', message: 'the server has asked for the client to provide credentials ( pods/log pod1)' } });
    await expect(client.exec(pod, 'c', ['true'], { tty: false, stdin: false })).rejects.toThrow('Unauthorized');
    // And a kubelet whose serving certificate the server CA did not sign.
    const impostor = await startKubeletServer({ tls: { cert: other.servingCert, key: other.servingKey, clientCa: api.pki.clientCaCert }, listen: [{ host: '127.0.0.1', port: 0 }], streams });
    try {
      const at = `127.0.0.1:${impostor.addresses[0]!.port}`;
      const good = new KubeletClient({ ca: api.pki.serverCaCert, cert: api.pki.kubeletClientCert, key: api.pki.kubeletClientKey, dial: dialHere });
      await expect(good.logs({ ...pod, kubelet: at }, 'c', {})).rejects.toMatchObject({
        status: { code: 500, message: `Get "https://${at}/containerLogs/default/pod1/c": tls: failed to verify certificate: x509: certificate signed by unknown authority` },
      });
    } finally {
      await impostor.close();
    }
  });
});

describe('the supervisor signs node certificates', () => {
  it("serving-kubelet: the node's name and IPs, serverAuth, the server CA; client-kubelet: system:node:<name>", () => {
    const serving = new X509Certificate(certs.servingCert);
    expect(serving.subject).toBe('CN=labsw');
    expect(serving.subjectAltName).toBe('DNS:labsw, DNS:localhost, IP Address:127.0.0.1');
    expect(serving.verify(new X509Certificate(api.pki.serverCaCert).publicKey)).toBe(true);
    const client = new X509Certificate(certs.clientCert);
    expect(client.subject).toBe('O=system:nodes\nCN=system:node:labsw');
    expect(client.verify(new X509Certificate(api.pki.clientCaCert).publicKey)).toBe(true);
    expect(nodeCertSpec('serving-kubelet', 'labsw', ['192.168.56.111']).ips).toEqual(['127.0.0.1', '192.168.56.111']);
    expect(() => nodeCertSpec('client-kubelet', 'Bad_Name', [])).toThrow(/DNS-1123/);
    expect(() => nodeCertSpec('serving-kubelet', 'labsw', ['not-an-ip'])).toThrow(/invalid node IP/);
  });

  it('refuses a request without the token, without a node name, or without a CSR', async () => {
    const post = (headers: Record<string, string>, body: string, token = api.pki.token) =>
      supervisorText(api.url, api.pki.serverCaCert, token, 'POST', '/v1-k3s/serving-kubelet.crt', { headers, body }).then(
        () => 'signed',
        (e: Error) => e.message.replace(/^.*: HTTP /, 'HTTP '),
      );
    expect(await post({ 'k3s-Node-Name': 'labsw' }, 'x', 'wrong')).toMatch(/^HTTP 401/);
    expect(await post({}, 'x')).toBe('HTTP 400: the k3s-Node-Name header is required');
    expect(await post({ 'k3s-Node-Name': 'labsw' }, 'not a csr')).toBe('HTTP 400: not a PEM certificate signing request');
  });
});

describe('pure parts', () => {
  it("the kubelet's routes, authorization attributes and exec options", () => {
    expect(kubeletRoute('/containerLogs/default/p/c')).toEqual({ kind: 'logs', namespace: 'default', pod: 'p', uid: '', container: 'c' });
    expect(kubeletRoute('/exec/default/p/1234/c')).toEqual({ kind: 'exec', namespace: 'default', pod: 'p', uid: '1234', container: 'c' });
    expect(kubeletRoute('/exec/default/p/c')?.uid).toBe('');
    expect(kubeletRoute('/containerLogs/default//c')).toBeUndefined();
    expect(kubeletRoute('/run/default/p/c')).toBeUndefined();
    expect(forbidden({ name: 'system:apiserver', groups: ['system:masters', 'system:authenticated'] }, 'POST', '/exec/a/b/c')).toBeNull();
    expect(forbidden({ name: 'bob', groups: ['system:authenticated'] }, 'POST', '/exec/a/b/c')).toBe('Forbidden (user=bob, verb=create, resource=nodes, subresource(s)=[proxy])\n');
    expect(forbidden({ name: 'bob', groups: [] }, 'GET', '/stats/summary')).toContain('subresource(s)=[stats]');
    expect(kubeletExecOptions(new URLSearchParams('command=sh&command=-c&input=1&output=1&error=1&tty=1'))).toEqual({ command: ['sh', '-c'], container: '', stdin: true, stdout: true, stderr: false, tty: true });
    expect(kubeletExecOptions(new URLSearchParams('command=ls&output=true'))).toMatchObject({ stdout: false });
  });

  it("kube-apiserver's mapping of kubelet answers, dial errors and channel-3 statuses", () => {
    expect(kubeletResponseError(400, 'bad', 'pods/log', 'p').status).toMatchObject({ code: 400, reason: 'BadRequest', message: 'bad' });
    expect(kubeletResponseError(500, 'boom', 'pods/log', 'p').status).toMatchObject({ code: 500, reason: 'InternalError', message: 'Internal error occurred: boom' });
    expect(kubeletResponseError(403, 'Forbidden (user=x)', 'pods/log', 'p').status).toMatchObject({ reason: 'Forbidden', message: 'Forbidden (user=x) ( pods/log p)', details: { kind: 'pods/log', name: 'p' } });
    expect(kubeletResponseError(418, '', 'pods/log', 'p').status.message).toBe('the server responded with the status code 418 but did not return more information ( pods/log p)');
    expect(dialErrorText('10.0.0.1:10250', 'EHOSTUNREACH', 'x')).toBe('dial tcp 10.0.0.1:10250: connect: no route to host');
    expect(dialErrorText('10.0.0.1:10250', 'ETIMEDOUT', 'x')).toBe('dial tcp 10.0.0.1:10250: i/o timeout');
    expect(exitOf('{"metadata":{},"status":"Success"}')).toEqual({ exitCode: 0 });
    expect(exitOf('{"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"7"}]}}')).toEqual({ exitCode: 7 });
    expect(exitOf('{"status":"Failure","reason":"InternalError","message":"Internal error occurred: gone"}')).toEqual(new Error('gone'));
  });

  it("the router: the server's own node in process, its refusals answered as :10250 would", async () => {
    const remote: ContainerStreams = { logs: async () => Readable.from(['remote']), exec: async () => Promise.reject(new Error('remote')) };
    const router = new KubeletRouter(remote, { nodeName: 'labs', streams });
    const text = async (r: Readable) => (await r.toArray()).join('');
    expect(await text(await router.logs({ namespace: 'default', name: 'pod1', uid: '', nodeName: 'labs' }, 'c', {}))).toBe('line 1\nline 2\nline 3\n');
    expect(await text(await router.logs({ namespace: 'default', name: 'pod1', uid: '', nodeName: 'labsw' }, 'c', {}))).toBe('remote');
    await expect(router.logs({ namespace: 'default', name: 'x', uid: '', nodeName: 'labs' }, 'c', {})).rejects.toMatchObject({ status: { code: 404, message: 'the server could not find the requested resource ( pods/log x)' } });
  });
});
