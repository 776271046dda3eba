// kube-proxy on each node of a two-node cluster: the same Services and EndpointSlices rendered by
// labs (192.168.56.110) and by labsw (192.168.56.111), each with its own --hostname-override.
// What differs between the two is exactly what kube-proxy v1.33's syncProxyRules makes depend on
// "local" (endpoint.nodeName == this node): the KUBE-SVL chains, the DROP rules of a node with no
// local endpoint, and the terminating fallback. Everything else is the same text on both nodes.
import { describe, expect, it } from 'vitest';
import { renderProxyRules } from '../../src/proxy/render.ts';
import type { ProxyConfig } from '../../src/proxy/model.ts';
import { expectSameRules, makeService, makeSlice, parseRestore } from './proxy-fixtures.ts';

const http = [{ name: 'http', port: 80 }];
const port = (nodePort?: number) => [{ name: 'http', port: 80, protocol: 'TCP' as const, targetPort: 80, ...(nodePort ? { nodePort } : {}) }];

const services = [
  // LoadBalancer, externalTrafficPolicy Local: a ready endpoint on each node (and a terminating
  // one on labsw, unused while a ready one is there). ServiceLB lists both nodes.
  makeService('default', 'web', (s) => {
    s.spec.type = 'LoadBalancer';
    s.spec.externalTrafficPolicy = 'Local';
    s.spec.clusterIP = '10.43.0.50';
    s.spec.ports = port(30080);
    (s.spec as Record<string, unknown>).healthCheckNodePort = 31000;
    s.status = { loadBalancer: { ingress: [{ ip: '192.168.56.110' }, { ip: '192.168.56.111' }] } };
  }),
  // NodePort, externalTrafficPolicy Local, its one pod on labs.
  makeService('default', 'only-labs', (s) => {
    s.spec.type = 'NodePort';
    s.spec.externalTrafficPolicy = 'Local';
    s.spec.clusterIP = '10.43.0.51';
    s.spec.ports = port(30081);
  }),
  // ClusterIP, internalTrafficPolicy Local, its one pod on labs.
  makeService('default', 'node-local', (s) => {
    s.spec.internalTrafficPolicy = 'Local';
    s.spec.clusterIP = '10.43.0.52';
    s.spec.ports = port();
  }),
  // NodePort, externalTrafficPolicy Local: labs has only a terminating (still serving) pod,
  // labsw a ready one.
  makeService('default', 'draining', (s) => {
    s.spec.type = 'NodePort';
    s.spec.externalTrafficPolicy = 'Local';
    s.spec.clusterIP = '10.43.0.53';
    s.spec.ports = port(30083);
  }),
  // NodePort, externalTrafficPolicy Cluster, its one pod on labsw: answered on every node.
  makeService('default', 'everywhere', (s) => {
    s.spec.type = 'NodePort';
    s.spec.clusterIP = '10.43.0.54';
    s.spec.ports = port(30084);
  }),
];

const slices = [
  makeSlice('default', 'web', [{ ip: '10.42.0.5', nodeName: 'labs' }, { ip: '10.42.1.5', nodeName: 'labsw' }, { ip: '10.42.1.6', nodeName: 'labsw', ready: false, serving: true, terminating: true }], http),
  makeSlice('default', 'only-labs', [{ ip: '10.42.0.7', nodeName: 'labs' }], http),
  makeSlice('default', 'node-local', [{ ip: '10.42.0.8', nodeName: 'labs' }], http),
  makeSlice('default', 'draining', [{ ip: '10.42.0.9', nodeName: 'labs', ready: false, serving: true, terminating: true }, { ip: '10.42.1.9', nodeName: 'labsw' }], http),
  makeSlice('default', 'everywhere', [{ ip: '10.42.1.4', nodeName: 'labsw' }], http),
];

const labs: ProxyConfig = { nodeName: 'labs', nodeIPs: ['192.168.56.110'], clusterCIDR: '10.42.0.0/16' };
const labsw: ProxyConfig = { nodeName: 'labsw', nodeIPs: ['192.168.56.111'], clusterCIDR: '10.42.0.0/16' };
const render = (config: ProxyConfig) => renderProxyRules({ services, endpointSlices: slices }, config).text;

// The scaffolding every node writes (KUBE-POSTROUTING, KUBE-FORWARD, the NodePort catch-all).
const FILTER_HEAD = `*filter
:KUBE-SERVICES - [0:0]
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
:KUBE-FIREWALL - [0:0]
-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A KUBE-NODEPORTS -m comment --comment "default/web:http health check node port" -m tcp -p tcp --dport 31000 -j ACCEPT`;
const NAT_HEAD = `*nat
:KUBE-SERVICES - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-MARK-MASQ - [0:0]
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000`;
const NODEPORTS_LAST = `-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS`;

