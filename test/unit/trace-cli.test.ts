// The pure parts of lab tcpdump and lab exec: where a capture runs, what argv is spawned.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ClusterView } from '../../src/trace/view.ts';
import { RuncRuntime } from '../../src/kubelet/runc.ts';
import { instancePaths } from '../../src/node/instance.ts';
import { captureTargets, splitUserFilter, tcpdumpArgv } from '../../src/cli/commands/tcpdump.ts';
import { buildClusterIndex } from '../../src/trace/cluster.ts';

const state = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../fixtures/trace/state.json'), 'utf8')) as ClusterView;
const ctx = { state, nodeNetns: 'pplt-tx-node', index: buildClusterIndex(state), nodes: [] };
const pods = Object.values(state.pods);

describe('lab tcpdump targets', () => {
  it('a service: every endpoint pod\'s veth in the node, labelled with the pod', () => {
    const { kind, targets } = captureTargets(ctx, 'svc/app2-service');
    expect(kind).toBe('service');
    const app2 = pods.filter((p) => p.metadata.labels.app === 'app2').sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
    expect(targets).toEqual(app2.map((p) => expect.objectContaining({ label: p.metadata.name, netns: 'pplt-tx-node', iface: p.metadata.annotations['lab/veth'] })));
    // A bare name that is a Service (and no pod) means the Service; kube-system ones by namespace.
    expect(captureTargets(ctx, 'app2-service').kind).toBe('service');
    expect(captureTargets(ctx, 'svc/ingress-nginx').targets.map((t) => t.label)).toEqual([pods.find((p) => p.metadata.name.startsWith('ingress-nginx'))!.metadata.name]);
  });

  it('a pod: eth0 inside its namespace, or its veth on the node with --veth', () => {
    const pod = pods.find((p) => p.metadata.name.startsWith('app1-'))!;
    expect(captureTargets(ctx, pod.metadata.name).targets).toEqual([expect.objectContaining({ label: '', netns: pod.metadata.annotations['lab/netns'], iface: 'eth0' })]);
    expect(captureTargets(ctx, 'deploy/app1', { veth: true }).targets).toEqual([expect.objectContaining({ netns: 'pplt-tx-node', iface: pod.metadata.annotations['lab/veth'] })]);
  });

  it('node and cni0; anything else is an error naming what exists', () => {
    // One node: one plain capture on eth1 (no VXLAN to decode; trace-nodes.test.ts has two).
    expect(captureTargets(ctx, 'node').targets).toEqual([expect.objectContaining({ netns: 'pplt-tx-node', iface: 'eth1' })]);
    expect(captureTargets(ctx, 'node').targets[0]!.split).toBeUndefined();
    expect(captureTargets(ctx, state.nodeName).kind).toBe('node');
    expect(captureTargets(ctx, 'cni0').targets).toEqual([expect.objectContaining({ netns: 'pplt-tx-node', iface: 'cni0' })]);
    expect(captureTargets({ ...ctx, nodeNetns: null }, 'cni0').targets[0]!.netns).toBeNull();
    expect(() => captureTargets(ctx, 'nothing-here')).toThrow(/pod "nothing-here" not found/);
  });

  it('tcpdump argv: immediate mode, line-buffered text or a packet-buffered pcap on stdout, the filter last', () => {
    expect(tcpdumpArgv('veth1', { write: false, filter: ['tcp', 'port', '80'] })).toEqual(['tcpdump', '-n', '--immediate-mode', '-i', 'veth1', '-l', 'tcp', 'port', '80']);
    expect(tcpdumpArgv('eth0', { write: true, count: 5, filter: [] })).toEqual(['tcpdump', '-n', '--immediate-mode', '-i', 'eth0', '-U', '-w', '-', '-c', '5']);
  });

  it('eth1 split in two: -T vxlan on udp port 8472, the rest plain; the user\'s options stay options, the expression is ANDed', () => {
    expect(tcpdumpArgv('eth1', { write: false, filter: [], split: 'vxlan' })).toEqual(['tcpdump', '-n', '--immediate-mode', '-i', 'eth1', '-l', '-T', 'vxlan', 'udp port 8472']);
    expect(tcpdumpArgv('eth1', { write: false, filter: [], split: 'other' })).toEqual(['tcpdump', '-n', '--immediate-mode', '-i', 'eth1', '-l', 'not udp port 8472']);
    expect(tcpdumpArgv('eth1', { write: false, filter: ['-v', '-s', '96', 'host', '192.168.56.111'], split: 'vxlan' })).toEqual(['tcpdump', '-n', '--immediate-mode', '-i', 'eth1', '-l', '-v', '-s', '96', '-T', 'vxlan', '(udp port 8472) and (host 192.168.56.111)']);
    expect(splitUserFilter(['-e', 'tcp'])).toEqual({ options: ['-e'], expression: ['tcp'] });
  });
});

describe('lab exec argv', () => {
  it('is runc exec in the instance\'s runc root, a terminal only when asked for', () => {
    const runtime = new RuncRuntime(instancePaths('pplt-tx'));
    expect(runtime.execArgv('abc123', ['sh', '-c', 'echo $ROLE'])).toEqual(['runc', '--root', '/run/packet-path-lab/pplt-tx/runc', 'exec', 'abc123', 'sh', '-c', 'echo $ROLE']);
    expect(runtime.execArgv('abc123', ['sh'], { tty: true })).toEqual(['runc', '--root', '/run/packet-path-lab/pplt-tx/runc', 'exec', '--tty', 'abc123', 'sh']);
  });
});
