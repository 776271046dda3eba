// Every benchmark `npm run bench` knows, in the order they run and appear in docs/BENCHMARKS.md.
// To add one: write bench/<name>.ts exporting a `Benchmark` (see bench/harness.ts) and add one
// line here.
import type { Benchmark } from './harness.ts';
import { apiBenchmark } from './api.ts';
import { cliBenchmark } from './cli.ts';
import { datapathBenchmark } from './datapath.ts';
import { healingBenchmark } from './healing.ts';
import { nodesBenchmark } from './nodes.ts';
import { podsBenchmark } from './pods.ts';
import { proxySyncBenchmark } from './proxy-sync.ts';
import { proxySyncNftBenchmark } from './proxy-sync-nft.ts';
import { serverBenchmark } from './server.ts';
import { uiBenchmark } from './ui.ts';

export const BENCHMARKS: Benchmark[] = [
  podsBenchmark,
  proxySyncBenchmark,
  proxySyncNftBenchmark,
  healingBenchmark,
  datapathBenchmark,
  serverBenchmark,
  cliBenchmark,
  apiBenchmark,
  uiBenchmark,
  nodesBenchmark,
];
