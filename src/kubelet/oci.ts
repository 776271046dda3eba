// The OCI runtime spec (config.json) of a pod's containers, as k3s's containerd (its CRI plugin)
// writes it for runc. Pure: `lab describe`, tests and the runtime share it.
//
// What a container gets, and where each value comes from in containerd:
// - namespaces: its own mount and PID namespaces; the pod sandbox's network (the CNI-made netns,
//   joined by path), IPC and UTS namespaces (joined through the sandbox's /proc/<pid>/ns/…, so
//   all containers of a pod share them, as Kubernetes specifies);
// - capabilities: containerd's default set (pkg/oci defaultUnixCaps), plus/minus
//   securityContext.capabilities; no ambient or inheritable capabilities;
// - masked and read-only /proc and /sys paths: containerd's defaults;
// - mounts: containerd's default /proc, /dev, /dev/pts, /dev/shm, /dev/mqueue, /sys (read-only),
//   the CRI's /sys/fs/cgroup (read-only), the kubelet's /etc/hosts, /etc/resolv.conf,
//   /etc/hostname, then the pod's volumes.
import type { Container, SecurityContext } from '../api/types.ts';
import type { Mount } from './runtime.ts';

/** containerd's default capability set (pkg/oci/spec.go defaultUnixCaps). */
export const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
] as const;

/* eslint-disable lab/no-proc -- paths inside the container's own /proc and /sys (OCI spec data, its mounts too), never the machine's */
/** containerd's default masked paths: not readable in the container. */
export const MASKED_PATHS = [
  '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/sys/devices/virtual/powercap', '/proc/scsi',
];

/** containerd's default mounts, before the pod's own. */
export const DEFAULT_MOUNTS = [
  { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
  { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
  { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
  { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
  { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
  { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
  { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
];

/** containerd's default read-only paths. */
export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];
/* eslint-enable lab/no-proc */

export interface OciProcessInput {
  args: string[];
  env: Record<string, string>;
  cwd: string;
  securityContext?: SecurityContext;
}

export interface OciInput extends OciProcessInput {
  /** The container's root filesystem: the overlay the kubelet mounted. */
  rootfs: string;
  readonlyRootfs?: boolean;
  /** Only for the sandbox: the pod's hostname, set in its new UTS namespace. */
  hostname?: string;
  /** Paths of namespaces to join; a kind not given gets a new namespace. */
  join: { network: string; ipc?: string; uts?: string };
  /** Bind mounts: /etc files and volumes, in order. */
  mounts: Mount[];
  cgroupsPath: string;
  annotations: Record<string, string>;
}

/** Kubernetes names capabilities without the CAP_ prefix ("NET_ADMIN"); OCI with it. */
export function ociCapability(name: string): string {
  const n = name.toUpperCase();
  return n.startsWith('CAP_') ? n : `CAP_${n}`;
}

/** The capability set: containerd's defaults, then drop (ALL drops everything), then add. */
export function capabilities(sc: SecurityContext | undefined): string[] {
  const drop = (sc?.capabilities?.drop ?? []).map(ociCapability);
  let caps: string[] = drop.includes('CAP_ALL') ? [] : DEFAULT_CAPABILITIES.filter((c) => !drop.includes(c));
  for (const a of (sc?.capabilities?.add ?? []).map(ociCapability)) if (!caps.includes(a)) caps = [...caps, a];
  return caps;
}

function bind(m: Mount): Record<string, unknown> {
  return { destination: m.target, type: 'bind', source: m.source, options: ['rbind', 'rprivate', m.readOnly ? 'ro' : 'rw'] };
}

export function ociProcess(p: OciProcessInput): Record<string, unknown> {
  const sc = p.securityContext;
  if (sc?.privileged) throw new Error('privileged containers are not supported by the lab');
  const caps = capabilities(sc);
  return {
    terminal: false,
    user: { uid: sc?.runAsUser ?? 0, gid: sc?.runAsGroup ?? 0 },
    args: p.args,
    env: Object.entries(p.env).map(([k, v]) => `${k}=${v}`),
    cwd: p.cwd,
    capabilities: { bounding: caps, effective: caps, permitted: caps },
    // Kubernetes sets no_new_privs only for allowPrivilegeEscalation: false; the lab sets it unless
    // the manifest asks for escalation, so a setuid binary in an image is never a way up.
    noNewPrivileges: sc?.allowPrivilegeEscalation !== true,
    oomScoreAdj: 1000, // a BestEffort pod's, as the kubelet sets it
  };
}

/** config.json for runc. */
export function ociSpec(i: OciInput): Record<string, unknown> {
  const ns = (type: string, p?: string) => (p ? { type, path: p } : { type });
  return {
    ociVersion: '1.0.2',
    process: ociProcess(i),
    root: { path: i.rootfs, readonly: Boolean(i.readonlyRootfs ?? i.securityContext?.readOnlyRootFilesystem) },
    ...(i.hostname ? { hostname: i.hostname } : {}),
    mounts: [
      ...DEFAULT_MOUNTS,
      ...i.mounts.map(bind),
    ],
    annotations: i.annotations,
    linux: {
      namespaces: [ns('pid'), ns('ipc', i.join.ipc), ns('uts', i.join.uts), ns('mount'), ns('network', i.join.network)],
      cgroupsPath: i.cgroupsPath,
      maskedPaths: MASKED_PATHS,
      readonlyPaths: READONLY_PATHS,
      // Only the devices runc always creates (null, zero, full, random, urandom, tty, ptmx).
      resources: { devices: [{ allow: false, access: 'rwm' }] },
    },
  };
}

/** The container's argv: command replaces the image's entrypoint, args its cmd (Kubernetes rules). */
export function containerArgs(c: Pick<Container, 'command' | 'args'>, image: { entrypoint?: string[]; cmd?: string[] } | undefined): string[] {
  if (c.command) return [...c.command, ...(c.args ?? [])];
  return [...(image?.entrypoint ?? []), ...(c.args ?? image?.cmd ?? [])];
}
