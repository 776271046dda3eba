// Cluster DNS: snapshot building (records.ts) and answers (resolver.ts), pure, against Services
// and Endpoints shaped like the API store's. Answers are decoded from the wire, as dig sees them.
import * as dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import {
  buildDnsSnapshot,
  DNS_SCHEMA_VERSION,
  formatDnsSnapshot,
  parseDnsSnapshot,
  TOLERATE_UNREADY_ANNOTATION,
  type BuildDnsSnapshotInput,
  type DnsSnapshot,
} from '../../src/dns/records.ts';
import { answer, EDNS_UDP_SIZE, RCODE, rcodeOf, truncateForUdp, udpLimit, type AnswerOptions } from '../../src/dns/resolver.ts';
import type { EndpointAddress, EndpointPort, Endpoints, Pod, Service, ServicePort } from '../../src/api/types.ts';

const meta = (namespace: string, name: string, annotations: Record<string, string> = {}) => ({ namespace, name, labels: {}, annotations });

function service(
  namespace: string,
  name: string,
  clusterIP: string | undefined,
  ports: Partial<ServicePort>[],
  extra: Partial<Service['spec']> & { annotations?: Record<string, string> } = {},
): Service {
  const { annotations, ...spec } = extra;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(namespace, name, annotations),
    spec: {
      type: 'ClusterIP',
      clusterIP,
      selector: { app: name },
      ports: ports.map((p, i) => ({ name: '', protocol: 'TCP', port: 80 + i, targetPort: 80 + i, ...p })),
      externalIPs: [],
      sessionAffinity: 'None',
      externalTrafficPolicy: 'Cluster',
      internalTrafficPolicy: 'Cluster',
      ...spec,
    },
    source: { file: 'test', line: 1 },
  };
}

function endpoints(
  namespace: string,
  name: string,
  subsets: { ready: (string | EndpointAddress)[]; notReady?: (string | EndpointAddress)[]; ports: Partial<EndpointPort>[] }[],
): Endpoints {
  const addr = (a: string | EndpointAddress): EndpointAddress => (typeof a === 'string' ? { ip: a } : a);
  return {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: meta(namespace, name),
    subsets: subsets.map((s) => ({
      addresses: s.ready.map(addr),
      notReadyAddresses: (s.notReady ?? []).map(addr),
      ports: s.ports.map((p) => ({ name: '', protocol: 'TCP', port: 80, ...p })),
    })),
  };
}

function pod(namespace: string, name: string, podIP: string, spec: Partial<Pod['spec']> = {}, phase: Pod['status']['phase'] = 'Running'): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: meta(namespace, name),
    spec: { containers: [], volumes: [], restartPolicy: 'Always', terminationGracePeriodSeconds: 30, ...spec },
    status: { phase, podIP, conditions: [], containerStatuses: [] },
  };
}

// ---------------------------------------------------------------------------------------------
// The cluster the tests ask about: the default lab (app1..app3, kube-dns), a headless StatefulSet-
// style service with hostnames, a headless service without ready endpoints, an ExternalName.

const ZONE = 'cluster.local';

