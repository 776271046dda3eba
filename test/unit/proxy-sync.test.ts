// Partial syncs, step by step as kube-proxy's TestSyncProxyRulesRepeated: after the first (full)
// sync only the changed Services' chains are written, KUBE-SERVICES always, and stale chains are
// flushed and deleted — all from in-memory bookkeeping.
import { describe, expect, it } from 'vitest';
import type { EndpointSlice, Service } from '../../src/api/types.ts';
import type { ProxyConfig } from '../../src/proxy/model.ts';
import { ProxySyncPlanner } from '../../src/proxy/sync-plan.ts';
import { JUMP_RULES, jumpRestoreLine, matchJumpRule } from '../../src/proxy/jumps.ts';
import { makeService, makeSlice, parseRestore } from './proxy-fixtures.ts';

const fake: ProxyConfig = { nodeName: 'test-hostname', nodeIPs: ['192.168.0.2'], clusterCIDR: '10.0.0.0/8', randomFully: false };

const svc = (n: number, port = 80, portName = `p${port}`) =>
  makeService(`ns${n}`, `svc${n}`, (s) => {
    s.spec.clusterIP = `172.30.0.4${n}`;
    s.spec.ports = [{ name: portName, port, protocol: 'TCP', targetPort: port }];
  });
const eps = (n: number, ips: string[], port = 80, portName = `p${port}`) => makeSlice(`ns${n}`, `svc${n}`, ips.map((ip) => ({ ip })), [{ name: portName, port }]);

/** The nat table of a restore text: declared chains (sorted), rules per chain, deleted chains. */
function nat(text: string) {
  return parseRestore(text).nat!;
}

