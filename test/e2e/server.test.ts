// The lab's server process (src/controllers/server.ts) in a sandbox: the state files applied
// through the API into the kine store, the API served on 127.0.0.1 in this machine's namespace
// and on 192.168.56.110:6443 inside the node's namespace, and real kubectl reading it from here
// and from the laptop's namespace. A bad edit is refused whole while the last good state stays.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { podIPsPerNode } from '../../src/api/load.ts';
import { down } from '../../src/controllers/down.ts';
import { LabServer } from '../../src/controllers/server.ts';
import { spawnOnNewPty } from '../../src/sys/terminal.ts';
import { cmd, editableState, inNetns, instanceName, isRoot, lab, ROOT, until, type EditableState } from './helpers.ts';

const instance = instanceName('srv');

describe.skipIf(!isRoot)('the server process: API at the centre', () => {
  let server: LabServer;
  let state: EditableState;
  let dir: string;
  let kubeconfig: string;
  let nodeKubeconfig: string;
  const logs: string[] = [];

  const kubectl = (args: string[]) => cmd(['kubectl', '--kubeconfig', kubeconfig, ...args]);
  const kubectlOk = async (args: string[]) => {
    const r = await kubectl(args);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  beforeAll(async () => {
    state = await editableState('srv');
    dir = await mkdtemp(path.join(tmpdir(), 'pplt-srv-kc-'));
    server = new LabServer({ instance, statePath: state.state, configPath: path.join(ROOT, 'lab/config.yaml'), mode: 'sandbox', log: (l) => logs.push(l) });
    await server.start();
    kubeconfig = path.join(dir, 'local.yaml');
    await writeFile(kubeconfig, server.api!.kubeconfig(), { mode: 0o600 });
    // The same credentials, addressed as a learner's laptop does: the node's IP on 6443.
    nodeKubeconfig = path.join(dir, 'node.yaml');
    await writeFile(nodeKubeconfig, server.api!.kubeconfig().replace(/server: https:\/\/[^\s]+/, 'server: https://192.168.56.110:6443'), { mode: 0o600 });
  }, 120_000);

  afterAll(async () => {
    await server?.stop().catch(() => {});
    await down({ instance });
    await state?.remove();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 120_000);

  it('registers the node, Ready from its heartbeat, with the node IP', async () => {
    const out = await kubectlOk(['get', 'nodes', '-o', 'wide', '--no-headers']);
    const [name, status, roles, , , ip] = out.trim().split(/\s+/);
    expect(name).toBe(server.node!.name);
    expect(status).toBe('Ready');
    expect(roles).toBe('control-plane,master');
    expect(ip).toBe('192.168.56.110');
    // max-pods: the kubelet's 110 raised to the addresses of the node's pod CIDR (/24: 253), as
    // many as the state file's capacity check allows; the scheduler places no more than this.
    expect(await kubectlOk(['get', 'node', name!, '-o', 'jsonpath={.status.capacity.pods}'])).toBe(String(podIPsPerNode(24)));
  });

  it('applies both state files: the Deployments, their Services and the system add-ons', async () => {
    const deploys = await kubectlOk(['get', 'deployments', '-A', '-o', 'custom-columns=NS:.metadata.namespace,NAME:.metadata.name,REPLICAS:.spec.replicas', '--no-headers']);
    const rows = deploys.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' '));
    expect(rows).toEqual(expect.arrayContaining(['default app1 1', 'default app2 3', 'default app3 1', 'kube-system coredns 1', 'kube-system ingress-nginx-controller 1']));
    // The ReplicaSet controller made the pods and the scheduler bound them to the node.
    await until('the 5 app pods bound to the node', async () => {
      const pods = JSON.parse(await kubectlOk(['get', 'pods', '-o', 'json'])) as { items: { spec: { nodeName?: string } }[] };
      return pods.items.length === 5 && pods.items.every((p) => p.spec.nodeName === server.node!.name);
    });
    const svc = await kubectlOk(['get', 'svc', 'kube-dns', '-n', 'kube-system', '-o', 'jsonpath={.spec.clusterIP}']);
    expect(svc).toBe('10.43.0.10');
  });

  it('runs the pods: the kubelet brings every pod to Running and ready, as kubectl shows', async () => {
    await until('every pod ready', async () => {
      const r = await kubectl(['get', 'pods', '-A', '--no-headers']);
      const rows = r.stdout.trim().split('\n').filter(Boolean);
      return rows.length === 7 && rows.every((l) => /\s1\/1\s+Running\s/.test(l));
    }, 90_000);
  }, 100_000);

  it('serves app2.com from the laptop: ingress, Service, pods, all from the API', async () => {
    await until('app2.com answering', async () => (await inNetns(server.paths.hostNetns, ['curl', '-sS', '--max-time', '3', 'http://app2.com/'])).stdout.includes('Welcome to App 2!'), 30_000, 100);
    for (let i = 0; i < 30; i++) expect((await inNetns(server.paths.hostNetns, ['curl', '-sS', '--max-time', '3', 'http://app2.com/'])).stdout).toContain('Welcome to App 2!');
    // kube-proxy's random probabilities spread them over the three pods: each logged some requests
    // from the ingress pod (the kubelet's probes come from the node's cni0 address instead).
    const ingressIP = (await kubectlOk(['get', 'pods', '-n', 'kube-system', '-l', 'app.kubernetes.io/name=ingress-nginx', '-o', 'jsonpath={.items[0].status.podIP}'])).trim();
    expect(ingressIP).toMatch(/^10\.42\.0\.\d+$/);
    const logs = await kubectlOk(['logs', '-l', 'app=app2', '--prefix', '--tail', '-1']);
    const pods = new Set([...logs.matchAll(/^\[pod\/(app2-[a-z0-9-]+)\/app2\] \[::ffff:([0-9.]+)\]:\d+: response:200/gm)].filter((m) => m[2] === ingressIP).map((m) => m[1]));
    expect(pods.size).toBe(3);
    const ing = await kubectlOk(['get', 'ingress', '--no-headers']);
    expect(ing).toMatch(/192\.168\.56\.110/);
    const svc = await kubectlOk(['get', 'svc', '-n', 'kube-system', 'ingress-nginx', '--no-headers']);
    expect(svc.split(/\s+/)[3]).toBe('192.168.56.110');
  });

  it('kubectl logs and exec reach the containers through the kubelet', async () => {
    const pod = (await kubectlOk(['get', 'pods', '-l', 'app=app1', '-o', 'jsonpath={.items[0].metadata.name}'])).trim();
    const ip = (await kubectlOk(['get', 'pod', pod, '-o', 'jsonpath={.status.podIP}'])).trim();
    const got = await inNetns(server.paths.nodeNetns, ['curl', '-sS', '--max-time', '5', `http://${ip}/`]);
    expect(got.stdout).toContain('Hello from app1');
    // busybox httpd -v logs one line per request: "[::ffff:<client>]:<port>: response:200".
    await until('the request in the httpd log', async () => /\]:\d+: response:200/.test((await kubectl(['logs', pod])).stdout), 10_000);
    expect(await kubectlOk(['exec', 'deploy/app1', '--', 'cat', '/etc/resolv.conf'])).toContain('nameserver 10.43.0.10');
  });

  /** kubectl on a terminal of its own (kubectl refuses -t without one), its output as it comes. */
  function kubectlOnTerminal(args: string[], size: { cols: number; rows: number }) {
    const child = spawnOnNewPty(['kubectl', '--kubeconfig', kubeconfig, ...args], size);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    return {
      child,
      output: () => out,
      /** Waits for `re` in what came after `from` (an offset into the output). */
      waitFor: (re: RegExp, from = 0, timeoutMs = 10_000) =>
        until(`${re} from kubectl -it`, async () => re.exec(out.slice(from)) ?? false, timeoutMs, 50).catch((e: Error) => {
          throw new Error(`${e.message}; it printed ${JSON.stringify(out.slice(from))}`);
        }),
    };
  }

  it('kubectl exec -it gives the command a terminal: /dev/pts, the window size, its exit code', async () => {
    const t = kubectlOnTerminal(['exec', '-it', 'deploy/app1', '--', 'sh', '-c', 'tty; stty size; exit 3'], { cols: 100, rows: 40 });
    const { code } = await t.child.exited;
    // The size is the one kubectl read from its terminal, there from the command's start.
    expect(t.output()).toMatch(/^\/dev\/pts\/\d+\r\n40 100\r\n/);
    expect(t.output()).toContain('command terminated with exit code 3');
    expect(code).toBe(3);
  });

  it('kubectl exec -it sh: a prompt, resizes that follow the window, Ctrl-C reaching the command', async () => {
    // busybox sh's prompt, then its question for the cursor position (it has a terminal to ask).
    const ESC = String.fromCharCode(27);
    const prompt = new RegExp(`# (?:${ESC}\\[6n)?$`);
    const t = kubectlOnTerminal(['exec', '-it', 'deploy/app1', '--', 'sh'], { cols: 100, rows: 40 });
    try {
      await t.waitFor(prompt);
      let mark = t.output().length;
      t.child.stdin.write('stty size\r');
      await t.waitFor(/\r\n40 100\r\n/, mark);
      // The window changes: kubectl hears SIGWINCH and sends the size on the resize channel.
      t.child.resize(132, 50);
      await until('stty size to show the new window', async () => {
        mark = t.output().length;
        t.child.stdin.write('stty size\r');
        const [, size] = await t.waitFor(/\r\n(\d+ \d+)\r\n/, mark);
        return size === '50 132';
      }, 10_000, 100);
      // Ctrl-C is a byte on the terminal; the container's line discipline makes it SIGINT.
      mark = t.output().length;
      const started = Date.now();
      t.child.stdin.write('sleep 30\r');
      await t.waitFor(/sleep 30\r\n/, mark);
      await new Promise((r) => setTimeout(r, 500));
      t.child.stdin.write('\x03');
      await t.waitFor(prompt, mark);
      mark = t.output().length;
      t.child.stdin.write('echo "status=$((0+$?))"\r');
      await t.waitFor(/\r\nstatus=130\r\n/, mark);
      expect(Date.now() - started).toBeLessThan(15_000);
      t.child.stdin.write('exit 5\r');
      expect((await t.child.exited).code).toBe(5);
    } finally {
      t.child.stop();
      await t.child.exited;
    }
    // Each exec's console socket directory is gone with it.
    expect(await readdir(path.join(server.paths.stateDir, 'exec'))).toEqual([]);
  }, 60_000);

  it('keeps its objects in kine\'s table, named as kube-apiserver names them', async () => {
    const r = await cmd(['sqlite3', server.paths.storeFile, "select name from kine where name like '/registry/deployments/%' and deleted = 0 order by name"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('/registry/deployments/default/app2');
  });

  it('lab get prints the API server\'s Table rows, read from the store when no server holds the instance', async () => {
    const r = await lab(['get', 'deploy', '--name', instance, '-l', 'app=app2']);
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')[0]!.split(/\s{3,}/)).toEqual(['NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE']);
    expect(r.stdout).toMatch(/^app2\s+\d\/3\s+3\s+\d\s+\d+s$/m);
    expect((await lab(['get', 'nodes', '--name', instance, '-o', 'name'])).stdout).toBe(`node/${server.node!.name}\n`);
  });

  it('serves the node address 192.168.56.110:6443 inside the sandbox, reached from the laptop', async () => {
    const r = await inNetns(server.paths.hostNetns, ['kubectl', '--kubeconfig', nodeKubeconfig, 'get', 'namespaces', '-o', 'name']);
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')).toContain('namespace/kube-system');
  });

  it('kube-proxy syncs the Services it watches into the node\'s nat table', async () => {
    await until('the kubernetes Service in KUBE-SERVICES', async () => {
      const r = await inNetns(server.paths.nodeNetns, ['iptables-save', '-t', 'nat']);
      return /-A KUBE-SERVICES -d 10\.43\.0\.1\/32 -p tcp -m comment --comment "default\/kubernetes:https cluster IP"/.test(r.stdout);
    });
    expect(logs.filter((l) => l.startsWith('kube-proxy'))).toEqual([]);
  });

  it('maps every Ingress host to the node on the laptop, also one applied with kubectl', async () => {
    const hosts = () => readFile(path.join(server.paths.netnsEtc(server.paths.hostNetns), 'hosts'), 'utf8');
    await until('the state file\'s hosts', async () => /^192\.168\.56\.110\tapp1\.com app2\.com/m.test(await hosts()));
    const ing = { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'app4' }, spec: { rules: [{ host: 'app4.example', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'app1', port: { number: 80 } } } }] } }] } };
    const file = path.join(dir, 'app4.json');
    await writeFile(file, JSON.stringify(ing));
    await kubectlOk(['apply', '-f', file]);
    await until('app4.example on the laptop', async () => (await hosts()).includes('app4.example'));
    await kubectlOk(['delete', '-f', file]);
    await until('app4.example gone', async () => !(await hosts()).includes('app4.example'));
  });

  it('refuses a bad edit whole, then applies a good one (an object that leaves the file is deleted)', async () => {
    await writeFile(state.state, `${state.original}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: Bad_Name\nspec: {}\n`);
    await until('the refusal', async () => logs.some((l) => l.startsWith('refused, the last good state keeps serving') && l.includes('Bad_Name')));
    expect((await kubectlOk(['get', 'deploy', 'app3', '-o', 'name'])).trim()).toBe('deployment.apps/app3');
    // app3 leaves the file (its Deployment, Service and ConfigMap).
    const docs = state.original.split(/^---$/m).filter((d) => !/name: app3/.test(d));
    await writeFile(state.state, docs.join('---'));
    await until('app3 deleted', async () => (await kubectl(['get', 'deploy', 'app3'])).stderr.includes('NotFound'));
    expect((await kubectlOk(['get', 'deploy', 'app2', '-o', 'name'])).trim()).toBe('deployment.apps/app2');
  });
});
