// Issue 12, item 3: Pod Security admission, baseline by default, as kube-apiserver's PodSecurity
// plugin runs it in the lab's API server (`lab up`). A Deployment with a hostPath volume (or
// hostNetwork) in `default` is accepted with the warning kubectl prints, and its ReplicaSet cannot
// create pods: no pod, a FailedCreate event with the admission's 403 message, retried by the
// ReplicaSet controller on its own. Real kubectl sees the same: the Warning header on apply, the
// Forbidden on a pod create. The same hostPath in a namespace labelled
// `pod-security.kubernetes.io/enforce: privileged` runs, read-only as its volumeMount says; subPath
// mounts (an emptyDir directory created on demand, a ConfigMap key) work.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diff, snapshot, type Residue } from '../residue.ts';
import { startController, type RunningController } from './controller.ts';
import { cmd, curl, editableState, shDeployment, getPods, instanceName, isRoot, lab, labOk, until, type EditableState } from './helpers.ts';

const I = instanceName('e2epsa');
const NODE = `${I}-node`;

const deployment = (name: string, namespace: string, podSpec: string, script: string, container = '') => shDeployment({ name, namespace, podSpec, script, container });

const HOSTPATH_VOLUME = (dir: string) => `      volumes:
        - name: host
          hostPath:
            path: ${dir}`;

/** What the reader container found, served over HTTP from /www (no exec needed to look inside). */
const READER = [
  'mkdir -p /www',
  'cat /srv/host/hello.txt > /www/hello',
  '(if touch /srv/host/written 2>/dev/null; then echo writable; else echo read-only; fi) > /www/host-mode',
  'cat /etc/greeting > /www/greeting',
  'echo from-the-pod > /scratch/made-here && echo ok > /www/scratch',
  'exec httpd -f -p 80 -h /www',
].join('; ');

function state(hostDir: string): string {
  return (
    deployment('hostpath-default', 'default', HOSTPATH_VOLUME(hostDir), 'exec httpd -f -p 80') +
    deployment('hostnet-default', 'default', '      hostNetwork: true', 'exec httpd -f -p 80') +
    `
---
apiVersion: v1
kind: Namespace
metadata:
  name: tools
  labels:
    pod-security.kubernetes.io/enforce: privileged
    pod-security.kubernetes.io/warn: privileged
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: greetings
  namespace: tools
data:
  greeting: "hello through a subPath\\n"
  other: "not mounted\\n"
` +
    deployment(
      'reader',
      'tools',
      `${HOSTPATH_VOLUME(hostDir)}
        - name: scratch
          emptyDir: {}
        - name: greetings
          configMap:
            name: greetings`,
      READER,
      `          volumeMounts:
            - name: host
              mountPath: /srv/host
              readOnly: true
            - name: scratch
              mountPath: /scratch
              subPath: deep/dir
            - name: greetings
              mountPath: /etc/greeting
              subPath: greeting`,
    )
  );
}

