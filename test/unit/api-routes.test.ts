// The API server's resource routes against real kubectl (v1.32): a server from startApiServer
// (a kine store and a PKI in a temporary directory, HTTPS on 127.0.0.1 at a free port), kubectl with
// the server's kubeconfig and its own cache directory. Discovery, OpenAPI-backed strict
// validation, apply/get/list/watch/delete/label/annotate/scale, Tables, kube's errors. PATCH goes
// through an injected JSON merge patch (the one kubectl label/annotate/scale send): the full
// patch.ts is wired in by the lead. Nothing outside the temporary directory and one socket on
// 127.0.0.1 is touched; both go, and every kubectl started here is stopped, even on failure.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultObject, imageTag } from '../../src/api/server/defaults.ts';
import { startApiServer, type RunningApiServer } from '../../src/api/server/index.ts';
import type { KubeObject } from '../../src/api/server/object.ts';
import { resourceFor, storagePrefix, type ResourceInfo } from '../../src/api/server/resources.ts';
import { typedDecode } from '../../src/api/server/typed-decode.ts';
import { run } from '../../src/sys/exec.ts';

const R = (group: string, plural: string): ResourceInfo => resourceFor(group, plural)!;
const PODS = R('', 'pods');
const CONFIGMAPS = R('', 'configmaps');
type Json = Record<string, unknown>;
const DEPLOYMENTS = R('apps', 'deployments');


const tmp = mkdtempSync(path.join(tmpdir(), 'lab-api-routes-'));
const cacheDir = path.join(tmp, 'kube-cache');
let api: RunningApiServer;
let kubeconfig: string;
const children = new Set<ChildProcess>();
const savedCacheEnv = process.env.KUBECACHEDIR;

beforeAll(async () => {
  // The dispatcher (/usr/bin/kubectl) keeps its /version answer in the HTTP cache: a private one.
  process.env.KUBECACHEDIR = cacheDir;
  api = await startApiServer({ storeFile: path.join(tmp, 'server', 'db', 'state.db'), pkiDir: path.join(tmp, 'server') });
  kubeconfig = path.join(tmp, 'kubeconfig.yaml');
  writeFileSync(kubeconfig, api.kubeconfig(), { mode: 0o600 });
});

afterEach(() => {
  for (const c of children) c.kill('SIGKILL');
  children.clear();
});

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await api?.close();
  rmSync(tmp, { recursive: true, force: true });
  if (savedCacheEnv === undefined) delete process.env.KUBECACHEDIR;
  else process.env.KUBECACHEDIR = savedCacheEnv;
});

async function kubectl(...args: string[]) {
  const r = await run(['kubectl', '--kubeconfig', kubeconfig, '--cache-dir', cacheDir, ...args], { allowFail: true, timeoutMs: 30_000 });
  return { ...r, out: r.stdout.trim(), err: r.stderr.trim() };
}

async function kubectlOk(...args: string[]): Promise<string> {
  const r = await kubectl(...args);
  expect(r.exitCode, `kubectl ${args.join(' ')}: ${r.err}`).toBe(0);
  return r.out;
}

function manifest(name: string, text: string): string {
  const file = path.join(tmp, name);
  writeFileSync(file, text);
  return file;
}

