import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from '../../src/api/server/registry.ts';
import { KineStore } from '../../src/api/storage/kine.ts';
import { InformerFactory } from '../../src/client/controller.ts';
import { LocalClient } from '../../src/client/local.ts';
import type { KubeObject } from '../../src/client/types.ts';
import { orphanedPods, runPodGC } from '../../src/controllers/podgc.ts';
import { until } from './until.ts';

const PODS = { group: '', resource: 'pods' };
const NODES = { group: '', resource: 'nodes' };
const pod = (name: string, nodeName?: string) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' }, spec: { ...(nodeName ? { nodeName } : {}), containers: [{ name: 'c', image: 'busybox' }] } }) as unknown as KubeObject;

describe('pod GC: pods of nodes that are gone', () => {
  it('orphanedPods: only bound pods whose node is missing, by node', () => {
    const o = orphanedPods([pod('a', 'labs'), pod('b', 'labsw'), pod('c'), pod('d', 'labsw')] as never, new Set(['labs']));
    expect([...o.keys()]).toEqual(['labsw']);
    expect(o.get('labsw')!.map((p) => p.metadata.name)).toEqual(['b', 'd']);
  });

  const stops: (() => void)[] = [];
  afterEach(() => stops.splice(0).forEach((s) => s()));

  it('deletes them once the node has been gone for the quarantine, and leaves the others', async () => {
    const client = new LocalClient(new Registry(new KineStore(':memory:')));
    await client.create({ group: '', resource: 'namespaces' }, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } } as KubeObject);
    await client.create(NODES, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'labs' } } as KubeObject);
    await client.create(PODS, pod('kept', 'labs'));
    await client.create(PODS, pod('orphan', 'labsw'));
    const factory = new InformerFactory((r, sel) => client.listWatch(r, sel));
    const t0 = Date.now();
    stops.push(runPodGC(factory, client, { quarantineMs: 300, periodMs: 50 }), () => factory.stop());
    factory.start();
    const names = async () => (await client.list(PODS)).items.map((p) => p.metadata.name).sort();
    await until('the orphan deleted', names, (n) => n.join() === 'kept', 5000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
  });
});
