// Host or sandbox: which network namespace is the node.
// - sandbox (the default): `<instance>-node` and `<instance>-host` namespaces stand in for the VM
//   and the laptop; nothing changes in the namespace the lab runs in.
// - host: the namespace the lab runs in IS the node (cni0, the KUBE-* chains, the pods' veths, and
//   ip_forward/route_localnet switched on). Right inside the Vagrant VM, wrong on anyone's own
//   machine, so only when asked: the VM's provisioning (scripts/provision.sh) writes the mark
//   HOST_MODE_MARK, or the user runs `lab up --mode host`.
// A node-ip this namespace already holds, on a machine without the mark, looks like a VM that was
// never marked (or like a machine whose own network is 192.168.56.0/24): refused with an
// explanation rather than guessed either way.
import { statSync } from 'node:fs';
import type { NodeMode } from '../api/types.ts';
import { observeLinks, type ObservedLink } from '../sys/ip.ts';

/** The mark scripts/provision.sh writes in the lab VM: this machine is the node. */
export const HOST_MODE_MARK = '/etc/packet-path-lab/host-mode';
/** Overrides HOST_MODE_MARK's path (tests point it at a file of their own). */
export const HOST_MODE_MARK_ENV = 'LAB_HOST_MODE_MARK';

export function hostModeMarkPath(env: NodeJS.ProcessEnv = process.env): string {
  return env[HOST_MODE_MARK_ENV] || HOST_MODE_MARK;
}

/** The mark is a regular file at its path; what it says is for the human reading it. */
export function isMarkedHost(markPath: string): boolean {
  try {
    return statSync(markPath).isFile();
  } catch {
    return false;
  }
}

/** `lab up` refused to pick a mode; the message says why and what to run instead. */
export class ModeRefusedError extends Error {
  override name = 'ModeRefusedError';
}

export interface ModeInputs {
  /** `--mode`, when given. */
  requested?: NodeMode;
  /** The mode of the running instance (its state file). */
  prior?: NodeMode;
  nodeIP: string;
  /** The config file node-ip comes from, for the messages. */
  configFile: string;
  markPath: string;
  marked: boolean;
  /** The interface of the lab's own namespace that holds node-ip, if one does. */
  holder?: string;
}

const WHAT_HOST_MODE_DOES =
  'Host mode makes the machine the lab runs on the node itself: cni0, the KUBE-* iptables chains and the pods\' veths go into its own network namespace, and ip_forward and route_localnet are switched on there. That is what the Vagrant VM is for, and it must never happen by accident on your own machine, so the lab runs in host mode only when asked.';

/** Pure: the mode `lab up` runs in, or a ModeRefusedError saying why it will not choose. */
export function decideMode(i: ModeInputs): NodeMode {
  const mode = i.requested ?? i.prior;
  if (mode === 'sandbox') return 'sandbox';
  if (mode === 'host') {
    if (i.requested === 'host' && !i.holder) {
      throw new ModeRefusedError(
        `--mode host makes this machine the node, but none of its interfaces holds node-ip ${i.nodeIP} (${i.configFile}): set node-ip to the address of its host-only interface (192.168.56.110 on eth1 in the Vagrant VM), or leave out --mode host.`,
      );
    }
    return 'host';
  }
  if (i.marked && i.holder) return 'host';
  if (i.marked) {
    throw new ModeRefusedError(
      `this machine is marked as the lab VM (${i.markPath}), so the lab runs in host mode here, with the machine as the node; but none of its interfaces holds node-ip ${i.nodeIP} (${i.configFile}). Set node-ip to the VM's host-only address (192.168.56.110 on eth1, as the Vagrantfile makes it), or run \`lab up --mode sandbox\` to build the lab in namespaces of its own.`,
    );
  }
  if (i.holder) {
    throw new ModeRefusedError(
      [
        `node-ip ${i.nodeIP} (${i.configFile}) is an address of this machine (${i.holder}), but the machine is not marked as the lab VM (no ${i.markPath}): refusing to guess between host and sandbox mode.`,
        WHAT_HOST_MODE_DOES,
        `  - in the lab VM: scripts/provision.sh writes the mark ${HOST_MODE_MARK} (\`vagrant provision\` adds it to a VM provisioned before), or run \`lab up --mode host\`;`,
        `  - anywhere else: run \`lab up --mode sandbox\` (namespaces stand in for the VM and the laptop; nothing on this machine changes), or set node-ip in ${i.configFile} to an address this machine does not hold.`,
      ].join('\n'),
    );
  }
  return 'sandbox';
}

/** The interface of `links` holding `ip`. */
export function interfaceHolding(links: Map<string, ObservedLink>, ip: string): string | undefined {
  for (const l of links.values()) if (l.addrs.some((a) => a.split('/')[0] === ip)) return l.ifname;
  return undefined;
}

/**
 * The mode for `lab up`, from --mode, the running instance, the mark and the addresses of the
 * namespace the lab runs in (read there: in the VM, its root namespace). Throws ModeRefusedError.
 */
export async function chooseMode(opts: { requested?: NodeMode; prior?: NodeMode; nodeIP: string; configFile: string; env?: NodeJS.ProcessEnv }): Promise<NodeMode> {
  const markPath = hostModeMarkPath(opts.env);
  const needsLinks = opts.requested === 'host' || (!opts.requested && !opts.prior);
  const holder = needsLinks ? interfaceHolding(await observeLinks(null), opts.nodeIP) : undefined;
  return decideMode({ ...opts, markPath, marked: isMarkedHost(markPath), holder });
}
