// The page's "Break it": a pod's kill button, then the crash flow in time. The server runs
// `lab kill --trace` and streams each hop as it sees it (the API's watch stream: the kubelet's
// status write, the EndpointSlice's endpoint; the pod's Events; kube-proxy's chains read from the
// node's kernel), one JSON object a line. Each hop becomes a row of the timeline (its offset from
// the kill, its role, its evidence) and lights the elements it moved on the picture (src/ui/crash.ts):
// the pod, the Service and its edge to the pod, kube-proxy's chains. The pod is drawn out of its
// Service from its endpoint's leaving until kube-proxy wrote it back; the picture itself follows
// the model (a KUBE-SEP chain the kernel lost is gone from it, and back when it is back).
import type { Core } from 'cytoscape';
import { CRASH_ORDER, crashLights, inService, offsetText, roundTrip, type CrashStepData } from '../crash.ts';
import type { UiModel } from '../model.ts';

type Message = { type: 'step'; step: CrashStepData } | { type: 'line'; text: string } | { type: 'done'; whole: boolean; text: string } | { type: 'error'; error: string };

export interface CrashView {
  /** Kills the pod's container and shows the crash flow until it is back. */
  breakIt(id: string, button: HTMLButtonElement): Promise<void>;
}

const ROLE_TEXT: Record<string, string> = { kubelet: 'kubelet', API: 'API server', endpoints: 'endpoints', 'kube-proxy': 'kube-proxy', event: 'Event', file: 'file' };

