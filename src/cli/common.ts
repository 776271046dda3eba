// Options every subcommand shares, and how they read the running instance.
import { realpathSync } from 'node:fs';
import path from 'node:path';
import type { Argv } from 'yargs';
import { InstanceNotRunningError } from '../api/errors.ts';
import { LAB_ROOT } from '../api/system.ts';
import type { ClusterView } from '../trace/view.ts';
import { readApiState } from '../trace/api-view.ts';
import { instancePaths } from '../node/instance.ts';
import { which } from './preflight.ts';

// The checkout's manifests, wherever `lab` is started from.
export const DEFAULT_STATE = path.join(LAB_ROOT, 'lab', 'cluster.yaml');
export const DEFAULT_CONFIG = path.join(LAB_ROOT, 'lab', 'config.yaml');

export type Common = { name: string; state: string; config: string };

export function common<T>(y: Argv<T>) {
  return y
    .option('name', { type: 'string', default: 'lab', describe: 'instance name (prefixes every namespace and file the lab creates)' })
    .option('state', { type: 'string', default: DEFAULT_STATE, describe: 'Kubernetes manifests to reconcile' })
    .option('config', { type: 'string', default: DEFAULT_CONFIG, describe: 'k3s-style cluster settings' });
}

export const log = (line: string) => process.stderr.write(`${line}\n`);

/**
 * A foreground daemon's end (`lab server`, `lab agent`): resolves once SIGTERM or SIGINT came and
 * `stop`, called once whichever came first (and however often), has finished.
 */
export function stopOnSignal(stop: (signal: NodeJS.Signals) => Promise<void>): Promise<void> {
  let stopping: Promise<void> | null = null;
  return new Promise<void>((resolve) => {
    const on = (sig: NodeJS.Signals) => void (stopping ??= stop(sig)).then(resolve);
    process.once('SIGTERM', on);
    process.once('SIGINT', on);
  });
}

/**
 * How to run `lab` as the user would type it, so that every hint works as printed: `lab` when it
 * is on the PATH (the VM, or after `sudo npm link`), else the launcher's path relative to the
 * directory the user is in (npm sets INIT_CWD to it under `npm run`), else its absolute path.
 */
export function labCommand(): string {
  const launcher = path.join(LAB_ROOT, 'bin', 'lab.js');
  const onPath = which('lab');
  let cmd: string;
  if (onPath && safeRealpath(onPath) === safeRealpath(launcher)) cmd = 'lab';
  else {
    const rel = path.relative(process.env.INIT_CWD ?? process.cwd(), launcher);
    cmd = rel.startsWith('..') || path.isAbsolute(rel) ? launcher : `./${rel}`;
  }
  return cmd;
}

/** `sudo <lab> <args>` for an instance, as the user would type it. */
export function labHint(instance: string, args: string): string {
  return `sudo ${labCommand()} ${args}${instance === 'lab' ? '' : ` --name ${instance}`}`;
}

function safeRealpath(p: string): string | null {
  try {
    return realpathSync(p);
  } catch {
    return null;
  }
}

/** What to type to start the instance (`npm run lab` works only inside the checkout). */
export function startHint(instance: string): string {
  const inCheckout = path.resolve(process.env.INIT_CWD ?? process.cwd()) === LAB_ROOT;
  return instance === 'lab' && inCheckout ? 'sudo npm run lab' : labHint(instance, 'up --watch');
}

/** The running instance's state, or a message that says how to start it. */
export async function runningState(name: string): Promise<ClusterView> {
  // An instance run by its server: the cluster as its store has it (trace/api-view.ts).
  const state = await readApiState(instancePaths(name));
  if (!state) throw new InstanceNotRunningError(name, instancePaths(name).stateDir);
  return state;
}
