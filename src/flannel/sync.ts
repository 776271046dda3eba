// One flannel sync of a node: look, plan, apply. What flanneld does over its life (device, lease
// annotations aside, masquerade and forward rules, subnet.env, then every other node's entries),
// stated as one idempotent pass: the controller runs it on every relevant Node change; tests run it
// with leases of their own.
import { spawnCounter } from '../sys/exec.ts';
import { parseCidr } from '../util/cidr.ts';
import { randomVtepMac, type FlannelDataplane } from './dataplane.ts';
import type { FlannelLease } from './annotations.ts';
import { planFlannelRules } from './iptables.ts';
import { renderSubnetEnv, VXLAN_OVERHEAD } from './subnet-env.ts';
import { chooseVtepMac, planVxlan, type VxlanPlan } from './vxlan-plan.ts';

export interface FlannelSyncInput {
  nodeIP: string;
  podCIDR: string;
  clusterCIDR: string;
  /** The flannel interface (eth1). */
  uplink: string;
  /** Every other node's lease (this node's own, if passed, is ignored by the planner). */
  leases: FlannelLease[];
  /** The MAC flannel.1 must have; leave it out on the first sync to have it chosen as flannel does. */
  vtepMac?: string;
  /** The MAC this node's backend-data annotation published (a restart's memory), for that choice. */
  storedVtepMac?: string;
  subnetEnvFile: string;
  randomFully?: boolean;
}

export interface FlannelSyncResult {
  vtepMac: string;
  uplinkMtu: number;
  plan: VxlanPlan;
  /** The iptables-restore input run ('' when the rules were in place). */
  rulesInput: string;
  subnetEnvWritten: boolean;
  /** Processes this sync started (the look included). */
  spawns: number;
}

export async function syncFlannel(dp: FlannelDataplane, input: FlannelSyncInput): Promise<FlannelSyncResult> {
  const spawns0 = spawnCounter.count;
  const seen = await dp.observe(input.uplink);
  const own = { nodeIP: input.nodeIP, uplink: input.uplink };
  const vtepMac = input.vtepMac ?? chooseVtepMac(seen.vxlan.device, own, input.storedVtepMac) ?? randomVtepMac();
  const plan = planVxlan({ ...own, podCIDR: input.podCIDR, clusterCIDR: input.clusterCIDR, uplinkMtu: seen.uplinkMtu, vtepMac }, input.leases, seen.vxlan);
  await dp.applyVxlan(plan);
  const rulesInput = planFlannelRules(seen.iptablesSave, { clusterCIDR: input.clusterCIDR, podCIDR: input.podCIDR, ...(input.randomFully === undefined ? {} : { randomFully: input.randomFully }) });
  await dp.applyRules(rulesInput);
  const env = renderSubnetEnv({ network: parseCidr(input.clusterCIDR), subnet: parseCidr(input.podCIDR), mtu: seen.uplinkMtu - VXLAN_OVERHEAD, ipMasq: true });
  const subnetEnvWritten = await dp.writeSubnetEnv(input.subnetEnvFile, env);
  return { vtepMac, uplinkMtu: seen.uplinkMtu, plan, rulesInput, subnetEnvWritten, spawns: spawnCounter.count - spawns0 };
}
