// The thin applier: looks at a node's namespace and carries plans out, through src/sys. A look is
// three processes at once (one `ip -d -j -batch` for the uplink and flannel.1 with its addresses,
// neighbours and routes; `bridge -j fdb show`; `iptables-save`); a plan is at most one `ip -batch`
// for the device, one `bridge -batch` for the FDB and one `ip -batch` for neighbours and routes,
// in that order (FDB before the routes that use it), and one `iptables-restore --noflush` when the
// rules are not in place. Never one process per entry.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { bridgeArgs, bridgeBatch, ipArgs, ipBatch, ipBatchQuery, run, type Netns } from '../sys/exec.ts';
import { writeFileAtomic } from '../sys/files.ts';
import { FLANNEL_RESTORE_ARGV, teardownFlannelRules } from './iptables.ts';
import { observationBatch, parseFdb, parseIpObservation, VXLAN_DEVICE, type ObservedVxlan } from './vxlan-observed.ts';
import type { VxlanPlan } from './vxlan-plan.ts';

export interface FlannelObservation {
  /** The flannel interface's MTU (flannel.1's is 50 less). */
  uplinkMtu: number;
  vxlan: ObservedVxlan;
  /** `iptables-save` of the namespace (every table). */
  iptablesSave: string;
}

/** Where flannel's plans go: a node's namespace (NetnsDataplane), or a fake in unit tests. */
export interface FlannelDataplane {
  observe(uplink: string): Promise<FlannelObservation>;
  applyVxlan(plan: VxlanPlan): Promise<void>;
  /** One iptables-restore of this input ('' runs nothing). */
  applyRules(input: string): Promise<void>;
  /** Writes the file atomically unless it already holds `text`; true when it wrote. */
  writeSubnetEnv(file: string, text: string): Promise<boolean>;
}

export class NetnsDataplane implements FlannelDataplane {
  /** `netns`: the node's network namespace; null in host mode (the VM is the node). */
  constructor(readonly netns: Netns) {}

  async observe(uplink: string): Promise<FlannelObservation> {
    const [ip, fdb, save] = await Promise.all([
      ipBatchQuery(this.netns, ['-d', '-j'], observationBatch(uplink)),
      run(bridgeArgs(this.netns, '-j', 'fdb', 'show', 'dev', VXLAN_DEVICE), { allowFail: true }),
      run(['iptables-save'], { netns: this.netns }),
    ]);
    const { uplinkMtu, vxlan } = parseIpObservation(ip.stdout, uplink);
    // Without flannel.1 `bridge fdb show dev flannel.1` fails: nothing to read then.
    if (vxlan.device && fdb.exitCode !== 0) throw new Error(`flannel: bridge fdb show dev ${VXLAN_DEVICE} failed: ${fdb.stderr.trim()}`);
    return { uplinkMtu, vxlan: { ...vxlan, fdb: vxlan.device ? parseFdb(fdb.stdout) : [] }, iptablesSave: save.stdout };
  }

  async applyVxlan(plan: VxlanPlan): Promise<void> {
    if (plan.fdb.length === 0) return ipBatch(this.netns, [...plan.device, ...plan.entries]);
    await ipBatch(this.netns, plan.device);
    await bridgeBatch(this.netns, plan.fdb);
    await ipBatch(this.netns, plan.entries);
  }

  async applyRules(input: string): Promise<void> {
    if (!input) return;
    const r = await run(FLANNEL_RESTORE_ARGV, { netns: this.netns, input, allowFail: true });
    if (r.exitCode !== 0) throw new Error(`flannel: iptables-restore failed (exit ${r.exitCode}): ${r.stderr.trim()}\n${input}`);
  }

  async writeSubnetEnv(file: string, text: string): Promise<boolean> {
    if ((await readFile(file, 'utf8').catch(() => null)) === text) return false;
    await mkdir(path.dirname(file), { recursive: true });
    // A rename: flannel's CNI plugin reads the file at every pod's ADD and must never see half of it.
    return writeFileAtomic(file, text, { mode: 0o644 });
  }
}

/** A VTEP MAC as flannel's mac.NewHardwareAddr makes one: random, locally administered, unicast. */
export function randomVtepMac(): string {
  const b = randomBytes(6);
  b[0] = (b[0]! & 0xfe) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/**
 * Removes what flannel made in a namespace: flannel.1 (its neighbours, FDB entries and routes go
 * with it) and the FLANNEL-* chains with their hooks. Stateless, for `lab down` and tests; foreign
 * rules are left alone. subnet.env is the caller's (it lives in the instance's state dir).
 */
export async function teardownFlannel(netns: Netns): Promise<{ device: boolean; rules: boolean }> {
  const del = await run(ipArgs(netns, 'link', 'del', VXLAN_DEVICE), { allowFail: true });
  const save = await run(['iptables-save'], { netns, allowFail: true });
  const input = save.exitCode === 0 ? teardownFlannelRules(save.stdout) : '';
  if (input) await new NetnsDataplane(netns).applyRules(input);
  return { device: del.exitCode === 0, rules: input !== '' };
}
