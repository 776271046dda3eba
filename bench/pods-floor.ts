// The two floors of the `pods` benchmark: what `lab up` does to bring N pods to Running, written as
// a plain shell script. Pure: returns the script and the `ip -batch` files it reads; bench/pods.ts
// writes them, runs `sh floor.sh` and cleans up.
//
// Both floors share the node and the network, built the plainest way: the kernel objects the lab's
// CNI plugins make (src/cni: bridge, host-local, loopback), made with `ip -batch` as the lab's own
// bridge code did before it ran the plugins (so the floors leave out what the plugins cost):
//   node      `ip -batch`: netns add <host> (<node> was made before the clock); `ip -n <node> -batch`:
//             lo up, veth eth1/vboxnet0, 192.168.56.110/24, cni0 bridge + gateway, default route;
//             `ip -n <host> -batch`: lo up, 192.168.56.1/24; `ip netns exec <node> sysctl`
//             ip_forward + bridge-nf-call-iptables.
//   CNI ADD   one `ip -batch` adding every pod netns; one `ip -n <node> -batch` with, per pod,
//             `link add veth<8 hex> type veth peer name eth0 netns <pod>`, master cni0, hairpin on;
//             then per pod, all in parallel, one `ip -n <pod> -batch`: lo up, address, eth0 up, route.
//   files     one `mkdir -p` for every directory; per pod /etc/netns/<pod>/{hosts,resolv.conf,hostname}
//             (the kubelet's text) and the ConfigMap page, written with the shell's printf builtin.
// Then the containers:
//   shell     no container runtime: per pod `ip netns exec <pod> busybox httpd -f -p 80 -h <volume>`
//             in the background. The least any tool can do to have N web servers in N namespaces.
//   runc      the runc runtime's own calls (src/kubelet/runc.ts), per pod in a background subshell,
//             pods in parallel as the kubelet's syncPods: the pause sandbox (the pause image as its
//             read-only root, config.json, `runc run` in the background as its waiter, the pid
//             file polled: 2, 4, 8, 16, then every 20 ms; the runtime is woken by inotify instead
//             when runc renames the file into place), then the app
//             container (overlay over busybox, config.json naming /proc/<pause pid>/ns/{net,ipc,uts},
//             `runc run`). Each config.json is the runtime's own (sandboxSpec/containerSpec of
//             runc.ts, JSON.stringify(spec, null, 2)), the pause pid spliced in by the shell.
// Left out, because a plain script needs no equivalent: IPAM files, the state file, the
// ConfigMap's atomic-writer symlinks, `runc list`, building the images (done before the clock).
import path from 'node:path';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Pod } from '../src/api/types.ts';
import { type Cidr, nth } from '../src/util/cidr.ts';
import { imageConfig } from '../src/kubelet/images.ts';
import { containerArgs } from '../src/kubelet/oci.ts';
import { containerMounts, renderHosts, renderResolvConf } from '../src/kubelet/podfiles.ts';
import { containerCgroupsPath, containerSpec, envMap, sandboxSpec } from '../src/kubelet/runc.ts';
import type { PodRef } from '../src/kubelet/runtime.ts';
import { overlayOptions } from '../src/sys/mount.ts';

export type FloorKind = 'shell' | 'runc';

export interface FloorSpec {
  kind: FloorKind;
  /** Prefix of every namespace the floor creates (`<prefix>-node`, `<prefix>-p7`, ...); for runc also the cgroup directory. */
  prefix: string;
  /** Directory for the batch files, pod volumes and container bundles (runc: its --root too). */
  workDir: string;
  pods: number;
  podCIDR: Cidr;
  gateway: string;
  nodeIP: string;
  hostIP: string;
  /** Where `ip netns exec` finds per-namespace /etc files (/etc/netns). */
  etcRoot: string;
  /** Text of index.html, what the readiness check looks for. */
  page: string;
  clusterDNS: string;
  clusterDomain: string;
  /** runc: the root filesystems of the busybox and pause images (overlay lowerdirs), built before the clock. */
  images?: { busybox: string; pause: string };
  /**
   * runc: start each `runc run` in its own session (`setsid`), as the runtime does (spawnDetached).
   * On by default. With the kernel's autogroup scheduling each new session is a new CPU group.
   */
  setsid?: boolean;
  /** runc: at most this many pods starting at once (default: all, as the kubelet starts them). */
  parallel?: number;
}

