// The pure parts of benchmark `nodes` (bench/nodes.ts): the CNI timings per node, the 2-node lab's
// state and config files.
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { cniBusy, failoverConfig, parseCniTimings, tputYaml } from '../../bench/nodes.ts';
import { configBody, resolveConfig } from '../../src/api/schema/config.ts';

describe('nodes benchmark: CNI timings', () => {
  it('reads the lines LAB_CNI_TIMINGS collects and skips garbled ones', () => {
    const runs = parseCniTimings('12 bridge ADD 1000.5 1040.0\nbroken line\n13 portmap ADD 1010 1020\n');
    expect(runs).toEqual([
      { pid: 12, plugin: 'bridge', command: 'ADD', start: 1000.5, end: 1040 },
      { pid: 13, plugin: 'portmap', command: 'ADD', start: 1010, end: 1020 },
    ]);
  });

  it('counts overlapping runs once in the busy time, sums them all, and clips to the window', () => {
    const run = (start: number, end: number) => ({ pid: 1, plugin: 'bridge', command: 'ADD', start, end });
    // [0,10] and [5,15] overlap: busy 15; [20,30] apart: busy 10; [90,120] clipped to [90,100].
    const r = cniBusy([run(20, 30), run(0, 10), run(5, 15), run(90, 120), run(200, 210)], 0, 100);
    expect(r).toEqual({ calls: 4, sumMs: 10 + 10 + 10 + 10, busyMs: 15 + 10 + 10 });
    expect(cniBusy([], 0, 100)).toEqual({ calls: 0, sumMs: 0, busyMs: 0 });
  });
});

describe('nodes benchmark: the 2-node lab', () => {
  it('pins the throughput pods to their node and writes a 1 MiB page in the container', () => {
    const docs = parseAllDocuments(tputYaml('labsw', 1)).map((d) => d.toJSON() as { kind: string; metadata: { name: string }; spec: { replicas: number; template: { spec: { nodeSelector: Record<string, string>; containers: { command: string[] }[] } } } });
    expect(docs).toHaveLength(1);
    expect(docs[0]!.metadata.name).toBe('tput-labsw');
    expect(docs[0]!.spec.replicas).toBe(1);
    expect(docs[0]!.spec.template.spec.nodeSelector).toEqual({ 'kubernetes.io/hostname': 'labsw' });
    expect(docs[0]!.spec.template.spec.containers[0]!.command.join(' ')).toContain('bs=1024 count=1024');
  });

  it('shortens the failure timers under their config.yaml keys', () => {
    const text = failoverConfig('node-name: labS\nnode-ip: 192.168.56.110\n', 20, 10);
    expect(parse(text)).toEqual({ 'node-name': 'labS', 'node-ip': '192.168.56.110', 'node-monitor-grace-period': '20s', 'default-unreachable-toleration-seconds': 10 });
    // What the server hands the ControlPlane.
    expect(resolveConfig(configBody.parse(parse(text)), 'h').nodeLifecycle).toEqual({ nodeMonitorGracePeriodMs: 20_000, defaultNotReadyTolerationSeconds: 300, defaultUnreachableTolerationSeconds: 10 });
  });
});
