// kube-scheduler as a watch-driven controller on a real registry: pods without a node are bound
// through pods/binding to a Ready, schedulable node with room; the others wait, saying why.
import { until } from './until.ts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Registry } from '../../src/api/server/registry.ts';
import { KineStore } from '../../src/api/storage/kine.ts';
import { InformerFactory, type Controller } from '../../src/client/controller.ts';
import { LocalClient } from '../../src/client/local.ts';
import type { KubeObject } from '../../src/client/types.ts';
import { nodeObject } from '../../src/kubelet/node-status.ts';
import { schedulerController } from '../../src/scheduler/scheduler-controller.ts';

const PODS = { group: '', resource: 'pods' };
const NODES = { group: '', resource: 'nodes' };
const host = { bootID: 'b', machineID: 'm', osImage: 'Debian', kernelVersion: '6', architecture: 'amd64', cpus: 2, memoryKi: 1 };
const node = (name: string, maxPods: number) => nodeObject({ name, nodeIP: '192.168.56.110', podCIDR: '10.42.0.0/24', role: 'server', host, kubeletVersion: 'v1.32.0+lab', containerRuntimeVersion: 'runc://1.1.5', maxPods }, Date.now()) as unknown as KubeObject;
const pod = (name: string) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
type PodView = KubeObject & { spec: { nodeName?: string }; status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] } };

let client: LocalClient;
let factory: InformerFactory;
let scheduler: Controller;


beforeEach(async () => {
  client = new LocalClient(new Registry(new KineStore(':memory:')));
  await client.create({ group: '', resource: 'namespaces' }, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
  factory = new InformerFactory((r, sel) => client.listWatch(r, sel));
  scheduler = schedulerController(factory, client);
  factory.start();
  await factory.waitForSync();
  void scheduler.run();
});
afterEach(async () => {
  await scheduler.stop();
  factory.stop();
});

describe('scheduler', () => {
  it('binds pods to the node with room, and leaves the rest Pending with kube\'s reason until room is made', async () => {
    await client.create(NODES, node('labs', 2));
    for (const n of ['a', 'b', 'c']) await client.create(PODS, pod(n));
    const get = () => Promise.all(['a', 'b', 'c'].map((n) => client.get<PodView>(PODS, 'default', n)));
    const pods = await until('two bound, one unschedulable', get, (ps) => ps.filter((p) => p.spec.nodeName === 'labs').length === 2 && ps.some((p) => p.status?.conditions?.[0]?.reason === 'Unschedulable'));
    const bound = pods.find((p) => p.spec.nodeName)!;
    expect(bound.status!.conditions!.find((c) => c.type === 'PodScheduled')).toMatchObject({ status: 'True' });
    const waiting = pods.find((p) => !p.spec.nodeName)!;
    expect(waiting.status!.conditions![0]).toMatchObject({ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available: 1 Too many pods.' });
    // a bound pod is deleted: the waiting one gets its place
    await client.delete(PODS, 'default', bound.metadata.name, { gracePeriodSeconds: 0 });
    await until('the third pod bound', () => client.get<PodView>(PODS, 'default', waiting.metadata.name), (p) => p.spec.nodeName === 'labs');
    // kube-scheduler's Events: Scheduled for each bind, FailedScheduling with the reason.
    type Ev = KubeObject & { type: string; reason: string; message: string; source: { component: string }; involvedObject: { kind: string; name: string } };
    const events = await until('the events', async () => (await client.list<Ev>({ group: '', resource: 'events' })).items, (es) => es.filter((e) => e.reason === 'Scheduled').length === 3);
    expect(events.find((e) => e.reason === 'Scheduled' && e.involvedObject.name === waiting.metadata.name)).toMatchObject({ type: 'Normal', message: `Successfully assigned default/${waiting.metadata.name} to labs`, source: { component: 'default-scheduler' }, involvedObject: { kind: 'Pod' } });
    expect(events.find((e) => e.reason === 'FailedScheduling')).toMatchObject({ type: 'Warning', message: '0/1 nodes are available: 1 Too many pods.', involvedObject: { kind: 'Pod', name: waiting.metadata.name } });
  });

  it('a cordoned node takes nothing; binding twice is a 409 with kube\'s message', async () => {
    const n = node('labs', 10) as KubeObject & { spec: { unschedulable?: boolean } };
    n.spec.unschedulable = true;
    await client.create(NODES, n);
    await client.create(PODS, pod('a'));
    const p = await until('unschedulable', () => client.get<PodView>(PODS, 'default', 'a'), (x) => x.status?.conditions?.[0]?.reason === 'Unschedulable');
    expect(p.status!.conditions![0]!.message).toBe('0/1 nodes are available: 1 node(s) were unschedulable.');
    await client.bind('default', 'a', 'labs');
    await expect(client.bind('default', 'a', 'labsw')).rejects.toThrow('Operation cannot be fulfilled on pods/binding "a": pod a is already assigned to node "labs"');
  });
});
