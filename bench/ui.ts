// Benchmark `ui`: `lab ui` as a learner's browser sees it, measured in Debian's headless Chromium
// (playwright-core). First render: from navigating to the page's URL until the default
// scenario's picture is drawn and laid out, against loading a blank page from a plain Node HTTP
// server in the same Chromium (the floor: what any page costs). Updates: with 1,000 pods in the
// API (Pending: a nodeSelector no node matches, so no kubelet runs them), a pod's status written
// to the API (a restart count) until the page has drawn it, p99; against the same write reaching a
// plain informer in this process (the floor: the API's own write + watch round trip). First render
// with 1,000 pods against the default scenario's; a scale-up (20 more pods) until drawn, against
// the plain informer's receipt of them, and no pod drawn before moves.
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { waitConverged } from '../src/client/converge.ts';
import type { HttpsClient } from '../src/client/https.ts';
import { Informer } from '../src/client/informer.ts';
import type { KubeObject } from '../src/client/types.ts';
import { startUi, type UiServer } from '../src/cli/ui-server.ts';
import { deferCleanup, median, percentile, type Benchmark, type Figure } from './harness.ts';
import { labDown, startServerProcess, type ServerProcess } from './server-process.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const PODS = { group: '', resource: 'pods' };

interface BenchPod extends KubeObject {
  status?: { containerStatuses?: Record<string, unknown>[] };
}

type LabUi = { applied(): number; idle(): Promise<void>; ids(): string[] };

/** Milliseconds from navigating to the UI until its first model is drawn and laid out. */
async function firstRender(browser: Browser, url: string): Promise<number> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  try {
    const t0 = performance.now();
    await page.goto(url);
    await page.waitForFunction(() => ((window as unknown as { labUi?: LabUi }).labUi?.applied() ?? 0) >= 1, undefined, { polling: 'raf', timeout: 120_000 });
    await page.evaluate(() => (window as unknown as { labUi: LabUi }).labUi.idle());
    return performance.now() - t0;
  } finally {
    await page.close();
  }
}

async function blankLoad(browser: Browser, url: string): Promise<number> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  try {
    const t0 = performance.now();
    await page.goto(url);
    await page.waitForFunction(() => document.body !== null, undefined, { polling: 'raf' });
    return performance.now() - t0;
  } finally {
    await page.close();
  }
}

function pendingPod(i: number): BenchPod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `bench-ui-${i}`, namespace: 'default', labels: { bench: 'ui' } },
    spec: { nodeSelector: { 'lab/bench': 'nowhere' }, containers: [{ name: 'c', image: 'busybox', command: ['httpd', '-f'] }] },
  } as unknown as BenchPod;
}

