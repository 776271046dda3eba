// lab trace's pure parts, on outputs captured from a running lab (test/fixtures/trace/):
//   ingress/  curl http://app2.com/ from the laptop namespace (two DNATs: node IP -> ingress pod,
//             ClusterIP -> app2 pod), iptables-save -c and conntrack -L before/after, logs
//   frompod/  curl http://app2-service/ from the app1 pod, after dig through its resolv.conf
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ClusterView } from '../../src/trace/view.ts';
import { parseAccessLogLine, type AccessLogEntry } from '../../src/ingress/nginx.ts';
import { endpointChainName } from '../../src/proxy/names.ts';
import { buildClusterIndex } from '../../src/trace/cluster.ts';
import { dnatOf, newEntries, parseConntrack, parseConntrackLine, snatOf } from '../../src/trace/conntrack.ts';
import type { ExplainContext } from '../../src/trace/explain.ts';
import { counterDeltas, parseIptablesSave, splitWords } from '../../src/trace/iptables.ts';
import { CURL_MARKER, parseCurlOutput, parseDig, parseDnsLogLine, parseTraceUrl } from '../../src/trace/observations.ts';
import { PcapngMerger, PcapStreamReader } from '../../src/trace/pcap.ts';
import { renderTrace } from '../../src/trace/render.ts';
import { buildTrace, type TraceObservations, type Window } from '../../src/trace/trace.ts';

const DIR = path.resolve(import.meta.dirname, '../fixtures/trace');
const read = (f: string) => readFileSync(path.join(DIR, f), 'utf8');
const state = JSON.parse(read('state.json')) as ClusterView;
const index = buildClusterIndex(state);
const ctx: ExplainContext = { index, mode: 'sandbox', gateway: '10.42.0.1', podCIDR: '10.42.0.0/24', laptopIP: '192.168.56.1' };
const podIP = (name: string) => state.pods[name]!.status.podIP!;

function win(dir: string, prefix = ''): Window {
  return {
    deltas: counterDeltas(parseIptablesSave(read(`${dir}/${prefix}ipt-before.txt`)), parseIptablesSave(read(`${dir}/${prefix}ipt-after.txt`))),
    conntrackBefore: parseConntrack(read(`${dir}/${prefix}ct-before.txt`)),
    conntrackAfter: parseConntrack(read(`${dir}/${prefix}ct-after.txt`)),
  };
}

/** "<pod>\t<line>" -> lines by pod, as the trace command collects new container log lines. */
function podLogs(dir: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const l of read(`${dir}/pod-logs.txt`).split('\n').filter(Boolean)) {
    const [pod, line] = l.split('\t') as [string, string];
    (out[pod] ??= []).push(line);
  }
  return out;
}

/** The pod whose httpd logged a response during the capture: who really answered. */
function httpdResponder(dir: string): string {
  const hits = Object.entries(podLogs(dir)).filter(([, ls]) => ls.some((l) => /response:200/.test(l)));
  expect(hits).toHaveLength(1);
  return hits[0]![0];
}

