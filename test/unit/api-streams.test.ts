// kubectl logs and kubectl exec (v1.32, real) against the API server: startApiServer on 127.0.0.1
// (a kine store and a PKI in a temporary directory) with a test ContainerStreams in place of the
// kubelet. Logs come from fixed text or from a stream the test writes (-f); exec runs a real
// process (sh, cat) through src/sys's spawnStream in this machine's root namespaces — no network
// change. Checked: the bytes, kube's errors word for word, the exit code kubectl takes from the
// Status on channel 3, stdin through -i, the WebSocket framing seen by a raw client, 401 without
// credentials, and the errors of a server with no kubelet to reach.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startApiServer, type RunningApiServer } from '../../src/api/server/index.ts';
import type { ContainerStreams, ExecOptions, LogOptions } from '../../src/api/server/node-streams.ts';
import type { KubeObject } from '../../src/api/server/object.ts';
import { resourceFor } from '../../src/api/server/resources.ts';
import { run } from '../../src/sys/exec.ts';
import { spawnStream } from '../../src/sys/stream.ts';

const PODS = resourceFor('', 'pods')!;
const NODES = resourceFor('', 'nodes')!;
const DEPLOYMENTS = resourceFor('apps', 'deployments')!;

const tmp = mkdtempSync(path.join(tmpdir(), 'lab-api-streams-'));
const cacheDir = path.join(tmp, 'kube-cache');
const savedCacheEnv = process.env.KUBECACHEDIR;
let api: RunningApiServer;
let bare: RunningApiServer;
let kubeconfig: string;
let bareKubeconfig: string;
const children = new Set<ChildProcess>();

// What the test kubelet was asked for, and the follow stream the test writes into.
const logCalls: { pod: string; container: string; opts: LogOptions }[] = [];
const execCalls: { pod: string; container: string; command: string[]; opts: ExecOptions; resized: [number, number][] }[] = [];
let follow: PassThrough | undefined;
const LINES = ['line 1', 'line 2', 'line 3'];

const streams: ContainerStreams = {
  async logs(pod, container, opts) {
    logCalls.push({ pod: `${pod.namespace}/${pod.name}`, container, opts });
    if (opts.follow) {
      follow = new PassThrough();
      return follow;
    }
    let lines = opts.previous ? ['before the restart'] : [...LINES];
    if (opts.tailLines !== undefined) lines = lines.slice(Math.max(0, lines.length - opts.tailLines));
    if (opts.timestamps) lines = lines.map((l) => `2026-11-28T06:49:32.123456789Z ${l}`);
    return Readable.from([lines.map((l) => `${l}\n`).join('')]);
  },
  async exec(pod, container, command, opts) {
    const call = { pod: `${pod.namespace}/${pod.name}`, container, command, opts, resized: [] as [number, number][] };
    execCalls.push(call);
    if (container === 'refuse') throw new Error(`container not found ("${container}")`);
    const child = spawnStream(command, { stdin: opts.stdin });
    return {
      stdin: child.stdin,
      stdout: child.stdout,
      stderr: child.stderr,
      resize: (cols, rows) => void call.resized.push([cols, rows]),
      done: child.exited.then(({ code }) => ({ exitCode: code ?? 137 })),
      stop: () => child.stop('SIGKILL'),
    };
  },
};

const running = { running: { startedAt: '2026-11-28T06:00:00Z' } };
const pod = (name: string, containers: string[], status: Record<string, unknown>, labels: Record<string, string> = {}, nodeName = 'labs'): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, labels },
  spec: { ...(nodeName ? { nodeName } : {}), containers: containers.map((c) => ({ name: c, image: 'busybox:1.36' })) },
  status,
});
const containerStatus = (name: string, state: Record<string, unknown>, lastState: Record<string, unknown> = {}) => ({ name, state, lastState, ready: Boolean(state.running), restartCount: 0, image: 'busybox:1.36', imageID: '', containerID: `containerd://${name}` });

