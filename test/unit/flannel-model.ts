// A model of the kernel for flannel's unit tests: what the planner's commands do to flannel.1 and
// its neighbours, FDB entries and routes, read back as the kernel would show them. Only for tests;
// the e2e test runs the same plans against the real kernel.
import { NOTHING_OBSERVED, type ObservedVxlan } from '../../src/flannel/vxlan-observed.ts';
import type { VxlanPlan } from '../../src/flannel/vxlan-plan.ts';

/** The kernel's state after the plan's commands, in their order. */
export function applyToModel(seen: ObservedVxlan, plan: VxlanPlan): ObservedVxlan {
  const s: ObservedVxlan = structuredClone(seen);
  for (const l of [...plan.device, ...plan.fdb, ...plan.entries]) {
    const [obj, verb, ...rest] = l;
    const arg = (k: string) => rest[rest.indexOf(k) + 1]!;
    if (obj === 'link' && verb === 'del') Object.assign(s, structuredClone(NOTHING_OBSERVED));
    else if (obj === 'link' && verb === 'add') s.device = { kind: 'vxlan', vni: Number(arg('id')), local: arg('local'), link: arg('dev'), port: Number(arg('dstport')), learning: false, gbp: false, l2miss: false, mac: arg('address'), mtu: Number(arg('mtu')), up: false, addrs: [] };
    else if (obj === 'link' && verb === 'set') {
      if (rest.includes('address')) s.device!.mac = arg('address');
      if (rest.includes('mtu')) s.device!.mtu = Number(arg('mtu'));
      if (rest.includes('up')) s.device!.up = true;
    } else if (obj === 'addr' && verb === 'add') s.device!.addrs.push(rest[0]!);
    else if (obj === 'addr' && verb === 'del') s.device!.addrs = s.device!.addrs.filter((a) => a !== rest[0]);
    else if (obj === 'neigh') {
      s.neighbours = s.neighbours.filter((n) => n.ip !== rest[0]);
      if (verb === 'replace') s.neighbours.push({ ip: rest[0]!, mac: arg('lladdr'), permanent: true });
    } else if (obj === 'fdb' && verb === 'del') s.fdb = s.fdb.filter((e) => !(e.mac === rest[0] && e.dst === arg('dst')));
    else if (obj === 'fdb' && verb === 'replace') {
      s.fdb = s.fdb.filter((e) => e.mac !== rest[0]);
      s.fdb.push({ mac: rest[0]!, dst: arg('dst'), permanent: true, self: true });
    } else if (obj === 'route') {
      s.routes = s.routes.filter((r) => r.dst !== rest[0]);
      if (verb === 'replace') s.routes.push({ dst: rest[0]!, gateway: arg('via'), onlink: true });
    } else throw new Error(`model cannot apply ${l.join(' ')}`);
  }
  return s;
}

