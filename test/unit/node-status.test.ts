// The kubelet's Node object and Lease (src/kubelet/node-status.ts), the machine facts (src/sys/host.ts).
import { describe, expect, it } from 'vitest';
import { microTime, nodeConditions, nodeLease, nodeObject } from '../../src/kubelet/node-status.ts';
import { hostInfo, osImageOf } from '../../src/sys/host.ts';

const host = { bootID: 'b', machineID: 'm', osImage: 'Debian GNU/Linux 12 (bookworm)', kernelVersion: '6.1.0', architecture: 'amd64', cpus: 2, memoryKi: 1024 };
const T0 = Date.parse('2026-11-28T06:30:00.250Z');

describe('node status', () => {
  it('registers as a k3s server node: roles, addresses, pod CIDR, provider ID, capacity', () => {
    const n = nodeObject({ name: 'labs', nodeIP: '192.168.56.110', podCIDR: '10.42.0.0/24', role: 'server', host, kubeletVersion: 'v1.32.0+lab', containerRuntimeVersion: 'runc://1.1.5' }, T0) as unknown as {
      metadata: { labels: Record<string, string> };
      spec: Record<string, unknown>;
      status: { addresses: unknown[]; capacity: Record<string, string>; nodeInfo: Record<string, string>; conditions: { type: string; status: string; lastHeartbeatTime: string }[] };
    };
    expect(Object.keys(n.metadata.labels).filter((l) => l.startsWith('node-role.kubernetes.io/'))).toEqual(['node-role.kubernetes.io/control-plane', 'node-role.kubernetes.io/master']);
    expect(n.spec).toEqual({ podCIDR: '10.42.0.0/24', podCIDRs: ['10.42.0.0/24'], providerID: 'k3s://labs' });
    expect(n.status.addresses).toEqual([{ address: '192.168.56.110', type: 'InternalIP' }, { address: 'labs', type: 'Hostname' }]);
    expect(n.status.capacity).toMatchObject({ cpu: '2', memory: '1024Ki', pods: '110' });
    expect(n.status.nodeInfo).toMatchObject({ containerRuntimeVersion: 'runc://1.1.5', kubeletVersion: 'v1.32.0+lab', osImage: 'Debian GNU/Linux 12 (bookworm)', operatingSystem: 'linux' });
    expect(n.status.conditions.map((c) => `${c.type}=${c.status}`)).toEqual(['MemoryPressure=False', 'DiskPressure=False', 'PIDPressure=False', 'Ready=True']);
    expect(n.status.conditions[3]!.lastHeartbeatTime).toBe('2026-11-28T06:30:00Z');
    const agent = nodeObject({ name: 'labsw', nodeIP: '192.168.56.111', podCIDR: '10.42.1.0/24', role: 'agent', host, kubeletVersion: 'v', containerRuntimeVersion: 'r' }, T0) as { metadata: { labels: Record<string, string> } };
    expect(Object.keys(agent.metadata.labels).some((l) => l.startsWith('node-role.'))).toBe(false);
  });

  it('a heartbeat moves lastHeartbeatTime; lastTransitionTime moves only with the status', () => {
    const first = nodeConditions(T0);
    const later = nodeConditions(T0 + 10_000, first);
    expect(later[3]).toMatchObject({ lastHeartbeatTime: '2026-11-28T06:30:10Z', lastTransitionTime: '2026-11-28T06:30:00Z' });
    const wasUnknown = nodeConditions(T0 + 20_000, [{ ...first[3]!, status: 'Unknown' }]);
    expect(wasUnknown[3]!.lastTransitionTime).toBe('2026-11-28T06:30:20Z');
  });

  it('the Lease: kube-node-lease/<node>, 40 s, renewTime in microseconds, owned by the Node', () => {
    expect(nodeLease({ name: 'labs', uid: 'u1' }, T0)).toEqual({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'labs', namespace: 'kube-node-lease', ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'labs', uid: 'u1' }] },
      spec: { holderIdentity: 'labs', leaseDurationSeconds: 40, renewTime: '2026-11-28T06:30:00.250000Z' },
    });
    expect(microTime(T0)).toBe('2026-11-28T06:30:00.250000Z');
  });

  it('reads this machine: os-release, kernel, boot id, memory', () => {
    expect(osImageOf('NAME="Debian GNU/Linux"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n')).toBe('Debian GNU/Linux 12 (bookworm)');
    expect(osImageOf('')).toBe('Linux');
    const h = hostInfo();
    expect(h.bootID).toMatch(/^[0-9a-f-]{36}$/);
    expect(h.memoryKi).toBeGreaterThan(0);
    expect(h.cpus).toBeGreaterThan(0);
  });
});
