import { describe, expect, it } from 'vitest';
import { nodeRegistration } from '../../src/controllers/node-roles.ts';

describe('nodeRegistration: the Node a kubelet registers, from k3s keys', () => {
  it('labels and taints from node-label / node-taint, the sandbox namespace, max-pods from the node CIDR', async () => {
    const n = await nodeRegistration({ name: 'labs', nodeIP: '192.168.56.110', role: 'server', nodeLabels: ['disk=ssd', 'empty='], nodeTaints: ['dedicated=gpu:NoSchedule', 'node-role.kubernetes.io/control-plane:NoExecute'], nodeCIDRMaskSize: 22, netns: 'lab-node', podCIDR: '10.42.0.0/24' });
    expect(n.labels).toEqual({ disk: 'ssd', empty: '' });
    expect(n.taints).toEqual([
      { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' },
      { key: 'node-role.kubernetes.io/control-plane', effect: 'NoExecute' },
    ]);
    expect(n.annotations).toEqual({ 'lab/netns': 'lab-node' });
    expect(n.maxPods).toBe(1021);
    expect(n.podCIDR).toBe('10.42.0.0/24');
  });
  it('host mode: no namespace annotation; no podCIDR until the node IPAM gives one; a bad taint is refused', async () => {
    const n = await nodeRegistration({ name: 'labsw', nodeIP: '192.168.56.111', role: 'agent', nodeLabels: [], nodeTaints: [], nodeCIDRMaskSize: 24, netns: null });
    expect(n.annotations).toEqual({});
    expect('podCIDR' in n).toBe(false);
    expect(n.maxPods).toBe(253);
    await expect(nodeRegistration({ name: 'x', nodeIP: '192.168.56.112', role: 'agent', nodeLabels: [], nodeTaints: ['gpu:Never'], nodeCIDRMaskSize: 24, netns: null })).rejects.toThrow(/node-taint: "gpu:Never" is not a taint/);
  });
});
