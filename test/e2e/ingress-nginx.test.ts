// The ingress controller against a real nginx: in a network namespace of its own, three busybox
// httpd backends, nginx running the rendered config, curl with different Host headers and paths.
// Checks that nginx routes exactly as route() says, that a SIGHUP reload under load fails no
// request (and finishes the one in flight), that a bad config is refused while the old one keeps
// serving, and that the access log names the upstream.
// No instance: these are the functions the API design's ingress controller
// (src/ingress/ingress-controller.ts) renders and reloads with, against nginx itself; the
// controller's watch of the API, its service-upstream choice, Ingress status and RELOAD Events are
// tested through a server in ingress-dns.test.ts and in test/unit/ingress-controller.test.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HTTPIngressPath, Ingress, IngressRule } from '../../src/api/types.ts';
import { parseAccessLogLine, renderNginxConfig, type NginxRenderOptions } from '../../src/ingress/nginx.ts';
import { applyNginxConfig, nginxArgv, prepareNginxRuntime, readMasterPid, type NginxInstance } from '../../src/ingress/reload.ts';
import { buildRoutingTable, route, type RoutingTable } from '../../src/ingress/routes.ts';
import { inNetns, run } from '../../src/sys/exec.ts';
import { childPids } from '../../src/sys/proc.ts';

function missing(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (creates a network namespace)';
  for (const tool of ['nginx', 'busybox', 'curl', 'ip']) {
    if (!['/usr/sbin', '/usr/bin', '/sbin', '/bin'].some((d) => existsSync(path.join(d, tool)))) return `${tool} is not installed`;
  }
  return null;
}
const skip = missing();
if (skip) console.warn(`skipping test/e2e/ingress-nginx.test.ts: ${skip}`);

// Services -> backends. Each backend answers every path with its name (its 404 page is its
// index page), so a response tells which backend nginx chose even for paths it does not have.
const BACKENDS = { b1: 18081, b2: 18082, b3: 18083 } as const;
type BackendId = keyof typeof BACKENDS;
const SERVICE_BACKEND: Record<string, { port: number; backend: BackendId }> = {
  app1: { port: 80, backend: 'b1' },
  app2: { port: 8080, backend: 'b2' }, // referenced by port name `http`
  app3: { port: 80, backend: 'b3' },
};

function ingress(name: string, spec: Partial<Ingress['spec']>, created: string): Ingress {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace: 'default', labels: {}, annotations: {}, creationTimestamp: created },
    spec: { rules: [], ...spec },
    source: { file: 'test', line: 1 },
  };
}
const p = (path: string, pathType: HTTPIngressPath['pathType'], svc: string): HTTPIngressPath => ({
  path,
  pathType,
  backend: { service: { name: svc, port: svc === 'app2' ? { name: 'http' } : { number: 80 } } },
});
const rule = (host: string | undefined, ...paths: HTTPIngressPath[]): IngressRule => (host ? { host, http: { paths } } : { http: { paths } });

const V1: Ingress[] = [
  ingress(
    'web',
    {
      rules: [
        rule('app1.test', p('/', 'Prefix', 'app1'), p('/foo', 'Prefix', 'app2'), p('/foo/exact', 'Exact', 'app3'), p('/foo/exact/', 'Prefix', 'app1')),
        rule('*.wild.test', p('/aaa', 'Prefix', 'app2'), p('/aaa/bbb', 'Exact', 'app3')),
        rule(undefined, p('/shared', 'Prefix', 'app3')),
      ],
    },
    '2024-01-01T00:00:00Z',
  ),
];
// V2 adds a host and a default backend (in a second, newer Ingress).
const V2: Ingress[] = [
  ...V1,
  ingress('more', { defaultBackend: { service: { name: 'app3', port: { number: 80 } } }, rules: [rule('app4.test', p('/', 'Prefix', 'app2'))] }, '2024-01-02T00:00:00Z'),
];

const HOSTS = ['app1.test', 'APP1.test:80', 'x.wild.test', 'x.y.wild.test', 'wild.test', 'app4.test', 'other.test'];
const PATHS = ['/', '/foo', '/foo/', '/foo/bar', '/foobar', '/fo', '/foo/exact', '/foo/exact/', '/foo/exactly', '/aaa', '/aaa/', '/aaa/bbb', '/aaa/bbb/', '/aaax', '/shared', '/shared/x', '/sharedx'];