/** Independently of src/trace: KUBE-SEP chains whose DNAT rule's counter changed between two dumps. */
function movedDnatChains(dir: string, prefix = ''): string[] {
  const counters = (text: string) => new Map(text.split('\n').filter((l) => / -j DNAT /.test(l)).map((l) => [l.replace(/^\[\d+:\d+\] /, ''), l.match(/^\[(\d+):/)![1]!]));
  const before = counters(read(`${dir}/${prefix}ipt-before.txt`));
  return [...counters(read(`${dir}/${prefix}ipt-after.txt`))].filter(([rule, n]) => before.get(rule) !== n).map(([rule]) => rule.split(' ')[1]!);
}

function observations(dir: string, from: TraceObservations['from'], url: string, extra: Partial<TraceObservations> = {}): TraceObservations {
  const logs = podLogs(dir);
  return {
    url: parseTraceUrl(url),
    hostHeader: parseTraceUrl(url).host,
    from,
    curl: parseCurlOutput(read(`${dir}/curl.txt`), 0),
    http: win(dir),
    accessLog: read(`${dir}/access.log`).split('\n').map(parseAccessLogLine).filter((e): e is AccessLogEntry => e !== null),
    dnsLog: Object.values(logs).flat().map(parseDnsLogLine).filter((e) => e !== null),
    podLogs: logs,
    clusterDNS: '10.43.0.10',
    ...extra,
  };
}

describe('iptables-save parsing', () => {
  it('splits words like iptables-restore: quoted comments are one word, escaped quotes kept', () => {
    expect(splitWords('-A X -m comment --comment "a \\"b\\" c" -j Y')).toEqual(['-A', 'X', '-m', 'comment', '--comment', 'a "b" c', '-j', 'Y']);
    expect(() => splitWords('-A X --comment "open')).toThrow(/unbalanced/);
  });

  it('reads tables, chains, counters and the fields of every rule of a real dump', () => {
    const text = read('ingress/ipt-after.txt');
    const dump = parseIptablesSave(text);
    expect([...dump.keys()].sort()).toEqual([...text.matchAll(/^\*(\w+)$/gm)].map((m) => m[1]).sort());
    expect([...dump.keys()]).toContain('nat');
    const nat = dump.get('nat')!;
    const ruleLines = text.split('\n').filter((l) => /^\[\d+:\d+\] -A /.test(l));
    expect(nat.rules.length + dump.get('filter')!.rules.length).toBe(ruleLines.length);
    const lb = nat.rules.find((r) => r.comment === 'kube-system/ingress-nginx:http loadbalancer IP')!;
    expect(lb).toMatchObject({ chain: 'KUBE-SERVICES', destination: '192.168.56.110/32', protocol: 'tcp', dport: 80, target: 'KUBE-EXT-LLEJWBLWFRRBL5SZ' });
    expect(lb.packets).toBe(Number(ruleLines.find((l) => l.includes('loadbalancer IP'))!.match(/^\[(\d+):/)![1]));
    const masq = nat.rules.find((r) => r.chain === 'KUBE-SVC-ACD6HH2TT3FMP52M' && r.target === 'KUBE-MARK-MASQ')!;
    expect(masq.source).toBe('!10.42.0.0/16');
    const sep = nat.rules.filter((r) => r.chain === 'KUBE-SVC-ACD6HH2TT3FMP52M' && r.target?.startsWith('KUBE-SEP-'));
    expect(sep.map((r) => r.probability)).toEqual([0.33333333349, 0.5, undefined]);
    expect(sep.map((r) => r.index)).toEqual([2, 3, 4]);
    const dnat = nat.rules.find((r) => r.chain === 'KUBE-SEP-D75QAAJ4VZZBI2FH' && r.target === 'DNAT')!;
    expect(dnat.toDestination).toBe('10.42.0.3:80');
    // Without -c the same rules, no counters.
    const plain = parseIptablesSave(text.replace(/^\[\d+:\d+\] /gm, ''));
    expect(plain.get('nat')!.rules.map((r) => r.text)).toEqual(nat.rules.map((r) => r.text));
    expect(plain.get('nat')!.rules.every((r) => r.packets === undefined)).toBe(true);
  });

  it('counter deltas: exactly the rules the request moved, matched by text even when positions shift', () => {
    const deltas = counterDeltas(parseIptablesSave(read('ingress/ipt-before.txt')), parseIptablesSave(read('ingress/ipt-after.txt')));
    const dnat = deltas.filter((d) => d.rule.target === 'DNAT').map((d) => d.rule.chain).sort();
    expect(dnat).toEqual(movedDnatChains('ingress').sort());
    // A rule inserted at the top of a chain shifts every position but moves no counter.
    const before = read('ingress/ipt-after.txt');
    const shifted = before.replace(/^(\[\d+:\d+\] -A KUBE-SERVICES )/m, '[0:0] -A KUBE-SERVICES -d 10.43.9.9/32 -j KUBE-MARK-MASQ\n$1');
    expect(counterDeltas(parseIptablesSave(before), parseIptablesSave(shifted))).toEqual([]);
  });
});

describe('conntrack -L parsing', () => {
  it('reads TCP (with state), UDP (without), and the -o extended layout', () => {
    const tcp = parseConntrackLine('tcp      6 119 TIME_WAIT src=192.168.56.1 dst=192.168.56.110 sport=46038 dport=80 src=10.42.0.8 dst=10.42.0.1 sport=80 dport=18270 [ASSURED] mark=0 use=1')!;
    expect(tcp).toMatchObject({ protocol: 'tcp', protocolNumber: 6, timeout: 119, state: 'TIME_WAIT', flags: ['ASSURED'], mark: 0 });
    expect(tcp.original).toEqual({ src: '192.168.56.1', dst: '192.168.56.110', sport: 46038, dport: 80 });
    expect(tcp.reply).toEqual({ src: '10.42.0.8', dst: '10.42.0.1', sport: 80, dport: 18270 });
    expect(dnatOf(tcp)).toEqual({ from: '192.168.56.110:80', to: '10.42.0.8:80' });
    expect(snatOf(tcp)).toEqual({ from: '192.168.56.1:46038', to: '10.42.0.1:18270' });
    const udp = parseConntrackLine('udp      17 25 src=10.42.0.8 dst=10.43.0.10 sport=45976 dport=53 src=10.42.0.7 dst=10.42.0.8 sport=53 dport=45976 mark=0 use=1')!;
    expect(udp.state).toBeUndefined();
    expect(snatOf(udp)).toBeNull();
    const igmp = parseConntrackLine('unknown  2 594 src=10.42.0.1 dst=224.0.0.22 [UNREPLIED] src=224.0.0.22 dst=10.42.0.1 mark=0 use=1')!;
    expect(igmp.flags).toEqual(['UNREPLIED']);
    expect(parseConntrackLine('conntrack v1.4.7 (conntrack-tools): 4 flow entries have been shown.')).toBeNull();
    const ext = parseConntrack(read('node/conntrack-extended.txt'));
    expect(ext.length).toBe(read('node/conntrack-extended.txt').split('\n').filter(Boolean).length);
    expect(ext.every((e) => e.original.src && e.reply.src)).toBe(true);
  });

  it('new entries: the connections of the request, not the refreshed older ones', () => {
    const fresh = newEntries(parseConntrack(read('ingress/ct-before.txt')), parseConntrack(read('ingress/ct-after.txt')));
    const tcp = fresh.filter((e) => e.protocol === 'tcp');
    expect(tcp).toHaveLength(2);
    expect(tcp.map((e) => e.original.dst).sort()).toEqual(['10.43.143.160', '192.168.56.110']);
  });
});

describe('curl, dig and DNS log parsing', () => {
  it('splits the body from the write-out and reads the connection', () => {
    const c = parseCurlOutput(read('ingress/curl.txt'), 0);
    expect(c.body).toContain('Welcome to App 2!');
    expect(c.body).not.toContain(CURL_MARKER.trim());
    expect(c).toMatchObject({ httpCode: 200, localIP: '192.168.56.1', remoteIP: '192.168.56.110', remotePort: 80 });
    expect(c.bytes).toBe(c.body.length);
    const failed = parseCurlOutput(`${CURL_MARKER}{"http_code":"000","local_ip":"","local_port":0,"remote_ip":"","remote_port":0,"size_download":0,"time_connect":0.000000,"time_total":0.001}`, 7, 'curl: (7) Failed to connect\n');
    expect(failed).toMatchObject({ exitCode: 7, error: 'curl: (7) Failed to connect', httpCode: undefined, localIP: undefined, localPort: undefined });
  });

  it('reads dig: the search list picked app2-service.default.svc.cluster.local, served by 10.43.0.10', () => {
    const d = parseDig('app2-service', read('frompod/dig.txt'));
    const svc = state.services.find((s) => s.metadata.name === 'app2-service')!;
    expect(d).toMatchObject({ status: 'NOERROR', fqdn: 'app2-service.default.svc.cluster.local', addresses: [svc.spec.clusterIP], server: { ip: '10.43.0.10', port: 53, protocol: 'udp' } });
    expect(parseDig('nope', ';; ->>HEADER<<- opcode: QUERY, status: NXDOMAIN, id: 1\n')).toMatchObject({ status: 'NXDOMAIN', addresses: [] });
  });

  it('reads the DNS server log lines', () => {
    const e = parseDnsLogLine('[INFO] 10.42.0.8:45976 - 26726 "A IN app2-service.default.svc.cluster.local. udp 56 false 512" NOERROR qr,aa,rd 110 0.000711550s')!;
    expect(e).toMatchObject({ client: '10.42.0.8', clientPort: 45976, type: 'A', name: 'app2-service.default.svc.cluster.local', protocol: 'udp', rcode: 'NOERROR' });
    expect(parseDnsLogLine('[::ffff:10.42.0.8]:33292: response:200')).toBeNull();
  });

  it('reads trace URLs', () => {
    expect(parseTraceUrl('app2.com')).toMatchObject({ host: 'app2.com', port: 80, path: '/', isIP: false });
    expect(parseTraceUrl('http://10.43.0.1:8080/a?b=1')).toMatchObject({ host: '10.43.0.1', port: 8080, path: '/a?b=1', isIP: true });
    expect(() => parseTraceUrl('https://app2.com/')).toThrow(/only http/);
  });
});

describe('buildTrace on a real ingress request (laptop -> app2.com)', () => {
  const obs = observations('ingress', { kind: 'laptop', label: 'the laptop', netns: 'pplt-tx-host' }, 'http://app2.com/', {
    resolution: { method: 'hosts-file', answer: { query: 'app2.com', addresses: ['192.168.56.110'], cnames: [] } },
  });
  const t = buildTrace(obs, index, ctx);
  const responder = httpdResponder('ingress');
  const moved = movedDnatChains('ingress');

  it('has two DNAT legs: node IP -> ingress pod, then ClusterIP -> the app pod', () => {
    const [client, ...rest] = t.legs;
    const upstream = rest.find((l) => l.role === 'upstream')!;
    expect(client!.service).toMatchObject({ name: 'kube-system/ingress-nginx:http', kind: 'LoadBalancer' });
    const ingress = Object.values(state.pods).find((p) => p.metadata.labels['app.kubernetes.io/name'] === 'ingress-nginx')!;
    expect(client!.dnat).toMatchObject({ from: '192.168.56.110:80', to: `${ingress.status.podIP}:80`, pod: { name: ingress.metadata.name } });
    expect(upstream.service).toMatchObject({ name: 'default/app2-service:http', kind: 'ClusterIP' });
    expect(upstream.dnat?.pod?.name).toBe(responder);
    expect(t.answeredBy).toMatchObject({ name: responder, ip: podIP(responder), port: 80 });
  });

  it('names, for each leg, the KUBE-SEP chain whose counter moved, which is the chain of the answering endpoint', () => {
    const seps = t.legs.filter((l) => l.role !== 'ingress-dns').map((l) => l.sepChain);
    for (const s of seps) expect(moved).toContain(s);
    const upstream = t.legs.find((l) => l.role === 'upstream')!;
    expect(upstream.sepChain).toBe(endpointChainName('default/app2-service:http', 'TCP', `${podIP(responder)}:80`));
    expect(upstream.sepEvidence).toBe('counter+conntrack');
    expect(upstream.svcChain).toBe('KUBE-SVC-ACD6HH2TT3FMP52M');
    // The path: portal rule, the one statistic jump taken, the DNAT — nothing of the other endpoints.
    expect(upstream.rules.map((r) => r.chain)).toEqual(['KUBE-SERVICES', 'KUBE-SVC-ACD6HH2TT3FMP52M', upstream.sepChain]);
    expect(upstream.rules.every((r) => r.packets === 1)).toBe(true);
  });

  it('carries the conntrack tuples of both connections; the client one masqueraded to cni0', () => {
    const client = t.legs[0]!;
    expect(client.conntrack!.original).toMatchObject({ src: '192.168.56.1', sport: obs.curl.localPort, dst: '192.168.56.110', dport: 80 });
    expect(client.conntrack!.reply.dst).toBe('10.42.0.1');
    expect(client.snat).toMatchObject({ from: `192.168.56.1:${obs.curl.localPort}` });
    expect(client.snat!.rule?.text).toContain('MASQUERADE');
    const upstream = t.legs.find((l) => l.role === 'upstream')!;
    expect(upstream.conntrack!.reply.src).toBe(podIP(responder));
    // The pod logged the very connection conntrack recorded (its source port).
    expect(t.answeredBy!.log.join('\n')).toContain(`]:${upstream.conntrack!.original.sport}:`);
  });

  it('reads the ingress access log and its DNS lookup of the Service', () => {
    expect(t.ingress!.log).toMatchObject({ host: 'app2.com', backend: 'default/app2-service:80', upstream: `${state.services.find((s) => s.metadata.name === 'app2-service')!.spec.clusterIP}:80` });
    const dns = t.legs.find((l) => l.role === 'ingress-dns')!;
    expect(dns.dnat?.pod?.name).toMatch(/^coredns-/);
    expect(t.ingress!.lookups.map((l) => l.name)).toEqual(['app2-service.default.svc.cluster.local']);
  });

  it('renders the hops in the order of the request-flow diagram', () => {
    expect(t.hops.map((h) => h.kind)).toEqual(['source', 'dns', 'send', 'dnat', 'snat', 'conntrack', 'ingress', 'dns', 'dnat', 'conntrack', 'pod', 'return', 'response']);
    expect(t.warnings).toEqual([]);
    const text = renderTrace(t);
    expect(text).toContain(`pod ${responder} ${podIP(responder)}:80 answered`);
    expect(text).toMatch(/^ 4 {2}DNAT {7}kube-system\/ingress-nginx:http \(LoadBalancer 192\.168\.56\.110:80\)/m);
    expect(text).toContain(`becomes  192.168.56.110:80 -> 192.168.56.1:${obs.curl.localPort}`);
    // JSON round trip keeps everything a script needs.
    const json = JSON.parse(JSON.stringify(t)) as typeof t;
    expect(json.answeredBy?.ip).toBe(podIP(responder));
  });
});

describe('buildTrace when the ingress sends to the pod itself (service-upstream "false")', () => {
  // The recorded ingress request, with the access log naming the pod as nginx's upstream, as an
  // upstream block of ready endpoints makes it: no DNS lookup, no second DNAT.
  const base = observations('ingress', { kind: 'laptop', label: 'the laptop', netns: 'pplt-tx-host' }, 'http://app2.com/', {
    resolution: { method: 'hosts-file', answer: { query: 'app2.com', addresses: ['192.168.56.110'], cnames: [] } },
  });
  const responder = httpdResponder('ingress');
  const obs = { ...base, dnsLog: [], accessLog: base.accessLog.map((e) => ({ ...e, upstream: `${podIP(responder)}:80` })) };
  const t = buildTrace(obs, index, ctx);

  it('says so: a send to the pod instead of the ClusterIP DNAT, no Service lookup', () => {
    const ingress = t.hops.find((h) => h.kind === 'ingress')!;
    expect(ingress.lines.join('\n')).toContain('service-upstream "false": nginx connects straight to a pod');
    const send = t.hops.filter((h) => h.kind === 'send').at(-1)!;
    expect(send.title).toBe(`ingress pod -> pod ${responder} ${podIP(responder)}:80`);
    expect(t.hops.filter((h) => h.kind === 'dns').map((h) => h.title)).not.toContain("ingress: Service name answered from nginx's resolver cache (valid=5s), no DNS packet this time");
    expect(t.answeredBy).toMatchObject({ name: responder, ip: podIP(responder) });
  });
});

describe('buildTrace on a real pod-to-Service request (app1 pod -> app2-service)', () => {
  const from = Object.values(state.pods).find((p) => p.metadata.name.startsWith('app1-'))!;
  const answer = parseDig('app2-service', read('frompod/dig.txt'));
  const obs = observations('frompod', { kind: 'pod', label: `pod default/${from.metadata.name}`, netns: from.metadata.annotations['lab/netns']!, pod: from }, 'http://app2-service/', {
    resolution: { method: 'cluster-dns', answer, window: win('frompod', 'dns-'), dnsLog: [] },
  });
  const t = buildTrace(obs, index, ctx);
  const responder = httpdResponder('frompod');

  it('shows the DNS answer and the DNAT of the query to the coredns pod', () => {
    expect(t.dns).toMatchObject({ method: 'cluster-dns', fqdn: 'app2-service.default.svc.cluster.local' });
    const leg = t.dns!.leg!;
    expect(leg.service).toMatchObject({ name: 'kube-system/kube-dns:dns', kind: 'ClusterIP' });
    expect(leg.dnat?.pod?.name).toMatch(/^coredns-/);
    expect(leg.conntrack?.original).toMatchObject({ src: from.status.podIP, dst: '10.43.0.10', dport: 53 });
    expect(leg.sepChain).toBe(movedDnatChains('frompod', 'dns-')[0]);
  });

  it('one DNAT leg, to the pod that answered, no masquerade (the client is a pod)', () => {
    expect(t.legs).toHaveLength(1);
    const leg = t.legs[0]!;
    expect(leg.service?.name).toBe('default/app2-service:http');
    expect(leg.sepChain).toBe(endpointChainName('default/app2-service:http', 'TCP', `${podIP(responder)}:80`));
    expect(movedDnatChains('frompod')).toEqual([leg.sepChain]);
    expect(leg.snat).toBeUndefined();
    expect(leg.conntrack!.original).toMatchObject({ src: from.status.podIP, sport: obs.curl.localPort });
    expect(t.answeredBy?.name).toBe(responder);
    expect(t.hops.map((h) => h.kind)).toEqual(['source', 'dns', 'send', 'dnat', 'conntrack', 'pod', 'return', 'response']);
  });

  it('warns instead of guessing when the counters and conntrack disagree', () => {
    const leg = t.legs[0]!;
    const other = index.servicePortsOf('default', 'app2-service')[0]!.endpoints.find((e) => e.ip !== podIP(responder))!;
    const lying = { ...obs, http: { ...obs.http, conntrackAfter: obs.http.conntrackAfter.map((e) => (e.original.sport === leg.conntrack!.original.sport ? { ...e, reply: { ...e.reply, src: other.ip } } : e)) } };
    const t2 = buildTrace(lying, index, ctx);
    expect(t2.warnings.join('\n')).toMatch(/counters point at KUBE-SEP-\w+ but conntrack at KUBE-SEP-\w+/);
  });
});

describe('pcap streams and the merged pcapng of a service capture', () => {
  const real = readFileSync(path.join(DIR, 'node/pod-eth0.pcap'));

  it('reads a real tcpdump -w stream fed in odd-sized pieces', () => {
    const r = new PcapStreamReader();
    const recs = [];
    for (let i = 0; i < real.length; i += 7) recs.push(...r.push(real.subarray(i, i + 7)));
    expect(r.header).toMatchObject({ linktype: 1, nanos: false, littleEndian: true });
    // tcpdump -r printed 4 packets for this file.
    expect(recs).toHaveLength(4);
    expect(recs.reduce((n, x) => n + 16 + x.data.length, 24)).toBe(real.length);
  });

  it('merges two streams into pcapng: one interface per pod, every packet on its interface', () => {
    const m = new PcapngMerger([{ name: 'app2-a/veth1' }, { name: 'app2-b/veth2' }]);
    const out = Buffer.concat([m.start(), m.push(0, real.subarray(0, 100)), m.push(1, real), m.push(0, real.subarray(100))]);
    expect(m.packets).toBe(8);
    // Walk the blocks.
    const blocks: { type: number; body: Buffer }[] = [];
    for (let o = 0; o < out.length; ) {
      const len = out.readUInt32LE(o + 4);
      expect(out.readUInt32LE(o + len - 4)).toBe(len);
      expect(len % 4).toBe(0);
      blocks.push({ type: out.readUInt32LE(o), body: out.subarray(o + 8, o + len - 4) });
      o += len;
    }
    expect(blocks[0]!.type).toBe(0x0a0d0d0a);
    expect(blocks[0]!.body.readUInt32LE(0)).toBe(0x1a2b3c4d);
    const idbs = blocks.filter((b) => b.type === 1);
    expect(idbs.map((b) => b.body.subarray(12, 12 + b.body.readUInt16LE(10)).toString())).toEqual(['app2-a/veth1', 'app2-b/veth2']);
    const epbs = blocks.filter((b) => b.type === 6);
    // The first 100 bytes of stream 0 hold its header and first packet (an ARP request); stream 1
    // arrives whole; the rest of stream 0 last.
    expect(epbs.map((b) => b.body.readUInt32LE(0))).toEqual([0, 1, 1, 1, 1, 0, 0, 0]);
    const first = new PcapStreamReader().push(real)[0]!;
    for (const epb of [epbs[0]!, epbs[1]!]) {
      const ts = (BigInt(epb.body.readUInt32LE(4)) << 32n) | BigInt(epb.body.readUInt32LE(8));
      expect(ts).toBe(BigInt(first.seconds) * 1_000_000n + BigInt(first.fraction));
      expect(epb.body.readUInt32LE(12)).toBe(first.data.length);
      expect(Buffer.compare(epb.body.subarray(20, 20 + first.data.length), Buffer.from(first.data))).toBe(0);
    }
  });
});

describe('buildTrace when the answering pod is on another node', () => {
  // The same real request, with the pod that answered moved to labsw (its address kept: the hops
  // only compare addresses), a VXLAN frame as labs's eth1 capture decodes it, and labsw's side.
  const from = Object.values(state.pods).find((p) => p.metadata.name.startsWith('app1-'))!;
  const answer = parseDig('app2-service', read('frompod/dig.txt'));
  const responder = httpdResponder('frompod');
  const target = podIP(responder);
  const moved = structuredClone(state);
  moved.pods[responder]!.spec.nodeName = 'labsw';
  const idx = buildClusterIndex(moved);
  const base = observations('frompod', { kind: 'pod', label: `pod default/${from.metadata.name}`, netns: from.metadata.annotations['lab/netns']!, pod: moved.pods[from.metadata.name]! }, 'http://app2-service/', {
    resolution: { method: 'cluster-dns', answer, window: win('frompod', 'dns-'), dnsLog: [] },
  });
  const sport = base.curl.localPort!;
  const frame = (src: string, sp: number, dst: string, dp: number, flags: string) => ({
    outer: { srcMac: '02:00:00:00:00:10', dstMac: '02:00:00:00:00:11', protocol: 'udp' as const, src: '192.168.56.110', dst: '192.168.56.111', sport: 40000, dport: 8472 },
    flags: 0x08,
    vni: 1,
    inner: { srcMac: '6e:00:00:00:00:01', dstMac: '6e:00:00:00:00:02', protocol: 'tcp' as const, src, dst, sport: sp, dport: dp, tcpFlags: flags },
  });
  const labswCt = parseConntrack(`tcp      6 119 TIME_WAIT src=${from.status.podIP} dst=${target} sport=${sport} dport=80 src=${target} dst=${from.status.podIP} sport=80 dport=${sport} [ASSURED] mark=0 use=1\n`);
  const nodes = {
    sending: { name: 'labs', ip: '192.168.56.110', routes: `default via 192.168.56.1 dev eth1\n${target}/32 via 10.42.1.0 dev flannel.1 onlink\n10.42.0.0/24 dev cni0 proto kernel scope link src 10.42.0.1\n` },
    capture: { frames: [frame(from.status.podIP!, sport, target, 80, 'S'), frame(target, 80, from.status.podIP!, sport, 'S.'), frame(from.status.podIP!, sport, target, 80, '.')] },
    receivers: [{ name: 'labsw', ip: '192.168.56.111', podCIDR: '10.42.1.0/24', routes: `${target}/32 dev cni0 scope link\n`, flannelRx: { before: 10, after: 16 }, window: { deltas: [], conntrackBefore: [], conntrackAfter: labswCt } }],
  };

  it('adds ROUTE, VXLAN and DECAP between the DNAT on labs and the pod, and the source the pod sees', () => {
    const t = buildTrace({ ...base, nodes }, idx, { ...ctx, index: idx });
    expect(t.hops.map((h) => h.kind)).toEqual(['source', 'dns', 'send', 'dnat', 'conntrack', 'route', 'vxlan', 'decap', 'pod', 'return', 'response']);
    expect(t.crossNode).toMatchObject({ from: 'labs', to: 'labsw', route: `${target}/32 via 10.42.1.0 dev flannel.1 onlink`, framesOut: 2, framesBack: 1, decapPackets: 6, sourceSeen: `${from.status.podIP}:${sport}` });
    expect(t.crossNode!.first!.inner.tcpFlags).toBe('S');
    expect(t.warnings).toEqual([]);
    const text = renderTrace(t);
    expect(text).toContain(`VXLAN      eth1 on labs: UDP 192.168.56.110 -> 192.168.56.111:8472, VXLAN VNI 1, inner ${from.status.podIP} -> ${target}:80`);
    expect(text).toContain('VXLAN: flags 0x08 [I], VNI 1');
    expect(text).toContain("the source pod's own address, no SNAT pod-to-pod across nodes");
  });

  it('says so when there is no frame, no flannel route or no entry on the other node', () => {
    const t = buildTrace({ ...base, nodes: { ...nodes, sending: { ...nodes.sending, routes: '' }, capture: { frames: [] }, receivers: [{ ...nodes.receivers[0]!, window: { deltas: [], conntrackBefore: [], conntrackAfter: [] } }] } }, idx, { ...ctx, index: idx });
    expect(t.warnings).toEqual([`node labs does not route ${target} through flannel.1`, "no VXLAN frame of this connection was captured on labs's eth1", "node labsw's conntrack has no entry of this connection"]);
    // The same pod on the same node: no cross-node hops at all.
    expect(buildTrace({ ...base, nodes }, index, ctx).crossNode).toBeUndefined();
  });
});
