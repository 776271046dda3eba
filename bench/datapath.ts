// Benchmark `datapath`: requests per second from one client in the node namespace, straight to a
// pod IP (the floor), through app2's ClusterIP (KUBE-SVC/KUBE-SEP DNAT) and through the ingress
// (node IP:80 -> ingress pod -> DNS -> ClusterIP -> pod). Same client, same pods, same run. The
// lab is the default scenario (lab/cluster.yaml) run by the instance's server (`lab up --watch`),
// measured once it has converged; the addresses are read from its API.
import { fileURLToPath } from 'node:url';
import { waitConverged } from '../src/client/converge.ts';
import type { KubeObject } from '../src/client/types.ts';
import { instancePaths } from '../src/node/instance.ts';
import { run } from '../src/sys/exec.ts';
import { deferCleanup, type Benchmark, type Figure } from './harness.ts';
import { isReady, labDown, startServerProcess, type ServerProcess } from './server-process.ts';

const LOAD = fileURLToPath(new URL('./http-load.mjs', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));

async function load(netns: string, url: string, host: string, seconds: number, concurrency: number): Promise<{ rps: number; errors: number }> {
  const r = await run([process.execPath, LOAD, url, host, String(seconds), String(concurrency)], { netns, timeoutMs: (seconds + 30) * 1000 });
  return JSON.parse(r.stdout) as { rps: number; errors: number };
}

type Pod = KubeObject & { status?: { podIP?: string } };
type Service = KubeObject & { spec: { clusterIP?: string } };
type Node = KubeObject & { status?: { addresses?: { type: string; address: string }[] } };

export const datapathBenchmark: Benchmark = {
  name: 'datapath',
  description: "requests/s to a pod IP (floor), through the ClusterIP, through the ingress; one client, new connection per request; the default scenario run by the instance's server (`lab up --watch`)",
  needsRoot: true,
  options: { seconds: 'seconds per measurement (default 5)', concurrency: 'parallel connections (default 8)' },
  async run(ctx) {
    const instance = `bdp${process.pid.toString(36)}`.slice(0, 16);
    const seconds = Number(ctx.options.seconds ?? 5);
    const concurrency = Number(ctx.options.concurrency ?? 8);
    let server: ServerProcess | undefined;
    const cleanup = deferCleanup(async () => {
      await server?.stop();
      await labDown(instance);
    });
    try {
      server = await startServerProcess({ instance, statePath: `${ROOT}/lab/cluster.yaml`, configPath: `${ROOT}/lab/config.yaml` });
      const client = await server.client();
      let pod: Pod | undefined, svc: Service, nodeIP: string | undefined;
      try {
        // What `lab up` waits for: every Deployment rolled out, every pod ready.
        const c = await waitConverged(client, { timeoutMs: 120_000 });
        if (!c.done) throw new Error(`the server did not converge: ${c.waiting.join('; ')}`);
        pod = (await client.list<Pod>({ group: '', resource: 'pods' }, { namespace: 'default', labelSelector: 'app=app2' })).items.find(isReady);
        svc = await client.get<Service>({ group: '', resource: 'services' }, 'default', 'app2-service');
        const node = (await client.list<Node>({ group: '', resource: 'nodes' })).items[0];
        nodeIP = node?.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
      } finally {
        client.close();
      }
      if (!pod?.status?.podIP || !svc.spec.clusterIP || !nodeIP) throw new Error(`no ready app2 pod, app2-service ClusterIP or node InternalIP in the API (${pod?.status?.podIP}, ${svc.spec.clusterIP}, ${nodeIP})`);
      const node = instancePaths(instance).nodeNetns;
      // Warm up (DNS caches in nginx, conntrack, page cache), then measure.
      await load(node, `http://${nodeIP}/`, 'app2.com', 1, concurrency);
      const direct = await load(node, `http://${pod.status.podIP}/`, '-', seconds, concurrency);
      const clusterIP = await load(node, `http://${svc.spec.clusterIP}/`, '-', seconds, concurrency);
      const ingress = await load(node, `http://${nodeIP}/`, 'app2.com', seconds, concurrency);
      ctx.note(`lab: lab/cluster.yaml run by the instance's server (\`lab up --watch\`, a child process), measured once converged (every Deployment rolled out, every pod ready); pod IP, ClusterIP and node IP read from its API.`);
      ctx.note(`client: bench/http-load.mjs in the node namespace, ${concurrency} connections in parallel, ${seconds} s each, a new TCP connection per request`);
      ctx.note(`errors: direct ${direct.errors}, ClusterIP ${clusterIP.errors}, ingress ${ingress.errors}`);
      ctx.note('direct and ClusterIP hit one app2 pod vs all three app2 pods; the ingress adds an nginx hop and a DNS lookup (cached 5 s)');
      const fig = (name: string, v: number): Figure => ({ name, value: Math.round(v), unit: 'req/s', floor: Math.round(direct.rps), better: 'higher' });
      return [fig('straight to a pod IP', direct.rps), fig('through the ClusterIP (KUBE-SVC)', clusterIP.rps), fig('through the ingress (app2.com)', ingress.rps)];
    } finally {
      await cleanup();
    }
  },
};
