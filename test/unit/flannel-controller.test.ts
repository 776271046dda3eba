// The flannel controller on the in-process API (LocalClient over a real registry), with a model of
// the kernel as its dataplane (flannel-model.ts): it waits for its Node's podCIDR, publishes its
// lease annotations through nodes/status, follows other Nodes joining, changing and leaving, does
// nothing for heartbeats, and a restarted controller keeps flannel.1's MAC.
import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from '../../src/api/server/registry.ts';
import { KineStore } from '../../src/api/storage/kine.ts';
import { LocalClient } from '../../src/client/local.ts';
import type { FlannelNode } from '../../src/flannel/annotations.ts';
import type { FlannelDataplane, FlannelObservation } from '../../src/flannel/dataplane.ts';
import { FlannelController } from '../../src/flannel/flannel-controller.ts';
import { NOTHING_OBSERVED, type ObservedVxlan } from '../../src/flannel/vxlan-observed.ts';
import type { VxlanPlan } from '../../src/flannel/vxlan-plan.ts';
import { applyToModel } from './flannel-model.ts';
import { until } from './until.ts';

const NODES = { group: '', resource: 'nodes' };

class ModelDataplane implements FlannelDataplane {
  vxlan: ObservedVxlan = structuredClone(NOTHING_OBSERVED);
  save = '*nat\nCOMMIT\n*filter\nCOMMIT\n';
  files = new Map<string, string>();
  looks = 0;
  restores: string[] = [];
  async observe(): Promise<FlannelObservation> {
    this.looks++;
    return { uplinkMtu: 1500, vxlan: structuredClone(this.vxlan), iptablesSave: this.save };
  }
  async applyVxlan(plan: VxlanPlan): Promise<void> {
    this.vxlan = applyToModel(this.vxlan, plan);
  }
  async applyRules(input: string): Promise<void> {
    if (!input) return;
    this.restores.push(input);
    this.save = input; // a first sync's input reads back as the save of a node that has just those rules
  }
  async writeSubnetEnv(file: string, text: string): Promise<boolean> {
    if (this.files.get(file) === text) return false;
    this.files.set(file, text);
    return true;
  }
}

const ANN = 'flannel.alpha.coreos.com/';

