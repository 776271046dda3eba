// The lab's own programs that run as processes of their own: the cluster DNS server (the
// coredns pod's container) and the prober agent (inside the node), each a self-contained ES module
// under build/ that plain node starts in about 0.1 s. bin/bundles.mjs builds them (npm ci) and
// rebuilds one here whenever a source file changed since, so the kubelet never starts a stale one.
import path from 'node:path';
import { BUNDLES, ensureBundle, LAB_ROOT } from '../../bin/bundles.mjs';

export type Program = 'coredns' | 'prober-agent';
const PROGRAMS: Program[] = ['coredns', 'prober-agent'];

/** Where a program's bundle lives (what a manifest or spawn refers to). */
export function programPath(name: Program): string {
  return path.join(LAB_ROOT, BUNDLES[name].outfile);
}

/** The program's bundle, built or rebuilt first if needed. Returns its path. */
export function ensureProgram(name: Program): Promise<string> {
  return ensureBundle(name);
}

/** Every program (the controller calls this before starting pods). */
export async function ensurePrograms(): Promise<void> {
  await Promise.all(PROGRAMS.map((name) => ensureBundle(name)));
}
