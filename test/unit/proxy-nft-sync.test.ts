// The nftables planner: a full sync writes the whole table; partial syncs write what kube-proxy's
// nftables proxier writes for a change (the changed Service's chains, element deltas) and nothing
// when nothing changed; stale chains are flushed, then deleted a second later.
import { describe, expect, it } from 'vitest';
import { NftSyncPlanner } from '../../src/proxy/nft-plan.ts';
import { nftEndpointChain, nftServiceChains } from '../../src/proxy/nft-names.ts';
import { makeService, makeSlice, overallServices, overallSlices, sortNFTablesTransaction, TEST_CONFIG } from './proxy-fixtures.ts';
import { renderNftRules } from '../../src/proxy/nft-render.ts';

const svc = (name: string, ip: string) =>
  makeService('ns1', name, (s) => {
    s.spec.clusterIP = ip;
    s.spec.ports = [{ name: 'p80', port: 80, protocol: 'TCP' } as never];
  });
const eps = (name: string, ...ips: string[]) => makeSlice('ns1', name, ips.map((ip) => ({ ip })), [{ name: 'p80', port: 80 }]);
const lines = (text: string) => text.split('\n').filter(Boolean);
/**
 * A partial sync writes chains with their rules and elements through their container's
 * declaration (forms for which nft needs no cache, nft-render.ts); spelled out again as
 * kube-proxy's `add rule` / `add element` lines, in the same order.
 */
const kubeProxyLines = (text: string) =>
  lines(text).flatMap((l) => {
    const chain = /^add chain (ip kube-proxy \S+) \{ (.*) ; \}$/.exec(l);
    if (chain) return chain[2]!.split(' ; ').map((r) => `add rule ${chain[1]} ${r}`);
    const elems = /^add (?:set|map) (ip kube-proxy \S+) \{ .* elements = \{ (.*) \} ; \}$/.exec(l);
    if (elems) return elems[2]!.split(' , ').map((e) => `add element ${elems[1]} { ${e} }`);
    return [l];
  });

