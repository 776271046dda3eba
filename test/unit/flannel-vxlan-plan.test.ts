// flannel's vxlan planner against a model of the kernel (flannel-model.ts): each plan is carried
// out on the model, and planning again must find nothing to do. The e2e test runs the same plans
// against the real kernel.
import { describe, expect, it } from 'vitest';
import type { FlannelLease } from '../../src/flannel/annotations.ts';
import { NOTHING_OBSERVED, observationBatch, parseFdb, parseIpObservation, type ObservedVxlan } from '../../src/flannel/vxlan-observed.ts';
import { chooseVtepMac, incompatibility, isEmptyPlan, planVxlan, type VxlanNode, type VxlanPlan } from '../../src/flannel/vxlan-plan.ts';
import { applyToModel } from './flannel-model.ts';

const LABS: VxlanNode = { nodeIP: '192.168.56.110', podCIDR: '10.42.0.0/24', clusterCIDR: '10.42.0.0/16', uplink: 'eth1', uplinkMtu: 1500, vtepMac: '5e:00:00:00:01:10' };
const LABSW: FlannelLease = { node: 'labsw', subnet: '10.42.1.0/24', publicIP: '192.168.56.111', vtepMac: '6e:00:00:00:01:11' };
const LABSW2: FlannelLease = { node: 'labsw2', subnet: '10.42.2.0/24', publicIP: '192.168.56.112', vtepMac: '7e:00:00:00:01:12' };

/** Plans, applies to the model, and checks the next plan is empty; returns the plan and the result. */
function converge(own: VxlanNode, leases: FlannelLease[], seen: ObservedVxlan): { plan: VxlanPlan; after: ObservedVxlan } {
  const plan = planVxlan(own, leases, seen);
  const after = applyToModel(seen, plan);
  const again = planVxlan(own, leases, after);
  expect(isEmptyPlan(again), `not converged after one plan: ${JSON.stringify(again)}`).toBe(true);
  expect(again.changes).toEqual([]);
  return { plan, after };
}

const lines = (p: string[][]) => p.map((l) => l.join(' '));

