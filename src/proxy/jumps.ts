// The jump rules that hook kube-proxy's chains into the built-in ones (iptablesJumpChains in
// proxier.go, v1.33). They cannot be part of the iptables-restore input without owning all of
// INPUT/PREROUTING/…, so kube-proxy checks each with `iptables -C` and inserts a missing one at
// the top with `-I <chain> 1`. Because each is inserted at position 1 in list order, the final
// order in INPUT is the reverse of this list (KUBE-FIREWALL first, as on a real node).
import { KUBE_EXTERNAL_SERVICES, KUBE_FIREWALL, KUBE_FORWARD, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_PROXY_FIREWALL, KUBE_SERVICES } from './names.ts';

export type Table = 'filter' | 'nat' | 'mangle';

export interface JumpRule {
  table: Table;
  /** The built-in chain the rule is in. */
  srcChain: string;
  /** kube-proxy's chain it jumps to. */
  dstChain: string;
  comment: string;
  extraArgs: string[];
}

const NEW = ['-m', 'conntrack', '--ctstate', 'NEW'];

export const JUMP_RULES: JumpRule[] = [
  { table: 'filter', dstChain: KUBE_EXTERNAL_SERVICES, srcChain: 'INPUT', comment: 'kubernetes externally-visible service portals', extraArgs: NEW },
  { table: 'filter', dstChain: KUBE_EXTERNAL_SERVICES, srcChain: 'FORWARD', comment: 'kubernetes externally-visible service portals', extraArgs: NEW },
  { table: 'filter', dstChain: KUBE_NODEPORTS, srcChain: 'INPUT', comment: 'kubernetes health check service ports', extraArgs: [] },
  { table: 'filter', dstChain: KUBE_SERVICES, srcChain: 'FORWARD', comment: 'kubernetes service portals', extraArgs: NEW },
  { table: 'filter', dstChain: KUBE_SERVICES, srcChain: 'OUTPUT', comment: 'kubernetes service portals', extraArgs: NEW },
  { table: 'filter', dstChain: KUBE_FORWARD, srcChain: 'FORWARD', comment: 'kubernetes forwarding rules', extraArgs: [] },
  { table: 'filter', dstChain: KUBE_PROXY_FIREWALL, srcChain: 'INPUT', comment: 'kubernetes load balancer firewall', extraArgs: NEW },
  { table: 'filter', dstChain: KUBE_PROXY_FIREWALL, srcChain: 'OUTPUT', comment: 'kubernetes load balancer firewall', extraArgs: NEW },
  { table: 'filter', dstChain: KUBE_PROXY_FIREWALL, srcChain: 'FORWARD', comment: 'kubernetes load balancer firewall', extraArgs: NEW },
  { table: 'nat', dstChain: KUBE_SERVICES, srcChain: 'OUTPUT', comment: 'kubernetes service portals', extraArgs: [] },
  { table: 'nat', dstChain: KUBE_SERVICES, srcChain: 'PREROUTING', comment: 'kubernetes service portals', extraArgs: [] },
  { table: 'nat', dstChain: KUBE_POSTROUTING, srcChain: 'POSTROUTING', comment: 'kubernetes postrouting rules', extraArgs: [] },
  // iptablesKubeletJumpChains: kubelet's KUBE-FIREWALL, which kube-proxy also ensures (no comment).
  { table: 'filter', dstChain: KUBE_FIREWALL, srcChain: 'INPUT', comment: '', extraArgs: [] },
  { table: 'filter', dstChain: KUBE_FIREWALL, srcChain: 'OUTPUT', comment: '', extraArgs: [] },
];

/** The rule's arguments after the chain name, as argv words (for `iptables -C/-I`). */
export function jumpArgs(j: JumpRule): string[] {
  return [...j.extraArgs, ...(j.comment ? ['-m', 'comment', '--comment', j.comment] : []), '-j', j.dstChain];
}

/** The same rule as an iptables-restore line ("-I INPUT 1 … --comment \"…\" -j …"). */
export function jumpRestoreLine(j: JumpRule, op: '-I' | '-D'): string {
  const words = jumpArgs(j).map((w) => (/\s/.test(w) ? `"${w}"` : w));
  return op === '-I' ? `-I ${j.srcChain} 1 ${words.join(' ')}` : `-D ${j.srcChain} ${words.join(' ')}`;
}

/**
 * Is this `iptables-save` line one of our jump rules? Compared on chain, target and comment
 * (iptables-save may reorder or normalise the matches), so a foreign rule that happens to jump
 * to KUBE-SERVICES with another comment is not taken for ours.
 */
export function matchJumpRule(table: Table, saveLine: string): JumpRule | undefined {
  const m = /^-A (\S+) (.*)$/.exec(saveLine);
  if (!m) return undefined;
  const [, chain, rest] = m as unknown as [string, string, string];
  const target = /(?:^| )-j (\S+)$/.exec(rest)?.[1];
  if (!target) return undefined;
  const comment = /--comment (?:"([^"]*)"|(\S+))/.exec(rest);
  const text = comment ? (comment[1] ?? comment[2] ?? '') : '';
  return JUMP_RULES.find((j) => j.table === table && j.srcChain === chain && j.dstChain === target && j.comment === text && (j.comment !== '' || rest === `-j ${target}`));
}
