// Issue 14: kubectl logs and exec of a pod on an agent node. `lab up --nodes 2` runs the server
// (labs, 192.168.56.110) and the agent labsw (192.168.56.111); real kubectl goes to the API server,
// which connects the request to https://192.168.56.111:10250 (the agent's kubelet server) with its
// client certificate, from inside the server node's namespace. Checked: logs (--tail, -f, and
// --previous after the container was killed), exec (a command's output and exit code, -it on a
// terminal), the kubelet's 401 to a caller without the API server's certificate (and 403 to a
// node's own), the server node's pods still answered in process. `lab down` removes everything.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeletCertDir } from '../../src/kubelet/certs.ts';
import { runtimeFor } from '../../src/kubelet/runc.ts';
import { containerIdOf } from '../../src/kubelet/runtime.ts';
import { agentPaths, instancePaths } from '../../src/node/instance.ts';
import { signalProcess } from '../../src/sys/proc.ts';
import { spawnOnNewPty } from '../../src/sys/terminal.ts';
import { cmd, inNetns, instanceName, isRoot, lab, until } from './helpers.ts';

const instance = instanceName('kla');
const paths = instancePaths(instance);
const agent = agentPaths(instance, 'labsw');

interface PodView {
  metadata: { name: string };
  spec: { nodeName?: string };
  status: { podIP?: string; conditions?: { type: string; status: string }[]; containerStatuses?: { containerID?: string; restartCount: number; ready: boolean }[] };
}

