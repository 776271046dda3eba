// The reader of `nft -a list table ip kube-proxy` (test/fixtures/trace/nft-list-table.txt, listed
// by the kernel after loading the table lab proxy render --proxy-mode nftables prints, with
// default/app2-service given two endpoints) and the Service view lab describe svc shows from it.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ServicePortRef } from '../../src/trace/cluster.ts';
import { explainNftables, nftChainText, parseNftList, nftServicePortView } from '../../src/trace/nft-table.ts';

const LIST = readFileSync(path.resolve(import.meta.dirname, '../fixtures/trace/nft-list-table.txt'), 'utf8');
const SVC = 'service-CX35JJFW-default/app2-service/tcp/http';
const EP1 = 'endpoint-W3JLSUNE-default/app2-service/tcp/http__10.42.0.5/80';
const EP2 = 'endpoint-NC6GP35J-default/app2-service/tcp/http__127.0.0.1/80';

function app2(endpoints: { ip: string; port: number }[]): ServicePortRef {
  return {
    service: { metadata: { namespace: 'default', name: 'app2-service' }, spec: { clusterIP: '10.43.143.160' } },
    port: { name: 'http', port: 80, protocol: 'TCP' },
    name: 'default/app2-service:http',
    protocol: 'tcp',
    endpoints: endpoints.map((e) => ({ ...e, ready: true })),
  } as unknown as ServicePortRef;
}

describe('nft list table', () => {
  it('reads chains with rule handles, hooks, and map elements', () => {
    const l = parseNftList(LIST)!;
    expect(l).toMatchObject({ family: 'ip', table: 'kube-proxy' });
    expect(l.chains.get('services')!.rules).toEqual([
      { text: 'ip daddr . meta l4proto . th dport vmap @service-ips', handle: 44 },
      { text: 'fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports', handle: 45 },
    ]);
    expect(l.chains.get('nat-output')!.hook).toBe('output priority -100');
    expect(l.maps.get('service-ips')!.elements).toEqual([`10.43.143.160 . tcp . 80 comment "default/app2-service:http" : goto ${SVC}`]);
    // An element list wrapped over two lines.
    expect(l.maps.get('cluster-ips')).toEqual({ kind: 'set', type: 'ipv4_addr', elements: ['10.43.143.160', '10.43.239.84', '10.43.242.150'] });
    expect(l.maps.get('no-endpoint-services')!.elements.length).toBe(2);
    expect(parseNftList('')).toBeNull();
  });

  it('shows one Service port: its map element, service chain with the numgen vmap, endpoint chains with DNAT', () => {
    const v = nftServicePortView(parseNftList(LIST)!, app2([{ ip: '10.42.0.5', port: 80 }, { ip: '127.0.0.1', port: 80 }]));
    expect(v.elements).toEqual([{ map: 'service-ips', element: `10.43.143.160 . tcp . 80 comment "default/app2-service:http" : goto ${SVC}` }]);
    expect(v.chains.map((c) => [c.role, c.name])).toEqual([['service', SVC], ['endpoint', EP1], ['endpoint', EP2]]);
    expect(v.numgen).toMatchObject({ n: 2, targets: [EP1, EP2] });
    expect(v.chains[1]!.rules.map((r) => r.text)).toEqual(['ip saddr 10.42.0.5 jump mark-for-masquerade', 'meta l4proto tcp dnat to 10.42.0.5:80']);
    expect(v.missing).toEqual([]);
    // An endpoint the table does not have yet is reported missing.
    expect(nftServicePortView(parseNftList(LIST)!, app2([{ ip: '10.42.0.9', port: 80 }])).missing).toEqual([expect.stringMatching(/^endpoint-\w{8}-default\/app2-service\/tcp\/http__10\.42\.0\.9\/80$/)]);
  });

  it('explains the table: base chains with their hooks, then the Service port with its element and chains', () => {
    const lines = explainNftables(parseNftList(LIST)!, [app2([{ ip: '10.42.0.5', port: 80 }, { ip: '127.0.0.1', port: 80 }])]);
    expect(lines).toContain('chain nat-prerouting  (hook prerouting priority dstnat)');
    expect(lines).toContain('# default/app2-service:http: ClusterIP 10.43.143.160:80/TCP, numgen random mod 2 over its endpoints');
    expect(lines).toContain(`map service-ips: 10.43.143.160 . tcp . 80 comment "default/app2-service:http" : goto ${SVC}`);
    const at = lines.indexOf(`chain ${EP1}  # endpoint 10.42.0.5:80`);
    expect(lines.slice(at + 1, at + 3)).toEqual(['  ip saddr 10.42.0.5 jump mark-for-masquerade', '  meta l4proto tcp dnat to 10.42.0.5:80']);
    // A Service port the table has nothing for is left out.
    expect(explainNftables(parseNftList(LIST)!, []).some((l) => l.includes('app2-service'))).toBe(false);
  });

  it("shows one chain as nft lists it, and what sends packets to it (lab ui's click on an nftables chain)", () => {
    const l = parseNftList(LIST)!;
    const svc = nftChainText(l, SVC);
    expect(svc).toContain(`$ nft -a list chain ip kube-proxy ${SVC}`);
    expect(svc).toMatch(/numgen random mod 2 vmap \{ 0 : goto endpoint-W3JLSUNE-.*, 1 : goto endpoint-NC6GP35J-.* \}/);
    // The service-ips map's element for app2's ClusterIP port is what sends packets there.
    expect(svc).toContain(`sent here by:\n  map service-ips: 10.43.143.160 . tcp . 80 comment "default/app2-service:http" : goto ${SVC}`);
    const ep = nftChainText(l, EP1);
    expect(ep).toMatch(/dnat to 10\.42\.0\.5:80/);
    expect(ep).toContain(`  chain ${SVC}: `);
    // The other endpoint's chain does not count as naming this one (a name is not a prefix match).
    expect(ep).not.toContain('map service-ips');
    expect(nftChainText(l, 'service-XXXXXXXX-default/none/tcp/http')).toBe('no chain service-XXXXXXXX-default/none/tcp/http in table ip kube-proxy\n');
  });
});
