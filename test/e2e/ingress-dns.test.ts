// Issue 4 acceptance: cluster DNS and the ingress controller as kube-system pods; the laptop's
// `curl app2.com` crosses the ingress, a DNS lookup, the ClusterIP and KUBE-SVC/KUBE-SEP.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startController, waitForPodsReady, type RunningController } from './controller.ts';
import { instancePaths } from '../../src/node/instance.ts';
import { ROOT, curl, getPods, inNetns, instanceName, isRoot, lab, type PodJson } from './helpers.ts';

const I = instanceName('e2ei');
const HOST = `${I}-host`;
const RUN = `/run/packet-path-lab/${I}`;

const HEADLESS = `
---
apiVersion: v1
kind: Service
metadata:
  name: app2-headless
spec:
  clusterIP: None
  selector:
    app: app2
  ports:
    - name: http
      port: 80
`;

const APP4 = `
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: app4-html
data:
  index.html: "Hello from app4.\\n"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app4
spec:
  replicas: 1
  selector:
    matchLabels:
      app: app4
  template:
    metadata:
      labels:
        app: app4
    spec:
      containers:
        - name: app4
          image: busybox
          command: ["httpd", "-f", "-p", "80", "-h", "/www"]
          volumeMounts:
            - name: html
              mountPath: /www
      volumes:
        - name: html
          configMap:
            name: app4-html
---
apiVersion: v1
kind: Service
metadata:
  name: app4-service
spec:
  selector:
    app: app4
  ports:
    - port: 80
`;

const APP4_RULE = `    - host: app4.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: app4-service
                port:
                  number: 80
`;

async function podLog(pod: PodJson): Promise<string> {
  return readFile(`${RUN}/pods/${pod.metadata.name}/containers/${pod.metadata.labels.app}/container.log`, 'utf8').catch(() => '');
}

/** How many times the ingress controller reloaded nginx: the count of its RELOAD Event on its pod. */
async function reloads(): Promise<number> {
  type ApiEvent = { type: string; reason: string; message: string; involvedObject: { kind: string; name: string }; count: number };
  const events = (JSON.parse((await lab(['get', 'events', '-A', '--name', I, '-o', 'json'])).stdout) as { items: ApiEvent[] }).items;
  const mine = events.filter((e) => e.type === 'Normal' && e.reason === 'RELOAD' && e.involvedObject.kind === 'Pod' && e.involvedObject.name.startsWith('ingress-nginx-controller-'));
  for (const e of mine) expect(e.message).toBe('NGINX reload triggered due to a change in configuration');
  return mine.reduce((n, e) => n + e.count, 0);
}

async function dig(netns: string, args: string[]): Promise<string> {
  return (await inNetns(netns, ['dig', '+time=2', '+tries=2', ...args])).stdout;
}