const TOP_NAT = ['KUBE-MARK-MASQ', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-SERVICES'];

describe('ProxySyncPlanner (TestSyncProxyRulesRepeated)', () => {
  it('writes only what changed, and deletes what went stale', () => {
    const p = new ProxySyncPlanner({ config: fake });
    let services: Service[] = [svc(1), svc(2, 8080)];
    let slices: EndpointSlice[] = [eps(1, ['10.0.1.1']), eps(2, ['10.0.2.1'], 8080)];

    // 1. First sync: full.
    let plan = p.plan({ services, endpointSlices: slices });
    expect(plan.full).toBe(true);
    expect(nat(plan.text).chains).toEqual([...TOP_NAT, 'KUBE-SEP-SNQ3ZNILQDEJNDQO', 'KUBE-SEP-UHEGFW77JX3KXTOV', 'KUBE-SVC-2VJB64SDSIJUP5T6', 'KUBE-SVC-XPGD46QRK7WJZT7O'].sort());
    p.commit(plan);

    // 2. Add svc3: only its chains are written; KUBE-SERVICES has all three.
    services = [...services, svc(3)];
    slices = [...slices, eps(3, ['10.0.3.1'])];
    plan = p.plan({ services, endpointSlices: slices });
    expect(plan.full).toBe(false);
    let t = nat(plan.text);
    expect(t.chains).toEqual([...TOP_NAT, 'KUBE-SEP-BSWRHOQ77KEXZLNL', 'KUBE-SVC-X27LE4BHSL4DOUIK'].sort());
    expect(t.rules['KUBE-SERVICES']!.map((l) => l.split(' -j ')[1])).toEqual(['KUBE-SVC-XPGD46QRK7WJZT7O', 'KUBE-SVC-2VJB64SDSIJUP5T6', 'KUBE-SVC-X27LE4BHSL4DOUIK', 'KUBE-NODEPORTS']);
    expect(t.rules['KUBE-SEP-BSWRHOQ77KEXZLNL']).toEqual([
      '-A KUBE-SEP-BSWRHOQ77KEXZLNL -m comment --comment ns3/svc3:p80 -s 10.0.3.1 -j KUBE-MARK-MASQ',
      '-A KUBE-SEP-BSWRHOQ77KEXZLNL -m comment --comment ns3/svc3:p80 -m tcp -p tcp -j DNAT --to-destination 10.0.3.1:80',
    ]);
    expect(t.deleted).toEqual([]);
    expect(plan.servicesWritten).toEqual(['ns3/svc3']);
    p.commit(plan);

    // 3. Delete svc2: its chains are flushed and deleted; nothing else is rewritten.
    services = services.filter((s) => s.metadata.name !== 'svc2');
    slices = slices.filter((s) => s.metadata.namespace !== 'ns2');
    plan = p.plan({ services, endpointSlices: slices });
    t = nat(plan.text);
    expect(t.chains).toEqual([...TOP_NAT, 'KUBE-SEP-UHEGFW77JX3KXTOV', 'KUBE-SVC-2VJB64SDSIJUP5T6'].sort());
    expect(t.deleted).toEqual(['KUBE-SEP-UHEGFW77JX3KXTOV', 'KUBE-SVC-2VJB64SDSIJUP5T6']);
    expect(Object.keys(t.rules).sort()).toEqual(['KUBE-MARK-MASQ', 'KUBE-POSTROUTING', 'KUBE-SERVICES']);
    p.commit(plan);

    // 4. Add svc4 without endpoints: a REJECT in filter, no nat chain.
    services = [...services, svc(4)];
    plan = p.plan({ services, endpointSlices: slices });
    expect(parseRestore(plan.text).filter!.rules['KUBE-SERVICES']).toEqual([
      '-A KUBE-SERVICES -m comment --comment "ns4/svc4:p80 has no endpoints" -m tcp -p tcp -d 172.30.0.44 --dport 80 -j REJECT',
    ]);
    expect(nat(plan.text).chains).toEqual(TOP_NAT);
    p.commit(plan);

    // 5. svc4 gets its endpoint: its chains appear.
    slices = [...slices, eps(4, ['10.0.4.1'])];
    plan = p.plan({ services, endpointSlices: slices });
    expect(nat(plan.text).chains).toEqual([...TOP_NAT, 'KUBE-SEP-AYCN5HPXMIRJNJXU', 'KUBE-SVC-4SW47YFZTEDKD3PK'].sort());
    expect(parseRestore(plan.text).filter!.rules['KUBE-SERVICES']).toBeUndefined();
    p.commit(plan);

    // 6. Change svc3's endpoint: SVC and the new SEP written, the old SEP deleted.
    slices = slices.map((s) => (s.metadata.namespace === 'ns3' ? eps(3, ['10.0.3.2']) : s));
    plan = p.plan({ services, endpointSlices: slices });
    t = nat(plan.text);
    expect(t.chains).toEqual([...TOP_NAT, 'KUBE-SEP-BSWRHOQ77KEXZLNL', 'KUBE-SEP-DKCFIS26GWF2WLWC', 'KUBE-SVC-X27LE4BHSL4DOUIK'].sort());
    expect(t.deleted).toEqual(['KUBE-SEP-BSWRHOQ77KEXZLNL']);
    expect(t.rules['KUBE-SVC-X27LE4BHSL4DOUIK']).toEqual([
      '-A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 cluster IP" -m tcp -p tcp -d 172.30.0.43 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ',
      '-A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 -> 10.0.3.2:80" -j KUBE-SEP-DKCFIS26GWF2WLWC',
    ]);
    p.commit(plan);

    // 7. Add an endpoint to svc3: both SEPs, 0.5 then unconditional.
    slices = slices.map((s) => (s.metadata.namespace === 'ns3' ? eps(3, ['10.0.3.2', '10.0.3.3']) : s));
    plan = p.plan({ services, endpointSlices: slices });
    t = nat(plan.text);
    expect(t.chains).toEqual([...TOP_NAT, 'KUBE-SEP-DKCFIS26GWF2WLWC', 'KUBE-SEP-JVVZVJ7BSEPPRNBS', 'KUBE-SVC-X27LE4BHSL4DOUIK'].sort());
    expect(t.rules['KUBE-SVC-X27LE4BHSL4DOUIK']!.slice(1)).toEqual([
      '-A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 -> 10.0.3.2:80" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-DKCFIS26GWF2WLWC',
      '-A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 -> 10.0.3.3:80" -j KUBE-SEP-JVVZVJ7BSEPPRNBS',
    ]);
    p.commit(plan);

    // 8. No change: no service chain written at all.
    plan = p.plan({ services, endpointSlices: slices });
    expect(nat(plan.text).chains).toEqual(TOP_NAT);
    expect(plan.servicesWritten).toEqual([]);

    // 9. A failed restore forces a full sync next, which also deletes what the failed plan meant to.
    services = services.filter((s) => s.metadata.name !== 'svc4');
    plan = p.plan({ services, endpointSlices: slices });
    expect(nat(plan.text).deleted).toEqual(['KUBE-SEP-AYCN5HPXMIRJNJXU', 'KUBE-SVC-4SW47YFZTEDKD3PK']);
    p.fail(plan);
    plan = p.plan({ services, endpointSlices: slices });
    expect(plan.full).toBe(true);
    t = nat(plan.text);
    expect(t.chains).toEqual(
      [...TOP_NAT, 'KUBE-SEP-AYCN5HPXMIRJNJXU', 'KUBE-SEP-DKCFIS26GWF2WLWC', 'KUBE-SEP-JVVZVJ7BSEPPRNBS', 'KUBE-SEP-SNQ3ZNILQDEJNDQO', 'KUBE-SVC-4SW47YFZTEDKD3PK', 'KUBE-SVC-X27LE4BHSL4DOUIK', 'KUBE-SVC-XPGD46QRK7WJZT7O'].sort(),
    );
    expect(t.deleted).toEqual(['KUBE-SEP-AYCN5HPXMIRJNJXU', 'KUBE-SVC-4SW47YFZTEDKD3PK']);
    p.commit(plan);
    expect([...p.activeChains].sort()).toEqual(['KUBE-SEP-DKCFIS26GWF2WLWC', 'KUBE-SEP-JVVZVJ7BSEPPRNBS', 'KUBE-SEP-SNQ3ZNILQDEJNDQO', 'KUBE-SVC-X27LE4BHSL4DOUIK', 'KUBE-SVC-XPGD46QRK7WJZT7O']);
  });

  it('adopts leftover chains of an earlier run and deletes those not in use', () => {
    const p = new ProxySyncPlanner({ config: fake });
    p.adoptChains(['KUBE-SVC-XPGD46QRK7WJZT7O', 'KUBE-SEP-OLDOLDOLDOLDOLD1', 'KUBE-SERVICES', 'FOREIGN-CHAIN']);
    const plan = p.plan({ services: [svc(1)], endpointSlices: [eps(1, ['10.0.1.1'])] });
    expect(plan.staleChains).toEqual(['KUBE-SEP-OLDOLDOLDOLDOLD1']);
  });

  it('trusts the "changed" hint for the others, like kube-proxy’s change trackers', () => {
    const p = new ProxySyncPlanner({ config: fake });
    const services = [svc(1), svc(3)];
    p.commit(p.plan({ services, endpointSlices: [eps(1, ['10.0.1.1']), eps(3, ['10.0.3.1'])] }));
    // svc1's endpoint changed, but the hint names only svc3: svc1 is taken from the cache.
    const plan = p.plan({ services, endpointSlices: [eps(1, ['10.0.1.9']), eps(3, ['10.0.3.2'])], changed: ['ns3/svc3'] });
    expect(plan.servicesWritten).toEqual(['ns3/svc3']);
    expect(plan.text).not.toContain('10.0.1.9');
    expect(plan.text).toContain('10.0.3.2:80');
  });

  it('calls a partial sync with nothing to change unchanged (the applier then skips it)', () => {
    const p = new ProxySyncPlanner({ config: fake });
    const first = p.plan({ services: [svc(1)], endpointSlices: [eps(1, ['10.0.1.1'])] });
    expect(first.changed).toBe(true); // full
    p.commit(first);
    // New objects with the same content, and an endpoint that is not ready (no rule for it).
    const notReady = makeSlice('ns1', 'svc1', [{ ip: '10.0.1.1' }, { ip: '10.0.1.2', ready: false, serving: false }], [{ name: 'p80', port: 80 }]);
    const same = p.plan({ services: [svc(1)], endpointSlices: [notReady] });
    expect(same.changed).toBe(false);
    expect(same.servicesWritten).toEqual([]);
    p.commit(same);
    const ready = p.plan({ services: [svc(1)], endpointSlices: [eps(1, ['10.0.1.1', '10.0.1.2'])] });
    expect(ready.changed).toBe(true);
    expect(ready.servicesWritten).toEqual(['ns1/svc1']);
    p.commit(ready);
    // A new Service with no endpoints changes only KUBE-SERVICES (a REJECT rule in filter).
    expect(p.plan({ services: [svc(1), svc(2)], endpointSlices: [eps(1, ['10.0.1.1', '10.0.1.2'])] }).changed).toBe(true);
    expect(p.plan({ services: [svc(1)], endpointSlices: [eps(1, ['10.0.1.1', '10.0.1.2'])], full: true }).changed).toBe(true);
  });

  it("topLevel 'when-changed' leaves unchanged top-level chains out of partial syncs", () => {
    const p = new ProxySyncPlanner({ config: fake, topLevel: 'when-changed' });
    const services = [svc(1), svc(3)];
    p.commit(p.plan({ services, endpointSlices: [eps(1, ['10.0.1.1']), eps(3, ['10.0.3.1'])] }));
    const plan = p.plan({ services, endpointSlices: [eps(1, ['10.0.1.1']), eps(3, ['10.0.3.1', '10.0.3.2'])] });
    const t = parseRestore(plan.text);
    expect(t.nat!.chains).toEqual(['KUBE-SEP-BSWRHOQ77KEXZLNL', 'KUBE-SEP-DKCFIS26GWF2WLWC', 'KUBE-SVC-X27LE4BHSL4DOUIK']);
    expect(t.filter).toBeUndefined(); // nothing to write in filter: the table is left out
    expect(plan.rules.filter).toBe(0);
    p.commit(plan);
    // Deleting a Service changes KUBE-SERVICES, so it is written again.
    const after = p.plan({ services: [svc(1)], endpointSlices: [eps(1, ['10.0.1.1'])] });
    expect(parseRestore(after.text).nat!.chains).toContain('KUBE-SERVICES');
    expect(parseRestore(after.text).nat!.rules['KUBE-SERVICES']).toHaveLength(2);
  });

  it('reports UDP endpoint changes for conntrack cleanup', () => {
    const dns = makeService('kube-system', 'kube-dns', (s) => {
      s.spec.clusterIP = '10.43.0.10';
      s.spec.ports = [
        { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
        { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
      ];
    });
    const slice = (ips: string[]) =>
      makeSlice('kube-system', 'kube-dns', ips.map((ip) => ({ ip })), [
        { name: 'dns', port: 53, protocol: 'UDP' },
        { name: 'dns-tcp', port: 53, protocol: 'TCP' },
      ]);
    const p = new ProxySyncPlanner({ config: fake });
    let plan = p.plan({ services: [dns], endpointSlices: [] });
    expect(plan.udpConntrack).toEqual([]);
    p.commit(plan);
    plan = p.plan({ services: [dns], endpointSlices: [slice(['10.42.0.5'])] });
    expect(plan.udpConntrack).toEqual([{ serviceIPs: ['10.43.0.10'], port: 53, nodePort: 0, removedEndpointIPs: [], hadNoEndpoints: true }]);
    p.commit(plan);
    plan = p.plan({ services: [dns], endpointSlices: [slice(['10.42.0.6'])] });
    expect(plan.udpConntrack).toEqual([{ serviceIPs: ['10.43.0.10'], port: 53, nodePort: 0, removedEndpointIPs: ['10.42.0.5'], hadNoEndpoints: false }]);
  });
});

describe('jump rules', () => {
  it('are kube-proxy v1.33’s, inserted at the top in list order', () => {
    expect(JUMP_RULES.filter((j) => j.table === 'nat').map((j) => jumpRestoreLine(j, '-I'))).toEqual([
      '-I OUTPUT 1 -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      '-I PREROUTING 1 -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      '-I POSTROUTING 1 -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
    ]);
    expect(JUMP_RULES.filter((j) => j.table === 'filter' && j.srcChain === 'INPUT').map((j) => j.dstChain)).toEqual(['KUBE-EXTERNAL-SERVICES', 'KUBE-NODEPORTS', 'KUBE-PROXY-FIREWALL', 'KUBE-FIREWALL']);
  });
  it('are recognised in iptables-save output, and foreign rules are not', () => {
    expect(matchJumpRule('filter', '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES')?.dstChain).toBe('KUBE-EXTERNAL-SERVICES');
    expect(matchJumpRule('filter', '-A INPUT -j KUBE-FIREWALL')?.dstChain).toBe('KUBE-FIREWALL');
    expect(matchJumpRule('nat', '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES')?.srcChain).toBe('PREROUTING');
    expect(matchJumpRule('nat', '-A PREROUTING -s 1.2.3.4/32 -j KUBE-SERVICES')).toBeUndefined();
    expect(matchJumpRule('filter', '-A INPUT -s 1.2.3.4/32 -j KUBE-FIREWALL')).toBeUndefined();
    expect(matchJumpRule('filter', '-A INPUT -s 1.2.3.4/32 -j DROP')).toBeUndefined();
    expect(matchJumpRule('nat', '-A KUBE-SERVICES -m comment --comment "kubernetes service portals" -j KUBE-SERVICES')).toBeUndefined();
  });
});
