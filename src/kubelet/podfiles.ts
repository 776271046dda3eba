// Files the kubelet writes for a pod: /etc/hosts, /etc/resolv.conf and /etc/hostname (placed in
// /etc/netns/<pod netns>/ so both the container and `ip netns exec` see them) and volumes.
import { chmodSync, lstatSync, mkdirSync, realpathSync, statSync } from 'node:fs';
import { mkdir, readdir, readFile, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ClusterConfig, ConfigMap, Pod } from '../api/types.ts';
import type { Mount } from './runtime.ts';
import { writeFileIfChanged } from '../sys/files.ts';

/** kubelet's managed hosts file. */
export function renderHosts(pod: Pod): string {
  const hostname = pod.spec.hostname ?? pod.metadata.name;
  return [
    '# Kubernetes-managed hosts file.',
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'fe00::1\tip6-allnodes',
    'fe00::2\tip6-allrouters',
    ...(pod.status.podIP ? [`${pod.status.podIP}\t${hostname}`] : []),
    '',
  ].join('\n');
}

/** dnsPolicy ClusterFirst: the cluster DNS, the namespace's search path, ndots:5. */
export function renderResolvConf(pod: Pod, config: ClusterConfig): string {
  const d = config.clusterDomain;
  return [
    `search ${pod.metadata.namespace}.svc.${d} svc.${d} ${d}`,
    `nameserver ${config.clusterDNS}`,
    'options ndots:5',
    '',
  ].join('\n');
}

/**
 * dnsPolicy Default: the node's own resolver configuration, as the kubelet's --resolv-conf gives
 * it (CoreDNS runs with it, to forward names outside the cluster). Like k3s, a resolv.conf whose
 * nameservers are all loopback (systemd-resolved's stub, 127.0.0.53, unreachable from a pod) is
 * replaced by systemd-resolved's list of real upstreams. The sandbox node has no resolver.
 */
export async function nodeResolvConf(mode: 'host' | 'sandbox'): Promise<string> {
  if (mode === 'sandbox') return '# the sandbox node has no resolver: names outside the cluster go nowhere\n';
  const etc = await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
  const servers = [...etc.matchAll(/^nameserver\s+(\S+)/gm)].map((m) => m[1]!);
  if (servers.length > 0 && servers.every((a) => a.startsWith('127.') || a === '::1')) {
    const resolved = await readFile('/run/systemd/resolve/resolv.conf', 'utf8').catch(() => null);
    if (resolved) return resolved;
  }
  return etc;
}

export async function writePodEtc(etcDir: string, pod: Pod, config: ClusterConfig, mode: 'host' | 'sandbox'): Promise<void> {
  await mkdir(etcDir, { recursive: true });
  const resolv = pod.spec.dnsPolicy === 'Default' ? await nodeResolvConf(mode) : renderResolvConf(pod, config);
  await Promise.all([
    writeFileIfChanged(path.join(etcDir, 'hosts'), renderHosts(pod)),
    writeFileIfChanged(path.join(etcDir, 'resolv.conf'), resolv),
    writeFileIfChanged(path.join(etcDir, 'hostname'), `${pod.spec.hostname ?? pod.metadata.name}\n`),
  ]);
}

/**
 * Why the pod's volumes cannot be mounted yet, as the kubelet's FailedMount event says it
 * (MountVolume.SetUp failed for volume "html" : configmap "app2-html" not found): a configMap
 * volume whose ConfigMap, or one of whose items' keys, does not exist and is not optional. The
 * kubelet starts none of the pod's containers until it can (an empty directory in their place
 * would serve a page that is not there); undefined when every volume can be mounted.
 */
export function volumeMountProblem(pod: Pod, configMaps: Map<string, ConfigMap>): string | undefined {
  for (const v of pod.spec.volumes) {
    if (!v.configMap || v.configMap.optional) continue;
    const cm = configMaps.get(`${pod.metadata.namespace}/${v.configMap.name}`);
    const problem = !cm ? `configmap ${JSON.stringify(v.configMap.name)} not found` : (v.configMap.items ?? []).filter((i) => !(i.key in cm.data)).map((i) => `configmap references non-existent config key: ${i.key}`)[0];
    if (problem) return `MountVolume.SetUp failed for volume ${JSON.stringify(v.name)} : ${problem}`;
  }
  return undefined;
}

