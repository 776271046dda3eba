// The ingress controller on the API (src/ingress/ingress-controller.ts) driving a real nginx: the
// API objects live in an in-process API server; nginx runs in a network namespace of this test, in
// a PID namespace of its own as in a container (its pid file says 1), with two busybox httpd
// "pods" on addresses of that namespace. With service-upstream "false" nginx sends to the ready
// endpoints of the EndpointSlice; an endpoint change reloads nginx (found from its pid file) with a
// RELOAD event on the pod, and a configuration nginx refuses leaves a Warning while the last good
// one keeps serving.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrap } from '../../src/api/server/bootstrap.ts';
import { Registry } from '../../src/api/server/registry.ts';
import { KineStore } from '../../src/api/storage/kine.ts';
import { InformerFactory } from '../../src/client/controller.ts';
import { LocalClient } from '../../src/client/local.ts';
import type { KubeObject } from '../../src/client/types.ts';
import { accessLogPath, ingressInstance } from '../../src/ingress/controller.ts';
import { IngressController, INGRESSES } from '../../src/ingress/ingress-controller.ts';
import { nginxArgv } from '../../src/ingress/reload.ts';
import { inNetns, run } from '../../src/sys/exec.ts';
import { procNamespacePid } from '../../src/sys/proc.ts';

function missing(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (creates a network namespace)';
  for (const tool of ['nginx', 'busybox', 'curl', 'ip', 'unshare']) {
    if (!['/usr/sbin', '/usr/bin', '/sbin', '/bin'].some((d) => existsSync(path.join(d, tool)))) return `${tool} is not installed`;
  }
  return null;
}
const skip = missing();
if (skip) console.warn(`skipping test/e2e/ingress-controller.test.ts: ${skip}`);

type Ev = KubeObject & { reason?: string; message?: string; type?: string; involvedObject?: { kind?: string; name?: string } };

