// Options every subcommand shares, and how they read the running instance.
import type { Argv } from 'yargs';
import { readState, type LabState } from '../api/store.ts';
import { instancePaths } from '../node/instance.ts';

export const DEFAULT_STATE = 'lab/cluster.yaml';
export const DEFAULT_CONFIG = 'lab/config.yaml';

export type Common = { name: string; state: string; config: string };

export function common<T>(y: Argv<T>) {
  return y
    .option('name', { type: 'string', default: 'lab', describe: 'instance name (prefixes every namespace and file the lab creates)' })
    .option('state', { type: 'string', default: DEFAULT_STATE, describe: 'Kubernetes manifests to reconcile' })
    .option('config', { type: 'string', default: DEFAULT_CONFIG, describe: 'k3s-style cluster settings' });
}

export const log = (line: string) => process.stderr.write(`${line}\n`);

/** The running instance's state, or a message that says how to start it. */
export async function runningState(name: string): Promise<LabState> {
  const state = await readState(instancePaths(name).stateFile);
  if (!state) throw new Error(`instance ${name} is not running (no state under ${instancePaths(name).stateDir}); start it with 'lab up'`);
  return state;
}
