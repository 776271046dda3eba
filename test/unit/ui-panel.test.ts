// lab ui's details of a click (src/ui/panel.ts): the rules naming an address with their chains and
// counters, kube-proxy's nftables rules, the conntrack entries of the address, Events as
// kubectl get events prints them.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConntrack } from '../../src/trace/conntrack.ts';
import { parseIptablesSave } from '../../src/trace/iptables.ts';
import { parseNftList } from '../../src/trace/nft-table.ts';
import { conntrackFor, eventRows, iptablesRulesFor, nftRulesFor } from '../../src/ui/panel.ts';

const SAVE = `*nat
:PREROUTING ACCEPT [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-SVC-AAAA - [0:0]
:KUBE-SEP-ONE - [0:0]
:KUBE-SEP-TWO - [0:0]
[12:720] -A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
[3:180] -A KUBE-SERVICES -d 10.43.10.20/32 -p tcp -m comment --comment "default/app2-service:http cluster IP" -m tcp --dport 80 -j KUBE-SVC-AAAA
[2:120] -A KUBE-SVC-AAAA -m comment --comment "default/app2-service:http -> 10.42.0.5:80" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-ONE
[1:60] -A KUBE-SVC-AAAA -m comment --comment "default/app2-service:http -> 10.42.0.50:80" -j KUBE-SEP-TWO
[0:0] -A KUBE-SEP-ONE -s 10.42.0.5/32 -m comment --comment "default/app2-service:http" -j KUBE-MARK-MASQ
[2:120] -A KUBE-SEP-ONE -p tcp -m comment --comment "default/app2-service:http" -m tcp -j DNAT --to-destination 10.42.0.5:80
[1:60] -A KUBE-SEP-TWO -p tcp -m comment --comment "default/app2-service:http" -m tcp -j DNAT --to-destination 10.42.0.50:80
COMMIT
`;

describe("a click's kernel objects", () => {
  it("a pod's address: its KUBE-SEP chain and the KUBE-SVC jump to it, with counters; not a longer address's", () => {
    const rows = iptablesRulesFor(parseIptablesSave(SAVE), '10.42.0.5');
    expect(rows.map((r) => [r.chain, r.packets, r.bytes])).toEqual([
      ['KUBE-SVC-AAAA', 2, 120],
      ['KUBE-SEP-ONE', 0, 0],
      ['KUBE-SEP-ONE', 2, 120],
    ]);
    expect(rows[0]!.text).toContain('-j KUBE-SEP-ONE');
  });
  it("a ClusterIP: the KUBE-SERVICES rule, its KUBE-SVC chain's rules and the jump into it", () => {
    const rows = iptablesRulesFor(parseIptablesSave(SAVE), '10.43.10.20');
    expect(rows.map((r) => r.chain)).toEqual(['KUBE-SERVICES', 'KUBE-SVC-AAAA', 'KUBE-SVC-AAAA']);
    expect(iptablesRulesFor(null, '10.43.10.20')).toEqual([]);
  });
  it("kube-proxy's nftables table (a kernel listing): the endpoint chain of the address and the numgen vmap going to it", () => {
    const listing = parseNftList(readFileSync(path.resolve(import.meta.dirname, '../fixtures/trace/nft-list-table.txt'), 'utf8'));
    const rows = nftRulesFor(listing, '10.42.0.5');
    expect(rows.every((r) => r.table === 'ip kube-proxy' && r.packets === undefined)).toBe(true);
    expect(rows.some((r) => r.chain.startsWith('endpoint-') && r.text.includes('dnat to 10.42.0.5:80'))).toBe(true);
    expect(rows.some((r) => r.chain.startsWith('service-') && r.text.includes('numgen random mod 2'))).toBe(true);
    expect(nftRulesFor(null, '10.42.0.5')).toEqual([]);
  });
  it('the conntrack entries of the address, with the DNAT each records', () => {
    const ct = parseConntrack(
      [
        'tcp      6 118 TIME_WAIT src=10.42.0.3 dst=10.43.10.20 sport=40000 dport=80 src=10.42.0.5 dst=10.42.0.3 sport=80 dport=40000 [ASSURED] mark=0 use=1',
        'tcp      6 118 TIME_WAIT src=10.42.0.3 dst=10.43.10.20 sport=40001 dport=80 src=10.42.0.50 dst=10.42.0.3 sport=80 dport=40001 [ASSURED] mark=0 use=1',
      ].join('\n'),
    );
    const rows = conntrackFor(ct, '10.42.0.5');
    expect(rows).toEqual([{ protocol: 'tcp', state: 'TIME_WAIT', timeout: 118, original: 'src=10.42.0.3 dst=10.43.10.20 sport=40000 dport=80', reply: 'src=10.42.0.5 dst=10.42.0.3 sport=80 dport=40000', dnat: '10.43.10.20:80 -> 10.42.0.5:80', snat: undefined, flags: ['ASSURED'] }]);
    expect(conntrackFor(ct, '10.43.10.20')).toHaveLength(2);
  });
});

describe("a click's Events", () => {
  it("kubectl get events's columns, oldest first, a repeated one with its count", () => {
    const now = Date.parse('2026-11-29T05:00:00Z');
    const rows = eventRows(
      [
        { metadata: { name: 'b' }, type: 'Warning', reason: 'BackOff', message: 'Back-off restarting failed container app2', count: 3, firstTimestamp: '2026-11-29T04:58:00Z', lastTimestamp: '2026-11-29T04:59:50Z', source: { component: 'kubelet', host: 'labs' }, involvedObject: { kind: 'Pod', name: 'app2-x' } },
        { metadata: { name: 'a' }, type: 'Normal', reason: 'Scheduled', message: 'Successfully assigned default/app2-x to labs', eventTime: '2026-11-29T04:50:00.000000Z', reportingComponent: 'default-scheduler', involvedObject: { kind: 'Pod', name: 'app2-x' } },
      ],
      now,
    );
    expect(rows).toEqual([
      ['10m', 'Normal', 'Scheduled', 'pod/app2-x', 'default-scheduler', 'Successfully assigned default/app2-x to labs'],
      ['10s (x3 over 2m)', 'Warning', 'BackOff', 'pod/app2-x', 'kubelet, labs', 'Back-off restarting failed container app2'],
    ]);
  });
});
