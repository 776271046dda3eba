import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { endpointReady, eventHop, formatHop, iptablesJumps, inProxyRules, mentions, nftJumps, podHops, proxyHop, type TracedPod } from '../../src/trace/crash.ts';
import { parseNftList } from '../../src/trace/nft-table.ts';

const pod = (rv: string, c: object, ready: boolean): TracedPod => ({
  metadata: { name: 'app2-x', namespace: 'default', resourceVersion: rv },
  status: { podIP: '10.42.0.7', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }], containerStatuses: [{ name: 'app2', ...c }] },
});

describe('the hops of a crash, from two versions of the pod', () => {
  it('exit and Ready=False, in one status write', () => {
    const before = pod('10', { restartCount: 0, state: { running: {} } }, true);
    const after = pod('11', { restartCount: 0, state: { terminated: { exitCode: 137, reason: 'Error' } } }, false);
    const hops = podHops(before, after, 'app2', 3);
    expect(hops.map((h) => [h.at, h.who, h.step, h.direction, h.what, h.resourceVersion])).toEqual([
      [3, 'kubelet', 'kubelet', 'out', 'container app2 exited (Error, exit code 137): pod status written', '11'],
      [3, 'API', 'API', 'out', 'pod Ready=False stored: watchers (the endpointslice controller) told', '11'],
    ]);
    // The evidence is the watch event as read.
    expect(hops[0]!.evidence).toEqual(['watch: MODIFIED pod default/app2-x resourceVersion 11', 'status.containerStatuses[app2].state: terminated (Error, exitCode 137)']);
    expect(hops[1]!.evidence).toEqual(['watch: MODIFIED pod default/app2-x resourceVersion 11', 'status.conditions[Ready]: False']);
  });
  it('a restart after the back-off, then Ready', () => {
    const waiting = pod('12', { restartCount: 0, state: { waiting: { reason: 'CrashLoopBackOff' } } }, false);
    const running = pod('13', { restartCount: 1, state: { running: {} } }, false);
    expect(podHops(waiting, running, 'app2', 1000).map((h) => h.what)).toEqual(['container app2 restarted after its back-off (restartCount 1)']);
    expect(podHops(running, pod('14', { restartCount: 1, state: { running: {} } }, true), 'app2', 1100).map((h) => [h.step, h.direction, h.what])).toEqual([['API', 'in', 'pod Ready=True stored: watchers (the endpointslice controller) told']]);
  });
  it('the last state of a container the kubelet restarts at once', () => {
    const before = pod('10', { restartCount: 0, state: { running: {} } }, true);
    const after = pod('11', { restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } }, lastState: { terminated: { exitCode: 137, reason: 'Error', signal: 9 } } }, false);
    const [exit] = podHops(before, after, 'app2', 5);
    expect(exit!.what).toBe('container app2 exited (Error, exit code 137): pod status written');
    expect(exit!.evidence).toContain('status.containerStatuses[app2].lastState: terminated (Error, exitCode 137), signal 9');
  });
});

