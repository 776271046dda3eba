// k3s's NodeHosts upkeep (src/dns/node-hosts-controller.ts): Node InternalIPs as `<IP> <name>`
// lines of the coredns ConfigMap, against an in-process API server.
import { describe, expect, it } from 'vitest';
import { bootstrap } from '../../src/api/server/bootstrap.ts';
import { Registry } from '../../src/api/server/registry.ts';
import { KineStore } from '../../src/api/storage/kine.ts';
import { InformerFactory } from '../../src/client/controller.ts';
import { LocalClient } from '../../src/client/local.ts';
import type { KubeObject } from '../../src/client/types.ts';
import { NodeHostsController, updateNodeHosts } from '../../src/dns/node-hosts-controller.ts';
import { until } from './until.ts';

describe('NodeHosts lines', () => {
  it('adds, rewrites and removes a node\'s line; unchanged is null; junk lines are dropped with a warning', () => {
    expect(updateNodeHosts('', 'labs', '192.168.56.110', false)).toBe('192.168.56.110 labs\n');
    expect(updateNodeHosts('192.168.56.110 labs\n', 'labs', '192.168.56.110', false)).toBeNull();
    expect(updateNodeHosts('192.168.56.110 labs\n', 'labsw', '192.168.56.111', false)).toBe('192.168.56.110 labs\n192.168.56.111 labsw\n');
    expect(updateNodeHosts('192.168.56.110 labs\n192.168.56.111 labsw\n', 'labs', '192.168.56.120', false)).toBe('192.168.56.120 labs\n192.168.56.111 labsw\n');
    expect(updateNodeHosts('192.168.56.110 labs\n192.168.56.111 labsw\n', 'labsw', null, true)).toBe('192.168.56.110 labs\n');
    expect(updateNodeHosts('192.168.56.110 labs\n', 'gone', null, true)).toBeNull();
    expect(updateNodeHosts('192.168.56.110 labs\n', 'labsw', null, false)).toBeNull();
    const warnings: string[] = [];
    expect(updateNodeHosts('one two three\n', 'labs', '10.0.0.1', false, (w) => warnings.push(w))).toBe('10.0.0.1 labs\n');
    expect(warnings).toEqual(['Unknown format for hosts line [one two three]']);
  });
});

describe('NodeHosts controller', () => {
  it('writes each Node\'s InternalIP into the coredns ConfigMap and removes deleted Nodes', async () => {
    const reg = new Registry(new KineStore(':memory:'));
    bootstrap(reg, { clusterIP: '10.43.0.1', endpointIP: '192.168.56.110', port: 6443 });
    const client = new LocalClient(reg);
    const factory = new InformerFactory((r, sel) => client.listWatch(r, sel));
    const logs: string[] = [];
    const ctl = new NodeHostsController(factory, client, (l) => logs.push(l));
    const node = (name: string, ip: string) => ({ apiVersion: 'v1', kind: 'Node', metadata: { name }, status: { addresses: [{ type: 'InternalIP', address: ip }, { type: 'Hostname', address: name }] } }) as KubeObject;
    await client.create({ group: '', resource: 'nodes' }, node('labs', '192.168.56.110'));
    factory.start();
    const hosts = async () => ((await client.get({ group: '', resource: 'configmaps' }, 'kube-system', 'coredns')) as KubeObject & { data?: Record<string, string> }).data?.NodeHosts;
    try {
      // The ConfigMap arrives after the Node (the manifests applier): the Node is taken up then.
      await client.create({ group: '', resource: 'configmaps' }, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'coredns', namespace: 'kube-system' }, data: { Corefile: '.:53 {\n}\n', NodeHosts: '' } } as KubeObject);
      await until('labs in NodeHosts', hosts, (h) => h === '192.168.56.110 labs\n');
      await client.create({ group: '', resource: 'nodes' }, node('labsw', '192.168.56.111'));
      await until('labsw in NodeHosts', hosts, (h) => h === '192.168.56.110 labs\n192.168.56.111 labsw\n');
      await client.delete({ group: '', resource: 'nodes' }, undefined, 'labsw');
      await until('labsw gone', hosts, (h) => h === '192.168.56.110 labs\n');
      await ctl.idle();
      expect(logs).toEqual(['Updated coredns node hosts entry [192.168.56.110 labs]', 'Updated coredns node hosts entry [192.168.56.111 labsw]', 'Removed coredns node hosts entry [192.168.56.111 labsw]']);
    } finally {
      factory.stop();
    }
  });
});
