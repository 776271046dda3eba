// `lab ui`: the live picture of the cluster in the browser (src/cli/ui-server.ts). Prints the
// page's URL, with its token, as its first line, and serves until Ctrl-C.
import { instancePaths } from '../../node/instance.ts';
import { netnsExists } from '../../sys/ip.ts';
import { readApiState } from '../../trace/api-view.ts';
import { InstanceNotRunningError } from '../../api/errors.ts';
import { log, stopOnSignal, type Common } from '../common.ts';
import { preflight, tools } from '../preflight.ts';
import { startUi } from '../ui-server.ts';

export type Args = Common & { port: number };

/** Where the page is served: 127.0.0.1 in the sandbox; in the VM, the node IP (the laptop's browser reaches it). */
export async function uiAddress(instance: string): Promise<string> {
  const paths = instancePaths(instance);
  if (netnsExists(paths.nodeNetns)) return '127.0.0.1';
  const state = await readApiState(paths);
  if (!state) throw new InstanceNotRunningError(instance, paths.stateDir);
  if (!state.nodeIP) throw new Error(`instance ${instance}: its node has no InternalIP yet`);
  return state.nodeIP;
}

export async function uiHandler(a: Args): Promise<void> {
  preflight({ needRoot: true, tools: tools('curl', 'iptables-save', 'conntrack', 'dig') });
  if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) throw new Error(`--port ${a.port}: a port number 0-65535 (0: any free port)`);
  const ui = await startUi({ instance: a.name, host: await uiAddress(a.name), port: a.port, log });
  process.stdout.write(`${ui.url}\n`);
  log('lab ui: open the URL above (its token is the key to the page); Ctrl-C stops it');
  await stopOnSignal(() => ui.close());
}