function cluster(): BuildDnsSnapshotInput {
  return {
    clusterDomain: ZONE,
    generation: 7,
    services: [
      service('default', 'kubernetes', '10.43.0.1', [{ name: 'https', port: 443, targetPort: 6443 }]),
      service('kube-system', 'kube-dns', '10.43.0.10', [
        { name: 'dns', protocol: 'UDP', port: 53, targetPort: 53 },
        { name: 'dns-tcp', protocol: 'TCP', port: 53, targetPort: 53 },
        { name: 'metrics', protocol: 'TCP', port: 9153, targetPort: 9153 },
      ]),
      service('default', 'app2-service', '10.43.22.2', [{ name: 'http', port: 80, targetPort: 80 }]),
      service('default', 'app1-service', '10.43.11.1', [{ port: 80, targetPort: 80 }]), // unnamed port
      service('default', 'db', 'None', [{ name: 'pg', port: 5432, targetPort: 5432 }, { name: 'metrics', port: 9187, targetPort: 9187 }]),
      service('default', 'empty', 'None', [{ name: 'http', port: 80 }]),
      service('default', 'pending', undefined, [{ name: 'http', port: 80 }]),
      service('default', 'ext', undefined, [], { type: 'ExternalName', externalName: 'www.example.com.' }),
      service('default', 'alias', undefined, [], { type: 'ExternalName', externalName: 'app2-service.default.svc.cluster.local' }),
      service('team-a', 'web', '10.43.33.3', [{ name: 'http', port: 8080 }]),
    ],
    endpoints: [
      endpoints('default', 'app2-service', [{ ready: ['10.42.0.21', '10.42.0.22', '10.42.0.23'], ports: [{ name: 'http', port: 80 }] }]),
      endpoints('default', 'db', [
        {
          ready: [{ ip: '10.42.0.31', hostname: 'db-0' }, { ip: '10.42.0.32', hostname: 'db-1' }, '10.42.0.33'],
          notReady: [{ ip: '10.42.0.39', hostname: 'db-9' }],
          ports: [{ name: 'pg', port: 15432 }, { name: 'metrics', port: 9187 }],
        },
      ]),
      endpoints('default', 'empty', [{ ready: [], notReady: ['10.42.0.49'], ports: [{ name: 'http', port: 80 }] }]),
    ],
  };
}

let nextId = 1;
function query(name: string, type: string, extra: { edns?: boolean; flags?: number; class?: string } = {}): dnsPacket.Packet {
  return {
    type: 'query',
    id: nextId++,
    flags: extra.flags ?? dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: type as dnsPacket.RecordType, class: (extra.class ?? 'IN') as dnsPacket.RecordClass }],
    additionals: extra.edns ? [{ name: '.', type: 'OPT', udpPayloadSize: 4096, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] : [],
  };
}

/** A record as decoded, loosely typed so tests can compare any record's data. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any record type's data, compared with toEqual
type RR = { name: string; type: string; class?: string; ttl?: number; data: any };
type Decoded = Omit<dnsPacket.DecodedPacket, 'answers' | 'authorities' | 'additionals'> & { rcode: string; answers?: RR[]; authorities?: RR[]; additionals?: RR[] };

/** Asks, and decodes the response from the wire as a client would see it. */
async function ask(snap: DnsSnapshot | null, name: string, type: string, opts: AnswerOptions & { edns?: boolean } = {}): Promise<Decoded> {
  const q = query(name, type, { edns: opts.edns });
  const res = await answer(q, snap, opts);
  const decoded = dnsPacket.decode(dnsPacket.encode(res)) as unknown as Decoded;
  expect(decoded.id).toBe(q.id);
  expect(decoded.type).toBe('response');
  expect(decoded.questions).toEqual([{ name, type, class: 'IN' }]);
  return decoded;
}

const data = (rrs: RR[] | undefined, type?: string) => (rrs ?? []).filter((r) => !type || r.type === type).map((r) => r.data as unknown);

// ---------------------------------------------------------------------------------------------

