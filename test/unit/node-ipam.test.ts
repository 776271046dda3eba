import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from '../../src/api/server/registry.ts';
import { KineStore } from '../../src/api/storage/kine.ts';
import { InformerFactory } from '../../src/client/controller.ts';
import { LocalClient } from '../../src/client/local.ts';
import type { KubeObject } from '../../src/client/types.ts';
import { CidrSet, nodeIpamController } from '../../src/controllers/node-ipam.ts';
import { parseCidr } from '../../src/util/cidr.ts';
import { until } from './until.ts';

const NODES = { group: '', resource: 'nodes' };
type NodeObj = KubeObject & { spec?: { podCIDR?: string; podCIDRs?: string[] } };

describe('node IPAM (range allocator)', () => {
  it('hands out node CIDRs in order, after the last one, wrapping; taken ones are skipped', () => {
    const set = new CidrSet(parseCidr('10.42.0.0/22'), 24);
    expect(set.occupy('10.42.0.0/24')).toBe(true);
    expect(set.allocate()).toBe('10.42.1.0/24');
    expect(set.allocate()).toBe('10.42.2.0/24');
    set.release('10.42.1.0/24');
    // The next search starts after the last handed out: a node joining after one left gets a new subnet.
    expect(set.allocate()).toBe('10.42.3.0/24');
    expect(set.allocate()).toBe('10.42.1.0/24');
    expect(set.allocate()).toBeNull();
    expect(set.occupy('10.99.0.0/24')).toBe(false);
    expect(set.occupy('10.42.0.0/25')).toBe(false);
  });

  const stops: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const s of stops.splice(0)) await s();
  });

  it('writes spec.podCIDR(s) of nodes that have none, keeps those that have one, and frees a deleted node\'s', async () => {
    const client = new LocalClient(new Registry(new KineStore(':memory:')));
    await client.create(NODES, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'labs' }, spec: { podCIDR: '10.42.0.0/24', podCIDRs: ['10.42.0.0/24'] } } as NodeObj);
    await client.create(NODES, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'labsw' } } as NodeObj);
    const factory = new InformerFactory((r, sel) => client.listWatch(r, sel));
    const c = nodeIpamController(factory, client, { clusterCIDR: '10.42.0.0/16', nodeCIDRMaskSize: 24 });
    factory.start();
    await factory.waitForSync();
    void c.run();
    stops.push(async () => {
      await c.stop();
      factory.stop();
    });
    const cidrOf = async (name: string) => ((await client.get(NODES, undefined, name)) as NodeObj).spec?.podCIDR;
    await until('labsw\'s podCIDR', () => cidrOf('labsw'), (c) => c === '10.42.1.0/24');
    expect(((await client.get(NODES, undefined, 'labsw')) as NodeObj).spec?.podCIDRs).toEqual(['10.42.1.0/24']);
    expect(await cidrOf('labs')).toBe('10.42.0.0/24');
    await client.create(NODES, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'labsw2' } } as NodeObj);
    await until('labsw2\'s podCIDR', () => cidrOf('labsw2'), (c) => c === '10.42.2.0/24');
    await client.delete(NODES, undefined, 'labsw');
    await client.create(NODES, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'labsw3' } } as NodeObj);
    await until('labsw3\'s podCIDR', () => cidrOf('labsw3'), (c) => c === '10.42.3.0/24');
  });
});
