// `lab agent`: one node joined to a server, as `k3s agent` runs (src/controllers/agent.ts). In
// the sandbox the server starts one per agent inside its machine's namespace; on a VM it is
// started by hand or by provisioning: lab agent --server https://192.168.56.110:6443
// --token-file node-token --node-name labsw --node-ip 192.168.56.111. It runs until SIGTERM.
import { readFile } from 'node:fs/promises';
import { LabAgent } from '../../controllers/agent.ts';
import { hostModeMarkPath, interfaceHolding, isMarkedHost } from '../../node/mode.ts';
import { observeLinks, type ObservedLink } from '../../sys/ip.ts';
import { NODE_UPLINK } from '../../node/node.ts';
import { agentNodeIPProblem, normalizeNodeName } from '../../api/schema/config.ts';
import { dns1123SubdomainProblem } from '../../api/names.ts';
import { log } from '../common.ts';
import { preflight } from '../preflight.ts';
import { ipProblem } from '../../util/cidr.ts';

export type Args = {
  name: string;
  server: string;
  token?: string;
  'token-file'?: string;
  'node-name': string;
  'node-ip': string;
  'node-label'?: string[];
  'node-taint'?: string[];
  mode?: 'host' | 'sandbox';
};

/**
 * On a VM (host mode): --node-ip must be an address of this machine, as the kubelet validates it,
 * and eth1's: flannel sends its VXLAN from eth1 (NODE_UPLINK, the lab's --flannel-iface) with the
 * node IP as the source, so an address of eth0 (VirtualBox's NAT) would make a tunnel nobody reaches.
 */
export function hostNodeIPProblem(links: Map<string, ObservedLink>, nodeIP: string): string | undefined {
  const holder = interfaceHolding(links, nodeIP);
  if (!holder) return `failed to validate nodeIP: node IP: ${JSON.stringify(nodeIP)} not found in the host's network interfaces (give --node-ip the address of this machine's host-only interface, ${NODE_UPLINK})`;
  if (holder !== NODE_UPLINK) {
    const eth1 = links.get(NODE_UPLINK)?.addrs.map((a) => a.split('/')[0]) ?? [];
    return `--node-ip: ${nodeIP} is ${holder}'s address, and the nodes meet on ${NODE_UPLINK} (flannel's interface, k3s's --flannel-iface)${eth1.length ? `: give ${NODE_UPLINK}'s ${eth1.join(' or ')}` : ''}`;
  }
  return undefined;
}

export async function agentHandler(a: Args): Promise<void> {
  preflight({ needRoot: true });
  const nodeName = normalizeNodeName(a['node-name']);
  const nameProblem = dns1123SubdomainProblem(nodeName);
  if (nameProblem) throw new Error(`--node-name: ${nameProblem}`);
  const ipIssue = ipProblem(a['node-ip']);
  if (ipIssue) throw new Error(`--node-ip: ${ipIssue}`);
  if (!/^https:\/\//.test(a.server)) throw new Error(`--server: ${JSON.stringify(a.server)} is not an https:// URL such as https://192.168.56.110:6443`);
  const netIssue = agentNodeIPProblem(a['node-ip'], a.server);
  if (netIssue) throw new Error(`--node-ip: ${netIssue}`);
  const token = a.token ?? (a['token-file'] ? (await readFile(a['token-file'], 'utf8').catch((e: Error) => { throw new Error(`--token-file: ${e.message}`, { cause: e }); })).trim() : undefined);
  if (!token) throw new Error('give the server\'s node-token with --token or --token-file');
  // The VM's provisioning marks it a host; anywhere else an agent is a sandbox machine's.
  const mode = a.mode ?? (isMarkedHost(hostModeMarkPath()) ? 'host' : 'sandbox');
  if (mode === 'host') {
    const problem = hostNodeIPProblem(await observeLinks(null), a['node-ip']);
    if (problem) throw new Error(problem);
  }
  const agent = new LabAgent({ instance: a.name, mode, server: a.server, token, nodeName, nodeIP: a['node-ip'], nodeLabels: a['node-label'] ?? [], nodeTaints: a['node-taint'] ?? [], log });
  let stopping: Promise<void> | null = null;
  const stop = (sig: string) => {
    stopping ??= (async () => {
      log(`${sig}: stopping agent ${nodeName} (its pods keep running)`);
      await agent.stop();
    })();
    return stopping;
  };
  const done = new Promise<void>((resolve) => {
    process.once('SIGTERM', () => void stop('SIGTERM').then(resolve));
    process.once('SIGINT', () => void stop('SIGINT').then(resolve));
  });
  try {
    await agent.start();
  } catch (e) {
    await agent.stop().catch(() => {});
    throw e;
  }
  await done;
}
