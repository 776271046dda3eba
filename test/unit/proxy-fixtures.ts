// Builders for the proxy unit tests (iptables and nftables modes): Services and EndpointSlices
// shaped like kube-proxy's own test helpers (makeTestService, makeTestEndpointSlice); the Services
// and EndpointSlices of its TestOverallIPTablesRules and TestOverallNFTablesRules (one set, as
// upstream); a parser that compares iptables-restore texts the way kube-proxy's
// assertIPTablesRulesEqual does (per table, the set of declared chains, the rules of each chain in
// order, and the deleted chains); the nftables fake proxier's settings and its test helper's
// normalisation.
import { expect } from 'vitest';
import type { EndpointSlice, Service } from '../../src/api/types.ts';
import type { ProxyConfig } from '../../src/proxy/model.ts';

export function makeService(namespace: string, name: string, mutate: (s: Service & Record<string, unknown>) => void = () => {}): Service {
  const s: Service & Record<string, unknown> = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace, labels: {}, annotations: {} },
    spec: { type: 'ClusterIP', ports: [], externalIPs: [], sessionAffinity: 'None', externalTrafficPolicy: 'Cluster', internalTrafficPolicy: 'Cluster' },
    source: { file: 'test', line: 1 },
  };
  mutate(s);
  return s;
}

export interface TestEndpoint {
  ip: string;
  nodeName?: string;
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
}

