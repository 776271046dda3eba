// `lab ui`'s page: draws the model the server sends over its WebSocket (src/ui/model.ts) with
// Cytoscape.js, laid out by ELK in a Web Worker (./layout.ts: each compound on its own, a node's
// pods packed in rows). The first layout is deterministic (elements in the model's order): the
// same cluster always draws the same picture. An update that only changes states (a pod's phase,
// its restarts) moves nothing; an element that leaves is removed where it was; new elements are
// laid out within their compound and nothing drawn moves. Everything is also a list of buttons (keyboard: Tab, Enter).
import cytoscape, { type Core, type ElementDefinition, type NodeSingular } from 'cytoscape';
import type { UiElement, UiModel } from '../model.ts';
import { initCrash } from './crash.ts';
import { Layouter } from './layout.ts';
import { initPanel } from './panel.ts';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const statusEl = $('status');
const objectsEl = $<HTMLUListElement>('objects');
const fromEl = $<HTMLSelectElement>('from');
const detailsTitle = $('details-title');
const detailsText = $('details-text');
const detailsActions = $('details-actions');

let model: UiModel | null = null;
let selected: string | null = null;
const lit = new Set<string>();

const cy: Core = cytoscape({
  container: $('graph'),
  wheelSensitivity: 0.3,
  minZoom: 0.15,
  maxZoom: 3,
  style: [
    { selector: 'node', style: { label: 'data(label)', 'text-wrap': 'wrap', 'font-size': 10, 'text-valign': 'center', 'text-halign': 'center', shape: 'round-rectangle', width: 'label', height: 'label', padding: '6px', 'background-color': '#e5e7eb', 'border-width': 1, 'border-color': '#9ca3af' } },
    { selector: ':parent', style: { 'text-valign': 'top', 'text-halign': 'center', 'background-opacity': 0.35, 'font-weight': 'bold', padding: '14px' } },
    { selector: 'node[kind="node"]', style: { 'background-color': '#dbeafe', 'border-color': '#2563eb' } },
    { selector: 'node[kind="group"]', style: { 'background-color': '#ede9fe', 'border-color': '#7c3aed', 'border-style': 'dashed' } },
    { selector: 'node[kind="laptop"]', style: { shape: 'rectangle', 'background-color': '#fde68a', 'border-color': '#b45309' } },
    { selector: 'node[kind="iface"]', style: { shape: 'ellipse', 'background-color': '#cffafe', 'border-color': '#0891b2' } },
    { selector: 'node[kind="pod"]', style: { 'background-color': '#dcfce7', 'border-color': '#16a34a' } },
    { selector: 'node[kind="pod"].notready', style: { 'background-color': '#fee2e2', 'border-color': '#dc2626', 'border-width': 2 } },
    { selector: 'node.dns', style: { 'border-style': 'double', 'border-width': 3 } },
    { selector: 'node[kind="service"]', style: { 'background-color': '#f3e8ff', 'border-color': '#7c3aed' } },
    { selector: 'node[kind="service"].notready', style: { 'border-color': '#dc2626' } },
    { selector: 'node[kind="chain"]', style: { 'font-family': 'monospace', 'font-size': 9, 'background-color': '#fff7ed', 'border-color': '#ea580c' } },
    { selector: 'node[kind="ingress"]', style: { 'background-color': '#fef9c3', 'border-color': '#ca8a04', 'text-justification': 'left' } },
    { selector: 'edge', style: { width: 1.2, 'line-color': '#9ca3af', 'target-arrow-color': '#9ca3af', 'target-arrow-shape': 'triangle', 'curve-style': 'bezier', label: 'data(label)', 'font-size': 8, 'text-background-color': '#fff', 'text-background-opacity': 0.8, 'text-background-padding': '1px' } },
    { selector: 'edge.tunnel', style: { 'line-style': 'dashed', 'line-color': '#0891b2', 'target-arrow-shape': 'none' } },
    { selector: 'edge.endpoint', style: { 'line-style': 'dotted' } },
    { selector: ':selected', style: { 'border-color': '#f59e0b', 'border-width': 3 } },
    { selector: 'node.lit', style: { 'border-color': '#f59e0b', 'border-width': 4, 'z-index': 10 } },
    { selector: 'edge.lit', style: { 'line-color': '#f59e0b', 'target-arrow-color': '#f59e0b', width: 4, 'z-index': 10 } },
    { selector: 'node.lit-end', style: { 'background-color': '#fbbf24' } },
    { selector: '.placing', style: { visibility: 'hidden' } },
  ],
});

