// Benchmark `datapath`: requests per second from one client in the node namespace, straight to a
// pod IP (the floor), through app2's ClusterIP (KUBE-SVC/KUBE-SEP DNAT) and through the ingress
// (node IP:80 -> ingress pod -> DNS -> ClusterIP -> pod). Same client, same pods, same run.
import { fileURLToPath } from 'node:url';
import { Cluster, down } from '../src/controllers/lab.ts';
import { instancePaths } from '../src/node/instance.ts';
import { run } from '../src/sys/exec.ts';
import type { Benchmark, Figure } from './harness.ts';

const LOAD = fileURLToPath(new URL('./http-load.mjs', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));

async function load(netns: string, url: string, host: string, seconds: number, concurrency: number): Promise<{ rps: number; errors: number }> {
  const r = await run([process.execPath, LOAD, url, host, String(seconds), String(concurrency)], { netns, timeoutMs: (seconds + 30) * 1000 });
  return JSON.parse(r.stdout) as { rps: number; errors: number };
}

export const datapathBenchmark: Benchmark = {
  name: 'datapath',
  description: 'requests/s to a pod IP (floor), through the ClusterIP, through the ingress; one client, new connection per request',
  needsRoot: true,
  options: { seconds: 'seconds per measurement (default 5)', concurrency: 'parallel connections (default 8)' },
  async run(ctx) {
    const instance = `bdp${process.pid.toString(36)}`.slice(0, 16);
    const seconds = Number(ctx.options.seconds ?? 5);
    const concurrency = Number(ctx.options.concurrency ?? 8);
    const cluster = new Cluster({ instance, statePath: `${ROOT}/lab/cluster.yaml`, configPath: `${ROOT}/lab/config.yaml`, mode: 'sandbox' });
    try {
      const r = await cluster.reconcile();
      await cluster.awaitReadiness(10_000);
      const node = instancePaths(instance).nodeNetns;
      const pod = Object.values(r.state.pods).find((p) => p.metadata.labels.app === 'app2')!;
      const svc = r.state.services.find((s) => s.metadata.name === 'app2-service')!;
      // Warm up (DNS caches in nginx, conntrack, page cache), then measure.
      await load(node, `http://${r.node.nodeIP}/`, 'app2.com', 1, concurrency);
      const direct = await load(node, `http://${pod.status.podIP}/`, '-', seconds, concurrency);
      const clusterIP = await load(node, `http://${svc.spec.clusterIP}/`, '-', seconds, concurrency);
      const ingress = await load(node, `http://${r.node.nodeIP}/`, 'app2.com', seconds, concurrency);
      ctx.note(`client: bench/http-load.mjs in the node namespace, ${concurrency} connections in parallel, ${seconds} s each, a new TCP connection per request`);
      ctx.note(`errors: direct ${direct.errors}, ClusterIP ${clusterIP.errors}, ingress ${ingress.errors}`);
      ctx.note('direct and ClusterIP hit one app2 pod vs all three app2 pods; the ingress adds an nginx hop and a DNS lookup (cached 5 s)');
      const fig = (name: string, v: number): Figure => ({ name, value: Math.round(v), unit: 'req/s', floor: Math.round(direct.rps), better: 'higher' });
      return [fig('straight to a pod IP', direct.rps), fig('through the ClusterIP (KUBE-SVC)', clusterIP.rps), fig('through the ingress (app2.com)', ingress.rps)];
    } finally {
      await down({ instance });
    }
  },
};
