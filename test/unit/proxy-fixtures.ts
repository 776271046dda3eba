// Builders for the proxy unit tests: Services and EndpointSlices shaped like kube-proxy's own
// test helpers (makeTestService, makeTestEndpointSlice), and a parser that compares
// iptables-restore texts the way kube-proxy's assertIPTablesRulesEqual does: per table, the set
// of declared chains, the rules of each chain in order, and the deleted chains.
import { expect } from 'vitest';
import type { EndpointSlice, Service } from '../../src/api/types.ts';

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
