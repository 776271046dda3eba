// The CNI bridge plugin's ADD and DEL for many pods at once: one `ip netns add` batch, one batch
// in the node (veth pairs, cni0 ports, hairpin) and one small batch inside each pod.
import { createHash } from 'node:crypto';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ipBatch, run } from '../sys/exec.ts';
import { netnsExists, type ObservedLink } from '../sys/ip.ts';
import { BRIDGE, type LabNode } from '../node/node.ts';

export interface PodNetwork {
  /** Pod netns name (`<instance>-<pod>`). */
  netns: string;
  /** Node-side veth name. */
  veth: string;
  ip: string;
}

/** `veth` + 8 hex characters, like the bridge plugin; derived from the netns so it is stable. */
export function vethName(netns: string): string {
  return `veth${createHash('sha256').update(netns).digest('hex').slice(0, 8)}`;
}

export interface CniAddPlan {
  netnsAdd: string[];
  node: string[][];
  pod: Map<string, string[][]>;
}

/**
 * Pure. Pods whose veth already sits on cni0 are left alone; a pod whose netns exists but whose
 * veth is missing (a half-finished ADD) gets the rest of its setup.
 */
export function planCniAdd(node: LabNode, pods: PodNetwork[], observed: { netns: Set<string>; nodeLinks: Map<string, ObservedLink>; configured: Set<string> }): CniAddPlan {
  const plan: CniAddPlan = { netnsAdd: [], node: [], pod: new Map() };
  for (const p of pods) {
    const link = observed.nodeLinks.get(p.veth);
    const nodeSideDone = link && link.master === BRIDGE && link.up && link.hairpin;
    // The pod side is known done only from its result file (written after its batch succeeded):
    // an ADD interrupted between the node's batch and the pod's is finished on the next run.
    if (nodeSideDone && observed.configured.has(p.netns)) continue;
    if (!observed.netns.has(p.netns)) plan.netnsAdd.push(p.netns);
    if (!link) plan.node.push(['link', 'add', p.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', p.netns]);
    if (!nodeSideDone) {
      plan.node.push(['link', 'set', p.veth, 'master', BRIDGE, 'up']);
      // Hairpin: lets a frame leave the bridge port it came in on. A pod whose Service picks the
      // pod itself as endpoint gets its own (DNATed, masqueraded) packets back through its port.
      plan.node.push(['link', 'set', p.veth, 'type', 'bridge_slave', 'hairpin', 'on']);
    }
    // "replace", not "add": safe to run again over a half-configured pod.
    plan.pod.set(p.netns, [
      ['link', 'set', 'lo', 'up'],
      ['addr', 'replace', `${p.ip}/${node.podCIDR.prefix}`, 'dev', 'eth0'],
      ['link', 'set', 'eth0', 'up'],
      ['route', 'replace', 'default', 'via', node.gateway, 'dev', 'eth0'],
    ]);
  }
  return plan;
}

/** Like the CNI's cached results (/var/lib/cni/results): one file per configured pod netns. */
export function cniResultsDir(stateDir: string): string {
  return path.join(stateDir, 'cni', 'results');
}

export async function readConfigured(stateDir: string): Promise<Set<string>> {
  return new Set(await readdir(cniResultsDir(stateDir)).catch(() => [] as string[]));
}

export async function applyCniAdd(node: LabNode, plan: CniAddPlan, stateDir: string): Promise<void> {
  await ipBatch(null, plan.netnsAdd.map((n) => ['netns', 'add', n]));
  await ipBatch(node.netns, plan.node);
  const dir = cniResultsDir(stateDir);
  await mkdir(dir, { recursive: true });
  await Promise.all(
    [...plan.pod].map(async ([netns, lines]) => {
      await ipBatch(netns, lines);
      await writeFile(path.join(dir, netns), `${lines.find((l) => l[0] === 'addr')?.[2] ?? ''}\n`);
    }),
  );
}

/** CNI DEL: deleting the netns destroys eth0, and with it its veth peer on cni0. */
export async function cniDel(netnsNames: string[], stateDir?: string): Promise<void> {
  if (stateDir) await Promise.all(netnsNames.map((n) => rm(path.join(cniResultsDir(stateDir), n), { force: true })));
  const existing = netnsNames.filter(netnsExists);
  if (existing.length) await ipBatch(null, existing.map((n) => ['netns', 'delete', n]), { force: true });
  // `ip netns delete` fails on a namespace still held by a process; check what remains.
  for (const n of existing) {
    if (netnsExists(n)) {
      await run(['ip', 'netns', 'delete', n], { allowFail: true });
      if (netnsExists(n)) await rm(`/run/netns/${n}`, { force: true });
    }
  }
}
