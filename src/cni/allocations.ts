// host-local's on-disk store: one file per address holding the owner, plus last_reserved_ip.0.
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type IpamRange, nextAddress } from './ipam.ts';

const LAST = 'last_reserved_ip.0';
const IP_RE = /^\d{1,3}(\.\d{1,3}){3}$/;

/** Address -> owner (pod netns). */
export async function readAllocations(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return out;
  }
  for (const n of names) {
    if (!IP_RE.test(n)) continue;
    // Released between the listing and the read (another process's DEL): not allocated.
    const owner = await readFile(path.join(dir, n), 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return null;
      throw e;
    });
    if (owner !== null) out.set(n, owner.split('\n')[0]!);
  }
  return out;
}

/** Gives each owner an address (keeping one it already holds). Throws when the range is full. */
export async function allocate(dir: string, range: IpamRange, owners: string[]): Promise<Map<string, string>> {
  await mkdir(dir, { recursive: true });
  const current = await readAllocations(dir);
  const byOwner = new Map([...current].map(([ip, owner]) => [owner, ip]));
  const used = new Set(current.keys());
  let last: string | undefined;
  try {
    last = (await readFile(path.join(dir, LAST), 'utf8')).trim();
  } catch {
    last = undefined;
  }
  const out = new Map<string, string>();
  for (const owner of owners) {
    let ip = byOwner.get(owner);
    if (!ip) {
      const next = nextAddress(range, used, last);
      if (!next) throw new Error(`no free address left in the pod CIDR of this node for ${owner}`);
      ip = next;
      used.add(ip);
      last = ip;
      await writeFile(path.join(dir, ip), `${owner}\neth0\n`);
    }
    out.set(owner, ip);
  }
  if (last) await writeFile(path.join(dir, LAST), `${last}\n`);
  return out;
}

export async function release(dir: string, owners: Set<string>): Promise<void> {
  for (const [ip, owner] of await readAllocations(dir)) if (owners.has(owner)) await rm(path.join(dir, ip), { force: true });
}

/**
 * Garbage collection, as the CNI GC verb does for a runtime: frees every address whose owner is
 * not among `keep` (left behind by an interrupted DEL).
 */
export async function releaseAllExcept(dir: string, keep: Set<string>): Promise<string[]> {
  const freed: string[] = [];
  for (const [ip, owner] of await readAllocations(dir)) {
    if (!keep.has(owner)) {
      await rm(path.join(dir, ip), { force: true });
      freed.push(ip);
    }
  }
  return freed;
}