describe.skipIf(!isRoot)('issue 14: kubectl logs and exec reach pods on an agent through its kubelet on :10250', () => {
  let dir: string;
  let kubeconfig: string;
  let pod: PodView;
  const kubectl = (args: string[], timeoutMs = 60_000) => cmd(['kubectl', '--kubeconfig', kubeconfig, ...args], { timeoutMs });
  const kubectlOk = async (args: string[]) => {
    const r = await kubectl(args);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const getPod = async (name: string) => JSON.parse(await kubectlOk(['get', 'pod', name, '-o', 'json'])) as PodView;
  const ready = (p: PodView) => p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  /** A request to the pod from its own node: one httpd log line "[::ffff:10.42.1.1]:<port>: response:200". */
  const request = async () => {
    const r = await inNetns(paths.agentNetns('labsw'), ['curl', '-sS', '--max-time', '5', '-o', '/dev/null', '-w', '%{http_code}', `http://${pod.status.podIP}/`]);
    expect(r.stdout).toBe('200');
  };
  const responses = (text: string) => text.split('\n').filter((l) => /\]:\d+: response:200$/.test(l));

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'pplt-kla-'));
    const up = await lab(['up', '--name', instance, '--nodes', '2'], { timeoutMs: 240_000 });
    if (up.code !== 0) throw new Error(`lab up --nodes 2 failed:\n${up.stderr}\n${up.stdout}`);
    kubeconfig = path.join(dir, 'k3s.yaml');
    await writeFile(kubeconfig, (await lab(['kubeconfig', '--name', instance])).stdout, { mode: 0o600 });
    await kubectlOk(['scale', 'deploy', 'app2', '--replicas=6']);
    pod = await until('a ready app2 pod on labsw', async () => {
      const list = JSON.parse(await kubectlOk(['get', 'pods', '-l', 'app=app2', '--field-selector', 'spec.nodeName=labsw', '-o', 'json'])) as { items: PodView[] };
      return list.items.find(ready) ?? false;
    }, 90_000, 200);
  }, 400_000);

  afterAll(async () => {
    const down = await lab(['down', '--name', instance], { timeoutMs: 120_000 });
    if (down.code !== 0) process.stderr.write(`lab down: ${down.stderr}\n`);
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 150_000);

  it('kubectl logs: the requests the pod on labsw answered; --tail=1 the last one', async () => {
    await request();
    await request();
    const all = await kubectlOk(['logs', pod.metadata.name]);
    expect(responses(all).length).toBeGreaterThanOrEqual(2);
    expect(responses(all).at(-1)).toMatch(/^\[::ffff:10\.42\.1\.1\]:\d+: response:200$/);
    const tail = await kubectlOk(['logs', pod.metadata.name, '--tail=1']);
    expect(tail.trimEnd().split('\n')).toHaveLength(1);
    expect(tail).toBe(`${all.trimEnd().split('\n').at(-1)}\n`);
  });

  it('kubectl logs -f: lines arrive while it follows', async () => {
    const following = cmd(['timeout', '6', 'kubectl', '--kubeconfig', kubeconfig, 'logs', '-f', '--tail=0', pod.metadata.name], { timeoutMs: 20_000 });
    await new Promise((r) => setTimeout(r, 1500));
    await request();
    await request();
    await request();
    const r = await following;
    expect(r.code, r.stderr).toBe(124); // still following when `timeout` ended it
    expect(responses(r.stdout)).toHaveLength(3);
  });

  it('kubectl exec: the container on labsw runs the command; its exit code comes back', async () => {
    const resolv = await kubectlOk(['exec', pod.metadata.name, '--', 'cat', '/etc/resolv.conf']);
    expect(resolv).toContain('nameserver 10.43.0.10');
    expect(resolv).toContain('search default.svc.cluster.local svc.cluster.local cluster.local');
    expect((await kubectlOk(['exec', pod.metadata.name, '--', 'hostname'])).trim()).toBe(pod.metadata.name);
    const failing = await kubectl(['exec', pod.metadata.name, '--', 'sh', '-c', 'echo oops >&2; exit 3']);
    expect([failing.code, failing.stderr]).toEqual([3, 'oops\ncommand terminated with exit code 3\n']);
    const input = await cmd(['sh', '-c', `echo through stdin | kubectl --kubeconfig ${kubeconfig} exec -i ${pod.metadata.name} -- cat`]);
    expect(input.stdout).toBe('through stdin\n');
  });

  it('kubectl exec -it: a terminal in the container on labsw, the window size, the exit code', async () => {
    const child = spawnOnNewPty(['kubectl', '--kubeconfig', kubeconfig, 'exec', '-it', pod.metadata.name, '--', 'sh', '-c', 'tty; stty size; exit 3'], { cols: 100, rows: 40 });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const { code } = await child.exited;
    expect(out).toMatch(/^\/dev\/pts\/\d+\r\n40 100\r\n/);
    expect(out).toContain('command terminated with exit code 3');
    expect(code).toBe(3);
  });

  it('kubectl logs --previous: after the container was killed, the log of the instance before', async () => {
    await request();
    const before = responses(await kubectlOk(['logs', pod.metadata.name]));
    const id = containerIdOf(pod.status.containerStatuses?.[0]?.containerID);
    const running = (await runtimeFor(agent).listContainers()).find((c) => c.id === id && c.status === 'running');
    expect(running, `container ${id} in labsw's runtime`).toBeDefined();
    signalProcess(running!.pid, 'SIGKILL');
    await until('restarted and ready', async () => {
      const p = await getPod(pod.metadata.name);
      return p.status.containerStatuses?.[0]?.restartCount === 1 && ready(p);
    }, 30_000, 100);
    const previous = await kubectlOk(['logs', pod.metadata.name, '--previous']);
    expect(responses(previous)).toEqual(before);
    expect(responses(await kubectlOk(['logs', pod.metadata.name]))).not.toEqual(expect.arrayContaining(before));
  }, 60_000);

  it("the kubelet's :10250: 401 without the API server's client certificate, 403 for a node's own; the certificate the server CA signed for the node IP", async () => {
    const url = `https://192.168.56.111:10250/containerLogs/default/${pod.metadata.name}/app2`;
    const caFile = path.join(paths.tlsDir, 'server-ca.crt');
    // --cacert without -k: the serving certificate verifies for 192.168.56.111.
    const anonymous = await inNetns(paths.hostNetns, ['curl', '-sS', '--max-time', '5', '--cacert', caFile, '-w', ' %{http_code}', url]);
    expect(anonymous.stdout).toBe('Unauthorized 401');
    const certDir = kubeletCertDir(agent, 'labsw');
    const node = await inNetns(paths.hostNetns, ['curl', '-sS', '--max-time', '5', '--cacert', caFile, '--cert', path.join(certDir, 'client-kubelet.crt'), '--key', path.join(certDir, 'client-kubelet.key'), '-w', '%{http_code}', url]);
    expect(node.stdout).toBe('Forbidden (user=system:node:labsw, verb=get, resource=nodes, subresource(s)=[proxy])\n403');
    // The server's node serves :10250 too.
    expect((await inNetns(paths.hostNetns, ['curl', '-sS', '--max-time', '5', '--cacert', caFile, 'https://192.168.56.110:10250/healthz'])).stdout).toBe('Unauthorized');
  });

  it("the server node's pods: still answered (in process)", async () => {
    const onLabs = JSON.parse(await kubectlOk(['get', 'pods', '-l', 'app=app2', '--field-selector', 'spec.nodeName=labs', '-o', 'json'])) as { items: PodView[] };
    const name = onLabs.items[0]!.metadata.name;
    expect(await kubectlOk(['exec', name, '--', 'cat', '/etc/resolv.conf'])).toContain('nameserver 10.43.0.10');
    const logs = await kubectl(['logs', name, '--tail=1']);
    expect(logs.code, logs.stderr).toBe(0);
  });
});