describe.skipIf(!isRoot)('Pod Security admission and volumes', () => {
  let fixture: EditableState;
  let hostDir: string;
  let controller: RunningController | undefined;
  let kubeconfig: string;
  let before: Residue;
  const kubectl = (args: string[]) => cmd(['kubectl', '--kubeconfig', kubeconfig, ...args]);

  beforeAll(async () => {
    before = snapshot();
    hostDir = await mkdtemp(path.join(os.tmpdir(), 'pplt-psa-host-'));
    await writeFile(path.join(hostDir, 'hello.txt'), 'hello from the machine\n');
    fixture = await editableState('psa', state(hostDir));
    // The server in the foreground (`lab up --watch`): what it logs is on its stderr.
    controller = await startController(['--name', I, '--state', fixture.state]);
    await until('the reader pod Running', async () => (await getPods(I, true)).some((p) => p.metadata.name.startsWith('reader-') && p.status.phase === 'Running'), 60_000, 200);
    kubeconfig = path.join(fixture.dir, 'k3s.yaml');
    await writeFile(kubeconfig, (await labOk(['kubeconfig', '--name', I])).stdout, { mode: 0o600 });
  }, 120_000);
  afterAll(async () => {
    await controller?.stop();
    await lab(['down', '--name', I]);
    await fixture?.remove();
    if (hostDir) await rm(hostDir, { recursive: true, force: true });
    expect(diff(before, snapshot())).toEqual([]);
  });

  it('the server applies the violating Deployments and logs the API server\'s warning, naming file and object', async () => {
    const text = await readFile(fixture.state, 'utf8');
    // An object's line is its apiVersion's, three lines above metadata.name (0-based index i: line i + 1).
    const lineOf = (name: string) => text.split('\n').indexOf(`  name: ${name}`);
    const log = controller!.log();
    expect(log).toContain(`Warning: ${fixture.state}:${lineOf('hostpath-default') - 2}: Deployment default/hostpath-default: would violate PodSecurity "baseline:latest": hostPath volumes (volume "host")\n`);
    expect(log).toContain(`Warning: ${fixture.state}:${lineOf('hostnet-default') - 2}: Deployment default/hostnet-default: would violate PodSecurity "baseline:latest": host namespaces (hostNetwork=true)\n`);
    expect(log).not.toMatch(/Warning: .*Deployment (tools|kube-system)\//); // warn: privileged there
    for (const name of ['hostpath-default', 'hostnet-default']) expect((await labOk(['get', 'deployments', name, '--name', I])).stdout).toMatch(new RegExp(`^${name}\\s+0/1\\s`, 'm'));
  });

  it('`lab up` beside the server prints the same warnings and stops waiting on the refused Deployments, naming why (exit 1)', async () => {
    const t0 = Date.now();
    const r = await lab(['up', '--name', I, '--state', fixture.state]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^Warning: .*Deployment default\/hostpath-default: would violate PodSecurity "baseline:latest": hostPath volumes \(volume "host"\)$/m);
    expect(r.stderr).toMatch(/^ {2}deployment default\/hostpath-default: FailedCreate: pods "hostpath-default-[a-z0-9]+-[a-z0-9]{5}" is forbidden: violates PodSecurity "baseline:latest": hostPath volumes \(volume "host"\)$/m);
    expect(r.stderr).toContain('The API refuses the pods of 2 Deployment(s)');
    // Well before its 120 s convergence timeout.
    expect(Date.now() - t0).toBeLessThan(60_000);
  });

  it('creates no pod for them; lab events shows FailedCreate with the admission\'s message, retried by the ReplicaSet controller', async () => {
    const events = await until(
      'FailedCreate of both ReplicaSets',
      async () => {
        const out = (await labOk(['events', '--name', I])).stdout;
        return /FailedCreate\s+replicaset\/hostpath-default-/.test(out) && /FailedCreate\s+replicaset\/hostnet-default-/.test(out) && out;
      },
      20_000,
      200,
    );
    expect(events).toMatch(/Warning\s+FailedCreate\s+replicaset\/hostpath-default-[a-z0-9]+\s+Error creating: pods "hostpath-default-[a-z0-9]+-[a-z0-9]{5}" is forbidden: violates PodSecurity "baseline:latest": hostPath volumes \(volume "host"\)\n/);
    expect(events).toMatch(/Warning\s+FailedCreate\s+replicaset\/hostnet-default-[a-z0-9]+\s+Error creating: pods "hostnet-default-[a-z0-9]+-[a-z0-9]{5}" is forbidden: violates PodSecurity "baseline:latest": host namespaces \(hostNetwork=true\)\n/);
    const pods = await getPods(I, true);
    expect(pods.filter((p) => /^host(path|net)-default-/.test(p.metadata.name))).toEqual([]);
    expect(pods.filter((p) => p.metadata.name.startsWith('app2-'))).toHaveLength(3); // the rest of the lab is there
    // The ReplicaSet controller tries again after its backoff (a requeue with rate limit, as
    // kube's): the event's count goes up, and still no pod is created.
    type ApiEvent = { reason: string; involvedObject: { kind: string; name: string }; count: number };
    const failedCreates = async () => (JSON.parse((await labOk(['get', 'events', '--name', I, '-o', 'json'])).stdout) as { items: ApiEvent[] }).items.filter((e) => e.reason === 'FailedCreate' && e.involvedObject.name.startsWith('hostpath-default-'));
    await until('a second FailedCreate of hostpath-default', async () => (await failedCreates()).reduce((n, e) => n + e.count, 0) >= 2, 20_000, 250);
    expect((await getPods(I, true)).filter((p) => /^host(path|net)-default-/.test(p.metadata.name))).toEqual([]);
    // Its ReplicaSet says so in its status, as kube's does.
    const rs = JSON.parse((await labOk(['get', 'replicasets', '--name', I, '-o', 'json'])).stdout) as { items: { metadata: { name: string }; status?: { conditions?: { type: string; reason: string }[] } }[] };
    expect(rs.items.find((r) => r.metadata.name.startsWith('hostpath-default-'))?.status?.conditions).toContainEqual(expect.objectContaining({ type: 'ReplicaFailure', reason: 'FailedCreate' }));
  });

  it('real kubectl: apply of a violating Deployment prints the Warning; a violating pod is Forbidden (403) and not stored', async () => {
    const file = path.join(fixture.dir, 'hostnet.yaml');
    await writeFile(file, deployment('hostnet-kubectl', 'default', '      hostNetwork: true', 'exec httpd -f -p 80'));
    const applied = await kubectl(['apply', '-f', file]);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stderr).toContain('Warning: would violate PodSecurity "baseline:latest": host namespaces (hostNetwork=true)\n');
    expect(applied.stdout).toBe('deployment.apps/hostnet-kubectl created\n');
    const run = await kubectl(['run', 'hostnet-pod', '--image=busybox', '--overrides={"apiVersion":"v1","spec":{"hostNetwork":true}}', '--', 'sleep', '3600']);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toBe('Error from server (Forbidden): pods "hostnet-pod" is forbidden: violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true)\n');
    expect((await kubectl(['get', 'pod', 'hostnet-pod'])).stderr).toContain('pods "hostnet-pod" not found');
    // In the privileged namespace the same template earns no warning (its warn level is privileged).
    await writeFile(file, deployment('hostpath-kubectl', 'tools', HOSTPATH_VOLUME(hostDir), 'exec httpd -f -p 80'));
    const quiet = await kubectl(['apply', '-f', file]);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stderr).toBe('');
  });

  it('a privileged namespace runs the hostPath pod: the machine\'s file, read-only; subPath mounts work', async () => {
    const reader = (await getPods(I, true)).find((p) => p.metadata.namespace === 'tools' && p.metadata.name.startsWith('reader-'));
    expect(reader?.status.phase).toBe('Running');
    const get = async (file: string) => (await curl(NODE, `http://${reader!.status.podIP}/${file}`)).stdout;
    expect(await get('hello')).toBe('hello from the machine\n');
    expect(await get('host-mode')).toBe('read-only\n');
    expect(existsSync(path.join(hostDir, 'written'))).toBe(false);
    // subPath of a ConfigMap: the one key, as a file.
    expect(await get('greeting')).toBe('hello through a subPath\n');
    // subPath of an emptyDir that did not exist: created as a directory inside the volume.
    expect(await get('scratch')).toBe('ok\n');
    const made = path.join('/run/packet-path-lab', I, 'pods', reader!.metadata.name, 'volumes', 'scratch', 'deep', 'dir', 'made-here');
    expect(await readFile(made, 'utf8')).toBe('from-the-pod\n');
    // As kubectl describe shows mounts: the subPath after the mode.
    const described = (await labOk(['describe', 'pod', reader!.metadata.name, '-n', 'tools', '--name', I])).stdout;
    expect(described).toContain('/etc/greeting from greetings (rw,path="greeting")');
    expect(described).toContain('/srv/host from host (ro)');
  });
});
