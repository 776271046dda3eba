// A pod's sandbox as the kernel shows it, for instances run by their server: the API's pods carry
// no lab annotations (the kubelet names each pod's network namespace <instance>-<pod>, as k3s's
// CNI names its cni-<id>), so the tests find the namespace by that name and the node's end of the
// veth by the kernel's own pairing (eth0's peer ifindex in the node), not by anything the lab says.
import { instancePaths } from '../../src/node/instance.ts';
import { inNetns } from './helpers.ts';

/** The pod's network namespace (`ip netns exec <it> ...`). */
export function podNetns(instance: string, pod: string): string {
  return instancePaths(instance).podNetns(pod);
}

/** The node's end of the pod's veth pair: the cni0 port whose ifindex is the peer of the pod's eth0. */
export async function podVeth(instance: string, pod: string): Promise<string> {
  const eth0 = (JSON.parse((await inNetns(podNetns(instance, pod), ['ip', '-j', 'link', 'show', 'eth0'])).stdout || '[]') as { link_index?: number }[])[0];
  const ports = JSON.parse((await inNetns(`${instance}-node`, ['ip', '-j', 'link', 'show', 'master', 'cni0'])).stdout || '[]') as { ifindex: number; ifname: string }[];
  const veth = ports.find((l) => l.ifindex === eth0?.link_index)?.ifname;
  if (!veth) throw new Error(`no cni0 port is the peer of eth0 in ${podNetns(instance, pod)}`);
  return veth;
}