describe('flannel vxlan planner', () => {
  it('fresh node: flannel.1 as flannel makes it, then per other node neighbour, FDB and route (route last)', () => {
    const { plan, after } = converge(LABS, [LABSW], NOTHING_OBSERVED);
    expect(lines(plan.device)).toEqual([
      'link add flannel.1 address 5e:00:00:00:01:10 mtu 1450 type vxlan id 1 local 192.168.56.110 dev eth1 dstport 8472 nolearning',
      'addr add 10.42.0.0/32 dev flannel.1',
      'link set dev flannel.1 up',
    ]);
    expect(lines(plan.fdb)).toEqual(['fdb replace 6e:00:00:00:01:11 dev flannel.1 dst 192.168.56.111 self permanent']);
    expect(lines(plan.entries)).toEqual(['neigh replace 10.42.1.0 lladdr 6e:00:00:00:01:11 dev flannel.1 nud permanent', 'route replace 10.42.1.0/24 via 10.42.1.0 dev flannel.1 onlink']);
    expect(plan.changes).toEqual([
      'flannel.1 created: VNI 1, local 192.168.56.110 dev eth1, port 8472, VTEP MAC 5e:00:00:00:01:10, MTU 1450',
      'flannel.1 address 10.42.0.0/32',
      'node labsw: subnet 10.42.1.0/24 via 192.168.56.111, VTEP MAC 6e:00:00:00:01:11',
    ]);
    expect(after.device).toMatchObject({ mtu: 1450, up: true, addrs: ['10.42.0.0/32'] });
  });

  it('a single node (no other leases) gets flannel.1 and nothing else', () => {
    const { plan } = converge(LABS, [], NOTHING_OBSERVED);
    expect(plan.fdb).toEqual([]);
    expect(plan.entries).toEqual([]);
  });

  it('idempotent: observed == desired plans nothing', () => {
    const { after } = converge(LABS, [LABSW, LABSW2], NOTHING_OBSERVED);
    const p = planVxlan(LABS, [LABSW2, LABSW], after); // order of leases does not matter
    expect(isEmptyPlan(p)).toBe(true);
  });

  it('a node joins: only its three entries, FDB before neighbour and route; the device is not touched', () => {
    const { after } = converge(LABS, [LABSW], NOTHING_OBSERVED);
    const { plan } = converge(LABS, [LABSW, LABSW2], after);
    expect(plan.device).toEqual([]);
    expect(lines(plan.fdb)).toEqual(['fdb replace 7e:00:00:00:01:12 dev flannel.1 dst 192.168.56.112 self permanent']);
    expect(lines(plan.entries)).toEqual(['neigh replace 10.42.2.0 lladdr 7e:00:00:00:01:12 dev flannel.1 nud permanent', 'route replace 10.42.2.0/24 via 10.42.2.0 dev flannel.1 onlink']);
  });

  it('a node leaves: its route, neighbour and FDB entry go; the others stay', () => {
    const { after } = converge(LABS, [LABSW, LABSW2], NOTHING_OBSERVED);
    const { plan, after: left } = converge(LABS, [LABSW], after);
    expect(lines(plan.fdb)).toEqual(['fdb del 7e:00:00:00:01:12 dev flannel.1 dst 192.168.56.112 self']);
    expect(lines(plan.entries)).toEqual(['route del 10.42.2.0/24 dev flannel.1', 'neigh del 10.42.2.0 dev flannel.1']);
    expect(plan.changes).toEqual(["removed what no node's lease explains: route 10.42.2.0/24, neighbour 10.42.2.0, FDB 7e:00:00:00:01:12 dst 192.168.56.112"]);
    expect(left.routes.map((r) => r.dst)).toEqual(['10.42.1.0/24']);
  });

  it("a node's VTEP MAC changes (its flannel.1 was made again): the old FDB entry out, neighbour and FDB to the new MAC", () => {
    const { after } = converge(LABS, [LABSW], NOTHING_OBSERVED);
    const moved = { ...LABSW, vtepMac: '6e:00:00:00:02:22' };
    const { plan, after: now } = converge(LABS, [moved], after);
    expect(lines(plan.fdb)).toEqual(['fdb del 6e:00:00:00:01:11 dev flannel.1 dst 192.168.56.111 self', 'fdb replace 6e:00:00:00:02:22 dev flannel.1 dst 192.168.56.111 self permanent']);
    expect(lines(plan.entries)).toEqual(['neigh replace 10.42.1.0 lladdr 6e:00:00:00:02:22 dev flannel.1 nud permanent']);
    expect(now.fdb.map((e) => e.mac)).toEqual(['6e:00:00:00:02:22']);
  });

  it("a node's IP changes: FDB entry to the new IP (the old one deleted first), neighbour and route unchanged", () => {
    const { after } = converge(LABS, [LABSW], NOTHING_OBSERVED);
    const { plan } = converge(LABS, [{ ...LABSW, publicIP: '192.168.56.121' }], after);
    expect(lines(plan.fdb)).toEqual(['fdb del 6e:00:00:00:01:11 dev flannel.1 dst 192.168.56.111 self', 'fdb replace 6e:00:00:00:01:11 dev flannel.1 dst 192.168.56.121 self permanent']);
    expect(plan.entries).toEqual([]);
  });

  it('a flannel.1 with the wrong VNI, local address or port is recreated, with everything on it', () => {
    const { after } = converge(LABS, [LABSW], NOTHING_OBSERVED);
    for (const wrong of [{ vni: 2 }, { local: '192.168.56.99' }, { port: 4789 }, { link: 'eth0' }, { kind: 'bridge' }]) {
      const seen = { ...after, device: { ...after.device!, ...wrong } };
      const { plan } = converge(LABS, [LABSW], seen);
      expect(lines(plan.device).slice(0, 2)).toEqual(['link del flannel.1', 'link add flannel.1 address 5e:00:00:00:01:10 mtu 1450 type vxlan id 1 local 192.168.56.110 dev eth1 dstport 8472 nolearning']);
      expect(plan.changes[0]).toMatch(/^flannel\.1 already exists with incompatible configuration: .+; recreating device$/);
      // The old device took its entries with it: all three are written again.
      expect(plan.fdb).toHaveLength(1);
      expect(plan.entries).toHaveLength(2);
    }
    expect(incompatibility({ ...after.device!, vni: 2 }, LABS)).toBe('vni: 2 vs 1');
    expect(incompatibility({ ...after.device!, port: 4789 }, LABS)).toBe('port: 4789 vs 8472');
  });

  it('a compatible flannel.1 is kept: only its MTU, MAC, addresses and state are set right', () => {
    const { after } = converge(LABS, [], NOTHING_OBSERVED);
    const seen = { ...after, device: { ...after.device!, mtu: 1500, up: false, learning: true, addrs: ['10.42.7.0/32', '192.0.2.1/24'] } };
    const { plan } = converge(LABS, [], seen);
    expect(lines(plan.device)).toEqual(['link set dev flannel.1 mtu 1450', 'addr del 10.42.7.0/32 dev flannel.1', 'addr add 10.42.0.0/32 dev flannel.1', 'link set dev flannel.1 up']);
  });

  it("leaves alone what is not flannel's: kernel neighbours, FDB entries without a remote, routes outside the cluster CIDR", () => {
    const { after } = converge(LABS, [LABSW], NOTHING_OBSERVED);
    const seen: ObservedVxlan = {
      ...after,
      neighbours: [...after.neighbours, { ip: '10.42.9.9', permanent: false }],
      fdb: [...after.fdb, { mac: '33:33:00:00:00:01', permanent: true, self: true }],
      routes: [...after.routes, { dst: '198.51.100.0/24', onlink: false }],
    };
    expect(isEmptyPlan(planVxlan(LABS, [LABSW], seen))).toBe(true);
  });

  it("ignores its own subnet, and a second node claiming a subnet or MAC (said in warnings)", () => {
    const { plan } = converge(LABS, [LABSW, { ...LABSW, node: 'labs' }, { ...LABSW2, subnet: '10.42.1.0/24', node: 'zz' }, { ...LABSW2, vtepMac: LABSW.vtepMac, node: 'zz2' }, { ...LABSW2, node: 'self', subnet: '10.42.0.0/24' }], NOTHING_OBSERVED);
    expect(plan.fdb).toHaveLength(1);
    expect(plan.warnings).toEqual([
      'ignoring node labsw: subnet 10.42.1.0/24 is node labs\'s too',
      "ignoring node self: its subnet 10.42.0.0/24 overlaps this node's 10.42.0.0/24",
      "ignoring node zz: subnet 10.42.1.0/24 is node labs's too",
      "ignoring node zz2: VTEP MAC 6e:00:00:00:01:11 is another node's too",
    ]);
  });

  it('refuses what must not reach a command', () => {
    expect(() => planVxlan({ ...LABS, uplink: 'eth1 up' }, [], NOTHING_OBSERVED)).toThrow(/uplink "eth1 up" is not an interface name/);
    expect(() => planVxlan({ ...LABS, vtepMac: 'zz' }, [], NOTHING_OBSERVED)).toThrow(/VTEP MAC/);
    expect(() => planVxlan(LABS, [{ ...LABSW, publicIP: '1.2.3.4 dev lo' }], NOTHING_OBSERVED)).toThrow(/invalid lease of node labsw/);
  });

  it('chooses the VTEP MAC as flannel: the existing compatible device, else the published one, else none (random)', () => {
    const dev = { kind: 'vxlan', vni: 1, local: '192.168.56.110', link: 'eth1', port: 8472, mac: '5e:aa:bb:cc:dd:ee', mtu: 1450, up: true, addrs: [] };
    expect(chooseVtepMac(dev, LABS, '5e:00:00:00:00:01')).toBe('5e:aa:bb:cc:dd:ee');
    expect(chooseVtepMac({ ...dev, vni: 7 }, LABS, '5E-00-00-00-00-01')).toBe('5e:00:00:00:00:01');
    expect(chooseVtepMac(null, LABS, undefined)).toBeUndefined();
  });
});

