// The rules flannel v0.26's iptables traffic manager (pkg/trafficmngr/iptables) writes on every node,
// as k3s runs it (ipMasq on, IPv4): the masquerade chain FLANNEL-POSTRTG in nat, hooked from
// POSTROUTING, and the forward chain FLANNEL-FWD in filter, hooked from FORWARD. Every rule carries
// the comment "flanneld masq" or "flanneld forward"; the hooks are appended (-A) to the built-in
// chains, after kube-proxy's inserted ones. In order, for cluster CIDR C and this node's subnet S:
//   traffic kube-proxy marked for SNAT (0x4000) is left to KUBE-POSTROUTING (no double NAT);
//   S -> C and C -> S are not NATed (pod to pod keeps its source: the target sees the pod's IP);
//   !C -> S is not NATed (traffic from outside arriving for a local pod);
//   C -> anything but multicast is MASQUERADEd (pods reaching outside the cluster);
//   !C -> C is MASQUERADEd (the host itself reaching a pod on another node through flannel.1).
// FLANNEL-FWD accepts everything from or to C (Docker's FORWARD policy DROP would stop it otherwise).
// Pure: renders the rules, and from one `iptables-save` says what iptables-restore input puts them
// in place (nothing when they are); rules and chains that are not flannel's are never named.

export const FLANNEL_POSTRTG = 'FLANNEL-POSTRTG';
export const FLANNEL_FWD = 'FLANNEL-FWD';
/** kube-proxy's masquerade mark (trafficmngr.KubeProxyMark). */
export const KUBE_PROXY_MARK = '0x4000/0x4000';
/** flannel's iptables-restore: --noflush, and --wait for the xtables lock (iptables >= 1.6.2). */
export const FLANNEL_RESTORE_ARGV = ['iptables-restore', '--noflush', '--wait'];

export interface FlannelRulesConfig {
  clusterCIDR: string;
  /** This node's subnet (its lease), e.g. 10.42.1.0/24. */
  podCIDR: string;
  /** MASQUERADE --random-fully (flannel adds it when iptables has it: >= 1.6.2). Default true. */
  randomFully?: boolean;
}

interface TableRules {
  table: 'nat' | 'filter';
  chain: string;
  /** The hook in the built-in chain, as iptables-save prints it. */
  jump: string;
  /** The chain's rules, as iptables-save prints them. */
  rules: string[];
}

const MASQ = '-m comment --comment "flanneld masq"';
const FWD = '-m comment --comment "flanneld forward"';

/** The rules, in flannel's order, as iptables-save prints them (so observed and desired compare as text). */
export function renderFlannelRules(cfg: FlannelRulesConfig): TableRules[] {
  const c = cfg.clusterCIDR;
  const s = cfg.podCIDR;
  const masq = `-j MASQUERADE${(cfg.randomFully ?? true) ? ' --random-fully' : ''}`;
  const p = `-A ${FLANNEL_POSTRTG}`;
  const f = `-A ${FLANNEL_FWD}`;
  return [
    {
      table: 'nat',
      chain: FLANNEL_POSTRTG,
      jump: `-A POSTROUTING ${MASQ} -j ${FLANNEL_POSTRTG}`,
      rules: [
        `${p} -m mark --mark ${KUBE_PROXY_MARK} ${MASQ} -j RETURN`,
        `${p} -s ${s} -d ${c} ${MASQ} -j RETURN`,
        `${p} -s ${c} -d ${s} ${MASQ} -j RETURN`,
        `${p} ! -s ${c} -d ${s} ${MASQ} -j RETURN`,
        `${p} -s ${c} ! -d 224.0.0.0/4 ${MASQ} ${masq}`,
        `${p} ! -s ${c} -d ${c} ${MASQ} ${masq}`,
      ],
    },
    {
      table: 'filter',
      chain: FLANNEL_FWD,
      jump: `-A FORWARD ${FWD} -j ${FLANNEL_FWD}`,
      rules: [`${f} -s ${c} ${FWD} -j ACCEPT`, `${f} -d ${c} ${FWD} -j ACCEPT`],
    },
  ];
}

interface SavedTable {
  chains: Set<string>;
  /** The `-A` lines, in order. */
  rules: string[];
}

/** The chains and `-A` lines of each table of an iptables-save dump. */
export function parseSave(save: string): Map<string, SavedTable> {
  const out = new Map<string, SavedTable>();
  let table: SavedTable | undefined;
  for (const raw of save.split('\n')) {
    const line = raw.trimEnd();
    if (line.startsWith('*')) {
      table = { chains: new Set(), rules: [] };
      out.set(line.slice(1), table);
    } else if (line.startsWith(':')) table?.chains.add(line.slice(1).split(' ')[0]!);
    else if (line.startsWith('-A ')) table?.rules.push(line);
  }
  return out;
}

const chainOf = (line: string) => line.split(' ', 3)[1];

/**
 * The iptables-restore input that puts flannel's rules in place, or '' when they are: per table,
 * when the chain's rules differ from flannel's (missing, reordered, another subnet after a change)
 * the chain is declared (with --noflush that flushes only it) and written again; a missing hook is
 * appended, extra copies of it deleted.
 */
export function planFlannelRules(save: string, cfg: FlannelRulesConfig): string {
  const tables = parseSave(save);
  const out: string[] = [];
  for (const t of renderFlannelRules(cfg)) {
    const lines = tables.get(t.table)?.rules ?? [];
    const have = lines.filter((l) => chainOf(l) === t.chain);
    const hooks = lines.filter((l) => l === t.jump).length;
    const chainOk = have.length === t.rules.length && have.every((l, i) => l === t.rules[i]);
    if (chainOk && hooks === 1) continue;
    out.push(`*${t.table}`, `:${t.chain} - [0:0]`);
    for (let i = 1; i < hooks; i++) out.push(`-D ${t.jump.slice(3)}`);
    if (hooks === 0) out.push(t.jump);
    out.push(...t.rules, 'COMMIT');
  }
  return out.length ? out.join('\n') + '\n' : '';
}

/**
 * The input that removes flannel's rules (what flannel's clean-up does when it stops): every hook
 * into FLANNEL-POSTRTG / FLANNEL-FWD from a built-in chain with flannel's comment, then the chains.
 */
export function teardownFlannelRules(save: string): string {
  const tables = parseSave(save);
  const out: string[] = [];
  for (const t of renderFlannelRules({ clusterCIDR: '0.0.0.0/0', podCIDR: '0.0.0.0/0' })) {
    const saved = tables.get(t.table);
    if (!saved) continue;
    const exists = saved.chains.has(t.chain);
    const hooks = saved.rules.filter((l) => l === t.jump);
    if (!exists && hooks.length === 0) continue;
    out.push(`*${t.table}`);
    if (exists) out.push(`:${t.chain} - [0:0]`);
    out.push(...hooks.map((h) => `-D ${h.slice(3)}`));
    if (exists) out.push(`-X ${t.chain}`);
    out.push('COMMIT');
  }
  return out.length ? out.join('\n') + '\n' : '';
}