export function makeSlice(namespace: string, service: string, endpoints: TestEndpoint[], ports: { name: string; port: number; protocol?: 'TCP' | 'UDP' | 'SCTP' }[], suffix = '1'): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${service}-${suffix}`, namespace, labels: { 'kubernetes.io/service-name': service }, annotations: {} },
    addressType: 'IPv4',
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: {
        ...(e.ready !== undefined ? { ready: e.ready } : {}),
        ...(e.serving !== undefined ? { serving: e.serving } : {}),
        ...(e.terminating !== undefined ? { terminating: e.terminating } : {}),
      },
      ...(e.nodeName ? { nodeName: e.nodeName } : {}),
    })),
    ports: ports.map((p) => ({ name: p.name, port: p.port, protocol: p.protocol ?? 'TCP' })),
  };
}

type Port = Service['spec']['ports'][number];
const p80 = (more: Partial<Port> = {}): Port[] => [{ name: 'p80', port: 80, protocol: 'TCP', targetPort: 80, ...more }];

/** The Services of kube-proxy's TestOverallIPTablesRules and TestOverallNFTablesRules. */
export function overallServices(): Service[] {
  return [
    makeService('ns1', 'svc1', (s) => {
      s.spec.clusterIP = '172.30.0.41';
      s.spec.ports = p80();
    }),
    // LoadBalancer with Local traffic policy
    makeService('ns2', 'svc2', (s) => {
      s.spec.type = 'LoadBalancer';
      s.spec.externalTrafficPolicy = 'Local';
      s.spec.clusterIP = '172.30.0.42';
      s.spec.ports = p80({ nodePort: 3001 });
      s.status = { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } };
      s.spec.externalIPs = ['192.168.99.22'];
      (s.spec as Record<string, unknown>).healthCheckNodePort = 30000;
    }),
    makeService('ns3', 'svc3', (s) => {
      s.spec.type = 'NodePort';
      s.spec.clusterIP = '172.30.0.43';
      s.spec.ports = p80({ nodePort: 3003 });
    }),
    // "NodePort" without a nodePort, with an external IP
    makeService('ns4', 'svc4', (s) => {
      s.spec.type = 'NodePort';
      s.spec.clusterIP = '172.30.0.44';
      s.spec.externalIPs = ['192.168.99.33'];
      s.spec.ports = p80();
    }),
    // LoadBalancer, Cluster policy, source ranges (with kube-proxy's whitespace regression: must not crash), affinity
    makeService('ns5', 'svc5', (s) => {
      s.spec.type = 'LoadBalancer';
      s.spec.clusterIP = '172.30.0.45';
      s.spec.ports = p80({ nodePort: 3002 });
      s.status = { loadBalancer: { ingress: [{ ip: '5.6.7.8' }] } };
      (s.spec as Record<string, unknown>).healthCheckNodePort = 30000;
      (s.spec as Record<string, unknown>).loadBalancerSourceRanges = [' 203.0.113.0/25'];
      s.spec.sessionAffinity = 'ClientIP';
      s.spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: 10800 } };
    }),
    makeService('ns6', 'svc6', (s) => {
      s.spec.clusterIP = '172.30.0.46';
      s.spec.ports = p80();
    }),
  ];
}

/** Their EndpointSlices; `node` is the fake proxier's node, where one endpoint of svc4 runs. */
export function overallSlices(node: string): EndpointSlice[] {
  const ports = [{ name: 'p80', port: 80 }];
  return [
    makeSlice('ns1', 'svc1', [{ ip: '10.180.0.1' }], ports),
    makeSlice('ns2', 'svc2', [{ ip: '10.180.0.2' }], ports), // not local: ETP Local has nothing to use
    makeSlice('ns3', 'svc3', [{ ip: '10.180.0.3' }], ports),
    makeSlice('ns4', 'svc4', [{ ip: '10.180.0.4' }, { ip: '10.180.0.5', nodeName: node }], ports),
    makeSlice('ns5', 'svc5', [{ ip: '10.180.0.3' }], ports),
  ];
}

export interface ParsedTable {
  chains: string[];
  rules: Record<string, string[]>;
  deleted: string[];
  other: string[];
}

/** iptables-restore text -> tables; the order of chains and of rules between chains is ignored. */
export function parseRestore(text: string): Record<string, ParsedTable> {
  const out: Record<string, ParsedTable> = {};
  let cur: ParsedTable | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    if (line.startsWith('*')) {
      cur = { chains: [], rules: {}, deleted: [], other: [] };
      out[line.slice(1)] = cur;
    } else if (line === 'COMMIT') cur = undefined;
    else if (!cur) throw new Error(`line outside a table: ${line}`);
    else if (line.startsWith(':')) cur.chains.push(line.slice(1).split(' ')[0]!);
    else if (line.startsWith('-A ')) {
      const chain = line.split(' ')[1]!;
      (cur.rules[chain] ??= []).push(line);
    } else if (line.startsWith('-X ')) cur.deleted.push(line.slice(3));
    else cur.other.push(line);
  }
  for (const t of Object.values(out)) {
    t.chains.sort();
    t.deleted.sort();
  }
  return out;
}

/** Two restore texts hold the same chains, the same rules per chain in the same order, the same deletions. */
export function expectSameRules(actual: string, expected: string): void {
  const a = parseRestore(actual);
  const e = parseRestore(expected);
  expect(Object.keys(a).sort()).toEqual(Object.keys(e).sort());
  for (const table of Object.keys(e)) {
    expect(a[table]!.chains, `${table} chains`).toEqual(e[table]!.chains);
    expect(a[table]!.rules, `${table} rules`).toEqual(e[table]!.rules);
    expect(a[table]!.deleted, `${table} deleted chains`).toEqual(e[table]!.deleted);
    expect(a[table]!.other, `${table} other lines`).toEqual(e[table]!.other);
  }
}

/** The nftables NewFakeProxier: pod CIDR 10.0.0.0/8, service CIDR 172.30.0.0/16, node 192.168.0.2, --nodeport-addresses 192.168.0.2/32. */
export const TEST_CONFIG: ProxyConfig = { nodeName: 'test-node', nodeIPs: ['192.168.0.2'], clusterCIDR: '10.0.0.0/8', serviceCIDRs: ['172.30.0.0/16'], nodePortAddresses: ['192.168.0.2/32'] };

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
