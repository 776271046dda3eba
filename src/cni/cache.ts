// libcni's cache of what each ADD returned (/var/lib/cni/results on a node; the lab keeps one per
// node inside the instance): one JSON file per network, container and interface, named
// `<network>-<containerID>-<ifName>`, written after the ADD succeeded and removed after its DEL.
// DEL and CHECK hand the cached result to the plugins as prevResult; a restarted kubelet reads its
// pods' addresses back from it; `lab describe pod` shows it.
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../sys/files.ts';
import type { CniResult, RuntimeConf } from './spec.ts';

/** libcni's cachedInfo, field for field (Config is Go []byte: base64 in JSON). */
export interface CacheEntry {
  kind: 'cniCacheV1';
  containerId: string;
  config: string;
  ifName: string;
  networkName: string;
  netns?: string;
  cniArgs?: [string, string][];
  capabilityArgs?: Record<string, unknown>;
  result?: CniResult;
}

export function resultsDir(cacheDir: string): string {
  return path.join(cacheDir, 'results');
}

export function cacheFile(cacheDir: string, network: string, containerId: string, ifName: string): string {
  return path.join(resultsDir(cacheDir), `${network}-${containerId}-${ifName}`);
}

export async function writeCache(cacheDir: string, network: string, configBytes: string, rt: RuntimeConf, result: CniResult): Promise<void> {
  const entry: CacheEntry = {
    kind: 'cniCacheV1',
    containerId: rt.containerId,
    config: Buffer.from(configBytes).toString('base64'),
    ifName: rt.ifName,
    networkName: network,
    ...(rt.netns ? { netns: rt.netns } : {}),
    ...(rt.args.length ? { cniArgs: rt.args } : {}),
    ...(Object.keys(rt.capabilityArgs).length ? { capabilityArgs: rt.capabilityArgs } : {}),
    result,
  };
  await mkdir(resultsDir(cacheDir), { recursive: true, mode: 0o700 });
  await writeFileAtomic(cacheFile(cacheDir, network, rt.containerId, rt.ifName), JSON.stringify(entry), { mode: 0o600 });
}

function parseEntry(text: string): CacheEntry | null {
  try {
    const e = JSON.parse(text) as CacheEntry;
    return e && e.kind === 'cniCacheV1' && typeof e.containerId === 'string' && typeof e.networkName === 'string' && typeof e.ifName === 'string' ? e : null;
  } catch {
    return null;
  }
}

export async function readCache(cacheDir: string, network: string, containerId: string, ifName: string): Promise<CacheEntry | null> {
  const text = await readFile(cacheFile(cacheDir, network, containerId, ifName), 'utf8').catch(() => null);
  return text === null ? null : parseEntry(text);
}

export async function deleteCache(cacheDir: string, network: string, containerId: string, ifName: string): Promise<void> {
  await rm(cacheFile(cacheDir, network, containerId, ifName), { force: true });
}

/** Every cached attachment (files that are not a cache entry, such as a temporary file, are skipped). */
export async function listCache(cacheDir: string): Promise<CacheEntry[]> {
  const dir = resultsDir(cacheDir);
  const names = await readdir(dir).catch(() => [] as string[]);
  const entries = await Promise.all(
    names.filter((n) => !n.startsWith('.')).map(async (n) => {
      const text = await readFile(path.join(dir, n), 'utf8').catch(() => null);
      return text === null ? null : parseEntry(text);
    }),
  );
  return entries.filter((e): e is CacheEntry => e !== null);
}

/** The network config list an entry was added with (for its DEL: what was added is what is removed). */
export function cachedConfig(e: CacheEntry): string {
  return Buffer.from(e.config, 'base64').toString('utf8');
}
