// The node heartbeat (kubelet/node-agent.ts), the node lifecycle controller and the taint
// eviction controller, their decisions on their own and then on a real registry with a fake
// clock: a node that stops renewing its Lease goes Unknown, gets the unreachable taints, its pods
// go Ready=False at once and are evicted after their toleration; a node heard from again loses the
// taints; a cordoned node gets node.kubernetes.io/unschedulable; a new node is not-ready until
// the controller has seen it Ready; when every node is silent nothing is evicted.
import { until } from './until.ts';
import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from '../../src/api/server/registry.ts';
import type { Taint } from '../../src/api/taints.ts';
import { KineStore } from '../../src/api/storage/kine.ts';
import { InformerFactory } from '../../src/client/controller.ts';
import { LocalClient } from '../../src/client/local.ts';
import type { KubeObject } from '../../src/client/types.ts';
import { runNodeLifecycle } from '../../src/controllers/node-lifecycle.ts';
import { applyTaintChange, healthConditions, mayTaint, noExecuteTaintChange, noScheduleTaintChange, zoneStates, type NodeObj } from '../../src/controllers/node-lifecycle-planner.ts';
import { evictionVerdict, runTaintEviction } from '../../src/controllers/taint-eviction.ts';
import { NodeAgent } from '../../src/kubelet/node-agent.ts';

const host = { bootID: 'b', machineID: 'm', osImage: 'Debian', kernelVersion: '6', architecture: 'amd64', cpus: 2, memoryKi: 1 };
const input = (name: string, ip: string) => ({ name, nodeIP: ip, podCIDR: '10.42.0.0/24', role: 'server' as const, host, kubeletVersion: 'v1.32.0+lab', containerRuntimeVersion: 'runc://1.1.5' });
const T0 = Date.parse('2026-11-28T06:00:00Z');
const NODES = { group: '', resource: 'nodes' };
const PODS = { group: '', resource: 'pods' };
const UNREACHABLE = 'node.kubernetes.io/unreachable';
const NOT_READY = 'node.kubernetes.io/not-ready';
const keys = (n: NodeObj) => (n.spec?.taints ?? []).map((t) => `${t.key}:${t.effect}`);

const stops: (() => void)[] = [];
afterEach(() => stops.splice(0).forEach((s) => s()));

