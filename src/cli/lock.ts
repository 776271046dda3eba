// One owner per instance. Whoever changes an instance holds its lock: its server (`lab server`,
// which `lab up` starts as a daemon and `lab up --watch` runs in the foreground) for its whole
// life, `lab down` until the instance is gone. The lock is an flock(2) on
// /run/packet-path-lab/<instance>/lock (src/sys/flock.ts says why flock and how): atomic, and
// dropped by the kernel when its holder dies, kill -9 included, so there is never a stale lock to
// detect or to break. Read-only commands (get, describe, trace, ...) and a `lab up` that finds the
// server running take no lock.
//
// The holder writes who it is into the file (pid, start time, command, state file, since when), so
// that the others can name it; a record is believed only while that very process (pid and start
// time) is alive, and only while the lock is held.
//
// What each command does when the instance is held:
//   holder \ me     lab server (lab up [--watch])      lab down
//   lab server      refuses, naming it                 stops it (SIGTERM: it finishes what it is
//                   (`lab up` waits on it instead)     doing and lets go), then takes it
//   lab down        waits for it (bounded)             waits for it (bounded), then stops it
import path from 'node:path';
import { instancePaths } from '../node/instance.ts';
import { lockFile, readLockFile, type HeldLock } from '../sys/flock.ts';
import { isRunning, pidExists, procStartTicks, signalProcess } from '../sys/proc.ts';

export type LockCommand = 'server' | 'down';

/** What the holder of an instance's lock records about itself. */
export interface Holder {
  pid: number;
  /** Start time of the process (clock ticks since boot): with the pid, it names the process for good. */
  startTicks: number;
  command: LockCommand;
  /** The state file a server applies. */
  state?: string;
  /** When it took the lock (ISO 8601). */
  since: string;
}

/** How long a server waits for a `down` holding the instance. */
export const LOCK_WAIT_MS = 120_000;
/** How long `down` lets another `down` finish before it stops it. */
export const DOWN_WAIT_MS = 60_000;
/** How long a stopped holder has to let go before it is killed. */
const STOP_TIMEOUT_MS = 10_000;
/** Each blocking try lasts this long, then the holder is looked at again (it may have changed). */
const SLICE_MS = 250;

export function lockPath(instance: string): string {
  return path.join(instancePaths(instance).stateDir, 'lock');
}

function isHolder(x: unknown): x is Holder {
  const h = x as Holder;
  return typeof h === 'object' && h !== null && Number.isInteger(h.pid) && h.pid > 0 && Number.isInteger(h.startTicks) && ['server', 'down'].includes(h.command) && typeof h.since === 'string';
}

/**
 * The process that recorded itself in the instance's lock file, if that very process is still
 * alive; null otherwise (no record, a record its holder emptied when it let go, or one left by a
 * holder that died). Alive is not the same as holding: callers ask only after failing to lock.
 */
export function readHolder(instance: string): Holder | null {
  let h: unknown;
  try {
    h = JSON.parse(readLockFile(lockPath(instance)));
  } catch {
    return null; // empty, or being written
  }
  // A zombie is dead: its lock is gone, but its /proc entry (start time included) stays until its
  // parent, or init for an orphan (which may reap only every second or so), collects it.
  if (!isHolder(h) || procStartTicks(h.pid) !== h.startTicks || !isRunning(h.pid)) return null;
  return h;
}

/** "`lab server` (pid 1234, since 01:02:03 UTC, 5 min ago)" */
export function describeHolder(h: Holder): string {
  const since = new Date(h.since);
  const s = Math.max(0, Math.round((Date.now() - since.getTime()) / 1000));
  const ago = s < 120 ? `${s} s ago` : s < 7200 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
  return `\`lab ${h.command}\` (pid ${h.pid}, since ${since.toISOString().slice(11, 19)} UTC, ${ago})`;
}

/** What to do about the current holder: wait for it, stop it, or give up with a message. */
type Decision = { wait: number; then: 'refuse' | 'stop' } | { stop: true } | { refuse: string };

export interface InstanceLock {
  readonly file: string;
  /** Lets go, emptying the record. Dying lets go too. */
  release(): void;
  /** For `lab down`, as the very last step: removes the lock file while holding it. */
  unlinkHeld(): void;
}

