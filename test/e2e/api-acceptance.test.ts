// Issue 13's acceptance, the way a learner meets it: `lab up` starts the instance's server
// as a daemon and waits for the cluster; then real kubectl, from this machine and from the
// laptop's namespace, scales, deletes, restarts and watches while a client loops on app2.com;
// `lab kill --trace` shows the crash flow's hops; `lab down` stops the server and removes all.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { instancePaths } from '../../src/node/instance.ts';
import { cmd, downAndRemove, inNetns, instanceName, isRoot, kubectlFor, lab, until, upWithKubeconfig } from './helpers.ts';

const instance = instanceName('acc');
const paths = instancePaths(instance);

describe.skipIf(!isRoot)('issue 13 acceptance: lab up and real kubectl', () => {
  let dir: string;
  let kubeconfig: string;
  const { kubectl, kubectlOk } = kubectlFor(() => kubeconfig);
  const readyEndpoints = async (svc: string) => {
    const slices = JSON.parse(await kubectlOk(['get', 'endpointslices', '-l', `kubernetes.io/service-name=${svc}`, '-o', 'json'])) as { items: { endpoints?: { conditions?: { ready?: boolean } }[] }[] };
    return slices.items.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready).length;
  };

  /** curl app2.com from the laptop in a loop until stopped; counts failures. */
  function loopOnApp2(): { stop(): Promise<{ ok: number; failed: string[] }> } {
    let running = true;
    let ok = 0;
    const failed: string[] = [];
    const loop = (async () => {
      while (running) {
        const r = await inNetns(paths.hostNetns, ['curl', '-sS', '--max-time', '3', 'http://app2.com/']);
        if (r.stdout.includes('Welcome to App 2!')) ok++;
        else failed.push(r.stderr.trim() || r.stdout.trim());
      }
    })();
    return { stop: async () => ((running = false), await loop, { ok, failed }) };
  }

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'pplt-acc-'));
    kubeconfig = await upWithKubeconfig(instance, dir);
  }, 200_000);

  afterAll(() => downAndRemove(instance, dir), 200_000);

  it('kubectl get nodes -o wide and get all: the node, Deployments 1/1 3/3 1/1, ReplicaSets, Services, Running pods', async () => {
    const node = (await kubectlOk(['get', 'nodes', '-o', 'wide', '--no-headers'])).trim().split(/\s+/);
    expect([node[1], node[2], node[5]]).toEqual(['Ready', 'control-plane,master', '192.168.56.110']);
    const all = await kubectlOk(['get', 'all']);
    for (const [name, ready] of [['app1', '1/1'], ['app2', '3/3'], ['app3', '1/1']]) expect(all).toMatch(new RegExp(`^deployment\\.apps/${name}\\s+${ready}\\s`, 'm'));
    expect(all).toMatch(/^replicaset\.apps\/app2-[a-z0-9]+\s+3\s+3\s+3\s/m);
    expect(all).toMatch(/^service\/app2-service\s+ClusterIP\s+10\.43\.\d+\.\d+\s/m);
    expect(all.match(/^pod\/\S+\s+1\/1\s+Running\s/gm)).toHaveLength(5);
    expect(await kubectlOk(['get', 'ingress', '--no-headers'])).toMatch(/app1\.com,app2\.com\s+192\.168\.56\.110\s+80\s/);
  });

  it('the same from the laptop against https://192.168.56.110:6443', async () => {
    const laptopConfig = path.join(dir, 'laptop.yaml');
    await writeFile(laptopConfig, (await lab(['kubeconfig', '--name', instance, '--server', 'https://192.168.56.110:6443'])).stdout, { mode: 0o600 });
    const r = await inNetns(paths.hostNetns, ['kubectl', '--kubeconfig', laptopConfig, 'get', 'deploy', 'app2', '--no-headers']);
    expect(r.stdout).toMatch(/^app2\s+3\/3\s/);
  });

  it('kubectl scale deploy app2 --replicas=5: five ready endpoints within 5 s', async () => {
    await kubectlOk(['scale', 'deploy', 'app2', '--replicas=5']);
    const t0 = Date.now();
    await until('5 ready endpoints', async () => (await readyEndpoints('app2-service')) === 5, 5_000, 50);
    expect(Date.now() - t0).toBeLessThan(5_000);
    await kubectlOk(['scale', 'deploy', 'app2', '--replicas=3']);
    await until('3 ready endpoints', async () => (await readyEndpoints('app2-service')) === 3, 20_000);
  });

  it('kubectl delete pod: replaced under a new name, no failed request on app2.com', async () => {
    const before = (await kubectlOk(['get', 'pods', '-l', 'app=app2', '-o', 'name'])).trim().split('\n');
    const client = loopOnApp2();
    await kubectlOk(['delete', before[0]!]);
    await until('a new third pod ready', async () => {
      const now = (await kubectlOk(['get', 'pods', '-l', 'app=app2', '-o', 'name'])).trim().split('\n');
      return now.length === 3 && !now.includes(before[0]!) && (await readyEndpoints('app2-service')) === 3;
    }, 30_000);
    const { ok, failed } = await client.stop();
    expect(failed).toEqual([]);
    expect(ok).toBeGreaterThan(0);
  }, 60_000);

  it('kubectl rollout restart + rollout status complete with no failed request', async () => {
    const client = loopOnApp2();
    await kubectlOk(['rollout', 'restart', 'deploy/app2']);
    const status = await kubectl(['rollout', 'status', 'deploy/app2', '--timeout=90s'], 100_000);
    const { ok, failed } = await client.stop();
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain('deployment "app2" successfully rolled out');
    expect(failed).toEqual([]);
    expect(ok).toBeGreaterThan(0);
  }, 120_000);

  it('lab kill --trace: the crash flow, hop by hop, and kubectl get pods -w sees it', async () => {
    const pod = (await kubectlOk(['get', 'pods', '-l', 'app=app1', '-o', 'jsonpath={.items[0].metadata.name}'])).trim();
    const watch = cmd(['timeout', '20', 'kubectl', '--kubeconfig', kubeconfig, 'get', 'pods', '-w', '--output-watch-events'], { timeoutMs: 30_000 });
    await new Promise((r) => setTimeout(r, 1000));
    const r = await lab(['kill', pod, '--trace', '--name', instance], { timeoutMs: 90_000 });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const order = ['exited', 'Ready=False', 'ready=false', 'out of the Service chains', 'restarted after its back-off', 'Ready=True', 'ready=true', 'back in the Service chains'];
    let at = 0;
    for (const what of order) {
      const i = r.stdout.indexOf(what, at);
      expect(i, `"${what}" after position ${at} in:\n${r.stdout}`).toBeGreaterThanOrEqual(0);
      at = i;
    }
    expect(r.stdout).toMatch(/resourceVersion \d+/);
    // app1's Service has a ClusterIP and the ingress sends to it (service-upstream "true"): neither
    // the DNS records nor nginx.conf change, and the trace says so.
    expect(r.stdout).toMatch(/^cluster DNS: no record names 10\.42\.\d+\.\d+: a ClusterIP Service's name resolves to its ClusterIP/m);
    expect(r.stdout).toMatch(/^ingress-nginx: nginx\.conf does not name 10\.42\.\d+\.\d+: with service-upstream "true"/m);
    const w = await watch;
    expect(w.stdout).toMatch(new RegExp(`MODIFIED\\s+${pod}\\s+0/1\\s+(Error|Completed|CrashLoopBackOff)`));
    expect(w.stdout).toMatch(new RegExp(`MODIFIED\\s+${pod}\\s+1/1\\s+Running\\s+1 \\(`));
  }, 120_000);

  it('kubectl apply -f of a new Deployment, Service and Ingress host serves it from the laptop', async () => {
    const file = path.join(dir, 'app4.yaml');
    await writeFile(
      file,
      `apiVersion: apps/v1
kind: Deployment
metadata: {name: app4}
spec:
  replicas: 1
  selector: {matchLabels: {app: app4}}
  template:
    metadata: {labels: {app: app4}}
    spec:
      containers:
        - name: app4
          image: busybox
          command: ["sh", "-c", "mkdir -p /w && echo app4 here > /w/index.html && exec httpd -f -p 80 -h /w"]
---
apiVersion: v1
kind: Service
metadata: {name: app4}
spec:
  selector: {app: app4}
  ports: [{port: 80}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: app4}
spec:
  rules:
    - host: app4.example
      http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: app4, port: {number: 80}}}}
`,
    );
    await kubectlOk(['apply', '-f', file]);
    await until('app4.example from the laptop', async () => (await inNetns(paths.hostNetns, ['curl', '-sS', '--max-time', '3', 'http://app4.example/'])).stdout.includes('app4 here'), 60_000, 200);
  }, 90_000);

  it('kubectl logs shows the httpd lines; exec sees the cluster DNS; sqlite3 lists the pods in kine', async () => {
    const pod = (await kubectlOk(['get', 'pods', '-l', 'app=app3', '-o', 'jsonpath={.items[0].metadata.name}'])).trim();
    await inNetns(paths.hostNetns, ['curl', '-sS', '--max-time', '3', 'http://app3.com/']);
    expect(await kubectlOk(['logs', pod])).toMatch(/response:200/);
    expect(await kubectlOk(['exec', 'deploy/app1', '--', 'cat', '/etc/resolv.conf'])).toContain('nameserver 10.43.0.10');
    const r = await cmd(['sqlite3', paths.storeFile, "select name from kine where name like '/registry/pods/%'"]);
    expect(r.stdout).toContain(`/registry/pods/default/${pod}`);
  });

  it('refuses: no credentials 401, wrong token 401, invalid object 422 with its field, missing namespace 404, bad watch version', async () => {
    const port = (await import('node:fs')).readFileSync(paths.apiPortFile, 'utf8').trim();
    const url = `https://127.0.0.1:${port}`;
    const anon = await cmd(['curl', '-sk', '-o', '/dev/null', '-w', '%{http_code}', `${url}/api/v1/pods`]);
    expect(anon.stdout).toBe('401');
    const bad = await cmd(['curl', '-sk', '-o', '/dev/null', '-w', '%{http_code}', '-H', 'Authorization: Bearer nope', `${url}/api/v1/pods`]);
    expect(bad.stdout).toBe('401');
    const invalid = path.join(dir, 'invalid.yaml');
    await writeFile(invalid, 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: broken}\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec: {containers: [{name: c}]}\n');
    const r = await kubectl(['apply', '-f', invalid]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('spec.template.spec.containers[0].image: Required value');
    expect((await kubectl(['get', 'deploy', 'broken'])).stderr).toContain('NotFound');
    expect((await kubectl(['get', 'pods', '-n', 'nope'])).stdout + (await kubectl(['create', 'configmap', 'x', '-n', 'nope'])).stderr).toContain('namespaces "nope" not found');
    const w = await kubectl(['get', '--raw', '/api/v1/pods?watch=1&resourceVersion=garbage']);
    expect(w.code).not.toBe(0);
  });
});
