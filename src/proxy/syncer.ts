// The kube-proxy applier: plans (sync-plan.ts) and writes them into a node's network namespace.
//
// One sync = one `iptables-restore -w 5 --noflush --counters` (filter + nat in one input, as
// kube-proxy's RestoreAll). `--noflush` is what keeps everything else in the tables alive: only
// the chains named in the input are flushed. A full sync also checks the jump rules from the
// built-in chains (listing those with `iptables -S`, in parallel, while the plan is computed) and
// appends any missing `-I <chain> 1` to the same input, in a second section per table: still one
// process per sync.
//
// Bookkeeping lives in memory. `iptables-save -t nat` is read once, on the first full sync, to
// find per-service chains left over by an earlier run, and by teardown(); never on a later sync.
import { run, spawnCounter, type Netns } from '../sys/exec.ts';
import { lostProxyRules } from './canary.ts';
import { JUMP_RULES, jumpRestoreLine, matchJumpRule, type JumpRule, type Table } from './jumps.ts';
import { isServiceChainName, KUBE_EXTERNAL_SERVICES, KUBE_FIREWALL, KUBE_FORWARD, KUBE_MARK_MASQ, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_PROXY_CANARY, KUBE_PROXY_FIREWALL, KUBE_SERVICES } from './names.ts';
import type { ProxyConfig } from './model.ts';
import { teardownNftTable } from './nft-teardown.ts';
import { ProxySyncPlanner, type TopLevelPolicy, type UdpConntrackChange } from './sync-plan.ts';
import { ProxySyncError, SyncerShell, type ProxyState, type SyncResult } from './syncer-shell.ts';

export { ProxySyncError, type ProxyState, type SyncResult };

/** kube-proxy waits up to 5 s for the xtables lock (legacy iptables; nft ignores it). */
const WAIT = ['-w', '5'];
export const RESTORE_ARGV = ['iptables-restore', ...WAIT, '--noflush', '--counters'];

export interface ProxySyncerOptions {
  /** The node's network namespace; null = the namespace the controller runs in (host mode). */
  netns: Netns;
  config: ProxyConfig;
  /** See TopLevelPolicy; default 'always' (kube-proxy's behaviour). */
  topLevel?: TopLevelPolicy;
  /** Delete stale UDP conntrack entries after endpoint changes, as kube-proxy does. Default true. */
  conntrackCleanup?: boolean;
  /** On the first full sync, read `iptables-save -t nat` once for leftover chains. Default true. */
  adoptLeftovers?: boolean;
  /**
   * After the first successful sync, delete nftables mode's table (kube-proxy cleans up the other
   * modes' leftovers at start; after, not before, so that Services keep rules while modes change).
   * Default true.
   */
  cleanupOtherMode?: boolean;
}

export class ProxySyncer extends SyncerShell<ProxySyncPlanner, TeardownResult> {
  readonly mode = 'iptables' as const;
  private readonly conntrackCleanup: boolean;
  private adoptLeftovers: boolean;
  /** The last restore input written (for `lab proxy` debugging). */
  lastRestoreInput = '';

  constructor(opts: ProxySyncerOptions) {
    super({
      netns: opts.netns,
      planner: new ProxySyncPlanner({ config: opts.config, ...(opts.topLevel ? { topLevel: opts.topLevel } : {}) }),
      cleanupOtherMode: opts.cleanupOtherMode ?? true,
      removeOtherMode: teardownNftTable,
    });
    this.conntrackCleanup = opts.conntrackCleanup ?? true;
    this.adoptLeftovers = opts.adoptLeftovers ?? true;
  }

  /** Remove every jump rule and KUBE-* chain kube-proxy creates; nothing else. */
  protected override removeRules(): Promise<TeardownResult> {
    return teardownProxyRules(this.netns);
  }