const layouter = new Layouter(cy);
// Break it (a pod's kill, then the crash flow in time) and the kernel objects and Events of a click.
const crash = initCrash(cy, () => model);
const panel = initPanel();

const classesOf = (e: UiElement) => [...(e.classes ?? []), ...(lit.has(e.id) ? ['lit'] : [])].join(' ');

function definition(e: UiElement): ElementDefinition {
  const data: Record<string, unknown> = { id: e.id, kind: e.kind, label: e.label, state: e.state ?? '' };
  if (e.parent) data.parent = e.parent;
  if (e.kind === 'edge') Object.assign(data, { source: e.source, target: e.target });
  return { group: e.kind === 'edge' ? 'edges' : 'nodes', data, classes: classesOf(e) };
}

/**
 * The model into the picture. Only states changed (a pod's phase, its restarts, a label): data
 * updated in place, nothing moves. Elements gone: removed where they were. New elements: added and
 * laid out where they fit, by their compound alone (./layout.ts); what was drawn stays where it is.
 * The first model is laid out whole, in the model's order (the same cluster draws the same picture).
 */
async function apply(next: UiModel): Promise<void> {
  const t0 = performance.now();
  const first = cy.elements().empty();
  model = next;
  const want = new Map(next.elements.map((e) => [e.id, e]));
  const added: string[] = [];
  cy.batch(() => {
    // Gone, or moved to another compound (drawn again as new).
    cy.elements().forEach((el) => {
      const e = want.get(el.id());
      if (!e || (el.isNode() && (el.data('parent') ?? undefined) !== e.parent)) el.remove();
    });
    const fresh = next.elements.filter((e) => cy.getElementById(e.id).empty());
    cy.add(fresh.map(definition));
    added.push(...fresh.map((e) => e.id));
    for (const e of next.elements) {
      const el = cy.getElementById(e.id);
      if (el.data('label') !== e.label || el.data('state') !== (e.state ?? '')) el.data({ label: e.label, state: e.state ?? '' });
      el.classes(classesOf(e));
    }
    // Hidden until laid out: the layout runs in a worker, and meanwhile a new element would show
    // wherever Cytoscape put it (a corner), stretching its compound over its neighbours.
    for (const id of added) cy.getElementById(id).addClass('placing');
  });
  try {
    if (first) await layouter.full();
    else if (added.length) await layouter.added(added);
  } catch (err) {
    // The picture keeps what it has; the list and the states below are still current.
    console.error(`layout: ${(err as Error).message}`);
  } finally {
    cy.elements('.placing').removeClass('placing');
  }
  if (first || added.length) {
    document.body.dataset.layoutMs = layouter.last.ms.toFixed(1);
    document.body.dataset.layoutKind = layouter.last.kind;
    document.body.dataset.layoutCounts = JSON.stringify(layouter.counts);
  }
  // The selected object stays selected, its title current (its describe text is re-read on demand).
  for (const id of selected ? [selected] : []) {
    cy.getElementById(id).select();
    const e = want.get(id);
    if (e) detailsTitle.textContent = e.summary ?? e.label;
  }
  renderObjects(next);
  $('instance').textContent = `· ${next.instance} (${next.mode}, kube-proxy ${next.proxyMode})`;
  document.body.dataset.modelApplied = String(Number(document.body.dataset.modelApplied ?? 0) + 1);
  document.body.dataset.applyMs = (performance.now() - t0).toFixed(1);
}

