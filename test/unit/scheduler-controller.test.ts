// kube-scheduler as a watch-driven controller on a real registry, with the node lifecycle
// controller keeping the nodes' NoSchedule taints (a new Node comes with the not-ready taint, which
// goes once it is Ready): pods without a node are bound through pods/binding; the others stay
// Pending with kube-scheduler's FitError text, and are tried again when a node changes or room
// is made.
import { until } from './until.ts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Registry } from '../../src/api/server/registry.ts';
import { KineStore } from '../../src/api/storage/kine.ts';
import { InformerFactory, type Controller } from '../../src/client/controller.ts';
import { LocalClient } from '../../src/client/local.ts';
import type { KubeObject } from '../../src/client/types.ts';
import { runNodeLifecycle } from '../../src/controllers/node-lifecycle.ts';
import { nodeObject } from '../../src/kubelet/node-status.ts';
import { schedulerController } from '../../src/scheduler/scheduler-controller.ts';

const PODS = { group: '', resource: 'pods' };
const NODES = { group: '', resource: 'nodes' };
const host = { bootID: 'b', machineID: 'm', osImage: 'Debian', kernelVersion: '6', architecture: 'amd64', cpus: 2, memoryKi: 1 };
type NodeView = KubeObject & { spec: { unschedulable?: boolean; taints?: { key: string; effect: string }[] } };
const node = (name: string, maxPods: number) => nodeObject({ name, nodeIP: '192.168.56.110', podCIDR: '10.42.0.0/24', role: 'agent', host, kubeletVersion: 'v1.32.0+lab', containerRuntimeVersion: 'runc://1.1.5', maxPods }, Date.now()) as unknown as NodeView;
const pod = (name: string, spec: object = {}, owner?: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default', ...(owner ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: owner, controller: true }] } : {}) },
  spec: { containers: [{ name: 'c', image: 'busybox' }], ...spec },
});
type PodView = KubeObject & { spec: { nodeName?: string }; status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] } };
type Ev = KubeObject & { type: string; reason: string; message: string; count: number; source: { component: string }; involvedObject: { kind: string; name: string } };
const NOT_HELPFUL = (n: number) => `preemption: 0/${n} nodes are available: ${n} Preemption is not helpful for scheduling.`;

let client: LocalClient;
let factory: InformerFactory;
let scheduler: Controller;
let stopLifecycle: () => void;

