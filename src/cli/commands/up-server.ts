// `lab up`: the instance's server runs as a daemon, as k3s's systemd unit runs `k3s server`;
// `lab up` starts it when none runs, then waits through the API until the cluster has converged
// (every Deployment rolled out, every pod ready) and prints the pods.
// A second `lab up` finds the server running (it applies the state files itself on every change)
// and only waits again. `lab down` stops the server and removes everything.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { podSecurityWarnings } from '../../api/admission.ts';
import { LAB_ROOT } from '../../api/system.ts';
import { waitConverged } from '../../client/converge.ts';
import { LabServer, writeNodesArg } from '../../controllers/server.ts';
import { notAppliedFrom, type Manifest } from '../../controllers/manifests.ts';
import { instancePaths, type InstancePaths } from '../../node/instance.ts';
import { spawnDetached } from '../../sys/stream.ts';
import { serverClient } from '../api-client.ts';
import { apiGet } from '../api-get.ts';
import { labHint, log, type Common } from '../common.ts';
import { describeHolder, readHolder } from '../lock.ts';
import { preflight } from '../preflight.ts';
import { netnsExists } from '../../sys/ip.ts';

export type Args = Common & { mode?: 'host' | 'sandbox'; timeout?: number; nodes?: number };

/** How long `lab up` waits for the server to answer, and then for the cluster to converge. */
const SERVER_START_MS = 60_000;
const CONVERGE_MS = 120_000;

export function serverLogFile(paths: InstancePaths): string {
  return path.join(paths.serverDir, 'server.log');
}