describe('buildDnsSnapshot', () => {
  const snap = buildDnsSnapshot(cluster());
  const find = (name: string, type: string) => snap.records.filter((r) => r.name === name && r.type === type).map((r) => r.data);

  it('records the ClusterIP, a PTR and SRV for named ports of a normal Service', () => {
    expect(find('app2-service.default.svc.cluster.local', 'A')).toEqual(['10.43.22.2']);
    expect(find('2.22.43.10.in-addr.arpa', 'PTR')).toEqual(['app2-service.default.svc.cluster.local']);
    expect(find('_http._tcp.app2-service.default.svc.cluster.local', 'SRV')).toEqual([{ priority: 0, weight: 100, port: 80, target: 'app2-service.default.svc.cluster.local' }]);
    // three ports on kube-dns: one SRV per named port under its own name; at the service name
    // 53/udp and 53/tcp give identical SRV data, which an RRset holds once
    expect(find('_dns._udp.kube-dns.kube-system.svc.cluster.local', 'SRV')).toEqual([{ priority: 0, weight: 100, port: 53, target: 'kube-dns.kube-system.svc.cluster.local' }]);
    expect(find('_dns-tcp._tcp.kube-dns.kube-system.svc.cluster.local', 'SRV')).toHaveLength(1);
    expect(find('kube-dns.kube-system.svc.cluster.local', 'SRV').map((d) => (d as { port: number; weight: number }).port)).toEqual([53, 9153]);
    expect(find('kube-dns.kube-system.svc.cluster.local', 'SRV').map((d) => (d as { weight: number }).weight)).toEqual([50, 50]);
  });

  it('gives unnamed ports no _port._proto SRV record', () => {
    expect(snap.records.filter((r) => r.name.endsWith('.app1-service.default.svc.cluster.local'))).toEqual([]);
    expect(find('app1-service.default.svc.cluster.local', 'A')).toEqual(['10.43.11.1']);
  });

  it('gives a headless Service one A per ready endpoint and a name per endpoint', () => {
    expect(find('db.default.svc.cluster.local', 'A')).toEqual(['10.42.0.31', '10.42.0.32', '10.42.0.33']);
    expect(find('db-0.db.default.svc.cluster.local', 'A')).toEqual(['10.42.0.31']);
    expect(find('10-42-0-33.db.default.svc.cluster.local', 'A')).toEqual(['10.42.0.33']);
    expect(find('db-9.db.default.svc.cluster.local', 'A')).toEqual([]); // not ready
    expect(find('1.3.0.42.10.in-addr.arpa', 'PTR')).toEqual([]); // sanity: reverse names are 4 labels + in-addr.arpa
    expect(find('31.0.42.10.in-addr.arpa', 'PTR')).toEqual(['db-0.db.default.svc.cluster.local']);
    // SRV: N endpoints x M named ports, with the endpoint's (target) port
    const pg = find('_pg._tcp.db.default.svc.cluster.local', 'SRV') as { port: number; target: string; weight: number }[];
    expect(pg.map((d) => d.target)).toEqual(['db-0.db.default.svc.cluster.local', 'db-1.db.default.svc.cluster.local', '10-42-0-33.db.default.svc.cluster.local']);
    expect(new Set(pg.map((d) => d.port))).toEqual(new Set([15432]));
    expect(pg[0]!.weight).toBe(33);
    expect(find('_metrics._tcp.db.default.svc.cluster.local', 'SRV')).toHaveLength(3);
  });

  it('counts not-ready endpoints when the Service tolerates them', () => {
    const input = cluster();
    input.services = input.services.map((s) => (s.metadata.name === 'db' ? { ...s, metadata: { ...s.metadata, annotations: { [TOLERATE_UNREADY_ANNOTATION]: 'true' } } } : s));
    const snap2 = buildDnsSnapshot(input);
    expect(snap2.records.filter((r) => r.name === 'db.default.svc.cluster.local' && r.type === 'A').map((r) => r.data)).toContain('10.42.0.39');
    expect(snap2.records.some((r) => r.name === 'db-9.db.default.svc.cluster.local')).toBe(true);
  });

  it('takes the pod hostname when Endpoints lack it but the pod names the Service as subdomain', () => {
    const input = cluster();
    input.endpoints.push(endpoints('default', 'empty', [{ ready: [{ ip: '10.42.0.50', targetRef: { kind: 'Pod', name: 'p', namespace: 'default' } }], ports: [{ name: 'http', port: 80 }] }]));
    input.endpoints = input.endpoints.filter((e, i, all) => !all.slice(i + 1).some((x) => x.metadata.name === e.metadata.name));
    input.pods = [pod('default', 'p', '10.42.0.50', { hostname: 'web-0', subdomain: 'empty' })];
    const snap2 = buildDnsSnapshot(input);
    expect(snap2.records.filter((r) => r.name === 'web-0.empty.default.svc.cluster.local').map((r) => r.data)).toEqual(['10.42.0.50']);
  });

  it('skips Services without an allocated ClusterIP and makes ExternalName a CNAME', () => {
    expect(snap.records.some((r) => r.name.includes('pending'))).toBe(false);
    expect(find('ext.default.svc.cluster.local', 'CNAME')).toEqual(['www.example.com']);
  });

  it('publishes dns-version, the zone NS and the namespaces', () => {
    expect(find('dns-version.cluster.local', 'TXT')).toEqual([DNS_SCHEMA_VERSION]);
    expect(DNS_SCHEMA_VERSION).toBe('1.1.0');
    expect(find('cluster.local', 'NS')).toEqual(['ns.dns.cluster.local']);
    expect(find('ns.dns.cluster.local', 'A')).toEqual(['10.43.0.10']);
    expect(snap.namespaces).toEqual(['default', 'kube-node-lease', 'kube-public', 'kube-system', 'team-a']);
    expect(snap.generation).toBe(7);
    expect(snap.ttl).toBe(5);
    expect(snap.podRecords).toBe('insecure');
  });

  it('records running pods in verified mode only, and node hosts', () => {
    const input = { ...cluster(), podRecords: 'verified' as const, pods: [pod('default', 'a', '10.42.0.61'), pod('default', 'b', '10.42.0.62', {}, 'Pending')], nodeHosts: [{ ip: '192.168.56.110', hostnames: ['labS'] }] };
    const snap2 = buildDnsSnapshot(input);
    expect(snap2.records.filter((r) => r.name.endsWith('.pod.cluster.local')).map((r) => [r.name, r.data])).toEqual([['10-42-0-61.default.pod.cluster.local', '10.42.0.61']]);
    expect(snap2.records.filter((r) => r.name === 'labs').map((r) => r.data)).toEqual(['192.168.56.110']);
    expect(snap2.records.filter((r) => r.name === '110.56.168.192.in-addr.arpa').map((r) => r.data)).toEqual(['labs']);
  });

  it('round-trips through the file format and rejects malformed files', () => {
    const text = formatDnsSnapshot(snap);
    expect(parseDnsSnapshot(text)).toEqual(snap);
    expect(JSON.parse(text)).toEqual(snap);
    expect(() => parseDnsSnapshot(text.slice(0, 100))).toThrow(/not JSON/);
    expect(() => parseDnsSnapshot(JSON.stringify({ ...snap, version: 2 }))).toThrow(/malformed/);
    const bad = { ...snap, records: [{ name: 'x.cluster.local', type: 'A', data: '10.1.2' }] };
    expect(() => parseDnsSnapshot(JSON.stringify(bad))).toThrow(/not an address/);
    expect(formatDnsSnapshot(buildDnsSnapshot({ services: [], endpoints: [], clusterDomain: 'x.test' }))).toContain('"records": [');
  });
});