async function inParallel<T>(items: T[], n: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

export const uiBenchmark: Benchmark = {
  name: 'ui',
  description: "`lab ui` in Debian's headless Chromium: first render of the default scenario against a blank page's load; with 1,000 pods, the first render against the default scenario's, 20 more pods created until drawn (none drawn before moving) against a plain informer's receipt, and a pod's status written to the API until the page has drawn it (p99) against the same write reaching a plain informer",
  needsRoot: true,
  options: { added: 'pods created on top of them for the scale-up figure (default 20)', pods: 'pods in the API for the update figures (default 1000)', updates: 'updates measured (default 100)', runs: 'first renders measured (default 5)' },
  precheck: () => (existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is missing (apt-get install chromium)`),
  async run(ctx) {
    const nPods = Number(ctx.options.pods ?? 1000);
    const nUpdates = Number(ctx.options.updates ?? 100);
    const runs = Number(ctx.options.runs ?? 5);
    const instance = `bui${process.pid.toString(36)}`.slice(0, 16);
    let server: ServerProcess | undefined;
    let client: HttpsClient | undefined;
    let ui: UiServer | undefined;
    let browser: Browser | undefined;
    let blank: http.Server | undefined;
    let informer: Informer<BenchPod> | undefined;
    const cleanup = deferCleanup(async () => {
      informer?.stop();
      await browser?.close().catch(() => {});
      await ui?.close().catch(() => {});
      blank?.close();
      client?.close();
      await server?.stop();
      await labDown(instance);
    });
    try {
      server = await startServerProcess({ instance, statePath: `${ROOT}/lab/cluster.yaml`, configPath: `${ROOT}/lab/config.yaml` });
      client = await server.client();
      const c = await waitConverged(client, { timeoutMs: 120_000 });
      if (!c.done) throw new Error(`the server did not converge: ${c.waiting.join('; ')}`);
      ui = await startUi({ instance, host: '127.0.0.1', port: 0 });
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], headless: true });
      blank = http.createServer((_req, res) => res.end('<!DOCTYPE html><title>blank</title><p>blank</p>'));
      await new Promise<void>((r) => blank!.listen(0, '127.0.0.1', () => r()));
      const blankUrl = `http://127.0.0.1:${(blank.address() as AddressInfo).port}/`;

      await firstRender(browser, ui.url); // warm: Chromium's caches, the bundle read
      const renders: number[] = [];
      const blanks: number[] = [];
      for (let i = 0; i < runs; i++) {
        blanks.push(await blankLoad(browser, blankUrl));
        renders.push(await firstRender(browser, ui.url));
      }
      ctx.log(`first render: ${renders.map((x) => x.toFixed(0)).join(', ')} ms; blank page: ${blanks.map((x) => x.toFixed(0)).join(', ')} ms`);

      // 1,000 pods, Pending; the page open on them.
      ctx.log(`creating ${nPods} pods`);
      await inParallel([...Array(nPods).keys()], 16, async (i) => void (await client!.create(PODS, pendingPod(i))));
      const page: Page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      const t0 = performance.now();
      await page.goto(ui.url);
      await page.waitForFunction((n) => (window as unknown as { labUi?: LabUi }).labUi?.ids().filter((id) => id.startsWith('pod/default/bench-ui-')).length === n, nPods, { polling: 200, timeout: 300_000 });
      await page.evaluate(() => (window as unknown as { labUi: LabUi }).labUi.idle());
      const bigRender = performance.now() - t0;
      const inPage = await page.evaluate(() => ({ layout: document.body.dataset.layoutMs, apply: document.body.dataset.applyMs, applied: document.body.dataset.modelApplied }));
      ctx.log(`first render with ${nPods} pods: ${bigRender.toFixed(0)} ms (in the page: ${JSON.stringify(inPage)})`);

      // The floor: the same writes seen by a plain informer here.
      const seen = new Map<string, (t: number) => void>();
      informer = new Informer<BenchPod>(client.listWatch(PODS, { namespace: 'default', labelSelector: 'bench=ui' }), { name: 'pods' });
      const created = new Map<string, number>();
      informer.addHandlers({
        add: (p) => void created.set(p.metadata.name, performance.now()),
        update: (_o, p) => {
          const k = `${p.metadata.name}#${Number(p.status?.containerStatuses?.[0]?.restartCount ?? 0)}`;
          seen.get(k)?.(performance.now());
        },
      });
      informer.start();
      await informer.waitForSync();

      const e2e: number[] = [];
      const floor: number[] = [];
      const apply: number[] = [];
      const delivery: number[] = [];
      for (let k = 0; k < nUpdates; k++) {
        const name = `bench-ui-${k % nPods}`;
        const restarts = k + 1; // new on every update
        const informed = new Promise<number>((r) => seen.set(`${name}#${restarts}`, r));
        const start = performance.now();
        await client.mutate<BenchPod>(PODS, 'default', name, (p) => ({ ...p, status: { ...p.status, containerStatuses: [{ name: 'c', ready: false, restartCount: restarts, image: 'busybox', imageID: '', state: { waiting: { reason: 'ContainerCreating' } }, lastState: {} }] } }), { subresource: 'status' });
        await page.waitForFunction(([id, n]) => document.querySelector(`#objects button[data-id="${id}"]`)?.textContent?.includes(`restarts ${n} `) ?? false, [`pod/default/${name}`, restarts] as const, { polling: 'raf', timeout: 10_000 });
        e2e.push(performance.now() - start);
        floor.push((await informed) - start);
        const d = await page.evaluate(() => ({ apply: document.body.dataset.applyMs ?? 'NaN', delivery: document.body.dataset.deliveryMs ?? 'NaN' }));
        apply.push(Number(d.apply));
        delivery.push(Number(d.delivery));
        seen.delete(`${name}#${restarts}`);
      }

      // A scale-up: new pods created in the API until the page has drawn them all (laid out), against
      // the same creations reaching the plain informer; and whether anything drawn moved.
      const nNew = Number(ctx.options.added ?? 20);
      const fresh = Array.from({ length: nNew }, (_, i) => nPods + i);
      const watched = Array.from({ length: 50 }, (_, i) => `pod/default/bench-ui-${i * Math.floor(nPods / 50)}`);
      type Pos = Record<string, { x: number; y: number } | null>;
      const where = (ids: string[]) => page.evaluate((xs) => Object.fromEntries(xs.map((id) => [id, (window as unknown as { labUi: { position(id: string): { x: number; y: number } | null } }).labUi.position(id)])), ids) as Promise<Pos>;
      const before = await where(watched);
      const s0 = performance.now();
      await inParallel(fresh, 16, async (i) => void (await client!.create(PODS, pendingPod(i))));
      await page.waitForFunction((ids) => {
        const have = new Set((window as unknown as { labUi: LabUi }).labUi.ids());
        return ids.every((id) => have.has(id));
      }, fresh.map((i) => `pod/default/bench-ui-${i}`), { polling: 'raf', timeout: 60_000 });
      await page.evaluate(() => (window as unknown as { labUi: LabUi }).labUi.idle());
      const scaleDrawn = performance.now() - s0;
      const scaleInformed = Math.max(...fresh.map((i) => created.get(`bench-ui-${i}`) ?? NaN)) - s0;
      const scaleLayout = await page.evaluate(() => ({ ms: Number(document.body.dataset.layoutMs), kind: document.body.dataset.layoutKind ?? '' }));
      const after = await where(watched);
      const moved = watched.filter((id) => JSON.stringify(before[id]) !== JSON.stringify(after[id]));
      ctx.log(`scale-up of ${nNew} pods: drawn in ${scaleDrawn.toFixed(0)} ms (informer: ${scaleInformed.toFixed(0)} ms; the page's last layout: ${scaleLayout.kind}, ${scaleLayout.ms} ms); of ${watched.length} pods drawn before, ${moved.length} moved`);
      if (moved.length) throw new Error(`the scale-up moved pods that were drawn: ${moved.slice(0, 5).join(', ')}`);
      await page.close();
      const p99 = (xs: number[]) => percentile(xs, 99);
      ctx.note(`The first render with ${nPods} pods (Pending, on no node: the page packs them in rows) is from navigating to the page until every pod is drawn and laid out, against the default scenario's first render in the same run. The scale-up creates ${nNew} more Pending pods through the API (16 at a time) and waits until the page has drawn and laid out them all; its floor is the last creation reaching a plain informer in this process. The run fails if any of 50 pods drawn before the scale-up moved.`);
      ctx.note(`The floor of the first render loads a blank page from a plain Node HTTP server in the same Chromium. The update figures write a pod's status (its restart count) through the API (GET + PUT of pods/status) with ${nPods} Pending pods in the API and the page open on them; 'drawn' is when the page's list shows the new count (polled each animation frame), which includes the API's write and watch (the floor), the ui server's model, the WebSocket and the page's apply. 'From the ui server's send to drawn' is the page's part: the model's JSON over the WebSocket, parsed and applied (Cytoscape data, the object list), timed with the machine's clock by the server and the page.`);
      const figures: Figure[] = [
        { name: 'first render of the default scenario (median)', value: median(renders), unit: 'ms', floor: median(blanks) },
        { name: `first render with ${nPods} pods (against the default scenario's)`, value: bigRender, unit: 'ms', floor: median(renders) },
        { name: `${nPods} pods: of which the page's first layout (ELK in its worker)`, value: Number(inPage.layout), unit: 'ms' },
        { name: `${nPods} pods, ${nNew} more created: until the page has drawn them all (against the plain informer's receipt)`, value: scaleDrawn, unit: 'ms', floor: scaleInformed },
        { name: `${nPods} pods, ${nNew} more created: the page's layout of them`, value: scaleLayout.ms, unit: 'ms' },
        { name: `${nPods} pods: a pod's status written until drawn in the page, p99`, value: p99(e2e), unit: 'ms', goal: 100 },
        { name: `${nPods} pods: the same, against a plain informer's receipt of it (p99)`, value: p99(e2e), unit: 'ms', floor: p99(floor) },
        { name: `${nPods} pods: a watch update applied in the page: from the ui server's send to drawn in Chromium, p99`, value: p99(delivery), unit: 'ms', goal: 100 },
        { name: `${nPods} pods: of which the page's apply of the model, p99`, value: p99(apply), unit: 'ms' },
        { name: `${nPods} pods: written until drawn, median`, value: median(e2e), unit: 'ms' },
      ];
      return figures;
    } finally {
      await cleanup();
    }
  },
};
