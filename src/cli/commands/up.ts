// `lab up [--watch]`: create or reconcile the lab from the state file; with --watch, stay in the
// foreground as the control plane. Either way it owns the instance while it runs (src/cli/lock.ts).
import { existsSync } from 'node:fs';
import { rmdir } from 'node:fs/promises';
import { Controller } from '../../controllers/controller.ts';
import { up } from '../../controllers/lab.ts';
import { instancePaths } from '../../node/instance.ts';
import { labHint, log, type Common } from '../common.ts';
import { podsTable } from '../format.ts';
import { lockForUp } from '../lock.ts';
import { preflight } from '../preflight.ts';

export type Args = Common & { mode?: 'host' | 'sandbox'; watch: boolean; api?: boolean; timeout?: number };

export async function upHandler(a: Args): Promise<void> {
  if (a.api && a.watch) return (await import('./server.ts')).serverHandler(a);
  if (a.api) return (await import('./up-server.ts')).upWithServer(a);
  preflight({ needRoot: true });
  const t0 = Date.now();
  const opts = { instance: a.name, statePath: a.state, configPath: a.config, mode: a.mode, log };
  // Taken before anything is read: the state file, the pods, everything is the holder's alone.
  const lock = await lockForUp(a.name, { watch: a.watch, state: a.state, log });
  const controller = a.watch ? new Controller(opts) : null;
  // `lab down` stops a controller with SIGTERM, possibly while its first reconcile runs: that
  // reconcile finishes, then the controller stops (dying halfway would leave work for down's sweep).
  let stopRequested: string | null = null;
  let stopNow: ((sig: string) => void) | null = null;
  const onTerm = () => {
    stopRequested ??= 'SIGTERM';
    stopNow?.('SIGTERM');
  };
  if (controller) process.once('SIGTERM', onTerm);
  let r;
  try {
    r = controller ? await controller.start() : await up(opts);
  } catch (e) {
    // Refused before anything existed (bad input, a refused mode): the instance directory made
    // for the lock file goes too, so a refused `up` leaves nothing behind.
    if (!existsSync(instancePaths(a.name).stateFile)) {
      lock.unlinkHeld();
      lock.release();
      await rmdir(instancePaths(a.name).stateDir).catch(() => {}); // only if nothing else is in it
    } else lock.release();
    throw e;
  }
  if (!controller) lock.release();
  const pods = Object.values(r.state.pods);
  process.stdout.write(podsTable(pods, { wide: true, allNamespaces: true }));
  const paths = instancePaths(a.name);
  const inNode = r.node.mode === 'sandbox' ? `ip netns exec ${paths.nodeNetns} ` : '';
  const isReady = (p: (typeof pods)[number]) => p.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True');
  const first = pods.find((p) => p.status.podIP && isReady(p));
  const notReady = pods.filter((p) => !isReady(p));
  log(`\n${r.created.length} pod(s) created, ${r.deleted.length} deleted, ${pods.length - notReady.length} of ${pods.length} ready (${((Date.now() - t0) / 1000).toFixed(1)}s).`);
  for (const p of notReady) {
    const why = p.status.containerStatuses.map((c) => c.state.waiting ? `${c.name}: ${c.state.waiting.reason}${c.state.waiting.message ? ` (${c.state.waiting.message})` : ''}` : c.state.terminated ? `${c.name}: ${c.state.terminated.reason}` : `${c.name}: not ready`).join('; ');
    log(`  not ready: ${p.metadata.namespace}/${p.metadata.name}: ${why}`);
  }
  log('Try this next:');
  log(`  ${labHint(a.name, 'get pods -o wide')}`);
  if (first) log(`  sudo ${inNode}curl -s http://${first.status.podIP}/            # ${first.metadata.name}, straight to the pod`);
  log(`  sudo ip ${r.node.netns ? `-n ${r.node.netns} ` : ''}link show master cni0        # one veth per pod`);
  log(`  ${labHint(a.name, 'down')}`);
  if (!controller) return;
  log(`\nWatching ${a.state} and ${a.config}: edit them and the lab reconciles. Ctrl-C stops the controller (the lab keeps running).`);
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (sig: string) => {
      if (stopping) return;
      stopping = true;
      log(`\n${sig}: controller stopped. The lab keeps running: '${labHint(a.name, 'up --watch')}' resumes, '${labHint(a.name, 'down')}' removes it.`);
      // The lock is let go only once the change in progress is finished.
      void controller.stop().then(() => lock.release()).then(resolve);
    };
    stopNow = stop;
    process.once('SIGINT', () => stop('SIGINT'));
    if (stopRequested) stop(stopRequested);
  });
}
