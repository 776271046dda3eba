// `lab agent`: one node's roles, as `k3s agent` runs them, against the server's API over HTTPS:
// the kubelet (registers the Node with its labels and taints, renews its Lease, runs the pods
// bound to it, serves :10250 for the API server's logs and exec with certificates the server
// signs), kube-proxy (its own node's rules) and flannel (VXLAN to the other nodes). It joins with
// the server's node-token (client/join.ts), takes the cluster's settings from /v1-k3s/config, and waits for the node
// IPAM to give its Node a podCIDR before it makes cni0. In the sandbox it runs inside its
// machine's namespace (`<instance>-node-<node>`), started there by the server, with its own
// directory (node/instance.ts agentPaths): everything it does addresses its own namespace.
import type { ClusterConfig } from '../api/types.ts';
import { InformerFactory } from '../client/controller.ts';
import { join, parseJoinToken, supervisorText } from '../client/join.ts';
import { HttpsClient } from '../client/https.ts';
import type { KubeObject } from '../client/types.ts';
import { NodeAgent } from '../kubelet/node-agent.ts';
import { KUBELET_PORT } from '../kubelet/node-status.ts';
import { ensureKubeletCerts, kubeletCertDir } from '../kubelet/certs.ts';
import { startKubeletServer, type KubeletServer } from '../kubelet/kubelet-server.ts';
import { KubeletStreams } from '../kubelet/streams.ts';
import { agentPaths } from '../node/instance.ts';
import type { LabNode, NodeMode } from '../node/node.ts';
import { ensureNode } from '../node/setup.ts';
import { nodeRegistration, NodeRoles } from './node-roles.ts';
import { writeNodeCniConfig } from '../cni/node-config.ts';
import { selfInNetns } from '../sys/ip.ts';
import { formatCidr, nth, parseCidr } from '../util/cidr.ts';


export interface AgentOptions {
  instance: string;
  mode: NodeMode;
  /** https://192.168.56.110:6443 */
  server: string;
  token: string;
  nodeName: string;
  nodeIP: string;
  /** k3s's node-label: key=value. */
  nodeLabels: string[];
  /** k3s's node-taint: key=value:Effect. */
  nodeTaints: string[];
  log: (line: string) => void;
  /** How long to wait for the node IPAM's podCIDR. */
  podCIDRTimeoutMs?: number;
}

const NODES = { group: '', resource: 'nodes' };

/** The settings an agent takes from its server (k3s: /v1-k3s/config), as the kubelet needs them. */
export function agentClusterConfig(server: Record<string, unknown>, opts: Pick<AgentOptions, 'nodeName' | 'nodeIP' | 'nodeLabels' | 'nodeTaints'>): ClusterConfig {
  const str = (k: string): string => {
    const v = server[k];
    if (typeof v !== 'string' || !v) throw new Error(`the server's /v1-k3s/config has no ${k}`);
    return v;
  };
  const range = server.serviceNodePortRange;
  const mask = server.nodeCIDRMaskSize;
  return {
    nodeName: opts.nodeName,
    nodeIP: opts.nodeIP,
    nodeLabels: opts.nodeLabels,
    nodeTaints: opts.nodeTaints,
    agents: [],
    clusterCIDR: str('clusterCIDR'),
    serviceCIDR: str('serviceCIDR'),
    clusterDNS: str('clusterDNS'),
    clusterDomain: str('clusterDomain'),
    serviceNodePortRange: Array.isArray(range) && range.length === 2 ? (range as [number, number]) : [30000, 32767],
    nodeCIDRMaskSize: typeof mask === 'number' ? mask : 24,
    source: { file: `${str('server')}/v1-k3s/config`, line: 1 },
  };
}

export class LabAgent {
  private client: HttpsClient | null = null;
  private factory: InformerFactory | null = null;
  private heartbeat: NodeAgent | null = null;
  private roles: NodeRoles | null = null;
  private server: KubeletServer | null = null;

  constructor(private readonly opts: AgentOptions) {}