describe('answer', () => {
  const snap = buildDnsSnapshot(cluster());

  it('answers a ClusterIP Service with its ClusterIP, authoritative, TTL 5', async () => {
    const r = await ask(snap, 'app2-service.default.svc.cluster.local', 'A');
    expect(r.rcode).toBe('NOERROR');
    expect(r.flag_aa).toBe(true);
    expect(r.flag_rd).toBe(true);
    expect(r.answers).toEqual([{ name: 'app2-service.default.svc.cluster.local', type: 'A', class: 'IN', ttl: 5, flush: false, data: '10.43.22.2' }]);
    expect((await ask(snap, 'kubernetes.default.svc.cluster.local', 'A')).answers?.map((a) => a.data)).toEqual(['10.43.0.1']);
    expect((await ask(snap, 'kube-dns.kube-system.svc.cluster.local', 'A')).answers?.map((a) => a.data)).toEqual(['10.43.0.10']);
  });

  it('compares names case-insensitively and answers in the asker\'s spelling', async () => {
    const r = await ask(snap, 'App2-Service.DEFAULT.svc.Cluster.Local', 'A');
    expect(r.answers?.map((a) => [a.name, a.data])).toEqual([['App2-Service.DEFAULT.svc.Cluster.Local', '10.43.22.2']]);
  });

  it('answers a headless Service with every ready endpoint, and each endpoint name with its IP', async () => {
    const r = await ask(snap, 'db.default.svc.cluster.local', 'A');
    expect(r.rcode).toBe('NOERROR');
    expect(data(r.answers, 'A').sort()).toEqual(['10.42.0.31', '10.42.0.32', '10.42.0.33']);
    expect(data((await ask(snap, 'db-1.db.default.svc.cluster.local', 'A')).answers)).toEqual(['10.42.0.32']);
    expect(data((await ask(snap, '10-42-0-33.db.default.svc.cluster.local', 'A')).answers)).toEqual(['10.42.0.33']);
    expect((await ask(snap, 'db-9.db.default.svc.cluster.local', 'A')).rcode).toBe('NXDOMAIN');
  });

  it('rotates multi-address answers by query ID (loadbalance), keeping the set', async () => {
    const firsts = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const r = await ask(snap, 'db.default.svc.cluster.local', 'A');
      expect(data(r.answers).sort()).toEqual(['10.42.0.31', '10.42.0.32', '10.42.0.33']);
      firsts.add(data(r.answers)[0] as string);
    }
    expect(firsts.size).toBe(3);
  });

  it('answers NXDOMAIN for a headless Service without ready endpoints (spec 2.4.1)', async () => {
    const r = await ask(snap, 'empty.default.svc.cluster.local', 'A');
    expect(r.rcode).toBe('NXDOMAIN');
  });

  it('answers SRV for a named port of a ClusterIP Service with the target A in Additional', async () => {
    const r = await ask(snap, '_http._tcp.app2-service.default.svc.cluster.local', 'SRV');
    expect(r.rcode).toBe('NOERROR');
    expect(data(r.answers)).toEqual([{ priority: 0, weight: 100, port: 80, target: 'app2-service.default.svc.cluster.local' }]);
    expect(r.additionals?.map((a) => [a.name, a.type, a.data])).toEqual([['app2-service.default.svc.cluster.local', 'A', '10.43.22.2']]);
    const dnsUdp = await ask(snap, '_dns._udp.kube-dns.kube-system.svc.cluster.local', 'SRV');
    expect(data(dnsUdp.answers)).toEqual([{ priority: 0, weight: 100, port: 53, target: 'kube-dns.kube-system.svc.cluster.local' }]);
    // the wrong protocol is a different (nonexistent) name
    expect((await ask(snap, '_http._udp.app2-service.default.svc.cluster.local', 'SRV')).rcode).toBe('NXDOMAIN');
  });

  it('answers SRV for a headless Service per ready endpoint with their A records in Additional', async () => {
    const r = await ask(snap, '_pg._tcp.db.default.svc.cluster.local', 'SRV');
    const srv = data(r.answers) as { port: number; target: string }[];
    expect(srv.map((s) => `${s.target}:${s.port}`).sort()).toEqual([
      '10-42-0-33.db.default.svc.cluster.local:15432',
      'db-0.db.default.svc.cluster.local:15432',
      'db-1.db.default.svc.cluster.local:15432',
    ]);
    expect(r.additionals?.filter((a) => a.type === 'A').map((a) => `${a.name}=${a.data}`).sort()).toEqual([
      '10-42-0-33.db.default.svc.cluster.local=10.42.0.33',
      'db-0.db.default.svc.cluster.local=10.42.0.31',
      'db-1.db.default.svc.cluster.local=10.42.0.32',
    ]);
  });

  it('answers PTR for ClusterIPs and headless endpoint IPs', async () => {
    const svc = await ask(snap, '2.22.43.10.in-addr.arpa', 'PTR');
    expect(svc.rcode).toBe('NOERROR');
    expect(svc.flag_aa).toBe(true);
    expect(data(svc.answers)).toEqual(['app2-service.default.svc.cluster.local']);
    expect(data((await ask(snap, '10.0.43.10.in-addr.arpa', 'PTR')).answers)).toEqual(['kube-dns.kube-system.svc.cluster.local']);
    expect(data((await ask(snap, '31.0.42.10.in-addr.arpa', 'PTR')).answers)).toEqual(['db-0.db.default.svc.cluster.local']);
    expect(data((await ask(snap, '33.0.42.10.in-addr.arpa', 'PTR')).answers)).toEqual(['10-42-0-33.db.default.svc.cluster.local']);
  });

  it('falls through to refuse/forward for reverse names it has no record for', async () => {
    expect((await ask(snap, '99.0.43.10.in-addr.arpa', 'PTR')).rcode).toBe('REFUSED');
  });

  it('answers an ExternalName Service with a CNAME (and only that when forwarding nowhere)', async () => {
    const r = await ask(snap, 'ext.default.svc.cluster.local', 'A');
    expect(r.rcode).toBe('NOERROR');
    expect(r.answers?.map((a) => [a.type, a.data])).toEqual([['CNAME', 'www.example.com']]);
  });

  it('chases an ExternalName CNAME upstream when forwarding', async () => {
    const asked: dnsPacket.Question[] = [];
    const upstream = async (q: dnsPacket.Packet): Promise<dnsPacket.Packet> => {
      asked.push(...(q.questions ?? []));
      return { type: 'response', id: q.id, flags: 0, questions: q.questions, answers: [{ name: 'www.example.com', type: 'A', ttl: 300, data: '192.0.2.80' }] };
    };
    const r = await ask(snap, 'ext.default.svc.cluster.local', 'A', { upstream });
    expect(asked).toEqual([{ name: 'www.example.com', type: 'A', class: 'IN' }]);
    expect(r.answers?.map((a) => [a.name, a.type, a.data])).toEqual([
      ['ext.default.svc.cluster.local', 'CNAME', 'www.example.com'],
      ['www.example.com', 'A', '192.0.2.80'],
    ]);
  });

  it('chases an ExternalName pointing into the cluster locally', async () => {
    const r = await ask(snap, 'alias.default.svc.cluster.local', 'A');
    expect(r.answers?.map((a) => [a.name, a.type, a.data])).toEqual([
      ['alias.default.svc.cluster.local', 'CNAME', 'app2-service.default.svc.cluster.local'],
      ['app2-service.default.svc.cluster.local', 'A', '10.43.22.2'],
    ]);
  });

  it('answers dns-version TXT with the schema version', async () => {
    const r = await ask(snap, 'dns-version.cluster.local', 'TXT');
    expect(r.answers?.map((a) => (a.data as Buffer[]).map(String))).toEqual([['1.1.0']]);
  });

  it('answers NXDOMAIN with the zone SOA for unknown cluster names', async () => {
    for (const name of ['nope.default.svc.cluster.local', 'app2-service.nope.svc.cluster.local', 'foo.cluster.local', 'x.app2-service.default.svc.cluster.local']) {
      const r = await ask(snap, name, 'A');
      expect(r.rcode, name).toBe('NXDOMAIN');
      expect(r.flag_aa).toBe(true);
      expect(r.answers).toEqual([]);
      expect(r.authorities).toEqual([
        { name: 'cluster.local', type: 'SOA', class: 'IN', ttl: 5, flush: false, data: { mname: 'ns.dns.cluster.local', rname: 'hostmaster.cluster.local', serial: 7, refresh: 7200, retry: 1800, expire: 86400, minimum: 5 } },
      ]);
    }
  });

  it('answers NOERROR/NODATA for existing names asked for other types (AAAA included)', async () => {
    for (const [name, type] of [
      ['app2-service.default.svc.cluster.local', 'AAAA'],
      ['app2-service.default.svc.cluster.local', 'TXT'],
      ['db.default.svc.cluster.local', 'AAAA'],
      ['default.svc.cluster.local', 'A'], // a namespace
      ['kube-public.svc.cluster.local', 'A'], // a namespace without Services
      ['svc.cluster.local', 'A'],
      ['cluster.local', 'A'],
      ['_tcp.app2-service.default.svc.cluster.local', 'A'], // empty non-terminal
    ]) {
      const r = await ask(snap, name!, type!);
      expect(r.rcode, `${name} ${type}`).toBe('NOERROR');
      expect(r.answers, `${name} ${type}`).toEqual([]);
      expect(r.authorities?.map((a) => a.type)).toEqual(['SOA']);
    }
  });

  it('answers the zone SOA and NS at the apex', async () => {
    const soa = await ask(snap, 'cluster.local', 'SOA');
    expect(soa.answers?.map((a) => [a.type, (a.data as dnsPacket.SoaData).serial])).toEqual([['SOA', 7]]);
    const ns = await ask(snap, 'cluster.local', 'NS');
    expect(data(ns.answers)).toEqual(['ns.dns.cluster.local']);
    expect(ns.additionals?.map((a) => [a.name, a.data])).toEqual([['ns.dns.cluster.local', '10.43.0.10']]);
  });

  it('answers dashed pod names in an existing namespace ("pods insecure")', async () => {
    expect(data((await ask(snap, '10-42-0-7.default.pod.cluster.local', 'A')).answers)).toEqual(['10.42.0.7']);
    expect((await ask(snap, '10-42-0-7.default.pod.cluster.local', 'AAAA')).rcode).toBe('NOERROR');
    expect((await ask(snap, '10-42-0-7.nope.pod.cluster.local', 'A')).rcode).toBe('NXDOMAIN');
    expect((await ask(snap, '10-42-0-300.default.pod.cluster.local', 'A')).rcode).toBe('NXDOMAIN');
    expect((await ask(snap, '10-42-07.default.pod.cluster.local', 'A')).rcode).toBe('NXDOMAIN');
    const off = buildDnsSnapshot({ ...cluster(), podRecords: 'disabled' });
    expect((await ask(off, '10-42-0-7.default.pod.cluster.local', 'A')).rcode).toBe('NXDOMAIN');
  });

  it('refuses names outside the cluster domain without an upstream', async () => {
    const r = await ask(snap, 'example.com', 'A');
    expect(r.rcode).toBe('REFUSED');
    expect(r.flag_aa).toBe(false);
    expect(r.answers).toEqual([]);
  });

  it('forwards names outside the cluster domain to the upstream, keeping the query ID', async () => {
    const seen: dnsPacket.Packet[] = [];
    const upstream = async (q: dnsPacket.Packet): Promise<dnsPacket.Packet> => {
      seen.push(q);
      return { type: 'response', id: 4242, flags: dnsPacket.RECURSION_AVAILABLE, questions: q.questions, answers: [{ name: 'example.com', type: 'A', ttl: 60, data: '192.0.2.1' }] };
    };
    const r = await ask(snap, 'example.com', 'A', { upstream });
    expect(seen.map((q) => q.questions?.[0]?.name)).toEqual(['example.com']);
    expect(r.rcode).toBe('NOERROR');
    expect(r.flag_ra).toBe(true);
    expect(r.answers?.map((a) => [a.data, a.ttl])).toEqual([['192.0.2.1', 60]]);
    // cluster names never go upstream
    await ask(snap, 'nope.default.svc.cluster.local', 'A', { upstream });
    expect(seen).toHaveLength(1);
    const failing = async (): Promise<dnsPacket.Packet> => {
      throw new Error('timeout');
    };
    expect((await ask(snap, 'example.com', 'A', { upstream: failing })).rcode).toBe('SERVFAIL');
  });

  it('answers SERVFAIL before a snapshot is loaded', async () => {
    expect((await ask(null, 'app2-service.default.svc.cluster.local', 'A')).rcode).toBe('SERVFAIL');
  });

  it('follows a new snapshot: the answer is a function of the snapshot', async () => {
    const input = cluster();
    input.services = input.services.map((s) => (s.metadata.name === 'app2-service' ? { ...s, spec: { ...s.spec, clusterIP: '10.43.99.9' } } : s));
    input.generation = 8;
    const next = buildDnsSnapshot(input);
    expect(data((await ask(snap, 'app2-service.default.svc.cluster.local', 'A')).answers)).toEqual(['10.43.22.2']);
    expect(data((await ask(next, 'app2-service.default.svc.cluster.local', 'A')).answers)).toEqual(['10.43.99.9']);
    expect((await ask(next, '2.22.43.10.in-addr.arpa', 'PTR')).rcode).toBe('REFUSED');
  });

  it('echoes EDNS only when asked with it', async () => {
    const withOpt = await ask(snap, 'app2-service.default.svc.cluster.local', 'A', { edns: true });
    expect(withOpt.additionals?.filter((a) => a.type === 'OPT').map((a) => (a as unknown as dnsPacket.OptAnswer).udpPayloadSize)).toEqual([EDNS_UDP_SIZE]);
    const without = await ask(snap, 'app2-service.default.svc.cluster.local', 'A');
    expect(without.additionals).toEqual([]);
  });

  it('rejects what a cluster DNS does not serve', async () => {
    const notify = { ...query('cluster.local', 'SOA'), flags: 4 << 11 };
    expect(rcodeOf(await answer(notify, snap))).toBe(RCODE.NOTIMP);
    expect(rcodeOf(await answer({ ...query('x', 'A'), questions: [] }, snap))).toBe(RCODE.FORMERR);
    expect(rcodeOf(await answer(query('app2-service.default.svc.cluster.local', 'A', { class: 'CH' }), snap))).toBe(RCODE.REFUSED);
  });

  it('answers the node names of NodeHosts, outside the zone', async () => {
    const withHosts = buildDnsSnapshot({ ...cluster(), nodeHosts: [{ ip: '192.168.56.110', hostnames: ['labS'] }] });
    expect(data((await ask(withHosts, 'labS', 'A')).answers)).toEqual(['192.168.56.110']);
    expect(data((await ask(withHosts, '110.56.168.192.in-addr.arpa', 'PTR')).answers)).toEqual(['labs']);
  });
});

