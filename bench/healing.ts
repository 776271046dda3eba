// Benchmark `healing`: how fast the instance's server (`lab up --watch`, a real child process)
// reacts, clocked by the kernel's own notifications: `nft monitor` in the node namespace prints
// every rule-set change the moment iptables-restore commits it. Every hop goes through the API:
// the kubelet writes the pod's status, the endpointslice controller the EndpointSlice, kube-proxy
// syncs from its watch.
//   (1) crash -> endpoint removed: SIGKILL to one pod's container (its first process, PID 1 of
//       the container's PID namespace: runc's waiter exits with 137), clock stopped when its KUBE-SEP
//       chain is deleted (p50/p99 over N pods, each crashing once, one at a time: the restarted
//       pod is back in the rules before the next kill);
//   (2) state-file edit -> new pod serving: replicas n -> n+1 written to the file the server
//       applies (k3s's manifests directory), clock stopped when the new pod's DNAT rule is in the
//       Service's chains (it is added only once the pod passed its readiness probe, i.e. answers
//       HTTP; checked again afterwards with a request to it).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { APPLY_DEBOUNCE_MS } from '../src/controllers/server.ts';
import { instancePaths } from '../src/node/instance.ts';
import { run } from '../src/sys/exec.ts';
import { spawnStream, type StreamChild } from '../src/sys/stream.ts';
import { readApiState } from '../src/trace/api-view.ts';
import { deferCleanup, percentile, settle, type Benchmark } from './harness.ts';
import { labDown, startServerProcess, type ServerProcess } from './server-process.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export function healStateYaml(replicas: number): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: heal
spec:
  replicas: ${replicas}
  selector:
    matchLabels:
      app: heal
  template:
    metadata:
      labels:
        app: heal
    spec:
      containers:
        - name: web
          image: busybox
          command: ["httpd", "-f", "-p", "80", "-h", "/www"]
          ports:
            - name: http
              containerPort: 80
          readinessProbe:
            httpGet:
              path: /
              port: http
          volumeMounts:
            - name: whoami
              mountPath: /www
      volumes:
        - name: whoami
          downwardAPI:
            items:
              - path: index.html
                fieldRef:
                  fieldPath: metadata.name
---
apiVersion: v1
kind: Service
metadata:
  name: heal
spec:
  selector:
    app: heal
  ports:
    - name: http
      port: 80
      targetPort: http
