// lab explain's annotator on kernel output captured from a running lab (test/fixtures/trace/):
// every lab rule, route and connection says which Service, endpoint or pod it belongs to.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ClusterView } from '../../src/trace/view.ts';
import { buildClusterIndex } from '../../src/trace/cluster.ts';
import { parseConntrack } from '../../src/trace/conntrack.ts';
import { explainChain, explainConntrack, explainIptables, explainRoutes, explainRule, parseRoute, type ExplainContext } from '../../src/trace/explain.ts';
import { isLabRule, parseIptablesSave } from '../../src/trace/iptables.ts';
import { findPod, findService, pickContainer, splitRef } from '../../src/trace/lookup.ts';

const DIR = path.resolve(import.meta.dirname, '../fixtures/trace');
const read = (f: string) => readFileSync(path.join(DIR, f), 'utf8');
const state = JSON.parse(read('state.json')) as ClusterView;
const index = buildClusterIndex(state);
const ctx: ExplainContext = { index, mode: 'sandbox', gateway: '10.42.0.1', podCIDR: '10.42.0.0/24', laptopIP: '192.168.56.1' };
const pods = Object.values(state.pods);
const podByIP = new Map(pods.map((p) => [p.status.podIP!, p.metadata.name]));
const dump = parseIptablesSave(read('ingress/ipt-after.txt'));

