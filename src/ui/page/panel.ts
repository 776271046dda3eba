// The page's "Click anything", beyond `lab describe`'s text (main.ts shows that): two sections
// more for a pod, a Service or a node, read when it is selected. Kernel objects: the rules that
// name its address with their packet and byte counters (or kube-proxy's nftables rules), the
// route and neighbour the node uses for it, the connection tracking entries of its address
// (read in the server node's namespace: src/ui/panel.ts). Events: the API's Events about it, in
// `kubectl get events`'s columns. Tables and headings only: Tab reaches each section, screen
// readers read them as tables.
import type { ConntrackRow, KernelObjects, RuleRow } from '../panel.ts';
import type { UiElement } from '../model.ts';

export interface Panel {
  show(e: UiElement): void;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, attrs: Record<string, string> = {}): HTMLElementTagNameMap[K] {
  const x = document.createElement(tag);
  if (text !== undefined) x.textContent = text;
  for (const [k, v] of Object.entries(attrs)) x.setAttribute(k, v);
  return x;
}

function table(caption: string, columns: readonly string[], rows: string[][], cls: string): HTMLTableElement {
  const t = el('table', undefined, { class: cls });
  t.append(el('caption', caption));
  const head = el('tr');
  for (const c of columns) head.append(el('th', c, { scope: 'col' }));
  t.createTHead().append(head);
  const body = t.createTBody();
  for (const r of rows) {
    const tr = el('tr');
    for (const c of r) tr.append(el('td', c));
    body.append(tr);
  }
  return t;
}

const ruleRow = (r: RuleRow) => (r.packets === undefined ? [r.table, r.text] : [String(r.packets), String(r.bytes ?? 0), r.table, r.text]);
const ctRow = (c: ConntrackRow) => [c.protocol, c.state ?? '', String(c.timeout), c.flags.join(' '), [`original ${c.original}`, `reply    ${c.reply}`, ...(c.dnat ? [`DNAT     ${c.dnat}`] : []), ...(c.snat ? [`SNAT     ${c.snat}`] : [])].join('\n')];

async function getJson<T>(url: string): Promise<T> {
  const r = await fetch(url);
  const j = (await r.json()) as T & { error?: string };
  if (!r.ok) throw new Error(j.error ?? `HTTP ${r.status}`);
  return j;
}

export function initPanel(): Panel {
  const details = document.getElementById('details')!;
  const section = (id: string, title: string) => {
    const s = el('section', undefined, { id, 'aria-live': 'polite', hidden: '' });
    const body = el('div', undefined, { class: 'panel-body', tabindex: '0', 'aria-label': title });
    s.append(el('h2', title), body);
    return { s, body };
  };
  const kernel = section('kernel', 'Kernel objects');
  const events = section('events', 'Events');
  details.after(kernel.s, events.s);
  let showing = '';

  const renderKernel = (k: KernelObjects) => {
    const parts: HTMLElement[] = [];
    parts.push(el('p', k.ip ? `${k.ip}, as the node${k.node ? ` ${k.node}` : ''}'s kernel holds it (kube-proxy: ${k.proxyMode} mode)` : 'no address to look for'));
    if (k.ip) {
      const nft = k.rules.filter((r) => r.packets === undefined);
      const ipt = k.rules.filter((r) => r.packets !== undefined);
      if (ipt.length) parts.push(table('Rules naming it, and their chains (iptables-save -c)', ['PKTS', 'BYTES', 'TABLE', 'RULE'], ipt.map(ruleRow), 'rules'));
      if (nft.length) parts.push(table('Rules naming it (nft list table ip kube-proxy)', ['TABLE', 'RULE'], nft.map(ruleRow), 'rules'));
      if (!ipt.length && !nft.length) parts.push(el('p', `no rule names ${k.ip}`, { class: 'rules' }));
      parts.push(el('h3', 'Route and neighbour'), el('pre', k.routes.join('\n') || '(none)', { class: 'routes' }));
      parts.push(
        k.conntrack.length
          ? table(`Connection tracking entries of ${k.ip} (conntrack -L)`, ['PROTO', 'STATE', 'TIMEOUT', 'FLAGS', 'TUPLES AND NAT'], k.conntrack.map(ctRow), 'conntrack')
          : el('p', `Connection tracking: no entry of ${k.ip} (conntrack -L)`, { class: 'conntrack' }),
      );
    }
    kernel.body.replaceChildren(...parts);
  };

  const show = (e: UiElement) => {
    showing = e.id;
    const readable = e.describe !== undefined;
    kernel.s.hidden = !readable;
    events.s.hidden = !readable;
    delete kernel.s.dataset.loaded;
    delete events.s.dataset.loaded;
    if (!readable) return;
    kernel.body.replaceChildren(el('p', 'reading the node\'s kernel…'));
    events.body.replaceChildren(el('p', 'reading…'));
    const id = encodeURIComponent(e.id);
    void getJson<KernelObjects>(`/api/kernel?id=${id}`)
      .then((k) => showing === e.id && renderKernel(k))
      .catch((err: Error) => showing === e.id && kernel.body.replaceChildren(el('p', `error: ${err.message}`)))
      .finally(() => showing === e.id && (kernel.s.dataset.loaded = e.id));
    void getJson<{ columns: string[]; rows: string[][] }>(`/api/events?id=${id}`)
      .then((ev) => showing === e.id && events.body.replaceChildren(ev.rows.length ? table(`Events of ${e.id}`, ev.columns, ev.rows, 'events') : el('p', 'No events.')))
      .catch((err: Error) => showing === e.id && events.body.replaceChildren(el('p', `error: ${err.message}`)))
      .finally(() => showing === e.id && (events.s.dataset.loaded = e.id));
  };
  return { show };
}
