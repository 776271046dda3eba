// The kube-proxy renderer against kube-proxy's own expectations (pkg/proxy/iptables/proxier_test.go):
// the expected texts below are kube-proxy's, compared per chain as its assertIPTablesRulesEqual does.
import { describe, expect, it } from 'vitest';
import { base32, endpointChainName, masqueradeMark, serviceChainName, servicePortChains } from '../../src/proxy/names.ts';
import { probability, renderProxyRules } from '../../src/proxy/render.ts';
import type { ProxyConfig } from '../../src/proxy/model.ts';
import { endpointSlicesFromEndpoints } from '../../src/controllers/endpoints.ts';
import type { Endpoints } from '../../src/api/types.ts';
import { expectSameRules, makeService, makeSlice, overallServices, overallSlices, parseRestore } from './proxy-fixtures.ts';

/** kube-proxy's NewFakeProxier: cluster CIDR 10.0.0.0/8, localhost NodePorts, fake iptables without --random-fully. */
const fake: ProxyConfig = { nodeName: 'test-hostname', nodeIPs: ['192.168.0.2'], clusterCIDR: '10.0.0.0/8', randomFully: false };

function manualEndpoints(ns: string, name: string, ip: string, portName: string, port: number): Endpoints {
  return {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name, namespace: ns, labels: {}, annotations: {} },
    subsets: [{ addresses: [{ ip }], notReadyAddresses: [], ports: [{ name: portName, port, protocol: 'TCP' }] }],
  };
}

const clusterIPService = (ns: string, name: string, ip: string, portName: string, port: number) =>
  makeService(ns, name, (s) => {
    s.spec.clusterIP = ip;
    s.spec.ports = [{ name: portName, port, protocol: 'TCP', targetPort: port }];
  });

// TestSyncProxyRulesRepeated, initial state.
const EXAMPLE_EXPECTED = `
*filter
:KUBE-NODEPORTS - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FIREWALL - [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
*nat
:KUBE-NODEPORTS - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-SEP-SNQ3ZNILQDEJNDQO - [0:0]
:KUBE-SEP-UHEGFW77JX3KXTOV - [0:0]
:KUBE-SVC-2VJB64SDSIJUP5T6 - [0:0]
:KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]
-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O
-A KUBE-SERVICES -m comment --comment "ns2/svc2:p8080 cluster IP" -m tcp -p tcp -d 172.30.0.42 --dport 8080 -j KUBE-SVC-2VJB64SDSIJUP5T6
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE
-A KUBE-SEP-SNQ3ZNILQDEJNDQO -m comment --comment ns1/svc1:p80 -s 10.0.1.1 -j KUBE-MARK-MASQ
-A KUBE-SEP-SNQ3ZNILQDEJNDQO -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.0.1.1:80
-A KUBE-SEP-UHEGFW77JX3KXTOV -m comment --comment ns2/svc2:p8080 -s 10.0.2.1 -j KUBE-MARK-MASQ
-A KUBE-SEP-UHEGFW77JX3KXTOV -m comment --comment ns2/svc2:p8080 -m tcp -p tcp -j DNAT --to-destination 10.0.2.1:8080
-A KUBE-SVC-2VJB64SDSIJUP5T6 -m comment --comment "ns2/svc2:p8080 cluster IP" -m tcp -p tcp -d 172.30.0.42 --dport 8080 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-2VJB64SDSIJUP5T6 -m comment --comment "ns2/svc2:p8080 -> 10.0.2.1:8080" -j KUBE-SEP-UHEGFW77JX3KXTOV
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.0.1.1:80" -j KUBE-SEP-SNQ3ZNILQDEJNDQO
COMMIT
`;

