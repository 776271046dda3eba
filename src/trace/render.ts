// The hop list as text: numbered, one block per hop, top to bottom in the order the request
// travels — the request-flow diagram with the kernel's evidence under each arrow. Pure.
import type { Trace } from './trace.ts';

const LABELS: Record<string, string> = {
  source: 'FROM',
  dns: 'DNS',
  send: 'SEND',
  dnat: 'DNAT',
  reject: 'REJECT',
  snat: 'SNAT',
  conntrack: 'CONNTRACK',
  ingress: 'INGRESS',
  route: 'ROUTE',
  vxlan: 'VXLAN',
  decap: 'DECAP',
  pod: 'POD',
  return: 'RETURN',
  response: 'RESPONSE',
};

export function renderTrace(t: Trace): string {
  const out: string[] = [`lab trace ${t.url}  (from ${t.from.label}${t.from.ip ? ` ${t.from.ip}` : ''})`, ''];
  const width = Math.max(...Object.values(LABELS).map((l) => l.length));
  t.hops.forEach((h, i) => {
    const n = String(i + 1).padStart(2);
    out.push(`${n}  ${LABELS[h.kind]!.padEnd(width)}  ${h.title}`);
    const indent = ' '.repeat(2 + 2 + width + 2);
    for (const l of h.lines) out.push(`${indent}${l}`);
  });
  if (t.warnings.length) {
    out.push('');
    for (const w of t.warnings) out.push(`warning: ${w}`);
  }
  return out.join('\n') + '\n';
}
