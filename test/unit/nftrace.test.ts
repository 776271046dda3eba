// The parser of `nft -a monitor trace`, on output captured from the kernel (test/fixtures/trace/
// nft-monitor-trace.txt): a table rendered by lab proxy render --proxy-mode nftables with one
// Service (default/app2-service, 10.43.143.160:80) and its endpoint chains, a lab-trace table
// setting meta nftrace for the flow, and one connection from the namespace itself (nat output); the
// numgen vmap chose the 127.0.0.1 endpoint.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { chosenEndpointChain, firstPacketRuleHits, flowTraceComplete, nftRuleHits, parseNftTrace, parseNftTraceLine, traceIdsOfFlow } from '../../src/trace/nftrace.ts';

const OUT = readFileSync(path.resolve(import.meta.dirname, '../fixtures/trace/nft-monitor-trace.txt'), 'utf8');
const EP = 'endpoint-NC6GP35J-default/app2-service/tcp/http__127.0.0.1/80';
const OTHER = 'endpoint-W3JLSUNE-default/app2-service/tcp/http__10.42.0.5/80';
const SVC = 'service-CX35JJFW-default/app2-service/tcp/http';

describe('nft monitor trace', () => {
  it('parses rule, policy and packet lines', () => {
    expect(parseNftTraceLine('trace id aa9f54da ip kube-proxy services rule ip daddr . meta l4proto . th dport vmap @service-ips # handle 44 (verdict goto service-X/a/tcp/)')).toEqual({
      id: 'aa9f54da', family: 'ip', table: 'kube-proxy', chain: 'services', kind: 'rule', text: 'ip daddr . meta l4proto . th dport vmap @service-ips', handle: 44, verdict: 'goto service-X/a/tcp/',
    });
    expect(parseNftTraceLine('trace id aa9f54da ip kube-proxy filter-output policy accept ')).toMatchObject({ kind: 'policy', verdict: 'accept', chain: 'filter-output' });
    expect(parseNftTraceLine('trace id aa9f54da ip kube-proxy filter-output-post-dnat policy accept meta mark 0x00004000 ')).toMatchObject({ kind: 'policy', verdict: 'accept' });
    const p = parseNftTraceLine('trace id aa9f54da ip lab-trace output packet: oif "lo" ip saddr 0.0.0.0 ip daddr 10.43.143.160 ip dscp cs0 ip ecn not-ect ip ttl 64 ip id 14520 ip length 60 tcp sport 49212 tcp dport 80 tcp flags == syn tcp window 65495 ');
    expect(p).toMatchObject({ kind: 'packet', table: 'lab-trace', chain: 'output', packet: { saddr: '0.0.0.0', daddr: '10.43.143.160', protocol: 'tcp', sport: 49212, dport: 80 } });
    // A rule added after the monitor started.
    expect(parseNftTraceLine('trace id 3a597d88 ip lab-trace output unknown rule handle 2 (verdict continue)')).toMatchObject({ kind: 'rule', text: '', handle: 2, verdict: 'continue' });
    expect(parseNftTraceLine('Error: something')).toBeNull();
    expect(parseNftTraceLine('')).toBeNull();
  });

  it('lists the rules the traced connection hit, in order, ending at the endpoint chain', () => {
    const events = parseNftTrace(OUT);
    expect(events.length).toBe(OUT.trim().split('\n').length);
    const ids = traceIdsOfFlow(events, { protocol: 'tcp', sport: 33512 });
    expect(ids).toEqual(['b5efbd16', '17bb7a62']);
    expect(traceIdsOfFlow(events, { protocol: 'tcp', sport: 1 })).toEqual([]);
    expect(traceIdsOfFlow(events, { protocol: 'udp', sport: 33512 })).toEqual([]);
    const hits = nftRuleHits(events, ids.slice(0, 1), 'kube-proxy');
    expect(hits.map((h) => `${h.chain} #${h.handle ?? '-'} ${h.verdict}`)).toEqual([
      'filter-output #26 jump service-endpoints-check',
      'filter-output #28 jump firewall-check',
      'filter-output #- accept',
      'nat-output #29 jump services',
      `services #44 goto ${SVC}`,
      `${SVC} #49 jump mark-for-masquerade`,
      'mark-for-masquerade #34 continue',
      `${SVC} #51 goto ${EP}`,
      `${EP} #55 accept`,
      'filter-output-post-dnat #33 jump cluster-ips-check',
      'filter-output-post-dnat #- accept',
      'nat-postrouting #31 jump masquerading',
      'masquerading #36 continue',
      'masquerading #37 accept',
    ]);
    expect(hits[7]!.text).toBe(`numgen random mod 2 vmap { 0 : goto ${OTHER}, 1 : goto ${EP} }`);
    expect(chosenEndpointChain(hits)).toEqual({ service: SVC, endpoint: EP, dnat: '127.0.0.1:80' });
    // Only the lab's own table set nftrace: its rule is in the full list, not in kube-proxy's.
    expect(nftRuleHits(events, ids.slice(0, 1))[0]).toMatchObject({ table: 'lab-trace', text: 'ip daddr 10.43.143.160 tcp dport 80 meta nftrace set 1' });
    expect(chosenEndpointChain([])).toBeUndefined();
  });
  it('knows when the first traced packet has been seen to its end: accepted in the last hook (nat-postrouting, filter-input) or dropped', () => {
    const lines = OUT.trim().split('\n');
    const flow = { protocol: 'tcp', sport: 33512 };
    const upTo = (n: number) => parseNftTrace(lines.slice(0, n).join('\n'));
    // The first id (nat output, then postrouting) ends at masquerading's accept, its 21st line.
    const last = lines.findIndex((l) => l.includes('masquerade fully-random'));
    expect(last).toBe(20);
    expect(flowTraceComplete(upTo(last + 1), flow)).toBe(true);
    expect(flowTraceComplete(upTo(last), flow)).toBe(false);
    // The endpoint chain's DNAT accepts in nat-output: not the end of the packet's way.
    const dnat = lines.findIndex((l) => l.includes('dnat to 127.0.0.1:80'));
    expect(flowTraceComplete(upTo(dnat + 1), flow)).toBe(false);
    expect(flowTraceComplete(upTo(0), flow)).toBe(false);
    expect(flowTraceComplete(parseNftTrace(OUT), { protocol: 'tcp', sport: 1 })).toBe(false);
    // Delivered here: the second id (looped back) ends at filter-input's policy.
    const looped = lines.filter((l) => !l.startsWith('trace id b5efbd16 '));
    expect(flowTraceComplete(parseNftTrace(looped.join('\n')), flow)).toBe(true);
    expect(flowTraceComplete(parseNftTrace(looped.slice(0, -1).join('\n')), flow)).toBe(false);
    // A reject (reported as drop) ends it wherever it is.
    const rejected = [...lines.slice(0, 6), 'trace id b5efbd16 ip kube-proxy firewall-check rule ip daddr . meta l4proto . th dport vmap @no-endpoint-services # handle 40 (verdict drop)'];
    expect(flowTraceComplete(parseNftTrace(rejected.join('\n')), flow)).toBe(true);
    expect(flowTraceComplete(upTo(6), flow)).toBe(false);
  });
  // Captured from `lab trace` in a sandbox (kube-proxy-arg: [proxy-mode=nftables]; the trace lines
  // of `nft -a monitor`): the laptop to http://app2.com/ (nat-prerouting DNATs the node IP to the
  // ingress pod, masqueraded in nat-postrouting) and the app1 pod to http://app2-service/ (not
  // masqueraded: nat-postrouting's policy is the last word). The later packets of the connection
  // reuse trace ids, and pass no nat chain.
  it.each([
    ['nft-monitor-trace-ingress.txt', 25815, 'ip kube-proxy masquerading rule masquerade fully-random # handle 38 (verdict accept)'],
    ['nft-monitor-trace-pod.txt', 21866, 'ip kube-proxy nat-postrouting policy accept'],
  ])('%s: the flow is complete at the first packet\'s last kube-proxy verdict in nat-postrouting, not a line before', (file, sport, lastLine) => {
    const lines = readFileSync(path.resolve(import.meta.dirname, '../fixtures/trace', file), 'utf8').trim().split('\n');
    const flow = { protocol: 'tcp', sport };
    const end = lines.findIndex((l) => l.endsWith(lastLine) || l.endsWith(`${lastLine} `));
    expect(end).toBeGreaterThan(10);
    expect(flowTraceComplete(parseNftTrace(lines.slice(0, end + 1).join('\n')), flow)).toBe(true);
    for (let n = 0; n <= end; n++) expect(flowTraceComplete(parseNftTrace(lines.slice(0, n).join('\n')), flow)).toBe(false);
    // The endpoint chain and the DNAT lab trace reports are already there.
    const ids = traceIdsOfFlow(parseNftTrace(lines.join('\n')), flow);
    const whole = nftRuleHits(parseNftTrace(lines.join('\n')), ids, 'kube-proxy');
    const early = nftRuleHits(parseNftTrace(lines.slice(0, end + 1).join('\n')), ids, 'kube-proxy');
    expect(chosenEndpointChain(early)).toEqual(chosenEndpointChain(whole));
    expect(chosenEndpointChain(early)?.dnat).toMatch(/^10\.42\.0\.\d+:80$/);
  });

  it("lists the first packet's rules only, up to its last verdict: a later packet given the same trace id adds nothing", () => {
    const events = parseNftTrace(readFileSync(path.resolve(import.meta.dirname, '../fixtures/trace/nft-monitor-trace-ingress.txt'), 'utf8'));
    const flow = { protocol: 'tcp', sport: 25815 };
    const hits = firstPacketRuleHits(events, flow, 'kube-proxy');
    expect(hits.at(-1)).toMatchObject({ chain: 'masquerading', text: 'masquerade fully-random', verdict: 'accept' });
    // filter-prerouting's policy once (the first packet's), where all of the flow's ids count it six times.
    expect(hits.filter((h) => h.chain === 'filter-prerouting' && h.text.startsWith('policy')).length).toBe(1);
    expect(nftRuleHits(events, traceIdsOfFlow(events, flow), 'kube-proxy').filter((h) => h.chain === 'filter-prerouting' && h.text.startsWith('policy')).length).toBe(6);
    expect(chosenEndpointChain(hits)).toMatchObject({ dnat: '10.42.0.2:80' });
  });
});