/** A kubectl that keeps running (get -w): its output so far, and a way to wait for a line. */
function kubectlBackground(...args: string[]) {
  const child = spawn('kubectl', ['--kubeconfig', kubeconfig, '--cache-dir', cacheDir, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KUBECACHEDIR: cacheDir } });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    get out() {
      return out;
    },
    get err() {
      return err;
    },
    exited,
    async waitFor(test: (out: string) => boolean, what: string, ms = 10_000): Promise<void> {
      const until = Date.now() + ms;
      while (!test(out)) {
        if (Date.now() > until) throw new Error(`timed out waiting for ${what}; output so far:\n${out}\n${err}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    stop() {
      child.kill('SIGTERM');
      children.delete(child);
    },
  };
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A request without kubectl, as the admin (token). */
function call(p: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`${api.url}${p}`, { method: opts.method ?? 'GET', headers: { Authorization: `Bearer ${api.pki.token}`, ...opts.headers }, ca: api.pki.serverCaCert, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    // Node sends a DELETE's body without framing unless told its length.
    if (opts.body !== undefined) req.setHeader('Content-Length', Buffer.byteLength(opts.body));
    req.end(opts.body);
  });
}
const jsonBody = (body: unknown) => ({ headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

/** The keys the store holds under a resource's prefix (what `sqlite3 state.db` would show live). */
const storedNames = (r: ResourceInfo, ns?: string) => api.store.list(storagePrefix(r, ns)).kvs.map((kv) => kv.key);

const pod = (name: string, labels: Record<string, string>, extra: Json = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, labels },
  spec: { containers: [{ name: 'httpd', image: 'busybox:1.36' }], ...extra },
});

describe('discovery', () => {
  it('kubectl api-resources lists the 13 kinds with their short names, scope and group', async () => {
    const out = await kubectlOk('api-resources');
    const rows = out.split('\n').slice(1).map((l) => l.trim().split(/\s+/));
    const byName = new Map(rows.map((r) => [r[0], r]));
    expect(byName.size).toBe(13);
    expect(byName.get('pods')).toEqual(['pods', 'po', 'v1', 'true', 'Pod']);
    expect(byName.get('nodes')).toEqual(['nodes', 'no', 'v1', 'false', 'Node']);
    expect(byName.get('deployments')).toEqual(['deployments', 'deploy', 'apps/v1', 'true', 'Deployment']);
    expect(byName.get('ingresses')).toEqual(['ingresses', 'ing', 'networking.k8s.io/v1', 'true', 'Ingress']);
    expect(byName.get('endpointslices')).toEqual(['endpointslices', 'discovery.k8s.io/v1', 'true', 'EndpointSlice']);
    expect(byName.get('leases')).toEqual(['leases', 'coordination.k8s.io/v1', 'true', 'Lease']);
    for (const [name, short] of [['namespaces', 'ns'], ['services', 'svc'], ['endpoints', 'ep'], ['configmaps', 'cm'], ['events', 'ev'], ['replicasets', 'rs']]) expect(byName.get(name)?.[1], name).toBe(short);
    const wide = await kubectlOk('api-resources', '-o', 'wide', '--api-group=apps');
    expect(wide).toMatch(/deployments\s+deploy\s+apps\/v1\s+true\s+Deployment\s+create,delete,deletecollection,get,list,patch,update,watch\s+all/);
  });

  it('legacy documents: APIResourceList with subresources as entries, APIGroupList, APIVersions', async () => {
    const v1 = JSON.parse(await kubectlOk('get', '--raw', '/api/v1'));
    expect(v1).toMatchObject({ kind: 'APIResourceList', groupVersion: 'v1' });
    expect(v1.apiVersion).toBeUndefined();
    const names = v1.resources.map((r: { name: string }) => r.name);
    expect(names).toEqual([...names].sort());
    expect(names).toEqual(expect.arrayContaining(['pods', 'pods/binding', 'pods/status', 'namespaces/finalize', 'nodes/status']));
    expect(v1.resources.find((r: { name: string }) => r.name === 'pods')).toEqual({
      name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod',
      verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'], shortNames: ['po'], categories: ['all'], storageVersionHash: 'xPOwRZ+Yhw8=',
    });
    const apps = JSON.parse(await kubectlOk('get', '--raw', '/apis/apps/v1'));
    expect(apps.resources.find((r: { name: string }) => r.name === 'deployments/scale')).toEqual({ name: 'deployments/scale', singularName: '', namespaced: true, group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: ['get', 'patch', 'update'] });
    const groups = JSON.parse(await kubectlOk('get', '--raw', '/apis'));
    expect(groups.groups.map((g: { name: string }) => g.name)).toEqual(['apps', 'networking.k8s.io', 'coordination.k8s.io', 'discovery.k8s.io']);
    expect(JSON.parse(await kubectlOk('get', '--raw', '/api'))).toEqual({ kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: api.url.slice('https://'.length) }] });
    expect(JSON.parse(await kubectlOk('get', '--raw', '/apis/networking.k8s.io'))).toMatchObject({ kind: 'APIGroup', name: 'networking.k8s.io', preferredVersion: { groupVersion: 'networking.k8s.io/v1', version: 'v1' } });
  });

  it('aggregated discovery when asked, with the exact Content-Type kubectl needs', async () => {
    const r = await call('/apis', { headers: { Accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json' } });
    expect(r.headers['content-type']).toBe('application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList');
    const doc = JSON.parse(r.body);
    expect(doc).toMatchObject({ kind: 'APIGroupDiscoveryList', apiVersion: 'apidiscovery.k8s.io/v2' });
    const deployments = doc.items[0].versions[0].resources.find((x: { resource: string }) => x.resource === 'deployments');
    expect(deployments).toMatchObject({ scope: 'Namespaced', singularResource: 'deployment', shortNames: ['deploy'], categories: ['all'] });
    expect(deployments.subresources).toEqual([
      { subresource: 'scale', responseKind: { group: 'autoscaling', version: 'v1', kind: 'Scale' }, verbs: ['get', 'patch', 'update'] },
      { subresource: 'status', responseKind: { group: 'apps', version: 'v1', kind: 'Deployment' }, verbs: ['get', 'patch', 'update'] },
    ]);
    const core = JSON.parse((await call('/api', { headers: { Accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList' } })).body);
    expect(core.items.map((i: { metadata: { name: string } }) => i.metadata.name)).toEqual(['']);
    // Plain JSON still gets the legacy document.
    expect(JSON.parse((await call('/apis', { headers: { Accept: 'application/json' } })).body).kind).toBe('APIGroupList');
  });

  it('OpenAPI v3: an index of hashed documents, each with a patch operation per kind taking fieldValidation', async () => {
    const index = JSON.parse(await kubectlOk('get', '--raw', '/openapi/v3'));
    const url: string = index.paths['apis/apps/v1'].serverRelativeURL;
    expect(url).toMatch(/^\/openapi\/v3\/apis\/apps\/v1\?hash=[0-9A-F]{128}$/);
    const doc = JSON.parse(await kubectlOk('get', '--raw', url));
    const patch = doc.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}'].patch;
    expect(patch['x-kubernetes-group-version-kind']).toEqual({ group: 'apps', version: 'v1', kind: 'Deployment' });
    expect(patch.parameters).toContainEqual({ name: 'fieldValidation', in: 'query', schema: { type: 'string', uniqueItems: true } });
    expect(Object.keys(patch.requestBody.content)).not.toContain('application/strategic-merge-patch+json');
    const stale = await call('/openapi/v3/apis/apps/v1?hash=0');
    expect([stale.status, stale.headers.location]).toEqual([301, url]);
  });
});

const APP = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: httpd
        image: busybox:1.36
        ports: [{containerPort: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web-config}
data: {greeting: hello}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  rules:
  - host: web.example
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
`;

describe('kubectl apply, get, list', () => {
  it('apply -f creates a Deployment, Service, ConfigMap and Ingress; get -o json shows metadata and defaults; a second apply changes nothing', async () => {
    const file = manifest('app.yaml', APP);
    expect(await kubectlOk('apply', '-f', file)).toBe('deployment.apps/web created\nservice/web created\nconfigmap/web-config created\ningress.networking.k8s.io/web created');
    const d = JSON.parse(await kubectlOk('get', 'deploy', 'web', '-o', 'json'));
    expect(d.metadata).toMatchObject({ name: 'web', namespace: 'default', generation: 1, uid: expect.stringMatching(/^[0-9a-f-]{36}$/), resourceVersion: expect.stringMatching(/^\d+$/), creationTimestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/) });
    expect(d.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']).toContain('"name":"web"');
    expect(d.spec).toMatchObject({ replicas: 2, revisionHistoryLimit: 10, progressDeadlineSeconds: 600, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } } });
    expect(d.spec.template.spec).toMatchObject({ restartPolicy: 'Always', dnsPolicy: 'ClusterFirst', terminationGracePeriodSeconds: 30, schedulerName: 'default-scheduler', securityContext: {} });
    expect(d.spec.template.spec.containers[0]).toEqual({
      name: 'httpd', image: 'busybox:1.36', ports: [{ containerPort: 80, protocol: 'TCP' }], imagePullPolicy: 'IfNotPresent',
      terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File',
    });
    const svc = JSON.parse(await kubectlOk('get', 'svc', 'web', '-o', 'json'));
    expect(svc.spec).toMatchObject({ type: 'ClusterIP', sessionAffinity: 'None', internalTrafficPolicy: 'Cluster', ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }] });
    expect(JSON.parse(await kubectlOk('get', 'cm', 'web-config', '-o', 'json')).data).toEqual({ greeting: 'hello' });
    const ing = JSON.parse(await kubectlOk('get', 'ingress', 'web', '-o', 'json'));
    expect(ing.spec.rules[0].host).toBe('web.example');
    expect(ing.metadata.generation).toBe(1);
    expect(await kubectlOk('apply', '-f', file)).toBe('deployment.apps/web unchanged\nservice/web unchanged\nconfigmap/web-config unchanged\ningress.networking.k8s.io/web unchanged');
  });

  it('strategic merge patches: apply of a changed file, rollout restart, cordon and uncordon', async () => {
    const file = manifest('smp.yaml', APP.replace(/name: web\b/g, 'name: smp').replace('replicas: 2', 'replicas: 1'));
    await kubectlOk('apply', '-f', file);
    // kubectl computes a three-way strategic merge patch from its last-applied annotation
    await kubectlOk('scale', 'deploy', 'smp', '--replicas=4');
    writeFileSync(file, readFileSync(file, 'utf8').replace('image: busybox:1.36', 'image: busybox:1.37'));
    expect(await kubectlOk('apply', '-f', file)).toContain('deployment.apps/smp configured');
    const d = JSON.parse(await kubectlOk('get', 'deploy', 'smp', '-o', 'json'));
    expect(d.spec.template.spec.containers.map((c: { name: string; image: string }) => `${c.name}=${c.image}`)).toEqual(['httpd=busybox:1.37']);
    expect(d.spec.replicas).toBe(1); // the file names replicas: apply sets it back, as kubectl apply does
    expect(d.metadata.generation).toBe(3);
    expect(await kubectlOk('rollout', 'restart', 'deploy/smp')).toBe('deployment.apps/smp restarted');
    const restarted = JSON.parse(await kubectlOk('get', 'deploy', 'smp', '-o', 'json'));
    expect(restarted.spec.template.metadata.annotations['kubectl.kubernetes.io/restartedAt']).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(restarted.spec.template.spec.containers[0].image).toBe('busybox:1.37');
    await kubectlOk('apply', '-f', manifest('node.yaml', 'apiVersion: v1\nkind: Node\nmetadata:\n  name: labs\n'));
    expect(await kubectlOk('cordon', 'labs')).toBe('node/labs cordoned');
    expect(JSON.parse(await kubectlOk('get', 'node', 'labs', '-o', 'json')).spec.unschedulable).toBe(true);
    expect(await kubectlOk('uncordon', 'labs')).toBe('node/labs uncordoned');
    expect(JSON.parse(await kubectlOk('get', 'node', 'labs', '-o', 'json')).spec.unschedulable).toBeUndefined();
    // the tests after this one count what the server holds
    await kubectlOk('delete', '-f', file, '--wait=false');
    await kubectlOk('delete', 'node', 'labs', '--wait=false');
  });

  it('get -A -o name, -l, --field-selector, -o jsonpath, and Tables (the pod printer\'s columns)', async () => {
    api.registry.create(PODS, 'default', pod('web-1', { app: 'web' }));
    api.registry.create(PODS, 'default', pod('web-2', { app: 'web' }));
    api.registry.create(PODS, 'kube-system', pod('dns-1', { app: 'dns' }));
    expect((await kubectlOk('get', 'pods,svc', '-A', '-o', 'name')).split('\n')).toEqual(['pod/web-1', 'pod/web-2', 'pod/dns-1', 'service/web']);
    expect(await kubectlOk('get', 'pods', '-l', 'app=web', '-o', 'name')).toBe('pod/web-1\npod/web-2');
    // The category `all`, expanded in discovery order.
    expect(await kubectlOk('get', 'all', '-o', 'name')).toBe('pod/web-1\npod/web-2\nservice/web\ndeployment.apps/web');
    expect(await kubectlOk('get', 'pods', '-A', '-l', 'app in (dns)', '-o', 'name')).toBe('pod/dns-1');
    expect(await kubectlOk('get', 'pods', '--field-selector', 'metadata.name=web-2', '-o', 'name')).toBe('pod/web-2');
    expect(await kubectlOk('get', 'pods', '-A', '--field-selector', 'metadata.namespace!=default', '-o', 'jsonpath={.items[*].metadata.name}')).toBe('dns-1');
    expect(await kubectlOk('get', 'pod', 'web-1', '-o', 'jsonpath={.spec.containers[0].imagePullPolicy} {.status.phase} {.spec.tolerations[0].key}')).toBe('IfNotPresent Pending node.kubernetes.io/not-ready');
    const bad = await kubectl('get', 'pods', '--field-selector', 'spec.foo=x');
    expect(bad.err).toBe('Error from server (BadRequest): Unable to find "/v1, Resource=pods" that match label selector "", field selector "spec.foo=x": field label not supported: spec.foo');
    const table = (await kubectlOk('get', 'pods', '-A')).split('\n');
    expect(table[0]).toMatch(/^NAMESPACE\s+NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/);
    expect(table.slice(1).map((l) => l.split(/\s+/).slice(0, 2))).toEqual([['default', 'web-1'], ['default', 'web-2'], ['kube-system', 'dns-1']]);
    expect(await kubectlOk('get', '--raw', '/api/v1/namespaces/default/pods')).toMatch(/^\{"kind":"PodList","apiVersion":"v1","metadata":\{"resourceVersion":"\d+"\},"items":\[\{"metadata":\{"name":"web-1"/);
  });

  it('a list in pages: limit and continue, as kubectl --chunk-size follows them', async () => {
    expect(await kubectlOk('get', 'pods', '-A', '--chunk-size=1', '-o', 'name')).toBe('pod/web-1\npod/web-2\npod/dns-1');
    const first = JSON.parse((await call('/api/v1/pods?limit=2')).body);
    expect(first.items).toHaveLength(2);
    expect(first.metadata).toMatchObject({ continue: expect.any(String), remainingItemCount: 1 });
    const next = JSON.parse((await call(`/api/v1/pods?limit=2&continue=${first.metadata.continue}`)).body);
    expect(next.items.map((p: KubeObject) => p.metadata.name)).toEqual(['dns-1']);
  });
});

describe('kubectl get -w', () => {
  it('receives a change made meanwhile through the registry, in its Table form, and stops when stopped', async () => {
    const watch = kubectlBackground('get', 'pods', '-w');
    await watch.waitFor((o) => /web-2/.test(o), 'the initial list');
    api.registry.create(PODS, 'default', pod('web-3', { app: 'web' }));
    await watch.waitFor((o) => /web-3/.test(o), 'the new pod');
    const current = api.registry.get(PODS, 'default', 'web-1');
    api.registry.update(PODS, 'default', 'web-1', { ...current, metadata: { ...current.metadata, labels: { app: 'web', tier: 'front' } } });
    await watch.waitFor((o) => o.split('\n').filter((l) => l.startsWith('web-1')).length === 2, 'the update');
    expect(watch.out.split('\n')[0]).toMatch(/^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/);
    watch.stop();
    await watch.exited;
  });

  it('-o json -w prints the objects; a named watch gets the object itself first (resourceVersion=0)', async () => {
    const watch = kubectlBackground('get', 'pod', 'web-3', '-w', '-o', 'jsonpath={.metadata.name}:{.metadata.labels.tier}{"\\n"}');
    await watch.waitFor((o) => o.includes('web-3:\n'), 'the pod');
    const current = api.registry.get(PODS, 'default', 'web-3');
    api.registry.update(PODS, 'default', 'web-3', { ...current, metadata: { ...current.metadata, labels: { tier: 'back' } } });
    await watch.waitFor((o) => o.includes('web-3:back\n'), 'the update');
    expect(watch.out).toBe('web-3:\nweb-3:back\n');
    watch.stop();
    await watch.exited;
  });

  it('a raw watch: one JSON event per line, ADDED for what exists (resourceVersion=0), then changes; Table events carry columns once', async () => {
    const events: { type: string; object: Json }[] = [];
    const req = httpsRequest(`${api.url}/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=0&timeoutSeconds=2`, {
      headers: { Authorization: `Bearer ${api.pki.token}`, Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' },
      ca: api.pki.serverCaCert,
      agent: false,
    });
    const ended = new Promise<void>((resolve, reject) => {
      req.on('response', (res) => {
        let buf = '';
        res.on('data', (c: Buffer) => {
          buf += c.toString();
          const lines = buf.split('\n');
          buf = lines.pop()!;
          for (const l of lines) events.push(JSON.parse(l));
        });
        res.on('end', () => resolve());
      });
      req.on('error', reject);
    });
    req.end();
    while (events.length < 1) await new Promise((r) => setTimeout(r, 10));
    api.registry.create(CONFIGMAPS, 'default', { metadata: { name: 'watched' }, data: { a: '1' } });
    await ended; // timeoutSeconds=2 ends it
    expect(events.map((e) => [e.type, (e.object.rows as { cells: unknown[] }[])[0]!.cells[0]])).toEqual([['ADDED', 'web-config'], ['ADDED', 'watched']]);
    expect(events[0]!.object).toMatchObject({ kind: 'Table', apiVersion: 'meta.k8s.io/v1', columnDefinitions: [{ name: 'Name' }, { name: 'Data' }, { name: 'Age' }] });
    expect(events[1]!.object.columnDefinitions).toBeUndefined();
    expect((events[1]!.object.rows as { object: Json }[])[0]!.object).toMatchObject({ kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: { name: 'watched' } });
  });

  it('the deprecated /watch/ path, named: that object alone, then the stream ends at timeoutSeconds', async () => {
    const r = await call('/api/v1/watch/namespaces/default/configmaps/web-config?timeoutSeconds=1');
    const events = r.body.trim().split('\n').map((l) => JSON.parse(l));
    expect(events.map((e) => [e.type, e.object.kind, e.object.metadata.name])).toEqual([['ADDED', 'ConfigMap', 'web-config']]);
  });

  it('a garbage resourceVersion: 400 with kube\'s message (kube-apiserver itself answers 500 here)', async () => {
    const r = await kubectl('get', '--raw', '/api/v1/namespaces/default/pods?watch=true&resourceVersion=abc');
    expect(r.exitCode).toBe(1);
    expect(r.err).toBe('Error from server (BadRequest): invalid resource version: resourceVersion: Invalid value: "abc": strconv.ParseUint: parsing "abc": invalid syntax');
    const list = await call('/api/v1/pods?resourceVersion=-1');
    expect([list.status, JSON.parse(list.body).reason]).toEqual([400, 'BadRequest']);
    const tooNew = await call('/api/v1/pods?resourceVersion=999999&resourceVersionMatch=NotOlderThan');
    expect(JSON.parse(tooNew.body)).toMatchObject({ code: 504, reason: 'Timeout' });
  });
});

describe('kubectl writes', () => {
  it('label and annotate (merge patches), including a removal', async () => {
    expect(await kubectlOk('label', 'cm', 'web-config', 'tier=front')).toBe('configmap/web-config labeled');
    expect(await kubectlOk('annotate', 'deploy', 'web', 'note=hi')).toBe('deployment.apps/web annotated');
    expect(await kubectlOk('get', 'cm', 'web-config', '-o', 'jsonpath={.metadata.labels.tier}')).toBe('front');
    const d = api.registry.get(DEPLOYMENTS, 'default', 'web');
    expect(d.metadata.annotations?.note).toBe('hi');
    expect(d.metadata.generation).toBe(2); // a Deployment's annotations count as its spec (they go to its ReplicaSets)
    expect(await kubectlOk('label', 'cm', 'web-config', 'tier-')).toBe('configmap/web-config unlabeled');
    expect(api.registry.get(CONFIGMAPS, 'default', 'web-config').metadata.labels).toBeUndefined();
    const missing = await kubectl('label', 'cm', 'nope', 'a=b');
    expect(missing.err).toBe('Error from server (NotFound): configmaps "nope" not found');
  });

  it('scale through the scale subresource bumps spec.replicas and generation', async () => {
    expect(await kubectlOk('scale', 'deploy', 'web', '--replicas=5')).toBe('deployment.apps/web scaled');
    const d = api.registry.get(DEPLOYMENTS, 'default', 'web');
    expect([d.spec?.replicas, d.metadata.generation]).toEqual([5, 3]);
    const scale = JSON.parse(await kubectlOk('get', '--raw', '/apis/apps/v1/namespaces/default/deployments/web/scale'));
    expect(scale).toMatchObject({ kind: 'Scale', apiVersion: 'autoscaling/v1', spec: { replicas: 5 }, status: { replicas: 0, selector: 'app=web' } });
    const negative = await kubectl('scale', 'deploy', 'web', '--replicas=-1');
    expect(negative.exitCode).toBe(1);
  });

  it('an unknown field: 400 with kube\'s strict decoding error and nothing stored; --validate=false drops it', async () => {
    const file = manifest('typo.yaml', 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: typo}\nspec:\n  replica: 2\n  selector: {matchLabels: {app: t}}\n  template:\n    metadata: {labels: {app: t}}\n    spec:\n      containers: [{name: c, imagee: busybox}]\n');
    const r = await kubectl('apply', '-f', file);
    expect(r.err).toBe(`Error from server (BadRequest): error when creating "${file}": Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.replica", unknown field "spec.template.spec.containers[0].imagee"`);
    expect(storedNames(DEPLOYMENTS, 'default')).toEqual(['/registry/deployments/default/web']);
    expect(await kubectlOk('create', '--validate=false', '-f', file)).toBe('deployment.apps/typo created');
    const spec = api.registry.get(DEPLOYMENTS, 'default', 'typo').spec!;
    expect([spec.replica, spec.replicas, (spec.template as { spec: { containers: Json[] } }).spec.containers[0]!.imagee]).toEqual([undefined, 1, undefined]);
    // kubectl itself refuses a wrong type in a file; a raw request gets the server's answer.
    const wrongType = await call('/api/v1/namespaces/default/configmaps', { method: 'POST', ...jsonBody({ metadata: { name: 't', labels: { a: 1 } } }) });
    expect(JSON.parse(wrongType.body)).toMatchObject({ code: 400, reason: 'BadRequest', message: 'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string' });
  });

  it('an invalid object: 422 with the field path, and nothing stored', async () => {
    const r = await kubectl('apply', '-f', manifest('invalid.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name}\n'));
    expect(r.exitCode).toBe(1);
    expect(r.err).toMatch(/^The ConfigMap "Bad_Name" is invalid: metadata\.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of/);
    const raw = await call('/api/v1/namespaces/default/configmaps', { method: 'POST', ...jsonBody({ metadata: { name: 'Bad_Name' } }) });
    expect(raw.status).toBe(422);
    expect(JSON.parse(raw.body)).toMatchObject({ reason: 'Invalid', details: { name: 'Bad_Name', kind: 'ConfigMap', causes: [{ reason: 'FieldValueInvalid', field: 'metadata.name' }] } });
    expect(storedNames(CONFIGMAPS).some((k) => k.includes('Bad_Name'))).toBe(false);
  });

  it('an object in a namespace that does not exist: 404 NotFound `namespaces "nope" not found`', async () => {
    const file = manifest('nons.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: nope}\n');
    const r = await kubectl('apply', '-f', file);
    expect(r.err).toBe(`Error from server (NotFound): error when creating "${file}": namespaces "nope" not found`);
    expect(await kubectlOk('get', 'cm', '-n', 'nope')).toBe('');
    expect((await kubectl('get', 'cm', 'x', '-n', 'nope')).err).toBe('Error from server (NotFound): namespaces "nope" not found');
  });

  it('--dry-run=server validates and stores nothing; replace updates with PUT', async () => {
    const file = manifest('dry.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dry}\ndata: {a: "1"}\n');
    const before = api.store.currentRevision();
    expect(await kubectlOk('apply', '--dry-run=server', '-f', file)).toBe('configmap/dry created (server dry run)');
    expect(api.store.currentRevision()).toBe(before);
    expect((await kubectl('apply', '--dry-run=server', '-f', manifest('dry-bad.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Dry}\n'))).exitCode).toBe(1);
    await kubectlOk('create', '-f', file);
    expect(await kubectlOk('replace', '-f', manifest('dry2.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dry}\ndata: {a: "2"}\n'))).toBe('configmap/dry replaced');
    expect(api.registry.get(CONFIGMAPS, 'default', 'dry').data).toEqual({ a: '2' });
  });
});

describe('kubectl delete', () => {
  it('a Deployment goes at once (kubectl gets a Success Status and finds it gone)', async () => {
    expect(await kubectlOk('delete', 'deploy', 'typo')).toBe('deployment.apps "typo" deleted');
    expect(storedNames(DEPLOYMENTS, 'default')).toEqual(['/registry/deployments/default/web']);
    const again = await kubectl('delete', 'deploy', 'typo');
    expect(again.err).toBe('Error from server (NotFound): deployments.apps "typo" not found');
  });

  it('a pod on a node is deleted gracefully: it stays with a deletionTimestamp until the kubelet (here the registry) finishes it', async () => {
    api.registry.create(PODS, 'default', pod('bound', { app: 'x' }, { nodeName: 'labs' }));
    expect(await kubectlOk('delete', 'pod', 'bound', '--wait=false')).toBe('pod "bound" deleted');
    const terminating = api.registry.get(PODS, 'default', 'bound');
    expect(terminating.metadata).toMatchObject({ deletionTimestamp: expect.any(String), deletionGracePeriodSeconds: 30 });
    // kubectl delete waits (list + watch by name) until the object is gone; the kubelet's final
    // delete (grace 0) comes while it waits.
    const waiting = kubectlBackground('delete', 'pod', 'bound');
    await waiting.waitFor((o) => o.includes('pod "bound" deleted'), 'kubectl to delete');
    await new Promise((r) => setTimeout(r, 300));
    api.registry.delete(PODS, 'default', 'bound', { gracePeriodSeconds: 0 });
    expect(await waiting.exited).toBe(0);
    expect(storedNames(PODS, 'default')).not.toContain('/registry/pods/default/bound');
  });

  it('--force --grace-period=0 removes a pod at once; DELETE answers the pod (pods return the object)', async () => {
    api.registry.create(PODS, 'default', pod('forced', { app: 'x' }, { nodeName: 'labs' }));
    const r = await kubectl('delete', 'pod', 'forced', '--force', '--grace-period=0');
    expect(r.out).toBe('pod "forced" force deleted');
    api.registry.create(PODS, 'default', pod('raw', { app: 'x' }));
    const raw = await call('/api/v1/namespaces/default/pods/raw', { method: 'DELETE', ...jsonBody({ propagationPolicy: 'Background' }) });
    expect([raw.status, JSON.parse(raw.body).kind]).toEqual([200, 'Pod']);
  });
});

describe('raw requests: kube\'s status codes', () => {
  it('405 for a method a path lacks; 404 for what is not served; log and exec of a pod no node has', async () => {
    const notAllowed = await call('/api/v1/namespaces/default/configmaps/web-config', { method: 'POST', ...jsonBody({}) });
    expect([notAllowed.status, JSON.parse(notAllowed.body)]).toEqual([405, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'the server does not allow this method on the requested resource', reason: 'MethodNotAllowed', details: {}, code: 405 }]);
    expect((await call('/api/v1/pods', { method: 'POST', ...jsonBody({}) })).status).toBe(405);
    expect((await call('/api/v1/namespaces', { method: 'DELETE' })).status).toBe(405); // namespaces have no deletecollection
    expect((await call('/api/v1/namespaces/default/foos')).body).toBe('404 page not found\n');
    expect((await call('/apis/apps/v2/deployments')).status).toBe(404);
    // (api-streams.test.ts has the rest of pods/log and pods/exec.)
    expect((await call('/api/v1/namespaces/default/pods/web-1/log')).status).toBe(204);
    expect(JSON.parse((await call('/api/v1/namespaces/default/pods/web-1/exec')).body).message).toBe('pod web-1 does not have a host assigned');
    const unsupported = await call('/api/v1/namespaces/default/configmaps', { method: 'POST', headers: { 'Content-Type': 'application/vnd.kubernetes.protobuf' }, body: 'k8s\0' });
    expect([unsupported.status, JSON.parse(unsupported.body).reason]).toEqual([415, 'UnsupportedMediaType']);
    const badPatch = await call('/api/v1/namespaces/default/configmaps/web-config', { method: 'PATCH', headers: { 'Content-Type': 'text/plain' }, body: '{}' });
    expect(JSON.parse(badPatch.body).message).toBe('the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml');
  });

  it('pods/binding: sets spec.nodeName and PodScheduled=True; a second binding is 409 Conflict', async () => {
    api.registry.create(PODS, 'default', pod('unbound', { app: 'x' }));
    const binding = { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'unbound' }, target: { apiVersion: 'v1', kind: 'Node', name: 'labs' } };
    const first = await call('/api/v1/namespaces/default/pods/unbound/binding', { method: 'POST', ...jsonBody(binding) });
    expect([first.status, JSON.parse(first.body)]).toEqual([201, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 }]);
    const bound = api.registry.get(PODS, 'default', 'unbound');
    expect(bound.spec?.nodeName).toBe('labs');
    expect(bound.status?.conditions).toEqual([{ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: expect.any(String) }]);
    const second = await call('/api/v1/namespaces/default/pods/unbound/binding', { method: 'POST', ...jsonBody({ ...binding, target: { kind: 'Node', name: 'other' } }) });
    expect([second.status, JSON.parse(second.body).message]).toEqual([409, 'Operation cannot be fulfilled on pods/binding "unbound": pod unbound is already assigned to node "labs"']);
  });

  it('PUT /status changes only the status; a PUT of an Endpoints that does not exist creates it (201)', async () => {
    const current = api.registry.get(PODS, 'default', 'unbound');
    const r = await call('/api/v1/namespaces/default/pods/unbound/status', { method: 'PUT', ...jsonBody({ ...current, spec: { ...current.spec, nodeName: 'elsewhere' }, status: { ...current.status, phase: 'Running' } }) });
    expect(r.status).toBe(200);
    const after = api.registry.get(PODS, 'default', 'unbound');
    expect([after.status?.phase, after.spec?.nodeName]).toEqual(['Running', 'labs']);
    const ep = await call('/api/v1/namespaces/default/endpoints/web', { method: 'PUT', ...jsonBody({ apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'web' }, subsets: [{ addresses: [{ ip: '10.42.0.5' }], ports: [{ port: 80 }] }] }) });
    expect(ep.status).toBe(201);
    expect(JSON.parse(ep.body).subsets[0].ports[0]).toEqual({ port: 80, protocol: 'TCP' });
  });

  it('deletecollection deletes what the selector matches and answers the list of it; unknown-field warnings with fieldValidation=Warn', async () => {
    for (const n of ['a', 'b']) api.registry.create(CONFIGMAPS, 'default', { metadata: { name: `coll-${n}`, labels: { batch: 'x' } } });
    const r = await call('/api/v1/namespaces/default/configmaps?labelSelector=batch%3Dx', { method: 'DELETE' });
    expect(JSON.parse(r.body)).toMatchObject({ kind: 'ConfigMapList', items: [{ metadata: { name: 'coll-a' } }, { metadata: { name: 'coll-b' } }] });
    expect(storedNames(CONFIGMAPS, 'default').filter((k) => k.includes('coll-'))).toEqual([]);
    const warned = await call('/api/v1/namespaces/default/configmaps', { method: 'POST', ...jsonBody({ metadata: { name: 'warned' }, extra: 1 }) });
    expect([warned.status, warned.headers.warning]).toEqual([201, '299 - "unknown field \\"extra\\""']);
    expect(JSON.parse(warned.body).extra).toBeUndefined();
  });
});

