// `lab up [--watch]`: the instance as k3s runs a node. `lab up` starts the instance's server
// (`lab server`) as a daemon when none runs and waits until the cluster has converged
// (up-server.ts); `lab up --watch` is the server itself in the foreground (server.ts), as
// `npm run lab` runs it. Either way the server applies the state files on start and on every change.
import type { Common } from '../common.ts';

export type Args = Common & { mode?: 'host' | 'sandbox'; watch: boolean; timeout?: number; nodes?: number; ui?: boolean };

export async function upHandler(a: Args): Promise<void> {
  // `npm run lab`: the live picture in the browser too (`lab ui`), its URL printed.
  if (a.watch) return (await import('./server.ts')).serverHandler({ ...a, ui: a.ui !== false });
  return (await import('./up-server.ts')).upWithServer(a);
}