async function acquire(instance: string, me: Omit<Holder, 'pid' | 'startTicks' | 'since'>, decide: (h: Holder) => Decision, log: (line: string) => void): Promise<InstanceLock> {
  const file = lockPath(instance);
  const startTicks = procStartTicks(process.pid);
  if (startTicks === null) throw new Error('cannot read this process\'s own start time');
  const t0 = Date.now();
  let waitingFor = null as { pid: number; since: number } | null;
  let unknownSince = null as number | null;
  /** Holders this process stopped, and when. */
  const stopped = new Map<number, number>();
  for (let slice = 0; ; slice = SLICE_MS) {
    const lock: HeldLock | null = await lockFile(file, slice);
    if (lock) {
      const record: Holder = { pid: process.pid, startTicks, ...me, since: new Date().toISOString() };
      lock.write(`${JSON.stringify(record)}\n`);
      if (waitingFor || stopped.size) log(`took instance ${instance} after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      return lock;
    }
    const h = readHolder(instance);
    if (!h) {
      // The holder has the lock but has not written its record yet (a moment), or the lock is
      // held by something that is not the lab (someone ran flock(1) on the file by hand).
      unknownSince ??= Date.now();
      if (Date.now() - unknownSince > 5_000) throw new Error(`instance ${instance} is locked by a process that is not a lab command (nobody recorded itself in ${file})`);
      continue;
    }
    unknownSince = null;
    const d = decide(h);
    if ('refuse' in d) throw new Error(d.refuse);
    if ('stop' in d || (waitingFor?.pid === h.pid && Date.now() - waitingFor.since > d.wait && d.then === 'stop')) {
      const when = stopped.get(h.pid);
      if (when === undefined) {
        stopped.set(h.pid, Date.now());
        log(`stopping ${describeHolder(h)}, which holds instance ${instance}`);
        await stopProcess(h);
      } else if (Date.now() - when > 2 * STOP_TIMEOUT_MS) {
        throw new Error(`instance ${instance} is still held by ${describeHolder(h)}, which did not go on SIGTERM nor on SIGKILL`);
      }
      continue;
    }
    if (waitingFor?.pid !== h.pid) {
      waitingFor = { pid: h.pid, since: Date.now() };
      log(`instance ${instance} is held by ${describeHolder(h)}: waiting for it to finish (at most ${Math.round(d.wait / 1000)} s${d.then === 'stop' ? ', then it is stopped' : ''})`);
    } else if (Date.now() - waitingFor.since > d.wait) {
      throw new Error(`instance ${instance} is still held by ${describeHolder(h)} after ${Math.round(d.wait / 1000)} s; wait for it, or stop it (kill ${h.pid}) and try again`);
    }
  }
}

/**
 * SIGTERM to a holder (checked to be that very process just before), SIGKILL if it is still there
 * after STOP_TIMEOUT_MS. A server finishes the change it is making and lets go; anything
 * else dies at once, and the kernel drops its lock.
 */
async function stopProcess(h: Holder): Promise<void> {
  const same = () => pidExists(h.pid) && procStartTicks(h.pid) === h.startTicks;
  if (!same()) return;
  signalProcess(h.pid, 'SIGTERM');
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (same() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (same()) signalProcess(h.pid, 'SIGKILL');
}

/**
 * `lab down` takes the instance from anyone: it stops a server at once (it would recreate what
 * down removes), lets another down finish (bounded), then stops it.
 */
export function lockForDown(instance: string, log: (line: string) => void): Promise<InstanceLock> {
  return acquire(instance, { command: 'down' }, (h) => (h.command === 'server' ? { stop: true } : { wait: DOWN_WAIT_MS, then: 'stop' }), log);
}

/** `lab server` holds the instance for its life: refused next to another server. */
export function lockForServer(instance: string, opts: { state: string; log: (line: string) => void }): Promise<InstanceLock> {
  return acquire(
    instance,
    { command: 'server', state: path.resolve(opts.state) },
    (h) => (h.command === 'server' ? { refuse: `instance ${instance} is already run by ${describeHolder(h)}; stop it first (kill ${h.pid})` } : { wait: LOCK_WAIT_MS, then: 'refuse' }),
    opts.log,
  );
}