describe.skipIf(skip !== null)(`ingress: rendered config in a real nginx${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const ns = `pplt-ing-${randomBytes(4).toString('hex')}`;
  let dir = '';
  let inst: NginxInstance;
  let opts: NginxRenderOptions;
  const children: ChildProcess[] = [];
  let nginxStderr = '';
  let masterPid = 0;
  let httpAnswers = 0; // requests nginx answered: each must leave exactly one access log line

  function start(argv: string[]): ChildProcess {
    const [file, ...args] = inNetns(ns, argv) as [string, ...string[]];
    const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.on('data', (d: Buffer) => void (nginxStderr += d.toString()));
    children.push(child);
    return child;
  }

  async function curl(host: string, urlPath: string, port = 80): Promise<{ status: number; body: string }> {
    const argv = ['curl', '-s', '--path-as-is', '--max-time', '10', '-w', '\\n%{http_code}' /* curl expands \n itself */, '-H', `Host: ${host}`, `http://127.0.0.1:${port}${urlPath}`];
    const r = await run(argv, { netns: ns, allowFail: true });
    const i = r.stdout.lastIndexOf('\n');
    const status = Number(r.stdout.slice(i + 1));
    if (port === 80 && status > 0) httpAnswers++;
    return { status, body: r.stdout.slice(0, i).trimEnd() };
  }

  /** Which backend answered, or the status nginx answered itself with. */
  async function outcome(host: string, urlPath: string): Promise<string> {
    const r = await curl(host, urlPath);
    return /^backend (b\d)$/m.exec(r.body)?.[1] ?? String(r.status);
  }

  function expectedOutcome(t: RoutingTable, host: string, urlPath: string): string {
    const d = route(t, host, urlPath);
    return d.kind === 'notFound' ? '404' : SERVICE_BACKEND[d.backend.name]!.backend;
  }

  async function waitFor<T>(what: string, fn: () => Promise<T | null | false>, ms = 10_000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = await fn();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\nnginx stderr:\n${nginxStderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async function render(ingresses: Ingress[]): Promise<string> {
    return renderNginxConfig(buildRoutingTable(ingresses), opts);
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'pplt-ingress-'));
    chmodSync(dir, 0o755); // nginx workers run as nobody
    for (const [id] of Object.entries(BACKENDS)) {
      const home = path.join(dir, id);
      mkdirSync(path.join(home, 'cgi-bin'), { recursive: true });
      writeFileSync(path.join(home, 'index.html'), `backend ${id}\n`);
      writeFileSync(path.join(home, 'e404.html'), `backend ${id}\n`);
      writeFileSync(path.join(home, 'httpd.conf'), 'E404:e404.html\n');
      const cgi = (name: string, before: string, body: string): void =>
        writeFileSync(path.join(home, 'cgi-bin', name), `#!/bin/sh\n${before}echo "Content-Type: text/plain"\necho\n${body}`, { mode: 0o755 });
      cgi('slow', 'sleep 1.5\n', `echo "backend ${id} slow"\n`);
      cgi('headers', '', `echo "backend ${id}"\necho "host=$HTTP_HOST xff=$HTTP_X_FORWARDED_FOR xrealip=$HTTP_X_REAL_IP proto=$HTTP_X_FORWARDED_PROTO"\n`);
    }

    await run(['ip', 'netns', 'add', ns]);
    await run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    for (const [id, port] of Object.entries(BACKENDS)) {
      start(['busybox', 'httpd', '-f', '-p', `127.0.0.1:${port}`, '-h', path.join(dir, id), '-c', path.join(dir, id, 'httpd.conf')]);
    }
    for (const [id, port] of Object.entries(BACKENDS)) {
      await waitFor(`backend ${id}`, async () => (await curl('x', '/', port)).body.includes(`backend ${id}`));
    }

    const prefix = path.join(dir, 'nginx');
    inst = { prefix, configPath: path.join(prefix, 'nginx.conf'), netns: ns };
    opts = {
      resolver: '10.43.0.10', // never asked: the upstreams below are IP:port
      clusterDomain: 'cluster.local',
      listenPort: 80,
      prefix,
      accessLogPath: path.join(prefix, 'access.log'),
      errorLogPath: path.join(prefix, 'error.log'),
      resolvePort: (_ns, svc, port) => (port.name === 'http' ? SERVICE_BACKEND[svc]?.port : port.number),
      upstreamAddress: (_ns, svc) => `127.0.0.1:${BACKENDS[SERVICE_BACKEND[svc]!.backend]}`,
    };
    await prepareNginxRuntime(inst);
    // No master yet: the config is only installed (nginx reads it when it starts).
    const first = await applyNginxConfig(await render(V1), inst);
    expect(first).toEqual({ changed: true, reloadedPid: null, newWorkers: [], error: null });

    const nginx = start(nginxArgv(inst));
    masterPid = await waitFor('nginx pid file', () => readMasterPid(prefix));
    // `ip netns exec` execs nginx, so the child we spawned is the master itself.
    expect(masterPid).toBe(nginx.pid);
    await waitFor('nginx answering', async () => (await curl('app1.test', '/')).status === 200);
  });

  afterAll(async () => {
    // Every process here was started by this test, in its own namespace: stop them by pid.
    // Bounded: a child that ignores SIGTERM (an nginx master left mid-reload by a failed test) is
    // killed after 3 s, so the hook never times out with the namespace still there.
    const alive = (c: (typeof children)[number]) => c.exitCode === null && c.signalCode === null;
    for (const c of children) if (alive(c) && c.pid) process.kill(c.pid, 'SIGTERM');
    const exited = Promise.all(children.map((c) => (alive(c) ? new Promise((r) => c.once('exit', r)) : null)));
    const late = setTimeout(() => children.forEach((c) => alive(c) && c.pid && process.kill(c.pid, 'SIGKILL')), 3000);
    await exited;
    clearTimeout(late);
    if (existsSync(`/run/netns/${ns}`)) {
      // Workers of a master that died abnormally would be orphans in the namespace.
      const { stdout } = await run(['ip', 'netns', 'pids', ns], { allowFail: true });
      for (const pid of stdout.split(/\s+/).filter(Boolean).map(Number)) process.kill(pid, 'SIGKILL');
      const del = await run(['ip', 'netns', 'del', ns], { allowFail: true });
      if (existsSync(`/run/netns/${ns}`)) throw new Error(`could not delete namespace ${ns}: ${del.stderr.trim()}`);
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 20_000);

  it('routes every host x path of the grid exactly as route() says', async () => {
    const t = buildRoutingTable(V1);
    const mismatches: string[] = [];
    for (const host of HOSTS) {
      for (const p of PATHS) {
        const [got, want] = [await outcome(host, p), expectedOutcome(t, host, p)];
        if (got !== want) mismatches.push(`${host} ${p}: nginx ${got}, route() ${want}`);
      }
    }
    expect(mismatches).toEqual([]);
    // The grid really exercises all outcomes (no default backend yet: 404s included).
    const outcomes = new Set(HOSTS.flatMap((h) => PATHS.map((p) => expectedOutcome(t, h, p))));
    expect([...outcomes].sort()).toEqual(['404', 'b1', 'b2', 'b3']);
  });

  it('does not redirect /foo to /foo/ and answers 404 itself when nothing matches', async () => {
    expect(await curl('app1.test', '/foo')).toEqual({ status: 404, body: 'backend b2' }); // b2 has no /foo: its own 404 page
    const none = await curl('other.test', '/');
    expect(none.status).toBe(404);
    expect(none.body).toMatch(/<center>nginx/);
  });

  it('sets Host, X-Forwarded-For and X-Real-IP like ingress-nginx', async () => {
    const r = await curl('app1.test', '/cgi-bin/headers');
    expect(r.body).toContain('backend b1');
    expect(r.body).toContain('host=app1.test xff=127.0.0.1 xrealip=127.0.0.1 proto=http');
  });

  it('reloads with SIGHUP under load without a failed request, finishing the request in flight', async () => {
    const oldWorkers = childPids(masterPid);
    expect(oldWorkers.length).toBe(1);
    let stop = false;
    let total = 0;
    const failures: string[] = [];
    const loop = async (host: string, urlPath: string, want: string, wantStatus: number): Promise<void> => {
      while (!stop) {
        const r = await curl(host, urlPath);
        total++;
        if (r.status !== wantStatus || !r.body.includes(`backend ${want}`)) failures.push(`${host}${urlPath}: ${r.status} ${r.body.slice(0, 80)}`);
      }
    };
    const loops = [
      loop('app1.test', '/', 'b1', 200),
      loop('app1.test', '/', 'b1', 200),
      loop('x.wild.test', '/aaa/x', 'b2', 404), // b2's own 404 page: it has no /aaa/x
      loop('app1.test', '/cgi-bin/headers', 'b1', 200),
    ];
    // Same backend before and after: the loops must see no difference at all.
    let slowDone = false;
    const slow = curl('app1.test', '/cgi-bin/slow').finally(() => void (slowDone = true));
    await waitFor('requests before the reload', async () => total >= 40);

    const result = await applyNginxConfig(await render(V2), inst, { masterPid });
    expect(result.error).toBeNull();
    expect(result.changed).toBe(true);
    expect(result.reloadedPid).toBe(masterPid);
    expect(result.newWorkers.length).toBe(1);
    expect(oldWorkers).not.toContain(result.newWorkers[0]);
    const atReload = total;
    expect(slowDone).toBe(false); // it was in flight in the old worker during the reload

    await waitFor('200 requests', async () => total >= 200 && total - atReload >= 80, 60_000);
    stop = true;
    await Promise.all(loops);
    expect(await slow).toEqual({ status: 200, body: 'backend b1 slow' });
    expect(failures).toEqual([]);
    expect(total).toBeGreaterThanOrEqual(200);
    // The old worker exits once its in-flight requests are done.
    await waitFor('old worker to exit', async () => !childPids(masterPid).some((w) => oldWorkers.includes(w)));
    expect(await readMasterPid(inst.prefix)).toBe(masterPid);
  });

  it('serves the new routes after the reload, exactly as route() says', async () => {
    const t = buildRoutingTable(V2);
    expect(await outcome('app4.test', '/x')).toBe('b2');
    expect(await outcome('other.test', '/')).toBe('b3'); // the new default backend
    const mismatches: string[] = [];
    for (const host of HOSTS) {
      for (const p of PATHS) {
        const [got, want] = [await outcome(host, p), expectedOutcome(t, host, p)];
        if (got !== want) mismatches.push(`${host} ${p}: nginx ${got}, route() ${want}`);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('refuses a config that fails nginx -t, and the last good one keeps serving', async () => {
    const good = readFileSync(inst.configPath, 'utf8');
    const workers = childPids(masterPid);
    const bad = good.replace('proxy_buffering off;', 'proxy_buffering sometimes;');
    expect(bad).not.toBe(good);
    const r = await applyNginxConfig(bad, inst, { masterPid });
    expect(r.changed).toBe(false);
    expect(r.reloadedPid).toBeNull();
    expect(r.error).toMatch(/proxy_buffering/);
    expect(readFileSync(inst.configPath, 'utf8')).toBe(good);
    expect(childPids(masterPid)).toEqual(workers);
    expect(await outcome('app4.test', '/')).toBe('b2');
    // No temp files left next to the config.
    expect((await run(['ls', '-a', path.dirname(inst.configPath)])).stdout).not.toMatch(/\.tmp$/m);
    // The same config again is a no-op: no SIGHUP.
    expect(await applyNginxConfig(good, inst, { masterPid })).toEqual({ changed: false, reloadedPid: null, newWorkers: [], error: null });
  });

  it('writes one access log line per request, naming backend and upstream', async () => {
    await outcome('app1.test', '/foo/exact');
    await outcome('nothing.test', '/nope'); // default backend app3 since V2
    // nginx logs a request after answering it: give the last line a moment to land.
    const readLines = (): string[] => readFileSync(opts.accessLogPath, 'utf8').trimEnd().split('\n');
    await waitFor('access log lines', async () => readLines().length >= httpAnswers, 2000).catch(() => undefined);
    const lines = readLines();
    const entries = lines.map(parseAccessLogLine);
    expect(entries.filter((e) => e === null)).toEqual([]);
    expect(entries.length).toBe(httpAnswers);
    expect(entries).toContainEqual(
      expect.objectContaining({ host: 'app1.test', request: 'GET /foo/exact HTTP/1.1', status: 404, backend: 'default/app3:80', upstream: '127.0.0.1:18083', upstreamStatus: '404' }),
    );
    expect(entries).toContainEqual(expect.objectContaining({ host: 'app4.test', request: 'GET /x HTTP/1.1', backend: 'default/app2:8080', upstream: '127.0.0.1:18082' }));
    // Before the reload nothing matched other.test: nginx answered itself, no upstream.
    expect(entries).toContainEqual(expect.objectContaining({ host: 'other.test', request: 'GET / HTTP/1.1', status: 404, backend: '-', upstream: '-', upstreamStatus: '-' }));
    expect(entries.at(-1)).toMatchObject({ host: 'nothing.test', backend: 'default/app3:80', upstream: '127.0.0.1:18083' });
    expect(readFileSync(opts.errorLogPath, 'utf8')).toMatch(/signal 1 \(SIGHUP\) received/);
  });
});