  /**
   * What of kube-proxy's scaffolding (canary chains, jumps from the built-in chains) is gone, from
   * one `iptables-save` of every table.
   */
  protected override async findLostRules(): Promise<string[]> {
    const r = await run(['iptables-save'], { netns: this.netns });
    return lostProxyRules(r.stdout);
  }

  protected override async doSync(state: ProxyState, opts: { full?: boolean }): Promise<SyncResult> {
    const t0 = performance.now();
    const spawns0 = spawnCounter.count;
    const full = Boolean(opts.full) || this.planner.needFullSync;
    // A full sync looks at the kernel first: which jump rules are missing, and (once) which
    // per-service chains an earlier run left. The processes are started before planning and
    // run while the plan is computed; their findings go into an epilogue of the same input.
    const looks = full ? Promise.all([this.missingJumps(), this.adoptLeftovers ? this.serviceChainsInKernel() : Promise.resolve([])]) : undefined;
    const plan = this.planner.plan({
      services: state.services,
      endpointSlices: state.endpointSlices,
      full,
      ...(state.changed ? { changed: state.changed } : {}),
    });
    if (!full && !plan.changed) {
      // The pods changed but not what the rules are made of (a container restarted before it is
      // ready, a probe flapped on a pod with no Service): kube-proxy would have had no
      // EndpointSlice event, so it would not sync. Adopt the new objects and write nothing.
      this.planner.commit(plan);
      const ms = performance.now() - t0;
      return { full: false, skipped: true, rules: { filter: 0, nat: 0 }, chains: { filter: 0, nat: 0 }, bytes: 0, services: plan.services, endpoints: plan.endpoints, servicesWritten: 0, staleChainsDeleted: 0, jumpsInserted: 0, largeClusterMode: plan.largeClusterMode, restoreMs: 0, applyMs: ms, totalMs: ms, spawns: 0 };
    }
    let input = plan.text;
    let jumpsInserted = 0;
    let leftoversDeleted = 0;
    if (looks) {
      const [missing, leftovers] = await looks;
      const active = this.planner.activeIn(plan);
      const stale = new Set(plan.staleChains);
      const gone = leftovers.filter((c) => !active.has(c) && !stale.has(c)).sort();
      jumpsInserted = missing.length;
      leftoversDeleted = gone.length;
      input += fullSyncEpilogue(missing, gone, this.planner.config.localhostNodePorts ?? true);
    }
    this.lastRestoreInput = input;
    const r0 = performance.now();
    const res = await run(RESTORE_ARGV, { netns: this.netns, input, allowFail: true });
    const restoreMs = performance.now() - r0;
    if (res.exitCode !== 0) {
      this.planner.fail(plan);
      throw new ProxySyncError(`iptables-restore failed (exit ${res.exitCode}): ${res.stderr.trim()}${contextOfError(res.stderr, input)}`, input);
    }
    this.planner.commit(plan);
    if (full) this.adoptLeftovers = false;
    const applyMs = performance.now() - t0;
    await this.removeOtherModeOnce();
    if (this.conntrackCleanup && plan.udpConntrack.length > 0) await this.cleanConntrack(plan.udpConntrack);
    return {
      full: plan.full,
      skipped: false,
      rules: { filter: plan.rules.filter + count(input, plan.text, 'filter'), nat: plan.rules.nat + count(input, plan.text, 'nat') },
      chains: plan.chains,
      bytes: Buffer.byteLength(input),
      services: plan.services,
      endpoints: plan.endpoints,
      servicesWritten: plan.servicesWritten.length,
      staleChainsDeleted: plan.staleChains.length + leftoversDeleted,
      largeClusterMode: plan.largeClusterMode,
      jumpsInserted,
      restoreMs,
      applyMs,
      totalMs: performance.now() - t0,
      spawns: spawnCounter.count - spawns0,
    };
  }

