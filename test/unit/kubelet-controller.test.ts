// The kubelet controller's pure parts: which pods to start, stop or remove; the status it writes
// to the API (kube's conditions, reasons and transition times, never the kubelet's private
// fields); adoption after a restart; kube's backoff texts; the log tail.
import { describe, expect, it } from 'vitest';
import type { Pod } from '../../src/api/types.ts';
import { instancePaths } from '../../src/node/instance.ts';
import { backOffEventMessage, backOffWaitingMessage, goDuration, planPodWork, remainingGrace } from '../../src/kubelet/kubelet-plan.ts';
import { adoptStatuses, toInternalPod, type ApiPod } from '../../src/kubelet/pod-convert.ts';
import { apiPodStatus, podPhase, sameStatus } from '../../src/kubelet/pod-status.ts';
import { tailLines } from '../../src/kubelet/streams.ts';

const paths = instancePaths('kt');
const apiPod = (over: Partial<ApiPod['metadata']> = {}): ApiPod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web-1', namespace: 'default', uid: 'u1', ...over },
  spec: { nodeName: 'labs', containers: [{ name: 'web', image: 'busybox', command: ['httpd', '-f'], ports: [{ containerPort: 80 }], readinessProbe: { httpGet: { port: 80 }, periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 } }] },
  status: { phase: 'Pending', qosClass: 'BestEffort' },
});
const T0 = '2026-01-01T00:00:00Z';
const T1 = '2026-01-01T00:00:05Z';

function running(pod: Pod, ready: boolean): Pod {
  pod.status.podIP = '10.42.0.5';
  pod.status.startTime = T0;
  pod.status.containerStatuses = [{ name: 'web', ready, started: true, restartCount: 0, containerID: 'runc://abc', pid: 4242, state: { running: { startedAt: T0 } }, backoff: { crashes: 0, lastStart: 1 } }];
  return pod;
}

describe('planPodWork', () => {
  it('creates new pods together, terminates deleting ones once, removes gone or replaced ones', () => {
    const api = new Map([
      ['default/new', { uid: 'n' }],
      ['default/del', { uid: 'd', deletionTimestamp: T0 }],
      ['default/replaced', { uid: 'r2' }],
      ['default/same', { uid: 's' }],
      ['default/stopping', { uid: 't', deletionTimestamp: T0 }],
    ]);
    const known = new Map([
      ['default/gone', { uid: 'g', terminating: false }],
      ['default/replaced', { uid: 'r1', terminating: false }],
      ['default/same', { uid: 's', terminating: false }],
      ['default/del', { uid: 'd', terminating: false }],
      ['default/stopping', { uid: 't', terminating: true }],
    ]);
    const w = planPodWork([...api.keys(), 'default/gone', 'default/new'], (k) => api.get(k), (k) => known.get(k));
    expect(w).toEqual({ create: ['default/new', 'default/replaced'], terminate: ['default/del'], remove: ['default/replaced', 'default/gone'] });
  });

  it('a pod deleting before the kubelet ever started it is still terminated (the final delete is the kubelet\'s)', () => {
    expect(planPodWork(['a/b'], () => ({ uid: 'x', deletionTimestamp: T0 }), () => undefined).terminate).toEqual(['a/b']);
  });
});

describe('grace and backoff texts', () => {
  it('the grace left runs to deletionTimestamp, never beyond the period', () => {
    const now = Date.parse(T0);
    expect(remainingGrace({ deletionTimestamp: T1, deletionGracePeriodSeconds: 30 }, now)).toBe(5);
    expect(remainingGrace({ deletionTimestamp: '2026-01-01T01:00:00Z', deletionGracePeriodSeconds: 2 }, now)).toBe(2);
    expect(remainingGrace({ deletionTimestamp: T0, deletionGracePeriodSeconds: 30 }, now + 1000)).toBe(0);
  });

  it('Go durations and kube\'s messages', () => {
    expect([10_000, 160_000, 300_000, 0].map(goDuration)).toEqual(['10s', '2m40s', '5m0s', '0s']);
    const pod = { name: 'web-1', namespace: 'default', uid: 'u1' };
    expect(backOffWaitingMessage(20_000, 'web', pod)).toBe('back-off 20s restarting failed container=web pod=web-1_default(u1)');
    expect(backOffEventMessage('web', pod)).toBe('Back-off restarting failed container web in pod web-1_default(u1)');
  });
});

describe('toInternalPod', () => {
  it('defaults what the API may omit and names the sandbox after the pod', () => {
    const p = toInternalPod(apiPod(), paths);
    expect(p.metadata.labels).toEqual({});
    expect(p.metadata.annotations['lab/netns']).toBe('kt-web-1');
    // The veth is the bridge plugin's to name: known from its ADD result, not from the pod.
    expect(p.metadata.annotations['lab/veth']).toBeUndefined();
    expect(p.spec.restartPolicy).toBe('Always');
    expect(p.spec.terminationGracePeriodSeconds).toBe(30);
    expect(p.spec.containers[0]!.readinessProbe).toMatchObject({ httpGet: { path: '/', port: 80 }, initialDelaySeconds: 0, periodSeconds: 10 });
    expect(p.spec.containers[0]!.ports).toEqual([{ containerPort: 80, protocol: 'TCP' }]);
    expect(p.status.containerStatuses).toEqual([]);
  });
});

