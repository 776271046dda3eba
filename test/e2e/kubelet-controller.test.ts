// The kubelet as a controller on the API (issue 13): a sandbox node as `lab up` makes it, the
// control plane on an in-memory store, and the kubelet controller watching its node's pods. A
// Deployment's pods run for real (runc, CNI): Ready in the API with their addresses, httpd
// answering from the node; a killed container shows ready=false in the API, then restarts (count
// 1) and is Ready again; a deleted pod is gone from the API and its namespace from the machine; a
// new kubelet adopts the running containers (same pids, no restart, still Ready); logs and exec.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Readable } from 'node:stream';
import { defaultClusterConfig } from '../../src/api/load.ts';
import { InformerFactory } from '../../src/client/controller.ts';
import type { KubeObject, WatchEvent } from '../../src/client/types.ts';
import { ControlPlane } from '../../src/controllers/control-plane.ts';
import { down } from '../../src/controllers/down.ts';
import { KubeletController } from '../../src/kubelet/kubelet-controller.ts';
import { KubeletStreams } from '../../src/kubelet/streams.ts';
import { instancePaths } from '../../src/node/instance.ts';
import { describeNode } from '../../src/node/node.ts';
import { ensureNode } from '../../src/node/setup.ts';
import { writeNodeCniConfig } from '../../src/cni/node-config.ts';
import { attachmentAddresses, readAttachments } from '../../src/cni/pod-network.ts';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { renderSubnetEnv } from '../../src/flannel/subnet-env.ts';
import { parseCidr } from '../../src/util/cidr.ts';
import path from 'node:path';
import { netnsExists } from '../../src/sys/ip.ts';
import { signalProcess } from '../../src/sys/proc.ts';
import { cmd, curl, instanceName, isRoot, until } from './helpers.ts';

const PODS = { group: '', resource: 'pods' };
const instance = instanceName('kubeletc');
const paths = instancePaths(instance);
const config = defaultClusterConfig('labs');
const node = describeNode(config, 'sandbox', paths);
const host = { bootID: 'b', machineID: 'm', osImage: 'Debian', kernelVersion: '6', architecture: 'amd64', cpus: 2, memoryKi: 1 };

interface ApiPodView extends KubeObject {
  spec: { nodeName?: string };
  status?: {
    phase?: string;
    podIP?: string;
    podIPs?: { ip: string }[];
    conditions?: { type: string; status: string }[];
    containerStatuses?: { name: string; ready: boolean; restartCount: number; containerID?: string; state: Record<string, unknown> }[];
  };
}

const ready = (p: ApiPodView) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

let cp: ControlPlane | undefined;
let factory: InformerFactory | undefined;
let kubelet: KubeletController | undefined;
const logs: string[] = [];
const log = (l: string) => logs.push(l);

function startKubelet(): Promise<void> {
  factory = new InformerFactory((r, sel) => cp!.client.listWatch(r, sel));
  kubelet = new KubeletController({ client: cp!.client, factory, node, paths, config, log });
  return kubelet.start();
}

async function stopKubelet(): Promise<void> {
  await kubelet?.stop();
  factory?.stop();
  kubelet = undefined;
  factory = undefined;
}

async function appPods(): Promise<ApiPodView[]> {
  return (await cp!.client.list<ApiPodView>(PODS, { namespace: 'default', labelSelector: 'app=web' })).items.filter((p) => !p.metadata.deletionTimestamp);
}

async function twoReady(): Promise<ApiPodView[] | false> {
  const pods = await appPods();
  return pods.length === 2 && pods.every((p) => ready(p) && p.status?.podIPs?.[0]?.ip) && pods;
}

function text(stream: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    let s = '';
    stream.on('data', (d: Buffer) => (s += d.toString()));
    stream.on('end', () => resolve(s));
    stream.on('error', reject);
  });
}

