// Issue 12, item 8: the lab finds its own system pods by owner, never by labels. A user's
// Deployment in kube-system carrying the ingress controller's labels (and running an nginx
// master of its own) is not reloaded or signalled by the lab; the real ingress still picks up an
// Ingress edit.
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { useWatchedLab } from './controller.ts';
import { getPods, inNetns, instanceName, isRoot, labOk, type PodJson } from './helpers.ts';

const I = instanceName('e2eown');
const NODE = `${I}-node`;

/** Declared in the state file, so its pod is created before the system pods (first in a label search). */
const IMPOSTOR = `
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: impostor-conf
  namespace: kube-system
data:
  nginx.conf: |
    daemon off;
    worker_processes 1;
    pid /tmp/imp/nginx.pid;
    error_log stderr;
    events { worker_connections 64; }
    http {
      access_log off;
      client_body_temp_path /tmp/imp/body;
      proxy_temp_path /tmp/imp/proxy;
      fastcgi_temp_path /tmp/imp/fastcgi;
      uwsgi_temp_path /tmp/imp/uwsgi;
      scgi_temp_path /tmp/imp/scgi;
      server { listen 80; location / { return 200 "impostor\\n"; } }
    }
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ingress-nginx-impostor
  namespace: kube-system
  labels:
    app.kubernetes.io/name: ingress-nginx
spec:
  replicas: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: ingress-nginx
  template:
    metadata:
      labels:
        app.kubernetes.io/name: ingress-nginx
    spec:
      containers:
        - name: controller
          image: packet-path-lab/ingress-nginx
          command: ["sh", "-c", "mkdir -p /tmp/imp && exec nginx -p /tmp/imp/ -c /etc/imp/nginx.conf -e stderr"]
          ports:
            - name: http
              containerPort: 80
          volumeMounts:
            - name: conf
              mountPath: /etc/imp
      volumes:
        - name: conf
          configMap:
            name: impostor-conf
`;

/** A host the default state does not route: until the edit, the default backend (app3) answers it. */
const APP4 = `
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: app4
spec:
  rules:
    - host: app4.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: app1-service
                port:
                  number: 80
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The worker processes an nginx master has forked (a reload replaces them). */
function children(pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number).sort();
}

const pidOf = (p: PodJson) => p.status.containerStatuses[0]!.pid!;

describe.skipIf(!isRoot)('system pods are found by owner, not by labels', () => {
  const w = useWatchedLab('ownership', I, IMPOSTOR);

  it('an Ingress edit reloads the real ingress controller and leaves a labelled look-alike alone', async () => {
    const pods = await getPods(I, true);
    const real = pods.find((p) => p.metadata.name.startsWith('ingress-nginx-controller-'))!;
    const imp = pods.find((p) => p.metadata.name.startsWith('ingress-nginx-impostor-'))!;
    expect(imp.metadata.labels['app.kubernetes.io/name']).toBe(real.metadata.labels['app.kubernetes.io/name']);
    const [impPid, realPid] = [pidOf(imp), pidOf(real)];
    // Both are nginx masters with a worker of their own.
    for (const pid of [impPid, realPid]) expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).toMatch(/^nginx: master process/);
    await sleep(500);
    const [impWorkers, realWorkers] = [children(impPid), children(realPid)];
    expect(impWorkers.length).toBeGreaterThan(0);

    const ask = async (ip: string, host: string) => (await inNetns(NODE, ['curl', '-sS', '--max-time', '5', '-H', `Host: ${host}`, `http://${ip}/`])).stdout;
    expect(await ask(real.status.podIP!, 'app4.com')).toContain('Hello from app3.'); // the default backend, before the edit
    expect(await ask(imp.status.podIP!, 'app4.com')).toBe('impostor\n');

    await writeFile(w.state, w.original + IMPOSTOR + APP4);
    const deadline = Date.now() + 15_000;
    while (!(await ask(real.status.podIP!, 'app4.com')).includes('Hello from app1.')) {
      if (Date.now() > deadline) throw new Error(`the real ingress never picked up the edit:\n${w.controller.log()}`);
      await sleep(200);
    }

    // The real controller reloaded (same master, new workers); the look-alike was not touched.
    expect(pidOf((await getPods(I, true)).find((p) => p.metadata.name === real.metadata.name)!)).toBe(realPid);
    expect(children(realPid)).not.toEqual(realWorkers);
    expect(pidOf((await getPods(I, true)).find((p) => p.metadata.name === imp.metadata.name)!)).toBe(impPid);
    expect(children(impPid)).toEqual(impWorkers);
    expect(await ask(imp.status.podIP!, 'app4.com')).toBe('impostor\n');
    const events = (await labOk(['events', '--name', I])).stdout;
    expect(events).toMatch(new RegExp(`pod/${real.metadata.name}.*NGINX reload triggered`));
    expect(events).not.toMatch(new RegExp(`pod/${imp.metadata.name}.*RELOAD|RELOAD.*pod/${imp.metadata.name}`));
  });
});