// Per Service (in namespace/name order, as the lab writes them; kube-proxy's order between
// Services is a Go map's), the rules both nodes write alike, then each node's own.
const DRAINING = `
:KUBE-EXT-Y7EDZEKK3VQEVH55 - [0:0]
:KUBE-SVC-Y7EDZEKK3VQEVH55 - [0:0]
:KUBE-SVL-Y7EDZEKK3VQEVH55 - [0:0]
:KUBE-SEP-KD3V7LUDWIQFA4NV - [0:0]
-A KUBE-SERVICES -m comment --comment "default/draining:http cluster IP" -m tcp -p tcp -d 10.43.0.53 --dport 80 -j KUBE-SVC-Y7EDZEKK3VQEVH55
-A KUBE-NODEPORTS -m comment --comment default/draining:http -m tcp -p tcp --dport 30083 -j KUBE-EXT-Y7EDZEKK3VQEVH55
-A KUBE-SVC-Y7EDZEKK3VQEVH55 -m comment --comment "default/draining:http cluster IP" -m tcp -p tcp -d 10.43.0.53 --dport 80 ! -s 10.42.0.0/16 -j KUBE-MARK-MASQ
-A KUBE-SVC-Y7EDZEKK3VQEVH55 -m comment --comment "default/draining:http -> 10.42.1.9:80" -j KUBE-SEP-KD3V7LUDWIQFA4NV
-A KUBE-EXT-Y7EDZEKK3VQEVH55 -m comment --comment "pod traffic for default/draining:http external destinations" -s 10.42.0.0/16 -j KUBE-SVC-Y7EDZEKK3VQEVH55
-A KUBE-EXT-Y7EDZEKK3VQEVH55 -m comment --comment "masquerade LOCAL traffic for default/draining:http external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ
-A KUBE-EXT-Y7EDZEKK3VQEVH55 -m comment --comment "route LOCAL traffic for default/draining:http external destinations" -m addrtype --src-type LOCAL -j KUBE-SVC-Y7EDZEKK3VQEVH55
-A KUBE-EXT-Y7EDZEKK3VQEVH55 -j KUBE-SVL-Y7EDZEKK3VQEVH55
-A KUBE-SEP-KD3V7LUDWIQFA4NV -m comment --comment default/draining:http -s 10.42.1.9 -j KUBE-MARK-MASQ
-A KUBE-SEP-KD3V7LUDWIQFA4NV -m comment --comment default/draining:http -m tcp -p tcp -j DNAT --to-destination 10.42.1.9:80`;
const DRAINING_LABS = `
:KUBE-SEP-VOOLCBQCNOKXPAZ2 - [0:0]
-A KUBE-SVL-Y7EDZEKK3VQEVH55 -m comment --comment "default/draining:http -> 10.42.0.9:80" -j KUBE-SEP-VOOLCBQCNOKXPAZ2
-A KUBE-SEP-VOOLCBQCNOKXPAZ2 -m comment --comment default/draining:http -s 10.42.0.9 -j KUBE-MARK-MASQ
-A KUBE-SEP-VOOLCBQCNOKXPAZ2 -m comment --comment default/draining:http -m tcp -p tcp -j DNAT --to-destination 10.42.0.9:80`;
const DRAINING_LABSW = `
-A KUBE-SVL-Y7EDZEKK3VQEVH55 -m comment --comment "default/draining:http -> 10.42.1.9:80" -j KUBE-SEP-KD3V7LUDWIQFA4NV`;

const EVERYWHERE = `
:KUBE-EXT-Q4TZ3MG75JC3PYHJ - [0:0]
:KUBE-SVC-Q4TZ3MG75JC3PYHJ - [0:0]
:KUBE-SEP-3QSHQL2KCEKQHB6L - [0:0]
-A KUBE-SERVICES -m comment --comment "default/everywhere:http cluster IP" -m tcp -p tcp -d 10.43.0.54 --dport 80 -j KUBE-SVC-Q4TZ3MG75JC3PYHJ
-A KUBE-NODEPORTS -m comment --comment default/everywhere:http -m tcp -p tcp --dport 30084 -j KUBE-EXT-Q4TZ3MG75JC3PYHJ
-A KUBE-SVC-Q4TZ3MG75JC3PYHJ -m comment --comment "default/everywhere:http cluster IP" -m tcp -p tcp -d 10.43.0.54 --dport 80 ! -s 10.42.0.0/16 -j KUBE-MARK-MASQ
-A KUBE-SVC-Q4TZ3MG75JC3PYHJ -m comment --comment "default/everywhere:http -> 10.42.1.4:80" -j KUBE-SEP-3QSHQL2KCEKQHB6L
-A KUBE-EXT-Q4TZ3MG75JC3PYHJ -m comment --comment "masquerade traffic for default/everywhere:http external destinations" -j KUBE-MARK-MASQ
-A KUBE-EXT-Q4TZ3MG75JC3PYHJ -j KUBE-SVC-Q4TZ3MG75JC3PYHJ
-A KUBE-SEP-3QSHQL2KCEKQHB6L -m comment --comment default/everywhere:http -s 10.42.1.4 -j KUBE-MARK-MASQ
-A KUBE-SEP-3QSHQL2KCEKQHB6L -m comment --comment default/everywhere:http -m tcp -p tcp -j DNAT --to-destination 10.42.1.4:80`;

