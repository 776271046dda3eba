// Everything host-global the lab creates carries the instance name, so instances never collide
// and `lab down` can find all of it again: netns names, /run and /etc/netns entries.
import path from 'node:path';

export const RUN_ROOT = '/run/packet-path-lab';
export const NETNS_ETC_ROOT = '/etc/netns';

const INSTANCE_RE = /^[a-z]([a-z0-9-]{0,14}[a-z0-9])?$/;

export function validateInstanceName(name: string): string {
  if (!INSTANCE_RE.test(name)) {
    throw new Error(`invalid instance name ${JSON.stringify(name)}: use 1-16 lowercase letters, digits or '-', starting with a letter`);
  }
  return name;
}

export interface InstancePaths {
  instance: string;
  /** /run/packet-path-lab/<instance>: state, volumes, logs, each node's own files under nodes/. */
  stateDir: string;
  stateFile: string;
  imagesDir: string;
  /**
   * The API server's own files, laid out as k3s's /var/lib/rancher/k3s/server: `tls/` (server and
   * client CAs, serving and admin certificates, k3s's file names) and `token`.
   */
  serverDir: string;
  /** The kine store (k3s: server/db/state.db) of an instance run by its server. */
  storeFile: string;
  /** The API's port on 127.0.0.1 in the machine's namespace, as the running server recorded it. */
  apiPortFile: string;
  tlsDir: string;
  tokenFile: string;
  podDir(pod: string): string;
  /**
   * One node's own files (k3s keeps them under /var/lib/rancher/k3s/agent and /run/flannel on the
   * node): `<stateDir>/nodes/<node>`. The name is a validated node name (a DNS-1123 subdomain: no slash, no ".." component).
   */
  nodeDir(node: string): string;
  /** The node's /run/flannel/subnet.env. */
  subnetEnvFile(node: string): string;
  /** The node's CNI config directory (k3s: /var/lib/rancher/k3s/agent/etc/cni/net.d). */
  cniConfDir(node: string): string;
  /** host-local's data directory on the node (the plugin's default: /var/lib/cni/networks). */
  cniDataDir(node: string): string;
  /** The server's node (sandbox): `<instance>-node`. */
  nodeNetns: string;
  /** An agent's machine (sandbox): `<instance>-node-<node>`. */
  agentNetns(node: string): string;
  hostNetns: string;
  podNetns(pod: string): string;
  /** /etc/netns/<netns>: files `ip netns exec` bind-mounts over /etc (hosts, resolv.conf). */
  netnsEtc(netns: string): string;
  /** Prefix shared by every netns of this instance. */
  netnsPrefix: string;
}

export function instancePaths(instance: string): InstancePaths {
  validateInstanceName(instance);
  return pathsUnder(instance, path.join(RUN_ROOT, instance));
}

/** Where an agent's own machine keeps the instance's node files (sandbox: beside the server's). */
export function agentsDir(paths: InstancePaths): string {
  return path.join(paths.stateDir, 'agents');
}

/**
 * The files of an agent's node: on its own VM they would be that machine's
 * /run/packet-path-lab/<instance>; in the sandbox, where the machines share one filesystem, each
 * agent has a directory of its own (`<instance dir>/agents/<node>`), so no kubelet ever takes
 * another node's pods, containers or addresses for its own. Namespaces keep the instance's names.
 */
export function agentPaths(instance: string, node: string): InstancePaths {
  validateInstanceName(instance);
  return pathsUnder(instance, path.join(agentsDir(instancePaths(instance)), node));
}

function pathsUnder(instance: string, stateDir: string): InstancePaths {
  return {
    instance,
    stateDir,
    stateFile: path.join(stateDir, 'state.json'),
    imagesDir: path.join(stateDir, 'images'),
    serverDir: path.join(stateDir, 'server'),
    storeFile: path.join(stateDir, 'server', 'db', 'state.db'),
    apiPortFile: path.join(stateDir, 'server', 'api-port'),
    tlsDir: path.join(stateDir, 'server', 'tls'),
    tokenFile: path.join(stateDir, 'server', 'token'),
    podDir: (pod) => path.join(stateDir, 'pods', pod),
    nodeDir: (node) => path.join(stateDir, 'nodes', node),
    subnetEnvFile: (node) => path.join(stateDir, 'nodes', node, 'run', 'flannel', 'subnet.env'),
    cniConfDir: (node) => path.join(stateDir, 'nodes', node, 'agent', 'etc', 'cni', 'net.d'),
    cniDataDir: (node) => path.join(stateDir, 'nodes', node, 'cni', 'networks'),
    nodeNetns: `${instance}-node`,
    agentNetns: (node) => `${instance}-node-${node}`,
    hostNetns: `${instance}-host`,
    podNetns: (pod) => `${instance}-${pod}`,
    netnsEtc: (netns) => path.join(NETNS_ETC_ROOT, netns),
    netnsPrefix: `${instance}-`,
  };
}
