// The pure helpers of scripts/tour.mjs: reading `lab get -o wide` tables and kube-proxy's
// KUBE-SVC jumps out of iptables-save, and the probabilities the tour explains.
import { describe, expect, it } from 'vitest';

interface Jump {
  endpoint: string;
  sep: string;
  probability: string | null;
  packets: number | null;
}

interface TourHelpers {
  parseTable(text: string): Record<string, string>[];
  svcJumps(save: string, chain: string): Jump[];
  movedEndpoints(before: Jump[], after: Jump[]): string[];
  expectedProbabilities(n: number): string[];
  kernelProbability(p: string): string;
  shellWords(argv: string[]): string;
  backoffSeconds(message: string | undefined): number | null;
  describeSection(text: string, heading: RegExp): string;
}

// A plain .mjs script: imported by a computed path so the type checker does not look for typings.
const TOUR = '../../scripts/tour.mjs';
const t = (await import(TOUR)) as TourHelpers;

const SAVE = `*nat
:KUBE-SVC-ACD6HH2TT3FMP52M - [0:0]
[3:180] -A KUBE-SERVICES -d 10.43.143.160/32 -p tcp -m comment --comment "default/app2-service:http cluster IP" -m tcp --dport 80 -j KUBE-SVC-ACD6HH2TT3FMP52M
[0:0] -A KUBE-SVC-ACD6HH2TT3FMP52M ! -s 10.42.0.0/16 -d 10.43.143.160/32 -p tcp -m comment --comment "default/app2-service:http cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ
[1:60] -A KUBE-SVC-ACD6HH2TT3FMP52M -m comment --comment "default/app2-service:http -> 10.42.0.3:80" -m statistic --mode random --probability 0.33333333349 -j KUBE-SEP-D75QAAJ4VZZBI2FH
[2:120] -A KUBE-SVC-ACD6HH2TT3FMP52M -m comment --comment "default/app2-service:http -> 10.42.0.4:80" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-6CBONME52LERRX57
[0:0] -A KUBE-SVC-ACD6HH2TT3FMP52M -m comment --comment "default/app2-service:http -> 10.42.0.5:80" -j KUBE-SEP-4Q43JQ6IQ5IT2EDU
[1:60] -A KUBE-SVC-TMNI4RYXKPWDCGR5 -m comment --comment "default/app1-service:http -> 10.42.0.2:80" -j KUBE-SEP-XXXXXXXXXXXXXXXX
COMMIT
`;

describe('tour helpers', () => {
  it('reads the KUBE-SVC jumps of one chain, with endpoint, KUBE-SEP, probability and counter', () => {
    expect(t.svcJumps(SAVE, 'KUBE-SVC-ACD6HH2TT3FMP52M')).toEqual([
      { endpoint: '10.42.0.3:80', sep: 'KUBE-SEP-D75QAAJ4VZZBI2FH', probability: '0.33333333349', packets: 1 },
      { endpoint: '10.42.0.4:80', sep: 'KUBE-SEP-6CBONME52LERRX57', probability: '0.50000000000', packets: 2 },
      { endpoint: '10.42.0.5:80', sep: 'KUBE-SEP-4Q43JQ6IQ5IT2EDU', probability: null, packets: 0 },
    ]);
    // Without -c: no counters.
    const plain = SAVE.replace(/^\[\d+:\d+\] /gm, '');
    expect(t.svcJumps(plain, 'KUBE-SVC-ACD6HH2TT3FMP52M').map((j) => j.packets)).toEqual([null, null, null]);
  });

  it('names the endpoint whose KUBE-SEP jump counted the request', () => {
    const before = t.svcJumps(SAVE, 'KUBE-SVC-ACD6HH2TT3FMP52M');
    const after = t.svcJumps(SAVE.replace('[0:0] -A KUBE-SVC-ACD6HH2TT3FMP52M -m comment --comment "default/app2-service:http -> 10.42.0.5:80"', '[1:60] -A KUBE-SVC-ACD6HH2TT3FMP52M -m comment --comment "default/app2-service:http -> 10.42.0.5:80"'), 'KUBE-SVC-ACD6HH2TT3FMP52M');
    expect(t.movedEndpoints(before, after)).toEqual(['10.42.0.5:80']);
    expect(t.movedEndpoints(before, before)).toEqual([]);
  });

  it("kube-proxy's probabilities 1/(n-i), and how iptables prints them back", () => {
    expect(t.expectedProbabilities(3)).toEqual(['0.3333333333', '0.5000000000']);
    expect(t.expectedProbabilities(1)).toEqual([]);
    expect(t.kernelProbability('0.3333333333')).toBe('0.33333333349');
    expect(t.kernelProbability('0.5000000000')).toBe('0.50000000000');
  });

  it('reads lab get tables by column', () => {
    const rows = t.parseTable('NAMESPACE   NAME           TYPE        CLUSTER-IP      CHAINS\ndefault     app2-service   ClusterIP   10.43.143.160   KUBE-SVC-ACD6HH2TT3FMP52M\n');
    expect(rows).toEqual([{ NAMESPACE: 'default', NAME: 'app2-service', TYPE: 'ClusterIP', 'CLUSTER-IP': '10.43.143.160', CHAINS: 'KUBE-SVC-ACD6HH2TT3FMP52M' }]);
  });

  it('shows commands as a learner types them, and reads the back-off from a pod status', () => {
    expect(t.shellWords(['curl', '-H', 'Host: app2.com', "it's"])).toBe(`curl -H 'Host: app2.com' 'it'\\''s'`);
    expect(t.backoffSeconds('back-off 10s restarting failed container=app2 pod=app2-x_default')).toBe(10);
    expect(t.backoffSeconds(undefined)).toBeNull();
  });

  it('cuts one section out of lab describe output (the heading and its indented lines)', () => {
    const out = 'Name:  app2-x\nIP:    10.42.0.5\nNetwork:\n  Namespace:  lab-app2-x\n  Veth (node):  veth1, ifindex 8\nContainers:\n  app2:\n';
    expect(t.describeSection(out, /^Network:/)).toBe('Network:\n  Namespace:  lab-app2-x\n  Veth (node):  veth1, ifindex 8');
    expect(t.describeSection('kube-proxy (iptables):\n  x\n', /^kube-proxy/)).toBe('kube-proxy (iptables):\n  x\n');
    expect(t.describeSection(out, /^Events:/)).toBe('');
  });
});