const NODE_LOCAL_LABS = `
:KUBE-SVL-DCRKDIWN45MPZN6I - [0:0]
:KUBE-SEP-TW5EDR4PXR44CPD7 - [0:0]
-A KUBE-SERVICES -m comment --comment "default/node-local:http cluster IP" -m tcp -p tcp -d 10.43.0.52 --dport 80 -j KUBE-SVL-DCRKDIWN45MPZN6I
-A KUBE-SVL-DCRKDIWN45MPZN6I -m comment --comment "default/node-local:http cluster IP" -m tcp -p tcp -d 10.43.0.52 --dport 80 ! -s 10.42.0.0/16 -j KUBE-MARK-MASQ
-A KUBE-SVL-DCRKDIWN45MPZN6I -m comment --comment "default/node-local:http -> 10.42.0.8:80" -j KUBE-SEP-TW5EDR4PXR44CPD7
-A KUBE-SEP-TW5EDR4PXR44CPD7 -m comment --comment default/node-local:http -s 10.42.0.8 -j KUBE-MARK-MASQ
-A KUBE-SEP-TW5EDR4PXR44CPD7 -m comment --comment default/node-local:http -m tcp -p tcp -j DNAT --to-destination 10.42.0.8:80`;

const ONLY_LABS = `
:KUBE-EXT-VDXX5Y366KJPZY7S - [0:0]
:KUBE-SVC-VDXX5Y366KJPZY7S - [0:0]
:KUBE-SEP-W2FRCIFGRQDKVWY6 - [0:0]
-A KUBE-SERVICES -m comment --comment "default/only-labs:http cluster IP" -m tcp -p tcp -d 10.43.0.51 --dport 80 -j KUBE-SVC-VDXX5Y366KJPZY7S
-A KUBE-NODEPORTS -m comment --comment default/only-labs:http -m tcp -p tcp --dport 30081 -j KUBE-EXT-VDXX5Y366KJPZY7S
-A KUBE-SVC-VDXX5Y366KJPZY7S -m comment --comment "default/only-labs:http cluster IP" -m tcp -p tcp -d 10.43.0.51 --dport 80 ! -s 10.42.0.0/16 -j KUBE-MARK-MASQ
-A KUBE-SVC-VDXX5Y366KJPZY7S -m comment --comment "default/only-labs:http -> 10.42.0.7:80" -j KUBE-SEP-W2FRCIFGRQDKVWY6
-A KUBE-EXT-VDXX5Y366KJPZY7S -m comment --comment "pod traffic for default/only-labs:http external destinations" -s 10.42.0.0/16 -j KUBE-SVC-VDXX5Y366KJPZY7S
-A KUBE-EXT-VDXX5Y366KJPZY7S -m comment --comment "masquerade LOCAL traffic for default/only-labs:http external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ
-A KUBE-EXT-VDXX5Y366KJPZY7S -m comment --comment "route LOCAL traffic for default/only-labs:http external destinations" -m addrtype --src-type LOCAL -j KUBE-SVC-VDXX5Y366KJPZY7S
-A KUBE-SEP-W2FRCIFGRQDKVWY6 -m comment --comment default/only-labs:http -s 10.42.0.7 -j KUBE-MARK-MASQ
-A KUBE-SEP-W2FRCIFGRQDKVWY6 -m comment --comment default/only-labs:http -m tcp -p tcp -j DNAT --to-destination 10.42.0.7:80`;
const ONLY_LABS_LABS = `
:KUBE-SVL-VDXX5Y366KJPZY7S - [0:0]
-A KUBE-EXT-VDXX5Y366KJPZY7S -j KUBE-SVL-VDXX5Y366KJPZY7S
-A KUBE-SVL-VDXX5Y366KJPZY7S -m comment --comment "default/only-labs:http -> 10.42.0.7:80" -j KUBE-SEP-W2FRCIFGRQDKVWY6`;

