import { describe, expect, it } from 'vitest';
import { parseCidr } from '../../src/util/cidr.ts';
import { planCniAdd, vethName } from '../../src/cni/bridge.ts';
import type { LabNode } from '../../src/node/node.ts';

const node: LabNode = { name: 'labs', index: 0, mode: 'sandbox', netns: 'lab-node', nodeIP: '192.168.56.110', nodeIPPrefix: 24, podCIDR: parseCidr('10.42.0.0/24'), gateway: '10.42.0.1' };
const pod = { netns: 'lab-app1-x', veth: vethName('lab-app1-x'), ip: '10.42.0.2' };
const onBridge = new Map([[pod.veth, { ifname: pod.veth, master: 'cni0', up: true, hairpin: true, addrs: [] }]]);

describe('CNI ADD planner', () => {
  it('plans netns, veth pair on cni0 with hairpin, and the pod side for a new pod', () => {
    const p = planCniAdd(node, [pod], { netns: new Set(), nodeLinks: new Map(), configured: new Set() });
    expect(p.netnsAdd).toEqual(['lab-app1-x']);
    expect(p.node).toEqual([
      ['link', 'add', pod.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', 'lab-app1-x'],
      ['link', 'set', pod.veth, 'master', 'cni0', 'up'],
      ['link', 'set', pod.veth, 'type', 'bridge_slave', 'hairpin', 'on'],
    ]);
    expect(p.pod.get('lab-app1-x')).toContainEqual(['route', 'replace', 'default', 'via', '10.42.0.1', 'dev', 'eth0']);
    expect(p.pod.get('lab-app1-x')).toContainEqual(['addr', 'replace', '10.42.0.2/24', 'dev', 'eth0']);
  });
  it('plans nothing for a pod whose both sides are done', () => {
    const p = planCniAdd(node, [pod], { netns: new Set(['lab-app1-x']), nodeLinks: onBridge, configured: new Set(['lab-app1-x']) });
    expect(p).toEqual({ netnsAdd: [], node: [], pod: new Map() });
  });
  it('finishes the pod side of an ADD interrupted after the node side', () => {
    const p = planCniAdd(node, [pod], { netns: new Set(['lab-app1-x']), nodeLinks: onBridge, configured: new Set() });
    expect(p.node).toEqual([]);
    expect(p.pod.get('lab-app1-x')).toHaveLength(4);
  });
});
