// The node: where cni0, the KUBE-* chains and the pods' host-side veths live.
// host mode: the namespace the controller runs in (the Vagrant VM's root namespace).
// sandbox mode: a `<instance>-node` namespace standing in for the VM, joined by a veth pair to
// a `<instance>-host` namespace standing in for the laptop. Same code path for both: everything
// below addresses the node through `node.netns` (null = the controller's own namespace).
import { type Cidr, nth, nthSubnet, parseCidr } from '../util/cidr.ts';
import { LAPTOP_IP, NODE_NETWORK_PREFIX } from '../api/node-network.ts';
import type { ClusterConfig, NodeMode } from '../api/types.ts';
import type { Netns } from '../sys/exec.ts';
import type { InstancePaths } from './instance.ts';

/** host or sandbox; defined in api/types.ts because the store records it. */
export type { NodeMode };

export const BRIDGE = 'cni0';
/** Node side of the sandbox's "host-only network", named like the VM's second NIC. */
export const NODE_UPLINK = 'eth1';
/** Laptop side of that network, named like VirtualBox's host-only adapter. */
export const HOST_UPLINK = 'vboxnet0';
/** The laptop's address (lab/config.yaml refuses it as node-ip). */
export const SANDBOX_HOST_IP = LAPTOP_IP;

export interface LabNode {
  name: string;
  /** Index of the node in the cluster: node i owns pod CIDR 10.42.i.0/24. */
  index: number;
  mode: NodeMode;
  netns: Netns;
  nodeIP: string;
  /** Prefix length of the node network (192.168.56.0/24). */
  nodeIPPrefix: number;
  podCIDR: Cidr;
  /** cni0's address, the pods' default gateway: the first address of the pod CIDR. */
  gateway: string;
}

export function describeNode(config: ClusterConfig, mode: NodeMode, paths: InstancePaths, index = 0): LabNode {
  const podCIDR = nthSubnet(parseCidr(config.clusterCIDR), config.nodeCIDRMaskSize ?? 24, index);
  return {
    name: config.nodeName,
    index,
    mode,
    netns: mode === 'sandbox' ? paths.nodeNetns : null,
    nodeIP: config.nodeIP,
    nodeIPPrefix: NODE_NETWORK_PREFIX,
    podCIDR,
    gateway: nth(podCIDR, 1),
  };
}
