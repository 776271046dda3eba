// `lab server`: the instance's server process in the foreground, as `k3s server` runs: the API
// server, the state files applied through it, the controllers, the scheduler and this node's
// agent (src/controllers/server.ts). It holds the instance until SIGTERM or Ctrl-C; `lab down`
// stops it. The pods keep running when it stops: a new server adopts them.
import { existsSync } from 'node:fs';
import { rm, rmdir } from 'node:fs/promises';
import { instancePaths } from '../../node/instance.ts';
import { LabServer, writeNodesArg } from '../../controllers/server.ts';
import { labHint, log, stopOnSignal, type Common } from '../common.ts';
import { lockForServer } from '../lock.ts';
import { preflight } from '../preflight.ts';
import { netnsExists } from '../../sys/ip.ts';

export type Args = Common & { mode?: 'host' | 'sandbox'; port?: number; nodes?: number; ui?: boolean };

export async function serverHandler(a: Args): Promise<void> {
  preflight({ needRoot: true });
  const lock = await lockForServer(a.name, { state: a.state, log });
  // A former server's port (one killed with SIGKILL) is not this one's: gone until this one listens.
  await rm(instancePaths(a.name).apiPortFile, { force: true });
  if (a.nodes !== undefined) {
    await new LabServer({ instance: a.name, statePath: a.state, configPath: a.config, mode: a.mode, nodes: a.nodes }).load();
    await writeNodesArg(instancePaths(a.name), a.nodes);
  }
  const server = new LabServer({ instance: a.name, statePath: a.state, configPath: a.config, mode: a.mode, localPort: a.port, log });
  let ui: { close(): Promise<void> } | null = null;
  const done = stopOnSignal(async (sig) => {
    log(`${sig}: stopping the server (the pods keep running; '${labHint(a.name, 'down')}' removes them)`);
    await ui?.close().catch(() => {});
    await server.stop();
    lock.release();
  });
  try {
    await server.start();
  } catch (e) {
    await server.stop().catch(() => {});
    // Refused before anything was made (a bad state file, a refused mode): the lock file goes too,
    // and the instance's directory made for it, so that a refused start leaves nothing behind.
    const paths = instancePaths(a.name);
    if (!existsSync(paths.storeFile) && !netnsExists(paths.nodeNetns)) {
      lock.unlinkHeld();
      lock.release();
      await rmdir(paths.stateDir).catch(() => {}); // only if empty (`lab up` keeps this server's log there)
    } else lock.release();
    throw e;
  }
  log(`server of instance ${a.name} running: ${server.api!.url} (kubeconfig: ${labHint(a.name, 'kubeconfig')})`);
  if (a.ui) {
    // `npm run lab`: the page too; a failure to serve it does not stop the lab.
    try {
      const { startUi } = await import('../ui-server.ts');
      const { uiAddress } = await import('./ui.ts');
      const started = await startUi({ instance: a.name, host: await uiAddress(a.name), port: 0, log });
      ui = started;
      log(`live picture (lab ui): ${started.url}`);
    } catch (e) {
      log(`lab ui did not start: ${(e as Error).message} (try '${labHint(a.name, 'ui')}')`);
    }
  }
  await done;
}