// Chains too: the keyboard's way to a chain's rules (the graph itself takes no focus).
const LISTED: UiElement['kind'][] = ['laptop', 'node', 'ingress', 'service', 'pod', 'chain'];

function renderObjects(m: UiModel): void {
  const items = m.elements.filter((e) => LISTED.includes(e.kind)).sort((a, b) => LISTED.indexOf(a.kind) - LISTED.indexOf(b.kind));
  const existing = new Map([...objectsEl.querySelectorAll<HTMLButtonElement>('button[data-id]')].map((b) => [b.dataset.id!, b]));
  const keep = new Set(items.map((e) => e.id));
  for (const [id, b] of existing) if (!keep.has(id)) b.parentElement!.remove();
  let prev: HTMLLIElement | null = null;
  for (const e of items) {
    let b = existing.get(e.id);
    if (!b) {
      const li = document.createElement('li');
      b = document.createElement('button');
      b.type = 'button';
      b.dataset.id = e.id;
      b.dataset.kind = e.kind;
      b.addEventListener('click', () => select(e.id));
      li.append(b);
      if (prev) prev.after(li);
      else objectsEl.prepend(li);
    }
    const text = e.summary ?? e.label;
    if (b.textContent !== text) b.textContent = text;
    b.dataset.state = e.state ?? 'Ready';
    b.dataset.lit = String(lit.has(e.id));
    prev = b.parentElement as HTMLLIElement;
  }
  // The request's sources: the laptop and every pod.
  const pods = m.elements.filter((e) => e.kind === 'pod');
  const options = ['laptop', ...pods.map((p) => p.id)];
  if ([...fromEl.options].map((o) => o.value).join() !== options.join()) {
    const current = fromEl.value;
    fromEl.replaceChildren(...options.map((v) => new Option(v === 'laptop' ? 'the laptop' : v.replace(/^pod\//, ''), v)));
    fromEl.value = options.includes(current) ? current : 'laptop';
  }
}

async function api<T>(url: string, body?: unknown): Promise<T> {
  const r = await fetch(url, body === undefined ? {} : { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const j = (await r.json()) as T & { error?: string };
  if (!r.ok) throw new Error(j.error ?? `HTTP ${r.status}`);
  return j;
}

async function select(id: string): Promise<void> {
  selected = id;
  cy.elements().unselect();
  cy.getElementById(id).select();
  const e = model?.elements.find((x) => x.id === id);
  if (!e) return;
  detailsTitle.textContent = e.summary ?? e.label;
  detailsActions.replaceChildren();
  if (e.kind === 'pod' && e.pod) {
    const kill = document.createElement('button');
    kill.type = 'button';
    kill.className = 'kill';
    kill.textContent = `Kill ${e.pod.name}'s container (lab kill)`;
    kill.addEventListener('click', () => void crash.breakIt(id, kill));
    detailsActions.append(kill);
  }
  detailsText.textContent = 'reading…';
  panel.show(e);
  try {
    let text = e.summary ?? e.label;
    if (e.describe) text = (await api<{ text: string }>(`/api/describe?id=${encodeURIComponent(id)}`)).text;
    else if (e.chain) text = (await api<{ text: string }>(`/api/chain?chain=${encodeURIComponent(e.chain)}`)).text;
    if (selected === id) detailsText.textContent = text;
  } catch (err) {
    if (selected === id) detailsText.textContent = `error: ${(err as Error).message}`;
  }
}

interface TraceReply {
  trace: { hops: { kind: string; title: string; lines: string[] }[]; answeredBy?: { name: string; namespace: string; ip: string }; response: { ok: boolean; httpCode?: number; error?: string } };
  path: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function sendRequest(ev: Event): Promise<void> {
  ev.preventDefault();
  const button = $<HTMLButtonElement>('send-button');
  const section = $('trace');
  const summary = $('trace-summary');
  const hops = $<HTMLOListElement>('trace-hops');
  button.disabled = true;
  section.hidden = false;
  delete section.dataset.answered;
  section.dataset.state = 'running';
  summary.textContent = 'sending (lab trace)…';
  hops.replaceChildren();
  lit.clear();
  cy.elements().removeClass('lit lit-end');
  try {
    const r = await api<TraceReply>('/api/trace', { url: $<HTMLInputElement>('url').value, from: fromEl.value });
    const t = r.trace;
    summary.textContent = t.response.ok ? `HTTP ${t.response.httpCode ?? '?'}${t.answeredBy ? `, answered by ${t.answeredBy.name} (${t.answeredBy.ip})` : ''}` : `failed: ${t.response.error ?? ''}`;
    for (const h of t.hops) {
      const li = document.createElement('li');
      li.textContent = h.title;
      if (h.lines.length) {
        const pre = document.createElement('pre');
        pre.textContent = h.lines.join('\n');
        li.append(pre);
      }
      hops.append(li);
    }
    // Hop by hop across the picture: each element, and the edge that led to it.
    for (let i = 0; i < r.path.length; i++) {
      const id = r.path[i]!;
      lit.add(id);
      const node = cy.getElementById(id);
      node.addClass('lit');
      if (i > 0) {
        const e = cy.getElementById(`e/${r.path[i - 1]}->${id}`).union(cy.getElementById(`e/${id}->${r.path[i - 1]}`));
        e.addClass('lit');
        e.forEach((x) => void lit.add(x.id()));
      }
      objectsEl.querySelector<HTMLButtonElement>(`button[data-id="${CSS.escape(id)}"]`)?.setAttribute('data-lit', 'true');
      await sleep(250);
    }
    if (t.answeredBy) {
      const end = `pod/${t.answeredBy.namespace}/${t.answeredBy.name}`;
      (cy.getElementById(end) as NodeSingular).addClass('lit-end');
      section.dataset.answered = end;
    }
    section.dataset.path = r.path.join(' ');
    section.dataset.state = 'done';
  } catch (err) {
    summary.textContent = `error: ${(err as Error).message}`;
    section.dataset.state = 'error';
  } finally {
    button.disabled = false;
  }
}

cy.on('tap', 'node', (ev) => void select(ev.target.id()));
$('send').addEventListener('submit', (ev) => void sendRequest(ev));

// The live stream: a new model on every change; reconnects after a break.
let applying: Promise<void> = Promise.resolve();
let latest: { sentAt?: number; model: UiModel } | null = null;
let backoff = 500;
function connect(): void {
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
  ws.addEventListener('open', () => {
    backoff = 500;
    statusEl.textContent = 'live';
    statusEl.className = 'live';
  });
  ws.addEventListener('message', (ev) => {
    const msg = JSON.parse(String(ev.data)) as { type: string; sentAt?: number; model: UiModel };
    if (msg.type === 'model') {
      // Models that arrive while one is being drawn: only the newest is drawn next (a burst is one layout).
      latest = msg;
      applying = applying.then(async () => {
        const m = latest;
        latest = null;
        if (!m) return;
        await apply(m.model);
        // From the server's send to drawn here (the bench reads it).
        if (m.sentAt) document.body.dataset.deliveryMs = String(Date.now() - m.sentAt);
      });
    }
  });
  ws.addEventListener('close', () => {
    statusEl.textContent = 'disconnected: reconnecting…';
    statusEl.className = 'down';
    setTimeout(connect, backoff);
    backoff = Math.min(backoff * 2, 10_000);
  });
}
connect();

// For the e2e test and the bench: what the picture holds, read-only.
(window as unknown as { labUi: object }).labUi = {
  ids: () => cy.elements().map((e) => e.id()),
  position: (id: string) => {
    const n = cy.getElementById(id);
    return n.nonempty() && n.isNode() ? { ...(n as NodeSingular).position() } : null;
  },
  lit: () => cy.elements('.lit').map((e) => e.id()),
  applied: () => Number(document.body.dataset.modelApplied ?? 0),
  /** Resolves once every model received so far is drawn (laid out included). */
  idle: () => applying,
};
