import { describe, expect, it } from 'vitest';
import { endpointReady, formatHop, inProxyRules, mentions, podHops, type TracedPod } from '../../src/trace/crash.ts';

const pod = (rv: string, c: object, ready: boolean): TracedPod => ({
  metadata: { name: 'app2-x', namespace: 'default', resourceVersion: rv },
  status: { podIP: '10.42.0.7', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }], containerStatuses: [{ name: 'app2', ...c }] },
});

describe('the hops of a crash, from two versions of the pod', () => {
  it('exit and Ready=False, in one status write', () => {
    const before = pod('10', { restartCount: 0, state: { running: {} } }, true);
    const after = pod('11', { restartCount: 0, state: { terminated: { exitCode: 137, reason: 'Error' } } }, false);
    expect(podHops(before, after, 'app2', 3)).toEqual([
      { at: 3, who: 'kubelet', what: 'container app2 exited (Error, exit code 137): pod status written', resourceVersion: '11' },
      { at: 3, who: 'kubelet', what: 'pod Ready=False', resourceVersion: '11' },
    ]);
  });
  it('a restart after the back-off, then Ready', () => {
    const waiting = pod('12', { restartCount: 0, state: { waiting: { reason: 'CrashLoopBackOff' } } }, false);
    const running = pod('13', { restartCount: 1, state: { running: {} } }, false);
    expect(podHops(waiting, running, 'app2', 1000).map((h) => h.what)).toEqual(['container app2 restarted after its back-off (restartCount 1)']);
    expect(podHops(running, pod('14', { restartCount: 1, state: { running: {} } }, true), 'app2', 1100).map((h) => h.what)).toEqual(['pod Ready=True']);
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