describe('the node lifecycle controller\'s decisions', () => {
  const node = (ready: 'True' | 'False' | 'Unknown', o: { taints?: Taint[]; unschedulable?: boolean; zone?: string } = {}): NodeObj => ({
    metadata: { name: 'labsw', creationTimestamp: '2026-11-28T05:00:00Z', labels: o.zone ? { 'topology.kubernetes.io/zone': o.zone } : {} },
    spec: { taints: o.taints, unschedulable: o.unschedulable },
    status: { conditions: [{ type: 'Ready', status: ready, lastHeartbeatTime: '2026-11-28T06:00:00Z' }, { type: 'MemoryPressure', status: 'False' }] },
  });

  it('healthConditions: silent for longer than the grace period, the kubelet\'s conditions are Unknown; missing ones are "never updated"', () => {
    const lease = { metadata: { name: 'labsw' }, spec: { renewTime: '2026-11-28T06:00:20.000000Z' } };
    expect(healthConditions(node('True'), lease, T0 + 60_000)).toBeUndefined();
    const c = healthConditions(node('True'), lease, T0 + 61_000)!;
    expect(c.map((x) => `${x.type}=${x.status}:${x.reason}`)).toEqual(['Ready=Unknown:NodeStatusUnknown', 'MemoryPressure=Unknown:NodeStatusUnknown', 'DiskPressure=Unknown:NodeStatusNeverUpdated', 'PIDPressure=Unknown:NodeStatusNeverUpdated']);
    expect(c[0]).toMatchObject({ message: 'Kubelet stopped posting node status.', lastTransitionTime: '2026-11-28T06:01:01Z' });
    expect(c[2]).toMatchObject({ message: 'Kubelet never posted node status.' });
    // A shorter grace period (config.yaml's node-monitor-grace-period: 20s) decides sooner.
    expect(healthConditions(node('True'), lease, T0 + 41_000, 20_000)).toBeDefined();
    // Already Unknown: nothing to write.
    expect(healthConditions({ ...node('Unknown'), status: { conditions: c } }, lease, T0 + 90_000)).toBeUndefined();
  });

  it('TaintNodesByCondition: the conditions\' and cordon\'s NoSchedule taints, and nothing else of the node\'s', () => {
    const admitted = [{ key: NOT_READY, effect: 'NoSchedule' as const }, { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' as const }];
    expect(noScheduleTaintChange(node('True', { taints: admitted }))).toEqual({ add: [], remove: [{ key: NOT_READY, effect: 'NoSchedule' }] });
    expect(noScheduleTaintChange(node('False', { taints: admitted }))).toBeUndefined();
    expect(noScheduleTaintChange(node('Unknown', { taints: admitted }))).toEqual({ add: [{ key: UNREACHABLE, effect: 'NoSchedule' }], remove: [{ key: NOT_READY, effect: 'NoSchedule' }] });
    expect(noScheduleTaintChange(node('True', { unschedulable: true }))).toEqual({ add: [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }], remove: [] });
    expect(noScheduleTaintChange(node('True', { taints: [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }] }))!.remove).toHaveLength(1);
    const after = applyTaintChange(admitted, noScheduleTaintChange(node('Unknown', { taints: admitted }))!, T0);
    expect(after).toEqual([{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }, { key: UNREACHABLE, effect: 'NoSchedule', timeAdded: '2026-11-28T06:00:00Z' }]);
  });

  it('taint-based eviction: not-ready and unreachable NoExecute swap; Ready takes them off; every node silent takes them off too', () => {
    expect(noExecuteTaintChange(node('Unknown'), true, false)).toEqual({ add: [{ key: UNREACHABLE, effect: 'NoExecute' }], remove: [] });
    expect(noExecuteTaintChange(node('False', { taints: [{ key: UNREACHABLE, effect: 'NoExecute' }] }), true, false)).toEqual({ add: [{ key: NOT_READY, effect: 'NoExecute' }], remove: [{ key: UNREACHABLE, effect: 'NoExecute' }] });
    expect(noExecuteTaintChange(node('True', { taints: [{ key: UNREACHABLE, effect: 'NoExecute' }] }), true, false)).toEqual({ add: [], remove: [{ key: UNREACHABLE, effect: 'NoExecute' }] });
    expect(noExecuteTaintChange(node('Unknown'), false, false)).toBeUndefined();
    expect(noExecuteTaintChange(node('Unknown', { taints: [{ key: UNREACHABLE, effect: 'NoExecute' }] }), false, true)).toEqual({ add: [], remove: [{ key: UNREACHABLE, effect: 'NoExecute' }] });
    // Zones: one of two nodes down is Normal; all down is full disruption (master disruption mode);
    // 3 of 5 down in a small cluster is partial disruption: no new taints there.
    const two = [node('True'), node('Unknown')];
    expect(mayTaint(zoneStates(two), '')).toBe(true);
    expect(mayTaint(zoneStates([node('Unknown'), node('Unknown')]), '')).toBe(false);
    const five = [node('True'), node('True'), node('Unknown'), node('Unknown'), node('False')];
    expect(zoneStates(five).get('')!.state).toBe('PartialDisruption');
    expect(mayTaint(zoneStates(five), '')).toBe(false);
    // One zone all down while another is fine: that zone is still tainted.
    const zones = zoneStates([node('Unknown', { zone: 'a' }), node('True', { zone: 'b' })]);
    expect(zones.get(':\0:a')!.state).toBe('FullDisruption');
    expect(mayTaint(zones, ':\0:a')).toBe(true);
  });

  it('evictionVerdict: the shortest tolerationSeconds of the tolerations used; untolerated is now; no seconds is never', () => {
    const unreachable = [{ key: UNREACHABLE, effect: 'NoExecute' as const }];
    const defaults = [{ key: NOT_READY, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }, { key: UNREACHABLE, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }];
    expect(evictionVerdict(unreachable, defaults)).toBe(300_000);
    expect(evictionVerdict(unreachable, [{ key: UNREACHABLE, operator: 'Exists', tolerationSeconds: 10 }, ...defaults])).toBe(10_000);
    expect(evictionVerdict(unreachable, [{ operator: 'Exists' }, ...defaults])).toBe('never');
    expect(evictionVerdict(unreachable, [])).toBe('now');
    expect(evictionVerdict(unreachable, [{ key: UNREACHABLE, operator: 'Exists', tolerationSeconds: 0 }])).toBe('now');
    expect(evictionVerdict([...unreachable, { key: 'dedicated', effect: 'NoExecute' }], defaults)).toBe('now');
    expect(evictionVerdict([], [])).toBe('never');
  });
});

