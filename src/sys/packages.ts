// Every program the lab, its tests and its benchmarks run, with the Debian package that installs
// it. This table is the one list: `lab up` names what is missing from it (src/cli/preflight.ts),
// src/sys refuses to start a program that is not in it, and test/unit/packages.test.ts fails
// when a package here is missing from .ci/run, the README's apt line or the VM's provisioning,
// or when a test or benchmark runs a program that is not here.

export interface Program {
  command: string;
  aptPackage: string;
  /** Who runs it: the lab itself (`lab up`), a learner's tool (`lab trace`, ...), tests or benchmarks. */
  usedBy: 'lab' | 'tools' | 'tests';
  /**
   * Not in Debian: the package comes from this apt repository, which scripts/apt-kubernetes.sh adds
   * (the VM's provisioning does). A machine without that repository brings the program itself:
   * .ci/run checks that it is there and stops with a message otherwise.
   */
  repository?: 'pkgs.k8s.io';
}

export const PROGRAMS: readonly Program[] = [
  // The packet path: namespaces, links, routes, rules, containers.
  { command: 'ip', aptPackage: 'iproute2', usedBy: 'lab' },
  // flannel's FDB entries on flannel.1 (`bridge fdb`, src/flannel): `ip neigh` cannot write AF_BRIDGE entries.
  { command: 'bridge', aptPackage: 'iproute2', usedBy: 'lab' },
  { command: 'iptables', aptPackage: 'iptables', usedBy: 'lab' },
  { command: 'iptables-save', aptPackage: 'iptables', usedBy: 'lab' },
  { command: 'iptables-restore', aptPackage: 'iptables', usedBy: 'lab' },
  // kube-proxy's nftables mode (kube-proxy-arg: [proxy-mode=nftables]): one `nft -f` per sync.
  { command: 'nft', aptPackage: 'nftables', usedBy: 'lab' },
  { command: 'busybox', aptPackage: 'busybox-static', usedBy: 'lab' },
  { command: 'unshare', aptPackage: 'util-linux', usedBy: 'lab' },
  { command: 'nsenter', aptPackage: 'util-linux', usedBy: 'lab' },
  // flock(2) on the instance lock (src/sys/flock.ts): Node has no call for it.
  { command: 'flock', aptPackage: 'util-linux', usedBy: 'lab' },
  { command: 'mount', aptPackage: 'mount', usedBy: 'lab' },
  { command: 'umount', aptPackage: 'mount', usedBy: 'lab' },
  // The OCI runtime that runs every container (src/kubelet/runc.ts), as under k3s's containerd.
  { command: 'runc', aptPackage: 'runc', usedBy: 'lab' },
  // The CNI plugins k3s ships, Debian's build of containernetworking/plugins, run by the kubelet's
  // CNI runtime (src/cni) from the conflist k3s writes; flannel's own plugin is not packaged, so the
  // lab does its delegation itself (src/cni/flannel.ts). host-local is run by bridge, not by the lab.
  // By path: iproute2's `bridge` is another program.
  { command: '/usr/lib/cni/bridge', aptPackage: 'containernetworking-plugins', usedBy: 'lab' },
  { command: '/usr/lib/cni/host-local', aptPackage: 'containernetworking-plugins', usedBy: 'lab' },
  { command: '/usr/lib/cni/portmap', aptPackage: 'containernetworking-plugins', usedBy: 'lab' },
  { command: '/usr/lib/cni/bandwidth', aptPackage: 'containernetworking-plugins', usedBy: 'lab' },
  { command: '/usr/lib/cni/loopback', aptPackage: 'containernetworking-plugins', usedBy: 'lab' },
  // The terminal of `kubectl exec -it` (src/sys/ptyrelay.py): receives the pty master runc sends
  // over its console socket, which Node cannot.
  { command: 'python3', aptPackage: 'python3', usedBy: 'lab' },
  { command: 'chroot', aptPackage: 'coreutils', usedBy: 'lab' },
  { command: 'sh', aptPackage: 'dash', usedBy: 'lab' },
  { command: 'hostname', aptPackage: 'hostname', usedBy: 'lab' },
  { command: 'sysctl', aptPackage: 'procps', usedBy: 'lab' },
  { command: 'ldd', aptPackage: 'libc-bin', usedBy: 'lab' },
  { command: 'nginx', aptPackage: 'nginx', usedBy: 'lab' },
  { command: 'conntrack', aptPackage: 'conntrack', usedBy: 'lab' },
  // The API server's CA, serving and client certificates (src/sys/openssl.ts), as k3s makes on first start.
  { command: 'openssl', aptPackage: 'openssl', usedBy: 'lab' },
  // The learner's tools.
  { command: 'tcpdump', aptPackage: 'tcpdump', usedBy: 'tools' },
  { command: 'curl', aptPackage: 'curl', usedBy: 'tools' },
  { command: 'dig', aptPackage: 'dnsutils', usedBy: 'tools' },
  { command: 'getent', aptPackage: 'libc-bin', usedBy: 'tools' },
  // kubectl v1.32 against the lab's API server. Debian has no kubectl: the package comes from the
  // Kubernetes project's apt repository (pkgs.k8s.io), which the VM's provisioning adds.
  { command: 'kubectl', aptPackage: 'kubectl', usedBy: 'tools', repository: 'pkgs.k8s.io' },
  // The API server's store is kine's table in SQLite: `sqlite3 <store> "select name from kine"`.
  { command: 'sqlite3', aptPackage: 'sqlite3', usedBy: 'tools' },
  // Tests and benchmarks.
  { command: 'shellcheck', aptPackage: 'shellcheck', usedBy: 'tests' },
  { command: 'vagrant', aptPackage: 'vagrant', usedBy: 'tests' },
  { command: 'ruby', aptPackage: 'ruby', usedBy: 'tests' },
  { command: 'modprobe', aptPackage: 'kmod', usedBy: 'tests' },
  { command: 'nslookup', aptPackage: 'dnsutils', usedBy: 'tests' },
  { command: 'cat', aptPackage: 'coreutils', usedBy: 'tests' },
  // The floors of the pods benchmark (bench/pods-floor.ts): generated bash scripts.
  { command: 'bash', aptPackage: 'bash', usedBy: 'tests' },
  { command: 'mkdir', aptPackage: 'coreutils', usedBy: 'tests' },
  { command: 'setsid', aptPackage: 'util-linux', usedBy: 'tests' },
  { command: 'ls', aptPackage: 'coreutils', usedBy: 'tests' },
  // `lab ui`'s e2e test and bench: Debian's Chromium, headless, driven by playwright-core
  // (which never downloads a browser of its own).
  { command: '/usr/bin/chromium', aptPackage: 'chromium', usedBy: 'tests' },
];

