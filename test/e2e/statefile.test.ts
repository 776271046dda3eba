// Issue 12, item 5, through the instance's server (issue 13: `lab up --watch`, which applies
// the state file as k3s applies its manifests directory). An editor that truncates before it writes
// must not delete every pod (an empty file is a bad edit: refused, naming the file, the last good
// state keeps serving), and a burst of writes ends in one apply of the final content. A template's
// nodeSelector goes through to the API: a label no node has leaves the pod Pending (FailedScheduling).
import { existsSync } from 'node:fs';
import { truncate, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { useWatchedLab } from './controller.ts';
import { cmd, curl, getPods, instanceName, isRoot, labOk, shDeployment, until } from './helpers.ts';

const I = instanceName('e2esf');
const HOST = `${I}-host`;
/** One line per apply of the state files (printed once they are loaded, valid and applied). */
const RUNS = /^applied \S+cluster\.yaml$/gm;
const RUNS_ONE = /^applied \S+cluster\.yaml$/m;
/** The server's refusal of an edit. */
const REFUSED = 'refused, the last good state keeps serving: ';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');


/** Every pod of the instance with its container pids: any deletion or restart changes it. */
async function podsAndPids(): Promise<string[]> {
  return (await getPods(I, true)).map((p) => `${p.metadata.namespace}/${p.metadata.name} ${p.status.containerStatuses.map((c) => c.pid).join(',')}`).sort();
}

describe.skipIf(!isRoot)('the state file under the server (lab up --watch)', () => {
  const w = useWatchedLab('statefile', I);
  const since = (offset: number) => w.controller.log().slice(offset);

  it('truncated to 0 bytes: refused naming the file, every pod keeps running and app2.com answers; written back, it reconciles', async () => {
    const before = await podsAndPids();
    expect(before.filter((p) => p.startsWith('default/app2-'))).toHaveLength(3);
    let offset = w.controller.log().length;
    await truncate(w.state, 0);
    await w.controller.waitFor(new RegExp(`${escape(REFUSED)}${escape(w.state)}:1: no objects declared`), 10_000);
    expect(since(offset)).toMatch(/To delete every workload on purpose, keep one object, e\.g\. "apiVersion: v1 \/ kind: Namespace/);
    // Before, every user pod was gone within 1.5 s: watch for 3 s.
    for (const end = Date.now() + 3000; Date.now() < end; await sleep(250)) {
      expect((await curl(HOST, 'http://app2.com/')).stdout).toContain('Welcome to App 2!');
    }
    expect(await podsAndPids()).toEqual(before);

    // Only whitespace and comments: the same.
    offset = w.controller.log().length;
    await writeFile(w.state, '# being rewritten\n\n---\n');
    await until('the second refusal', async () => since(offset).includes(`${REFUSED}${w.state}:1: no objects declared`), 10_000);
    expect(await podsAndPids()).toEqual(before);

    // Written back: an apply that changes nothing.
    offset = w.controller.log().length;
    await writeFile(w.state, w.original);
    await until('the apply of the restored file', async () => RUNS_ONE.test(since(offset)), 10_000);
    await sleep(500);
    expect(since(offset)).not.toContain(REFUSED);
    expect(await podsAndPids()).toEqual(before);
    expect((await curl(HOST, 'http://app2.com/')).stdout).toContain('Welcome to App 2!');
  });

  it('a burst of saves faster than the quiet period (truncate, half a file, the whole) ends in one apply, of the final content', async () => {
    const app1Before = (await podsAndPids()).filter((p) => p.startsWith('default/app1-'));
    const offset = w.controller.log().length;
    const final = w.original.replace(/replicas: 3/, 'replicas: 5');
    // The first half ends at a document boundary: valid on its own, and without app2 and app3.
    const half = final.slice(0, final.indexOf('---', final.indexOf('name: app2-html')));
    for (const text of ['', half, final, w.original.replace(/replicas: 3/, 'replicas: 1'), '', half, final]) {
      await writeFile(w.state, text);
      await sleep(20);
    }
    await until('app2 at 5 pods', async () => (await podsAndPids()).filter((p) => p.startsWith('default/app2-')).length === 5, 30_000, 100);
    await sleep(1500); // anything else queued would run now
    expect(since(offset).match(RUNS) ?? [], since(offset)).toHaveLength(1);
    expect(since(offset)).not.toContain(REFUSED);
    expect((await podsAndPids()).filter((p) => p.startsWith('default/app1-'))).toEqual(app1Before);
  });

  it('saves while the cluster converges are coalesced: after the final save at most the apply in flight and one of the final content run', async () => {
    const app1Before = (await podsAndPids()).filter((p) => p.startsWith('default/app1-'));
    let offset = w.controller.log().length;
    await writeFile(w.state, w.original.replace(/replicas: 3/, 'replicas: 14'));
    await until('the first apply', async () => RUNS_ONE.test(since(offset)), 10_000, 10);
    // One save every 150 ms (longer than the quiet period), while the controllers create and delete pods.
    for (const n of [13, 12, 11, 10, 9, 8, 7, 6, 5]) {
      await writeFile(w.state, w.original.replace(/replicas: 3/, `replicas: ${n}`));
      await sleep(150);
    }
    offset = w.controller.log().length;
    await writeFile(w.state, w.original.replace(/replicas: 3/, 'replicas: 4'));
    const app2 = async () => (await podsAndPids()).filter((p) => p.startsWith('default/app2-'));
    await until('app2 at 4 pods', async () => (await app2()).length === 4, 60_000, 200);
    await sleep(2000); // anything still queued would run now
    expect(await app2()).toHaveLength(4);
    const runs = since(offset).match(RUNS) ?? [];
    expect(runs.length, since(offset)).toBeGreaterThanOrEqual(1);
    expect(runs.length, since(offset)).toBeLessThanOrEqual(2);
    expect((await podsAndPids()).filter((p) => p.startsWith('default/app1-'))).toEqual(app1Before);
    expect((await curl(HOST, 'http://app2.com/')).stdout).toContain('Welcome to App 2!');
  });

  it("a Deployment whose nodeSelector no node's labels match: applied with it, its pod stays Pending with FailedScheduling; scaled to 0, it goes", async () => {
    let offset = w.controller.log().length;
    const podSpec = '      nodeSelector:\n        disk: none-such\n      terminationGracePeriodSeconds: 0';
    await writeFile(w.state, w.original + shDeployment({ name: 'pinned', script: 'sleep 3600', podSpec }));
    await until('the apply of the file with it', async () => RUNS_ONE.test(since(offset)), 10_000);
    expect(since(offset)).not.toContain(REFUSED);
    type ApiEvent = { type: string; reason: string; message: string; involvedObject: { kind: string; name: string } };
    const failed = async () => (JSON.parse((await labOk(['get', 'events', '--name', I, '-o', 'json'])).stdout) as { items: ApiEvent[] }).items.find((e) => e.reason === 'FailedScheduling' && e.involvedObject.name.startsWith('pinned-'));
    const event = await until('FailedScheduling of the pinned pod', failed, 20_000, 250);
    // kube-scheduler's FitError text: every node (one or more) refused by the NodeAffinity filter.
    const unschedulable = /^0\/(\d+) nodes are available: \1 node\(s\) didn't match Pod's node affinity\/selector\. preemption: 0\/\1 nodes are available: \1 Preemption is not helpful for scheduling\.$/;
    expect(event).toMatchObject({ type: 'Warning', involvedObject: { kind: 'Pod' } });
    expect(event.message).toMatch(unschedulable);
    type Pending = { metadata: { name: string }; spec: { nodeName?: string; nodeSelector?: Record<string, string> }; status: { phase: string; conditions?: { type: string; status: string; reason?: string; message?: string }[] } };
    await sleep(1000); // still so a moment later: nothing binds it
    const pod = ((await getPods(I)) as unknown as Pending[]).find((p) => p.metadata.name === event.involvedObject.name)!;
    expect(pod.spec).toMatchObject({ nodeSelector: { disk: 'none-such' } });
    expect(pod.spec.nodeName).toBeUndefined();
    expect(pod.status.phase).toBe('Pending');
    expect(pod.status.conditions?.find((c) => c.type === 'PodScheduled')).toMatchObject({ status: 'False', reason: 'Unschedulable', message: expect.stringMatching(unschedulable) });

    // The lab has no garbage collector yet: a Deployment taken out of the file would leave its
    // ReplicaSet and pod behind. Scaled to 0 first, its pod goes; then the file is as it was.
    await writeFile(w.state, w.original + shDeployment({ name: 'pinned', script: 'sleep 3600', podSpec }).replace('replicas: 1', 'replicas: 0'));
    await until('the pinned pod gone', async () => !(await getPods(I)).some((p) => p.metadata.name.startsWith('pinned-')), 30_000, 250);
    offset = w.controller.log().length;
    await writeFile(w.state, w.original);
    await until('the apply of the file without it', async () => RUNS_ONE.test(since(offset)), 10_000);
  });

  it('left empty, the lab still comes down whole: lab down removes everything', async () => {
    const offset = w.controller.log().length;
    await truncate(w.state, 0);
    await until('the refusal', async () => since(offset).includes(`${REFUSED}${w.state}:1: no objects declared`), 10_000);
    await w.controller.stop();
    await labOk(['down', '--name', I]);
    expect((await cmd(['ip', 'netns', 'list'])).stdout.split('\n').filter((l) => l.startsWith(`${I}-`))).toEqual([]);
    expect(existsSync(`/run/packet-path-lab/${I}`)).toBe(false);
  });
});