const WEB = `
:KUBE-EXT-CDGGSHYLG3RE2FKL - [0:0]
:KUBE-SVC-CDGGSHYLG3RE2FKL - [0:0]
:KUBE-SVL-CDGGSHYLG3RE2FKL - [0:0]
:KUBE-SEP-BU7U6DQQCN4MFKKS - [0:0]
:KUBE-SEP-ZUYO7INZSZANAXIL - [0:0]
-A KUBE-SERVICES -m comment --comment "default/web:http cluster IP" -m tcp -p tcp -d 10.43.0.50 --dport 80 -j KUBE-SVC-CDGGSHYLG3RE2FKL
-A KUBE-SERVICES -m comment --comment "default/web:http loadbalancer IP" -m tcp -p tcp -d 192.168.56.110 --dport 80 -j KUBE-EXT-CDGGSHYLG3RE2FKL
-A KUBE-SERVICES -m comment --comment "default/web:http loadbalancer IP" -m tcp -p tcp -d 192.168.56.111 --dport 80 -j KUBE-EXT-CDGGSHYLG3RE2FKL
-A KUBE-NODEPORTS -m comment --comment default/web:http -m tcp -p tcp --dport 30080 -j KUBE-EXT-CDGGSHYLG3RE2FKL
-A KUBE-SVC-CDGGSHYLG3RE2FKL -m comment --comment "default/web:http cluster IP" -m tcp -p tcp -d 10.43.0.50 --dport 80 ! -s 10.42.0.0/16 -j KUBE-MARK-MASQ
-A KUBE-SVC-CDGGSHYLG3RE2FKL -m comment --comment "default/web:http -> 10.42.0.5:80" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-BU7U6DQQCN4MFKKS
-A KUBE-SVC-CDGGSHYLG3RE2FKL -m comment --comment "default/web:http -> 10.42.1.5:80" -j KUBE-SEP-ZUYO7INZSZANAXIL
-A KUBE-EXT-CDGGSHYLG3RE2FKL -m comment --comment "pod traffic for default/web:http external destinations" -s 10.42.0.0/16 -j KUBE-SVC-CDGGSHYLG3RE2FKL
-A KUBE-EXT-CDGGSHYLG3RE2FKL -m comment --comment "masquerade LOCAL traffic for default/web:http external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ
-A KUBE-EXT-CDGGSHYLG3RE2FKL -m comment --comment "route LOCAL traffic for default/web:http external destinations" -m addrtype --src-type LOCAL -j KUBE-SVC-CDGGSHYLG3RE2FKL
-A KUBE-EXT-CDGGSHYLG3RE2FKL -j KUBE-SVL-CDGGSHYLG3RE2FKL
-A KUBE-SEP-BU7U6DQQCN4MFKKS -m comment --comment default/web:http -s 10.42.0.5 -j KUBE-MARK-MASQ
-A KUBE-SEP-BU7U6DQQCN4MFKKS -m comment --comment default/web:http -m tcp -p tcp -j DNAT --to-destination 10.42.0.5:80
-A KUBE-SEP-ZUYO7INZSZANAXIL -m comment --comment default/web:http -s 10.42.1.5 -j KUBE-MARK-MASQ
-A KUBE-SEP-ZUYO7INZSZANAXIL -m comment --comment default/web:http -m tcp -p tcp -j DNAT --to-destination 10.42.1.5:80`;
const WEB_LABS = `
-A KUBE-SVL-CDGGSHYLG3RE2FKL -m comment --comment "default/web:http -> 10.42.0.5:80" -j KUBE-SEP-BU7U6DQQCN4MFKKS`;
const WEB_LABSW = `
-A KUBE-SVL-CDGGSHYLG3RE2FKL -m comment --comment "default/web:http -> 10.42.1.5:80" -j KUBE-SEP-ZUYO7INZSZANAXIL`;

const LABS = `
${FILTER_HEAD}
COMMIT
${NAT_HEAD}
${DRAINING}${DRAINING_LABS}${EVERYWHERE}${NODE_LOCAL_LABS}${ONLY_LABS}${ONLY_LABS_LABS}${WEB}${WEB_LABS}
${NODEPORTS_LAST}
COMMIT
`;