describe.skipIf(skip !== null)(`ingress controller on the API with a real nginx${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const ns = `pplt-ingc-${randomBytes(4).toString('hex')}`;
  const POD = { b1: '10.99.0.1', b2: '10.99.0.2' } as const;
  let dir = '';
  let stateDir = '';
  const children: ChildProcess[] = [];
  let nginxStderr = '';
  const reg = new Registry(new KineStore(':memory:'));
  const client = new LocalClient(reg);
  const factory = new InformerFactory((r, sel) => client.listWatch(r, sel));
  let ctl: IngressController;
  const logs: string[] = [];

  function start(argv: string[]): ChildProcess {
    const [file, ...args] = inNetns(ns, argv) as [string, ...string[]];
    const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.on('data', (d: Buffer) => void (nginxStderr += d.toString()));
    children.push(child);
    return child;
  }

  async function get(host: string): Promise<string> {
    const r = await run(['curl', '-s', '--max-time', '5', '-w', '\\n%{http_code}', '-H', `Host: ${host}`, 'http://127.0.0.1:80/'], { netns: ns, allowFail: true });
    return /backend (b\d)/.exec(r.stdout)?.[1] ?? r.stdout.slice(r.stdout.lastIndexOf('\n') + 1);
  }

  async function waitFor<T>(what: string, fn: () => Promise<T | null | false>, ms = 10_000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = await fn();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\nnginx stderr:\n${nginxStderr}\ncontroller log:\n${logs.join('\n')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  const events = async (): Promise<Ev[]> => (await client.list<Ev>({ group: '', resource: 'events' })).items;
  const slice = (ready: Record<keyof typeof POD, boolean>) => ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'app-x7k2p', namespace: 'default', labels: { 'kubernetes.io/service-name': 'app' } },
    addressType: 'IPv4',
    endpoints: (Object.keys(POD) as (keyof typeof POD)[]).map((id) => ({ addresses: [POD[id]], conditions: { ready: ready[id] } })),
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  });

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'pplt-ingc-'));
    chmodSync(dir, 0o755); // nginx workers run as nobody
    stateDir = path.join(dir, 'state');
    await run(['ip', 'netns', 'add', ns]);
    await run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    for (const [id, ip] of Object.entries(POD)) {
      await run(['ip', '-n', ns, 'addr', 'add', `${ip}/32`, 'dev', 'lo']);
      const home = path.join(dir, id);
      mkdirSync(home, { recursive: true });
      writeFileSync(path.join(home, 'index.html'), `backend ${id}\n`);
      start(['busybox', 'httpd', '-f', '-p', `${ip}:8080`, '-h', home]);
    }

    bootstrap(reg, { clusterIP: '10.43.0.1', endpointIP: '192.168.56.110', port: 6443 });
    const create = (group: string, resource: string, o: object) => client.create({ group, resource }, o as KubeObject);
    await create('networking.k8s.io', 'ingressclasses', { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'nginx', annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } }, spec: { controller: 'k8s.io/ingress-nginx' } });
    await create('', 'configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ingress-nginx-controller', namespace: 'kube-system' }, data: { 'service-upstream': 'false' } });
    await create('', 'services', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'app', namespace: 'default' }, spec: { type: 'ClusterIP', clusterIP: '10.43.0.50', selector: { app: 'app' }, ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] } });
    await create('discovery.k8s.io', 'endpointslices', slice({ b1: true, b2: false }));
    await create('networking.k8s.io', 'ingresses', { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'app', namespace: 'default' }, spec: { rules: [{ host: 'app.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'app', port: { number: 80 } } } }] } }] } });
    ctl = new IngressController(factory, client, { stateDir, config: { clusterDNS: '10.43.0.10', clusterDomain: 'cluster.local', nodeIP: '192.168.56.110' }, podNetns: () => ns, log: (l) => logs.push(l) });
    factory.start();
  });

  afterAll(async () => {
    await ctl?.stop();
    factory.stop();
    // Every process here was started by this test, in its own namespace: stop them by pid.
    for (const c of children) if (c.exitCode === null && c.signalCode === null && c.pid) process.kill(c.pid, 'SIGTERM');
    if (existsSync(`/run/netns/${ns}`)) {
      const { stdout } = await run(['ip', 'netns', 'pids', ns], { allowFail: true });
      for (const pid of stdout.split(/\s+/).filter(Boolean).map(Number)) process.kill(pid, 'SIGKILL');
      await run(['ip', 'netns', 'del', ns], { allowFail: true });
    }
    await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : null)));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('writes the config before nginx runs; nginx started on it sends to the ready endpoint', async () => {
    await ctl.request();
    expect(ctl.last?.masterPid).toBeNull();
    expect(ctl.last?.text).toContain(`server ${POD.b1}:8080;`);
    expect(ctl.last?.text).not.toContain(POD.b2);
    // As in a container: a PID namespace of its own, so nginx's pid file says 1.
    start(['unshare', '--pid', '--fork', '--kill-child', ...nginxArgv(ingressInstance(stateDir, ns))]);
    await waitFor('nginx serving app.test from b1', async () => (await get('app.test')) === 'b1');
  });

  it('reloads the nginx of the ingress pod, found from its pid file, when the endpoints change', async () => {
    const pod = await client.create({ group: '', resource: 'pods' }, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'ingress-nginx-controller-6d4cbd9b7c-q8x2z', namespace: 'kube-system', labels: { 'app.kubernetes.io/name': 'ingress-nginx' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'ingress-nginx-controller-6d4cbd9b7c', uid: 'f2b7a8c4-1111-4222-8333-944455556666', controller: true }] },
      spec: { nodeName: 'labs', containers: [{ name: 'controller', image: 'packet-path-lab/ingress-nginx' }] },
    } as KubeObject);
    await client.mutate({ group: '', resource: 'pods' }, 'kube-system', pod.metadata.name, (p: KubeObject & { status?: object }) => ({ ...p, status: { phase: 'Running', hostIP: '192.168.56.110', podIP: '10.42.0.9' } }), { subresource: 'status' });
    await client.mutate({ group: 'discovery.k8s.io', resource: 'endpointslices' }, 'default', 'app-x7k2p', (s: KubeObject) => ({ ...s, ...slice({ b1: false, b2: true }) }));
    await waitFor('nginx serving app.test from b2', async () => (await get('app.test')) === 'b2');
    await waitFor('the reload recorded', async () => ctl.last?.masterPid);
    // The master in the host's PID namespace is not 1: its own namespace calls it 1.
    expect(ctl.last!.masterPid).not.toBe(1);
    expect(procNamespacePid(ctl.last!.masterPid!)).toBe(1);
    const reload = await waitFor('a RELOAD event', async () => (await events()).find((e) => e.reason === 'RELOAD'));
    expect(reload).toMatchObject({ type: 'Normal', message: 'NGINX reload triggered due to a change in configuration', involvedObject: { kind: 'Pod', name: pod.metadata.name } });
    // The address published: the pod's node (no LoadBalancer Service in this API).
    const ing = (await client.get(INGRESSES, 'default', 'app')) as KubeObject & { status?: { loadBalancer?: { ingress?: { ip: string }[] } } };
    expect(ing.status?.loadBalancer?.ingress).toEqual([{ ip: '192.168.56.110' }]);
  });

  it('a configuration nginx refuses leaves a Warning RELOAD, and the last good one keeps serving', async () => {
    // `nginx -t` cannot open the access log once it is a directory; the running nginx keeps its file.
    rmSync(accessLogPath(stateDir));
    mkdirSync(accessLogPath(stateDir));
    await client.mutate({ group: 'discovery.k8s.io', resource: 'endpointslices' }, 'default', 'app-x7k2p', (s: KubeObject) => ({ ...s, ...slice({ b1: true, b2: false }) }));
    const warning = await waitFor('a Warning RELOAD', async () => (await events()).find((e) => e.reason === 'RELOAD' && e.type === 'Warning'));
    expect(warning!.message).toMatch(/^Error reloading NGINX: .*access\.log/);
    expect(await get('app.test')).toBe('b2');
    rmSync(accessLogPath(stateDir), { recursive: true });
  });
});