describe('explain iptables', () => {
  const lines = explainIptables(dump, ctx);
  const text = lines.join('\n');

  it('every KUBE-SVC / KUBE-SEP / KUBE-EXT chain in the kernel belongs to a Service port or endpoint of the state', () => {
    // The chain names come from hashes (names.ts); the kernel's come from the proxy syncer. Both agree.
    const chains = [...dump.get('nat')!.chains.map((c) => c.name)].filter((c) => /^KUBE-(SVC|SEP|EXT)-/.test(c));
    expect(chains.length).toBeGreaterThan(10);
    for (const c of chains) expect(index.chainOwner(c), c).toBeDefined();
    expect(text).not.toMatch(/stale/);
  });

  it('annotates each DNAT rule with its Service port and the pod that owns the address', () => {
    const dnats = dump.get('nat')!.rules.filter((r) => r.target === 'DNAT');
    expect(dnats.length).toBe(state.endpoints.reduce((n, e) => n + e.subsets.reduce((m, s) => m + s.addresses.length * s.ports.length, 0), 0));
    for (const r of dnats) {
      const pod = podByIP.get(r.toDestination!.split(':')[0]!)!;
      const line = lines.find((l) => l.startsWith(r.text))!;
      expect(line).toMatch(new RegExp(`   # ${r.comment!.replace(/[/.]/g, '\\$&')} -> pod (kube-system/)?${pod}$`));
    }
    expect(text).toContain('-A KUBE-SEP-D75QAAJ4VZZBI2FH -p tcp -m comment --comment "default/app2-service:http" -m tcp -j DNAT --to-destination 10.42.0.3:80   # default/app2-service:http -> pod app2-646d4cb44f-cgmp9');
  });

  it('explains the load balancing: each statistic jump names its pod and probability, the last takes the rest', () => {
    const svc = lines.filter((l) => l.startsWith('-A KUBE-SVC-ACD6HH2TT3FMP52M') && l.includes('KUBE-SEP-'));
    expect(svc).toHaveLength(3);
    expect(svc[0]).toMatch(/-> pod app2-\S+ \(10\.42\.0\.3:80\), picked with probability 0\.3333/);
    expect(svc[1]).toMatch(/probability 0\.5000/);
    expect(svc[2]).toMatch(/takes every connection the rules above left$/);
    expect(text).toContain('# KUBE-SVC-ACD6HH2TT3FMP52M: default/app2-service:http: load balancing over 3 endpoints (ClusterIP 10.43.143.160:80)');
  });

  it('names the LoadBalancer on the node IP, the NodePort and the masquerade rules', () => {
    expect(text).toMatch(/--dport 80 -j KUBE-EXT-LLEJWBLWFRRBL5SZ {3}# kube-system\/ingress-nginx:http LoadBalancer on the node IP 192\.168\.56\.110:80/);
    const np = state.services.find((s) => s.metadata.name === 'ingress-nginx')!.spec.ports[0]!.nodePort!;
    expect(text).toContain(`--dport ${np} -j KUBE-EXT-LLEJWBLWFRRBL5SZ   # NodePort ${np} of kube-system/ingress-nginx:http`);
    expect(text).toMatch(/-j MASQUERADE --random-fully {3}# source becomes/);
    expect(text).toMatch(/-s 10\.42\.0\.3\/32 .* -j KUBE-MARK-MASQ {3}# hairpin: pod app2-646d4cb44f-cgmp9/);
  });

  it('shows only the lab: KUBE-* chains and the jumps into them, never other rules of the node', () => {
    const foreign = read('ingress/ipt-after.txt').replace('*filter\n', '*filter\n').replace(/^COMMIT$/m, '[5:300] -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT');
    const out = explainIptables(parseIptablesSave(foreign), ctx).join('\n');
    expect(out).not.toContain('--dport 22');
    const labRules = [...parseIptablesSave(foreign).values()].flatMap((t) => t.rules).filter(isLabRule);
    for (const r of labRules) expect(out).toContain(r.text);
    expect(out.split('\n').filter((l) => l.startsWith('-A ')).length).toBe(labRules.length);
  });

  it('shows counters when asked', () => {
    const withCounters = explainIptables(dump, ctx, { counters: true });
    expect(withCounters.filter((l) => l.startsWith('-A ')).length).toBe(0);
    expect(withCounters.some((l) => /^\[\d+:\d+\] -A KUBE-SERVICES /.test(l))).toBe(true);
  });

  it('explains the REJECT of a Service without endpoints (filter table)', () => {
    const svc = state.services.find((s) => s.metadata.name === 'app1-service')!;
    const r = parseIptablesSave(`*filter\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -d ${svc.spec.clusterIP}/32 -p tcp -m comment --comment "default/app1-service:http has no endpoints" -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable\nCOMMIT\n`).get('filter')!.rules[0]!;
    expect(explainRule(r, ctx)).toBe('default/app1-service:http has no ready endpoint: refused at once (ICMP port unreachable) instead of a timeout');
    expect(explainChain('nat', 'KUBE-SEP-AAAAAAAAAAAAAAAA', ctx)).toMatch(/stale/);
  });
});

describe('explain routes', () => {
  const ports = (JSON.parse(read('node/bridge-ports.json')) as { ifname: string; ifindex: number }[]).map((p) => ({ ifname: p.ifname, ifindex: p.ifindex }));
  const lines = explainRoutes({ main: read('node/route.txt'), local: read('node/route-local.txt'), neighbours: read('node/neigh.txt'), bridgePorts: ports, podRoutes: [{ pod: 'default/app1', text: read('node/pod-route.txt') }] }, ctx);
  const text = lines.join('\n');

  it('parses ip route lines', () => {
    expect(parseRoute('local 10.42.0.1 dev cni0 proto kernel scope host src 10.42.0.1')).toMatchObject({ type: 'local', prefix: '10.42.0.1', dev: 'cni0', src: '10.42.0.1' });
    expect(parseRoute('default via 192.168.56.1 dev eth1 ')).toMatchObject({ prefix: 'default', via: '192.168.56.1', dev: 'eth1' });
  });

  it('annotates the node routes, the local addresses and the pod routes', () => {
    expect(text).toMatch(/^10\.42\.0\.0\/24 dev cni0 .* {3}# this node's pod CIDR: the cni0 bridge, one veth per pod \(7 pods\)$/m);
    expect(text).toMatch(/^default via 192\.168\.56\.1 dev eth1 {3}# sandbox uplink/m);
    expect(text).toMatch(/^local 192\.168\.56\.110 dev eth1 .* {3}# the node IP: --dst-type LOCAL matches it/m);
    expect(text).toMatch(/^local 10\.42\.0\.1 dev cni0 .* {3}# cni0's address: every pod's default gateway$/m);
    expect(text).not.toMatch(/^broadcast /m);
    expect(text).toMatch(/^default via 10\.42\.0\.1 dev eth0 {3}# everything off the pod subnet/m);
  });

  it('maps every bridge port to its pod and every neighbour to its pod', () => {
    for (const p of ports) {
      const pod = pods.find((x) => x.metadata.annotations['lab/veth'] === p.ifname)!;
      expect(text).toContain(`${p.ifindex}: ${p.ifname}   # pod ${pod.metadata.namespace === 'default' ? '' : `${pod.metadata.namespace}/`}${pod.metadata.name} (${pod.status.podIP})`);
    }
    for (const line of read('node/neigh.txt').split('\n').filter(Boolean)) {
      const ip = line.split(' ')[0]!;
      expect(text).toContain(`${line.trim()}   # pod ${ip === '10.42.0.7' || ip === '10.42.0.8' ? 'kube-system/' : ''}${podByIP.get(ip)}`);
    }
  });
});

describe('explain conntrack', () => {
  it('says which Service each connection was addressed to, which pod the DNAT chose and when it was masqueraded', () => {
    const entries = parseConntrack(read('ingress/ct-after.txt'));
    const { lines, skipped } = explainConntrack(entries, ctx);
    expect(lines.length + skipped).toBe(entries.length);
    const lb = lines.filter((l) => l.includes('dst=192.168.56.110 '));
    expect(lb.length).toBeGreaterThan(0);
    for (const l of lb) {
      expect(l).toMatch(/# from the laptop; kube-system\/ingress-nginx:http \(LoadBalancer\) -> DNAT to pod kube-system\/ingress-nginx-controller-\S+ 10\.42\.0\.8:80; masqueraded: the server sees 10\.42\.0\.1:\d+$/);
    }
    const toApp2 = lines.filter((l) => l.includes('dst=10.43.143.160 '));
    for (const l of toApp2) {
      const replySrc = l.match(/dport=80 src=(\S+) /)![1]!;
      expect(l).toContain(`default/app2-service:http (ClusterIP) -> DNAT to pod ${podByIP.get(replySrc)} ${replySrc}:80`);
      expect(l).not.toContain('masqueraded');
    }
  });

  it('leaves out connections that involve nothing of the lab', () => {
    const e = parseConntrack('tcp      6 431999 ESTABLISHED src=10.0.2.15 dst=10.0.2.2 sport=22 dport=51234 src=10.0.2.2 dst=10.0.2.15 sport=51234 dport=22 [ASSURED] mark=0 use=1\n');
    expect(explainConntrack(e, ctx)).toEqual({ lines: [], skipped: 1 });
  });
});

describe('finding the object a learner names', () => {
  it('pods by name, deploy/<name>, namespace/name; services; containers', () => {
    const app2 = pods.filter((p) => p.metadata.name.startsWith('app2-')).map((p) => p.metadata.name).sort();
    expect(findPod(state, 'deploy/app2').metadata.name).toBe(app2[0]);
    expect(findPod(state, app2[1]!).metadata.name).toBe(app2[1]);
    expect(() => findPod(state, 'app2')).toThrow(/did you mean default\/app2-/);
    expect(findPod(state, `kube-system/${pods.find((p) => p.metadata.name.startsWith('coredns'))!.metadata.name}`).metadata.namespace).toBe('kube-system');
    expect(findService(state, 'ingress-nginx').metadata.namespace).toBe('kube-system');
    expect(findService(state, 'svc/app2-service').spec.clusterIP).toBe('10.43.143.160');
    expect(() => findService(state, 'app2-service', 'kube-system')).toThrow(/not found in namespace kube-system/);
    expect(splitRef('svc/kube-system/kube-dns')).toEqual({ kind: 'service', namespace: 'kube-system', name: 'kube-dns' });
    const pod = findPod(state, 'deploy/app1');
    expect(pickContainer(pod)).toEqual({ name: 'app1', defaulted: false });
    expect(() => pickContainer(pod, 'sidecar')).toThrow(/choose one of \[app1\]/);
  });
});