describe('on a real registry', () => {
  async function cluster(opts: { tolerationSeconds?: number } = {}) {
    let clock = T0;
    const secs = opts.tolerationSeconds;
    const registry = new Registry(new KineStore(':memory:'), { now: () => clock, defaultTolerationSeconds: secs === undefined ? undefined : { notReady: secs, unreachable: secs } });
    const client = new LocalClient(registry);
    for (const ns of ['default', 'kube-node-lease']) await client.create({ group: '', resource: 'namespaces' }, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    const factory = new InformerFactory((r, sel) => client.listWatch(r, sel));
    const now = () => clock;
    stops.push(runNodeLifecycle(factory, client, { now, periodMs: 10, graceMs: 20_000 }), runTaintEviction(factory, client, { now, periodMs: 10 }), () => factory.stop());
    factory.start();
    await factory.waitForSync();
    return { client, advance: (ms: number) => (clock += ms), now };
  }
  const getNode = (client: LocalClient, name: string) => client.get<NodeObj>(NODES, undefined, name);
  type Pod = KubeObject & { spec: { nodeName?: string; tolerations?: { key?: string; tolerationSeconds?: number }[] }; status?: { conditions?: { type: string; status: string; reason?: string }[] } };
  const runningPod = async (client: LocalClient, name: string, nodeName: string, extra: object = {}) => {
    await client.create<Pod>(PODS, { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' }, spec: { nodeName, terminationGracePeriodSeconds: 0, containers: [{ name: 'c', image: 'busybox' }], ...extra } } as Pod);
    // What the kubelet would have written: Running and Ready.
    return client.mutate<Pod>(PODS, 'default', name, (x) => ({ ...x, status: { ...x.status, phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }, { type: 'ContainersReady', status: 'True' }] } }), { subresource: 'status' });
  };

  it('a new Node comes with the not-ready taint (TaintNodesByCondition admission); Ready, it goes; cordon puts node.kubernetes.io/unschedulable on', async () => {
    const { client, now } = await cluster();
    const agent = new NodeAgent(client, input('labs', '192.168.56.110'), { now });
    await agent.register();
    await until('the not-ready taint off once Ready', () => getNode(client, 'labs'), (n) => keys(n).length === 0);
    await client.mutate<NodeObj>(NODES, undefined, 'labs', (n) => ({ ...n, spec: { ...n.spec, unschedulable: true } }));
    await until('cordoned: the unschedulable taint', () => getNode(client, 'labs'), (n) => keys(n).join() === 'node.kubernetes.io/unschedulable:NoSchedule');
    await client.mutate<NodeObj>(NODES, undefined, 'labs', (n) => ({ ...n, spec: { ...n.spec, unschedulable: undefined } }));
    await until('uncordoned: gone', () => getNode(client, 'labs'), (n) => keys(n).length === 0);
  });

  it('2 nodes, labsw falls silent: Unknown, the unreachable taints, its pods Ready=False at once, evicted after their tolerations, the rest stays; back: taints gone', async () => {
    const { client, advance, now } = await cluster({ tolerationSeconds: 30 });
    const labs = new NodeAgent(client, input('labs', '192.168.56.110'), { now });
    const labsw = new NodeAgent(client, input('labsw', '192.168.56.111'), { now });
    for (const a of [labs, labsw]) {
      await a.register();
      await a.heartbeat();
    }
    await runningPod(client, 'short', 'labsw', { tolerations: [{ key: UNREACHABLE, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 5 }] });
    await runningPod(client, 'default-30', 'labsw'); // DefaultTolerationSeconds from the server's flags: 30
    await runningPod(client, 'forever', 'labsw', { tolerations: [{ operator: 'Exists' }] });
    await runningPod(client, 'elsewhere', 'labs');
    const web = await client.get<Pod>(PODS, 'default', 'default-30');
    expect(web.spec.tolerations).toEqual(expect.arrayContaining([expect.objectContaining({ key: UNREACHABLE, tolerationSeconds: 30 })]));

    advance(21_000); // labsw silent for longer than the 20 s grace period; labs renews
    await labs.heartbeat();
    const node = await until('labsw Unknown and tainted', () => getNode(client, 'labsw'), (n) => keys(n).length === 2);
    expect(keys(node)).toEqual([`${UNREACHABLE}:NoSchedule`, `${UNREACHABLE}:NoExecute`]);
    expect(node.status!.conditions!.find((c) => c.type === 'Ready')).toMatchObject({ status: 'Unknown', reason: 'NodeStatusUnknown' });
    expect(keys(await getNode(client, 'labs'))).toEqual([]);
    // MarkPodsNotReady: every pod on labsw at once, the one on labs not.
    const ready = async (name: string) => (await client.get<Pod>(PODS, 'default', name)).status!.conditions!.find((c) => c.type === 'Ready')!.status;
    await until('labsw\'s pods Ready=False', () => Promise.all(['short', 'default-30', 'forever'].map(ready)), (s) => s.every((x) => x === 'False'));
    expect(await ready('elsewhere')).toBe('True');

    const names = async () => (await client.list<Pod>(PODS, { namespace: 'default' })).items.map((p) => p.metadata.name).sort();
    // Give the taint eviction controller a look before the clock moves: its timers start when it sees the taint.
    await new Promise((r) => setTimeout(r, 50));
    advance(5_000);
    await labs.heartbeat();
    await until('the 5 s pod evicted', names, (n) => !n.includes('short'));
    expect(await names()).toEqual(['default-30', 'elsewhere', 'forever']);
    advance(15_000);
    await labs.heartbeat();
    advance(10_000);
    await labs.heartbeat();
    await until('the 30 s pod evicted', names, (n) => n.join() === 'elsewhere,forever');
    type Ev = KubeObject & { reason: string; message: string; source: { component: string }; involvedObject: { kind: string; name: string } };
    const events = (await client.list<Ev>({ group: '', resource: 'events' })).items;
    expect(events.filter((e) => e.reason === 'TaintManagerEviction').map((e) => `${e.source.component}: ${e.message}`).sort()).toEqual([
      'taint-eviction-controller: Marking for deletion Pod default/default-30',
      'taint-eviction-controller: Marking for deletion Pod default/short',
    ]);
    expect(events.filter((e) => e.reason === 'NodeNotReady').map((e) => `${e.involvedObject.kind}/${e.involvedObject.name}: ${e.message}`).sort()).toEqual([
      'Node/labsw: Node labsw status is now: NodeNotReady',
      'Pod/default-30: Node is not ready',
      'Pod/forever: Node is not ready',
      'Pod/short: Node is not ready',
    ]);

    await labsw.heartbeat(); // back: the kubelet posts Ready itself
    await labsw.register();
    await until('labsw\'s taints gone', () => getNode(client, 'labsw'), (n) => keys(n).length === 0);
  });

  it('the only node falls silent: Unknown and unreachable:NoSchedule, but no NoExecute taint and no eviction (the controller blames itself)', async () => {
    const { client, advance, now } = await cluster({ tolerationSeconds: 0 });
    const agent = new NodeAgent(client, input('labs', '192.168.56.110'), { now });
    await agent.register();
    await agent.heartbeat();
    await runningPod(client, 'web', 'labs');
    advance(21_000);
    await until('labs Unknown', () => getNode(client, 'labs'), (n) => n.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'Unknown' && keys(n).length > 0);
    await new Promise((r) => setTimeout(r, 100));
    expect(keys(await getNode(client, 'labs'))).toEqual([`${UNREACHABLE}:NoSchedule`]);
    expect((await client.list(PODS, { namespace: 'default' })).items).toHaveLength(1);
  });
});