function seed(server: RunningApiServer): void {
  const { registry } = server;
  const node = registry.create(NODES, undefined, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'labs' } });
  registry.guaranteedUpdate(NODES, undefined, 'labs', (cur) => ({ ...cur, status: { addresses: [{ type: 'InternalIP', address: '192.168.56.110' }, { type: 'Hostname', address: 'labs' }], daemonEndpoints: { kubeletEndpoint: { Port: 10250 } } } }), { subresource: 'status' });
  expect(node.metadata.name).toBe('labs');
  const pods = [
    pod('pod1', ['c'], { phase: 'Running', containerStatuses: [containerStatus('c', running, { terminated: { exitCode: 1, reason: 'Error', containerID: 'containerd://old' } })] }, { app: 'app1' }),
    pod('pod2', ['a', 'b'], { phase: 'Running', containerStatuses: [containerStatus('a', running), containerStatus('b', running)] }),
    pod('pod3', ['c'], { phase: 'Pending', containerStatuses: [containerStatus('c', { waiting: { reason: 'ContainerCreating' } })] }),
    pod('pod4', ['c'], { phase: 'Pending' }, {}, ''),
    pod('pod5', ['refuse'], { phase: 'Running', containerStatuses: [containerStatus('refuse', running)] }),
  ];
  for (const p of pods) {
    const { status, ...rest } = p;
    registry.create(PODS, 'default', rest as KubeObject);
    registry.guaranteedUpdate(PODS, 'default', p.metadata.name!, (cur) => ({ ...cur, status }), { subresource: 'status' });
  }
  registry.create(DEPLOYMENTS, 'default', {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'app1' },
    spec: { replicas: 1, selector: { matchLabels: { app: 'app1' } }, template: { metadata: { labels: { app: 'app1' } }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] } } },
  });
}

beforeAll(async () => {
  process.env.KUBECACHEDIR = cacheDir;
  api = await startApiServer({ storeFile: path.join(tmp, 'server', 'db', 'state.db'), pkiDir: path.join(tmp, 'server'), streams });
  bare = await startApiServer({ storeFile: path.join(tmp, 'bare', 'db', 'state.db'), pkiDir: path.join(tmp, 'bare') });
  seed(api);
  seed(bare);
  kubeconfig = path.join(tmp, 'kubeconfig.yaml');
  writeFileSync(kubeconfig, api.kubeconfig(), { mode: 0o600 });
  bareKubeconfig = path.join(tmp, 'bare.yaml');
  writeFileSync(bareKubeconfig, bare.kubeconfig(), { mode: 0o600 });
});

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await api?.close();
  await bare?.close();
  rmSync(tmp, { recursive: true, force: true });
  if (savedCacheEnv === undefined) delete process.env.KUBECACHEDIR;
  else process.env.KUBECACHEDIR = savedCacheEnv;
});