/**
 * Materialises the pod's volumes under <podDir>/volumes/<name> and returns the mounts of one
 * container. ConfigMap keys become files (or the `items` paths); keys and paths were validated
 * when the state file was loaded, and are checked again here before touching the disk.
 */
export async function writeVolumes(podDir: string, pod: Pod, configMaps: Map<string, ConfigMap>): Promise<Map<string, string>> {
  const sources = new Map<string, string>();
  const namespace = pod.metadata.namespace;
  for (const v of pod.spec.volumes) {
    const dir = path.join(podDir, 'volumes', v.name);
    if (v.configMap) {
      const cm = configMaps.get(`${namespace}/${v.configMap.name}`);
      const items = v.configMap.items ?? Object.keys(cm?.data ?? {}).map((k) => ({ key: k, path: k }));
      const files = new Map<string, string>();
      for (const item of items) {
        const value = cm?.data[item.key];
        if (value !== undefined) files.set(item.path, value);
      }
      await atomicWriteDir(dir, files);
      sources.set(v.name, dir);
    } else if (v.downwardAPI) {
      await atomicWriteDir(dir, new Map(v.downwardAPI.items.map((i) => [i.path, downwardValue(pod, i.fieldRef.fieldPath)])));
      sources.set(v.name, dir);
    } else if (v.hostPath) {
      sources.set(v.name, v.hostPath.path);
    } else {
      await mkdir(dir, { recursive: true });
      sources.set(v.name, dir);
    }
  }
  return sources;
}

/** A downwardAPI field as the kubelet writes it: maps as sorted `key="value"` lines. */
export function downwardValue(pod: Pod, fieldPath: string): string {
  const m = pod.metadata;
  const one = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
  if (one) return (one[1] === 'labels' ? m.labels : m.annotations)[one[2]!] ?? '';
  switch (fieldPath) {
    case 'metadata.name':
      return m.name;
    case 'metadata.namespace':
      return m.namespace;
    case 'metadata.uid':
      return m.uid ?? '';
    case 'metadata.labels':
    case 'metadata.annotations': {
      const map = fieldPath === 'metadata.labels' ? m.labels : m.annotations;
      return Object.keys(map).sort().map((k) => `${k}=${JSON.stringify(map[k])}`).join('\n');
    }
    default:
      throw new Error(`unsupported downwardAPI field ${fieldPath}`);
  }
}

/**
 * The kubelet's AtomicWriter: the files live in a timestamped directory, `..data` is a symlink
 * to it and each visible name is a symlink through `..data`. An update writes a new directory and
 * swaps `..data` with one rename, so a running container (whose bind mount holds this directory,
 * never replaced) sees either the old set of files or the new one, never a mix. Renaming each file
 * (sys/files.ts's writeFileAtomic) would not do: the set could be seen half updated.
 */
export async function atomicWriteDir(dir: string, files: Map<string, string>): Promise<void> {
  await mkdir(dir, { recursive: true });
  const top = new Set([...files.keys()].map((f) => f.split('/')[0]!));
  const current = await readlink(path.join(dir, '..data')).catch(() => null);
  // The same content already: only the visible links are made sure of (a writer killed after it
  // moved ..data, before it made them, left a volume whose files cannot be seen: a pod's html
  // directory that served 404 forever).
  if (current && (await sameContent(path.join(dir, current), files))) return publishLinks(dir, top, current);
  const stamp = `..${new Date().toISOString().replace(/[-:.]/g, '_')}.${process.pid}${Math.floor(Math.random() * 1e6)}`;
  const target = path.join(dir, stamp);
  for (const [rel, value] of files) {
    const file = path.resolve(target, rel);
    if (!file.startsWith(target + path.sep)) throw new Error(`volume path ${JSON.stringify(rel)} escapes the volume`);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, value);
  }
  await mkdir(target, { recursive: true });
  // A writer killed between these two steps (kill -9 of the controller) leaves ..data_tmp behind.
  await rm(path.join(dir, '..data_tmp'), { force: true });
  await symlink(stamp, path.join(dir, '..data_tmp'));
  await rename(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
  await publishLinks(dir, top, stamp);
}