describe('chain names', () => {
  it('base32 is RFC 4648 (Go StdEncoding)', () => {
    expect(base32(Buffer.from('foobar'))).toBe('MZXW6YTBOI======');
    expect(base32(Buffer.from('f'))).toBe('MY======');
  });
  it('hash "<ns>/<svc>:<port>" + protocol like kube-proxy', () => {
    expect(serviceChainName('ns1', 'svc1', 'p80', 'TCP')).toBe('KUBE-SVC-XPGD46QRK7WJZT7O');
    expect(serviceChainName('ns2', 'svc2', 'p8080', 'TCP')).toBe('KUBE-SVC-2VJB64SDSIJUP5T6');
    expect(servicePortChains('ns5/svc5:p80', 'TCP')).toEqual({
      svc: 'KUBE-SVC-NUKIZ6OKUXPJNT4C',
      svl: 'KUBE-SVL-NUKIZ6OKUXPJNT4C',
      ext: 'KUBE-EXT-NUKIZ6OKUXPJNT4C',
      fw: 'KUBE-FW-NUKIZ6OKUXPJNT4C',
    });
    expect(endpointChainName('ns1/svc1:p80', 'TCP', '10.0.1.1:80')).toBe('KUBE-SEP-SNQ3ZNILQDEJNDQO');
    expect(endpointChainName('ns2/svc2:p8080', 'TCP', '10.0.2.1:8080')).toBe('KUBE-SEP-UHEGFW77JX3KXTOV');
    // Protocol is part of the hash: the UDP twin of a port gets another chain.
    expect(serviceChainName('ns1', 'svc1', 'p80', 'UDP')).not.toBe('KUBE-SVC-XPGD46QRK7WJZT7O');
  });
  it('masquerade mark from the bit', () => {
    expect(masqueradeMark()).toBe('0x4000');
    expect(masqueradeMark(15)).toBe('0x8000');
  });
});

describe('kube-proxy documented example (selector-less Services + manual Endpoints)', () => {
  const services = [clusterIPService('ns1', 'svc1', '172.30.0.41', 'p80', 80), clusterIPService('ns2', 'svc2', '172.30.0.42', 'p8080', 8080)];
  const slices = endpointSlicesFromEndpoints([manualEndpoints('ns1', 'svc1', '10.0.1.1', 'p80', 80), manualEndpoints('ns2', 'svc2', '10.0.2.1', 'p8080', 8080)]);

  it('renders kube-proxy’s rules', () => {
    const r = renderProxyRules({ services, endpointSlices: slices }, fake);
    expectSameRules(r.text, EXAMPLE_EXPECTED);
    expect(r.rules).toEqual({ filter: 4, nat: 15 });
    expect(r.bytes).toBe(Buffer.byteLength(r.text));
  });

  it('writes rules in kube-proxy’s text order (filter then nat, NodePort jump last)', () => {
    const lines = renderProxyRules({ services, endpointSlices: slices }, fake).text.trim().split('\n');
    expect(lines[0]).toBe('*filter');
    expect(lines.indexOf('*nat')).toBeGreaterThan(lines.indexOf('COMMIT'));
    const svcRules = lines.filter((l) => l.startsWith('-A KUBE-SERVICES '));
    expect(svcRules.at(-1)).toContain('-j KUBE-NODEPORTS');
    // The POSTROUTING rules come first in the nat rules, as in proxier.go.
    const nat = lines.slice(lines.indexOf('*nat'));
    expect(nat.find((l) => l.startsWith('-A'))).toBe('-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN');
  });

  it('adds --random-fully to MASQUERADE by default (any current iptables supports it)', () => {
    const r = renderProxyRules({ services, endpointSlices: slices }, { ...fake, randomFully: undefined });
    expect(r.text).toContain('-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully\n');
  });
});