const manifests = [
  { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'web-html', namespace: 'default' }, data: { 'index.html': 'hello from the kubelet controller\n' } },
  {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default' },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          terminationGracePeriodSeconds: 2,
          containers: [
            {
              name: 'web',
              image: 'busybox',
              command: ['httpd', '-f', '-v', '-p', '80', '-h', '/usr/share/html'],
              ports: [{ name: 'http', containerPort: 80 }],
              volumeMounts: [{ name: 'html', mountPath: '/usr/share/html' }],
              readinessProbe: { httpGet: { path: '/', port: 'http' } },
            },
          ],
          volumes: [{ name: 'html', configMap: { name: 'web-html' } }],
        },
      },
    },
  },
];

describe.skipIf(!isRoot)('kubelet controller on the API', { timeout: 180_000 }, () => {
  beforeAll(async () => {
    await ensureNode(node, paths, { hostsLines: [] });
    await writeNodeCniConfig(node, paths);
    // subnet.env as flanneld would write it (this test runs no flannel).
    await mkdir(path.dirname(paths.subnetEnvFile(node.name)), { recursive: true });
    await writeFile(paths.subnetEnvFile(node.name), renderSubnetEnv({ network: parseCidr(config.clusterCIDR), subnet: node.podCIDR, mtu: 1450, ipMasq: true }));
    cp = new ControlPlane({
      storePath: ':memory:',
      api: { clusterIP: '10.43.0.1', endpointIP: node.nodeIP, port: 6443 },
      node: { name: node.name, nodeIP: node.nodeIP, podCIDR: '10.42.0.0/24', role: 'server', host, kubeletVersion: 'v1.32.0+lab', containerRuntimeVersion: 'runc://1.1.5', maxPods: 251 },
      log,
    });
    await cp.start();
    await startKubelet();
    for (const m of manifests) await cp.client.create(m.kind === 'ConfigMap' ? { group: '', resource: 'configmaps' } : { group: 'apps', resource: 'deployments' }, m as unknown as KubeObject);
  }, 120_000);

  afterAll(async () => {
    try {
      await stopKubelet();
      await cp?.stop();
    } finally {
      await down({ instance });
    }
  }, 120_000);

  it('runs the pods: Running and Ready in the API with pod IPs, httpd answering from the node', async () => {
    const pods = await until('2 pods Ready in the API', twoReady, 60_000);
    for (const p of pods) {
      expect(p.status?.phase).toBe('Running');
      expect(p.status?.podIP).toMatch(/^10\.42\.0\.\d+$/);
      expect(p.status?.containerStatuses?.[0]).toMatchObject({ name: 'web', ready: true, restartCount: 0, containerID: expect.stringMatching(/^runc:\/\/[0-9a-f]{64}$/) });
      const r = await curl(paths.nodeNetns, `http://${p.status!.podIP}/`);
      expect(r.stdout).toContain('hello from the kubelet controller');
    }
    const events = (await cp!.client.list<KubeObject & { reason: string; message: string; source: { component: string; host?: string } }>({ group: '', resource: 'events' }, { namespace: 'default' })).items;
    const mine = events.filter((e) => e.source.component === 'kubelet');
    expect(mine.map((e) => e.reason)).toEqual(expect.arrayContaining(['Pulled', 'Created', 'Started']));
    expect(mine.find((e) => e.reason === 'Created')?.message).toBe('Created container: web');
    expect(mine.every((e) => e.source.host === node.name)).toBe(true);
  });

  it('a killed container: ready=false in the API, restarted (count 1), Ready again', async () => {
    const before = await until('2 pods Ready', twoReady, 30_000);
    const pod = before[0];
    const name = pod!.metadata.name;
    const pid = kubelet!.record('default', name)!.pod.status.containerStatuses[0]!.pid!;
    expect(pid).toBeGreaterThan(0);
    // Every status the API stores for this pod from now on.
    const seen: ApiPodView[] = [];
    const list = await cp!.client.list<ApiPodView>(PODS, { namespace: 'default', fieldSelector: `metadata.name=${name}` });
    const cancel = cp!.client.listWatch<ApiPodView>(PODS, { namespace: 'default', fieldSelector: `metadata.name=${name}` }).watch({ resourceVersion: list.resourceVersion }, (e: WatchEvent<ApiPodView>) => seen.push(e.object), () => {});
    try {
      const t0 = performance.now();
      let notReadyMs = -1;
      const timer = setInterval(() => {
        if (notReadyMs < 0 && seen.some((p) => !ready(p))) notReadyMs = performance.now() - t0;
      }, 1);
      signalProcess(pid, 'SIGKILL');
      await until('ready=false in the API', async () => notReadyMs >= 0, 5_000, 5).finally(() => clearInterval(timer));
      // The crash flow's first hop (the old path measured crash -> endpoint removed, p99 39 ms).
      expect(notReadyMs).toBeLessThan(500);
      log(`crash -> Ready=False in the API: ${notReadyMs.toFixed(1)} ms`);
      const back = await until('the pod Ready again after a restart', async () => {
        const p = await cp!.client.get<ApiPodView>(PODS, 'default', name);
        return ready(p) && p.status?.containerStatuses?.[0]?.restartCount === 1 && p;
      }, 30_000, 20);
      expect(back.status?.containerStatuses?.[0]?.state.running).toBeTruthy();
      const firstNotReady = seen.findIndex((p) => !ready(p));
      expect(firstNotReady).toBeGreaterThanOrEqual(0);
      // The first write after the kill says not ready, before any restart.
      expect(seen[firstNotReady]!.status?.containerStatuses?.[0]).toMatchObject({ ready: false, restartCount: 0 });
      expect(seen[firstNotReady]!.status?.containerStatuses?.[0]?.state.running).toBeUndefined();
      expect(kubelet!.record('default', name)!.pod.status.containerStatuses[0]!.pid).not.toBe(pid);
    } finally {
      cancel();
    }
    // The killed instance's output is the previous log now.
    const streams = new KubeletStreams(paths, kubelet!);
    const prev = await text(await streams.logs({ namespace: 'default', name, uid: pod!.metadata.uid! }, 'web', { previous: true }));
    expect(prev).toMatch(/response:200/); // the readiness probes the killed instance answered
    const other = (await twoReady() || before).find((p) => p.metadata.name !== name)!;
    await expect(streams.logs({ namespace: 'default', name: other.metadata.name, uid: other.metadata.uid! }, 'web', { previous: true })).rejects.toThrow(`previous terminated container "web" in pod "${other.metadata.name}" not found`);
  });

  it('a deleted pod: gone from the API after its grace period, its network namespace gone, a replacement Ready', async () => {
    const [pod] = (await twoReady()) || (await until('2 pods Ready', twoReady, 30_000));
    const name = pod!.metadata.name;
    expect(netnsExists(paths.podNetns(name))).toBe(true);
    await cp!.client.delete(PODS, 'default', name);
    await until('the pod gone from the API', () => cp!.client.get(PODS, 'default', name).then(() => false, () => true), 30_000);
    expect(netnsExists(paths.podNetns(name))).toBe(false);
    const pods = await until('a replacement Ready', twoReady, 60_000);
    expect(pods.map((p) => p.metadata.name)).not.toContain(name);
  });

  it('a new kubelet adopts the running containers: same pids, no restart, still Ready', async () => {
    const before = await until('2 pods Ready', twoReady, 30_000);
    const pids = new Map(before.map((p) => [p.metadata.name, kubelet!.record('default', p.metadata.name)!.pod.status.containerStatuses[0]!.pid]));
    const restarts = new Map(before.map((p) => [p.metadata.name, p.status!.containerStatuses![0]!.restartCount]));
    await stopKubelet();
    await startKubelet();
    for (const p of before) {
      const rec = kubelet!.record('default', p.metadata.name)!;
      expect(rec.pod.status.containerStatuses[0]!.pid).toBe(pids.get(p.metadata.name));
    }
    // A while later: still the same processes, the same counts, still Ready (probes resumed), and
    // an idle node writes nothing: no pod changed in the API meanwhile.
    const list = await cp!.client.list<ApiPodView>(PODS, { namespace: 'default' });
    const writes: string[] = [];
    const cancel = cp!.client.listWatch<ApiPodView>(PODS, { namespace: 'default' }).watch({ resourceVersion: list.resourceVersion }, (e) => writes.push(`${e.type} ${e.object.metadata.name}`), () => {});
    await new Promise((r) => setTimeout(r, 1500));
    cancel();
    expect(writes).toEqual([]);
    const after = await appPods();
    expect(after.map((p) => p.metadata.name).sort()).toEqual(before.map((p) => p.metadata.name).sort());
    for (const p of after) {
      expect(ready(p)).toBe(true);
      expect(p.status!.containerStatuses![0]!.restartCount).toBe(restarts.get(p.metadata.name));
      expect(kubelet!.record('default', p.metadata.name)!.pod.status.containerStatuses[0]!.pid).toBe(pids.get(p.metadata.name));
    }
    expect(logs.join('\n')).toMatch(/adopted 1 running container/);
  });

  it('an adopted container that dies is noticed (liveness poll) and restarted', async () => {
    const [pod] = await until('2 pods Ready', twoReady, 30_000);
    const name = pod!.metadata.name;
    const count = pod!.status!.containerStatuses![0]!.restartCount;
    signalProcess(kubelet!.record('default', name)!.pod.status.containerStatuses[0]!.pid!, 'SIGKILL');
    await until('restarted and Ready', async () => {
      const p = await cp!.client.get<ApiPodView>(PODS, 'default', name);
      return ready(p) && p.status!.containerStatuses![0]!.restartCount === count + 1;
    }, 30_000, 20);
  });

  it('logs and exec through the kubelet streams', async () => {
    const [pod] = await until('2 pods Ready', twoReady, 30_000);
    const ref = { namespace: 'default', name: pod!.metadata.name, uid: pod!.metadata.uid! };
    const streams = new KubeletStreams(paths, kubelet!);
    // busybox httpd -v logs one line per request: "[::ffff:<client>]:<port>: response:200".
    const lines = async () => (await text(await streams.logs(ref, 'web', {}))).split('\n').filter((l) => /response:200/.test(l)).length;
    const before = await lines();
    // Followed: the new line arrives on the open stream.
    const followed = await streams.logs(ref, 'web', { follow: true, tailLines: 0 });
    let live = '';
    followed.on('data', (d: Buffer) => (live += d.toString()));
    await curl(paths.nodeNetns, `http://${pod!.status!.podIP}/index.html`);
    await until('the request in the log', async () => (await lines()) > before, 10_000);
    await until('the request on the followed stream', async () => /10\.42\.0\.1\]:\d+: response:200/.test(live), 5_000);
    followed.destroy();
    expect(await text(await streams.logs(ref, 'web', { tailLines: 1 }))).not.toContain('\n\n');
    const s = await streams.exec(ref, 'web', ['cat', '/etc/resolv.conf'], { tty: false, stdin: false });
    const [stdout, done] = await Promise.all([text(s.stdout), s.done]);
    expect(done.exitCode).toBe(0);
    expect(stdout).toContain('nameserver 10.43.0.10');
    expect(stdout).toContain('search default.svc.cluster.local svc.cluster.local cluster.local');
    await expect(streams.exec(ref, 'nope', ['true'], { tty: false, stdin: false })).rejects.toThrow('container not found ("nope")');
  });

  it('a pod deleted from the API while the kubelet was down: its containers and network removed as orphans', async () => {
    const [pod] = await until('2 pods Ready', twoReady, 30_000);
    const name = pod!.metadata.name;
    await stopKubelet();
    // The kubelet's own final delete, sent by someone else (kubectl delete --force --grace-period=0).
    await cp!.client.delete(PODS, 'default', name, { gracePeriodSeconds: 0 });
    expect(netnsExists(paths.podNetns(name))).toBe(true);
    await startKubelet();
    expect(netnsExists(paths.podNetns(name))).toBe(false);
    expect(logs.join('\n')).toContain(`removing 1 orphaned pod(s): ${name}`);
    // Its CNI DEL ran: no cached result, its address back with host-local.
    await expectNetworkMatchesPods();
    await until('a replacement Ready', twoReady, 60_000);
  });

  it('a pod whose network namespace was deleted: SandboxChanged, a new sandbox, Ready again', async () => {
    const [pod] = await until('2 pods Ready', twoReady, 30_000);
    const name = pod!.metadata.name;
    const count = pod!.status!.containerStatuses![0]!.restartCount;
    await cmd(['ip', 'netns', 'delete', paths.podNetns(name)]);
    await until('Ready again in a new sandbox', async () => {
      const p = await cp!.client.get<ApiPodView>(PODS, 'default', name);
      return ready(p) && p.status!.containerStatuses![0]!.restartCount === count + 1 && netnsExists(paths.podNetns(name)) && p;
    }, 30_000, 50);
    const p = await cp!.client.get<ApiPodView>(PODS, 'default', name);
    expect((await curl(paths.nodeNetns, `http://${p.status!.podIP}/`)).stdout).toContain('hello from the kubelet controller');
    const events = (await cp!.client.list<KubeObject & { reason: string; message: string; involvedObject: { name: string } }>({ group: '', resource: 'events' }, { namespace: 'default' })).items;
    expect(events.find((e) => e.involvedObject.name === name && e.reason === 'SandboxChanged')?.message).toBe('Pod sandbox changed, it will be killed and re-created.');
    // The old sandbox's CNI DEL gave its address back; the new one has its own ADD.
    await expectNetworkMatchesPods();
  });

  it('crashing again within the backoff: CrashLoopBackOff and a BackOff event, restarted after 10 s', async () => {
    const [pod] = await until('2 pods Ready', twoReady, 30_000);
    const name = pod!.metadata.name;
    const uid = pod!.metadata.uid!;
    const count = pod!.status!.containerStatuses![0]!.restartCount;
    const kill = () => signalProcess(kubelet!.record('default', name)!.pod.status.containerStatuses[0]!.pid!, 'SIGKILL');
    kill();
    await until('restarted once', async () => {
      const p = await cp!.client.get<ApiPodView>(PODS, 'default', name);
      return ready(p) && p.status!.containerStatuses![0]!.restartCount === count + 1;
    }, 30_000, 20);
    kill();
    const waiting = await until('CrashLoopBackOff in the API', async () => {
      const p = await cp!.client.get<ApiPodView>(PODS, 'default', name);
      const w = p.status!.containerStatuses![0]!.state.waiting as { reason: string; message: string } | undefined;
      return w?.reason === 'CrashLoopBackOff' && w;
    }, 5_000, 20);
    expect(waiting.message).toBe(`back-off 10s restarting failed container=web pod=${name}_default(${uid})`);
    const events = (await cp!.client.list<KubeObject & { reason: string; message: string; type: string }>({ group: '', resource: 'events' }, { namespace: 'default' })).items;
    expect(events.find((e) => e.reason === 'BackOff')).toMatchObject({ type: 'Warning', message: `Back-off restarting failed container web in pod ${name}_default(${uid})` });
    await until('restarted after the backoff', async () => {
      const p = await cp!.client.get<ApiPodView>(PODS, 'default', name);
      return ready(p) && p.status!.containerStatuses![0]!.restartCount === count + 2;
    }, 20_000, 100);
    expect(events.some((e) => e.reason === 'Killing' && e.message === 'Stopping container web')).toBe(true);
  });

  it('a pod whose ConfigMap does not exist yet: FailedMount and no container; it runs and serves the page once the ConfigMap is made', async () => {
    const CONFIGMAPS = { group: '', resource: 'configmaps' };
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'late-html', namespace: 'default' },
      spec: {
        nodeName: node.name,
        terminationGracePeriodSeconds: 0,
        containers: [{ name: 'web', image: 'busybox', command: ['httpd', '-f', '-p', '80', '-h', '/usr/share/html'], ports: [{ name: 'http', containerPort: 80 }], volumeMounts: [{ name: 'html', mountPath: '/usr/share/html' }], readinessProbe: { httpGet: { path: '/', port: 'http' } } }],
        volumes: [{ name: 'html', configMap: { name: 'late-html' } }],
      },
    };
    await cp!.client.create(PODS, pod as unknown as KubeObject);
    try {
      const message = 'MountVolume.SetUp failed for volume "html" : configmap "late-html" not found';
      await until('FailedMount', async () => (await cp!.client.list<KubeObject & { reason: string; message: string; involvedObject: { name: string } }>({ group: '', resource: 'events' }, { namespace: 'default' })).items.some((e) => e.involvedObject.name === 'late-html' && e.reason === 'FailedMount' && e.message === message), 20_000);
      // Nothing started: no container status, no sandbox's address, no network of its own.
      const waiting = await cp!.client.get<ApiPodView>(PODS, 'default', 'late-html');
      expect(waiting.status?.containerStatuses ?? []).toEqual([]);
      expect(waiting.status?.podIP).toBeUndefined();
      expect(netnsExists(paths.podNetns('late-html'))).toBe(false);
      await cp!.client.create(CONFIGMAPS, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'late-html', namespace: 'default' }, data: { 'index.html': 'here at last\n' } } as unknown as KubeObject);
      const running = await until('late-html Ready', async () => {
        const p = await cp!.client.get<ApiPodView>(PODS, 'default', 'late-html');
        return ready(p) && p;
      }, 30_000);
      expect((await curl(paths.nodeNetns, `http://${running.status!.podIP}/`)).stdout).toBe('here at last\n');
    } finally {
      await cp!.client.delete(PODS, 'default', 'late-html').catch(() => {});
      await cp!.client.delete(CONFIGMAPS, 'default', 'late-html').catch(() => {});
      await until('late-html gone', async () => !netnsExists(paths.podNetns('late-html')) && !(await cp!.client.list<ApiPodView>(PODS, { namespace: 'default' })).items.some((p) => p.metadata.name === 'late-html'), 30_000);
    }
  });

  it('pods made together are synced together: one batch, their CNI ADDs at once', async () => {
    const DEPLOY = { group: 'apps', resource: 'deployments' };
    const from = logs.length;
    await cp!.client.mutate<KubeObject & { spec: { replicas: number } }>(DEPLOY, 'default', 'web', (d) => ({ ...d, spec: { ...d.spec, replicas: 8 } }));
    await until('8 pods Ready', async () => {
      const pods = await appPods();
      return pods.length === 8 && pods.every(ready);
    }, 60_000);
    const batches = logs.slice(from).map((l) => /syncing (\d+) new pods/.exec(l)?.[1]).filter(Boolean).map(Number);
    // The ReplicaSet controller creates the 6 in one burst; the kubelet syncs them in one batch
    // (or, should the watch split the burst, in far fewer syncs than pods).
    expect(batches.length).toBeGreaterThan(0);
    expect(batches.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(Math.min(6, batches.length * 2));
    expect(batches.length).toBeLessThanOrEqual(3);
    await cp!.client.mutate<KubeObject & { spec: { replicas: number } }>(DEPLOY, 'default', 'web', (d) => ({ ...d, spec: { ...d.spec, replicas: 2 } }));
    await until('back to 2 pods', async () => (await cp!.client.list<ApiPodView>(PODS, { namespace: 'default', labelSelector: 'app=web' })).items.length === 2, 30_000).catch(async (e: Error) => {
      const left = (await cp!.client.list<ApiPodView>(PODS, { namespace: 'default', labelSelector: 'app=web' })).items.map((p) => `${p.metadata.name} ${p.metadata.deletionTimestamp ?? ''} ${p.metadata.deletionGracePeriodSeconds ?? ''}`);
      throw new Error(`${e.message}: ${left.join('; ')}\n${logs.slice(from).join('\n')}`);
    });
    await until('the 6 removed pods\' networks deleted', async () => (await readAttachments(paths, node.name)).length === 2, 30_000);
    await expectNetworkMatchesPods();
  });
});

/**
 * The node's CNI state is exactly its pods': one cached ADD result per pod (its namespace, its
 * address in the API) and one host-local allocation per result.
 */
async function expectNetworkMatchesPods(): Promise<void> {
  const pods = (await cp!.client.list<ApiPodView>(PODS, {})).items.filter((p) => p.spec.nodeName === node.name && p.status?.podIP);
  const attached = await readAttachments(paths, node.name);
  expect(attached.map((a) => `${a.netns} ${attachmentAddresses(a).podIP}`).sort()).toEqual(pods.map((p) => `${paths.podNetns(p.metadata.name)} ${p.status!.podIP}`).sort());
  const allocated = (await readdir(path.join(paths.cniDataDir(node.name), 'cbr0'))).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f));
  expect(allocated.sort()).toEqual(pods.map((p) => p.status!.podIP!).sort());
}
