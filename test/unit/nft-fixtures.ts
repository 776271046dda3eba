// The Services and EndpointSlices of kube-proxy's TestOverallNFTablesRules (pkg/proxy/nftables/
// proxier_test.go), its fake proxier's settings, and its test helper's normalisation.
import type { EndpointSlice, Service } from '../../src/api/types.ts';
import type { ProxyConfig } from '../../src/proxy/model.ts';
import { makeService, makeSlice } from './proxy-fixtures.ts';

/** NewFakeProxier: pod CIDR 10.0.0.0/8, service CIDR 172.30.0.0/16, node 192.168.0.2, --nodeport-addresses 192.168.0.2/32. */
export const TEST_CONFIG: ProxyConfig = { nodeName: 'test-node', nodeIPs: ['192.168.0.2'], clusterCIDR: '10.0.0.0/8', serviceCIDRs: ['172.30.0.0/16'], nodePortAddresses: ['192.168.0.2/32'] };

type Mut = Service & Record<string, unknown> & { status?: unknown };
const port = (p: Record<string, unknown>) => p as never;

export function overallServices(): Service[] {
  return [
    makeService('ns1', 'svc1', (s) => {
      s.spec.clusterIP = '172.30.0.41';
      s.spec.ports = [port({ name: 'p80', port: 80, protocol: 'TCP' })];
    }),
    makeService('ns2', 'svc2', (s: Mut) => {
      s.spec.type = 'LoadBalancer';
      s.spec.externalTrafficPolicy = 'Local';
      s.spec.clusterIP = '172.30.0.42';
      s.spec.ports = [port({ name: 'p80', port: 80, protocol: 'TCP', nodePort: 3001 })];
      s.status = { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } };
      s.spec.externalIPs = ['192.168.99.22'];
      (s.spec as Record<string, unknown>).healthCheckNodePort = 30000;
    }),
    makeService('ns3', 'svc3', (s) => {
      s.spec.type = 'NodePort';
      s.spec.clusterIP = '172.30.0.43';
      s.spec.ports = [port({ name: 'p80', port: 80, protocol: 'TCP', nodePort: 3003 })];
    }),
    makeService('ns4', 'svc4', (s) => {
      s.spec.type = 'NodePort';
      s.spec.clusterIP = '172.30.0.44';
      s.spec.externalIPs = ['192.168.99.33'];
      s.spec.ports = [port({ name: 'p80', port: 80, protocol: 'TCP', targetPort: 80 })];
    }),
    makeService('ns5', 'svc5', (s: Mut) => {
      s.spec.type = 'LoadBalancer';
      s.spec.externalTrafficPolicy = 'Cluster';
      s.spec.clusterIP = '172.30.0.45';
      s.spec.ports = [port({ name: 'p80', port: 80, protocol: 'TCP', nodePort: 3002 })];
      s.status = { loadBalancer: { ingress: [{ ip: '5.6.7.8' }] } };
      (s.spec as Record<string, unknown>).healthCheckNodePort = 30000;
      // Extra whitespace, as upstream: must not crash.
      (s.spec as Record<string, unknown>).loadBalancerSourceRanges = [' 203.0.113.0/25'];
      s.spec.sessionAffinity = 'ClientIP';
      s.spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: 10800 } };
    }),
    makeService('ns6', 'svc6', (s) => {
      s.spec.type = 'ClusterIP';
      s.spec.clusterIP = '172.30.0.46';
      s.spec.ports = [port({ name: 'p80', port: 80, protocol: 'TCP', targetPort: 80 })];
    }),
  ];
}

export function overallSlices(): EndpointSlice[] {
  const p80 = [{ name: 'p80', port: 80 }];
  return [
    makeSlice('ns1', 'svc1', [{ ip: '10.180.0.1' }], p80),
    // Not local (no nodeName): ignored by the Local policy.
    makeSlice('ns2', 'svc2', [{ ip: '10.180.0.2' }], p80),
    makeSlice('ns3', 'svc3', [{ ip: '10.180.0.3' }], p80),
    makeSlice('ns4', 'svc4', [{ ip: '10.180.0.4' }, { ip: '10.180.0.5', nodeName: 'test-node' }], p80),
    makeSlice('ns5', 'svc5', [{ ip: '10.180.0.3' }], p80),
  ];
}

const OBJECT_ORDER: Record<string, number> = { table: 10, chain: 9, rule: 8, set: 7, map: 6, element: 5 };

/** helpers_test.go sortNFTablesTransaction. */
export function sortNFTablesTransaction(tx: string): string {
  const lines = tx.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
  const words = new Map(lines.map((l) => [l, l.split(' ')]));
  lines.sort((li, lj) => {
    const wi = words.get(li)!;
    const wj = words.get(lj)!;
    if (wi.length < 5 || wj.length < 5) return 0;
    if (wi[1] !== wj[1]) return (OBJECT_ORDER[wj[1]!] ?? 0) - (OBJECT_ORDER[wi[1]!] ?? 0);
    if (wi[4] !== wj[4]) return wi[4]! < wj[4]! ? -1 : 1;
    if (wi[1] === 'rule') return 0;
    return li < lj ? -1 : li > lj ? 1 : 0;
  });
  return lines.join('\n');
}