describe('TestOverallIPTablesRules', () => {
  const services = overallServices();
  const slices = overallSlices(fake.nodeName);
  const expected = `
*filter
:KUBE-NODEPORTS - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FIREWALL - [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
-A KUBE-NODEPORTS -m comment --comment "ns2/svc2:p80 health check node port" -m tcp -p tcp --dport 30000 -j ACCEPT
-A KUBE-SERVICES -m comment --comment "ns6/svc6:p80 has no endpoints" -m tcp -p tcp -d 172.30.0.46 --dport 80 -j REJECT
-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns2/svc2:p80 has no local endpoints" -m tcp -p tcp -d 192.168.99.22 --dport 80 -j DROP
-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns2/svc2:p80 has no local endpoints" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j DROP
-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns2/svc2:p80 has no local endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 3001 -j DROP
-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
-A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name ct_state_invalid_dropped_pkts -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A KUBE-PROXY-FIREWALL -m comment --comment "ns5/svc5:p80 traffic not accepted by KUBE-FW-NUKIZ6OKUXPJNT4C" -m tcp -p tcp -d 5.6.7.8 --dport 80 -j DROP
COMMIT
*nat
:KUBE-NODEPORTS - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-EXT-4SW47YFZTEDKD3PK - [0:0]
:KUBE-EXT-GNZBNJ2PO5MGZ6GT - [0:0]
:KUBE-EXT-NUKIZ6OKUXPJNT4C - [0:0]
:KUBE-EXT-X27LE4BHSL4DOUIK - [0:0]
:KUBE-FW-NUKIZ6OKUXPJNT4C - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-SEP-C6EBXVWJJZMIWKLZ - [0:0]
:KUBE-SEP-I77PXRDZVX7PMWMN - [0:0]
:KUBE-SEP-OYPFS5VJICHGATKP - [0:0]
:KUBE-SEP-RS4RBKLTHTF2IUXJ - [0:0]
:KUBE-SEP-SXIVWICOYRO3J4NJ - [0:0]
:KUBE-SEP-UKSFD7AGPMPPLUHC - [0:0]
:KUBE-SVC-4SW47YFZTEDKD3PK - [0:0]
:KUBE-SVC-GNZBNJ2PO5MGZ6GT - [0:0]
:KUBE-SVC-NUKIZ6OKUXPJNT4C - [0:0]
:KUBE-SVC-X27LE4BHSL4DOUIK - [0:0]
:KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]
-A KUBE-NODEPORTS -m comment --comment ns2/svc2:p80 -m tcp -p tcp -d 127.0.0.0/8 --dport 3001 -m nfacct --nfacct-name localhost_nps_accepted_pkts -j KUBE-EXT-GNZBNJ2PO5MGZ6GT
-A KUBE-NODEPORTS -m comment --comment ns2/svc2:p80 -m tcp -p tcp --dport 3001 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT
-A KUBE-NODEPORTS -m comment --comment ns3/svc3:p80 -m tcp -p tcp -d 127.0.0.0/8 --dport 3003 -m nfacct --nfacct-name localhost_nps_accepted_pkts -j KUBE-EXT-X27LE4BHSL4DOUIK
-A KUBE-NODEPORTS -m comment --comment ns3/svc3:p80 -m tcp -p tcp --dport 3003 -j KUBE-EXT-X27LE4BHSL4DOUIK
-A KUBE-NODEPORTS -m comment --comment ns5/svc5:p80 -m tcp -p tcp -d 127.0.0.0/8 --dport 3002 -m nfacct --nfacct-name localhost_nps_accepted_pkts -j KUBE-EXT-NUKIZ6OKUXPJNT4C
-A KUBE-NODEPORTS -m comment --comment ns5/svc5:p80 -m tcp -p tcp --dport 3002 -j KUBE-EXT-NUKIZ6OKUXPJNT4C
-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O
-A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 cluster IP" -m tcp -p tcp -d 172.30.0.42 --dport 80 -j KUBE-SVC-GNZBNJ2PO5MGZ6GT
-A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 external IP" -m tcp -p tcp -d 192.168.99.22 --dport 80 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT
-A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 loadbalancer IP" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT
-A KUBE-SERVICES -m comment --comment "ns3/svc3:p80 cluster IP" -m tcp -p tcp -d 172.30.0.43 --dport 80 -j KUBE-SVC-X27LE4BHSL4DOUIK
-A KUBE-SERVICES -m comment --comment "ns4/svc4:p80 cluster IP" -m tcp -p tcp -d 172.30.0.44 --dport 80 -j KUBE-SVC-4SW47YFZTEDKD3PK
-A KUBE-SERVICES -m comment --comment "ns4/svc4:p80 external IP" -m tcp -p tcp -d 192.168.99.33 --dport 80 -j KUBE-EXT-4SW47YFZTEDKD3PK
-A KUBE-SERVICES -m comment --comment "ns5/svc5:p80 cluster IP" -m tcp -p tcp -d 172.30.0.45 --dport 80 -j KUBE-SVC-NUKIZ6OKUXPJNT4C
-A KUBE-SERVICES -m comment --comment "ns5/svc5:p80 loadbalancer IP" -m tcp -p tcp -d 5.6.7.8 --dport 80 -j KUBE-FW-NUKIZ6OKUXPJNT4C
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
-A KUBE-EXT-4SW47YFZTEDKD3PK -m comment --comment "masquerade traffic for ns4/svc4:p80 external destinations" -j KUBE-MARK-MASQ
-A KUBE-EXT-4SW47YFZTEDKD3PK -j KUBE-SVC-4SW47YFZTEDKD3PK
-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment "pod traffic for ns2/svc2:p80 external destinations" -s 10.0.0.0/8 -j KUBE-SVC-GNZBNJ2PO5MGZ6GT
-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment "masquerade LOCAL traffic for ns2/svc2:p80 external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ
-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment "route LOCAL traffic for ns2/svc2:p80 external destinations" -m addrtype --src-type LOCAL -j KUBE-SVC-GNZBNJ2PO5MGZ6GT
-A KUBE-EXT-NUKIZ6OKUXPJNT4C -m comment --comment "masquerade traffic for ns5/svc5:p80 external destinations" -j KUBE-MARK-MASQ
-A KUBE-EXT-NUKIZ6OKUXPJNT4C -j KUBE-SVC-NUKIZ6OKUXPJNT4C
-A KUBE-EXT-X27LE4BHSL4DOUIK -m comment --comment "masquerade traffic for ns3/svc3:p80 external destinations" -j KUBE-MARK-MASQ
-A KUBE-EXT-X27LE4BHSL4DOUIK -j KUBE-SVC-X27LE4BHSL4DOUIK
-A KUBE-FW-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 loadbalancer IP" -s 203.0.113.0/25 -j KUBE-EXT-NUKIZ6OKUXPJNT4C
-A KUBE-FW-NUKIZ6OKUXPJNT4C -m comment --comment "other traffic to ns5/svc5:p80 will be dropped by KUBE-PROXY-FIREWALL"
-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE
-A KUBE-SEP-C6EBXVWJJZMIWKLZ -m comment --comment ns4/svc4:p80 -s 10.180.0.5 -j KUBE-MARK-MASQ
-A KUBE-SEP-C6EBXVWJJZMIWKLZ -m comment --comment ns4/svc4:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.5:80
-A KUBE-SEP-I77PXRDZVX7PMWMN -m comment --comment ns5/svc5:p80 -s 10.180.0.3 -j KUBE-MARK-MASQ
-A KUBE-SEP-I77PXRDZVX7PMWMN -m comment --comment ns5/svc5:p80 -m recent --name KUBE-SEP-I77PXRDZVX7PMWMN --set -m tcp -p tcp -j DNAT --to-destination 10.180.0.3:80
-A KUBE-SEP-OYPFS5VJICHGATKP -m comment --comment ns3/svc3:p80 -s 10.180.0.3 -j KUBE-MARK-MASQ
-A KUBE-SEP-OYPFS5VJICHGATKP -m comment --comment ns3/svc3:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.3:80
-A KUBE-SEP-RS4RBKLTHTF2IUXJ -m comment --comment ns2/svc2:p80 -s 10.180.0.2 -j KUBE-MARK-MASQ
-A KUBE-SEP-RS4RBKLTHTF2IUXJ -m comment --comment ns2/svc2:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.2:80
-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ
-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80
-A KUBE-SEP-UKSFD7AGPMPPLUHC -m comment --comment ns4/svc4:p80 -s 10.180.0.4 -j KUBE-MARK-MASQ
-A KUBE-SEP-UKSFD7AGPMPPLUHC -m comment --comment ns4/svc4:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.4:80
-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 cluster IP" -m tcp -p tcp -d 172.30.0.44 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 -> 10.180.0.4:80" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-UKSFD7AGPMPPLUHC
-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 -> 10.180.0.5:80" -j KUBE-SEP-C6EBXVWJJZMIWKLZ
-A KUBE-SVC-GNZBNJ2PO5MGZ6GT -m comment --comment "ns2/svc2:p80 cluster IP" -m tcp -p tcp -d 172.30.0.42 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-GNZBNJ2PO5MGZ6GT -m comment --comment "ns2/svc2:p80 -> 10.180.0.2:80" -j KUBE-SEP-RS4RBKLTHTF2IUXJ
-A KUBE-SVC-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 cluster IP" -m tcp -p tcp -d 172.30.0.45 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 -> 10.180.0.3:80" -m recent --name KUBE-SEP-I77PXRDZVX7PMWMN --rcheck --seconds 10800 --reap -j KUBE-SEP-I77PXRDZVX7PMWMN
-A KUBE-SVC-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 -> 10.180.0.3:80" -j KUBE-SEP-I77PXRDZVX7PMWMN
-A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 cluster IP" -m tcp -p tcp -d 172.30.0.43 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 -> 10.180.0.3:80" -j KUBE-SEP-OYPFS5VJICHGATKP
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -j KUBE-SEP-SXIVWICOYRO3J4NJ
COMMIT
`;
  it('NodePort, LoadBalancer (Local and Cluster), externalIPs, source ranges, affinity, no endpoints', () => {
    const r = renderProxyRules({ services, endpointSlices: slices }, { ...fake, nfacct: true });
    expectSameRules(r.text, expected);
  });
});

