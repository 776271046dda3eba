// The pure parts of benchmark `api` (bench/api-helpers.ts): its pods are ones the API server
// accepts and keeps (create, then the status subresource), its updates are real changes, its
// random order repeats, and the fan-out bookkeeping waits for every watcher.
import { describe, expect, it } from 'vitest';
import { KineStore } from '../../src/api/storage/kine.ts';
import { Registry } from '../../src/api/server/registry.ts';
import { ensureSystemNamespaces } from '../../src/api/server/index.ts';
import { LocalClient } from '../../src/client/local.ts';
import { SAFE_ALPHABET } from '../../src/controllers/podnames.ts';
import { benchPod, benchPodIP, FanOut, fanOutDelay, podSuffix, randomIndices, restartedStatus, runningStatus, type PodJson } from '../../bench/api-helpers.ts';
import { percentile } from '../../bench/harness.ts';

const PODS = { group: '', resource: 'pods' };

describe('api benchmark: pods', () => {
  it('gives each index its own 5-character suffix of the Kubernetes alphabet', () => {
    const names = new Set(Array.from({ length: 2000 }, (_, i) => podSuffix(i)));
    expect(names.size).toBe(2000);
    for (const s of names) expect(s).toMatch(new RegExp(`^[${SAFE_ALPHABET}]{5}$`));
    expect(podSuffix(0)).toBe('bbbbb');
    expect(() => podSuffix(-1)).toThrow();
    expect(() => podSuffix(SAFE_ALPHABET.length ** 5)).toThrow();
  });

  it('gives each of 1,000 pods its own IP in 10.42.0.0/16 from 10.42.0.2 (10.42.0.1 is the bridge)', () => {
    const ips = Array.from({ length: 1000 }, (_, i) => benchPodIP(i));
    expect(new Set(ips).size).toBe(1000);
    for (const ip of ips) expect(ip).toMatch(/^10\.42\.\d{1,3}\.\d{1,3}$/);
    expect([benchPodIP(0), benchPodIP(253), benchPodIP(254)]).toEqual(['10.42.0.2', '10.42.0.255', '10.42.1.0']);
    expect(() => benchPodIP(0xfffd)).toThrow();
  });

  it('are pods the API server accepts, whose status it keeps through the status subresource', async () => {
    const store = new KineStore(':memory:');
    try {
      const registry = new Registry(store);
      ensureSystemNamespaces(registry);
      const client = new LocalClient(registry);
      const created = await client.create<PodJson>(PODS, benchPod(7));
      expect(created.metadata.name).toBe(`app2-5c7f8d9b6-${podSuffix(7)}`);
      expect(created.status?.phase).toBe('Pending'); // the create's status is the server's
      const running = await client.update<PodJson>(PODS, { ...created, status: runningStatus(7, Date.parse('2026-11-28T10:00:00Z')) }, { subresource: 'status' });
      expect(running.status).toMatchObject({ phase: 'Running', podIP: benchPodIP(7), startTime: '2026-11-28T10:00:00Z' });
      const next = restartedStatus(running, 7, Date.parse('2026-11-28T10:05:00Z'));
      const restarted = await client.update<PodJson>(PODS, { ...running, status: next }, { subresource: 'status' });
      expect(Number(restarted.metadata.resourceVersion)).toBeGreaterThan(Number(running.metadata.resourceVersion));
      expect(restarted.status).toMatchObject({ containerStatuses: [{ restartCount: 1, state: { running: { startedAt: '2026-11-28T10:05:00Z' } }, lastState: { terminated: { exitCode: 137 } } }] });
      expect(restartedStatus(restarted, 7, Date.now())).toMatchObject({ containerStatuses: [{ restartCount: 2 }] });
    } finally {
      store.close();
    }
  });
});

describe('api benchmark: order and fan-out', () => {
  it('draws the same indices for the same seed, all in range, spread over the pods', () => {
    const a = randomIndices(1000, 500, 13);
    expect(a).toEqual(randomIndices(1000, 500, 13));
    expect(a).not.toEqual(randomIndices(1000, 500, 14));
    expect(a.every((i) => Number.isInteger(i) && i >= 0 && i < 1000)).toBe(true);
    expect(new Set(a).size).toBeGreaterThan(300);
  });

  it('waits until every watcher has an event, counting the ones that came before the wait', async () => {
    const f = new FanOut(3);
    f.arrive('p@5', 10);
    const all = f.all('p@5', 1000);
    f.arrive('p@6', 11); // another update: not this one
    f.arrive('p@5', 12);
    f.arrive('p@5', 15);
    expect(await all).toEqual([10, 12, 15]);
    f.arrive('q@7', 1);
    f.arrive('q@7', 2);
    f.arrive('q@7', 3);
    expect(await f.all('q@7', 1000)).toEqual([1, 2, 3]); // all there before the wait
  });

  it('says how many watchers had it when the wait times out', async () => {
    const f = new FanOut(10);
    f.arrive('p@5', 1);
    await expect(f.all('p@5', 20)).rejects.toThrow('p@5: 1 of 10 watchers received it within 20 ms');
  });

  it('measures the delay to the last watcher from the write return, 0 when all were earlier', () => {
    expect(fanOutDelay(100, [101, 103.5, 102])).toBe(3.5);
    expect(fanOutDelay(100, [98, 99])).toBe(0);
    expect(() => fanOutDelay(100, [])).toThrow();
  });

  it('takes nearest-rank percentiles of the delays', () => {
    const xs = Array.from({ length: 200 }, (_, i) => i + 1);
    expect(percentile(xs, 50)).toBe(100);
    expect(percentile(xs, 99)).toBe(198);
    expect(percentile([3], 0)).toBe(3);
    expect(() => percentile([], 50)).toThrow();
  });
});
