// Benchmark `api`: the lab's API server (startApiServer: kine store, registry, HTTPS) in a child
// process of its own on 127.0.0.1, holding 1,000 pods shaped like app2's (`--pods N`) with 10
// watchers (`--watchers`) in this process, each a long watch of all pods from its list's
// resourceVersion, as client-go's reflector watches. Three things of issue 13's "Performance":
//  1. watch fan-out: a status update of one random pod at a time; from the write's return until
//     every watcher has the MODIFIED event; p50 and p99 of that worst-watcher delay. Floor: a bare
//     Node https server in a child process that writes the same body as one event line to 10
//     open responses, interleaved update by update with the API's, so a slow moment of the
//     machine hits both;
//  2. real `kubectl get pods -A` (Table) and `-o json` of those pods, against `kubectl version
//     --client` (no goal: reported);
//  3. the server process's resident memory with the pods and the watchers (the issue's bound:
//     no more than the old controller's 293 MiB at 1,000 pods).
// Needs no root: nothing but two listening sockets on 127.0.0.1 and a temp directory.
import { spawn, spawnSync } from 'node:child_process';
import { Agent, request } from 'node:https';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ensureBundle } from '../bin/bundles.mjs';
import { which } from '../src/cli/preflight.ts';
import { HttpsClient } from '../src/client/https.ts';
import type { KubeObject, ResourceRef } from '../src/client/types.ts';
import { benchPod, FanOut, fanOutDelay, randomIndices, restartedStatus, runningStatus, type PodJson } from './api-helpers.ts';
import type { ChildReady } from './api-server.ts';
import { OLD_CONTROLLER_RSS_MIB, rssKiB } from './server.ts';
import { deferCleanup, median, percentile, settle, type Benchmark, type Figure } from './harness.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PODS: ResourceRef = { group: '', resource: 'pods' };
const CHILD_BUNDLE = { 'bench-api-server': { entry: 'bench/api-server.ts', outfile: 'build/bench/api-server.mjs', splitting: false } };
const MiB = (kib: number) => Math.round(kib / 102.4) / 10;

interface Child {
  pid: number;
  ready: ChildReady;
  stop(): Promise<void>;
}