describe('truncateForUdp / udpLimit', () => {
  const many = buildDnsSnapshot({
    clusterDomain: ZONE,
    services: [service('default', 'big', 'None', [{ name: 'http', port: 80 }])],
    endpoints: [endpoints('default', 'big', [{ ready: Array.from({ length: 60 }, (_, i) => `10.42.1.${i + 1}`), ports: [{ name: 'http', port: 80 }] }])],
  });

  it('sets TC with an empty answer when 512 bytes cannot hold it, and fits EDNS-sized answers', async () => {
    const plain = query('big.default.svc.cluster.local', 'A');
    const res = await answer(plain, many);
    expect(dnsPacket.encodingLength(res)).toBeGreaterThan(512);
    expect(udpLimit(plain)).toBe(512);
    const cut = dnsPacket.decode(dnsPacket.encode(truncateForUdp(res, udpLimit(plain), dnsPacket.encodingLength)));
    expect(cut.flag_tc).toBe(true);
    expect(cut.answers).toEqual([]);
    expect(dnsPacket.encodingLength(cut)).toBeLessThanOrEqual(512);

    const big = query('big.default.svc.cluster.local', 'A', { edns: true });
    expect(udpLimit(big)).toBe(4096);
    const whole = dnsPacket.decode(dnsPacket.encode(truncateForUdp(await answer(big, many), udpLimit(big), dnsPacket.encodingLength)));
    expect(whole.flag_tc).toBe(false);
    expect(whole.answers).toHaveLength(60);
  });

  it('drops the Additional section before truncating', async () => {
    const q = query('_http._tcp.big.default.svc.cluster.local', 'SRV', { edns: true });
    const res = await answer(q, many);
    const full = dnsPacket.encodingLength(res);
    const lean = truncateForUdp(res, full - 1, dnsPacket.encodingLength);
    expect(lean.flags! & dnsPacket.TRUNCATED_RESPONSE).toBe(0);
    expect(lean.answers).toHaveLength(60);
    expect(lean.additionals?.map((a) => a.type)).toEqual(['OPT']);
  });
});

