// kube-proxy's flush detector, as a pure planner: from one `iptables-save` of the node (all
// tables, one process), what of kube-proxy's scaffolding is gone.
//
// kube-proxy (iptables mode) creates an empty KUBE-PROXY-CANARY chain in mangle, nat and filter
// and polls for it; when one is gone (firewalld reload, `iptables -t nat -X`) it forces a full
// sync. A bare `iptables -t nat -F` keeps every chain, canary included, so kube-proxy itself only
// repairs that at its next periodic sync; the lab also treats a missing jump from a built-in chain
// (the flush removes them from PREROUTING/OUTPUT) as lost, since the same save shows it for free.
import { JUMP_RULES, matchJumpRule, type JumpRule, type Table } from './jumps.ts';
import { KUBE_PROXY_CANARY } from './names.ts';

const CANARY_TABLES: Table[] = ['mangle', 'nat', 'filter'];

/** What is missing, one human-readable reason each; empty = nothing to repair. */
export function lostProxyRules(save: string): string[] {
  const chains = new Map<Table, Set<string>>();
  const jumps = new Set<JumpRule>();
  let table: Table | null = null;
  for (const line of save.split('\n')) {
    if (line.startsWith('*')) {
      const t = line.slice(1).trim();
      table = t === 'filter' || t === 'nat' || t === 'mangle' ? t : null;
      if (table && !chains.has(table)) chains.set(table, new Set());
    } else if (table && line.startsWith(':')) {
      chains.get(table)!.add(line.slice(1).split(' ')[0]!);
    } else if (table && line.startsWith('-A ')) {
      const j = matchJumpRule(table, line);
      if (j) jumps.add(j);
    }
  }
  const lost: string[] = [];
  for (const t of CANARY_TABLES) if (!chains.get(t)?.has(KUBE_PROXY_CANARY)) lost.push(`${KUBE_PROXY_CANARY} missing from ${t}`);
  for (const j of JUMP_RULES) if (!jumps.has(j)) lost.push(`jump ${j.table} ${j.srcChain} -> ${j.dstChain} missing`);
  return lost;
}