beforeEach(async () => {
  client = new LocalClient(new Registry(new KineStore(':memory:')));
  await client.create({ group: '', resource: 'namespaces' }, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
  factory = new InformerFactory((r, sel) => client.listWatch(r, sel));
  scheduler = schedulerController(factory, client);
  stopLifecycle = runNodeLifecycle(factory, client);
  factory.start();
  await factory.waitForSync();
  void scheduler.run();
});
afterEach(async () => {
  stopLifecycle();
  await scheduler.stop();
  factory.stop();
});

const get = (name: string) => client.get<PodView>(PODS, 'default', name);
const scheduled = (p: PodView) => p.status?.conditions?.find((c) => c.type === 'PodScheduled');
const unschedulable = (name: string) => until(`${name} Unschedulable`, () => get(name), (p) => scheduled(p)?.reason === 'Unschedulable');
const createNode = async (n: NodeView) => {
  await client.create(NODES, n);
  await until(`${n.metadata.name} without the not-ready taint`, () => client.get<NodeView>(NODES, undefined, n.metadata.name), (x) => !x.spec.taints?.length);
};

describe('scheduler', () => {
  it('binds pods to the node with room, and leaves the rest Pending with kube\'s reason until room is made', async () => {
    await createNode(node('labs', 2));
    for (const n of ['a', 'b', 'c']) await client.create(PODS, pod(n));
    const all = () => Promise.all(['a', 'b', 'c'].map(get));
    const pods = await until('two bound, one unschedulable', all, (ps) => ps.filter((p) => p.spec.nodeName === 'labs').length === 2 && ps.some((p) => scheduled(p)?.reason === 'Unschedulable'));
    const bound = pods.find((p) => p.spec.nodeName)!;
    expect(scheduled(bound)).toMatchObject({ status: 'True' });
    const waiting = pods.find((p) => !p.spec.nodeName)!;
    const message = '0/1 nodes are available: 1 Too many pods. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.';
    expect(scheduled(waiting)).toMatchObject({ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message, lastProbeTime: null });
    // a bound pod is deleted: the waiting one gets its place
    await client.delete(PODS, 'default', bound.metadata.name, { gracePeriodSeconds: 0 });
    await until('the third pod bound', () => get(waiting.metadata.name), (p) => p.spec.nodeName === 'labs');
    expect(scheduled(await get(waiting.metadata.name))).toMatchObject({ status: 'True' });
    // kube-scheduler's Events: Scheduled for each bind, FailedScheduling with the reason.
    const events = await until('the events', async () => (await client.list<Ev>({ group: '', resource: 'events' })).items, (es) => es.filter((e) => e.reason === 'Scheduled').length === 3);
    expect(events.find((e) => e.reason === 'Scheduled' && e.involvedObject.name === waiting.metadata.name)).toMatchObject({ type: 'Normal', message: `Successfully assigned default/${waiting.metadata.name} to labs`, source: { component: 'default-scheduler' }, involvedObject: { kind: 'Pod' } });
    expect(events.find((e) => e.reason === 'FailedScheduling')).toMatchObject({ type: 'Warning', message, involvedObject: { kind: 'Pod', name: waiting.metadata.name } });
  });

  it('a cordoned node takes nothing until uncordoned; binding twice is a 409 with kube\'s message', async () => {
    const n = node('labs', 10);
    n.spec.unschedulable = true;
    await client.create(NODES, n);
    await client.create(PODS, pod('a'));
    const p = await unschedulable('a');
    expect(scheduled(p)!.message).toBe(`0/1 nodes are available: 1 node(s) were unschedulable. ${NOT_HELPFUL(1)}`);
    await client.mutate<NodeView>(NODES, undefined, 'labs', (x) => ({ ...x, spec: { ...x.spec, unschedulable: false } }));
    await until('bound once uncordoned', () => get('a'), (x) => x.spec.nodeName === 'labs');
    await client.create(PODS, pod('b'));
    await client.bind('default', 'b', 'labs').catch(() => undefined); // the scheduler may have been first
    await expect(client.bind('default', 'b', 'labsw')).rejects.toThrow('Operation cannot be fulfilled on pods/binding "b": pod b is already assigned to node "labs"');
  });

  it('2 nodes: a nodeSelector nothing matches waits with the text; labelling a node schedules it there', async () => {
    await createNode(node('labs', 10));
    await createNode(node('labsw', 10));
    await client.create(PODS, pod('ssd', { nodeSelector: { disk: 'ssd' } }));
    const p = await unschedulable('ssd');
    expect(scheduled(p)!.message).toBe(`0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. ${NOT_HELPFUL(2)}`);
    await client.mutate<NodeView>(NODES, undefined, 'labsw', (x) => ({ ...x, metadata: { ...x.metadata, labels: { ...x.metadata.labels, disk: 'ssd' } } }));
    await until('bound to labsw', () => get('ssd'), (x) => x.spec.nodeName === 'labsw');
  });

  it('3 nodes: a ReplicaSet\'s pods created together spread over all three', async () => {
    for (const n of ['labs', 'labsw', 'labsw2']) await createNode(node(n, 10));
    for (const n of ['x', 'y', 'z']) await client.create(PODS, pod(`app-${n}`, {}, 'rs-uid'));
    const pods = await until('all bound', () => Promise.all(['x', 'y', 'z'].map((n) => get(`app-${n}`))), (ps) => ps.every((x) => x.spec.nodeName));
    expect(pods.map((x) => x.spec.nodeName).sort()).toEqual(['labs', 'labsw', 'labsw2']);
  });

  it('a node added later takes the pod that waits for one', async () => {
    await client.create(PODS, pod('early'));
    const p = await unschedulable('early');
    expect(scheduled(p)!.message).toBe('no nodes available to schedule pods');
    await createNode(node('labs', 10));
    await until('bound', () => get('early'), (x) => x.spec.nodeName === 'labs');
  });
});
