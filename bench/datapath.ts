// Benchmark `datapath`: requests per second from one client in the node namespace, straight to a
// pod IP (the floor), through app2's ClusterIP (KUBE-SVC/KUBE-SEP DNAT) and through the ingress
// (node IP:80 -> ingress pod -> DNS -> ClusterIP -> pod); then config.yaml is edited to kube-proxy's
// nftables mode (`kube-proxy-arg: [proxy-mode=nftables]`) and the ClusterIP is measured again
// through kube-proxy's nftables table. Same client, same pods, same run. The lab is the default
// scenario (lab/cluster.yaml, config.yaml copied) run by the instance's server (`lab up --watch`),
// measured once it has converged; the addresses are read from its API.
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
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

/** Until the node runs kube-proxy's nftables table and no KUBE-SVC chain is left in its nat table. */
async function waitForNftablesMode(netns: string, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const table = await run(['nft', 'list', 'table', 'ip', 'kube-proxy'], { netns, allowFail: true });
    const nat = await run(['iptables-save', '-t', 'nat'], { netns, allowFail: true });
    if (table.exitCode === 0 && /numgen random/.test(table.stdout) && !/KUBE-SVC-/.test(nat.stdout)) return performance.now() - t0;
    if (performance.now() - t0 > timeoutMs) throw new Error(`the node did not switch to kube-proxy's nftables mode within ${timeoutMs / 1000} s after the config.yaml edit`);
    await new Promise((r) => setTimeout(r, 200));
  }
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
    const dir = await mkdtemp(path.join(tmpdir(), 'pplt-bdp-'));
    const cleanup = deferCleanup(async () => {
      await server?.stop();
      await labDown(instance);
      await rm(dir, { recursive: true, force: true });
    });
    try {
      // A copy of the config: the run edits it to switch kube-proxy's mode.
      const configPath = path.join(dir, 'config.yaml');
      await copyFile(`${ROOT}/lab/config.yaml`, configPath);
      server = await startServerProcess({ instance, statePath: `${ROOT}/lab/cluster.yaml`, configPath });
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
      // kube-proxy's nftables mode, on the same server and pods: the config edit every node follows.
      await writeFile(configPath, `${(await readFile(configPath, 'utf8')).trimEnd()}\nkube-proxy-arg:\n  - proxy-mode=nftables\n`);
      const switchMs = await waitForNftablesMode(node, 60_000);
      await load(node, `http://${svc.spec.clusterIP}/`, '-', 1, concurrency);
      const directNft = await load(node, `http://${pod.status.podIP}/`, '-', seconds, concurrency);
      const clusterIPNft = await load(node, `http://${svc.spec.clusterIP}/`, '-', seconds, concurrency);
      ctx.note(`lab: lab/cluster.yaml run by the instance's server (\`lab up --watch\`, a child process), measured once converged (every Deployment rolled out, every pod ready); pod IP, ClusterIP and node IP read from its API.`);
      ctx.note(`client: bench/http-load.mjs in the node namespace, ${concurrency} connections in parallel, ${seconds} s each, a new TCP connection per request`);
      ctx.note(`errors: direct ${direct.errors}, ClusterIP ${clusterIP.errors}, ingress ${ingress.errors}; nftables mode: direct ${directNft.errors}, ClusterIP ${clusterIPNft.errors}`);
      ctx.note(`nftables mode: config.yaml edited to \`kube-proxy-arg: [proxy-mode=nftables]\` while the server ran; the node had table ip kube-proxy (numgen) and no KUBE-SVC chain ${(switchMs / 1000).toFixed(1)} s after the write. Then straight to the pod again (${Math.round(directNft.rps)} req/s, the floor of the nftables figure) and through the ClusterIP: the services chain's service-ips verdict map, the service chain's numgen random mod 3 vmap, the endpoint chain's DNAT.`);
      ctx.note('direct and ClusterIP hit one app2 pod vs all three app2 pods; the ingress adds an nginx hop and a DNS lookup (cached 5 s)');
      const fig = (name: string, v: number): Figure => ({ name, value: Math.round(v), unit: 'req/s', floor: Math.round(direct.rps), better: 'higher' });
      return [
        fig('straight to a pod IP', direct.rps),
        fig('through the ClusterIP (KUBE-SVC)', clusterIP.rps),
        fig('through the ingress (app2.com)', ingress.rps),
        // Against the pod measured again just before it: the machine's moment, not the mode, moves both.
        { ...fig("through the ClusterIP, kube-proxy's nftables mode (floor: the pod, measured again in that mode)", clusterIPNft.rps), floor: Math.round(directNft.rps) },
      ];
    } finally {
      await cleanup();
    }
  },
};
