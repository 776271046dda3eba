// Benchmark `healing`: how fast the watch controller reacts, measured from outside by polling
// the node's rules: (1) crash -> the endpoint's rule gone from KUBE-SVC (p50/p99 over N kills,
// one per pod so every kill is a first crash with no backoff), (2) replicas edited in the state
// file -> the new pod answering through the Service's ClusterIP.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Controller } from '../src/controllers/controller.ts';
import { down } from '../src/controllers/lab.ts';
import { run } from '../src/sys/exec.ts';
import type { Benchmark } from './harness.ts';

function stateYaml(replicas: number): string {
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

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

export const healingBenchmark: Benchmark = {
  name: 'healing',
  description: 'watch controller: crash -> endpoint removed from the rules (p50/p99), state-file edit -> new pod serving',
  needsRoot: true,
  options: { kills: 'number of crashes to time (default 50)', edits: 'replica edits to time (default 5)' },
  async run(ctx) {
    const kills = Number(ctx.options.kills ?? 50);
    const edits = Number(ctx.options.edits ?? 5);
    const instance = `bhl${process.pid.toString(36)}`.slice(0, 16);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'pplt-bench-heal-'));
    const statePath = path.join(dir, 'cluster.yaml');
    await writeFile(statePath, stateYaml(kills));
    const controller = new Controller({ instance, statePath, configPath: path.resolve('lab/config.yaml'), mode: 'sandbox' });
    const node = `${instance}-node`;
    const rules = async () => (await run(['iptables-save', '-t', 'nat'], { netns: node })).stdout;
    const until = async (what: string, ok: () => Promise<boolean>, timeoutMs = 20_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!(await ok())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 2)); // let the controller's own events run
      }
    };
    try {
      await controller.start();
      const state = () => controller.cluster.state!;
      await until('all pods ready', async () => Object.values(state().pods).every((p) => p.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True')), 60_000);
      await until('all endpoints in the rules', async () => ((await rules()).match(/-j DNAT --to-destination/g) ?? []).length >= kills + 2);
      const latencies: number[] = [];
      for (const pod of Object.values(state().pods).filter((p) => p.metadata.labels.app === 'heal').slice(0, kills)) {
        const ip = pod.status.podIP!;
        const t0 = performance.now();
        process.kill(pod.status.containerStatuses[0]!.pid!, 'SIGSEGV');
        await until('the endpoint to leave', async () => !(await rules()).includes(`--to-destination ${ip}:80`));
        latencies.push(performance.now() - t0);
      }
      ctx.note(`crash: SIGSEGV to one pod's container at a time (${latencies.length} pods, each crashing once), clock stopped when iptables-save in the node no longer shows its DNAT; polling adds a few ms`);
      const svcIP = state().services.find((s) => s.metadata.name === 'heal')!.spec.clusterIP!;
      const editTimes: number[] = [];
      let replicas = kills;
      for (let i = 0; i < edits; i++) {
        const before = new Set(Object.keys(state().pods));
        replicas++;
        const t0 = performance.now();
        await writeFile(statePath, stateYaml(replicas));
        // Until a request through the ClusterIP is answered by a pod that did not exist before.
        await until('the new pod answering through the Service', async () => {
          const r = await run(['curl', '-s', '--max-time', '1', `http://${svcIP}/`], { netns: node, allowFail: true });
          const name = r.stdout.trim();
          return name !== '' && !before.has(name) && name.startsWith('heal-');
        });
        editTimes.push(performance.now() - t0);
      }
      ctx.note(`edit: replicas n -> n+1 written to the state file, clock stopped at the first answer from the new pod through the ClusterIP (${edits} edits; file watch debounce ${100} ms included)`);
      return [
        { name: 'crash -> endpoint removed, p50', value: Math.round(percentile(latencies, 50)), unit: 'ms', goal: 100 },
        { name: 'crash -> endpoint removed, p99', value: Math.round(percentile(latencies, 99)), unit: 'ms', goal: 100 },
        { name: 'replicas edit -> new pod serving, median', value: Math.round(percentile(editTimes, 50)), unit: 'ms', goal: 500 },
        { name: 'replicas edit -> new pod serving, max', value: Math.round(Math.max(...editTimes)), unit: 'ms', goal: 500 },
      ];
    } finally {
      await controller.stop();
      await down({ instance });
      await rm(dir, { recursive: true, force: true });
    }
  },
};
