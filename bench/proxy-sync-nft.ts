// Benchmark `proxy-sync-nft`: kube-proxy's nftables mode with many Services, against the floor of
// a bare `nft -f` of the very same text, in the same run.
//
//  - full sync of N Services x 5 endpoints (default N = 1,000 and 10,000): NftProxySyncer.sync()
//    in a fresh network namespace (planning, one nft -f) vs a bare `nft -f` of its input in
//    another fresh namespace;
//  - partial sync of one endpoint change with 10,000 Services present, from the changed state
//    being handed over to the rules being applied, vs a bare `nft -f` of the same partial input
//    applied again (idempotent: chains are added and flushed; the deletions of chains gone stale
//    a second earlier are left out of the floor's copy).
//
// Runs in network namespaces it creates and deletes. Standalone: `npx tsx bench/proxy-sync-nft.ts
// [sizes]`; or from the harness (export `proxySyncNftBenchmark`).
import { pathToFileURL } from 'node:url';
import type { EndpointSlice, Service } from '../src/api/types.ts';
import type { ProxyConfig } from '../src/proxy/model.ts';
import { NFT_APPLY_ARGV, NftProxySyncer } from '../src/proxy/nft-syncer.ts';
import type { SyncResult } from '../src/proxy/syncer.ts';
import { run } from '../src/sys/exec.ts';
import { medianOf, withFreshNetns, type Benchmark, type BenchContext, type Figure } from './harness.ts';
import { movedAddress, syntheticState, withEndpointAt } from './proxy-sync.ts';

export const DEFAULT_SIZES = [1000, 10000];
export const FULL_SYNC_GOAL_RATIO = 1.15;
export const PARTIAL_SYNC_GOAL_MS = 50;

const CONFIG: ProxyConfig = { nodeName: 'labS', nodeIPs: ['192.168.56.110'], clusterCIDR: '10.42.0.0/16', serviceCIDRs: ['10.43.0.0/16'] };

export interface NftFullFigures {
  services: number;
  syncMs: number;
  floorMs: number;
  ratio: number;
  nftMs: number;
  overheadMs: number;
  rules: number;
  bytes: number;
}

export interface NftPartialFigures {
  services: number;
  ms: number;
  floorMs: number;
  nftMs: number;
  bytes: number;
  lines: number;
}

/** A fresh namespace for a sync or a floor (the nftables benchmark's prefix). */
const withNetns = <T>(tag: string, fn: (netns: string) => Promise<T>): Promise<T> => withFreshNetns('pplt-bench-nft', tag, fn);

export async function benchProxySyncNft(opts: { sizes?: number[]; per?: number; repeats?: number; partialRepeats?: number; log?: (l: string) => void } = {}): Promise<{ nft: string; full: NftFullFigures[]; partial?: NftPartialFigures }> {
  const sizes = opts.sizes ?? DEFAULT_SIZES;
  const per = opts.per ?? 5;
  const log = opts.log ?? (() => {});
  const version = (await run(['nft', '--version'])).stdout.trim();
  const out: { nft: string; full: NftFullFigures[]; partial?: NftPartialFigures } = { nft: version, full: [] };
  log(version);
  const partialAt = Math.max(...sizes);
  for (const n of sizes) {
    const state = syntheticState(n, per);
    const repeats = n < 5000 ? (opts.repeats ?? 3) : 1;
    let best: NftFullFigures | undefined;
    let bestFloor = Infinity;
    for (let k = 0; k < repeats; k++) {
      const m = await withNetns('sync', async (netns) => {
        // No iptables leftovers in a fresh namespace: the other mode's cleanup is left out.
        const syncer = new NftProxySyncer({ netns, config: CONFIG, cleanupOtherMode: false });
        const t0 = performance.now();
        const r = await syncer.sync(state);
        const syncMs = performance.now() - t0;
        const text = syncer.lastInput;
        if (n === partialAt && k === repeats - 1) out.partial = await measurePartial(syncer, state, n, opts.partialRepeats ?? 5, log);
        return { r, syncMs, text };
      });
      const floorMs = await withNetns('floor', async (netns) => {
        const t0 = performance.now();
        await run(NFT_APPLY_ARGV, { netns, input: m.text });
        return performance.now() - t0;
      });
      bestFloor = Math.min(bestFloor, floorMs);
      log(`full sync, ${n} Services x ${per}: ${m.syncMs.toFixed(0)} ms (nft ${m.r.restoreMs.toFixed(0)} ms), floor ${floorMs.toFixed(0)} ms; ${m.r.rules.nat} rules, ${(m.r.bytes / 1e6).toFixed(2)} MB`);
      if (!best || m.syncMs < best.syncMs) best = { services: n, syncMs: m.syncMs, floorMs, ratio: 0, nftMs: m.r.restoreMs, overheadMs: m.syncMs - m.r.restoreMs, rules: m.r.rules.nat, bytes: m.r.bytes };
    }
    best!.floorMs = bestFloor;
    best!.ratio = best!.syncMs / bestFloor;
    log(`full sync, ${n} Services: best ${best!.syncMs.toFixed(0)} ms vs best floor ${bestFloor.toFixed(0)} ms: ratio ${best!.ratio.toFixed(3)}`);
    out.full.push(best!);
  }
  return out;
}