describe('defaults and typed decoding (pure)', () => {
  it("imagePullPolicy follows the image's tag as kube parses references", () => {
    expect(['busybox', 'busybox:1.36', 'localhost:5000/busybox', 'registry.example.com:5000/a/b:v1', `busybox@sha256:${'a'.repeat(64)}`, 'BusyBox'].map(imageTag)).toEqual(['latest', '1.36', 'latest', 'v1', '', '']);
  });

  it('a Service: ClientIP affinity gets its timeout, NodePort its external policy, a named targetPort stays', () => {
    const svc: KubeObject = { metadata: {}, spec: { type: 'NodePort', sessionAffinity: 'ClientIP', ports: [{ port: 80, targetPort: 'http' }] } };
    defaultObject('services', svc);
    expect(svc.spec).toEqual({ type: 'NodePort', sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 10800 } }, externalTrafficPolicy: 'Cluster', internalTrafficPolicy: 'Cluster', ports: [{ port: 80, targetPort: 'http', protocol: 'TCP' }] });
  });

  it("Go's type errors, word for word, and unknown fields with list indices", () => {
    const d = { spec: { template: { spec: { containers: [{ name: 'c', env: [{ name: 'A', value: 3 }] }], imagePullSecrets: ['x'] } } } };
    expect(typedDecode('Deployment', d).typeError).toBe('json: cannot unmarshal number into Go struct field EnvVar.spec.template.spec.containers.env.value of type string');
    expect(typedDecode('Deployment', { spec: { template: { spec: { imagePullSecrets: ['x'] } } } }).typeError).toBe('json: cannot unmarshal string into Go struct field PodSpec.spec.template.spec.imagePullSecrets of type v1.LocalObjectReference');
    expect(typedDecode('Pod', { spec: { containers: {} } }).typeError).toBe('json: cannot unmarshal object into Go struct field PodSpec.spec.containers of type []v1.Container');
    expect(typedDecode('Deployment', { spec: { replicas: 1.5 } }).typeError).toBe('json: cannot unmarshal number 1.5 into Go struct field DeploymentSpec.spec.replicas of type int32');
    const obj = { metadata: { name: 'x', Labels: {} }, spec: { ports: [{ port: 80 }, { port: 81, nodeport: 1 }] } };
    expect(typedDecode('Service', obj)).toEqual({ typeError: undefined, unknown: ['unknown field "metadata.Labels"', 'unknown field "spec.ports[1].nodeport"'] });
    expect(obj).toEqual({ metadata: { name: 'x' }, spec: { ports: [{ port: 80 }, { port: 81 }] } });
  });
});
