// `lab up` the API's way (issue 13): the instance's server runs as a daemon, as k3s's systemd unit
// runs `k3s server`; `lab up` starts it when none runs, then waits through the API until the
// cluster has converged (every Deployment rolled out, every pod ready) and prints the pods.
// A second `lab up` finds the server running (it applies the state files itself on every change)
// and only waits again. `lab down` stops the server and removes everything.
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { LAB_ROOT } from '../../api/system.ts';
import { waitConverged } from '../../client/converge.ts';
import { instancePaths, type InstancePaths } from '../../node/instance.ts';
import { spawnDetached } from '../../sys/stream.ts';
import { serverClient } from '../api-client.ts';
import { apiGet } from '../api-get.ts';
import { labHint, log, type Common } from '../common.ts';
import { readHolder } from '../lock.ts';
import { preflight } from '../preflight.ts';

export type Args = Common & { mode?: 'host' | 'sandbox'; timeout?: number };

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

/** Starts `lab server` in the background; resolves once it holds the instance and its API answers. */
async function startServer(a: Args, paths: InstancePaths): Promise<void> {
  await mkdir(paths.serverDir, { recursive: true });
  // No server holds the instance: a port file left is a dead server's (killed with SIGKILL), and
  // would be taken for the new one's before it has written its own.
  await rm(paths.apiPortFile, { force: true });
  const since = Date.now();
  let exited: string | null = null;
  const argv = [process.execPath, path.join(LAB_ROOT, 'bin', 'lab.js'), 'server', '--name', a.name, '--state', path.resolve(a.state), '--config', path.resolve(a.config), ...(a.mode ? ['--mode', a.mode] : [])];
  const pid = await spawnDetached(argv, { env: { ...process.env } as Record<string, string>, logFile: serverLogFile(paths), onExit: (code, signal) => (exited = signal ?? `exit code ${code}`) });
  if (!pid) throw new Error('could not start the server process');
  log(`server of instance ${a.name} starting (pid ${pid}, log ${serverLogFile(paths)})`);
  for (;;) {
    if (exited) throw new Error(`the server stopped (${exited}):\n${await logTail(paths)}`);
    // The whole number: the server writes the file, not atomically, once its listeners are open.
    const port = /^\d+\n$/.test(await readFile(paths.apiPortFile, 'utf8').catch(() => ''));
    if (port && readHolder(a.name)?.pid === pid) return;
    if (Date.now() - since > SERVER_START_MS) throw new Error(`the server did not answer within ${SERVER_START_MS / 1000} s:\n${await logTail(paths)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function upWithServer(a: Args): Promise<void> {
  preflight({ needRoot: true });
  const t0 = Date.now();
  const paths = instancePaths(a.name);
  const holder = readHolder(a.name);
  if (holder?.command === 'server') log(`the server of instance ${a.name} (pid ${holder.pid}) is running: it applies ${holder.state ?? 'the state file'} on every change`);
  else if (holder) throw new Error(`instance ${a.name} is held by \`lab ${holder.command}\` (pid ${holder.pid}), the controller without an API server: '${labHint(a.name, 'down')}' first`);
  else await startServer(a, paths);

  const client = await serverClient(a.name, paths);
  if (!client) throw new Error(`the server of instance ${a.name} stopped:\n${await logTail(paths)}`);
  try {
    let last = '';
    const c = await waitConverged(client, {
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