async function measurePartial(syncer: NftProxySyncer, base: { services: Service[]; endpointSlices: EndpointSlice[] }, n: number, repeats: number, log: (l: string) => void): Promise<NftPartialFigures> {
  const target = Math.floor(n / 2);
  const results: { ms: number; floorMs: number; r: SyncResult; text: string }[] = [];
  for (let k = 0; k < repeats; k++) {
    const slices = withEndpointAt(base.endpointSlices, target, movedAddress(k));
    const t0 = performance.now();
    const r = await syncer.sync({ services: base.services, endpointSlices: slices });
    const ms = performance.now() - t0;
    if (r.full || r.servicesWritten !== 1) throw new Error(`expected a partial sync of one Service, got full=${r.full} written=${r.servicesWritten}`);
    const text = syncer.lastInput;
    const again = text.split('\n').filter((l) => !l.startsWith('delete chain ')).join('\n');
    const f0 = performance.now();
    await run(NFT_APPLY_ARGV, { netns: syncer.netns, input: again });
    results.push({ ms, floorMs: performance.now() - f0, r, text });
  }
  const last = results.at(-1)!;
  const fig: NftPartialFigures = { services: n, ms: medianOf(results, (x) => x.ms), floorMs: medianOf(results, (x) => x.floorMs), nftMs: medianOf(results, (x) => x.r.restoreMs), bytes: last.r.bytes, lines: last.text.split('\n').filter(Boolean).length };
  log(`partial sync, one endpoint change among ${n} Services: ${fig.ms.toFixed(1)} ms (nft ${fig.nftMs.toFixed(1)} ms; bare nft -f of the same input ${fig.floorMs.toFixed(1)} ms); ${fig.lines} lines, ${(fig.bytes / 1e3).toFixed(1)} kB`);
  return fig;
}

export const proxySyncNftBenchmark: Benchmark = {
  name: 'proxy-sync-nft',
  description: "kube-proxy's nftables mode: full sync of 1,000 and 10,000 Services x 5 endpoints against a bare `nft -f` of the same text in a fresh namespace; one endpoint change with 10,000 Services present.",
  needsRoot: true,
  async run(ctx: BenchContext): Promise<Figure[]> {
    const sizes = ctx.options.services ? ctx.options.services.split(',').map(Number) : DEFAULT_SIZES;
    // Best of 3 below 5,000 Services unless --repeat says otherwise: the first sync in a fresh process
    // also pays for the JIT (the planner takes about 150 ms cold, 50 ms warm at 1,000 Services), which
    // a running kube-proxy pays once; its periodic full syncs are warm.
    const r = await benchProxySyncNft({ sizes, log: ctx.log, ...(ctx.repeat > 1 ? { repeats: ctx.repeat } : {}) });
    ctx.note(`${r.nft}. Each full sync is a fresh syncer (full plan + one nft -f) in a fresh namespace; best of ${sizes.some((n) => n < 5000) ? (ctx.repeat > 1 ? ctx.repeat : 3) : 1} below 5,000 Services, one run above. The floor is \`${NFT_APPLY_ARGV.join(' ')}\` of the text NftProxySyncer wrote, in a fresh namespace (full) or again in the same one (partial).`);
    const figs: Figure[] = [];
    for (const f of r.full) {
      figs.push({ name: `nftables full sync, ${f.services} Services x 5 endpoints`, value: f.syncMs, unit: 'ms', floor: f.floorMs, goal: FULL_SYNC_GOAL_RATIO });
      figs.push({ name: `  of which the lab's own work outside nft (${f.services} Services)`, value: f.overheadMs, unit: 'ms' });
      figs.push({ name: `bytes per nftables full sync (${f.services} Services)`, value: f.bytes, unit: 'bytes' });
    }
    if (r.partial) {
      figs.push({ name: `nftables partial sync, one endpoint change among ${r.partial.services} Services`, value: r.partial.ms, unit: 'ms', goal: PARTIAL_SYNC_GOAL_MS });
      figs.push({ name: `  bare nft -f of that partial input`, value: r.partial.floorMs, unit: 'ms' });
      figs.push({ name: `lines per nftables partial sync`, value: r.partial.lines, unit: 'lines' });
    }
    return figs;
  },
};

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  if (process.getuid?.() !== 0) {
    process.stderr.write('bench/proxy-sync-nft.ts needs root (it creates network namespaces)\n');
    process.exit(2);
  }
  const sizes = process.argv[2] ? process.argv[2].split(',').map(Number) : DEFAULT_SIZES;
  const result = await benchProxySyncNft({ sizes, log: (l) => process.stderr.write(`[proxy-sync-nft] ${l}\n`) });
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
}