export function initCrash(cy: Core, model: () => UiModel | null): CrashView {
  cy.style()
    .selector('node.crash-lit')
    .style({ 'border-color': '#dc2626', 'border-width': 4, 'z-index': 20 })
    .selector('edge.crash-lit')
    .style({ 'line-color': '#dc2626', 'target-arrow-color': '#dc2626', width: 4, 'z-index': 20 })
    .selector('node[kind="pod"].crash-out')
    .style({ opacity: 0.45, 'border-style': 'dashed', 'border-width': 3, 'border-color': '#dc2626' })
    .update();

  // The timeline's section, first in the side panel (where the eye is after the click).
  const section = document.createElement('section');
  section.id = 'crash';
  section.hidden = true;
  section.setAttribute('aria-live', 'polite');
  section.innerHTML = '<h2>Crash flow</h2><ol class="crash-roles" aria-label="The crash flow\'s roles"></ol><p id="crash-summary"></p><ol id="crash-steps" tabindex="0" aria-label="Each step, its time after the kill and its evidence"></ol><details><summary>as lab kill --trace prints it</summary><pre id="crash-text"></pre></details>';
  const aside = document.querySelector('aside')!;
  aside.prepend(section);
  const roles = section.querySelector<HTMLOListElement>('.crash-roles')!;
  const summary = section.querySelector<HTMLParagraphElement>('#crash-summary')!;
  const list = section.querySelector<HTMLOListElement>('#crash-steps')!;
  const text = section.querySelector<HTMLPreElement>('#crash-text')!;

  let pod: { namespace: string; name: string } | null = null;
  let steps: CrashStepData[] = [];
  let current: CrashStepData | null = null;
  const history: { step?: string; direction?: string; at: number; lit: string[]; out: boolean }[] = [];
  // Whether the picture drew the pod in its Service's rules (an edge from a KUBE-SEP chain, or in
  // nftables mode a ready endpoint edge), at each change during the flow.
  const drawn: { at: number; sepEdge: boolean }[] = [];
  let startedAt = 0;

  /** The current step's elements lit, the pod out of its Service while it is: again after every model drawn. */
  const relight = () => {
    const m = model();
    cy.elements('.crash-lit').removeClass('crash-lit');
    cy.elements('.crash-out').removeClass('crash-out');
    if (!m || !pod) return [];
    {
      // Recorded after the stream's end too: the model with the rules back may come after it.
      const pid = `pod/${pod.namespace}/${pod.name}`;
      const sepEdge = m.elements.some((e) => e.kind === 'edge' && e.target === pid && (e.source!.startsWith('chain/KUBE-SEP-') || (e.classes?.includes('endpoint') && e.label === 'endpoint')));
      if (drawn.at(-1)?.sepEdge !== sepEdge) drawn.push({ at: Date.now() - startedAt, sepEdge });
    }
    if (!current) return [];
    const ids = crashLights(m, pod, current);
    for (const id of ids) cy.getElementById(id).addClass('crash-lit');
    if (!inService(steps)) cy.getElementById(`pod/${pod.namespace}/${pod.name}`).addClass('crash-out');
    return ids;
  };
  // main.ts marks each model drawn on <body>; its in-place update resets the classes it knows.
  new MutationObserver(() => void relight()).observe(document.body, { attributes: true, attributeFilter: ['data-model-applied'] });

  const markRoles = () => {
    const rt = roundTrip(steps);
    section.dataset.out = String(rt.out);
    section.dataset.back = String(rt.back);
    for (const li of roles.querySelectorAll<HTMLLIElement>('li')) {
      const r = li.dataset.role!;
      li.dataset.out = String(steps.some((s) => s.step === r && s.direction === 'out'));
      li.dataset.in = String(steps.some((s) => s.step === r && s.direction === 'in'));
      li.classList.toggle('current', current?.step === r);
    }
  };

  const onStep = (s: CrashStepData) => {
    steps.push(s);
    current = s;
    const li = document.createElement('li');
    li.dataset.step = s.step ?? '';
    li.dataset.direction = s.direction ?? '';
    li.dataset.at = String(s.at);
    const head = document.createElement('div');
    const at = document.createElement('span');
    at.className = 'at';
    at.textContent = offsetText(s.at);
    const who = document.createElement('span');
    who.className = `role role-${(s.step ?? 'other').replace(/[^a-zA-Z-]/g, '')}`;
    who.textContent = s.step ? ROLE_TEXT[s.step] ?? s.step : s.who;
    const what = document.createElement('span');
    what.textContent = ` ${s.what}${s.resourceVersion ? ` (resourceVersion ${s.resourceVersion})` : ''}`;
    head.append(at, ' ', who, what);
    li.append(head);
    if (s.evidence?.length) {
      const pre = document.createElement('pre');
      pre.className = 'evidence';
      pre.textContent = s.evidence.join('\n');
      li.append(pre);
    }
    list.querySelector('li.current')?.classList.remove('current');
    li.classList.add('current');
    list.append(li);
    li.scrollIntoView({ block: 'nearest' });
    history.push({ step: s.step, direction: s.direction, at: s.at, lit: relight(), out: !inService(steps) });
    markRoles();
  };

  const breakIt = async (id: string, button: HTMLButtonElement) => {
    const [, namespace, name] = id.split('/') as [string, string, string];
    button.disabled = true;
    pod = { namespace, name };
    steps = [];
    current = null;
    history.length = 0;
    drawn.length = 0;
    startedAt = Date.now();
    list.replaceChildren();
    text.textContent = '';
    roles.replaceChildren(
      ...CRASH_ORDER.map((r) => {
        const li = document.createElement('li');
        li.dataset.role = r;
        li.textContent = ROLE_TEXT[r]!;
        return li;
      }),
    );
    section.hidden = false;
    section.dataset.pod = id;
    section.dataset.state = 'running';
    relight();
    summary.textContent = `SIGKILL to ${name}'s container; the crash flow as the API's watch stream, the Events and the node's rules show it, until the pod is back…`;
    section.scrollIntoView({ block: 'start' });
    markRoles();
    try {
      const r = await fetch('/api/kill', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ id }) });
      if (!r.ok || !r.body) throw new Error(((await r.json().catch(() => ({}))) as { error?: string }).error ?? `HTTP ${r.status}`);
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (!line.trim()) continue;
          const msg = JSON.parse(line) as Message;
          if (msg.type === 'step') onStep(msg.step);
          else if (msg.type === 'line') summary.textContent = msg.text;
          else if (msg.type === 'done') {
            text.textContent = msg.text;
            summary.textContent = msg.whole ? `${name} left its Service and came back: ${steps.length} steps in ${offsetText(steps.at(-1)?.at ?? 0).slice(1)}` : 'the round trip was not seen to the end (the pod was deleted, or the time ran out)';
            section.dataset.state = msg.whole ? 'done' : 'incomplete';
          } else if (msg.type === 'error') throw new Error(msg.error);
        }
      }
      if (section.dataset.state === 'running') throw new Error('the stream ended early');
    } catch (err) {
      summary.textContent = `error: ${(err as Error).message}`;
      section.dataset.state = 'error';
    } finally {
      button.disabled = false;
      markRoles();
      // The flow is over: its last step stays lit a moment, the timeline until the next kill.
      const shown = startedAt;
      setTimeout(() => {
        if (startedAt !== shown || section.dataset.state === 'running') return;
        current = null;
        relight();
        markRoles();
      }, 4000);
    }
  };

  // For the e2e test: the steps as received and what each lit when it came (read-only).
  (window as unknown as { labCrash: object }).labCrash = {
    steps: () => steps.map((s) => ({ ...s })),
    history: () => history.map((h) => ({ ...h, lit: [...h.lit] })),
    drawn: () => drawn.map((d) => ({ ...d })),
    lit: () => cy.elements('.crash-lit').map((e) => e.id()),
  };
  return { breakIt };
}