describe('NftSyncPlanner', () => {
  it('first sync: replaces the table atomically and writes what the renderer shows', () => {
    const p = new NftSyncPlanner({ config: TEST_CONFIG });
    const plan = p.plan({ services: overallServices(), endpointSlices: overallSlices(TEST_CONFIG.nodeName) });
    expect(plan.full).toBe(true);
    expect(plan.replaceTable).toBe(true);
    expect(lines(plan.text).slice(0, 3)).toEqual(['add table ip kube-proxy { comment "rules for kube-proxy" ; }', 'delete table ip kube-proxy', 'add table ip kube-proxy { comment "rules for kube-proxy" ; }']);
    // Without the flushes and the table's replacement, the transaction is the rendered table.
    const adds = lines(plan.text).filter((l) => l.startsWith('add '));
    const expected = renderNftRules({ services: overallServices(), endpointSlices: overallSlices(TEST_CONFIG.nodeName) }, TEST_CONFIG).text;
    expect(sortNFTablesTransaction([...new Set(adds)].join('\n'))).toBe(sortNFTablesTransaction(expected));
  });

  it('a partial sync with nothing changed writes nothing', () => {
    const p = new NftSyncPlanner({ config: TEST_CONFIG });
    const state = { services: [svc('svc1', '172.30.0.41')], endpointSlices: [eps('svc1', '10.180.0.1')] };
    p.commit(p.plan(state));
    const again = p.plan({ services: [svc('svc1', '172.30.0.41')], endpointSlices: [eps('svc1', '10.180.0.1')] });
    expect(again.full).toBe(false);
    expect(again.changed).toBe(false);
    expect(again.text).toBe('');
  });

  it('TestSyncProxyRulesRepeated: an endpoint added rewrites that Service only; an emptied Service moves to no-endpoint-services; stale chains go a second later', () => {
    const p = new NftSyncPlanner({ config: TEST_CONFIG });
    const services = [svc('svc1', '172.30.0.41'), svc('svc2', '172.30.0.42')];
    p.commit(p.plan({ services, endpointSlices: [eps('svc1', '10.0.1.1'), eps('svc2', '10.0.2.1')], now: 0 }));
    const s2 = nftServiceChains('ns1', 'svc2', 'TCP', 'p80').cluster;
    const ep = (name: string, ip: string) => nftEndpointChain('ns1', name, 'TCP', 'p80', ip, 80).chain;

    // svc2 gains an endpoint: svc2's chains only, no element change.
    const add = p.plan({ services, endpointSlices: [eps('svc1', '10.0.1.1'), eps('svc2', '10.0.2.1', '10.0.2.2')], now: 10 });
    expect(kubeProxyLines(add.text)).toEqual([
      `add chain ip kube-proxy ${ep('svc2', '10.0.2.1')}`,
      `flush chain ip kube-proxy ${ep('svc2', '10.0.2.1')}`,
      `add chain ip kube-proxy ${ep('svc2', '10.0.2.2')}`,
      `flush chain ip kube-proxy ${ep('svc2', '10.0.2.2')}`,
      `add chain ip kube-proxy ${s2}`,
      `flush chain ip kube-proxy ${s2}`,
      `add rule ip kube-proxy ${ep('svc2', '10.0.2.1')} ip saddr 10.0.2.1 jump mark-for-masquerade`,
      `add rule ip kube-proxy ${ep('svc2', '10.0.2.1')} meta l4proto tcp dnat to 10.0.2.1:80`,
      `add rule ip kube-proxy ${ep('svc2', '10.0.2.2')} ip saddr 10.0.2.2 jump mark-for-masquerade`,
      `add rule ip kube-proxy ${ep('svc2', '10.0.2.2')} meta l4proto tcp dnat to 10.0.2.2:80`,
      `add rule ip kube-proxy ${s2} ip daddr 172.30.0.42 tcp dport 80 ip saddr != 10.0.0.0/8 jump mark-for-masquerade`,
      `add rule ip kube-proxy ${s2} numgen random mod 2 vmap { 0 : goto ${ep('svc2', '10.0.2.1')} , 1 : goto ${ep('svc2', '10.0.2.2')} }`,
    ]);
    p.commit(add);

    // svc2 loses all endpoints: its dispatch element goes, a reject element comes, its chains are flushed (stale).
    const empty = p.plan({ services, endpointSlices: [eps('svc1', '10.0.1.1')], now: 20 });
    expect(kubeProxyLines(empty.text)).toEqual([
      `delete element ip kube-proxy service-ips { 172.30.0.42 . tcp . 80 }`,
      `add element ip kube-proxy no-endpoint-services { 172.30.0.42 . tcp . 80 comment "ns1/svc2:p80" : goto reject-chain }`,
      `flush chain ip kube-proxy ${ep('svc2', '10.0.2.1')}`,
      `flush chain ip kube-proxy ${ep('svc2', '10.0.2.2')}`,
      `flush chain ip kube-proxy ${s2}`,
    ]);
    p.commit(empty);

    // Less than a second later nothing to do. After it the stale chains are due, but `delete
    // chain` would make nft fetch the whole table: they wait for a sync that pays for that anyway.
    expect(p.plan({ services, endpointSlices: [eps('svc1', '10.0.1.1')], now: 500 }).text).toBe('');
    const later = p.plan({ services, endpointSlices: [eps('svc1', '10.0.1.1')], now: 1100 });
    expect(later.text).toBe('');
    p.commit(later);
    const staleDeletes = [`delete chain ip kube-proxy ${ep('svc2', '10.0.2.1')}`, `delete chain ip kube-proxy ${ep('svc2', '10.0.2.2')}`, `delete chain ip kube-proxy ${s2}`].sort();

    // svc1 deleted: its elements go (a sync with deletions) and its chains are flushed; svc2's due chains go with it, first.
    const gone = p.plan({ services: [services[1]!], endpointSlices: [], now: 2000 });
    expect(lines(gone.text)).toContain('delete element ip kube-proxy cluster-ips { 172.30.0.41 }');
    expect(lines(gone.text)).toContain('delete element ip kube-proxy service-ips { 172.30.0.41 . tcp . 80 }');
    expect(lines(gone.text)).toContain(`flush chain ip kube-proxy ${nftServiceChains('ns1', 'svc1', 'TCP', 'p80').cluster}`);
    expect(lines(gone.text).slice(0, 3).sort()).toEqual(staleDeletes);
    expect(gone.staleChainsDeleted).toBe(3);
  });

  it('stale chains left by endpoint changes alone are deleted once one has waited 10 s', () => {
    const p = new NftSyncPlanner({ config: TEST_CONFIG });
    const services = [svc('svc1', '172.30.0.41')];
    p.commit(p.plan({ services, endpointSlices: [eps('svc1', '10.0.1.1')], now: 0 }));
    const ep = (ip: string) => nftEndpointChain('ns1', 'svc1', 'TCP', 'p80', ip, 80).chain;
    const moved = p.plan({ services, endpointSlices: [eps('svc1', '10.0.1.2')], now: 10 });
    expect(lines(moved.text)).toContain(`flush chain ip kube-proxy ${ep('10.0.1.1')}`);
    p.commit(moved);
    const next = p.plan({ services, endpointSlices: [eps('svc1', '10.0.1.3')], now: 2000 });
    expect(next.text).not.toContain('delete chain');
    p.commit(next);
    const late = p.plan({ services, endpointSlices: [eps('svc1', '10.0.1.4')], now: 10_010 });
    // 10.0.1.1's chain has waited 10 s: it goes, and 10.0.1.2's (due, flushed at 2000) with it.
    expect(lines(late.text).slice(0, 2).sort()).toEqual([`delete chain ip kube-proxy ${ep('10.0.1.1')}`, `delete chain ip kube-proxy ${ep('10.0.1.2')}`].sort());
    expect(late.text).not.toContain(`delete chain ip kube-proxy ${ep('10.0.1.3')}`);
  });

  it('after a failure the next sync is full and replaces the table', () => {
    const p = new NftSyncPlanner({ config: TEST_CONFIG });
    p.commit(p.plan({ services: [svc('svc1', '172.30.0.41')], endpointSlices: [] }));
    p.fail();
    const plan = p.plan({ services: [svc('svc1', '172.30.0.41')], endpointSlices: [] });
    expect(plan.full && plan.replaceTable).toBe(true);
  });
});
