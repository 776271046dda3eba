// What every node runs, the server's node as much as an agent's (k3s's server runs an agent):
// its registration (the Node's labels, taints, annotations, capacity), flannel, kube-proxy and the
// kubelet, started in k3s's order: flannel's first sync (subnet.env, the routes to the other
// nodes) before the kubelet's first pod sandbox.
import { podIPsPerNode } from '../api/load.ts';
import { parseNodeTaint, type TaintEffect } from '../api/schema/config.ts';
import type { ClusterConfig } from '../api/types.ts';
import type { InformerFactory } from '../client/controller.ts';
import type { Client } from '../client/types.ts';
import { FlannelController } from '../flannel/flannel-controller.ts';
import { KubeletController } from '../kubelet/kubelet-controller.ts';
import { MAX_PODS, type NodeInput } from '../kubelet/node-status.ts';
import { runtimeVersion } from '../kubelet/runc.ts';
import type { InstancePaths } from '../node/instance.ts';
import { NODE_UPLINK, type LabNode } from '../node/node.ts';
import { KubeProxy } from '../proxy/proxy-controller.ts';
import { ProxySyncer } from '../proxy/syncer.ts';
import { NftProxySyncer } from '../proxy/nft-syncer.ts';
import type { ProxyMode } from '../api/types.ts';
import { hostInfo } from '../sys/host.ts';

/** The annotation naming a sandbox node's namespace, as pods carry theirs. */
export const NODE_NETNS_ANNOTATION = 'lab/netns';

export const KUBELET_VERSION = 'v1.32.0+lab';

/**
 * The kubelet's registration of its node from k3s's keys: node-label (`key=value`), node-taint
 * (`key=value:Effect`, set when the Node is created), the node's namespace in the sandbox, and
 * max-pods raised to what a node CIDR holds (k3s: --kubelet-arg=max-pods=N; the scheduler places
 * no more than this).
 */
export async function nodeRegistration(n: {
  name: string;
  nodeIP: string;
  role: NodeInput['role'];
  nodeLabels: string[];
  nodeTaints: string[];
  nodeCIDRMaskSize: number;
  netns: string | null;
  podCIDR?: string;
  kubeletVersion?: string;
}): Promise<NodeInput> {
  const taints = n.nodeTaints.map((t) => {
    const parsed = parseNodeTaint(t);
    if (typeof parsed === 'string') throw new Error(`node-taint: ${parsed}`);
    return parsed as { key: string; value?: string; effect: TaintEffect };
  });
  const labels = Object.fromEntries(n.nodeLabels.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  return {
    name: n.name,
    nodeIP: n.nodeIP,
    ...(n.podCIDR ? { podCIDR: n.podCIDR } : {}),
    role: n.role,
    labels,
    taints,
    annotations: n.netns ? { [NODE_NETNS_ANNOTATION]: n.netns } : {},
    host: hostInfo(),
    kubeletVersion: n.kubeletVersion ?? KUBELET_VERSION,
    maxPods: Math.max(MAX_PODS, podIPsPerNode(n.nodeCIDRMaskSize)),
    containerRuntimeVersion: await runtimeVersion(),
  };
}

/** flannel, kube-proxy and the kubelet of one node, on shared informers (the factory is started by the caller). */
export class NodeRoles {
  readonly flannel: FlannelController;
  readonly proxy: KubeProxy;
  readonly kubelet: KubeletController;

  constructor(o: { client: Client; factory: InformerFactory; node: LabNode; paths: InstancePaths; config: ClusterConfig; log: (line: string) => void }) {
    const { node } = o;
    this.flannel = new FlannelController({ client: o.client, factory: o.factory, nodeName: node.name, netns: node.netns, nodeIP: node.nodeIP, uplink: NODE_UPLINK, subnetEnvFile: o.paths.subnetEnvFile(node.name), clusterCIDR: o.config.clusterCIDR, log: o.log });
    // kube-proxy in the mode config.yaml's kube-proxy-arg names, then whichever ConfigMap
    // kube-system/kube-proxy names (the server makes it from config.yaml, on start and on every edit).
    const proxyConfig = { nodeName: node.name, nodeIPs: [node.nodeIP], clusterCIDR: o.config.clusterCIDR, serviceCIDRs: [o.config.serviceCIDR] };
    const makeSyncer = (mode: ProxyMode) => (mode === 'nftables' ? new NftProxySyncer({ netns: node.netns, config: proxyConfig }) : new ProxySyncer({ netns: node.netns, config: proxyConfig }));
    this.proxy = new KubeProxy(o.factory, makeSyncer(o.config.proxyMode ?? 'iptables'), { log: o.log, health: { netns: node.netns, nodeName: node.name }, makeSyncer });
    this.kubelet = new KubeletController({ client: o.client, factory: o.factory, node, paths: o.paths, config: o.config, log: o.log });
  }

  /** Once the factory has synced: flannel and kube-proxy, then (flannel's first sync done) the kubelet. */
  async start(): Promise<void> {
    this.flannel.start();
    this.proxy.start();
    await this.flannel.ready;
    await this.kubelet.start();
  }

  async stop(): Promise<void> {
    await this.kubelet.stop();
    await this.proxy.stop();
    await this.flannel.stop();
  }
}
