// Issue 16 acceptance: `lab ui` against a real sandbox lab of the default scenario, in a real
// headless Chromium (Debian's, driven by playwright-core). The page must show what the API holds
// (checked against kubectl), follow a `lab kill` live without a reload, light the path a real
// `lab trace` took, and refuse requests without the token or with a foreign Host/Origin.
// Screenshots go to test/artifacts/ui/ (ignored by git).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { chromium, type Browser, type Page } from 'playwright-core';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUi, type UiServer } from '../../src/cli/ui-server.ts';
import { downAndRemove, instanceName, isRoot, kubectlFor, lab, LAB_BIN, ROOT, upWithKubeconfig } from './helpers.ts';

const I = instanceName('e2eui');
const ARTIFACTS = path.join(ROOT, 'test/artifacts/ui');
const CHROMIUM = '/usr/bin/chromium';

interface Obj {
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  status?: { podIP?: string };
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A raw GET with chosen headers (fetch would not let a test set Host). */
function rawGet(port: number, pathname: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: pathname, headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

function wsRefused(port: number, pathname: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${pathname}`, { headers });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('open', () => {
      resolve(101);
      ws.close();
    });
    ws.on('error', () => resolve(-1));
  });
}

describe.skipIf(!isRoot)('lab ui: the live picture in a real Chromium', () => {
  let dir: string;
  let kubectlOk: (args: string[]) => Promise<string>;
  let ui: ChildProcess | null = null;
  let url = '';
  let port = 0;
  let browser: Browser | null = null;
  let page: Page;
  const consoleErrors: string[] = [];
  const failedRequests: string[] = [];
  const shot = (name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    dir = await mkdtemp(path.join(os.tmpdir(), 'pplt-ui-'));
    const kubeconfig = await upWithKubeconfig(I, dir);
    kubectlOk = kubectlFor(() => kubeconfig).kubectlOk;
    port = await freePort();
    ui = spawn(process.execPath, [LAB_BIN, 'ui', '--name', I, '--port', String(port)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    ui.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const first = await new Promise<string>((resolve, reject) => {
      const rl = readline.createInterface({ input: ui!.stdout! });
      rl.once('line', resolve);
      ui!.once('exit', (code) => reject(new Error(`lab ui exited (${code}) before printing its URL:\n${stderr}`)));
      setTimeout(() => reject(new Error(`lab ui printed no URL in 60 s:\n${stderr}`)), 60_000);
    });
    url = first;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], headless: true });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    page.on('requestfailed', (r) => failedRequests.push(`${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
    page.on('response', (r) => {
      if (r.status() >= 400) failedRequests.push(`${r.request().method()} ${r.url()}: HTTP ${r.status()}`);
    });
  }, 300_000);

  afterAll(async () => {
    // Chromium first (its processes end with it), then lab ui, then the lab.
    await browser?.close().catch(() => {});
    if (ui && ui.exitCode === null) {
      const exited = new Promise((r) => ui!.once('exit', r));
      ui.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (ui.exitCode === null) ui.kill('SIGKILL');
    }
    await downAndRemove(I, dir);
  }, 300_000);

  it('prints the URL with its token first; the page shows every pod, Service, node and the Ingress', async () => {
    expect(url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/\\?token=[A-Za-z0-9_-]{20,}$`));
    await page.goto(url);
    await page.waitForSelector('#status.live');
    const all = JSON.parse(await kubectlOk(['get', 'pods,services,nodes,ingresses', '-A', '-o', 'json'])) as { items: Obj[] };
    const ids = all.items.map((o) => {
      const ns = o.metadata.namespace ?? 'default';
      return o.kind === 'Pod' ? `pod/${ns}/${o.metadata.name}` : o.kind === 'Service' ? `svc/${ns}/${o.metadata.name}` : o.kind === 'Node' ? `node/${o.metadata.name}` : `ing/${ns}/${o.metadata.name}`;
    });
    expect(ids.filter((i) => i.startsWith('ing/'))).toHaveLength(1);
    expect(ids.filter((i) => i.startsWith('pod/default/app2-'))).toHaveLength(3);
    // Every one of them in the list and in the picture.
    await page.waitForFunction((want) => want.every((id) => document.querySelector(`#objects button[data-id="${id}"]`)), ids, { timeout: 10_000 });
    const drawn = await page.evaluate(() => (window as unknown as { labUi: { ids(): string[] } }).labUi.ids());
    for (const id of ids) expect(drawn).toContain(id);
    // kube-proxy's chains, read from the node's kernel: app2-service's KUBE-SVC with three KUBE-SEP.
    const chains = drawn.filter((id) => id.startsWith('chain/KUBE-SEP-'));
    expect(chains.length).toBeGreaterThanOrEqual(3);
    expect(drawn.some((id) => /^e\/chain\/KUBE-SVC-.*->chain\/KUBE-SEP-/.test(id))).toBe(true);
    // Clicking (Enter on the list) shows what `lab describe` says.
    const app2 = ids.find((i) => i.startsWith('pod/default/app2-'))!;
    await page.focus(`#objects button[data-id="${app2}"]`);
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => /IP:|Node:/.test(document.getElementById('details-text')!.textContent ?? ''), undefined, { timeout: 15_000 });
    await shot('1-topology');
  });

  it('follows a lab kill of an app2 pod within 2 s without reload, and it comes back', async () => {
    const pod = await page.evaluate(() => [...document.querySelectorAll<HTMLButtonElement>('#objects button[data-id^="pod/default/app2-"]')].map((b) => b.dataset.id!)[0]!);
    const name = pod.split('/')[2]!;
    const other = await page.evaluate((p) => [...document.querySelectorAll<HTMLButtonElement>('#objects button[data-id^="pod/default/app"]')].map((b) => b.dataset.id!).find((x) => x !== p)!, pod);
    const where = (id: string) => page.evaluate(async (i) => {
      const ui = (window as unknown as { labUi: { position(id: string): { x: number; y: number } | null; idle(): Promise<void> } }).labUi;
      await ui.idle();
      return ui.position(i);
    }, id);
    const before = await where(other);
    await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
    const text0 = await page.textContent(`#objects button[data-id="${pod}"]`);
    expect(text0).toMatch(/restarts 0/);
    const k = await lab(['kill', name, '--name', I]);
    expect(k.code, k.stderr).toBe(0);
    const t0 = Date.now();
    await page.waitForFunction((id) => {
      const b = document.querySelector<HTMLButtonElement>(`#objects button[data-id="${id}"]`);
      return b && (b.dataset.state !== 'Ready' || !/restarts 0/.test(b.textContent ?? ''));
    }, pod, { timeout: 2000 });
    const changedMs = Date.now() - t0;
    expect(changedMs).toBeLessThanOrEqual(2000);
    await shot('2-killed');
    // Back: restarted, ready, in the Service's chains again; the page never reloaded.
    await page.waitForFunction((id) => {
      const b = document.querySelector<HTMLButtonElement>(`#objects button[data-id="${id}"]`);
      return b && b.dataset.state === 'Ready' && /restarts 1/.test(b.textContent ?? '');
    }, pod, { timeout: 60_000 });
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    // Its DNAT edge back (kube-proxy wrote its KUBE-SEP again), and an untouched pod did not move.
    await page.waitForFunction((id) => (window as unknown as { labUi: { ids(): string[] } }).labUi.ids().some((e) => e.endsWith(`->${id}`) && e.startsWith('e/chain/KUBE-SEP-')), pod, { timeout: 10_000 });
    await new Promise((r) => setTimeout(r, 1500)); // the server's follow-up looks at the kernel
    expect(await where(other)).toEqual(before);
    await shot('3-back');
  }, 90_000);

  it("Break it: the kill button shows the crash flow in time, kubelet -> API -> endpoints -> kube-proxy with the evidence of each, lit on the picture; the pod leaves its Service and comes back", async () => {
    // An app2 pod not killed yet (no back-off): its Service keeps two endpoints meanwhile.
    const pod = await page.evaluate(() => [...document.querySelectorAll<HTMLButtonElement>('#objects button[data-id^="pod/default/app2-"]')].find((b) => /restarts 0/.test(b.textContent ?? ''))!.dataset.id!);
    const name = pod.split('/')[2]!;
    await page.click(`#objects button[data-id="${pod}"]`);
    await page.click('#details-actions button.kill');
    await page.waitForSelector(`#crash[data-pod="${pod}"]`);
    // Mid-flow: kube-proxy has taken the endpoint out.
    await page.waitForFunction(() => (window as unknown as { labCrash: { steps(): { step?: string }[] } }).labCrash.steps().some((s) => s.step === 'kube-proxy'), undefined, { timeout: 30_000 });
    await shot('5-crash-out');
    await page.waitForSelector('#crash[data-state="done"]', { timeout: 70_000 });
    type Step = { at: number; who: string; what: string; step?: string; direction?: string; evidence?: string[]; chains?: string[]; resourceVersion?: string };
    const { steps, history, drawn } = await page.evaluate(() => {
      const c = (window as unknown as { labCrash: { steps(): unknown[]; history(): unknown[]; drawn(): unknown[] } }).labCrash;
      return { steps: c.steps(), history: c.history(), drawn: c.drawn() };
    }) as { steps: Step[]; history: { step?: string; direction?: string; lit: string[]; out: boolean }[]; drawn: { sepEdge: boolean }[] };
    // The four roles in order on the way out, then again on the way back, at times that only grow.
    const at = (step: string, dir: string, from = 0) => steps.findIndex((s, i) => i >= from && s.step === step && s.direction === dir);
    const out = ['kubelet', 'API', 'endpoints', 'kube-proxy'].map((r) => at(r, 'out'));
    const back = ['kubelet', 'API', 'endpoints', 'kube-proxy'].map((r) => at(r, 'in', out[3]!));
    expect(out.every((i) => i >= 0), JSON.stringify(steps, null, 1)).toBe(true);
    expect(back.every((i) => i >= 0), JSON.stringify(steps, null, 1)).toBe(true);
    expect([...out, ...back]).toEqual([...out, ...back].sort((x, y) => x - y));
    for (let i = 1; i < steps.length; i++) expect(steps[i]!.at).toBeGreaterThanOrEqual(steps[i - 1]!.at);
    // Real evidence: the API's watch events with their resourceVersions, the slice's endpoint conditions, the kernel's rules.
    const [kubelet, api, endpoints, proxy] = out.map((i) => steps[i]!);
    expect(kubelet!.what).toMatch(/exited \(Error, exit code 137\)/);
    expect(kubelet!.evidence!.join('\n')).toMatch(new RegExp(`watch: MODIFIED pod default/${name} resourceVersion \\d+`));
    expect(api!.what).toContain('Ready=False');
    expect(api!.evidence).toContain('status.conditions[Ready]: False (ContainersNotReady)');
    expect(endpoints!.evidence!.join('\n')).toMatch(/EndpointSlice default\/app2-service-\S+ resourceVersion \d+ \(kubernetes.io\/service-name=app2-service\)/);
    expect(endpoints!.evidence!.join('\n')).toMatch(/conditions ready=false/);
    expect(Number(endpoints!.resourceVersion)).toBeGreaterThan(Number(api!.resourceVersion));
    expect(proxy!.evidence![0]).toBe('iptables-save -t nat, in the node');
    expect(proxy!.evidence!.join('\n')).toMatch(/^- -A KUBE-SVC-\S+ .*-j KUBE-SEP-\S+$/m);
    const [svcChain, sepChain] = proxy!.chains!;
    expect(svcChain).toMatch(/^KUBE-SVC-/);
    expect(sepChain).toMatch(/^KUBE-SEP-/);
    expect(steps[back[3]!]!.evidence!.join('\n')).toMatch(/^\+ -A KUBE-SVC-\S+ .*-j KUBE-SEP-\S+$/m);
    // The pod's Events came through the API too (the kubelet's, as kubectl describe lists them).
    expect(steps.some((s) => s.step === 'event' && /^Event \(kubelet\)$/.test(s.who))).toBe(true);
    // The timeline shows them in that order, each with its offset from the kill and its evidence.
    const rows = await page.$$eval('#crash-steps li', (lis) => lis.map((li) => ({ step: li.getAttribute('data-step'), text: li.textContent ?? '', evidence: li.querySelector('pre.evidence')?.textContent ?? '' })));
    expect(rows.map((r) => r.step)).toEqual(steps.map((s) => s.step ?? ''));
    expect(rows[out[3]!]!.text).toMatch(/^\+\d+ ms kube-proxy/);
    expect(rows[out[3]!]!.evidence).toContain(sepChain);
    expect(await page.getAttribute('#crash', 'data-out')).toBe('true');
    expect(await page.getAttribute('#crash', 'data-back')).toBe('true');
    // On the picture: each step lit its elements as it came; the pod drawn out of its Service (its
    // KUBE-SEP edge gone from the kernel's rules) and back in.
    expect(history[out[0]!]!.lit).toContain(pod);
    expect(history[out[2]!]!.lit).toContain('svc/default/app2-service');
    expect(history[out[3]!]!.lit).toContain(`chain/${svcChain}`);
    expect(history[out[3]!]!.out).toBe(true);
    expect(history.at(-1)!.out).toBe(false);
    const gone = drawn.findIndex((d) => !d.sepEdge);
    expect(gone, JSON.stringify(drawn)).toBeGreaterThan(0);
    // Back on the picture once the server looked at the kernel again (it may draw it after the stream's end).
    await page.waitForFunction(() => {
      const d = (window as unknown as { labCrash: { drawn(): { sepEdge: boolean }[] } }).labCrash.drawn();
      const i = d.findIndex((x) => !x.sepEdge);
      return i > 0 && d.slice(i).some((x) => x.sepEdge);
    }, undefined, { timeout: 10_000 });
    await page.waitForFunction((id) => document.querySelector<HTMLButtonElement>(`#objects button[data-id="${id}"]`)?.dataset.state === 'Ready', pod, { timeout: 30_000 });
    expect(await page.textContent('#crash-text')).toContain(`pod/${name}: sent SIGKILL`);
    await shot('5-crash-flow');
  }, 120_000);

  it('a request to app2.com sent from the page lights ingress -> app2-service -> the one app2 pod the trace reports', async () => {
    await page.fill('#url', 'http://app2.com/');
    await page.selectOption('#from', 'laptop');
    await page.click('#send-button');
    await page.waitForSelector('#trace[data-state="done"]', { timeout: 30_000 });
    const answered = await page.getAttribute('#trace', 'data-answered');
    expect(answered).toMatch(/^pod\/default\/app2-/);
    expect(await page.textContent('#trace-summary')).toContain(`answered by ${answered!.split('/')[2]}`);
    const lit = await page.evaluate(() => (window as unknown as { labUi: { lit(): string[] } }).labUi.lit());
    const pathAttr = (await page.getAttribute('#trace', 'data-path'))!.split(' ');
    expect(lit).toContain('ing/default/apps-ingress');
    expect(lit).toContain('svc/default/app2-service');
    expect(lit).toContain('svc/kube-system/ingress-nginx');
    const litApp2 = lit.filter((id) => id.startsWith('pod/default/app2-'));
    expect(litApp2).toEqual([answered]);
    // In this order: ingress, then app2-service, then the pod.
    const at = (id: string) => pathAttr.indexOf(id);
    expect(at('ing/default/apps-ingress')).toBeGreaterThan(0);
    expect(at('svc/default/app2-service')).toBeGreaterThan(at('ing/default/apps-ingress'));
    expect(at(answered!)).toBeGreaterThan(at('svc/default/app2-service'));
    // The list says it too (keyboard and screen-reader users).
    expect(await page.getAttribute(`#objects button[data-id="${answered}"]`, 'data-lit')).toBe('true');
    await shot('4-request');
  }, 60_000);

  it('a click on a pod (Enter on the list) shows its kernel objects, conntrack entries among them, and its Events', async () => {
    const pod = (await page.getAttribute('#trace', 'data-answered'))!;
    const ip = await page.evaluate((id) => /IP (\S+)/.exec(document.querySelector(`#objects button[data-id="${id}"]`)!.textContent ?? '')![1]!, pod);
    await page.focus(`#objects button[data-id="${pod}"]`);
    await page.keyboard.press('Enter');
    await page.waitForSelector(`#kernel[data-loaded="${pod}"]`, { timeout: 15_000 });
    await page.waitForSelector(`#events[data-loaded="${pod}"]`, { timeout: 15_000 });
    // Rules with counters: the pod's KUBE-SEP chain (its DNAT) and the KUBE-SVC jump to it.
    const rules = await page.$$eval('#kernel table.rules tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
    expect(rules.some((r) => /^\d+$/.test(r[0]!) && r[3]!.includes(`--to-destination ${ip}:80`))).toBe(true);
    expect(rules.some((r) => /^-A KUBE-SVC-\S+ .*-j KUBE-SEP-/.test(r[3]!))).toBe(true);
    expect(await page.textContent('#kernel pre.routes')).toContain(`dev cni0`);
    // The request just sent went to this pod: its conntrack entry, DNAT from app2-service's ClusterIP.
    const ct = await page.$$eval('#kernel table.conntrack tbody tr', (trs) => trs.map((tr) => tr.textContent ?? ''));
    expect(ct.some((r) => r.includes(`-> ${ip}:80`) && r.includes('DNAT')), ct.join('\n')).toBe(true);
    // Its Events from the API, kubectl get events's columns; the kill of the earlier test among them.
    const head = await page.$$eval('#events table.events thead th', (ths) => ths.map((th) => th.textContent));
    expect(head).toEqual(['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'FROM', 'MESSAGE']);
    const events = await page.$$eval('#events table.events tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e) => e[3] === `pod/${pod.split('/')[2]}`)).toBe(true);
    expect(events.some((e) => e[2] === 'Started' && e[4]!.startsWith('kubelet'))).toBe(true);
    // Keyboard: each section's body is reachable with Tab.
    expect(await page.getAttribute('#kernel .panel-body', 'tabindex')).toBe('0');
    expect(await page.getAttribute('#events .panel-body', 'tabindex')).toBe('0');
    await page.$eval('#kernel', (e) => e.scrollIntoView({ block: 'start' }));
    await shot('6-click-kernel-events');
  }, 60_000);

  it('refuses a request without the token, or with a foreign Host or Origin', async () => {
    const token = new URL(url).searchParams.get('token')!;
    const host = `127.0.0.1:${port}`;
    expect(await rawGet(port, `/?token=${token}`, { Host: host })).toBe(200);
    expect(await rawGet(port, '/', { Host: host })).toBe(401);
    expect(await rawGet(port, '/app.js', { Host: host })).toBe(401);
    expect(await rawGet(port, '/api/model', { Host: host, Cookie: 'lab-ui-token=wrong' })).toBe(401);
    expect(await rawGet(port, `/?token=${token}`, { Host: 'evil.example' })).toBe(403);
    expect(await rawGet(port, `/?token=${token}`, { Host: `evil.example:${port}` })).toBe(403);
    expect(await rawGet(port, `/api/model?token=${token}`, { Host: host, Origin: 'http://evil.example' })).toBe(403);
    expect(await wsRefused(port, '/ws', { Host: host, Origin: `http://${host}` })).toBe(401);
    expect(await wsRefused(port, `/ws?token=${token}`, { Host: 'evil.example', Origin: `http://${host}` })).toBe(403);
    expect(await wsRefused(port, `/ws?token=${token}`, { Host: host, Origin: 'http://evil.example' })).toBe(403);
    expect(await wsRefused(port, `/ws?token=${token}`, { Host: host, Origin: `http://${host}` })).toBe(101);
    // A bad name never reaches a command.
    expect(await rawGet(port, `/api/describe?token=${token}&id=pod/default/..%2Fetc`, { Host: host })).toBe(400);
    expect(await rawGet(port, `/api/chain?token=${token}&chain=KUBE-SVC-X;reboot`, { Host: host })).toBe(400);
  });

  it('a scale-up draws the new pod and its KUBE-SEP chain without reshuffling: what was drawn stays (or its compound moves whole to make room)', async () => {
    type Ui = { ids(): string[]; position(id: string): { x: number; y: number } | null; idle(): Promise<void> };
    const positions = () => page.evaluate(async () => {
      const ui = (window as unknown as { labUi: Ui }).labUi;
      await ui.idle();
      return Object.fromEntries(ui.ids().map((id) => [id, ui.position(id)]).filter(([, p]) => p !== null)) as Record<string, { x: number; y: number }>;
    });
    const counts = () => page.evaluate(() => JSON.parse(document.body.dataset.layoutCounts ?? '{}') as { full: number; compounds: number; room: number });
    const before = await positions();
    const counts0 = await counts();
    const app2Before = Object.keys(before).filter((id) => id.startsWith('pod/default/app2-'));
    expect(app2Before).toHaveLength(3);
    await kubectlOk(['scale', 'deploy', 'app2', '--replicas=4']);
    try {
      // The new pod, Running and in app2-service's chains (kube-proxy wrote its KUBE-SEP): drawn in the page.
      await page.waitForFunction((old) => {
        const ids = (window as unknown as { labUi: Ui }).labUi.ids();
        const fresh = ids.find((id) => id.startsWith('pod/default/app2-') && !old.includes(id));
        return !!fresh && ids.some((e) => e.startsWith('e/chain/KUBE-SEP-') && e.endsWith(`->${fresh}`));
      }, app2Before, { timeout: 60_000 });
      const after = await positions();
      const fresh = Object.keys(after).filter((id) => !(id in before));
      expect(fresh.some((id) => id.startsWith('pod/default/app2-'))).toBe(true);
      expect(fresh.some((id) => id.startsWith('chain/KUBE-SEP-'))).toBe(true);
      // Laid out by its compound alone: every element that was drawn is where it was. Or, when the
      // compound that grew would have covered another one, compounds moved whole to make room: each
      // top-level compound's elements all moved by one offset (nothing reshuffled inside any).
      const counts1 = await counts();
      expect(counts1.full).toBe(counts0.full);
      expect(counts1.compounds + counts1.room).toBeGreaterThan(counts0.compounds + counts0.room);
      const kind = counts1.room === counts0.room ? 'compounds' : 'room';
      const model = await page.evaluate(() => fetch('/api/model').then((r) => r.json())) as { elements: { id: string; parent?: string; kind: string }[] };
      const parent = new Map(model.elements.map((e) => [e.id, e.parent]));
      const topOf = (id: string): string => (parent.get(id) ? topOf(parent.get(id)!) : id);
      // (A compound's box is its children's: a node's grows around its new pod.)
      const stayed = Object.keys(before).filter((id) => id in after && !/^(node|group)\//.test(id));
      expect(stayed.length).toBeGreaterThan(10);
      const offsets = new Map<string, { x: number; y: number }>();
      for (const id of stayed) {
        const d = { x: Math.round((after[id]!.x - before[id]!.x) * 100) / 100, y: Math.round((after[id]!.y - before[id]!.y) * 100) / 100 };
        const top = id.startsWith('pod/') && !parent.get(id) ? '(pods on no node)' : topOf(id);
        if (kind === 'compounds') expect({ id, d }).toEqual({ id, d: { x: 0, y: 0 } });
        const first = offsets.get(top) ?? d;
        offsets.set(top, first);
        expect({ id, top, d }).toEqual({ id, top, d: first });
      }
      await shot('6-scaled-up');
    } finally {
      await kubectlOk(['scale', 'deploy', 'app2', '--replicas=3']);
    }
    await page.waitForFunction(() => (window as unknown as { labUi: Ui }).labUi.ids().filter((id) => id.startsWith('pod/default/app2-')).length === 3, undefined, { timeout: 60_000 });
  }, 120_000);

  it('had no console error and no failed request in the page', () => {
    expect(consoleErrors.join('\n')).toBe('');
    expect(failedRequests.join('\n')).toBe('');
  });
});

describe.skipIf(!isRoot)("lab ui in kube-proxy's nftables mode, with an agent node", () => {
  const N = instanceName('e2euinft');
  let dir: string;
  let kubectlOk: (args: string[]) => Promise<string>;
  let ui: UiServer | null = null;
  let browser: Browser | null = null;
  const errors: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'pplt-uinft-'));
    const config = path.join(dir, 'config.yaml');
    await writeFile(config, `${await readFile(path.join(ROOT, 'lab/config.yaml'), 'utf8')}\nkube-proxy-arg: [proxy-mode=nftables]\n`);
    const kubeconfig = await upWithKubeconfig(N, dir, ['--config', config, '--nodes', '2'], 240_000);
    kubectlOk = kubectlFor(() => kubeconfig).kubectlOk;
    ui = await startUi({ instance: N, host: '127.0.0.1', port: 0 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], headless: true });
  }, 300_000);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await ui?.close().catch(() => {});
    await downAndRemove(N, dir);
  }, 300_000);

  it("draws app2-service's nftables service chain and its numgen vmap to one endpoint chain per app2 pod, DNAT to each; no KUBE-SVC / KUBE-SEP; the agent's interfaces from its own kernel", async () => {
    const page = await browser!.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(ui!.url);
    await page.waitForSelector('#status.live');
    const pods = (JSON.parse(await kubectlOk(['get', 'pods', '-l', 'app=app2', '-o', 'json'])) as { items: Obj[] }).items.map((p) => `pod/default/${p.metadata.name}`);
    expect(pods).toHaveLength(3);
    // Every app2 pod reached from app2-service's service chain through an endpoint chain (kube-proxy's table, read from the node).
    const ids = await page.waitForFunction((want) => {
      const ids = (window as unknown as { labUi: { ids(): string[] } }).labUi.ids();
      return want.every((pod) => ids.some((e) => /^e\/chain\/endpoint-[A-Z0-9]+-default\/app2-service\/tcp\/http__/.test(e) && e.endsWith(`->${pod}`))) && ids;
    }, pods, { timeout: 30_000 }).then((h) => h.jsonValue() as Promise<string[]>);
    const svcChain = ids.find((id) => /^chain\/service-[A-Z0-9]+-default\/app2-service\/tcp\/http$/.test(id));
    expect(svcChain).toBeDefined();
    expect(ids).toContain(`e/svc/default/app2-service->${svcChain}`);
    const toEndpoints = ids.filter((id) => id.startsWith(`e/${svcChain}->chain/endpoint-`));
    expect(toEndpoints).toHaveLength(3);
    expect(ids.some((id) => id.startsWith('chain/KUBE-'))).toBe(false);
    await page.evaluate(() => (window as unknown as { labUi: { idle(): Promise<void> } }).labUi.idle());
    expect(await page.textContent('#instance')).toContain('kube-proxy nftables');
    // Each endpoint chain's share of the numgen slots is on its edge (the model the page drew).
    expect(ui!.model()!.elements.filter((e) => toEndpoints.includes(e.id)).map((e) => e.label)).toEqual(['1/3', '1/3', '1/3']);
    // The agent's interfaces, read in its own namespace (the API alone gives no prefix length).
    const nodes = (JSON.parse(await kubectlOk(['get', 'nodes', '-o', 'json'])) as { items: { metadata: { name: string; labels: Record<string, string> }; status: { addresses: { type: string; address: string }[] } }[] }).items;
    const agent = nodes.find((n) => !('node-role.kubernetes.io/control-plane' in n.metadata.labels))!;
    expect(agent).toBeDefined();
    const agentIP = agent.status.addresses.find((a) => a.type === 'InternalIP')!.address;
    const els = new Map(ui!.model()!.elements.map((e) => [e.id, e]));
    expect(els.get(`if/${agent.metadata.name}/eth1`)?.label).toBe(`eth1\n${agentIP}/24`);
    expect(els.get(`if/${agent.metadata.name}/cni0`)?.label).toMatch(/^cni0\n10\.42\.\d+\.1\/24$/);
    // A click on the service chain: its rules as nft lists them, and the service-ips element that sends packets there.
    await page.focus(`#objects button[data-id="${svcChain}"]`);
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => /numgen random mod 3 vmap/.test(document.getElementById('details-text')?.textContent ?? ''), undefined, { timeout: 15_000 });
    const chainText = (await page.textContent('#details-text'))!;
    expect(chainText).toContain(`$ nft -a list chain ip kube-proxy ${svcChain!.slice('chain/'.length)}`);
    expect(chainText).toMatch(/sent here by:\n {2}map service-ips: \S+ \. tcp \. 80 (comment "default\/app2-service:http" )?: goto service-/);
    await page.screenshot({ path: path.join(ARTIFACTS, '7-nftables.png') });
    expect(errors).toEqual([]);
    await page.close();
  }, 90_000);
});