`;
}

/** The KUBE-SEP chain whose DNAT goes to ip:port, from `iptables-save -t nat`. */
export function sepChainFor(save: string, ip: string, port: number): string | undefined {
  const line = save.split('\n').find((l) => l.startsWith('-A KUBE-SEP-') && l.endsWith(`--to-destination ${ip}:${port}`));
  return line?.split(' ')[1];
}

/** `nft monitor` lines with their arrival time (epoch ms), and a wait for the next matching one. */
class RuleMonitor {
  private lines: { at: number; text: string }[] = [];
  private waiters: (() => void)[] = [];
  private constructor(readonly child: StreamChild) {
    let partial = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      const at = performance.timeOrigin + performance.now();
      const parts = (partial + d).split('\n');
      partial = parts.pop()!;
      for (const text of parts) this.lines.push({ at, text });
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async start(netns: string): Promise<RuleMonitor> {
    const m = new RuleMonitor(spawnStream(['nft', 'monitor'], { netns }));
    await new Promise((r) => setTimeout(r, 300)); // subscribed before anything is measured
    return m;
  }

  get mark(): number {
    return this.lines.length;
  }

  /** The first line after `mark` that matches; its arrival time and text. */
  async next(mark: number, match: (text: string) => boolean, timeoutMs = 30_000): Promise<{ at: number; text: string }> {
    const deadline = Date.now() + timeoutMs;
    for (let i = mark; ; ) {
      for (; i < this.lines.length; i++) if (match(this.lines[i]!.text)) return this.lines[i]!;
      if (Date.now() > deadline) throw new Error('timed out waiting for a rule change');
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 1000);
      });
    }
  }

  stop(): void {
    this.child.stop();
  }
}

const now = () => performance.timeOrigin + performance.now();

export const healingBenchmark: Benchmark = {
  name: 'healing',
  description: "the instance's server (`lab up --watch`), every hop through the API: crash -> endpoint removed from the rules (p50/p99; kubelet -> pod status -> EndpointSlice -> kube-proxy), state-file edit -> new pod serving",
  needsRoot: true,
  options: { kills: 'pods, each crashed once (default 30)', edits: 'replica edits to time (default 5)' },
  async run(ctx) {
    const kills = Number(ctx.options.kills ?? 30);
    const edits = Number(ctx.options.edits ?? 5);
    const instance = `bhl${process.pid.toString(36)}`.slice(0, 16);
    const paths = instancePaths(instance);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'pplt-bench-heal-'));
    const statePath = path.join(dir, 'cluster.yaml');
    await writeFile(statePath, healStateYaml(kills));
    let server: ServerProcess | undefined;
    let monitor: RuleMonitor | undefined;
    const cleanup = deferCleanup(async () => {
      monitor?.stop();
      await server?.stop();
      await labDown(instance);
      await rm(dir, { recursive: true, force: true });
    });
    const rules = async () => (await run(['iptables-save', '-t', 'nat'], { netns: paths.nodeNetns })).stdout;
    const until = async (what: string, ok: () => Promise<boolean>, timeoutMs = 60_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!(await ok())) {
        server?.assertRunning();
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    // The pods as the API's store has them, each container's pid found through the runtime (api-view.ts).
    const heal = async () => Object.values((await readApiState(paths))?.pods ?? {}).filter((p) => p.metadata.labels.app === 'heal');
    const ready = (p: { status: { conditions: { type: string; status: string }[] } }) => p.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True');
    try {
      server = await startServerProcess({ instance, statePath, configPath: path.join(ROOT, 'lab/config.yaml') });
      await until('every pod ready and in the rules', async () => (await heal()).filter(ready).length === kills && ((await rules()).match(/-j DNAT --to-destination/g) ?? []).length >= kills + 2);
      monitor = await RuleMonitor.start(paths.nodeNetns);
      await settle();

      const latencies: number[] = [];
      for (const pod of await heal()) {
        const ip = pod.status.podIP!;
        const sep = sepChainFor(await rules(), ip, 80);
        if (!sep) throw new Error(`no KUBE-SEP chain for ${pod.metadata.name} (${ip})`);
        const pid = pod.status.containerStatuses[0]?.pid;
        if (!pid) throw new Error(`no running container found for ${pod.metadata.name}`);
        const mark = monitor.mark;
        const t0 = now();
        process.kill(pid, 'SIGKILL');
        const removed = await monitor.next(mark, (l) => l === `delete chain ip nat ${sep}`);
        latencies.push(removed.at - t0);
        // Restarted at once (a first crash has no backoff), ready again, back in the rules.
        await monitor.next(mark, (l) => l.startsWith(`add rule ip nat ${sep} `) && l.includes(`dnat to ${ip}:80`));
        await new Promise((r) => setTimeout(r, 50));
      }
      ctx.note(`crash: SIGKILL to one pod's container at a time (${latencies.length} pods, each crashing once; max ${Math.round(Math.max(...latencies))} ms): to its httpd, PID 1 of the container's PID namespace under runc, whose \`runc run\` waiter then exits and the kubelet hears it; the clock stops when \`nft monitor\` in the node namespace reports its KUBE-SEP chain deleted. Between the two, every hop is a write to the API and a watch event: the kubelet writes the pod's status (Ready=False), the endpointslice controller the EndpointSlice, kube-proxy syncs the rules. The next kill waits until the restarted pod (a new \`runc run\` in the same sandbox) is back in the rules.`);

      const editTimes: number[] = [];
      let replicas = kills;
      for (let i = 0; i < edits; i++) {
        const before = new Set((await heal()).map((p) => p.status.podIP));
        replicas++;
        const mark = monitor.mark;
        const t0 = now();
        await writeFile(statePath, healStateYaml(replicas));
        const added = await monitor.next(mark, (l) => /^add rule ip nat KUBE-SEP-\S+ .*dnat to [\d.]+:80\b/.test(l) && !before.has(/dnat to ([\d.]+):80\b/.exec(l)![1]));
        editTimes.push(added.at - t0);
        const ip = /dnat to ([\d.]+):80\b/.exec(added.text)![1]!;
        const answer = await run(['curl', '-s', '--max-time', '2', `http://${ip}/`], { netns: paths.nodeNetns, allowFail: true });
        if (!answer.stdout.startsWith('heal-')) throw new Error(`the new pod ${ip} is in the rules but did not answer: ${answer.stdout || answer.stderr}`);
        await settle();
      }
      ctx.note(`edit: replicas n -> n+1 written to the state file the server applies, as k3s applies its manifests directory (${edits} edits: ${editTimes.map((t) => Math.round(t)).join(', ')} ms); the clock stops when \`nft monitor\` reports the new pod's DNAT rule (added after its readiness probe passed; a request to it is checked afterwards). Includes the server's ${APPLY_DEBOUNCE_MS} ms wait for the file to hold still, then: the applier's patch of the Deployment, the Deployment and ReplicaSet controllers, the scheduler's binding, the kubelet's sandbox and container, its readiness probe, the pod's status, the EndpointSlice, kube-proxy's sync.`);
      return [
        { name: 'crash -> endpoint removed, p50', value: Math.round(percentile(latencies, 50)), unit: 'ms', goal: 100 },
        { name: 'crash -> endpoint removed, p99', value: Math.round(percentile(latencies, 99)), unit: 'ms', goal: 100 },
        { name: 'replicas edit -> new pod serving, median', value: Math.round(percentile(editTimes, 50)), unit: 'ms', goal: 500 },
        { name: 'replicas edit -> new pod serving, max', value: Math.round(Math.max(...editTimes)), unit: 'ms', goal: 500 },
      ];
    } finally {
      await cleanup();
    }
  },
};
