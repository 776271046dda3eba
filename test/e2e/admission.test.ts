// Issue 12, item 3: Pod Security admission, baseline by default. A Deployment with a hostPath
// volume (or hostNetwork) in `default` is accepted with kubectl's warning, and its ReplicaSet
// cannot create pods: no pod, a FailedCreate event with the admission's message. The same hostPath
// in a namespace labelled `pod-security.kubernetes.io/enforce: privileged` runs, read-only as its
// volumeMount says; subPath mounts (an emptyDir directory created on demand, a ConfigMap key) work.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diff, snapshot, type Residue } from '../residue.ts';
import { curl, editableState, shDeployment, getPods, instanceName, isRoot, lab, labOk, type CmdResult, type EditableState } from './helpers.ts';

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
  let up: CmdResult;
  let before: Residue;

  beforeAll(async () => {
    before = snapshot();
    hostDir = await mkdtemp(path.join(os.tmpdir(), 'pplt-psa-host-'));
    await writeFile(path.join(hostDir, 'hello.txt'), 'hello from the machine\n');
    fixture = await editableState('psa', state(hostDir));
    up = await lab(['up', '--name', I, '--state', fixture.state]);
    if (up.code !== 0) throw new Error(`lab up failed (${up.code}):\n${up.stderr}\n${up.stdout}`);
  });
  afterAll(async () => {
    await lab(['down', '--name', I]);
    await fixture?.remove();
    if (hostDir) await rm(hostDir, { recursive: true, force: true });
    expect(diff(before, snapshot())).toEqual([]);
  });

  it('lab up accepts the violating Deployments with kubectl\'s warning, naming file and object', async () => {
    const text = await readFile(fixture.state, 'utf8');
    // An object's line is its apiVersion's, three lines above metadata.name (0-based index i: line i + 1).
    const lineOf = (name: string) => text.split('\n').indexOf(`  name: ${name}`);
    expect(up.stderr).toContain(`Warning: ${fixture.state}:${lineOf('hostpath-default') - 2}: Deployment default/hostpath-default: would violate PodSecurity "baseline:latest": hostPath volumes (volume "host")\n`);
    expect(up.stderr).toContain(`Warning: ${fixture.state}:${lineOf('hostnet-default') - 2}: Deployment default/hostnet-default: would violate PodSecurity "baseline:latest": host namespaces (hostNetwork=true)\n`);
    expect(up.stderr).not.toMatch(/Warning: .*Deployment (tools|kube-system)\//); // warn: privileged there
  });

  it('creates no pod for them; lab events shows FailedCreate with the admission\'s message', async () => {
    const pods = await getPods(I, true);
    expect(pods.filter((p) => /^host(path|net)-default-/.test(p.metadata.name))).toEqual([]);
    expect(pods.filter((p) => p.metadata.name.startsWith('app2-'))).toHaveLength(3); // the rest of the lab is there
    const events = (await labOk(['events', '--name', I])).stdout;
    expect(events).toMatch(/Warning\s+FailedCreate\s+replicaset\/hostpath-default-[a-z0-9]+\s+Error creating: pods "hostpath-default-[a-z0-9]+-[a-z0-9]{5}" is forbidden: violates PodSecurity "baseline:latest": hostPath volumes \(volume "host"\)\n/);
    expect(events).toMatch(/Warning\s+FailedCreate\s+replicaset\/hostnet-default-[a-z0-9]+\s+Error creating: pods "hostnet-default-[a-z0-9]+-[a-z0-9]{5}" is forbidden: violates PodSecurity "baseline:latest": host namespaces \(hostNetwork=true\)\n/);
    // A second `up` tries again (the ReplicaSet's next sync) and still creates nothing.
    await labOk(['up', '--name', I, '--state', fixture.state]);
    expect((await getPods(I, true)).filter((p) => /^host(path|net)-default-/.test(p.metadata.name))).toEqual([]);
    const again = (await labOk(['events', '--name', I])).stdout;
    expect(again.match(/FailedCreate\s+replicaset\/hostpath-default-/g)).toHaveLength(2);
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
