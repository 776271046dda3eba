// kube-proxy's nftables mode against kube-proxy's own expected rulesets (pkg/proxy/nftables/
// proxier_test.go, v1.33), compared after the normalisation its test helper uses
// (sortNFTablesTransaction: comments and blank lines dropped; objects by type, then name; the
// rules of one chain in their order).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashAndTruncate, nftEndpointChain, nftServiceChains } from '../../src/proxy/nft-names.ts';
import { renderNftRules } from '../../src/proxy/nft-render.ts';
import type { ProxyConfig } from '../../src/proxy/model.ts';
import { makeService, makeSlice, overallServices, overallSlices, sortNFTablesTransaction, TEST_CONFIG } from './proxy-fixtures.ts';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/kube-proxy');

describe('nftables chain names', () => {
  it('hash and name as kube-proxy writes them', () => {
    expect(nftServiceChains('ns1', 'svc1', 'TCP', 'p80').cluster).toBe('service-ULMVA6XW-ns1/svc1/tcp/p80');
    expect(nftServiceChains('ns2', 'svc2', 'TCP', 'p80').external).toBe('external-42NFTM6N-ns2/svc2/tcp/p80');
    expect(nftServiceChains('ns5', 'svc5', 'TCP', 'p80').firewall).toBe('firewall-HVFWP5L3-ns5/svc5/tcp/p80');
    expect(nftEndpointChain('ns1', 'svc1', 'TCP', 'p80', '10.180.0.1', 80)).toEqual({ chain: 'endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80', affinitySet: 'affinity-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80' });
  });
  it('truncates past 240 characters with "..."', () => {
    const long = hashAndTruncate('x'.repeat(300));
    expect(long).toHaveLength(240);
    expect(long.endsWith('...')).toBe(true);
  });
});

describe('TestOverallNFTablesRules', () => {
  it('renders the table kube-proxy v1.33 expects, line for line after its normalisation', () => {
    const expected = readFileSync(path.join(FIXTURES, 'nftables-overall.nft'), 'utf8');
    const got = renderNftRules({ services: overallServices(), endpointSlices: overallSlices(TEST_CONFIG.nodeName) }, TEST_CONFIG).text;
    expect(sortNFTablesTransaction(got)).toBe(sortNFTablesTransaction(expected));
  });

  it('without --nodeport-addresses: no nodeport-ips set, NodePorts on local addresses but 127/8', () => {
    const config: ProxyConfig = { ...TEST_CONFIG, nodePortAddresses: [] };
    const out = renderNftRules({ services: [], endpointSlices: [] }, config).text;
    expect(out).not.toContain('nodeport-ips');
    expect(out).toContain('add rule ip kube-proxy services fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports');
    expect(out).toContain('add rule ip kube-proxy nodeport-endpoints-check ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @no-endpoint-nodeports');
  });

  it('spreads three endpoints with numgen random mod 3', () => {
    const svc = makeService('default', 'app2', (s) => {
      s.spec.clusterIP = '10.43.0.20';
      s.spec.ports = [{ name: '', port: 80, protocol: 'TCP' } as never];
    });
    const slice = makeSlice('default', 'app2', [{ ip: '10.42.0.5' }, { ip: '10.42.0.6' }, { ip: '10.42.0.7' }], [{ name: '', port: 8080 }]);
    const out = renderNftRules({ services: [svc], endpointSlices: [slice] }, TEST_CONFIG).text;
    const chain = nftServiceChains('default', 'app2', 'TCP', '').cluster;
    const ep = (ip: string) => nftEndpointChain('default', 'app2', 'TCP', '', ip, 8080).chain;
    expect(out).toContain(`add rule ip kube-proxy ${chain} numgen random mod 3 vmap { 0 : goto ${ep('10.42.0.5')} , 1 : goto ${ep('10.42.0.6')} , 2 : goto ${ep('10.42.0.7')} }`);
  });
});
