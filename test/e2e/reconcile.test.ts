// Issue 5 acceptance, through the instance's server (issue 13: `lab up --watch`, the kubelet
// controller, kube-proxy on the API's watches): crashes are healed, state-file edits followed, and
// the server survives its own kill -9, with real processes and rules.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useWatchedLab } from './controller.ts';
import { cmd, getPods, inNetns, instanceName, isRoot, labOk, type PodJson, until } from './helpers.ts';

const I = instanceName('e2er');
const HOST = `${I}-host`;

const CRASHER = `
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: crasher
spec:
  replicas: 1
  selector:
    matchLabels:
      app: crasher
  template:
    metadata:
      labels:
        app: crasher
    spec:
      containers:
        - name: crasher
          image: busybox
          command: ["sh", "-c", "echo starting; exit 3"]
---
apiVersion: v1
kind: Service
metadata:
  name: crasher
spec:
  selector:
    app: crasher
  ports:
    - port: 80
`;

/** The app2-service endpoints (pod IPs) currently in the node's nat table. */
async function app2Endpoints(): Promise<string[]> {
  const save = (await cmd(['ip', 'netns', 'exec', `${I}-node`, 'iptables-save', '-t', 'nat'])).stdout;
  return [...save.matchAll(/-A KUBE-SEP-\w+ .*"default\/app2-service:http" -m tcp -j DNAT --to-destination ([\d.]+):80/g)].map((m) => m[1]!).sort();
}

/** n requests to app2.com through the ingress at `rate`, returning the HTTP codes. */
async function loop(dir: string, n: number, rate: string): Promise<string[]> {
  const cfg = path.join(dir, `loop-${Math.random().toString(36).slice(2)}.curl`);
  await writeFile(cfg, Array.from({ length: n }, () => 'url = "http://app2.com/"\noutput = "/dev/null"\nwrite-out = "%{http_code}\\n"\n').join(''));
  const r = await inNetns(HOST, ['curl', '-s', '--max-time', '5', '--rate', rate, '-K', cfg], { timeoutMs: 120_000 });
  return r.stdout.trim().split('\n');
}


const app2 = (pods: PodJson[]) => pods.filter((p) => p.metadata.labels.app === 'app2');