describe('publishDns', () => {
  it('writes a new generation only when a record changed', async () => {
    const { mkdtemp, readFile, rm } = await import('node:fs/promises');
    const os = await import('node:os');
    const path = await import('node:path');
    const { publishDns, dnsSnapshotPath } = await import('../../src/dns/publish.ts');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'pplt-dns-publish-'));
    try {
      const config = { clusterDomain: 'cluster.local', nodeIP: '192.168.56.110', nodeName: 'labs' } as Parameters<typeof publishDns>[1]['config'];
      const input = { services: [service('default', 'web', '10.43.0.20', [{ name: 'http' }])], endpoints: [], pods: [], config };
      expect(await publishDns(dir, input)).toBe(true);
      const first = JSON.parse(await readFile(dnsSnapshotPath(dir), 'utf8')) as { generation: number };
      expect(await publishDns(dir, { ...input, services: [service('default', 'web', '10.43.0.20', [{ name: 'http' }])] })).toBe(false);
      expect(JSON.parse(await readFile(dnsSnapshotPath(dir), 'utf8')).generation).toBe(first.generation);
      expect(await publishDns(dir, { ...input, services: [service('default', 'web', '10.43.0.21', [{ name: 'http' }])] })).toBe(true);
      expect(JSON.parse(await readFile(dnsSnapshotPath(dir), 'utf8')).generation).toBe(first.generation + 1);
      await rm(dnsSnapshotPath(dir));
      expect(await publishDns(dir, { ...input, services: [service('default', 'web', '10.43.0.21', [{ name: 'http' }])] })).toBe(true); // the file went missing
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