describe('flannel observation parsing', () => {
  const link = '[{"ifindex":2,"ifname":"eth1","flags":["BROADCAST","UP"],"mtu":1500,"address":"aa:aa:aa:aa:aa:aa"}]';
  const dev = '[{"ifindex":4,"ifname":"flannel.1","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1450,"address":"5E:11:22:33:44:55","linkinfo":{"info_kind":"vxlan","info_data":{"id":1,"local":"192.168.56.110","link":"eth1","port_range":{"low":0,"high":0},"port":8472,"learning":false,"ttl":0,"ageing":300}},"addr_info":[{"family":"inet","local":"10.42.0.0","prefixlen":32},{"family":"inet6","local":"fe80::1","prefixlen":64}]}]';
  it('reads the batch (as ip -d -j -batch prints it) and the FDB', () => {
    expect(observationBatch('eth1').map((l) => l.join(' '))).toEqual(['addr show dev eth1', 'addr show dev flannel.1', 'neigh show dev flannel.1', 'route show dev flannel.1']);
    const out = [link, dev, '[{"dst":"10.42.1.0","lladdr":"6e:11:22:33:44:66","state":["PERMANENT"]},{"dst":"10.42.9.1","state":["FAILED"]}]', '[{"type":"unicast","dst":"10.42.1.0/24","gateway":"10.42.1.0","flags":["onlink"]},{"dst":"10.42.3.3","flags":[]}]'].join('\n');
    const { uplinkMtu, vxlan } = parseIpObservation(out + '\n', 'eth1');
    expect(uplinkMtu).toBe(1500);
    expect(vxlan.device).toEqual({ kind: 'vxlan', vni: 1, local: '192.168.56.110', link: 'eth1', port: 8472, learning: false, gbp: false, l2miss: false, mac: '5e:11:22:33:44:55', mtu: 1450, up: true, addrs: ['10.42.0.0/32'] });
    expect(vxlan.neighbours).toEqual([{ ip: '10.42.1.0', mac: '6e:11:22:33:44:66', permanent: true }, { ip: '10.42.9.1', permanent: false }]);
    expect(vxlan.routes).toEqual([{ dst: '10.42.1.0/24', gateway: '10.42.1.0', onlink: true }, { dst: '10.42.3.3/32', onlink: false }]);
    expect(parseFdb('[{"mac":"6e:11:22:33:44:66","dst":"192.168.56.111","flags":["self"],"state":"permanent"}]\n')).toEqual([{ mac: '6e:11:22:33:44:66', dst: '192.168.56.111', permanent: true, self: true }]);
  });
  it('no flannel.1: only the uplink answers; no uplink: an error naming it', () => {
    expect(parseIpObservation(link + '\n', 'eth1').vxlan.device).toBeNull();
    expect(() => parseIpObservation('', 'eth1')).toThrow(/interface eth1 not found/);
  });
});