describe.skipIf(!isRoot)('reconcile loop and self-healing', () => {
  const w = useWatchedLab('reconcile', I);

  it('drops a pod crashed with lab kill from KUBE-SVC, serves without failure, restarts it and takes it back', async () => {
    const victim = app2(await getPods(I))[0]!;
    expect(await app2Endpoints()).toContain(victim.status.podIP);
    // The learner's way: `lab kill` (SIGKILL: PID 1 of a container only receives signals it handles, and SIGKILL). The next test times the kubelet path precisely.
    await labOk(['kill', victim.metadata.name, '--name', I]);
    await until('the endpoint to leave the rules', async () => !(await app2Endpoints()).includes(victim.status.podIP!), 2000, 5);
    const codes = await loop(w.dir, 100, '50/s');
    expect(codes.filter((c) => c !== '200')).toEqual([]);
    const back = await until('the restarted pod', async () => {
      const p = (await getPods(I)).find((x) => x.metadata.name === victim.metadata.name)!;
      return p.status.containerStatuses[0]!.restartCount === 1 && (await app2Endpoints()).includes(p.status.podIP!) && p;
    });
    expect(back.status.containerStatuses[0]!.pid).not.toBe(victim.status.containerStatuses[0]!.pid);
    expect(back.status.podIP).toBe(victim.status.podIP);
  });

  it('measures the kubelet path alone: signal -> endpoint gone, under 0.5 s', async () => {
    const victim = app2(await getPods(I))[1]!;
    const t0 = performance.now();
    process.kill(victim.status.containerStatuses[0]!.pid!, 'SIGKILL');
    await until('the endpoint to leave the rules', async () => !(await app2Endpoints()).includes(victim.status.podIP!), 2000, 5);
    const latency = performance.now() - t0;
    process.stdout.write(`SIGKILL -> endpoint removed from KUBE-SVC: ${latency.toFixed(0)} ms\n`);
    expect(latency).toBeLessThan(500);
    await until('the pod back in the endpoints', async () => (await app2Endpoints()).includes(victim.status.podIP!));
  });

  it('scales 3 -> 5 -> 2 from the file while requests flow, with no failed request', async () => {
    const running = loop(w.dir, 400, '40/s');
    await new Promise((r) => setTimeout(r, 500));
    await writeFile(w.state, w.original.replace(/replicas: 3/, 'replicas: 5'));
    await until('5 app2 endpoints', async () => (await app2Endpoints()).length === 5);
    await new Promise((r) => setTimeout(r, 1000));
    await writeFile(w.state, w.original.replace(/replicas: 3/, 'replicas: 2'));
    await until('2 app2 endpoints', async () => (await app2Endpoints()).length === 2);
    const codes = await running;
    expect(codes).toHaveLength(400);
    expect(codes.filter((c) => c !== '200')).toEqual([]);
    // The scaled-down pods are Terminating until the grace period is over (httpd ignores SIGTERM).
    await until('2 app2 pods', async () => app2(await getPods(I)).length === 2);
  });

  it('keeps serving through a syntax error and an invalid field, naming the line, and applies the fix', async () => {
    const before = (await getPods(I)).map((p) => p.metadata.name).sort();
    await writeFile(w.state, w.original.replace(/replicas: 3/, 'replicas: 2').replace('kind: Service\nmetadata:\n  name: app1-service', 'kind: Service\nmetadata:\n  name: app1-service\n  labels: [oops'));
    await w.controller.waitFor(/refused, the last good state keeps serving: \S*cluster\.yaml:\d+/, 10_000);
    expect((await loop(w.dir, 20, '50/s')).filter((c) => c !== '200')).toEqual([]);
    const logLen = w.controller.log().length;
    await writeFile(w.state, w.original.replace(/replicas: 3/, 'replicas: two'));
    await until('the second error', async () => /cluster\.yaml:\d+: Deployment default\/app2: spec\.replicas/.test(w.controller.log().slice(logLen)), 10_000);
    expect((await loop(w.dir, 20, '50/s')).filter((c) => c !== '200')).toEqual([]);
    expect((await getPods(I)).map((p) => p.metadata.name).sort()).toEqual(before);
    await writeFile(w.state, w.original); // fixed: back to 3 replicas
    await until('3 app2 endpoints', async () => (await app2Endpoints()).length === 3);
  });

  it('survives kill -9 of the server: the restarted one adopts every pod, no pod recreated, the objects as they were', async () => {
    const before = await getPods(I, true);
    const view = (ps: PodJson[]) => ps.map((p) => [p.metadata.name, (p.metadata as { uid?: string }).uid, p.status.podIP, p.status.containerStatuses[0]?.pid]).sort();
    const revision = async () => Number((JSON.parse((await labOk(['get', 'pods', '-A', '--name', I, '-o', 'json'])).stdout) as { metadata: { resourceVersion: string } }).metadata.resourceVersion);
    const rvBefore = await revision();
    const rulesBefore = (await cmd(['ip', 'netns', 'exec', `${I}-node`, 'iptables-save', '-t', 'nat'])).stdout.split('\n').filter((l) => l.startsWith('-A')).sort();
    await w.controller.stop('SIGKILL');
    expect((await loop(w.dir, 20, '50/s')).filter((c) => c !== '200')).toEqual([]); // pods keep serving meanwhile
    await w.startAgain();
    expect(view(await getPods(I, true))).toEqual(view(before));
    // The store's revision goes on from where it was (kine's id), not from 1.
    expect(await revision()).toBeGreaterThanOrEqual(rvBefore);
    const rulesAfter = (await cmd(['ip', 'netns', 'exec', `${I}-node`, 'iptables-save', '-t', 'nat'])).stdout.split('\n').filter((l) => l.startsWith('-A')).sort();
    expect(rulesAfter).toEqual(rulesBefore);
    // And it still heals: the adopted containers are watched too.
    const victim = app2(before)[0]!;
    process.kill(victim.status.containerStatuses[0]!.pid!, 'SIGKILL');
    await until('the adopted pod restarted', async () => (await getPods(I)).find((p) => p.metadata.name === victim.metadata.name)!.status.containerStatuses[0]!.restartCount >= 1);
  });

  it('puts a pod that exits at once into CrashLoopBackOff with growing delays, never into the endpoints', async () => {
    await writeFile(w.state, w.original + CRASHER);
    // Ready addresses only (a crashing pod may be listed under notReadyAddresses, as Kubernetes does).
    type Ep = { metadata: { name: string }; subsets?: { addresses?: unknown[] }[] };
    const eps = async () => (JSON.parse((await labOk(['get', 'endpoints', '--name', I, '-o', 'json'])).stdout) as { items: Ep[] }).items.find((e) => e.metadata.name === 'crasher')?.subsets?.flatMap((s) => s.addresses ?? []) ?? [];
    const starts: number[] = [];
    let status = '';
    const t0 = Date.now();
    await until(
      'three restarts',
      async () => {
        const p = (await getPods(I)).find((x) => x.metadata.labels.app === 'crasher');
        const cs = p?.status.containerStatuses[0];
        if (cs && starts.length < cs.restartCount + 1) starts.push(Date.now() - t0);
        if (cs && (cs as unknown as { state: { waiting?: { reason: string } } }).state.waiting?.reason === 'CrashLoopBackOff') status = 'CrashLoopBackOff';
        expect(await eps()).toEqual([]);
        return (cs?.restartCount ?? 0) >= 3;
      },
      60_000,
      250,
    );
    expect(status).toBe('CrashLoopBackOff');
    // Restarts at about 0, 10 and 30 s: each wait longer than the one before.
    const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
    process.stdout.write(`crash loop restart times (ms after the edit): ${starts.join(', ')}\n`);
    expect(gaps.at(-1)!).toBeGreaterThan(gaps.at(-2)! + 5000);
    const events = (await labOk(['events', '--name', I])).stdout;
    // The kubelet's own words (kuberuntime_manager.go), with the pod's full name and uid.
    expect(events).toMatch(/Warning\s+BackOff\s+pod\/crasher-\S+\s+Back-off restarting failed container crasher in pod crasher-\S+_default\([0-9a-f-]{36}\)/);
    // And the exit it backs off from, where kubectl shows it: the container's last state.
    const last = (await getPods(I)).find((x) => x.metadata.labels.app === 'crasher')!.status.containerStatuses[0] as unknown as { lastState: { terminated?: { exitCode: number; reason: string } } };
    expect(last.lastState.terminated).toMatchObject({ exitCode: 3, reason: 'Error' });
  }, 90_000);
});
