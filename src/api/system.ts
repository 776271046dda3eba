// lab/system.yaml: the kube-system pods the lab ships (cluster DNS, ingress controller), with
// the few values only the controller knows filled in.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { LAB_ROOT } from '../../bin/bundles.mjs';
import { PROXY_MODES, type NodeMode, type ProxyMode } from './types.ts';

/** The checkout (found by bin/bundles.mjs: this file may run from a bundle under build/). */
export { LAB_ROOT };
export const SYSTEM_MANIFESTS = path.join(LAB_ROOT, 'lab', 'system.yaml');

export interface SystemValues {
  stateDir: string;
  mode: NodeMode;
  clusterDNS: string;
  /** Host mode: the resolver the DNS pod forwards names outside the cluster to. */
  resolvConf?: string;
  /** The node's line in the coredns ConfigMap's NodeHosts (`<IP> <name>`); absent: empty. */
  nodeIP?: string;
  nodeName?: string;
  /** kube-proxy's mode (ConfigMap kube-system/kube-proxy); absent: iptables. */
  proxyMode?: ProxyMode;
}

const SAFE_PATH = /^\/[A-Za-z0-9._/-]*$/;

export function renderSystemManifests(template: string, v: SystemValues, root = LAB_ROOT): string {
  for (const p of [root, v.stateDir, v.resolvConf ?? '/']) {
    if (!SAFE_PATH.test(p)) throw new Error(`refusing path ${JSON.stringify(p)} in system manifests: only letters, digits and ._/- are allowed`);
  }
  const values: Record<string, string> = {
    LAB_ROOT: root,
    LAB_STATE: v.stateDir,
    LAB_CLUSTER_DNS: v.clusterDNS,
    // The sandbox has no way out: names outside the cluster are refused, never forwarded.
    LAB_DNS_UPSTREAM: v.mode === 'sandbox' ? '--refuse-external' : `--forward-resolv-conf=${v.resolvConf ?? '/etc/resolv.conf'}`,
    LAB_NODE_HOSTS: v.nodeIP && v.nodeName ? `${v.nodeIP} ${v.nodeName}` : '',
    LAB_PROXY_MODE: v.proxyMode ?? 'iptables',
  };
  if (!(PROXY_MODES as readonly string[]).includes(values.LAB_PROXY_MODE!)) throw new Error(`refusing proxy mode ${JSON.stringify(values.LAB_PROXY_MODE)} in system manifests`);
  if (v.nodeIP !== undefined && !/^[0-9a-fA-F:.]+$/.test(v.nodeIP)) throw new Error(`refusing node IP ${JSON.stringify(v.nodeIP)} in system manifests`);
  if (v.nodeName !== undefined && !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(v.nodeName)) throw new Error(`refusing node name ${JSON.stringify(v.nodeName)} in system manifests`);
  return template.replace(/\$\((LAB_[A-Z_]+)\)/g, (m, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`unknown placeholder ${m} in ${SYSTEM_MANIFESTS}`);
    return value;
  });
}

export async function loadSystemManifests(v: SystemValues): Promise<{ text: string; path: string }> {
  return { text: renderSystemManifests(await readFile(SYSTEM_MANIFESTS, 'utf8'), v), path: SYSTEM_MANIFESTS };
}