  async start(): Promise<void> {
    const { opts } = this;
    const paths = agentPaths(opts.instance, opts.nodeName);
    const netns = paths.agentNetns(opts.nodeName);
    if (opts.mode === 'sandbox' && !selfInNetns(netns)) {
      throw new Error(`a sandbox agent runs inside its machine's namespace: nsenter --net=/run/netns/${netns} lab agent ... (the server starts it there)`);
    }
    const userAgent = 'lab-agent/v1.32.0 (linux/amd64)';
    const joined = await join(opts.server, opts.token, { log: opts.log, userAgent });
    this.client = joined.client;
    const config = agentClusterConfig({ ...joined.config, server: opts.server }, opts);
    opts.log(`agent ${opts.nodeName}: joined ${opts.server}`);
    // The kubelet's certificates from the supervisor (k3s: /v1-k3s/serving-kubelet.crt and
    // client-kubelet.crt, each for a CSR of a key the node keeps); from here on the node talks to
    // the API as system:node:<name>, as a k3s kubelet's kubeconfig does.
    const secret = parseJoinToken(opts.token).secret;
    const supervisor = (method: 'GET' | 'POST', p: string, body?: string) => supervisorText(opts.server, joined.ca, secret, method, p, { headers: { 'k3s-Node-Name': opts.nodeName, 'k3s-Node-IP': opts.nodeIP }, body });
    const certs = await ensureKubeletCerts(kubeletCertDir(paths, opts.nodeName), opts.nodeName, await supervisor('GET', '/v1-k3s/client-ca.crt'), (kind, csr) => supervisor('POST', `/v1-k3s/${kind}.crt`, csr));
    joined.client.close();
    const client = new HttpsClient({ server: opts.server, ca: joined.ca, cert: certs.clientCert, key: certs.clientKey, userAgent });
    this.client = client;

    this.heartbeat = new NodeAgent(
      client,
      await nodeRegistration({ name: opts.nodeName, nodeIP: opts.nodeIP, role: 'agent', nodeLabels: opts.nodeLabels, nodeTaints: opts.nodeTaints, nodeCIDRMaskSize: config.nodeCIDRMaskSize, netns: opts.mode === 'sandbox' ? netns : null }),
      { log: opts.log },
    );
    await this.heartbeat.start();
    const podCIDR = parseCidr(await this.waitForPodCIDR(client));
    const node: LabNode = { name: opts.nodeName, index: -1, mode: opts.mode, netns: null, nodeIP: opts.nodeIP, nodeIPPrefix: 24, podCIDR, gateway: nth(podCIDR, 1) };
    opts.log(`agent ${opts.nodeName}: podCIDR ${formatCidr(podCIDR)}, cni0 ${node.gateway}`);
    await ensureNode(node, paths, { hostsLines: [] });
    // The node's CNI conflist, as k3s's agent writes it before its kubelet starts.
    await writeNodeCniConfig(node, paths);

    const factory = new InformerFactory((r, sel) => client.listWatch(r, sel), opts.log);
    this.factory = factory;
    // flannel's first sync (subnet.env, the routes to the other nodes) before the kubelet's first pod.
    this.roles = new NodeRoles({ client, factory, node, paths, config, log: opts.log });
    factory.start();
    await factory.waitForSync();
    await this.roles.start();
    // The kubelet's :10250, where the API server connects `kubectl logs` and `kubectl exec` (this
    // process runs inside the node's namespace, or on the node's VM: every address of the node).
    this.server = await startKubeletServer({ tls: { cert: certs.servingCert, key: certs.servingKey, clientCa: certs.clientCa }, listen: [{ host: '0.0.0.0', port: KUBELET_PORT }], streams: new KubeletStreams(paths, this.roles.kubelet), log: opts.log });
    opts.log(`agent ${opts.nodeName}: kubelet and kube-proxy running; kubelet serving https://${opts.nodeIP}:${KUBELET_PORT}`);
  }

  /**
   * The Node's spec.podCIDR, once the server's node IPAM has written it: a watch of this one Node
   * (fieldSelector metadata.name), as the kubelet waits for it; a closed watch is listed again.
   */
  private waitForPodCIDR(client: HttpsClient): Promise<string> {
    type NodeView = KubeObject & { spec?: { podCIDR?: string } };
    const lw = client.listWatch<NodeView>(NODES, { fieldSelector: `metadata.name=${this.opts.nodeName}` });
    const timeoutMs = this.opts.podCIDRTimeoutMs ?? 60_000;
    return new Promise((resolve, reject) => {
      let cancel: (() => void) | null = null;
      let done = false;
      const finish = (err: Error | null, cidr?: string) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        cancel?.();
        if (err) reject(err);
        else resolve(cidr!);
      };
      const timer = setTimeout(() => finish(new Error(`node ${this.opts.nodeName} got no podCIDR from the server's node IPAM in ${timeoutMs / 1000} s`)), timeoutMs);
      const follow = async (): Promise<void> => {
        const list = await lw.list();
        const cidr = list.items[0]?.spec?.podCIDR;
        if (cidr || done) return finish(null, cidr);
        cancel = lw.watch(
          { resourceVersion: list.resourceVersion },
          (e) => {
            const c = e.type !== 'ERROR' && e.type !== 'DELETED' ? e.object.spec?.podCIDR : undefined;
            if (c) finish(null, c);
          },
          () => {
            if (!done) setTimeout(() => follow().catch((e: Error) => finish(e)), 200);
          },
        );
      };
      follow().catch((e: Error) => finish(e));
    });
  }

  async stop(): Promise<void> {
    await this.server?.close();
    this.heartbeat?.stop();
    await this.roles?.stop();
    this.factory?.stop();
    this.client?.close();
  }
}
