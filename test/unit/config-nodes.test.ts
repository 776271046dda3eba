import { describe, expect, it } from 'vitest';
import { parseClusterConfig } from '../../src/api/load.ts';
import { parseNodeTaint, withNodeCount } from '../../src/api/schema/config.ts';
import { configRefusal, SERVER_NODE } from './config-fixtures.ts';

describe('config.yaml: agents and node keys (issue 14)', () => {
  it('reads agents under their k3s keys, node names lower-cased', () => {
    const c = parseClusterConfig(`${SERVER_NODE}node-taint: [node-role.kubernetes.io/control-plane:NoSchedule]\nagents:\n  - node-name: labSW\n    node-ip: 192.168.56.111\n    node-label: [disk=ssd]\n`, 'c.yaml', 'h');
    expect(c.nodeTaints).toEqual(['node-role.kubernetes.io/control-plane:NoSchedule']);
    expect(c.agents).toEqual([{ nodeName: 'labsw', nodeIP: '192.168.56.111', nodeLabels: ['disk=ssd'], nodeTaints: [] }]);
  });

  it('refuses, naming file, line and field: duplicate names and IPs, IPs in the cluster CIDRs or off the node network', () => {
    expect(configRefusal(`${SERVER_NODE}agents:\n  - node-name: labs\n    node-ip: 192.168.56.111\n`)).toBe('lab/config.yaml:4: agents[0].node-name: node name "labs" is already taken by the server\'s node labs');
    expect(configRefusal(`${SERVER_NODE}agents:\n  - node-name: a\n    node-ip: 192.168.56.111\n  - node-name: b\n    node-ip: 192.168.56.111\n`)).toBe('lab/config.yaml:7: agents[1].node-ip: node IP 192.168.56.111 is already taken by agents[0] (a)');
    expect(configRefusal(`${SERVER_NODE}agents:\n  - node-name: a\n    node-ip: 10.42.3.4\n`)).toMatch(/lab\/config\.yaml:5: agents\[0\]\.node-ip: node IP 10\.42\.3\.4 is inside the pod CIDR 10\.42\.0\.0\/16/);
    expect(configRefusal(`${SERVER_NODE}agents:\n  - node-name: a\n    node-ip: 10.43.3.4\n`)).toMatch(/agents\[0\]\.node-ip: node IP 10\.43\.3\.4 is inside the service CIDR 10\.43\.0\.0\/16/);
    expect(configRefusal(`${SERVER_NODE}agents:\n  - node-name: a\n    node-ip: 192.168.57.4\n`)).toMatch(/agents\[0\]\.node-ip: node IP 192\.168\.57\.4 is not on the node network 192\.168\.56\.0\/24 of the server's 192\.168\.56\.110/);
  });

  it('refuses more nodes than the pod CIDR has node CIDRs', () => {
    const agents = [1, 2, 3, 4].map((i) => `  - node-name: a${i}\n    node-ip: 192.168.56.${110 + i}\n`).join('');
    expect(configRefusal(`${SERVER_NODE}cluster-cidr: 10.42.0.0/22\nagents:\n${agents}`)).toMatch(/agents\[3\]: 5 nodes need 5 node CIDRs of \/24, and the pod CIDR 10\.42\.0\.0\/22 has 4/);
  });

  it('refuses a bad label or taint with the shape it wants', () => {
    expect(configRefusal(`${SERVER_NODE}node-label: [disk]\n`)).toMatch(/node-label\[0\]: "disk" is not a label such as "disk=ssd"/);
    expect(configRefusal(`${SERVER_NODE}node-taint: [gpu=yes:Sometimes]\n`)).toMatch(/node-taint\[0\]: "gpu=yes:Sometimes" is not a taint such as "dedicated=gpu:NoSchedule"/);
    expect(parseNodeTaint('node-role.kubernetes.io/control-plane:NoSchedule')).toEqual({ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' });
    expect(parseNodeTaint('dedicated=gpu:NoExecute')).toEqual({ key: 'dedicated', value: 'gpu', effect: 'NoExecute' });
  });

  it('--nodes N: the declared agents first, then labsw, labsw2, ... at the next free addresses', () => {
    const c = { nodeName: 'labs', nodeIP: '192.168.56.110', agents: [{ nodeName: 'labsw', nodeIP: '192.168.56.112', nodeLabels: [], nodeTaints: [] }] };
    expect(withNodeCount(c, 3).agents.map((a) => `${a.nodeName} ${a.nodeIP}`)).toEqual(['labsw 192.168.56.112', 'labsw2 192.168.56.111']);
    expect(withNodeCount(c, 1).agents).toEqual([]);
    expect(withNodeCount({ ...c, agents: [] as typeof c.agents }, 3).agents.map((a) => `${a.nodeName} ${a.nodeIP}`)).toEqual(['labsw 192.168.56.111', 'labsw2 192.168.56.112']);
    expect(withNodeCount(c)).toBe(c);
  });
});

describe('config.yaml: the node failure timers under the Kubernetes flags\' names', () => {
  it('defaults 40s, 300, 300; a demo may shorten them', () => {
    expect(parseClusterConfig(SERVER_NODE, 'c.yaml', 'h').nodeLifecycle).toEqual({ nodeMonitorGracePeriodMs: 40_000, defaultNotReadyTolerationSeconds: 300, defaultUnreachableTolerationSeconds: 300 });
    const c = parseClusterConfig(`${SERVER_NODE}node-monitor-grace-period: 1m30s\ndefault-not-ready-toleration-seconds: 0\ndefault-unreachable-toleration-seconds: 15\n`, 'c.yaml', 'h');
    expect(c.nodeLifecycle).toEqual({ nodeMonitorGracePeriodMs: 90_000, defaultNotReadyTolerationSeconds: 0, defaultUnreachableTolerationSeconds: 15 });
    expect(parseClusterConfig(`${SERVER_NODE}node-monitor-grace-period: 20s\n`, 'c.yaml', 'h').nodeLifecycle!.nodeMonitorGracePeriodMs).toBe(20_000);
  });

  it('refuses what kube would not parse, and a grace period the Lease renewal cannot keep up with', () => {
    expect(configRefusal(`${SERVER_NODE}node-monitor-grace-period: 40\n`)).toBe('lab/config.yaml:3: node-monitor-grace-period: must be a string, got 40');
    expect(configRefusal(`${SERVER_NODE}node-monitor-grace-period: forty\n`)).toBe('lab/config.yaml:3: node-monitor-grace-period: "forty" is not a duration such as "40s" or "1m30s"');
    expect(configRefusal(`${SERVER_NODE}node-monitor-grace-period: 10s\n`)).toBe(
      'lab/config.yaml:3: node-monitor-grace-period: "10s" is shorter than 20s: the kubelet renews its node Lease every 10s, and a shorter grace period would take a healthy node for a failed one',
    );
    expect(configRefusal(`${SERVER_NODE}default-unreachable-toleration-seconds: -1\n`)).toBe('lab/config.yaml:3: default-unreachable-toleration-seconds: must be a number of seconds, 0 or more, got -1');
    expect(configRefusal(`${SERVER_NODE}default-not-ready-toleration-seconds: 1.5\n`)).toBe('lab/config.yaml:3: default-not-ready-toleration-seconds: must be a number of seconds, 0 or more, got 1.5');
  });
});