describe.skipIf(!isRoot)('cluster DNS and ingress as system pods', () => {
  let dir: string;
  let state: string;
  let controller: RunningController;
  let pods: PodJson[];
  let client: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'pplt-ingress-'));
    state = path.join(dir, 'cluster.yaml');
    await writeFile(state, (await readFile(path.join(ROOT, 'lab/cluster.yaml'), 'utf8')) + HEADLESS);
    controller = await startController(['--name', I, '--state', state]);
    await waitForPodsReady(I);
    pods = await getPods(I, true);
    // The pod's network namespace, as the kubelet names it (the API object carries no netns).
    client = instancePaths(I).podNetns(pods.find((p) => p.metadata.labels.app === 'app1')!.metadata.name);
  });

  afterAll(async () => {
    await controller?.stop();
    await lab(['down', '--name', I]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('runs DNS and the ingress as kube-system pods', () => {
    const system = pods.filter((p) => p.metadata.namespace === 'kube-system').map((p) => p.metadata.name);
    expect(system.some((n) => n.startsWith('coredns-'))).toBe(true);
    expect(system.some((n) => n.startsWith('ingress-nginx-controller-'))).toBe(true);
  });

  it('serves app1.com, spreads app2.com over all three app2 pods, and sends any other host to app3', async () => {
    expect((await curl(HOST, 'http://app1.com/')).stdout).toContain('Hello from app1.');
    const app2 = pods.filter((p) => p.metadata.labels.app === 'app2');
    const ingressIP = pods.find((p) => p.metadata.name.startsWith('ingress-nginx-controller-'))!.status.podIP!;
    const before = await Promise.all(app2.map(podLog));
    for (let i = 0; i < 30; i++) expect((await curl(HOST, 'http://app2.com/')).stdout).toContain('Welcome to App 2!');
    const after = await Promise.all(app2.map(podLog));
    // busybox httpd -v logs one line per request; the ingress pod is the client the app pods see.
    const served = after.map((log, i) => log.slice(before[i]!.length).split('\n').filter((l) => l.includes(`${ingressIP}]`)).length);
    expect(served.reduce((a, b) => a + b, 0)).toBe(30);
    for (const n of served) expect(n).toBeGreaterThan(0);
    expect((await curl(HOST, 'http://192.168.56.110/', ['-H', 'Host: anything.example'])).stdout).toContain('Hello from app3.');
  });

  it('logs host, upstream and status for each request in the ingress access log', async () => {
    const svcs = JSON.parse((await lab(['get', 'svc', '-A', '--name', I, '-o', 'json'])).stdout) as { items: { metadata: { name: string }; spec: { clusterIP: string } }[] };
    const app3IP = svcs.items.find((s) => s.metadata.name === 'app3-service')!.spec.clusterIP;
    const log = await readFile(`${RUN}/ingress/access.log`, 'utf8');
    const line = log.split('\n').filter((l) => l.includes('host="anything.example"')).at(-1)!;
    expect(line).toContain(`upstream="${app3IP}:80"`);
    expect(line).toContain('status=200');
  });

  it('resolves Services from a pod: short name via the search path, FQDN, SRV, headless, NXDOMAIN', async () => {
    const svcs = JSON.parse((await lab(['get', 'svc', '--name', I, '-o', 'json'])).stdout) as { items: { metadata: { name: string }; spec: { clusterIP: string } }[] };
    const app2IP = svcs.items.find((s) => s.metadata.name === 'app2-service')!.spec.clusterIP;
    expect((await dig(client, ['+search', '+short', 'app2-service'])).trim()).toBe(app2IP);
    const ns = await inNetns(client, ['nslookup', 'app2-service']);
    expect(ns.stdout).toContain(`Name:\tapp2-service.default.svc.cluster.local\nAddress: ${app2IP}`);
    expect((await dig(client, ['+short', 'app2-service.default.svc.cluster.local'])).trim()).toBe(app2IP);
    expect((await dig(client, ['+short', 'SRV', '_http._tcp.app2-service.default.svc.cluster.local'])).trim()).toMatch(/^0 100 80 app2-service\.default\.svc\.cluster\.local\.$/);
    const headless = (await dig(client, ['+short', 'app2-headless.default.svc.cluster.local'])).trim().split('\n').sort();
    expect(headless).toEqual(pods.filter((p) => p.metadata.labels.app === 'app2').map((p) => p.status.podIP).sort());
    expect(await dig(client, ['no-such-service.default.svc.cluster.local'])).toContain('status: NXDOMAIN');
  });

  it('takes app4.com into the ingress with no failed request while nginx reloads', async () => {
    const urls = Array.from({ length: 200 }, () => 'url = "http://app2.com/"\noutput = "/dev/null"\nwrite-out = "%{http_code}\\n"\n').join('');
    const cfg = path.join(dir, 'loop.curl');
    await writeFile(cfg, urls);
    // 200 requests at 40/s: the loop spans the edit, the new pod and the nginx reload.
    const loop = inNetns(HOST, ['curl', '-sS', '--max-time', '5', '--rate', '40/s', '-K', cfg], { timeoutMs: 60_000 });
    await new Promise((r) => setTimeout(r, 500));
    const reloadsBefore = await reloads();
    const text = await readFile(state, 'utf8');
    await writeFile(state, text.replace('    - host: app2.com\n', `${APP4_RULE}    - host: app2.com\n`) + APP4);
    const r = await loop;
    const codes = r.stdout.trim().split('\n');
    expect(codes).toHaveLength(200);
    expect(codes.filter((c) => c !== '200')).toEqual([]);
    // The server applied the edit (its manifests applier logs each apply of the state file).
    await controller.waitFor(new RegExp(`applied ${state.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), 10_000);
    let body = '';
    for (let i = 0; i < 100 && !body.includes('Hello from app4.'); i++) {
      body = (await curl(HOST, 'http://192.168.56.110/', ['-H', 'Host: app4.com'])).stdout;
      if (!body.includes('Hello from app4.')) await new Promise((res) => setTimeout(res, 100));
    }
    expect(body).toContain('Hello from app4.');
    // The controller said so on its pod, as ingress-nginx does (one Event, its count going up).
    expect(await reloads()).toBeGreaterThan(reloadsBefore);
  });

  it('writes the address of its LoadBalancer Service (the node IP, k3s\'s ServiceLB) into the Ingress status', async () => {
    const ing = JSON.parse((await lab(['get', 'ingress', '-A', '--name', I, '-o', 'json'])).stdout) as { items: { status?: { loadBalancer?: { ingress?: { ip: string }[] } } }[] };
    expect(ing.items.length).toBeGreaterThan(0);
    for (const i of ing.items) expect(i.status?.loadBalancer?.ingress).toEqual([{ ip: '192.168.56.110' }]);
  });

  for (const [what, prefix] of [['DNS', 'coredns-'], ['ingress', 'ingress-nginx-controller-']] as const) {
    it(`restarts the ${what} pod when its process dies, like any pod`, async () => {
      const pod = (await getPods(I, true)).find((p) => p.metadata.name.startsWith(prefix))!;
      const pid = pod.status.containerStatuses[0]!.pid!;
      process.kill(pid, 'SIGKILL');
      let now = pod;
      for (let i = 0; i < 100; i++) {
        now = (await getPods(I, true)).find((p) => p.metadata.name === pod.metadata.name)!;
        if (now.status.containerStatuses[0]!.restartCount === 1 && now.status.containerStatuses[0]!.pid !== pid && (now as unknown as { status: { conditions: { type: string; status: string }[] } }).status.conditions.some((c) => c.type === 'Ready' && c.status === 'True')) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(now.status.containerStatuses[0]!.restartCount).toBe(1);
      expect(now.status.containerStatuses[0]!.pid).not.toBe(pid);
      // And the path through it works again.
      let ok = '';
      for (let i = 0; i < 50 && !ok.includes('Welcome to App 2!'); i++) {
        ok = (await curl(HOST, 'http://app2.com/')).stdout;
        if (!ok.includes('Welcome to App 2!')) await new Promise((r) => setTimeout(r, 100));
      }
      expect(ok).toContain('Welcome to App 2!');
    });
  }
});