async function kubectl(args: string[], opts: { config?: string; input?: string } = {}) {
  const r = await run(['kubectl', '--kubeconfig', opts.config ?? kubeconfig, '--cache-dir', cacheDir, ...args], { allowFail: true, timeoutMs: 30_000, input: opts.input });
  return { code: r.exitCode, out: r.stdout, err: r.stderr.trim() };
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function call(server: RunningApiServer, p: string, opts: { method?: string; headers?: Record<string, string>; token?: string | null } = {}): Promise<Reply> {
  const auth: Record<string, string> = opts.token === null ? {} : { Authorization: `Bearer ${opts.token ?? server.pki.token}` };
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`${server.url}${p}`, { method: opts.method ?? 'GET', headers: { ...auth, ...opts.headers }, ca: server.pki.serverCaCert, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function until(test: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!test()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('kubectl logs', () => {
  it('prints the container log; --tail, --timestamps and --previous reach the kubelet', async () => {
    const all = await kubectl(['logs', 'pod1']);
    expect(all.code, all.err).toBe(0);
    expect(all.out).toBe('line 1\nline 2\nline 3\n');
    expect(logCalls.at(-1)).toEqual({ pod: 'default/pod1', container: 'c', opts: {} });

    const tail = await kubectl(['logs', 'pod1', '--tail', '2', '--timestamps']);
    expect(tail.out).toBe('2026-11-28T06:49:32.123456789Z line 2\n2026-11-28T06:49:32.123456789Z line 3\n');
    expect(logCalls.at(-1)!.opts).toEqual({ tailLines: 2, timestamps: true });

    const previous = await kubectl(['logs', 'pod1', '--previous']);
    expect(previous.out).toBe('before the restart\n');
    expect(logCalls.at(-1)!.opts).toEqual({ previous: true });
  });

  it('-f prints lines as they come and ends when the stream ends; a client that leaves ends the stream', async () => {
    follow = undefined;
    const child = spawn('kubectl', ['--kubeconfig', kubeconfig, '--cache-dir', cacheDir, 'logs', '-f', 'pod1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await until(() => follow !== undefined, 'the follow request');
    expect(logCalls.at(-1)!.opts).toEqual({ follow: true });
    follow!.write('first\n');
    await until(() => out === 'first\n', 'the first line');
    follow!.write('second\n');
    await until(() => out === 'first\nsecond\n', 'the second line');
    follow!.end();
    expect(await exited).toBe(0);
    children.delete(child);

    // The client goes away: the kubelet's stream is destroyed.
    follow = undefined;
    const leaving = spawn('kubectl', ['--kubeconfig', kubeconfig, '--cache-dir', cacheDir, 'logs', '-f', 'pod1'], { stdio: 'ignore' });
    children.add(leaving);
    await until(() => follow !== undefined, 'the second follow request');
    const stream = follow!;
    leaving.kill('SIGTERM');
    children.delete(leaving);
    await until(() => stream.destroyed, 'the stream to be destroyed');
  });

  it("kube's errors: unknown container, several containers, not started, no previous, bad options", async () => {
    // kubectl checks the container itself, with the server's words; the server's own answer:
    const nope = await kubectl(['logs', 'pod2', '-c', 'nope']);
    expect([nope.code, nope.err]).toEqual([1, 'error: container nope is not valid for pod pod2']);
    const rawNope = await call(api, '/api/v1/namespaces/default/pods/pod2/log?container=nope');
    expect([rawNope.status, JSON.parse(rawNope.body).message]).toEqual([400, 'container nope is not valid for pod pod2']);

    // kubectl picks the first container itself (and says so); the server, asked without one, does not.
    const defaulted = await kubectl(['logs', 'pod2']);
    expect(defaulted.err).toBe('Defaulted container "a" out of: a, b');
    expect(logCalls.at(-1)!.container).toBe('a');
    const raw = await call(api, '/api/v1/namespaces/default/pods/pod2/log');
    expect(raw.status).toBe(400);
    expect(JSON.parse(raw.body)).toEqual({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'a container name must be specified for pod pod2, choose one of: [a b]', reason: 'BadRequest', code: 400 });

    const waiting = await kubectl(['logs', 'pod3']);
    expect(waiting.err).toBe('Error from server (BadRequest): container "c" in pod "pod3" is waiting to start: ContainerCreating');
    const noPrevious = await kubectl(['logs', 'pod2', '-c', 'b', '--previous']);
    expect(noPrevious.err).toBe('Error from server (BadRequest): previous terminated container "b" in pod "pod2" not found');
    // kubectl reads the pod first (its own wording around the 404).
    const missing = await kubectl(['logs', 'nope']);
    expect(missing.err).toBe('error: error from server (NotFound): pods "nope" not found in namespace "default"');
    const rawMissing = await call(api, '/api/v1/namespaces/default/pods/nope/log');
    expect([rawMissing.status, JSON.parse(rawMissing.body).message]).toEqual([404, 'pods "nope" not found']);

    const negative = await call(api, '/api/v1/namespaces/default/pods/pod1/log?tailLines=-1&limitBytes=0');
    expect(negative.status).toBe(422);
    expect(JSON.parse(negative.body).message).toBe('PodLogOptions "pod1" is invalid: [tailLines: Invalid value: -1: must be greater than or equal to 0, limitBytes: Invalid value: 0: must be greater than 0]');
    const both = await call(api, '/api/v1/namespaces/default/pods/pod1/log?sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z');
    expect(JSON.parse(both.body).message).toBe('PodLogOptions "pod1" is invalid: : Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified');
    const garbage = await call(api, '/api/v1/namespaces/default/pods/pod1/log?tailLines=x');
    expect([garbage.status, JSON.parse(garbage.body).message]).toEqual([400, 'strconv.ParseInt: parsing "x": invalid syntax']);
  });

  it('limitBytes cuts the stream; a pod no node has answers 204 with nothing', async () => {
    const cut = await call(api, '/api/v1/namespaces/default/pods/pod1/log?limitBytes=8');
    expect([cut.status, cut.headers['content-type'], cut.body]).toEqual([200, 'text/plain', 'line 1\nl']);
    const unscheduled = await call(api, '/api/v1/namespaces/default/pods/pod4/log');
    expect([unscheduled.status, unscheduled.body]).toEqual([204, '']);
    const k = await kubectl(['logs', 'pod4']);
    expect([k.code, k.out]).toEqual([0, '']);
  });
});

describe('kubectl exec', () => {
  it("prints stdout and stderr and exits with the command's exit code", async () => {
    const r = await kubectl(['exec', 'pod1', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(r.out).toBe('out\n');
    expect(r.err).toBe('err\ncommand terminated with exit code 3');
    expect(r.code).toBe(3);
    expect(execCalls.at(-1)).toMatchObject({ pod: 'default/pod1', container: 'c', command: ['sh', '-c', 'echo out; echo err >&2; exit 3'], opts: { tty: false, stdin: false } });
    const ok = await kubectl(['exec', 'pod1', '--', 'sh', '-c', 'echo fine']);
    expect([ok.code, ok.out, ok.err]).toEqual([0, 'fine\n', '']);
  });

  it('-i passes stdin through to the end', async () => {
    const r = await kubectl(['exec', '-i', 'pod1', '--', 'cat'], { input: 'hello\nworld\n' });
    expect([r.code, r.out, r.err]).toEqual([0, 'hello\nworld\n', '']);
    expect(execCalls.at(-1)!.opts).toEqual({ tty: false, stdin: true, stdout: true, stderr: true });
  });

  it('deploy/NAME: kubectl finds the pod through the Deployment and the pod list', async () => {
    const r = await kubectl(['exec', 'deploy/app1', '--', 'sh', '-c', 'echo via deployment']);
    expect([r.code, r.out]).toEqual([0, 'via deployment\n']);
    expect(execCalls.at(-1)!.pod).toBe('default/pod1');
  });

  it("kube's errors: unknown container, pod not found, unscheduled pod, the kubelet's refusal", async () => {
    const nope = await kubectl(['exec', 'pod2', '-c', 'nope', '--', 'true']);
    expect([nope.code, nope.err]).toEqual([1, 'Error from server (BadRequest): container nope is not valid for pod pod2']);
    const missing = await kubectl(['exec', 'nope', '--', 'true']);
    expect(missing.err).toBe('Error from server (NotFound): pods "nope" not found');
    const unscheduled = await kubectl(['exec', 'pod4', '--', 'true']);
    expect(unscheduled.err).toBe('Error from server (BadRequest): pod pod4 does not have a host assigned');
    const refused = await kubectl(['exec', 'pod5', '--', 'true']);
    expect([refused.code, refused.err]).toEqual([1, 'error: Internal error occurred: unable to upgrade connection: container not found ("refuse")']);
    const plain = await call(api, '/api/v1/namespaces/default/pods/pod1/exec?command=true&stdout=true', { method: 'POST' });
    expect([plain.status, JSON.parse(plain.body).message]).toEqual([400, 'Upgrade request required']);
  });

  it('port-forward, attach and SPDY are refused with what to use instead', async () => {
    const pf = await kubectl(['port-forward', 'pod1', '18080:80', '--pod-running-timeout=2s']);
    const at = await kubectl(['attach', 'pod1']);
    process.env.KUBECTL_REMOTE_COMMAND_WEBSOCKETS = 'false';
    const spdy = await kubectl(['exec', 'pod1', '--', 'sh', '-c', 'echo x']).finally(() => delete process.env.KUBECTL_REMOTE_COMMAND_WEBSOCKETS);
    expect([pf.code, pf.err]).toEqual([1, 'error: error upgrading connection: pods/portforward is not supported by this server: kubectl port-forward is not available in the lab; reach the pod through its Service or its pod IP']);
    expect([at.code, at.err.split('\n').at(-1)]).toEqual([1, 'Error from server (MethodNotAllowed): pods/attach is not supported by this server: kubectl attach is not available in the lab; use kubectl logs -f or kubectl exec']);
    // kubectl's SPDY fallback (forced here): refused, saying why.
    expect([spdy.code, spdy.err]).toEqual([1, 'Error from server (BadRequest): this server speaks the WebSocket exec protocol (v5.channel.k8s.io, v4.channel.k8s.io) only, not SPDY/3.1: run kubectl without KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false']);
    const r = await call(api, '/api/v1/namespaces/default/pods/pod1/portforward', { method: 'POST' });
    expect(r.status).toBe(405);
  });
});

/** A raw WebSocket exec: every frame as [channel, text], and the close code. */
function wsExec(server: RunningApiServer, query: string, opts: { token?: string | null; protocols?: string[]; send?: (ws: WebSocket) => void } = {}) {
  const url = `${server.url.replace('https', 'wss')}/api/v1/namespaces/default/pods/pod1/exec?${query}`;
  const headers: Record<string, string> = opts.token === null ? {} : { Authorization: `Bearer ${opts.token ?? server.pki.token}` };
  const ws = new WebSocket(url, opts.protocols ?? ['v5.channel.k8s.io'], { ca: server.pki.serverCaCert, headers });
  const frames: [number, string][] = [];
  return new Promise<{ frames: [number, string][]; code?: number; protocol?: string; status?: number }>((resolve) => {
    ws.on('open', () => opts.send?.(ws));
    ws.on('message', (data: Buffer) => frames.push([data[0]!, data.subarray(1).toString()]));
    ws.on('close', (code) => resolve({ frames, code, protocol: ws.protocol }));
    ws.on('unexpected-response', (_req, res) => {
      resolve({ frames, status: res.statusCode });
      ws.terminate();
    });
    ws.on('error', () => {});
  });
}

describe('the WebSocket protocol', () => {
  it('frames: the empty stdout frame, output, the Status on channel 3, close 1000', async () => {
    const r = await wsExec(api, 'command=sh&command=-c&command=echo%20hi%3B%20exit%207&container=c&stdout=true&stderr=true');
    expect(r.protocol).toBe('v5.channel.k8s.io');
    expect(r.code).toBe(1000);
    expect(r.frames.slice(0, 2)).toEqual([[1, ''], [1, 'hi\n']]);
    expect(r.frames.at(-1)![0]).toBe(3);
    expect(JSON.parse(r.frames.at(-1)![1])).toEqual({
      metadata: {},
      status: 'Failure',
      message: 'command terminated with non-zero exit code: error executing command [sh -c echo hi; exit 7], exit code 7',
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: '7' }] },
    });
  });

  it('v4 too; tty: resize frames reach the kubelet; stdin closes with [255, 0]', async () => {
    const r = await wsExec(api, 'command=cat&container=c&stdin=true&stdout=true&tty=true', {
      send: (ws) => {
        ws.send(Buffer.from([4, ...Buffer.from('{"Width":80,"Height":24}')]));
        ws.send(Buffer.from([0, ...Buffer.from('typed\n')]));
        ws.send(Buffer.from([255, 0]));
      },
    });
    expect(r.frames.filter(([c]) => c === 1).map(([, t]) => t).join('')).toBe('typed\n');
    expect(r.frames.at(-1)).toEqual([3, '{"metadata":{},"status":"Success"}']);
    expect(execCalls.at(-1)).toMatchObject({ opts: { tty: true, stdin: true }, resized: [[80, 24]] });
    const v4 = await wsExec(api, 'command=sh&command=-c&command=true&container=c&stdout=true', { protocols: ['v4.channel.k8s.io'] });
    expect([v4.protocol, v4.code, v4.frames.at(-1)]).toEqual(['v4.channel.k8s.io', 1000, [3, '{"metadata":{},"status":"Success"}']]);
  });

  it('no credentials or a wrong token: 401 before any upgrade; an unknown subprotocol: 403', async () => {
    const before = execCalls.length;
    expect((await wsExec(api, 'command=true&stdout=true', { token: null })).status).toBe(401);
    expect((await wsExec(api, 'command=true&stdout=true', { token: 'f'.repeat(64) })).status).toBe(401);
    expect((await call(api, '/api/v1/namespaces/default/pods/pod1/exec?command=true&stdout=true', { method: 'POST', token: null })).status).toBe(401);
    expect((await wsExec(api, 'command=true&stdout=true', { protocols: ['channel.k8s.io'] })).status).toBe(403);
    expect(execCalls.length).toBe(before); // nothing ran
  });
});

describe('with no kubelet to reach (no ContainerStreams)', () => {
  it("logs and exec answer kube-apiserver's errors for an unreachable kubelet", async () => {
    const logs = await kubectl(['logs', 'pod1', '--tail', '1'], { config: bareKubeconfig });
    expect(logs.err).toBe('Error from server: Get "https://192.168.56.110:10250/containerLogs/default/pod1/c?tailLines=1": dial tcp 192.168.56.110:10250: connect: connection refused');
    const exec = await kubectl(['exec', 'pod1', '--', 'sh', '-c', 'echo x'], { config: bareKubeconfig });
    expect([exec.code, exec.err]).toEqual([
      1,
      'error: Internal error occurred: error sending request: Post "https://192.168.56.110:10250/exec/default/pod1/c?command=sh&command=-c&command=echo+x&error=1&output=1": dial tcp 192.168.56.110:10250: connect: connection refused',
    ]);
  });
});
