// flannel's CNI plugin (flannel-io/cni-plugin, the `flannel` binary k3s ships), which Debian does
// not package: the lab does what it does, and calls the real plugin it delegates to. On ADD it
// reads the node's subnet.env (what flanneld wrote), builds the delegate's config from it (bridge,
// cni0, MTU, host-local IPAM over FLANNEL_SUBNET with a route to FLANNEL_NETWORK), saves that
// config under its dataDir named after the container ID, and runs the delegate with the same
// CNI_* environment; its result is flannel's. DEL runs the delegate with the saved config (so a
// changed subnet.env cannot change what is removed) and deletes it; a missing one means there is
// nothing to remove. CHECK does nothing: flannel's cmdCheck is a TODO that returns nil.
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseSubnetEnv, type SubnetEnv } from '../flannel/subnet-env.ts';
import { formatCidr } from '../util/cidr.ts';
import { goJson, type CniCommand, type CniResult } from './spec.ts';

export const DEFAULT_SUBNET_FILE = '/run/flannel/subnet.env';
export const DEFAULT_DATA_DIR = '/var/lib/cni/flannel';

/** flannel's own keys in its plugin config (NetConf): the rest of the list's entry is passed on. */
export interface FlannelConf {
  name: string;
  cniVersion?: string;
  subnetFile?: string;
  dataDir?: string;
  /** Merged into the delegate's IPAM (type, ranges and routes are flannel's). */
  ipam?: Record<string, unknown>;
  delegate?: Record<string, unknown>;
  runtimeConfig?: Record<string, unknown>;
}

/** Runs the delegate plugin (by type) with `command` and the config bytes flannel made. */
export type Delegate = (type: string, command: CniCommand, conf: Record<string, unknown>) => Promise<CniResult | undefined>;

/**
 * The delegate's config, as flannel's cmdAdd and doCmdAdd build it. Pure. Keys the conflist's
 * `delegate` sets win; flannel fills in the rest: name (the network's), type bridge, ipMasq (the
 * opposite of FLANNEL_IPMASQ: when flanneld masquerades, bridge must not), mtu, isGateway (bridge),
 * cniVersion, and the IPAM section.
 */
export function delegateConfig(n: FlannelConf, env: SubnetEnv): Record<string, unknown> {
  const d: Record<string, unknown> = { ...n.delegate };
  if ('type' in d && typeof d.type !== 'string') throw new Error("'delegate' dictionary, if present, must have (string) 'type' field");
  if ('name' in d) throw new Error("'delegate' dictionary must not have 'name' field, it'll be set by flannel");
  if ('ipam' in d) throw new Error("'delegate' dictionary must not have 'ipam' field, it'll be set by flannel");
  if (n.runtimeConfig) d.runtimeConfig = n.runtimeConfig;
  d.name = n.name;
  d.type ??= 'bridge';
  d.ipMasq ??= !env.ipMasq;
  d.mtu ??= env.mtu;
  if (d.type === 'bridge') d.isGateway ??= true;
  if (n.cniVersion) d.cniVersion = n.cniVersion;
  // getDelegateIPAM: FLANNEL_SUBNET as a network (10.42.0.0/24; host-local gives out .2 on, its
  // gateway .1 is cni0's address), and a route to the whole cluster network through that gateway.
  const routes = Array.isArray(n.ipam?.routes) ? [...(n.ipam.routes as unknown[])] : [];
  d.ipam = { ...n.ipam, type: n.ipam?.type ?? 'host-local', ranges: [[{ subnet: formatCidr(env.subnet) }]], routes: [...routes, { dst: formatCidr(env.network) }] };
  return d;
}

/** The flannel plugin's ADD, DEL or CHECK, given its config from the list. */
export async function flannelPlugin(command: CniCommand, conf: Record<string, unknown>, containerId: string, delegate: Delegate): Promise<CniResult | undefined> {
  const n = conf as unknown as FlannelConf;
  const dataDir = n.dataDir ?? DEFAULT_DATA_DIR;
  const scratch = path.join(dataDir, containerId);
  if (command === 'CHECK') return undefined;
  if (command === 'DEL') {
    const saved = await readFile(scratch, 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return null; // the spec: DEL of what is already gone succeeds
      throw e;
    });
    if (saved === null) return undefined;
    let d: Record<string, unknown>;
    try {
      d = JSON.parse(saved) as Record<string, unknown>;
    } catch {
      return undefined; // flannel: the interface stays on the bridge until the node reboots
    }
    await delegate(String(d.type), 'DEL', d);
    await rm(scratch, { force: true });
    return undefined;
  }
  const subnetFile = n.subnetFile ?? DEFAULT_SUBNET_FILE;
  let env: SubnetEnv;
  try {
    env = parseSubnetEnv(await readFile(subnetFile, 'utf8'), subnetFile);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? `open ${subnetFile}: no such file or directory` : err.message;
    throw new Error(`failed to load flannel 'subnet.env' file: ${why}. Check the flannel pod log for this node.`, { cause: e });
  }
  const d = delegateConfig(n, env);
  // Saved before the delegate runs (delegateAdd): an ADD cut short can still be deleted.
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await writeFile(scratch, goJson(d), { mode: 0o600 });
  try {
    return await delegate(d.type as string, 'ADD', d);
  } catch (e) {
    throw new Error(`failed to delegate add: ${(e as Error).message}`, { cause: e });
  }
}

/** Container IDs with a saved delegate config: ADDs that no DEL has undone yet. */
export async function savedContainerIds(dataDir: string): Promise<string[]> {
  return readdir(dataDir).catch(() => [] as string[]);
}