describe('what the other roles show', () => {
  it('the endpoint in a slice', () => {
    const slice = (ready?: boolean) => ({ metadata: { name: 's', namespace: 'default' }, endpoints: [{ addresses: ['10.42.0.7'], conditions: ready === undefined ? {} : { ready }, targetRef: { name: 'app2-x', namespace: 'default' } }] });
    expect(endpointReady(slice(false), { name: 'app2-x', namespace: 'default' })).toBe(false);
    expect(endpointReady(slice(), { name: 'app2-x', namespace: 'default' })).toBe(true);
    expect(endpointReady(slice(true), { name: 'other', namespace: 'default' })).toBeUndefined();
  });
  it('a pod IP in the nat table only while a Service chain jumps to its endpoint chain', () => {
    const sep = '-A KUBE-SEP-AAA -p tcp -m comment --comment "default/app2-service" -m tcp -j DNAT --to-destination 10.42.0.7:80';
    const jump = '-A KUBE-SVC-BBB -m comment --comment "default/app2-service -> 10.42.0.7:80" -j KUBE-SEP-AAA';
    expect(inProxyRules([sep, jump].join('\n'), '10.42.0.7')).toBe(true);
    expect(inProxyRules(sep, '10.42.0.7')).toBe(false);
    expect(inProxyRules([sep, jump].join('\n'), '10.42.0.70')).toBe(false);
  });
  it("kube-proxy's move: the KUBE-SVC jump to the pod's KUBE-SEP gone, then back, with the chain as it is now", () => {
    const sep = '-A KUBE-SEP-AAA -p tcp -m comment --comment "default/app2-service" -m tcp -j DNAT --to-destination 10.42.0.7:80';
    const jump = '-A KUBE-SVC-BBB -m comment --comment "default/app2-service -> 10.42.0.7:80" -j KUBE-SEP-AAA';
    const other = '-A KUBE-SVC-BBB -m comment --comment "default/app2-service -> 10.42.0.8:80" -j KUBE-SEP-CCC';
    const before = [sep, jump, other].join('\n');
    const after = [other].join('\n');
    const j = iptablesJumps(before, '10.42.0.7');
    expect(j).toEqual([{ svc: 'KUBE-SVC-BBB', sep: 'KUBE-SEP-AAA', rule: jump }]);
    const out = proxyHop('iptables', j, iptablesJumps(after, '10.42.0.7'), after, '10.42.0.7')!;
    expect(out).toMatchObject({ who: 'kube-proxy', step: 'kube-proxy', direction: 'out', what: '10.42.0.7 out of the Service chains (nat table)', chains: ['KUBE-SVC-BBB', 'KUBE-SEP-AAA'] });
    expect(out.evidence).toEqual(['iptables-save -t nat, in the node', `- ${jump}`, 'KUBE-SVC-BBB now:', `  ${other}`]);
    const back = proxyHop('iptables', [], j, before, '10.42.0.7')!;
    expect(back).toMatchObject({ direction: 'in', what: '10.42.0.7 back in the Service chains (nat table)' });
    expect(back.evidence).toContain(`+ ${jump}`);
    // No change, no hop.
    expect(proxyHop('iptables', j, j, before, '10.42.0.7')).toBeNull();
  });
  it("kube-proxy's move in nftables mode: the service chain's numgen vmap going to the pod's endpoint chain", () => {
    const text = readFileSync(path.resolve(import.meta.dirname, '../fixtures/trace/nft-list-table.txt'), 'utf8');
    const j = nftJumps(parseNftList(text), '10.42.0.5');
    expect(j).toHaveLength(1);
    expect(j[0]).toMatchObject({ svc: 'service-CX35JJFW-default/app2-service/tcp/http', sep: 'endpoint-W3JLSUNE-default/app2-service/tcp/http__10.42.0.5/80' });
    expect(j[0]!.rule).toContain('numgen random mod 2 vmap');
    expect(nftJumps(parseNftList(text), '10.42.0.50')).toEqual([]);
    const out = proxyHop('nftables', j, [], text, '10.42.0.5')!;
    expect(out.what).toBe('10.42.0.5 out of the Service chains (nftables table ip kube-proxy)');
    expect(out.evidence![0]).toBe('nft list table ip kube-proxy, in the node');
  });
  it("an Event about the pod, with who reported it", () => {
    const h = eventHop('ADDED', { metadata: { name: 'app2-x.1', namespace: 'default', resourceVersion: '20' }, type: 'Warning', reason: 'BackOff', message: 'Back-off restarting failed container app2', count: 2, source: { component: 'kubelet', host: 'labs' }, involvedObject: { kind: 'Pod', name: 'app2-x', namespace: 'default' } });
    expect(h).toMatchObject({ who: 'Event (kubelet)', step: 'event', what: 'Warning BackOff: Back-off restarting failed container app2', resourceVersion: '20' });
    expect(h.evidence).toEqual(['watch: ADDED Event app2-x.1 resourceVersion 20', 'involvedObject: Pod default/app2-x, count 2, from kubelet on labs']);
  });
  it('formats a hop with its time and resourceVersion', () => {
    expect(formatHop({ at: 12, who: 'kube-proxy', what: 'x' })).toBe(`+   12 ms  ${'kube-proxy'.padEnd(25)} x`);
    expect(formatHop({ at: 12_345, who: 'kubelet', what: 'y', resourceVersion: '9' })).toContain('12.3 s');
  });
});

describe('a file naming the pod address', () => {
  it('finds the address as a whole, not inside a longer one', () => {
    expect(mentions('upstream x {\n  server 10.42.0.7:80;\n}', '10.42.0.7')).toBe(true);
    expect(mentions('{"a":["10.42.0.7"]}', '10.42.0.7')).toBe(true);
    expect(mentions('server 10.42.0.71:80;', '10.42.0.7')).toBe(false);
    expect(mentions('server 110.42.0.7:80;', '10.42.0.7')).toBe(false);
    expect(mentions('10.42.0.7.1', '10.42.0.7')).toBe(false);
  });
});
