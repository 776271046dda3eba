// The node heartbeat (kubelet/node-agent.ts) and the node lifecycle controller on a real registry:
// a node that stops renewing its Lease goes Unknown and gets the unreachable taints; its pods go
// after their toleration; a node heard from again loses the taints.
import { until } from './until.ts';
import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from '../../src/api/server/registry.ts';
import { KineStore } from '../../src/api/storage/kine.ts';
import { InformerFactory } from '../../src/client/controller.ts';
import { LocalClient } from '../../src/client/local.ts';
import type { KubeObject } from '../../src/client/types.ts';
import { judgeNode, podsToEvict, runNodeLifecycle, UNREACHABLE_TAINT, type NodeObj } from '../../src/controllers/node-lifecycle.ts';
import { NodeAgent } from '../../src/kubelet/node-agent.ts';

const host = { bootID: 'b', machineID: 'm', osImage: 'Debian', kernelVersion: '6', architecture: 'amd64', cpus: 2, memoryKi: 1 };
const input = { name: 'labs', nodeIP: '192.168.56.110', podCIDR: '10.42.0.0/24', role: 'server' as const, host, kubeletVersion: 'v1.32.0+lab', containerRuntimeVersion: 'runc://1.1.5' };
const T0 = Date.parse('2026-11-28T06:00:00Z');

const stops: (() => void)[] = [];
afterEach(() => stops.splice(0).forEach((s) => s()));


describe('node heartbeat and lifecycle', () => {
  it('the kubelet registers its node Ready and renews its Lease', async () => {
    let clock = T0;
    const client = new LocalClient(new Registry(new KineStore(':memory:'), { now: () => clock }));
    // kube-apiserver makes kube-node-lease at start (its system namespaces)
    await client.create({ group: '', resource: 'namespaces' }, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kube-node-lease' } });
    const agent = new NodeAgent(client, input, { now: () => clock });
    await agent.register();
    await agent.heartbeat();
    const node = await client.get<NodeObj>({ group: '', resource: 'nodes' }, undefined, 'labs');
    expect(node.status!.conditions!.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True', reason: 'KubeletReady' });
    const lease = await client.get<KubeObject & { spec: { renewTime: string; holderIdentity: string } }>({ group: 'coordination.k8s.io', resource: 'leases' }, 'kube-node-lease', 'labs');
    expect(lease.spec).toMatchObject({ holderIdentity: 'labs', renewTime: '2026-11-28T06:00:00.000000Z' });
    expect(lease.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Node', name: 'labs', uid: node.metadata.uid });
    clock += 10_000;
    await agent.heartbeat();
    expect((await client.get<typeof lease>({ group: 'coordination.k8s.io', resource: 'leases' }, 'kube-node-lease', 'labs')).spec.renewTime).toBe('2026-11-28T06:00:10.000000Z');
    // a restarted kubelet takes up its Node again
    await new NodeAgent(client, input, { now: () => clock }).register();
  });

  it('judgeNode and podsToEvict: 40 s without a heartbeat is Unknown and tainted; pods go after 300 s', () => {
    const node: NodeObj = { metadata: { name: 'labs', creationTimestamp: '2026-11-28T05:00:00Z' }, status: { conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: '2026-11-28T06:00:00Z' }] } };
    const lease = { metadata: { name: 'labs' }, spec: { renewTime: '2026-11-28T06:00:20.000000Z' } };
    expect(judgeNode(node, lease, T0 + 60_000)).toEqual({ unreachable: false });
    const v = judgeNode(node, lease, T0 + 61_000);
    expect(v.conditions![0]).toMatchObject({ status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastTransitionTime: '2026-11-28T06:01:01Z' });
    expect(v.taints!.map((t) => `${t.key}:${t.effect}`)).toEqual([`${UNREACHABLE_TAINT}:NoSchedule`, `${UNREACHABLE_TAINT}:NoExecute`]);
    const tainted = { ...node, spec: { taints: v.taints } };
    const pods = [
      { metadata: { name: 'a', namespace: 'default' }, spec: { nodeName: 'labs' } },
      { metadata: { name: 'b', namespace: 'default' }, spec: { nodeName: 'labs', tolerations: [{ key: UNREACHABLE_TAINT, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 10 }] } },
      { metadata: { name: 'c', namespace: 'default' }, spec: { nodeName: 'labs', tolerations: [{ operator: 'Exists' }] } },
    ];
    expect(podsToEvict(tainted, pods, T0 + 61_000 + 10_000).map((p) => p.metadata.name)).toEqual(['b']);
    expect(podsToEvict(tainted, pods, T0 + 61_000 + 300_000).map((p) => p.metadata.name)).toEqual(['a', 'b']);
    // heard from again: the taints go
    expect(judgeNode(tainted, { ...lease, spec: { renewTime: '2026-11-28T06:02:00.000000Z' } }, T0 + 125_000).taints).toEqual([]);
  });

  it('the controller marks a silent node and evicts its pods through the API', async () => {
    let clock = T0;
    const client = new LocalClient(new Registry(new KineStore(':memory:'), { now: () => clock }));
    await client.create({ group: '', resource: 'namespaces' }, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
    await client.create({ group: '', resource: 'namespaces' }, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kube-node-lease' } });
    const agent = new NodeAgent(client, input, { now: () => clock });
    await agent.register();
    await agent.heartbeat();
    await client.create({ group: '', resource: 'pods' }, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'default' }, spec: { nodeName: 'labs', terminationGracePeriodSeconds: 0, containers: [{ name: 'c', image: 'busybox' }] } } as KubeObject);
    const factory = new InformerFactory((r, sel) => client.listWatch(r, sel));
    stops.push(runNodeLifecycle(factory, client, { now: () => clock, periodMs: 10 }), () => factory.stop());
    factory.start();
    await factory.waitForSync();
    clock += 41_000; // the kubelet fell silent
    const node = await until('node Unknown and tainted', () => client.get<NodeObj>({ group: '', resource: 'nodes' }, undefined, 'labs'), (n) => n.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'Unknown' && (n.spec?.taints?.length ?? 0) === 2);
    expect(node.spec!.taints![1]).toMatchObject({ key: UNREACHABLE_TAINT, effect: 'NoExecute' });
    clock += 300_000;
    await until('pod evicted', async () => (await client.list({ group: '', resource: 'pods' }, { namespace: 'default' })).items.length, (n) => n === 0);
    await agent.heartbeat(); // back
    await until('taints gone', () => client.get<NodeObj>({ group: '', resource: 'nodes' }, undefined, 'labs'), (n) => !n.spec?.taints);
  });
});