/** The AtomicWriter's user-visible paths: `name -> ..data/name` for each top-level entry; older payloads and stray names removed. */
async function publishLinks(dir: string, top: Set<string>, stamp: string): Promise<void> {
  for (const name of await readdir(dir)) {
    if (name.startsWith('..')) {
      if (name !== '..data' && name !== stamp) await rm(path.join(dir, name), { recursive: true, force: true });
    } else if (!top.has(name)) {
      await rm(path.join(dir, name), { recursive: true, force: true });
    }
  }
  for (const name of top) {
    await symlink(path.join('..data', name), path.join(dir, name)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
  }
}

async function sameContent(dir: string, files: Map<string, string>): Promise<boolean> {
  try {
    const existing = await readdir(dir, { recursive: true, withFileTypes: true });
    if (existing.filter((e) => e.isFile()).length !== files.size) return false;
    for (const [rel, value] of files) if ((await readFile(path.join(dir, rel), 'utf8')) !== value) return false;
    return true;
  } catch {
    return false;
  }
}

/**
 * Where a volumeMount's subPath leads: `<volume>/<subPath>`, Kubernetes' semantics. Each element is
 * taken in turn; a missing one is created as a directory with the volume's own mode (the kubelet's
 * SafeMakeDir: a subPath that does not exist yet is an empty directory, in any volume type), and
 * wherever symbolic links lead, the path must stay inside the volume. The links the AtomicWriter
 * makes (a ConfigMap key -> ..data/key -> ..<timestamp>/key) do, so a ConfigMap key mounted by
 * subPath is its file as it is now: later updates write a new ..<timestamp> directory, and the
 * mount keeps the old file, as in Kubernetes. A link a container planted in an emptyDir
 * (`data -> /etc`) does not, and is refused. Returns the resolved path, free of symbolic links.
 *
 * A window remains: between this check and the runtime's bind mount, a process that can write to
 * the volume (another container of the pod, running already) could replace a checked directory
 * with a symbolic link, which the bind mount would follow. The kubelet closes it by opening each
 * element with O_NOFOLLOW and bind-mounting /proc/<kubelet pid>/fd/<fd>; the runtime here mounts
 * by path. A link the container itself planted during an earlier run is always caught: the check
 * runs at every start.
 */
export function resolveSubPath(volume: string, subPath: string): string {
  const root = realpathSync(volume);
  const inside = (p: string) => root === '/' || p === root || p.startsWith(`${root}/`);
  let current = root;
  for (const element of subPath.split('/')) {
    if (element === '' || element === '.') continue;
    if (element === '..') throw new Error(`subPath ${JSON.stringify(subPath)} must not contain '..'`);
    const next = path.join(current, element);
    if (!lstatOrNull(next)) {
      // mkdir never follows a link in its last element; one planted meanwhile makes it fail (EEXIST).
      const mode = statSync(root).mode & 0o7777;
      mkdirSync(next, { mode });
      chmodSync(next, mode); // mkdir's mode is cut by the umask; the kubelet's is not
    }
    let real: string;
    try {
      real = realpathSync(next);
    } catch {
      throw new Error(`subPath ${JSON.stringify(subPath)}: ${JSON.stringify(element)} is a symbolic link that leads nowhere`);
    }
    if (!inside(real)) throw new Error(`subPath ${JSON.stringify(subPath)} leads outside the volume (${JSON.stringify(element)} is a symbolic link out of it)`);
    current = real;
  }
  return current;
}

function lstatOrNull(p: string): ReturnType<typeof lstatSync> | null {
  try {
    return lstatSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/**
 * The bind mounts of one container: each volumeMount's volume directory (or, with subPath, the file
 * or directory inside it, see resolveSubPath) at its mountPath. A subPath that cannot be used safely
 * fails the container's start, as the kubelet's "failed to prepare subPath" does.
 */
export function containerMounts(
  volumeSources: Map<string, string>,
  mounts: { name: string; mountPath: string; readOnly?: boolean; subPath?: string }[],
  configMapVolumes: Set<string>,
  container?: string,
): Mount[] {
  return mounts.map((m) => {
    const volume = volumeSources.get(m.name)!;
    let source = volume;
    if (m.subPath !== undefined) {
      try {
        source = resolveSubPath(volume, m.subPath);
      } catch (e) {
        const of = container === undefined ? '' : ` of container ${JSON.stringify(container)}`;
        throw new Error(`failed to prepare subPath for volumeMount ${JSON.stringify(m.name)}${of}: ${(e as Error).message}`, { cause: e });
      }
    }
    return {
      source,
      target: m.mountPath,
      // ConfigMap volumes are always read-only in Kubernetes.
      readOnly: Boolean(m.readOnly) || configMapVolumes.has(m.name),
    };
  });
}