export interface FloorPlan {
  script: string;
  /** Files (absolute path -> content) to write before running the script. */
  files: Map<string, string>;
  nodeNetns: string;
  /** Every namespace the script creates, pods last. */
  netns: string[];
  podNetns: string[];
  /** /etc/netns/<ns> directories the script fills. */
  etcDirs: string[];
  ips: string[];
  /** Processes the script starts (its subshells included). */
  processes: number;
  /** Every program the script runs (each must be in src/sys/packages.ts). */
  programs: Set<string>;
  /** shell: the PIDs of the httpd processes, one a line, as the script starts them. */
  pidsFile: string;
  /** runc: a FIFO to make before running the script (`busybox mkfifo`): its pid-file polls wait on it. */
  tickFifo: string;
  /** runc: its --root (state of every container), and the cgroup directory under each hierarchy. */
  runcRoot: string;
  cgroupDir: string;
  /** runc: the config.json of pod p1's sandbox and container (the pause pid as the sentinel below). */
  sampleSpecs?: { sandbox: Record<string, unknown>; container: Record<string, unknown> };
}

/** Stands for the pause container's PID in a generated config (beyond any pid_max: never a real PID). */
export const PID_SENTINEL = 999_999_999;

/** A single-quoted shell word. */
export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** printf '%s' text > file, with the shell builtin (no process). */
function printfTo(file: string, text: string): string {
  return `printf '%s' ${shq(text)} > ${shq(file)}`;
}

