// Installs a rendered nginx.conf and reloads the running nginx gracefully. Thin applier.
//
// nginx's graceful reload: SIGHUP makes the master re-read its config file; if it parses and
// applies, the master starts new workers on the same (inherited) listening sockets and tells the
// old ones to stop accepting and exit once their in-flight requests are done. Connections waiting
// in the listen queue are picked up by the new workers, so no request fails. If the new config is
// rejected, the master logs why and keeps the old workers: the last good config keeps serving.
// We check with `nginx -t` first anyway, so a bad config never even lands in the config file.
import { chmod, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { run, type Netns } from '../sys/exec.ts';
import { writeFileAtomic } from '../sys/files.ts';
import { pidsInNetns } from '../sys/ip.ts';
import { childPids, procCmdline, procNamespacePid, signalProcess } from '../sys/proc.ts';
import { SerialQueue } from '../util/serial-queue.ts';
import { nginxPidFile } from './nginx.ts';

export interface NginxInstance {
  /** The `prefix` the config was rendered with (pid file, temp dirs). */
  prefix: string;
  /** The file the master was started with (`-c`); applyNginxConfig replaces it. */
  configPath: string;
  /** The ingress pod's network namespace; `nginx -t` binds the listen port, so run it there. */
  netns?: Netns;
  /** Default `nginx` (Debian's /usr/sbin/nginx). */
  nginxBinary?: string;
}

/**
 * The command line of the ingress pod's container: the master runs in the foreground (`daemon off`
 * in the config), `-e stderr` sends errors from before the config is read to the pod's log.
 */
export function nginxArgv(inst: NginxInstance): string[] {
  return [inst.nginxBinary ?? 'nginx', '-p', withSlash(inst.prefix), '-c', inst.configPath, '-e', 'stderr'];
}

function withSlash(dir: string): string {
  return dir.endsWith('/') ? dir : dir + '/';
}

/**
 * Creates the runtime directory. Mode 0755: when the master runs as root its workers run as
 * `nobody`, and they must be able to reach the temp directories nginx creates under the prefix.
 */
export async function prepareNginxRuntime(inst: NginxInstance): Promise<void> {
  await mkdir(inst.prefix, { recursive: true });
  await chmod(inst.prefix, 0o755);
  await mkdir(path.dirname(inst.configPath), { recursive: true });
}

export interface ConfigTestResult {
  ok: boolean;
  /** nginx's messages (stderr of `nginx -t`), empty when ok. */
  output: string;
}

/** `nginx -t` on a config file, in the pod's namespace. */
export async function testNginxConfig(inst: NginxInstance, file: string = inst.configPath): Promise<ConfigTestResult> {
  const argv = [inst.nginxBinary ?? 'nginx', '-t', '-q', '-p', withSlash(inst.prefix), '-c', file, '-e', 'stderr'];
  const r = await run(argv, { netns: inst.netns, allowFail: true, timeoutMs: 10_000 });
  return { ok: r.exitCode === 0, output: r.exitCode === 0 ? '' : (r.stderr || r.stdout).trim() };
}

/** The master pid from the pid file, or null when nginx is not running (or the file is stale). */
export async function readMasterPid(prefix: string): Promise<number | null> {
  let text: string;
  try {
    text = await readFile(nginxPidFile(prefix), 'utf8');
  } catch {
    return null;
  }
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 1 && isNginxMaster(pid) ? pid : null;
}

/**
 * The master of the nginx running in a pod: the pid file under the prefix names it, but as nginx
 * sees itself, inside its container's own PID namespace (often 1). The process that counts is an
 * nginx master inside the pod's network namespace whose PID in its own namespace is that number
 * (or, without a PID namespace, whose PID is). Null when nginx is not running there (yet).
 */
export async function findMasterPid(prefix: string, netns: string): Promise<number | null> {
  let filePid: number;
  try {
    filePid = Number((await readFile(nginxPidFile(prefix), 'utf8')).trim());
  } catch {
    return null;
  }
  if (!Number.isInteger(filePid) || filePid < 1) return null;
  for (const pid of pidsInNetns([netns]).get(netns) ?? []) {
    if ((pid === filePid || procNamespacePid(pid) === filePid) && isNginxMaster(pid)) return pid;
  }
  return null;
}

// A stale pid file could name an unrelated process by now; only signal an nginx master.
// nginx rewrites its argv to "nginx: master process <original command line>".
function isNginxMaster(pid: number): boolean {
  return procCmdline(pid)?.[0]?.startsWith('nginx: master process') ?? false;
}

export interface ApplyOptions {
  /** The master to reload; default: read from the pid file under the prefix. */
  masterPid?: number;
  /** Install and reload even if the file already has this content. */
  force?: boolean;
  /** After SIGHUP, wait until the master has started new workers (proof the reload applied). Default 5000 ms; 0: don't wait. */
  waitMs?: number;
}

export interface ApplyResult {
  /** The config file was replaced. False when it already had this content, or on error. */
  changed: boolean;
  /** The master that got SIGHUP, or null (nothing changed, or nginx not running yet: it reads the file when it starts). */
  reloadedPid: number | null;
  /** Worker pids started by the reload (empty when not waited for). */
  newWorkers: number[];
  /** Why the config was not installed or the reload did not apply; the last good config keeps serving. */
  error: string | null;
}

/** By config file; an entry goes once its queue is empty. */
const queues = new Map<string, SerialQueue>();

/**
 * Validates `config` with `nginx -t`, installs it atomically (temp file + rename in the same
 * directory) and reloads the running master with SIGHUP. Calls for the same config file are
 * serialized. A config that fails the test is not installed; its error is returned.
 */
export function applyNginxConfig(config: string, inst: NginxInstance, opts: ApplyOptions = {}): Promise<ApplyResult> {
  let queue = queues.get(inst.configPath);
  if (!queue) queues.set(inst.configPath, (queue = new SerialQueue()));
  const result = queue.run(() => applyNow(config, inst, opts));
  void queue.idle().then(() => {
    if (queue.size === 0 && queues.get(inst.configPath) === queue) queues.delete(inst.configPath);
  });
  return result;
}

async function applyNow(config: string, inst: NginxInstance, opts: ApplyOptions): Promise<ApplyResult> {
  const current = await readFile(inst.configPath, 'utf8').catch(() => null);
  if (current === config && !opts.force) return { changed: false, reloadedPid: null, newWorkers: [], error: null };

  // nginx reads either the old file or the new one, and only a config that passed `nginx -t`.
  let test: ConfigTestResult = { ok: true, output: '' };
  const check = async (tmp: string) => (test = await testNginxConfig(inst, tmp)).ok;
  if (!(await writeFileAtomic(inst.configPath, config, { mode: 0o644, check }))) {
    return { changed: false, reloadedPid: null, newWorkers: [], error: test.output || 'nginx -t failed' };
  }

  const pid = opts.masterPid ?? (await readMasterPid(inst.prefix));
  if (pid === null) return { changed: true, reloadedPid: null, newWorkers: [], error: null };
  if (!isNginxMaster(pid)) return { changed: true, reloadedPid: null, newWorkers: [], error: `pid ${pid} is not an nginx master process` };

  const before = new Set(childPids(pid));
  signalProcess(pid, 'SIGHUP');
  const waitMs = opts.waitMs ?? 5000;
  if (waitMs <= 0) return { changed: true, reloadedPid: pid, newWorkers: [], error: null };

  // The master answers SIGHUP by forking new workers, unless applying the config failed (then it
  // logs the reason to its error log and keeps the old workers).
  const deadline = Date.now() + waitMs;
  for (;;) {
    const fresh = childPids(pid).filter((c) => !before.has(c));
    if (fresh.length > 0) return { changed: true, reloadedPid: pid, newWorkers: fresh, error: null };
    if (Date.now() > deadline) {
      // Put the last good config back, so that a restart of the pod runs what is serving now.
      if (current !== null) await writeFileAtomic(inst.configPath, current, { mode: 0o644 });
      const error = `nginx master ${pid} started no new workers within ${waitMs} ms: the reload failed, see its error log`;
      return { changed: current === null, reloadedPid: pid, newWorkers: [], error };
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
