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
  /** /run/packet-path-lab/<instance>: state, IPAM, volumes, logs. */
  stateDir: string;
  stateFile: string;
  ipamDir: string;
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
  nodeNetns: string;
  hostNetns: string;
  podNetns(pod: string): string;
  /** /etc/netns/<netns>: files `ip netns exec` bind-mounts over /etc (hosts, resolv.conf). */
  netnsEtc(netns: string): string;
  /** Prefix shared by every netns of this instance. */
  netnsPrefix: string;
}

export function instancePaths(instance: string): InstancePaths {
  validateInstanceName(instance);
  const stateDir = path.join(RUN_ROOT, instance);
  return {
    instance,
    stateDir,
    stateFile: path.join(stateDir, 'state.json'),
    ipamDir: path.join(stateDir, 'cni', 'networks', 'cbr0'),
    imagesDir: path.join(stateDir, 'images'),
    serverDir: path.join(stateDir, 'server'),
    storeFile: path.join(stateDir, 'server', 'db', 'state.db'),
    apiPortFile: path.join(stateDir, 'server', 'api-port'),
    tlsDir: path.join(stateDir, 'server', 'tls'),
    tokenFile: path.join(stateDir, 'server', 'token'),
    podDir: (pod) => path.join(stateDir, 'pods', pod),
    nodeNetns: `${instance}-node`,
    hostNetns: `${instance}-host`,
    podNetns: (pod) => `${instance}-${pod}`,
    netnsEtc: (netns) => path.join(NETNS_ETC_ROOT, netns),
    netnsPrefix: `${instance}-`,
  };
}