/** Starts bench/api-server.ts (bundled) in `mode`; resolves with what it printed once listening. */
async function startChild(bundle: string, mode: 'api' | 'floor', dir: string): Promise<Child> {
  const child = spawn(process.execPath, [bundle, mode, dir], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.stdin!.end(); // it closes its server and exits when stdin ends
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => reject(new Error(`${mode} server did not start in 60 s: ${err}`)), 60_000);
    rl.once('line', (l) => {
      clearTimeout(timer);
      resolve(l);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${mode} server exited (${code}): ${err}`));
    });
  }).catch(async (e: Error) => {
    await stop();
    throw e;
  });
  return { pid: child.pid!, ready: JSON.parse(line) as ChildReady, stop };
}

const clientFor = (r: ChildReady) => new HttpsClient({ server: r.url, ca: r.ca, cert: r.cert, key: r.key, userAgent: 'bench-api/v1.32.0 (linux/amd64)' });

/** Runs `fn` over 0..n-1 with at most `parallel` at a time. */
async function pool(n: number, parallel: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(parallel, n) }, async () => {
    while (next < n) await fn(next++);
  }));
}

interface Watchers {
  fanOut: FanOut;
  failures: string[];
  stop(): void;
}

/** `count` watchers, each with its own client (its own TLS connection), keyed "<name>@<resourceVersion>". */
async function startWatchers(ready: ChildReady, count: number, fromList: boolean, expectItems: number): Promise<Watchers> {
  const fanOut = new FanOut(count);
  const failures: string[] = [];
  const clients = Array.from({ length: count }, () => clientFor(ready));
  const cancels = await Promise.all(
    clients.map(async (c, w) => {
      const lw = c.listWatch<KubeObject>(PODS);
      let resourceVersion = '0';
      if (fromList) {
        const l = await lw.list();
        if (l.items.length !== expectItems) throw new Error(`watcher ${w}: the list has ${l.items.length} pods, want ${expectItems}`);
        resourceVersion = l.resourceVersion;
      }
      return lw.watch(
        { resourceVersion, allowWatchBookmarks: true },
        (e) => {
          if (e.type === 'MODIFIED') fanOut.arrive(`${e.object.metadata.name}@${e.object.metadata.resourceVersion}`, performance.now());
          else if (e.type === 'ERROR') failures.push(`watcher ${w}: ${JSON.stringify(e.object)}`);
        },
        (err) => failures.push(`watcher ${w}: ${err?.message ?? 'closed'}`),
      );
    }),
  );
  return {
    fanOut,
    failures,
    stop() {
      for (const cancel of cancels) cancel();
      for (const c of clients) c.close();
    },
  };
}

/** Wall-clock milliseconds of one kubectl run; throws when it fails or `check` rejects its output. */
function timeKubectl(argv: string[], check?: (stdout: string) => string | undefined): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', maxBuffer: 256 << 20 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}: ${r.stderr}`);
  const problem = check?.(r.stdout);
  if (problem) throw new Error(`${argv.slice(1).join(' ')}: ${problem}`);
  return ms;
}

/** kubectl get's Accept header for a Table (kubectl/pkg/cmd/get: the server prints, kubectl pads). */
const TABLE_ACCEPT = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';

/**
 * The server's part of a `kubectl get pods -A`: the same pages kubectl asks for (--chunk-size 500:
 * limit=500, then continue), over a warm connection from this process. Milliseconds and bytes.
 */
async function timeList(r: ChildReady, agent: Agent, accept: string): Promise<{ ms: number; bytes: number; rows: number }> {
  const t0 = performance.now();
  let bytes = 0;
  let rows = 0;
  let cont = '';
  do {
    const url = new URL(`/api/v1/pods?limit=500${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`, r.url);
    const body = await new Promise<string>((resolve, reject) => {
      const req = request(url, { agent, headers: { Accept: accept } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks).toString()) : reject(new Error(`GET ${url.pathname}${url.search}: HTTP ${res.statusCode}`))));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    bytes += Buffer.byteLength(body);
    const page = JSON.parse(body) as { items?: unknown[]; rows?: unknown[]; metadata: { continue?: string } };
    rows += (page.rows ?? page.items ?? []).length;
    cont = page.metadata.continue ?? '';
  } while (cont);
  return { ms: performance.now() - t0, bytes, rows };
}

export const apiBenchmark: Benchmark = {
  name: 'api',
  description: 'the API server (child process, 127.0.0.1) at 1,000 pods with 10 watchers: watch fan-out of a status update (p50/p99, against a bare https fan-out), real `kubectl get pods -A` (Table, -o json) against `kubectl version --client`, server RSS',
  needsRoot: false,
  options: { pods: 'pod count (default 1000)', watchers: 'watchers (default 10)', updates: 'measured status updates (default 200)', runs: 'runs of each kubectl command (default 7)' },
  precheck: () => (which('kubectl') ? undefined : 'kubectl is not installed'),
  async run(ctx) {
    const n = Number(ctx.options.pods ?? 1000);
    const nWatchers = Number(ctx.options.watchers ?? 10);
    const updates = Number(ctx.options.updates ?? 200);
    const runs = Number(ctx.options.runs ?? 7);
    for (const [k, v, max] of [['pods', n, 20_000], ['watchers', nWatchers, 100], ['updates', updates, 10_000], ['runs', runs, 100]] as const) {
      if (!Number.isInteger(v) || v < 1 || v > max) throw new Error(`--${k} wants an integer between 1 and ${max}, got ${ctx.options[k]}`);
    }
    const warmup = 20;
    const kubectl = which('kubectl')!;
    const bundle = await ensureBundle('bench-api-server', { bundles: CHILD_BUNDLE });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'pplt-bench-api-'));
    let api: Child | undefined;
    let floor: Child | undefined;
    let writer: HttpsClient | undefined;
    let floorWriter: HttpsClient | undefined;
    const watchers: Watchers[] = [];
    const cleanup = deferCleanup(async () => {
      for (const w of watchers) w.stop();
      writer?.close();
      floorWriter?.close();
      await api?.stop();
      await floor?.stop();
      await rm(dir, { recursive: true, force: true });
    });
    try {
      api = await startChild(bundle, 'api', dir);
      floor = await startChild(bundle, 'floor', dir); // after the API server: it reuses its PKI
      await settle({ timeoutMs: 10_000 });
      const emptyRss = rssKiB(await readFile(`/proc/${api.pid}/status`, 'utf8'));
      ctx.log(`API server ${api.ready.url} (pid ${api.pid}): RSS ${MiB(emptyRss)} MiB empty`);

      // The pods, as a ReplicaSet creates them and their kubelet then reports them Running.
      writer = clientFor(api.ready);
      const pods: PodJson[] = new Array(n);
      const started = Date.now() - 3600_000;
      const t0 = performance.now();
      await pool(n, 8, async (i) => {
        const created = await writer!.create<PodJson>(PODS, benchPod(i));
        pods[i] = await writer!.update(PODS, { ...created, status: runningStatus(i, started) }, { subresource: 'status' });
      });
      ctx.log(`${n} pods created and reported Running in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

      const apiWatch = await startWatchers(api.ready, nWatchers, true, n);
      watchers.push(apiWatch);
      const floorWatch = await startWatchers(floor.ready, nWatchers, false, 0);
      watchers.push(floorWatch);
      floorWriter = clientFor(floor.ready);
      await new Promise((r) => setTimeout(r, 200)); // every watch request reached its server

      const apiDelays: number[] = [];
      const floorDelays: number[] = [];
      let apiEarly = 0;
      let floorEarly = 0;
      const order = randomIndices(n, warmup + updates, 13);
      for (let k = 0; k < order.length; k++) {
        const i = order[k]!;
        const body = { ...pods[i]!, status: restartedStatus(pods[i]!, i, Date.now()) };
        // The API server: PUT .../pods/<name>/status, the event keyed by the new resourceVersion.
        const w0 = performance.now();
        const updated = await writer.update<PodJson>(PODS, body, { subresource: 'status' });
        const returned = performance.now();
        pods[i] = updated;
        const arrivals = await apiWatch.fanOut.all(`${updated.metadata.name}@${updated.metadata.resourceVersion}`, 5000);
        // The floor: the same body through a server that only copies it to the open responses.
        const floorBody = { ...body, metadata: { ...body.metadata, resourceVersion: `floor-${k}` } };
        await floorWriter.call('POST', '/fanout', {}, floorBody);
        const floorReturned = performance.now();
        const floorArrivals = await floorWatch.fanOut.all(`${floorBody.metadata.name}@floor-${k}`, 5000);
        if (k < warmup) continue;
        apiDelays.push(fanOutDelay(returned, arrivals));
        floorDelays.push(fanOutDelay(floorReturned, floorArrivals));
        if (Math.max(...arrivals) <= returned) apiEarly++;
        if (Math.max(...floorArrivals) <= floorReturned) floorEarly++;
        if (k === warmup) ctx.log(`first measured update: write ${(returned - w0).toFixed(1)} ms, fan-out ${apiDelays[0]!.toFixed(2)} ms (floor ${floorDelays[0]!.toFixed(2)} ms)`);
      }
      const failures = [...apiWatch.failures, ...floorWatch.failures];
      if (failures.length) throw new Error(`watches failed: ${failures.join('; ')}`);
      const p = (xs: number[], q: number) => Math.round(percentile(xs, q) * 100) / 100;
      ctx.log(`fan-out to ${nWatchers} watchers: p50 ${p(apiDelays, 50)} ms, p99 ${p(apiDelays, 99)} ms (floor p50 ${p(floorDelays, 50)} ms, p99 ${p(floorDelays, 99)} ms)`);

      await settle({ timeoutMs: 10_000 });
      const loadedRss = rssKiB(await readFile(`/proc/${api.pid}/status`, 'utf8'));
      ctx.log(`RSS at ${n} pods, ${nWatchers} watchers: ${MiB(loadedRss)} MiB`);

      // kubectl, as a user types it, with its own discovery cache (warmed by the first runs).
      const kubeconfig = path.join(dir, 'kubeconfig.yaml');
      await writeFile(kubeconfig, api.ready.kubeconfig, { mode: 0o600 });
      const k = (...args: string[]) => [kubectl, '--kubeconfig', kubeconfig, '--cache-dir', path.join(dir, 'kube-cache'), ...args];
      const commands: Record<string, { argv: string[]; check?: (out: string) => string | undefined }> = {
        floor: { argv: [kubectl, 'version', '--client'] },
        table: {
          argv: k('get', 'pods', '-A'),
          check: (out) => {
            const rows = out.trim().split('\n');
            return rows.length === n + 1 && rows.slice(1).every((r) => /\sRunning\s/.test(r)) ? undefined : `${rows.length - 1} rows, want ${n} Running pods`;
          },
        },
        json: {
          argv: k('get', 'pods', '-A', '-o', 'json'),
          check: (out) => {
            const items = (JSON.parse(out) as { items: unknown[] }).items.length;
            return items === n ? undefined : `${items} items, want ${n}`;
          },
        },
      };
      for (const c of Object.values(commands)) timeKubectl(c.argv, c.check); // discovery cache, page cache
      const times: Record<string, number[]> = { floor: [], table: [], json: [], serverTable: [], serverJson: [] };
      let serverNote = '';
      const agent = new Agent({ keepAlive: true, ca: api.ready.ca, cert: api.ready.cert, key: api.ready.key });
      try {
        let size = { table: 0, json: 0 };
        for (let r = 0; r <= runs; r++) {
          for (const [name, c] of Object.entries(commands)) if (r > 0) times[name]!.push(timeKubectl(c.argv, c.check));
          const table = await timeList(api.ready, agent, TABLE_ACCEPT);
          const json = await timeList(api.ready, agent, 'application/json');
          if (table.rows !== n || json.rows !== n) throw new Error(`the lists had ${table.rows} rows and ${json.rows} items, want ${n}`);
          size = { table: table.bytes, json: json.bytes };
          if (r === 0) continue; // warms the connection
          times.serverTable!.push(table.ms);
          times.serverJson!.push(json.ms);
        }
        serverNote = `The server's part of each kubectl get: the same requests (\`?limit=500\`, then \`continue\`: kubectl's --chunk-size) from this process over a warm connection, medians of ${runs}: Table ${Math.round(size.table / 1024)} KiB, JSON ${Math.round(size.json / 1024)} KiB in all. What is left of kubectl's time is its start, TLS, discovery cache, decoding and printing.`;
      } finally {
        agent.destroy();
      }
      const kFloor = Math.round(median(times.floor!));
      ctx.log(`kubectl medians: version --client ${kFloor} ms, get pods -A ${median(times.table!).toFixed(0)} ms (server ${median(times.serverTable!).toFixed(0)} ms), -o json ${median(times.json!).toFixed(0)} ms (server ${median(times.serverJson!).toFixed(0)} ms)`);

      await settle({ timeoutMs: 10_000 });
      const afterKubectlRss = rssKiB(await readFile(`/proc/${api.pid}/status`, 'utf8'));

      ctx.note(`The API server (startApiServer: kine store in SQLite under a temp dir, registry, HTTPS with client certificates) runs in a child process of its own, bench/api-server.ts bundled by esbuild like the lab's programs (node ${process.version}); the ${nWatchers} watchers, the writer and kubectl run outside it. ${n} pods like app2's (lab/cluster.yaml: a ReplicaSet's pod with its probe, volume and owner reference) are created, then their status is written Running and Ready (about ${Math.round(JSON.stringify(pods[0]).length / 100) / 10} kB of JSON each).`);
      ctx.note(`Watch fan-out: ${nWatchers} watchers, each its own HTTPS connection (HttpsClient.listWatch), listing all pods then watching from the list's resourceVersion with bookmarks, as client-go's reflector does. Then ${updates} status updates (PUT pods/<name>/status: the container restarted once more) of random pods (seeded), one at a time after ${warmup} unmeasured ones; each figure is the delay from the PUT's response until the last of the ${nWatchers} watchers has parsed its MODIFIED event (0 when all had it before the response; ${apiEarly} of ${updates} updates). Floor: a bare Node https server (same certificates, client certificates required) in a child process that writes the PUT's body as one event line to ${nWatchers} open responses, then answers the POST (${floorEarly} of ${updates} all before the answer); interleaved update by update with the API's.`);
      ctx.note(`kubectl ${runs} runs of each command, interleaved, medians, each checked (${n} Running rows; ${n} items), with a discovery cache warmed by one unmeasured run. No goal in issue 13: the ratio is reported. Floor \`kubectl version --client\`: what starting kubectl costs.`);
      ctx.note(serverNote);
      ctx.note(`RSS of the API server process (VmRSS of the child, not of this benchmark process): ${MiB(emptyRss)} MiB at start (system namespaces only); ${MiB(loadedRss)} MiB with ${n} pods and ${nWatchers} watchers after the updates; ${MiB(afterKubectlRss)} MiB after the kubectl runs. The bound is the former state-file controller's ${OLD_CONTROLLER_RSS_MIB} MiB at 1,000 pods (\`lab up --watch\` before issue 13, which also ran the kubelet, kube-proxy and DNS): this process is the API server alone; benchmark \`server\` holds the whole server process (API server, controllers, kubelet, kube-proxy, DNS, ingress) to the same bound. RSS is read once after the machine settled, so it depends on when V8 last collected: 153 to 185 MiB at 1,000 pods over runs on one machine.`);
      const ms = (name: string, value: number, floorValue: number): Figure => ({ name, value: Math.round(value * 100) / 100, unit: 'ms', floor: Math.round(floorValue * 100) / 100 });
      return [
        ms(`watch fan-out to ${nWatchers} watchers at ${n} pods, p50 (floor: bare https fan-out)`, percentile(apiDelays, 50), percentile(floorDelays, 50)),
        ms(`watch fan-out to ${nWatchers} watchers at ${n} pods, p99 (floor: bare https fan-out)`, percentile(apiDelays, 99), percentile(floorDelays, 99)),
        { name: `watch fan-out p99: issue 13's bound`, value: Math.round(percentile(apiDelays, 99) * 100) / 100, unit: 'ms', goal: 20 },
        { name: `kubectl get pods -A (Table) of ${n} pods (no goal: reported)`, value: Math.round(median(times.table!)), unit: 'ms', floor: kFloor },
        { name: '  of which the server answering its lists (Table)', value: Math.round(median(times.serverTable!)), unit: 'ms' },
        { name: `kubectl get pods -A -o json of ${n} pods (no goal: reported)`, value: Math.round(median(times.json!)), unit: 'ms', floor: kFloor },
        { name: '  of which the server answering its lists (JSON)', value: Math.round(median(times.serverJson!)), unit: 'ms' },
        { name: `API server RSS at ${n} pods, ${nWatchers} watchers (child process)`, value: MiB(loadedRss), unit: 'MiB', goal: OLD_CONTROLLER_RSS_MIB },
        { name: '  the same process after the kubectl runs', value: MiB(afterKubectlRss), unit: 'MiB', goal: OLD_CONTROLLER_RSS_MIB },
        { name: '  the same process at start (no pods, no watchers)', value: MiB(emptyRss), unit: 'MiB' },
      ];
    } finally {
      await cleanup();
    }
  },
};
