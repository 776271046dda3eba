// The pure scheduler on 1-, 2- and 3-node fixtures: kube-scheduler v1.32's filters in the default
// profile's order, the FitError text (reasons counted, sorted as strings, the absent nodes) with
// DefaultPreemption's message after it, and a deterministic score that spreads an owner's pods
// over nodes before it counts pods.
import { describe, expect, it } from 'vitest';
import type { Taint, Toleration } from '../../src/api/taints.ts';
import { schedule, schedulePod, type SchedNode, type SchedPod } from '../../src/scheduler/scheduler.ts';

const node = (name: string, o: { labels?: Record<string, string>; taints?: Taint[]; unschedulable?: boolean; maxPods?: number } = {}): SchedNode => ({
  metadata: { name, labels: { 'kubernetes.io/hostname': name, ...o.labels } },
  spec: { taints: o.taints, unschedulable: o.unschedulable },
  status: { allocatable: { pods: String(o.maxPods ?? 110) } },
});

type PodOpts = Partial<SchedPod['spec']> & { owner?: string; phase?: string; deleting?: boolean; namespace?: string };
const pod = (name: string, o: PodOpts = {}): SchedPod => {
  const { owner, phase, deleting, namespace, ...spec } = o;
  return {
    metadata: { name, namespace: namespace ?? 'default', ...(owner ? { ownerReferences: [{ uid: owner, controller: true }] } : {}), ...(deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
    spec: { priority: 0, ...spec },
    status: { phase: phase ?? 'Running' },
  };
};
const on = (nodeName: string, n: number, o: PodOpts = {}) => Array.from({ length: n }, (_, i) => pod(`${nodeName}-pod-${i}`, { ...o, nodeName }));

const CONTROL_PLANE: Taint = { key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' };
const NOT_HELPFUL = (n: number, all = n) => `preemption: 0/${all} nodes are available: ${n} Preemption is not helpful for scheduling.`;

describe('scheduler filters and FailedScheduling text', () => {
  it('2 nodes, a taint and a nodeSelector: one reason per node, counted and sorted as strings', () => {
    const nodes = [node('labs', { labels: { disk: 'ssd' }, taints: [CONTROL_PLANE] }), node('labsw')];
    const o = schedulePod(pod('web', { nodeSelector: { disk: 'ssd' } }), nodes, []);
    // "didn't" sorts before "had": sort.Strings over "<count> <reason>".
    expect(o).toEqual({
      message: `0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }. ${NOT_HELPFUL(2)}`,
    });
    // Tolerating the taint: the pod goes where its selector points.
    const tolerates: Toleration[] = [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }];
    expect(schedulePod(pod('web', { nodeSelector: { disk: 'ssd' }, tolerations: tolerates }), nodes, [])).toEqual({ node: 'labs' });
  });

  it('a node is rejected by the first plugin in the profile order: NodeUnschedulable before TaintToleration before NodeAffinity before NodeResourcesFit', () => {
    // Cordoned, tainted, unlabelled and full all at once: "were unschedulable".
    const everything = node('labs', { unschedulable: true, taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }], maxPods: 0 });
    expect(schedulePod(pod('a', { nodeSelector: { disk: 'ssd' } }), [everything], [])).toEqual({ message: `0/1 nodes are available: 1 node(s) were unschedulable. ${NOT_HELPFUL(1)}` });
    const tainted = node('labs', { taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoExecute' }], maxPods: 0 });
    expect(schedulePod(pod('a', { nodeSelector: { disk: 'ssd' } }), [tainted], [])).toEqual({ message: `0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}. ${NOT_HELPFUL(1)}` });
    expect(schedulePod(pod('a', { nodeSelector: { disk: 'ssd' } }), [node('labs', { maxPods: 0 })], [])).toEqual({
      message: `0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. ${NOT_HELPFUL(1)}`,
    });
  });

  it('Too many pods is Unschedulable, so preemption looks for victims: with every pod at priority 0 there are none', () => {
    const nodes = [node('labs', { maxPods: 2 })];
    expect(schedulePod(pod('c'), nodes, on('labs', 2))).toEqual({ message: '0/1 nodes are available: 1 Too many pods. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.' });
    // A terminating pod still holds its place; a finished one does not.
    expect(schedulePod(pod('c'), nodes, [...on('labs', 1), pod('old', { nodeName: 'labs', deleting: true })])).toHaveProperty('message');
    expect(schedulePod(pod('c'), nodes, [...on('labs', 1), pod('done', { nodeName: 'labs', phase: 'Succeeded' })])).toEqual({ node: 'labs' });
    // preemptionPolicy Never: DefaultPreemption says so instead.
    expect(schedulePod(pod('c', { preemptionPolicy: 'Never' }), nodes, on('labs', 2))).toEqual({ message: '0/1 nodes are available: 1 Too many pods. preemption: not eligible due to preemptionPolicy=Never.' });
  });

  it('3 nodes: full, unreachable and cordoned; preemption tries only the full one', () => {
    const nodes = [
      node('labs', { maxPods: 1 }),
      node('labsw', { taints: [{ key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule', timeAdded: '2026-01-01T00:00:00Z' }, { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' }] }),
      node('labsw2', { unschedulable: true, taints: [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }] }),
    ];
    expect(schedulePod(pod('p'), nodes, on('labs', 1))).toEqual({
      message:
        '0/3 nodes are available: 1 Too many pods, 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, 1 node(s) were unschedulable. ' +
        'preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.',
    });
    // The default tolerations are NoExecute only: the NoSchedule taint still keeps new pods away.
    const defaults: Toleration[] = [
      { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    ];
    expect(schedulePod(pod('p', { tolerations: defaults }), nodes, on('labs', 1))).toHaveProperty('message');
    // A pod that tolerates everything (a DaemonSet's kind) goes to the cordoned node too: NodeUnschedulable reads the toleration of node.kubernetes.io/unschedulable.
    expect(schedulePod(pod('p', { tolerations: [{ operator: 'Exists' }] }), nodes, on('labs', 1))).toEqual({ node: 'labsw' });
    expect(schedulePod(pod('p', { tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }] }), nodes, on('labs', 1))).toEqual({ node: 'labsw2' });
  });

  it('a not-ready node keeps pods away through its taint, as TaintNodesByCondition puts it', () => {
    const nodes = [node('labs', { taints: [{ key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' }] })];
    expect(schedulePod(pod('p'), nodes, [])).toEqual({ message: `0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }. ${NOT_HELPFUL(1)}` });
  });

  it('no nodes at all: not a FitError', () => {
    expect(schedulePod(pod('p'), [], [])).toEqual({ message: 'no nodes available to schedule pods' });
  });
});

describe('required node affinity', () => {
  const nodes = [node('labs', { labels: { zone: 'a', disk: 'ssd', gen: '3' } }), node('labsw', { labels: { zone: 'b', gen: '5' } }), node('labsw2', { labels: { zone: 'c', gen: 'x' } })];
  const required = (...nodeSelectorTerms: object[]) => ({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms } } } }) as Partial<SchedPod['spec']>;
  const fits = (spec: Partial<SchedPod['spec']>) => nodes.filter((n) => 'node' in schedulePod(pod('p', spec), [n], [])).map((n) => n.metadata.name);
  const expr = (key: string, operator: string, values?: string[]) => ({ matchExpressions: [{ key, operator, ...(values ? { values } : {}) }] });

  it('In, NotIn, Exists, DoesNotExist, Gt and Lt on labels', () => {
    expect(fits(required(expr('zone', 'In', ['a', 'c'])))).toEqual(['labs', 'labsw2']);
    expect(fits(required(expr('zone', 'NotIn', ['a'])))).toEqual(['labsw', 'labsw2']);
    expect(fits(required(expr('disk', 'NotIn', ['hdd'])))).toEqual(['labs', 'labsw', 'labsw2']); // NotIn matches a missing label
    expect(fits(required(expr('disk', 'Exists')))).toEqual(['labs']);
    expect(fits(required(expr('disk', 'DoesNotExist')))).toEqual(['labsw', 'labsw2']);
    expect(fits(required(expr('gen', 'Gt', ['4'])))).toEqual(['labsw']); // "x" is not an integer: never matches
    expect(fits(required(expr('gen', 'Lt', ['4'])))).toEqual(['labs']);
  });

  it('terms are ORed, a term\'s requirements ANDed; empty or unparsable terms match nothing; nodeSelector is ANDed with them', () => {
    expect(fits(required(expr('zone', 'In', ['a']), expr('zone', 'In', ['b'])))).toEqual(['labs', 'labsw']);
    expect(fits(required({ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a', 'b'] }, { key: 'disk', operator: 'Exists' }] }))).toEqual(['labs']);
    expect(fits(required({}))).toEqual([]);
    expect(fits(required(expr('gen', 'Gt', ['1', '2']), expr('zone', 'Bogus', ['a'])))).toEqual([]);
    expect(fits({ ...required(expr('zone', 'In', ['a', 'b'])), nodeSelector: { zone: 'b' } })).toEqual(['labsw']);
    expect(fits(required(expr('zone', 'In', [])))).toEqual([]);
  });

  it('matchFields metadata.name: In narrows the nodes looked at in PreFilter, the rest are "didn\'t satisfy plugin(s) [NodeAffinity]"', () => {
    const byName = (op: string, name: string) => required({ matchFields: [{ key: 'metadata.name', operator: op, values: [name] }] });
    expect(fits(byName('NotIn', 'labs'))).toEqual(['labsw', 'labsw2']);
    const cordoned = [nodes[0]!, nodes[1]!, { ...nodes[2]!, spec: { unschedulable: true } }];
    expect(schedulePod(pod('p', byName('In', 'labsw2')), cordoned, [])).toEqual({
      message: `0/3 nodes are available: 1 node(s) were unschedulable, 2 node(s) didn't satisfy plugin(s) [NodeAffinity]. ${NOT_HELPFUL(3)}`,
    });
    expect(schedulePod(pod('p', byName('In', 'labsw2')), nodes, [])).toEqual({ node: 'labsw2' });
    // Two names ANDed in one term: no node can be both.
    const conflict = required({ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['labs'] }, { key: 'metadata.name', operator: 'In', values: ['labsw'] }] });
    expect(schedulePod(pod('p', conflict), nodes, [])).toEqual({ message: `0/3 nodes are available: pod affinity terms conflict. ${NOT_HELPFUL(3)}` });
  });
});

describe('scores: deterministic, an owner\'s pods spread first, then fewest pods', () => {
  const nodes2 = [node('labs'), node('labsw')];

  it('3 replicas over 2 nodes alternate even when one node holds more pods', () => {
    const system = on('labs', 3, { namespace: 'kube-system', owner: 'dns' });
    const replicas = ['app2-a', 'app2-b', 'app2-c'].map((n) => pod(n, { owner: 'rs-app2' }));
    const placed = schedule(replicas, nodes2, system);
    expect([...placed].map(([n, o]) => `${n}:${'node' in o ? o.node : o.message}`)).toEqual(['app2-a:labsw', 'app2-b:labs', 'app2-c:labsw']);
    // The nodes' order in the list does not matter.
    expect(schedule(replicas, [...nodes2].reverse(), system)).toEqual(placed);
  });

  it('pods without an owner go by pod count, ties by node name; terminating siblings do not count for spreading', () => {
    expect(schedulePod(pod('p'), nodes2, [])).toEqual({ node: 'labs' });
    expect(schedulePod(pod('p'), nodes2, on('labs', 1))).toEqual({ node: 'labsw' });
    const nodes3 = [node('labs'), node('labsw'), node('labsw2')];
    const existing = [pod('old', { nodeName: 'labs', owner: 'rs', deleting: true }), ...on('labsw', 1), ...on('labsw2', 1)];
    expect(schedulePod(pod('new', { owner: 'rs' }), nodes3, existing)).toEqual({ node: 'labs' });
    // Another namespace's pods with the same owner uid are not siblings.
    expect(schedulePod(pod('new', { owner: 'rs' }), nodes2, [pod('x', { nodeName: 'labs', owner: 'rs', namespace: 'other' })])).toEqual({ node: 'labsw' });
  });

  it('PreferNoSchedule taints and preferred node affinity come before spreading', () => {
    const soft = [node('labs', { taints: [{ key: 'soft', effect: 'PreferNoSchedule' }] }), node('labsw', { labels: { disk: 'hdd' } })];
    const siblings = on('labsw', 5, { owner: 'rs' });
    expect(schedulePod(pod('p', { owner: 'rs' }), soft, siblings)).toEqual({ node: 'labsw' });
    expect(schedulePod(pod('p', { owner: 'rs', tolerations: [{ key: 'soft', operator: 'Exists' }] }), soft, siblings)).toEqual({ node: 'labs' });
    const prefer = { affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 10, preference: { matchExpressions: [{ key: 'disk', operator: 'In', values: ['ssd'] }] } }] } } };
    const labelled = [node('labs', { labels: { disk: 'ssd' } }), node('labsw')];
    expect(schedulePod(pod('p', { owner: 'rs', ...prefer }), labelled, on('labs', 3, { owner: 'rs' }))).toEqual({ node: 'labs' });
  });
});
