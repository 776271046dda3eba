// flannel's /run/flannel/subnet.env: what flanneld writes once it holds its node's subnet, and what
// flannel's CNI plugin reads to configure the bridge plugin for every pod (subnet, MTU, routes).
// FLANNEL_SUBNET is the node's pod CIDR written as its first address (10.42.1.1/24, cni0's
// address), not the network (10.42.1.0/24). The MTU is the node interface's minus VXLAN's 50 bytes
// of outer headers (1500 -> 1450).
import { formatCidr, nth, parseCidr, type Cidr } from '../util/cidr.ts';

/** VXLAN's overhead: outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8. */
export const VXLAN_OVERHEAD = 50;

export interface SubnetEnv {
  /** The cluster CIDR (FLANNEL_NETWORK), e.g. 10.42.0.0/16. */
  network: Cidr;
  /** The node's pod CIDR (FLANNEL_SUBNET, written with its first address), e.g. 10.42.1.0/24. */
  subnet: Cidr;
  mtu: number;
  ipMasq: boolean;
}

export function renderSubnetEnv(env: SubnetEnv): string {
  return [
    `FLANNEL_NETWORK=${formatCidr(env.network)}`,
    `FLANNEL_SUBNET=${nth(env.subnet, 1)}/${env.subnet.prefix}`,
    `FLANNEL_MTU=${env.mtu}`,
    `FLANNEL_IPMASQ=${env.ipMasq}`,
    '',
  ].join('\n');
}

/** Parses the file as flannel's CNI plugin does (KEY=VALUE lines); throws naming what is missing. */
export function parseSubnetEnv(text: string, file = 'subnet.env'): SubnetEnv {
  const vars = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Z_]+)=(.*?)\s*$/.exec(line);
    if (m) vars.set(m[1]!, m[2]!);
  }
  const need = (k: string): string => {
    const v = vars.get(k);
    if (v === undefined) throw new Error(`${file}: ${k} is missing`);
    return v;
  };
  const mtu = Number(need('FLANNEL_MTU'));
  if (!Number.isInteger(mtu) || mtu < 576 || mtu > 9000) throw new Error(`${file}: FLANNEL_MTU ${JSON.stringify(vars.get('FLANNEL_MTU'))} is not an MTU`);
  return {
    network: parseCidr(need('FLANNEL_NETWORK')),
    subnet: parseCidr(need('FLANNEL_SUBNET')),
    mtu,
    ipMasq: vars.get('FLANNEL_IPMASQ') === 'true',
  };
}