describe('load balancing', () => {
  const svc = clusterIPService('default', 'app2-service', '10.43.0.20', 'http', 80);
  const three = makeSlice('default', 'app2-service', [{ ip: '10.42.0.4' }, { ip: '10.42.0.2' }, { ip: '10.42.0.3' }], [{ name: 'http', port: 80 }]);

  it('spreads with probabilities 1/(n-i), %0.10f, the last endpoint unconditional', () => {
    const text = renderProxyRules({ services: [svc], endpointSlices: [three] }, fake).text;
    const chain = serviceChainName('default', 'app2-service', 'http', 'TCP');
    const rules = parseRestore(text).nat!.rules[chain]!.filter((l) => l.includes('-j KUBE-SEP-'));
    expect(rules.map((l) => /--probability (\S+)/.exec(l)?.[1] ?? 'none')).toEqual(['0.3333333333', '0.5000000000', 'none']);
    // Endpoints in kube-proxy's order: sorted as "<ip>:<port>" strings.
    expect(rules.map((l) => /-> (\S+)"/.exec(l)?.[1])).toEqual(['10.42.0.2:80', '10.42.0.3:80', '10.42.0.4:80']);
  });

  it('probability() matches Go %0.10f for 1/n', () => {
    expect([2, 3, 4, 6, 7].map(probability)).toEqual(['0.5000000000', '0.3333333333', '0.2500000000', '0.1666666667', '0.1428571429']);
  });

  it('sorts endpoints as strings, like kube-proxy (10.42.0.10 before 10.42.0.9)', () => {
    const sl = makeSlice('default', 'app2-service', [{ ip: '10.42.0.9' }, { ip: '10.42.0.10' }], [{ name: 'http', port: 80 }]);
    const text = renderProxyRules({ services: [svc], endpointSlices: [sl] }, fake).text;
    const dnat = text.split('\n').filter((l) => l.includes('-j DNAT'));
    expect(dnat.map((l) => l.split(' ').at(-1))).toEqual(['10.42.0.10:80', '10.42.0.9:80']);
  });

  it('uses ready endpoints only, and serving+terminating ones when none is ready', () => {
    const mixed = makeSlice('default', 'app2-service', [{ ip: '10.42.0.2', ready: false, serving: true, terminating: true }, { ip: '10.42.0.3' }], [{ name: 'http', port: 80 }]);
    let dnat = renderProxyRules({ services: [svc], endpointSlices: [mixed] }, fake).text.split('\n').filter((l) => l.includes('-j DNAT'));
    expect(dnat.map((l) => l.split(' ').at(-1))).toEqual(['10.42.0.3:80']);
    const draining = makeSlice('default', 'app2-service', [{ ip: '10.42.0.2', ready: false, serving: true, terminating: true }, { ip: '10.42.0.3', ready: false, serving: false }], [{ name: 'http', port: 80 }]);
    dnat = renderProxyRules({ services: [svc], endpointSlices: [draining] }, fake).text.split('\n').filter((l) => l.includes('-j DNAT'));
    expect(dnat.map((l) => l.split(' ').at(-1))).toEqual(['10.42.0.2:80']);
  });

  it('drops per-endpoint comments above 1000 endpoints (large cluster mode)', () => {
    const many = Array.from({ length: 1001 }, (_, i) => ({ ip: `10.42.${Math.floor(i / 250)}.${(i % 250) + 2}` }));
    const text = renderProxyRules({ services: [svc], endpointSlices: [makeSlice('default', 'app2-service', many, [{ name: 'http', port: 80 }])] }, fake).text;
    const sep = text.split('\n').filter((l) => l.startsWith('-A KUBE-SEP-'));
    expect(sep).toHaveLength(2002);
    expect(sep.every((l) => !l.includes('--comment'))).toBe(true);
    // The cluster IP rules keep theirs.
    expect(text).toContain('-A KUBE-SERVICES -m comment --comment "default/app2-service:http cluster IP"');
    const justBelow = renderProxyRules({ services: [svc], endpointSlices: [makeSlice('default', 'app2-service', many.slice(0, 1000), [{ name: 'http', port: 80 }])] }, fake).text;
    expect(justBelow.split('\n').filter((l) => l.startsWith('-A KUBE-SEP-')).every((l) => l.includes('--comment default/app2-service:http'))).toBe(true);
  });
});

describe('what gets no rules, and what gets REJECTed', () => {
  it('headless and ExternalName Services produce no rules', () => {
    const headless = makeService('default', 'db', (s) => {
      s.spec.clusterIP = 'None';
      s.spec.ports = [{ name: 'pg', port: 5432, protocol: 'TCP', targetPort: 5432 }];
    });
    const ext = makeService('default', 'web', (s) => {
      s.spec.type = 'ExternalName';
      s.spec.externalName = 'example.com';
    });
    const slices = [makeSlice('default', 'db', [{ ip: '10.42.0.5' }], [{ name: 'pg', port: 5432 }])];
    const r = renderProxyRules({ services: [headless, ext], endpointSlices: slices }, fake);
    expect(r.text).not.toContain('KUBE-SVC-');
    expect(r.text).not.toContain('KUBE-SEP-');
    expect(r.text).not.toContain('db');
    expect(r.rules).toEqual({ filter: 4, nat: 5 });
  });

  it('a NodePort Service without endpoints is REJECTed on every address, in filter', () => {
    const svc = makeService('default', 'idle', (s) => {
      s.spec.type = 'LoadBalancer';
      s.spec.clusterIP = '10.43.0.50';
      s.spec.externalIPs = ['192.168.56.200'];
      s.spec.ports = [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 80, nodePort: 30080 }];
    });
    const t = parseRestore(renderProxyRules({ services: [svc], endpointSlices: [] }, fake).text);
    expect(t.filter!.rules['KUBE-SERVICES']).toEqual(['-A KUBE-SERVICES -m comment --comment "default/idle:http has no endpoints" -m tcp -p tcp -d 10.43.0.50 --dport 80 -j REJECT']);
    expect(t.filter!.rules['KUBE-EXTERNAL-SERVICES']).toEqual([
      '-A KUBE-EXTERNAL-SERVICES -m comment --comment "default/idle:http has no endpoints" -m tcp -p tcp -d 192.168.56.200 --dport 80 -j REJECT',
      // LoadBalancer ingress = the node IP, as k3s ServiceLB reports it.
      '-A KUBE-EXTERNAL-SERVICES -m comment --comment "default/idle:http has no endpoints" -m tcp -p tcp -d 192.168.0.2 --dport 80 -j REJECT',
      '-A KUBE-EXTERNAL-SERVICES -m comment --comment "default/idle:http has no endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 30080 -j REJECT',
    ]);
    expect(t.nat!.chains.filter((c) => c.startsWith('KUBE-SVC') || c.startsWith('KUBE-EXT'))).toEqual([]);
  });

  it('an unnamed port is "ns/name" in comments and hashes', () => {
    const svc = makeService('default', 'solo', (s) => {
      s.spec.clusterIP = '10.43.0.60';
      s.spec.ports = [{ name: '', port: 8080, protocol: 'UDP', targetPort: 8080 }];
    });
    const text = renderProxyRules({ services: [svc], endpointSlices: [makeSlice('default', 'solo', [{ ip: '10.42.0.7' }], [{ name: '', port: 8080, protocol: 'UDP' }])] }, fake).text;
    expect(text).toContain(`-A KUBE-SERVICES -m comment --comment "default/solo cluster IP" -m udp -p udp -d 10.43.0.60 --dport 8080 -j ${serviceChainName('default', 'solo', '', 'UDP')}`);
    expect(text).toContain('-m udp -p udp -j DNAT --to-destination 10.42.0.7:8080');
  });
});

describe('node settings', () => {
  const svc = clusterIPService('ns1', 'svc1', '172.30.0.41', 'p80', 80);
  const sl = makeSlice('ns1', 'svc1', [{ ip: '10.0.1.1' }], [{ name: 'p80', port: 80 }]);
  it('without localhost NodePorts: no KUBE-FIREWALL, and 127/8 excluded from the NodePort jump', () => {
    const t = parseRestore(renderProxyRules({ services: [svc], endpointSlices: [sl] }, { ...fake, localhostNodePorts: false }).text);
    expect(t.filter!.chains).not.toContain('KUBE-FIREWALL');
    expect(t.nat!.rules['KUBE-SERVICES']!.at(-1)).toBe(
      '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j KUBE-NODEPORTS',
    );
  });
  it('masquerade-all marks every ClusterIP packet; conntrack liberal drops the INVALID rule', () => {
    const t = parseRestore(renderProxyRules({ services: [svc], endpointSlices: [sl] }, { ...fake, masqueradeAll: true, conntrackTCPLiberal: true }).text);
    expect(t.nat!.rules['KUBE-SVC-XPGD46QRK7WJZT7O']![0]).toBe('-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-MARK-MASQ');
    expect(t.filter!.rules['KUBE-FORWARD']!.some((l) => l.includes('INVALID'))).toBe(false);
  });
  it('nodePortAddresses: one NodePort jump per matching node IP', () => {
    const t = parseRestore(renderProxyRules({ services: [svc], endpointSlices: [sl] }, { ...fake, nodeIPs: ['192.168.56.110', '10.9.9.9'], nodePortAddresses: ['192.168.56.0/24'] }).text);
    expect(t.nat!.rules['KUBE-SERVICES']!.at(-1)).toBe(
      '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -d 192.168.56.110 -j KUBE-NODEPORTS',
    );
  });
  it('internalTrafficPolicy Local uses KUBE-SVL with local endpoints only, and DROPs without one', () => {
    const local = makeService('ns1', 'svc1', (s) => {
      s.spec.clusterIP = '172.30.0.41';
      s.spec.internalTrafficPolicy = 'Local';
      s.spec.ports = [{ name: 'p80', port: 80, protocol: 'TCP', targetPort: 80 }];
    });
    const two = makeSlice('ns1', 'svc1', [{ ip: '10.0.1.1', nodeName: 'test-hostname' }, { ip: '10.0.1.2', nodeName: 'other' }], [{ name: 'p80', port: 80 }]);
    const t = parseRestore(renderProxyRules({ services: [local], endpointSlices: [two] }, fake).text);
    expect(t.nat!.rules['KUBE-SERVICES']![0]).toContain('-j KUBE-SVL-XPGD46QRK7WJZT7O');
    expect(t.nat!.rules['KUBE-SVL-XPGD46QRK7WJZT7O']!.filter((l) => l.includes('KUBE-SEP'))).toHaveLength(1);
    expect(t.nat!.chains).not.toContain('KUBE-SVC-XPGD46QRK7WJZT7O');
    const remote = makeSlice('ns1', 'svc1', [{ ip: '10.0.1.2', nodeName: 'other' }], [{ name: 'p80', port: 80 }]);
    const t2 = parseRestore(renderProxyRules({ services: [local], endpointSlices: [remote] }, fake).text);
    expect(t2.filter!.rules['KUBE-SERVICES']).toEqual(['-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 has no local endpoints" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j DROP']);
  });
});