/** The last lines of the server's log, for a message about why it stopped. */
async function logTail(paths: InstancePaths, lines = 15): Promise<string> {
  const text = await readFile(serverLogFile(paths), 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/**
 * What a server that stopped before it answered said: its own error line(s) from the end of its
 * log, as `lab server` would have printed them in a terminal ("error: " dropped: ours adds it).
 */
function serverError(tail: string, exited: string): string {
  const at = tail.lastIndexOf('error: ');
  if (at === 0 || (at > 0 && tail[at - 1] === '\n')) return tail.slice(at + 'error: '.length);
  return `the server stopped (${exited}):\n${tail}`;
}

/**
 * A server that refused to start before it made anything (no store, no node namespace) leaves
 * nothing behind either: its log goes once read, and the instance's directory if it is empty.
 * (`lab server` removed its lock file itself, holding it.)
 */
async function removeRefused(paths: InstancePaths): Promise<void> {
  if (existsSync(paths.storeFile) || netnsExists(paths.nodeNetns)) return;
  await rm(serverLogFile(paths), { force: true });
  for (const dir of [paths.serverDir, paths.stateDir]) await rmdir(dir).catch(() => {}); // only if empty
}

/** Starts `lab server` in the background; `exited()` says how it ended, null while it runs. */
async function startServer(a: Args, paths: InstancePaths): Promise<{ pid: number; exited: () => string | null }> {
  await mkdir(paths.serverDir, { recursive: true });
  // No server holds the instance: a port file left is a dead server's (killed with SIGKILL), and
  // would be taken for the new one's before it has written its own.
  await rm(paths.apiPortFile, { force: true });
  let exited: string | null = null;
  const argv = [process.execPath, path.join(LAB_ROOT, 'bin', 'lab.js'), 'server', '--name', a.name, '--state', path.resolve(a.state), '--config', path.resolve(a.config), ...(a.mode ? ['--mode', a.mode] : [])];
  const pid = await spawnDetached(argv, { env: { ...process.env } as Record<string, string>, logFile: serverLogFile(paths), onExit: (code, signal) => (exited = signal ?? `exit code ${code}`) });
  if (!pid) throw new Error('could not start the server process');
  log(`server of instance ${a.name} starting (pid ${pid}, log ${serverLogFile(paths)})`);
  return { pid, exited: () => exited };
}

/**
 * Waits until a server holds the instance and answers: the one this `up` starts when nobody holds
 * it, or one already running or starting (another `lab up` may have started it a moment ago: two
 * `up` started together both end up waiting on the one server that won the lock).
 */
async function waitForServer(a: Args, paths: InstancePaths): Promise<void> {
  const state = path.resolve(a.state);
  const t0 = Date.now();
  let mine: { pid: number; exited: () => string | null } | null = null;
  let told = false;
  for (;;) {
    const h = readHolder(a.name);
    if (h?.command === 'server') {
      if (h.state && h.state !== state) throw new Error(`instance ${a.name} is run by its server, ${describeHolder(h)}, which applies ${h.state} whenever it changes, not ${state}; stop it ('${labHint(a.name, 'down')}' removes everything) to run another file`);
      if (h.pid !== mine?.pid && !told) log(`the server of instance ${a.name} (pid ${h.pid}) is running: it applies ${h.state ?? 'the state file'} on every change`);
      told = true;
      // Serving once it has recorded its port, after it took the instance (an older file is a former
      // server's, one killed a moment ago say; 20 ms for the file system's coarse clock).
      // The whole number: the server writes the file, not atomically, once its listeners are open.
      const whole = /^\d+\n$/.test(await readFile(paths.apiPortFile, 'utf8').catch(() => ''));
      if (whole && (await stat(paths.apiPortFile).then((s) => s.mtimeMs >= Date.parse(h.since) - 20, () => false))) return;
    } else if (mine?.exited()) {
      const why = serverError(await logTail(paths), mine.exited()!);
      await removeRefused(paths);
      throw new Error(why);
    } else if (!h && !mine) mine = await startServer(a, paths);
    if (Date.now() - t0 > SERVER_START_MS) throw new Error(`the server did not answer within ${SERVER_START_MS / 1000} s:\n${await logTail(paths)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function upWithServer(a: Args): Promise<void> {
  preflight({ needRoot: true });
  const t0 = Date.now();
  const paths = instancePaths(a.name);
  // A bad state or config file is refused here, before anything is made, with the message (file,
  // line, object, field) the server would give; a running server keeps its last good state.
  const { desired, addons } = await new LabServer({ instance: a.name, statePath: a.state, configPath: a.config, mode: a.mode, nodes: a.nodes }).load();
  // The node count goes where the server (running, or about to start) reads it.
  if (a.nodes !== undefined) await writeNodesArg(paths, a.nodes);
  const nodes = [desired.config.nodeName, ...desired.config.agents.map((n) => n.nodeName)];
  // The state files' Deployments as the server will record them applied (k3s's objectset annotation).
  const deploymentManifests = new Map<string, Manifest>();
  for (const manifests of addons.values()) {
    for (const m of manifests) {
      if (m.object.kind !== 'Deployment') continue;
      const meta = m.object.metadata as { name: string; namespace?: string };
      deploymentManifests.set(`${meta.namespace ?? 'default'}/${meta.name}`, m);
    }
  }
  // As `kubectl apply` prints the API server's warnings: templates whose pods the namespace's
  // Pod Security level will refuse (or only warn about).
  for (const w of podSecurityWarnings(desired)) log(w);
  await waitForServer(a, paths);

  const client = await serverClient(a.name, paths);
  if (!client) throw new Error(`the server of instance ${a.name} stopped:\n${await logTail(paths)}`);
  try {
    let last = '';
    const c = await waitConverged(client, {
      nodes: desired.config.agents.length || a.nodes !== undefined ? nodes : undefined,
      // The server applies lab/cluster.yaml only once its nodes have joined: until then the API
      // holds none of its Deployments, and no verdict on them is one.
      deployments: desired.deployments.map((d) => `${d.metadata.namespace}/${d.metadata.name}`),
      // A server restarted after a kill holds the objects of before an edit until it applies the
      // files again: a Deployment of before is no verdict either.
      notApplied: (d) => {
        const m = deploymentManifests.get(`${d.metadata.namespace ?? 'default'}/${d.metadata.name}`);
        return m ? notAppliedFrom(m, d) : null;
      },
      timeoutMs: (a.timeout ?? CONVERGE_MS / 1000) * 1000,
      onProgress: (p) => {
        const line = p.waiting.length ? `waiting: ${p.waiting[0]}${p.waiting.length > 1 ? ` (and ${p.waiting.length - 1} more)` : ''}` : '';
        if (line && line !== last) log(line);
        last = line;
      },
    });
    process.stdout.write(await apiGet(a.name, paths, { resource: 'pods', names: [], namespace: 'default', allNamespaces: true, output: 'wide' }));
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    if (!c.done) {
      log(`\nnot converged after ${secs}s:`);
      for (const w of c.waiting) log(`  ${w}`);
      if (c.refused.length) log(`The API refuses the pods of ${c.refused.length} Deployment(s): change the manifest, or the namespace's pod-security.kubernetes.io labels, and the server applies it.`);
      process.exitCode = 1;
    } else log(`\nconverged in ${secs}s: every Deployment rolled out, every pod ready.`);
    log('Try this next:');
    log(`  ${labHint(a.name, 'kubeconfig')} > k3s.yaml && kubectl --kubeconfig k3s.yaml get all`);
    log(`  ${labHint(a.name, 'get pods -o wide')}`);
    log(`  ${labHint(a.name, 'down')}`);
  } finally {
    client.close();
  }
}