/** Packages every Debian system has (Essential: yes); no install line needs to name them. */
export const ESSENTIAL_PACKAGES: readonly string[] = ['bash', 'coreutils', 'dash', 'libc-bin', 'util-linux', 'mount'];

/** Node (and its npm/npx) runs the lab's own programs (build/*.mjs); not an apt package here. */
const RUNTIME = new Set(['node', 'npx', process.execPath]);

const BY_COMMAND = new Map(PROGRAMS.map((p) => [p.command, p]));

export function programFor(command: string): Program | undefined {
  return BY_COMMAND.get(command);
}

export function isRuntime(command: string): boolean {
  return RUNTIME.has(command);
}

/**
 * Throws unless `command` is in PROGRAMS (or is node): a new program must be added to the table,
 * and so to every install line, before the lab can run it.
 */
export function assertKnownProgram(command: string): void {
  if (RUNTIME.has(command) || BY_COMMAND.has(command)) return;
  // An absolute path to a known program (e.g. /usr/sbin/nginx) is that program.
  const base = command.slice(command.lastIndexOf('/') + 1);
  if (command.startsWith('/') && BY_COMMAND.has(base)) return;
  throw new Error(`the lab tried to run ${JSON.stringify(command)}, which is not in src/sys/packages.ts: add it there with its Debian package`);
}