  /**
   * The jump rules that are not there. kube-proxy runs `iptables -C` once per rule (14 processes);
   * listing the six built-in chains with `iptables -S` (in parallel) answers the same question
   * with fewer processes, and a built-in chain is short even when the table is huge.
   */
  private async missingJumps(): Promise<JumpRule[]> {
    const hooks = [...new Set(JUMP_RULES.map((j) => `${j.table} ${j.srcChain}`))].map((k) => k.split(' ') as [Table, string]);
    const listings = await Promise.all(hooks.map(([table, chain]) => run(['iptables', ...WAIT, '-t', table, '-S', chain], { netns: this.netns, allowFail: true })));
    const present = new Set<JumpRule>();
    hooks.forEach(([table], i) => {
      for (const line of listings[i]!.stdout.split('\n')) {
        const j = matchJumpRule(table, line);
        if (j) present.add(j);
      }
    });
    return JUMP_RULES.filter((j) => !present.has(j));
  }

  private async serviceChainsInKernel(): Promise<string[]> {
    const save = await run(['iptables-save', '-t', 'nat'], { netns: this.netns, allowFail: true });
    if (save.exitCode !== 0) return [];
    return chainsOf(save.stdout).filter(isServiceChainName);
  }

  /**
   * conntrack.CleanStaleEntries, the CLI way: UDP has no connection close, so a flow keeps being
   * DNATed to a removed endpoint (or, if it started while the Service had no endpoint, never gets
   * DNATed) until its entry expires. `conntrack -D` exits 1 when nothing matched: not an error.
   */
  private async cleanConntrack(changes: UdpConntrackChange[]): Promise<void> {
    const cmds: string[][] = [];
    for (const c of changes) {
      for (const ip of c.serviceIPs) {
        // Never DNATed: the reply would come from the service IP itself.
        if (c.hadNoEndpoints) cmds.push(['conntrack', '-D', '-p', 'udp', '--orig-dst', ip, '--dport', String(c.port), '--reply-src', ip]);
        for (const ep of c.removedEndpointIPs) cmds.push(['conntrack', '-D', '-p', 'udp', '--orig-dst', ip, '--dport', String(c.port), '--reply-src', ep]);
      }
      if (c.nodePort) {
        const np = String(c.nodePort);
        if (c.hadNoEndpoints) cmds.push(['conntrack', '-D', '-p', 'udp', '--dport', np, '--reply-port-src', np]);
        for (const ep of c.removedEndpointIPs) cmds.push(['conntrack', '-D', '-p', 'udp', '--dport', np, '--reply-src', ep]);
      }
    }
    await Promise.all(cmds.map((argv) => run(argv, { netns: this.netns, allowFail: true })));
  }
}

/** Jump inserts in the epilogue of `input` (after `planText`), per table. */
function count(input: string, planText: string, table: 'filter' | 'nat'): number {
  let n = 0;
  let cur = '';
  for (const l of input.slice(planText.length).split('\n')) {
    if (l.startsWith('*')) cur = l.slice(1);
    else if (cur === table && l.startsWith('-I ')) n++;
  }
  return n;
}

/**
 * What a full sync adds after the rendered rules, as further table sections: kube-proxy's canary
 * chains (its Monitor creates them), the missing jump rules (`-I <chain> 1`, in kube-proxy's
 * order), and leftover per-service chains of an earlier run (flushed, then deleted).
 */
export function fullSyncEpilogue(missing: JumpRule[], leftovers: string[], localhostNodePorts: boolean): string {
  const filter = [`:${KUBE_PROXY_CANARY} - [0:0]`];
  const nat = [`:${KUBE_PROXY_CANARY} - [0:0]`];
  // KUBE-FIREWALL is only declared by the renderer with localhost NodePorts; its jumps need it.
  if (!localhostNodePorts && missing.some((j) => j.dstChain === KUBE_FIREWALL)) filter.push(`:${KUBE_FIREWALL} - [0:0]`);
  for (const c of leftovers) nat.push(`:${c} - [0:0]`);
  for (const j of missing) (j.table === 'nat' ? nat : filter).push(jumpRestoreLine(j, '-I'));
  for (const c of leftovers) nat.push(`-X ${c}`);
  return ['*mangle', `:${KUBE_PROXY_CANARY} - [0:0]`, 'COMMIT', '*filter', ...filter, 'COMMIT', '*nat', ...nat, 'COMMIT', ''].join('\n');
}