const LABSW = `
${FILTER_HEAD}
-A KUBE-SERVICES -m comment --comment "default/node-local:http has no local endpoints" -m tcp -p tcp -d 10.43.0.52 --dport 80 -j DROP
-A KUBE-EXTERNAL-SERVICES -m comment --comment "default/only-labs:http has no local endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 30081 -j DROP
COMMIT
${NAT_HEAD}
${DRAINING}${DRAINING_LABSW}${EVERYWHERE}${ONLY_LABS}${WEB}${WEB_LABSW}
${NODEPORTS_LAST}
COMMIT
`;

describe('kube-proxy on each of two nodes (iptables, v1.33)', () => {
  it('labs: local endpoints in every KUBE-SVL chain; its terminating pod is draining\'s only local endpoint', () => {
    expectSameRules(render(labs), LABS);
  });

  it('labsw: DROPs what only labs has a local endpoint for; its terminating pod is not used while a ready one is', () => {
    expectSameRules(render(labsw), LABSW);
  });

  it('NodePorts are answered on every node IP: the one catch-all with addrtype LOCAL, the same KUBE-NODEPORTS on both', () => {
    const a = parseRestore(render(labs)).nat!;
    const b = parseRestore(render(labsw)).nat!;
    expect(a.rules['KUBE-NODEPORTS']).toEqual(b.rules['KUBE-NODEPORTS']);
    expect(a.rules['KUBE-SERVICES']!.at(-1)).toBe(NODEPORTS_LAST);
    expect(b.rules['KUBE-SERVICES']!.at(-1)).toBe(NODEPORTS_LAST);
    // The node IP is nowhere in the NodePort rules: addrtype LOCAL matches whatever the node holds.
    expect(a.rules['KUBE-NODEPORTS']!.some((l) => l.includes('192.168.56.'))).toBe(false);
  });

  it('externalTrafficPolicy Local with nothing local and nothing anywhere: the service has no endpoints (REJECT, not DROP)', () => {
    const gone = slices.map((s) => (s.metadata.name === 'only-labs-1' ? { ...s, endpoints: [] } : s));
    const t = parseRestore(renderProxyRules({ services, endpointSlices: gone }, labsw).text);
    expect(t.filter!.rules['KUBE-SERVICES']).toContain('-A KUBE-SERVICES -m comment --comment "default/only-labs:http has no endpoints" -m tcp -p tcp -d 10.43.0.51 --dport 80 -j REJECT');
    expect(t.filter!.rules['KUBE-EXTERNAL-SERVICES']).toContain('-A KUBE-EXTERNAL-SERVICES -m comment --comment "default/only-labs:http has no endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 30081 -j REJECT');
    expect(t.nat!.chains.filter((c) => c.endsWith('VDXX5Y366KJPZY7S'))).toEqual([]);
  });

  it('a LoadBalancer IP of a node without local endpoints is DROPped there, in KUBE-EXTERNAL-SERVICES', () => {
    const onlyLabs = slices.map((s) => (s.metadata.name === 'web-1' ? { ...s, endpoints: s.endpoints.filter((e) => e.nodeName === 'labs') } : s));
    const t = parseRestore(renderProxyRules({ services, endpointSlices: onlyLabs }, labsw).text);
    expect(t.filter!.rules['KUBE-EXTERNAL-SERVICES']!.filter((l) => l.includes('default/web:http'))).toEqual([
      '-A KUBE-EXTERNAL-SERVICES -m comment --comment "default/web:http has no local endpoints" -m tcp -p tcp -d 192.168.56.110 --dport 80 -j DROP',
      '-A KUBE-EXTERNAL-SERVICES -m comment --comment "default/web:http has no local endpoints" -m tcp -p tcp -d 192.168.56.111 --dport 80 -j DROP',
      '-A KUBE-EXTERNAL-SERVICES -m comment --comment "default/web:http has no local endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 30080 -j DROP',
    ]);
    // The EXT chain stays for the short-circuit rules, without the jump to KUBE-SVL.
    expect(t.nat!.rules['KUBE-EXT-CDGGSHYLG3RE2FKL']!.at(-1)).toBe('-A KUBE-EXT-CDGGSHYLG3RE2FKL -m comment --comment "route LOCAL traffic for default/web:http external destinations" -m addrtype --src-type LOCAL -j KUBE-SVC-CDGGSHYLG3RE2FKL');
    expect(t.nat!.chains).not.toContain('KUBE-SVL-CDGGSHYLG3RE2FKL');
    // The health check node port is accepted whether or not the node has a local endpoint.
    expect(t.filter!.rules['KUBE-NODEPORTS']).toEqual(['-A KUBE-NODEPORTS -m comment --comment "default/web:http health check node port" -m tcp -p tcp --dport 31000 -j ACCEPT']);
  });
});