describe('FlannelController', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  function start(client: LocalClient, dp: ModelDataplane, logs: string[], nodeName = 'labsw', nodeIP = '192.168.56.111'): FlannelController {
    const c = new FlannelController({ client, nodeName, netns: 'unused', nodeIP, uplink: 'eth1', subnetEnvFile: `/run/test/${nodeName}/subnet.env`, clusterCIDR: '10.42.0.0/16', log: (l) => logs.push(l), dataplane: dp, resyncMs: 3_600_000 });
    c.start();
    cleanups.push(() => c.stop());
    return c;
  }

  const routes = (dp: ModelDataplane) => dp.vxlan.routes.map((r) => `${r.dst} via ${r.gateway}`).sort();

  it('waits for podCIDR, publishes its lease, follows nodes joining and leaving, ignores heartbeats', async () => {
    const client = new LocalClient(new Registry(new KineStore(':memory:')));
    await client.create(NODES, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'labs' }, spec: { podCIDR: '10.42.0.0/24', podCIDRs: ['10.42.0.0/24'] } } as FlannelNode);
    await client.create(NODES, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'labsw' } } as FlannelNode);
    const dp = new ModelDataplane();
    const logs: string[] = [];
    const c = start(client, dp, logs);
    await until('the waiting line', async () => logs.length > 0, (x) => x);
    expect(logs).toEqual(["flannel: waiting for node labsw's spec.podCIDR (the node IPAM assigns it)"]);
    expect(dp.looks).toBe(0);

    // The node IPAM assigns it: the first sync makes flannel.1, the rules, subnet.env, and the lease annotations.
    await client.mutate<FlannelNode>(NODES, undefined, 'labsw', (n) => ({ ...n, spec: { podCIDR: '10.42.1.0/24', podCIDRs: ['10.42.1.0/24'] } }));
    const first = await c.ready;
    expect(first.vtepMac).toMatch(/^[0-9a-f][26ae](:[0-9a-f]{2}){5}$/); // random, locally administered, unicast
    expect(dp.vxlan.device).toMatchObject({ mac: first.vtepMac, mtu: 1450, up: true, addrs: ['10.42.1.0/32'] });
    expect(dp.files.get('/run/test/labsw/subnet.env')).toBe('FLANNEL_NETWORK=10.42.0.0/16\nFLANNEL_SUBNET=10.42.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n');
    expect(dp.restores).toHaveLength(1);
    const labsw = await until('labsw annotated', async () => client.get<FlannelNode>(NODES, undefined, 'labsw'), (n) => n.metadata.annotations?.[`${ANN}kube-subnet-manager`] === 'true');
    expect(labsw.metadata.annotations).toEqual({
      [`${ANN}backend-data`]: `{"VNI":1,"VtepMAC":"${first.vtepMac}"}`,
      [`${ANN}backend-type`]: 'vxlan',
      [`${ANN}kube-subnet-manager`]: 'true',
      [`${ANN}public-ip`]: '192.168.56.111',
    });
    expect(routes(dp)).toEqual([]); // labs has no lease yet (no flannel annotations)

    // labs's flannel publishes its lease: labsw routes to it.
    await client.mutate<FlannelNode>(NODES, undefined, 'labs', (n) => ({ ...n, metadata: { ...n.metadata, annotations: { [`${ANN}backend-data`]: '{"VNI":1,"VtepMAC":"5e:00:00:00:01:10"}', [`${ANN}backend-type`]: 'vxlan', [`${ANN}kube-subnet-manager`]: 'true', [`${ANN}public-ip`]: '192.168.56.110' } } }), { subresource: 'status' });
    await until('route to labs', async () => routes(dp), (r) => r.length === 1);
    expect(routes(dp)).toEqual(['10.42.0.0/24 via 10.42.0.0']);
    expect(dp.vxlan.fdb).toEqual([{ mac: '5e:00:00:00:01:10', dst: '192.168.56.110', permanent: true, self: true }]);
    expect(dp.vxlan.neighbours).toEqual([{ ip: '10.42.0.0', mac: '5e:00:00:00:01:10', permanent: true }]);

    // A heartbeat (status, labels) is not a lease change: no sync.
    const looks = dp.looks;
    await client.mutate<FlannelNode & { status?: object }>(NODES, undefined, 'labs', (n) => ({ ...n, status: { conditions: [{ type: 'Ready', status: 'True' }] } }), { subresource: 'status' });
    await new Promise((r) => setTimeout(r, 50));
    expect(dp.looks).toBe(looks);

    // labs leaves: its entries go.
    await client.delete(NODES, undefined, 'labs');
    await until('route to labs removed', async () => routes(dp), (r) => r.length === 0);
    expect(dp.vxlan.fdb).toEqual([]);
    expect(dp.vxlan.neighbours).toEqual([]);
    expect(dp.restores).toHaveLength(1); // the rules were in place ever since
    expect(logs).toContain("flannel: removed what no node's lease explains: route 10.42.0.0/24, neighbour 10.42.0.0, FDB 5e:00:00:00:01:10 dst 192.168.56.110");
  });

  it('a restarted controller keeps the MAC: the existing flannel.1, else the one its Node published', async () => {
    const client = new LocalClient(new Registry(new KineStore(':memory:')));
    await client.create(NODES, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'labsw' }, spec: { podCIDR: '10.42.1.0/24' } } as FlannelNode);
    const dp = new ModelDataplane();
    const first = await start(client, dp, []).ready;
    await until('annotated', async () => client.get<FlannelNode>(NODES, undefined, 'labsw'), (n) => Boolean(n.metadata.annotations?.[`${ANN}backend-data`]));
    await cleanups.pop()!();

    // Restarted on the same node: flannel.1 is still there and is kept as it is.
    const again = await start(client, dp, []).ready;
    expect(again.vtepMac).toBe(first.vtepMac);
    expect(again.plan.device).toEqual([]);
    await cleanups.pop()!();

    // Rebooted: flannel.1 is gone; the new one gets the MAC the Node's annotation remembers.
    const rebooted = new ModelDataplane();
    const third = await start(client, rebooted, []).ready;
    expect(third.vtepMac).toBe(first.vtepMac);
    expect(rebooted.vxlan.device?.mac).toBe(first.vtepMac);
  });
});