describe('apiPodStatus', () => {
  it('a pod being created: Pending, ContainerCreating, no pod IP, v1.32 conditions in the kubelet\'s order', () => {
    const s = apiPodStatus(toInternalPod(apiPod(), paths), { phase: 'Pending', qosClass: 'BestEffort' }, { nodeIP: '192.168.56.110', now: T0 });
    expect(s.phase).toBe('Pending');
    expect((s.conditions as { type: string; status: string }[]).map((c) => `${c.type}=${c.status}`)).toEqual(['PodReadyToStartContainers=False', 'Initialized=True', 'Ready=False', 'ContainersReady=False', 'PodScheduled=True']);
    expect(s.containerStatuses).toEqual([{ image: 'docker.io/library/busybox:latest', imageID: '', lastState: {}, name: 'web', ready: false, restartCount: 0, started: false, state: { waiting: { reason: 'ContainerCreating' } } }]);
    expect(s.podIP).toBeUndefined();
    expect(s.hostIPs).toEqual([{ ip: '192.168.56.110' }]);
    expect(s.qosClass).toBe('BestEffort');
  });

  it('running and ready: addresses, runc:// ID, image ID; no pid or backoff in the API', () => {
    const pod = running(toInternalPod(apiPod(), paths), true);
    const s = apiPodStatus(pod, undefined, { nodeIP: '192.168.56.110', now: T0, imageIDs: new Map([['docker.io/library/busybox', 'sha256:ff']]) });
    expect(s).toMatchObject({ phase: 'Running', podIP: '10.42.0.5', podIPs: [{ ip: '10.42.0.5' }], startTime: T0 });
    expect(s.containerStatuses).toEqual([{ containerID: 'runc://abc', image: 'docker.io/library/busybox:latest', imageID: 'docker.io/library/busybox@sha256:ff', lastState: {}, name: 'web', ready: true, restartCount: 0, started: true, state: { running: { startedAt: T0 } } }]);
    expect(JSON.stringify(s)).not.toMatch(/pid|backoff|crashes/);
  });

  it('lastTransitionTime moves only on a transition; an unchanged status compares equal', () => {
    const pod = running(toInternalPod(apiPod(), paths), true);
    const first = apiPodStatus(pod, undefined, { nodeIP: '192.168.56.110', now: T0 });
    const again = apiPodStatus(pod, first, { nodeIP: '192.168.56.110', now: T1 });
    expect(sameStatus(first, again)).toBe(true);
    pod.status.containerStatuses[0]!.ready = false;
    const unready = apiPodStatus(pod, again, { nodeIP: '192.168.56.110', now: T1 });
    expect(sameStatus(unready, again)).toBe(false);
    const conds = unready.conditions as { type: string; status: string; lastTransitionTime: string; reason?: string; message?: string }[];
    expect(conds.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', lastTransitionTime: T1, reason: 'ContainersNotReady', message: 'containers with unready status: [web]' });
    expect(conds.find((c) => c.type === 'PodScheduled')!.lastTransitionTime).toBe(T0);
  });

  it('a crash: waiting in CrashLoopBackOff with the terminated instance as lastState, phase Running', () => {
    const pod = running(toInternalPod(apiPod(), paths), true);
    const st = pod.status.containerStatuses[0]!;
    st.pid = undefined;
    st.ready = false;
    st.lastState = { terminated: { exitCode: 137, reason: 'Error', startedAt: T0, finishedAt: T1 } };
    st.state = { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 10s restarting failed container=web pod=web-1_default(u1)' } };
    const s = apiPodStatus(pod, undefined, { nodeIP: '192.168.56.110', now: T1 });
    expect(s.phase).toBe('Running');
    expect((s.containerStatuses as object[])[0]).toMatchObject({ ready: false, started: false, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 137, reason: 'Error', containerID: 'runc://abc' } } });
  });

  it('restartPolicy Never: all exited 0 is Succeeded, any other exit Failed', () => {
    const pod = toInternalPod(apiPod(), paths);
    pod.spec.restartPolicy = 'Never';
    pod.status.containerStatuses = [{ name: 'web', ready: false, started: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed', finishedAt: T1 } } }];
    expect(podPhase(pod)).toBe('Succeeded');
    pod.status.containerStatuses[0]!.state.terminated!.exitCode = 1;
    expect(podPhase(pod)).toBe('Failed');
  });
});

describe('adoptStatuses', () => {
  const live = new Map([['web', { id: 'abc', pid: 4242 }]]);
  it('a container still running is adopted as the API knew it: same start, readiness kept', () => {
    const pod = toInternalPod(apiPod(), paths);
    const [st] = adoptStatuses(pod, [{ name: 'web', containerID: 'runc://abc', ready: true, started: true, restartCount: 2, state: { running: { startedAt: T0 } } }], live, T1);
    expect(st).toMatchObject({ pid: 4242, ready: true, started: true, restartCount: 2, containerID: 'runc://abc', state: { running: { startedAt: T0 } } });
  });

  it('one that ended while nobody watched: ContainerStatusUnknown, started again with its count carried on', () => {
    const pod = toInternalPod(apiPod(), paths);
    const [st] = adoptStatuses(pod, [{ name: 'web', containerID: 'runc://old', ready: true, started: true, restartCount: 1, state: { running: { startedAt: T0 } } }], new Map(), T1);
    expect(st).toMatchObject({ ready: false, restartCount: 1, state: { waiting: { reason: 'ContainerCreating' } }, lastState: { terminated: { exitCode: 137, reason: 'ContainerStatusUnknown' } } });
    expect(st!.pid).toBeUndefined();
  });

  it('never started: nothing (the sync starts it)', () => {
    expect(adoptStatuses(toInternalPod(apiPod(), paths), [], new Map(), T1)).toEqual([]);
  });
});

describe('tailLines', () => {
  it('keeps the last n lines and the final newline', () => {
    expect(tailLines('a\nb\nc\n', 2)).toBe('b\nc\n');
    expect(tailLines('a\nb', 1)).toBe('b');
    expect(tailLines('a\n', 0)).toBe('');
  });
});

describe('KubeletController on a registry (no containers)', () => {
  it('holds its node\'s Lease, watches only its node\'s pods, and gives a deleted pod it never ran its final delete', async () => {
    const { Registry } = await import('../../src/api/server/registry.ts');
    const { KineStore } = await import('../../src/api/storage/kine.ts');
    const { bootstrap } = await import('../../src/api/server/bootstrap.ts');
    const { LocalClient } = await import('../../src/client/local.ts');
    const { InformerFactory } = await import('../../src/client/controller.ts');
    const { KubeletController } = await import('../../src/kubelet/kubelet-controller.ts');
    const { describeNode } = await import('../../src/node/node.ts');
    const { defaultClusterConfig } = await import('../../src/api/load.ts');
    const { until } = await import('./until.ts');
    const registry = new Registry(new KineStore(':memory:'));
    bootstrap(registry, { clusterIP: '10.43.0.1', endpointIP: '192.168.56.110', port: 6443 });
    const client = new LocalClient(registry);
    const factory = new InformerFactory((r, sel) => client.listWatch(r, sel));
    const config = defaultClusterConfig('labs');
    const p = instancePaths(`ku${process.pid.toString(36)}`.slice(0, 16));
    const node = describeNode(config, 'sandbox', p);
    const host = { bootID: 'b', machineID: 'm', osImage: 'Debian', kernelVersion: '6', architecture: 'amd64', cpus: 2, memoryKi: 1 };
    const heartbeat = { name: 'labs', nodeIP: node.nodeIP, podCIDR: '10.42.0.0/24', role: 'server' as const, host, kubeletVersion: 'v1.32.0+lab', containerRuntimeVersion: 'runc://1.1.5' };
    const PODS = { group: '', resource: 'pods' };
    const pod = (name: string, nodeName: string) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' }, spec: { nodeName, containers: [{ name: 'c', image: 'busybox' }] } });
    // Another node's pod: never the kubelet's business.
    await client.create(PODS, pod('elsewhere', 'labsw'));
    // A pod bound here and deleted before this kubelet ever started it: Terminating (grace 30 s)
    // until the kubelet, with nothing to stop, sends the final delete (grace 0, its uid).
    await client.create(PODS, pod('gone-soon', 'labs'));
    await client.delete(PODS, 'default', 'gone-soon');
    expect((await client.get(PODS, 'default', 'gone-soon')).metadata.deletionTimestamp).toBeTruthy();
    const kubelet = new KubeletController({ client, factory, node, paths: p, config, heartbeat });
    await kubelet.start();
    try {
      const lease = await client.get<{ metadata: { name: string }; spec: { holderIdentity: string } } & ApiPod>({ group: 'coordination.k8s.io', resource: 'leases' }, 'kube-node-lease', 'labs');
      expect(lease.spec.holderIdentity).toBe('labs');
      expect(kubelet.record('default', 'elsewhere')).toBeUndefined();
      await until('the pod gone from the API', () => client.get(PODS, 'default', 'gone-soon').then(() => false, () => true), (gone) => gone);
      expect((await client.get<ApiPod>(PODS, 'default', 'elsewhere')).status).toMatchObject({ phase: 'Pending' });
    } finally {
      await kubelet.stop();
      factory.stop();
    }
  });
});
