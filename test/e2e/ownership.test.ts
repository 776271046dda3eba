// Issue 12, item 8: the lab finds its own system pods by owner, never by labels. A user's
// Deployment in kube-system carrying the ingress controller's labels (and running an nginx
// master of its own) is not reloaded or signalled by the lab; the real ingress still picks up an
// Ingress edit. And the lab touches nothing it did not create: iptables rules and chains someone
// else added in the node, a namespace named like the lab's and its /etc/netns files survive the
// server's full syncs, a kill -9 and restart of the server (its adoption and orphan sweep), and
// `lab down`. All of it on the instance's server (`lab up --watch`).
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { useWatchedLab } from './controller.ts';
import { cmd, getPods, inNetns, instanceName, isRoot, lab, labOk, type PodJson } from './helpers.ts';

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
    const ask = async (ip: string, host: string) => (await inNetns(NODE, ['curl', '-sS', '--max-time', '5', '-H', `Host: ${host}`, `http://${ip}/`])).stdout;
    // Before the edit: the default backend. The controller's first load of the Ingresses may still
    // be on its way when the lab has converged (its pod is Ready once nginx runs): wait for it, so
    // that the workers read below are those of the configuration the edit replaces.
    const before = Date.now() + 15_000;
    let answer = await ask(real.status.podIP!, 'app4.com');
    while (!answer.includes('Hello from app3.') && Date.now() < before) {
      await sleep(200);
      answer = await ask(real.status.podIP!, 'app4.com');
    }
    expect(answer).toContain('Hello from app3.');
    expect(await ask(imp.status.podIP!, 'app4.com')).toBe('impostor\n');
    await sleep(500);
    const [impWorkers, realWorkers] = [children(impPid), children(realPid)];
    expect(impWorkers.length).toBeGreaterThan(0);

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

/** Someone else's rules in the node's namespace: a chain of their own, a jump to it, a filter rule. */
const FOREIGN_RULES: [string, string[]][] = [
  ['nat', ['-N', 'FOREIGN-NAT']],
  ['nat', ['-A', 'FOREIGN-NAT', '-s', '203.0.113.7/32', '-j', 'RETURN']],
  ['nat', ['-A', 'PREROUTING', '-s', '203.0.113.7/32', '-m', 'comment', '--comment', 'someone else', '-j', 'FOREIGN-NAT']],
  ['filter', ['-A', 'FORWARD', '-s', '203.0.113.7/32', '-m', 'comment', '--comment', 'someone else', '-j', 'DROP']],
];
const foreignLines = (save: string) => save.split('\n').filter((l) => /FOREIGN|someone else/.test(l)).sort();

describe.skipIf(!isRoot)('the server leaves what it did not create alone', () => {
  const I2 = instanceName('e2eown2');
  const w = useWatchedLab('ownership2', I2);
  const NODE2 = `${I2}-node`;
  // Named like the lab's pod namespaces (<instance>-<pod>), created by someone else.
  const FOREIGN_NS = `${I2}-foreign`;
  const FOREIGN_ETC = `/etc/netns/${FOREIGN_NS}`;

  it('foreign rules, a look-alike namespace and its files survive full syncs, a restart and down', async () => {
    const save = async () => (await inNetns(NODE2, ['iptables-save'])).stdout;
    try {
      for (const [table, rule] of FOREIGN_RULES) {
        const r = await inNetns(NODE2, ['iptables', '-t', table, ...rule]);
        expect(r.code, r.stderr).toBe(0);
      }
      expect((await cmd(['ip', 'netns', 'add', FOREIGN_NS])).code).toBe(0);
      await mkdir(FOREIGN_ETC, { recursive: true });
      await writeFile(`${FOREIGN_ETC}/hosts`, '203.0.113.7 someone-else\n');
      const planted = foreignLines(await save());
      expect(planted).toHaveLength(4);

      // A full sync: the canary gone from mangle makes kube-proxy rewrite everything of its own.
      const before = w.controller.log().length;
      expect((await inNetns(NODE2, ['iptables', '-t', 'mangle', '-X', 'KUBE-PROXY-CANARY'])).code).toBe(0);
      await w.controller.waitFor(/kube-proxy: .*gone from the node: full sync/, 15_000);
      for (let i = 0; i < 100 && !/KUBE-PROXY-CANARY/.test((await inNetns(NODE2, ['iptables-save', '-t', 'mangle'])).stdout); i++) await new Promise((r) => setTimeout(r, 100));
      expect(w.controller.log().slice(before)).toMatch(/gone from the node/);
      expect(foreignLines(await save()), 'after a full sync').toEqual(planted);

      // kill -9 and a new server: adoption, the orphan sweep, kube-proxy's first full sync.
      await w.controller.stop('SIGKILL');
      await w.startAgain();
      expect(foreignLines(await save()), 'after a restart').toEqual(planted);
      expect((await cmd(['ip', 'netns', 'list'])).stdout).toContain(FOREIGN_NS);
      expect(readFileSync(`${FOREIGN_ETC}/hosts`, 'utf8')).toBe('203.0.113.7 someone-else\n');

      // down removes the node's namespace (and the rules in it) but not a namespace it did not make.
      await labOk(['down', '--name', I2]);
      expect((await cmd(['ip', 'netns', 'list'])).stdout).not.toContain(NODE2);
      expect((await cmd(['ip', 'netns', 'list'])).stdout).toContain(FOREIGN_NS);
      expect(existsSync(`${FOREIGN_ETC}/hosts`)).toBe(true);
    } finally {
      await lab(['down', '--name', I2]);
      await cmd(['ip', 'netns', 'del', FOREIGN_NS]);
      await rm(FOREIGN_ETC, { recursive: true, force: true });
    }
  });
});
