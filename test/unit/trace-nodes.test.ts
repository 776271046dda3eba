// The learner's tools over every node: each node's namespace from its Node object, accepted only
// when it is one of the instance's own names; captures on the node a pod runs on.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ClusterView } from '../../src/trace/view.ts';
import { instancePaths } from '../../src/node/instance.ts';
import { captureTargets } from '../../src/cli/commands/tcpdump.ts';
import { buildClusterIndex } from '../../src/trace/cluster.ts';
import { findNode, nodeInfoFromApi, reachableNode } from '../../src/trace/nodes.ts';
import type { FlannelNode } from '../../src/flannel/annotations.ts';

const paths = instancePaths('pplt-tx');
const nodeObj = (name: string, ip: string, netns: string | undefined, opts: { server?: boolean; cidr?: string; mac?: string } = {}): FlannelNode =>
  ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: opts.server ? { 'node-role.kubernetes.io/control-plane': 'true' } : {},
      annotations: {
        ...(netns ? { 'lab/netns': netns } : {}),
        ...(opts.mac ? { 'flannel.alpha.coreos.com/backend-data': JSON.stringify({ VNI: 1, VtepMAC: opts.mac }), 'flannel.alpha.coreos.com/public-ip': ip } : {}),
      },
      creationTimestamp: '2026-01-01T00:00:00Z',
    },
    spec: { podCIDR: opts.cidr },
    status: { addresses: [{ type: 'InternalIP', address: ip }], conditions: [{ type: 'Ready', status: 'True' }] },
  }) as unknown as FlannelNode;

describe('nodes from the Node objects', () => {
  it('takes lab/netns only when it is the instance\'s own name for that node', () => {
    const labs = nodeInfoFromApi(nodeObj('labs', '192.168.56.110', 'pplt-tx-node', { server: true, cidr: '10.42.0.0/24', mac: 'AA:BB:CC:00:11:22' }), paths, 'sandbox');
    expect(labs).toMatchObject({ name: 'labs', ip: '192.168.56.110', netns: 'pplt-tx-node', reachable: true, server: true, podCIDR: '10.42.0.0/24', vtepMac: 'aa:bb:cc:00:11:22', vni: 1, publicIP: '192.168.56.110' });
    expect(nodeInfoFromApi(nodeObj('labsw', '192.168.56.111', 'pplt-tx-node-labsw'), paths, 'sandbox')).toMatchObject({ netns: 'pplt-tx-node-labsw', reachable: true, server: false });
    // Another node's name, another instance's namespace, the root's, a pod's: never used.
    for (const bad of ['pplt-tx-node-labsw2', 'other-node-labsw', '1', 'pplt-tx-app2-abc', '../x']) {
      const n = nodeInfoFromApi(nodeObj('labsw', '192.168.56.111', bad), paths, 'sandbox');
      expect(n.netns, bad).toBeNull();
      expect(n.reachable).toBe(false);
      expect(n.unreachableReason).toMatch(/is not one of this lab's node namespaces/);
    }
    expect(nodeInfoFromApi(nodeObj('labsw', '192.168.56.111', undefined), paths, 'sandbox').unreachableReason).toMatch(/names no network namespace/);
    // A node name that is no DNS label cannot make a namespace name.
    expect(nodeInfoFromApi(nodeObj('Bad_Name', '192.168.56.111', 'pplt-tx-node-Bad_Name'), paths, 'sandbox').netns).toBeNull();
    // Host mode: this machine is the server's node; an agent is another VM.
    expect(nodeInfoFromApi(nodeObj('labs', '192.168.56.110', undefined, { server: true }), paths, 'host')).toMatchObject({ netns: null, reachable: true });
    expect(() => reachableNode([nodeInfoFromApi(nodeObj('labsw', '192.168.56.111', undefined), paths, 'host')], 'labsw')).toThrow(/another machine/);
    expect(() => findNode([], 'nope')).toThrow(/node "nope" not found/);
  });
});

describe('captures on every node', () => {
  const base = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../fixtures/trace/state.json'), 'utf8')) as ClusterView;
  const nodes = [
    nodeInfoFromApi(nodeObj('labs', '192.168.56.110', 'pplt-tx-node', { server: true, cidr: '10.42.0.0/24' }), paths, 'sandbox'),
    nodeInfoFromApi(nodeObj('labsw', '192.168.56.111', 'pplt-tx-node-labsw', { cidr: '10.42.1.0/24' }), paths, 'sandbox'),
  ];
  // One app2 pod moved to labsw.
  const state = structuredClone(base);
  const moved = Object.values(state.pods).filter((p) => p.metadata.labels.app === 'app2').sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))[0]!;
  moved.spec.nodeName = 'labsw';
  state.nodes = nodes;
  const ctx = { state, nodeNetns: 'pplt-tx-node', index: buildClusterIndex(state), nodes };

  it('node/<name>: that node\'s eth1; cni0 --node; a pod\'s veth and a Service\'s endpoints on their own nodes', () => {
    expect(captureTargets(ctx, 'node/labsw').targets.map((t) => [t.netns, t.iface, t.split])).toEqual([['pplt-tx-node-labsw', 'eth1', 'vxlan'], ['pplt-tx-node-labsw', 'eth1', 'other']]);
    expect(captureTargets(ctx, 'labsw').kind).toBe('node');
    // Written to a file: one capture of everything (the reader decodes).
    expect(captureTargets(ctx, 'node/labsw', { write: true }).targets.map((t) => [t.netns, t.iface, t.split])).toEqual([['pplt-tx-node-labsw', 'eth1', undefined]]);
    expect(captureTargets(ctx, 'cni0', { node: 'labsw' }).targets[0]).toMatchObject({ netns: 'pplt-tx-node-labsw', iface: 'cni0', describe: 'cni0 on node labsw' });
    expect(captureTargets(ctx, moved.metadata.name, { veth: true }).targets[0]).toMatchObject({ netns: 'pplt-tx-node-labsw' });
    const svc = captureTargets(ctx, 'svc/app2-service').targets;
    expect(svc.find((t) => t.label === moved.metadata.name)?.netns).toBe('pplt-tx-node-labsw');
    expect(svc.filter((t) => t.label !== moved.metadata.name).every((t) => t.netns === 'pplt-tx-node')).toBe(true);
    expect(() => captureTargets(ctx, 'node/labsw9')).toThrow(/node "labsw9" not found; nodes: labs, labsw/);
  });

  it('a node whose lab/netns was not accepted is refused, not captured on', () => {
    const bad = [nodes[0]!, nodeInfoFromApi(nodeObj('labsw', '192.168.56.111', 'elsewhere'), paths, 'sandbox')];
    expect(() => captureTargets({ ...ctx, nodes: bad }, 'node/labsw')).toThrow(/not one of this lab's node namespaces/);
  });
});