/** "line 12 failed" from iptables-restore -> that line and its neighbours. */
function contextOfError(stderr: string, input: string): string {
  const m = /line:? (\d+)/i.exec(stderr);
  if (!m) return '';
  const n = Number(m[1]);
  const lines = input.split('\n');
  const from = Math.max(0, n - 3);
  return '\n' + lines.slice(from, n + 2).map((l, i) => `${from + i + 1 === n ? '>' : ' '} ${from + i + 1}: ${l}`).join('\n');
}

/** Chain names declared in an iptables-save table dump. */
function chainsOf(save: string): string[] {
  const out: string[] = [];
  for (const l of save.split('\n')) if (l.startsWith(':')) out.push(l.slice(1, l.indexOf(' ')));
  return out;
}

/** kube-proxy's fixed chains per table (everything it creates besides per-service chains). */
export const PROXY_CHAINS: Record<Table, string[]> = {
  filter: [KUBE_SERVICES, KUBE_EXTERNAL_SERVICES, KUBE_FORWARD, KUBE_NODEPORTS, KUBE_PROXY_FIREWALL, KUBE_FIREWALL, KUBE_PROXY_CANARY],
  nat: [KUBE_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_MARK_MASQ, KUBE_PROXY_CANARY],
  mangle: [KUBE_PROXY_CANARY],
};

export interface TeardownResult {
  jumpsDeleted: number;
  chainsDeleted: number;
  /** Rules written into the restore input (for the curious; empty when there was nothing). */
  restoreInput: string;
}

/**
 * Remove kube-proxy's jump rules and chains from a namespace: the fixed chains, every
 * KUBE-SVC/SVL/EXT/FW/SEP chain, and the jump rules recognised by chain, target and comment.
 * Stateless (reads iptables-save), so `lab down` can run it from a fresh process. Foreign rules
 * and chains are left alone — a foreign rule that still jumps into one of our chains makes the
 * restore fail rather than be deleted.
 */
export async function teardownProxyRules(netns: Netns): Promise<TeardownResult> {
  const tables: Table[] = ['mangle', 'filter', 'nat'];
  const saves = await Promise.all(tables.map((t) => run(['iptables-save', '-t', t], { netns, allowFail: true })));
  const sections: string[] = [];
  let jumpsDeleted = 0;
  let chainsDeleted = 0;
  tables.forEach((table, i) => {
    const save = saves[i]!;
    if (save.exitCode !== 0) return;
    const existing = new Set(chainsOf(save.stdout));
    const ours = [...existing].filter((c) => PROXY_CHAINS[table].includes(c) || (table === 'nat' && isServiceChainName(c)));
    const deletes: string[] = [];
    for (const l of save.stdout.split('\n')) {
      if (!l.startsWith('-A ')) continue;
      if (matchJumpRule(table, l)) deletes.push('-D ' + l.slice(3));
    }
    if (ours.length === 0 && deletes.length === 0) return;
    jumpsDeleted += deletes.length;
    chainsDeleted += ours.length;
    sections.push(`*${table}`, ...ours.map((c) => `:${c} - [0:0]`), ...deletes, ...ours.map((c) => `-X ${c}`), 'COMMIT');
  });
  if (sections.length === 0) return { jumpsDeleted: 0, chainsDeleted: 0, restoreInput: '' };
  const input = sections.join('\n') + '\n';
  const res = await run(RESTORE_ARGV, { netns, input, allowFail: true });
  if (res.exitCode !== 0) throw new ProxySyncError(`removing kube-proxy rules failed (exit ${res.exitCode}): ${res.stderr.trim()}${contextOfError(res.stderr, input)}`, input);
  return { jumpsDeleted, chainsDeleted, restoreInput: input };
}