export const FLOOR_COMMAND = ['httpd', '-f', '-p', '80', '-h', '/www'];
const RUNC_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function planFloor(s: FloorSpec): FloorPlan {
  const nodeNetns = `${s.prefix}-node`;
  const hostNetns = `${s.prefix}-host`;
  const batch = (name: string) => path.join(s.workDir, 'batch', name);
  const files = new Map<string, string>();
  const programs = new Set<string>();
  const lines = (ls: string[][]) => ls.map((l) => l.join(' ')).join('\n') + '\n';
  let processes = 0;
  /** A command line of the script: argv quoted, its program recorded. */
  const cmd = (argv: string[]) => {
    programs.add(argv[0]!);
    return argv.map(shq).join(' ');
  };
  const sh: string[] = [
    '#!/bin/bash',
    `# ${s.kind} floor of the pods benchmark (generated by bench/pods-floor.ts): ${s.pods} pods.`,
    'set -eu',
    '',
    '# node: eth1 <-> vboxnet0, cni0, default route, sysctls',
  ];
  files.set(batch('netns-host'), lines([['netns', 'add', hostNetns]]));
  files.set(
    batch('node'),
    lines([
      ['link', 'set', 'lo', 'up'],
      ['link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'vboxnet0', 'netns', hostNetns],
      ['addr', 'add', `${s.nodeIP}/24`, 'dev', 'eth1'],
      ['link', 'set', 'eth1', 'up'],
      ['link', 'add', 'cni0', 'type', 'bridge'],
      ['addr', 'add', `${s.gateway}/${s.podCIDR.prefix}`, 'dev', 'cni0'],
      ['link', 'set', 'cni0', 'up'],
      ['route', 'replace', 'default', 'via', s.hostIP, 'dev', 'eth1'],
    ]),
  );
  files.set(batch('host'), lines([['link', 'set', 'lo', 'up'], ['addr', 'add', `${s.hostIP}/24`, 'dev', 'vboxnet0'], ['link', 'set', 'vboxnet0', 'up']]));
  const hostEtc = path.join(s.etcRoot, hostNetns);
  sh.push(
    cmd(['ip', '-batch', batch('netns-host')]),
    cmd(['ip', '-n', nodeNetns, '-batch', batch('node')]),
    cmd(['ip', '-n', hostNetns, '-batch', batch('host')]),
    cmd(['mkdir', '-p', hostEtc]),
    printfTo(path.join(hostEtc, 'hosts'), '127.0.0.1\tlocalhost\n'),
    cmd(['ip', 'netns', 'exec', nodeNetns, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1', 'net.bridge.bridge-nf-call-iptables=1']),
  );
  programs.add('sysctl');
  processes += 5;

  const pods = Array.from({ length: s.pods }, (_, i) => {
    const name = `p${i + 1}`;
    const netns = `${s.prefix}-${name}`;
    const dir = path.join(s.workDir, 'pods', name);
    return {
      name,
      netns,
      veth: `veth${createHash('sha256').update(netns).digest('hex').slice(0, 8)}`,
      ip: nth(s.podCIDR, i + 2),
      etc: path.join(s.etcRoot, netns),
      dir,
      volume: path.join(dir, 'volumes', 'html'),
      sandbox: path.join(dir, 'sandbox'),
      container: path.join(dir, 'containers', 'web'),
    };
  });

  sh.push('', '# CNI ADD: pod namespaces, veth pairs on cni0 with hairpin, then each pod in parallel');
  files.set(batch('netns-pods'), lines(pods.map((p) => ['netns', 'add', p.netns])));
  files.set(
    batch('veths'),
    lines(
      pods.flatMap((p) => [
        ['link', 'add', p.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', p.netns],
        ['link', 'set', p.veth, 'master', 'cni0', 'up'],
        ['link', 'set', p.veth, 'type', 'bridge_slave', 'hairpin', 'on'],
      ]),
    ),
  );
  sh.push(cmd(['ip', '-batch', batch('netns-pods')]), cmd(['ip', '-n', nodeNetns, '-batch', batch('veths')]), "pids=''");
  processes += 2;
  for (const p of pods) {
    files.set(
      batch(p.name),
      lines([
        ['link', 'set', 'lo', 'up'],
        ['addr', 'add', `${p.ip}/${s.podCIDR.prefix}`, 'dev', 'eth0'],
        ['link', 'set', 'eth0', 'up'],
        ['route', 'add', 'default', 'via', s.gateway, 'dev', 'eth0'],
      ]),
    );
    sh.push(`${cmd(['ip', '-n', p.netns, '-batch', batch(p.name)])} & pids="$pids $!"`);
    processes++;
  }
  sh.push('for p in $pids; do wait "$p"; done');

  sh.push('', '# pod files: /etc/netns/<pod>/{hosts,resolv.conf,hostname}, the ConfigMap page, bundle directories');
  const bundleDirs = (d: string) => ['rootfs', 'upper', 'work'].map((x) => path.join(d, x));
  const dirs = pods.flatMap((p) => [p.etc, p.volume, ...(s.kind === 'runc' ? [p.sandbox, ...bundleDirs(p.container)] : [])]);
  sh.push(cmd(['mkdir', '-p', ...dirs]));
  processes++;
  for (const p of pods) {
    const pod = { metadata: { name: p.name, namespace: 'default' }, spec: {}, status: { podIP: p.ip } } as unknown as Pod;
    const cluster = { clusterDNS: s.clusterDNS, clusterDomain: s.clusterDomain } as Parameters<typeof renderResolvConf>[1];
    sh.push(
      printfTo(path.join(p.etc, 'hosts'), renderHosts(pod)),
      printfTo(path.join(p.etc, 'resolv.conf'), renderResolvConf(pod, cluster)),
      printfTo(path.join(p.etc, 'hostname'), `${p.name}\n`),
      printfTo(path.join(p.volume, 'index.html'), `${s.page}\n`),
    );
  }

  const pidsFile = path.join(s.workDir, 'httpd.pids');
  const tickFifo = path.join(s.workDir, 'tick');
  const runcRoot = path.join(s.workDir, 'runc');
  const cgroupDir = `/packet-path-lab/${s.prefix}`;
  let sampleSpecs: FloorPlan['sampleSpecs'];

  if (s.kind === 'shell') {
    sh.push('', '# web servers: busybox httpd in each pod namespace, no container runtime');
    for (const p of pods) {
      sh.push(`${cmd(['ip', 'netns', 'exec', p.netns, 'busybox', ...FLOOR_COMMAND.slice(0, -1), p.volume])} </dev/null >>${shq(path.join(p.dir, 'httpd.log'))} 2>&1 & echo $! >> ${shq(pidsFile)}`);
      processes++;
    }
    programs.add('busybox');
  } else {
    if (!s.images) throw new Error('the runc floor needs the busybox and pause images');
    const images = s.images;
    const busybox = imageConfig('busybox')!;
    const setsid = s.setsid ?? true;
    const parallel = s.parallel ?? s.pods;
    if (!Number.isInteger(parallel) || parallel < 1) throw new Error(`parallel must be a positive integer, got ${parallel}`);
    // The runtime's mountOverlay (src/sys/mount.ts), same options.
    const overlay = (dir: string, lower: string) => cmd(['mount', '-t', 'overlay', 'overlay', '-o', overlayOptions({ lower, upper: path.join(dir, 'upper'), work: path.join(dir, 'work') }), path.join(dir, 'rootfs')]);
    const runcRun = (dir: string, id: string, log: string) =>
      `PATH=${RUNC_PATH} ${setsid ? cmd(['setsid', 'runc', '--root', runcRoot, 'run', '--bundle', dir, '--pid-file', path.join(dir, 'init.pid'), id]) : cmd(['runc', '--root', runcRoot, 'run', '--bundle', dir, '--pid-file', path.join(dir, 'init.pid'), id])} </dev/null >>${shq(log)} 2>&1 &`;
    programs.add('runc');
    sh.push(
      '',
      '# containers: per pod in parallel, the runc runtime\'s calls. wait_pid FILE WAITER: polls the pid',
      '# file (2, 4, 8, 16, then every 20 ms; 30 s at most), fails if the waiter died.',
      '# It waits with bash\'s `read -t` on a FIFO nobody writes to: a sleep that starts no process, as',
      '# the runtime\'s setTimeout starts none (`busybox sleep` would fork thousands of processes).',
      `exec 3<> ${shq(tickFifo)}`,
      'wait_pid() {',
      '  d=0.002; t=0',
      '  while [ ! -s "$1" ]; do',
      '    kill -0 "$2" 2>/dev/null || { echo "runc exited before $1 was written" >&2; return 1; }',
      '    t=$((t + 1)); [ "$t" -le 1600 ] || { echo "no $1 after 30 s" >&2; return 1; }',
      '    read -t "$d" _ <&3 || :',
      '    case $d in 0.002) d=0.004 ;; 0.004) d=0.008 ;; 0.008) d=0.016 ;; *) d=0.02 ;; esac',
      '  done',
      '  read -r pid < "$1" || : # runc writes no newline after the PID',
      '}',
      // At most `parallel` pods in flight (bash's `wait -n` takes the next one that ends).
      `running=0; failed=0; parallel=${parallel}`,
    );
    for (const p of pods) {
      const ref: PodRef = { name: p.name, namespace: 'default', uid: randomUUID() };
      const sbId = randomBytes(32).toString('hex');
      const cId = randomBytes(32).toString('hex');
      const sb = sandboxSpec({ pod: ref, hostname: p.name, netnsPath: `/run/netns/${p.netns}` }, { id: sbId, rootfs: images.pause, cgroupsPath: containerCgroupsPath(s.prefix, ref, sbId) });
      const ct = containerSpec(
        { id: sbId, pid: PID_SENTINEL },
        {
          pod: ref,
          name: 'web',
          image: 'busybox',
          args: containerArgs({ command: FLOOR_COMMAND }, busybox),
          env: { ...envMap(busybox.env), HOSTNAME: p.name, HOME: '/root' },
          cwd: '/',
          mounts: [
            ...['hosts', 'resolv.conf', 'hostname'].map((f) => ({ source: path.join(p.etc, f), target: `/etc/${f}`, readOnly: false })),
            ...containerMounts(new Map([['html', p.volume]]), [{ name: 'html', mountPath: '/www' }], new Set(['html'])),
          ],
        },
        { id: cId, rootfs: path.join(p.container, 'rootfs'), cgroupsPath: containerCgroupsPath(s.prefix, ref, cId) },
      );
      if (!sampleSpecs) sampleSpecs = { sandbox: sb, container: ct };
      // The container's config with the pause pid spliced in: printf '%s' repeats its format for
      // each argument, so the parts and "$pid" are written one after the other.
      const parts = JSON.stringify(ct, null, 2).split(`/proc/${PID_SENTINEL}/`);
      sh.push(
        '(',
        `  ${printfTo(path.join(p.sandbox, 'config.json'), JSON.stringify(sb, null, 2))}`,
        `  ${runcRun(p.sandbox, sbId, path.join(p.sandbox, 'sandbox.log'))}`,
        `  wait_pid ${shq(path.join(p.sandbox, 'init.pid'))} $!`,
        `  ${overlay(p.container, images.busybox)}`,
        `  printf '%s' ${parts.map(shq).join(' "/proc/$pid/" ')} > ${shq(path.join(p.container, 'config.json'))}`,
        `  ${runcRun(p.container, cId, path.join(p.container, 'container.log'))}`,
        ')&',
        'running=$((running + 1)); if [ "$running" -ge "$parallel" ]; then wait -n || failed=1; running=$((running - 1)); fi',
      );
      processes += 1 + 1 + 2; // the subshell, the container's mount, two `runc run`
    }
    sh.push('while [ "$running" -gt 0 ]; do wait -n || failed=1; running=$((running - 1)); done', 'exit "$failed"');
  }
  sh.push('');
  return {
    script: sh.join('\n'),
    files,
    nodeNetns,
    netns: [nodeNetns, hostNetns, ...pods.map((p) => p.netns)],
    podNetns: pods.map((p) => p.netns),
    etcDirs: [hostEtc, ...pods.map((p) => p.etc)],
    ips: pods.map((p) => p.ip),
    processes,
    programs,
    pidsFile,
    tickFifo,
    runcRoot,
    cgroupDir,
    ...(sampleSpecs ? { sampleSpecs } : {}),
  };
}

/**
 * A config.json with what differs between any two pods by construction replaced: IDs, the pod's
 * name and UID, paths of the pod's directories and namespaces (a bind mount keeps its file name),
 * the cgroup path. Two configs with the same shape give runc the same work.
 */
export function specShape(spec: Record<string, unknown>): unknown {
  type Spec = {
    root: { path: string };
    hostname?: string;
    process: { env: string[] };
    mounts: { type: string; source: string }[];
    annotations: Record<string, string>;
    linux: { namespaces: { type: string; path?: string }[]; cgroupsPath: string };
  };
  const s = structuredClone(spec) as unknown as Spec;
  s.root.path = '<rootfs>';
  if (s.hostname !== undefined) s.hostname = '<pod>';
  s.process.env = s.process.env.map((e) => (e.startsWith('HOSTNAME=') ? 'HOSTNAME=<pod>' : e));
  s.mounts = s.mounts.map((m) => (m.type === 'bind' ? { ...m, source: `<pod>/${path.basename(m.source)}` } : m));
  s.annotations = Object.fromEntries(Object.keys(s.annotations).map((k) => [k, '<value>']));
  s.linux.namespaces = s.linux.namespaces.map((n) => (n.path === undefined ? n : { ...n, path: n.path.replace(/^\/proc\/\d+\//, '/proc/<pause>/').replace(/^\/run\/netns\/.*/, '/run/netns/<pod>') }));
  s.linux.cgroupsPath = s.linux.cgroupsPath.replace(/^\/packet-path-lab\/[^/]+\/pod[^/]+\/[0-9a-f]{64}$/, '/packet-path-lab/<instance>/pod<uid>/<id>');
  return s;
}
