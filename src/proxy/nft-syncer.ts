// The kube-proxy applier in nftables mode: plans (nft-plan.ts) written into a node's network
// namespace, one `nft -f -` transaction per sync (atomic: all of it or nothing).
//
// Switching modes, as kube-proxy does at start (it cleans up the other modes' leftovers): once
// this mode's first sync is in place, the iptables mode's chains and jump rules are removed
// (teardownProxyRules). In that order, so that a Service is never without rules while the modes
// change: for a moment both answer, and a connection keeps the NAT its first packet got.
import { run, spawnCounter, type Netns } from '../sys/exec.ts';
import type { ProxyConfig } from './model.ts';
import { NFT_TABLE } from './nft-names.ts';
import { NftSyncPlanner } from './nft-plan.ts';
import { teardownProxyRules } from './syncer.ts';
import { ProxySyncError, SyncerShell, type ProxyState, type SyncResult } from './syncer-shell.ts';
import { teardownNftTable } from './nft-teardown.ts';

export { teardownNftTable };

export const NFT_APPLY_ARGV = ['nft', '-f', '-'];

export interface NftSyncerOptions {
  netns: Netns;
  config: ProxyConfig;
  /** After the first sync, remove iptables mode's rules (kube-proxy's cleanup at start). Default true. */
  cleanupOtherMode?: boolean;
}

export class NftProxySyncer extends SyncerShell<NftSyncPlanner, boolean> {
  readonly mode = 'nftables' as const;
  lastInput = '';

  constructor(opts: NftSyncerOptions) {
    super({
      netns: opts.netns,
      planner: new NftSyncPlanner({ config: opts.config }),
      cleanupOtherMode: opts.cleanupOtherMode ?? true,
      // The iptables mode's KUBE-* chains and jumps (only kube-proxy's own; nothing else).
      removeOtherMode: teardownProxyRules,
    });
  }

  /** The table is gone (someone ran `nft flush ruleset`): the caller forces a full sync. */
  protected override async findLostRules(): Promise<string[]> {
    const r = await run(['nft', 'list', 'tables', 'ip'], { netns: this.netns, allowFail: true });
    return r.exitCode === 0 && !r.stdout.split('\n').some((l) => l.trim() === `table ip ${NFT_TABLE}`) ? [`table ip ${NFT_TABLE}`] : [];
  }

  /** Delete the table (kube-proxy's CleanupLeftovers for nftables). */
  protected override removeRules(): Promise<boolean> {
    return teardownNftTable(this.netns);
  }

  protected override async doSync(state: ProxyState, opts: { full?: boolean }): Promise<SyncResult> {
    const t0 = performance.now();
    const spawns0 = spawnCounter.count;
    const plan = this.planner.plan({ services: state.services, endpointSlices: state.endpointSlices, ...(opts.full ? { full: true } : {}), ...(state.changed ? { changed: state.changed } : {}) });
    const base = { full: plan.full, rules: { filter: 0, nat: plan.rules }, chains: { filter: 0, nat: 0 }, services: plan.services, endpoints: plan.endpoints, jumpsInserted: 0, largeClusterMode: false };
    if (!plan.changed) {
      this.planner.commit(plan);
      const ms = performance.now() - t0;
      return { ...base, skipped: true, bytes: 0, servicesWritten: 0, staleChainsDeleted: 0, restoreMs: 0, applyMs: ms, totalMs: ms, spawns: 0 };
    }
    this.lastInput = plan.text;
    const r0 = performance.now();
    const res = await run(NFT_APPLY_ARGV, { netns: this.netns, input: plan.text, allowFail: true });
    const restoreMs = performance.now() - r0;
    if (res.exitCode !== 0) {
      this.planner.fail();
      throw new ProxySyncError(`nft -f failed (exit ${res.exitCode}): ${res.stderr.trim().split('\n').slice(0, 6).join('\n')}`, plan.text);
    }
    this.planner.commit(plan);
    const applyMs = performance.now() - t0;
    await this.removeOtherModeOnce();
    return { ...base, skipped: false, bytes: plan.bytes, servicesWritten: plan.servicesWritten, staleChainsDeleted: plan.staleChainsDeleted, restoreMs, applyMs, totalMs: performance.now() - t0, spawns: spawnCounter.count - spawns0 };
  }
}
