// Issue 12, item 7 (one owner per instance) and its "Races" row, in the API design (issue 13):
// whoever changes an instance holds its lock, and a running instance is held by its server
// (`lab server`, started by `lab up` as a daemon or in the foreground by `lab up --watch`). Two
// `lab up` started together share one server and both wait for it to converge; `lab up` next to a
// running server only waits; a second server is refused naming it; of two `lab up --watch`
// exactly one runs;
// `lab down` stops the server and, racing an `up` (or following a server killed with SIGKILL, whose
// lock the kernel dropped), leaves nothing of the instance behind.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { readHolder } from '../../src/cli/lock.ts';
import { waitForPodsReady } from './controller.ts';
import { instancePaths } from '../../src/node/instance.ts';
import { cmd, editableState, getPods, instanceName, isRoot, lab, LAB_BIN, labOk, ROOT } from './helpers.ts';

interface Proc {
  pid: number;
  /** stderr so far. */
  err(): string;
  running(): boolean;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; stdout: string }>;
  kill(signal?: NodeJS.Signals): void;
}

/** Every `lab` process a test starts, so that cleanup stops those (and only those) still running. */
const started: Proc[] = [];

function spawnLab(args: string[]): Proc {
  const child = spawn(process.execPath, [LAB_BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let exited = false;
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; stdout: string }>((resolve) =>
    child.once('close', (code, signal) => {
      exited = true;
      resolve({ code, signal, stderr, stdout });
    }),
  );
  const p: Proc = {
    pid: child.pid!,
    err: () => stderr,
    running: () => !exited,
    done,
    kill: (signal = 'SIGTERM') => {
      if (!exited) child.kill(signal);
    },
  };
  started.push(p);
  return p;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, fn: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const instances = new Set<string>();
function instance(base: string): string {
  const i = instanceName(base);
  instances.add(i);
  return i;
}

afterEach(async () => {
  for (const p of started.splice(0)) {
    p.kill('SIGKILL');
    await p.done;
  }
  for (const i of instances) await lab(['down', '--name', i]);
  instances.clear();
}, 180_000);

/** The instance's pod namespaces (not the node's or the laptop's). */
async function podNetns(i: string): Promise<string[]> {
  const out = (await cmd(['ip', 'netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0]!);
  return out.filter((n) => n.startsWith(`${i}-`) && n !== `${i}-node` && n !== `${i}-host`).sort();
}

/** Every pod namespace is a pod in the API and every pod there has one (the kubelet names it after the pod): no orphan, no duplicate. */
async function expectAllRecorded(i: string, pods: number, when: string): Promise<void> {
  const recorded = await getPods(i, true);
  expect(recorded, when).toHaveLength(pods);
  expect(await podNetns(i), when).toEqual(recorded.map((p) => instancePaths(i).podNetns(p.metadata.name)).sort());
}

/**
 * `lab` processes of the instance (its server, say): `lab.js ... --name <i>`. A child the server
 * has forked but not yet exec'd (runc, iptables...) still shows the server's command line for a
 * moment: one whose parent is in the list is not counted.
 */
function labProcesses(i: string): string[] {
  const found = new Map<string, { ppid: string; line: string }>();
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]!;
      if (argv.some((x) => x.endsWith('lab.js')) && argv[argv.indexOf('--name') + 1] === i) found.set(pid, { ppid, line: `${pid} ${argv.slice(1).join(' ')}` });
    } catch {
      /* gone */
    }
  }
  return [...found.values()].filter((p) => !found.has(p.ppid)).map((p) => p.line);
}

/** Processes of the instance: anything whose root directory is under its directory in /run, and its `lab` processes. */
function instanceProcesses(i: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readlinkSync(`/proc/${pid}/root`).startsWith(`/run/packet-path-lab/${i}/`)) out.push(pid);
    } catch {
      /* gone */
    }
  }
  return [...out, ...labProcesses(i)];
}

/** The server holding the instance (its pid), and that it is the only `lab` process of the instance. */
function theServer(i: string, when: string): number {
  const h = readHolder(i);
  expect(h?.command, when).toBe('server');
  const procs = labProcesses(i);
  expect(procs.map((p) => Number(p.split(' ')[0])), `${when}\n--- lab processes\n${procs.join('\n')}`).toEqual([h!.pid]);
  return h!.pid;
}

/** What `lab down` must leave of an instance: nothing at all. */
async function expectNothingLeft(i: string, when: string): Promise<void> {
  const netns = (await cmd(['ip', 'netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(`${i}-`));
  expect(netns, `${when}: namespaces`).toEqual([]);
  expect(existsSync(`/run/packet-path-lab/${i}`), `${when}: /run/packet-path-lab/${i}`).toBe(false);
  expect(readdirSync('/etc/netns').filter((n) => n.startsWith(`${i}-`)), `${when}: /etc/netns`).toEqual([]);
  expect(instanceProcesses(i), `${when}: processes`).toEqual([]);
}

/** The pid of the server a `lab up` started, from what it printed. */
const startedServer = (stderr: string) => Number(/server of instance \S+ starting \(pid (\d+)/.exec(stderr)?.[1] ?? NaN);

describe.skipIf(!isRoot)('one owner per instance (issue 12, item 7), held by the server (issue 13)', () => {
  it('two `lab up` 0.05 s apart: one server, both wait for it to converge, 7 pods in all, every one recorded', async () => {
    const I = instance('lk1');
    for (let round = 0; round < 3; round++) {
      const a = spawnLab(['up', '--name', I]);
      await sleep(50);
      const b = spawnLab(['up', '--name', I]);
      const [ra, rb] = await Promise.all([a.done, b.done]);
      const when = `round ${round}:\n--- first\n${ra.stderr}\n--- second\n${rb.stderr}`;
      // Both succeed: the later found (or lost the race to) the server the other started, and waited on it.
      for (const r of [ra, rb]) {
        expect(r.code, when).toBe(0);
        expect(r.stderr, when).toMatch(/converged in [\d.]+s: every Deployment rolled out, every pod ready/);
        expect(r.stdout.split('\n').filter((l) => / Running /.test(l)), when).toHaveLength(7);
      }
      const pid = theServer(I, when);
      expect([ra, rb].map((r) => startedServer(r.stderr)), when).toContain(pid);
      await expectAllRecorded(I, 7, when);
      await labOk(['down', '--name', I]);
      await expectNothingLeft(I, when);
    }
  }, 300_000);

  it('next to a running server: `lab up` only waits; another file or a second server is refused naming it; `lab down` stops it', async () => {
    const I = instance('lk2');
    const server = spawnLab(['up', '--watch', '--name', I]);
    await until('the server to run', () => /server of instance \S+ running/.test(server.err()) || !server.running());
    expect(server.running(), server.err()).toBe(true);
    await waitForPodsReady(I);
    const pods = (await getPods(I, true)).map((p) => p.metadata.name).sort();
    expect(pods).toHaveLength(7);

    const again = await lab(['up', '--name', I]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain(`the server of instance ${I} (pid ${server.pid}) is running: it applies ${ROOT}/lab/cluster.yaml on every change`);
    expect(again.stderr).toMatch(/converged in [\d.]+s/);
    expect(again.stderr).not.toMatch(/starting \(pid/);

    const other = await editableState('lock');
    try {
      const r = await lab(['up', '--name', I, '--state', other.state]);
      expect(r.code, r.stderr).not.toBe(0);
      expect(r.stderr).toMatch(new RegExp(`is run by its server, \`lab server\` \\(pid ${server.pid}, since [\\d:]+ UTC.*which applies ${ROOT}/lab/cluster\\.yaml whenever it changes, not ${other.state}`));
    } finally {
      await other.remove();
    }

    const second = await lab(['up', '--watch', '--name', I]);
    expect(second.code, second.stderr).not.toBe(0);
    expect(second.stderr).toContain(`instance ${I} is already run by \`lab server\` (pid ${server.pid}`);

    expect(server.running()).toBe(true);
    expect(theServer(I, 'after the refusals')).toBe(server.pid);
    expect((await getPods(I, true)).map((p) => p.metadata.name).sort()).toEqual(pods);
    await expectAllRecorded(I, 7, 'after the refusals');

    // `lab down` stops the server, then removes everything.
    const d = await lab(['down', '--name', I]);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stderr).toContain(`stopping \`lab server\` (pid ${server.pid}`);
    const s = await server.done;
    expect(s.signal, s.stderr).toBeNull(); // it stopped by itself on SIGTERM, nobody had to kill it
    expect(s.stderr).toContain('SIGTERM: stopping the server');
    await expectNothingLeft(I, d.stderr);
  }, 180_000);

  it('two `lab up --watch` started together: exactly one server holds the instance, every time', async () => {
    const I = instance('lk3');
    const running = /server of instance \S+ running/;
    for (let round = 0; round < 8; round++) {
      const both = [spawnLab(['up', '--watch', '--name', I]), spawnLab(['up', '--watch', '--name', I])];
      await until('both to settle', () => both.every((p) => !p.running() || running.test(p.err())));
      await sleep(200); // a second server still coming up would show here
      const alive = both.filter((p) => p.running());
      const when = `round ${round}:\n${both.map((p) => `--- pid ${p.pid}\n${p.err()}`).join('\n')}`;
      expect(alive, when).toHaveLength(1);
      const lost = await both.find((p) => !p.running())!.done;
      expect(lost.code, when).not.toBe(0);
      // Refused, naming the holder by its pid.
      expect(lost.stderr, when).toContain(`instance ${I} is already run by \`lab server\` (pid ${alive[0]!.pid}`);
      expect(theServer(I, when)).toBe(alive[0]!.pid);
      await waitForPodsReady(I);
      await expectAllRecorded(I, 7, when);
      // `lab down` stops the one server and removes the instance; the next pair starts afresh.
      const d = await lab(['down', '--name', I]);
      expect(d.code, `${when}\n--- down\n${d.stderr}`).toBe(0);
      await alive[0]!.done;
      await expectNothingLeft(I, when);
    }
  }, 600_000);

  it('`lab down` started 0.05-0.3 s into a `lab up`: nothing of the instance is left, no server', async () => {
    const I = instance('lk4');
    for (let round = 0; round < 8; round++) {
      const ms = 50 + Math.round(Math.random() * 250);
      const up = spawnLab(['up', '--name', I]);
      const t0 = Date.now();
      // Into the server's work, not the up's start-up: not before it has made the instance's first namespace.
      await until('the up to begin', () => existsSync(`/run/netns/${I}-node`) || !up.running());
      await sleep(Math.max(0, ms - (Date.now() - t0)));
      const when = `round ${round}, down ${ms} ms into the up (${up.running() ? 'still running' : 'already finished'})`;
      const down = spawnLab(['down', '--name', I]);
      const [ru, rd] = await Promise.all([up.done, down.done]);
      const out = `${when}\n--- up\n${ru.stderr}\n--- down\n${rd.stderr}`;
      expect(rd.code, out).toBe(0);
      await sleep(500); // a server that outlived the down would make something now
      await expectNothingLeft(I, out);
      // Nothing a second down would still find.
      await labOk(['down', '--name', I]);
    }
  }, 600_000);

  it('the server killed with SIGKILL at a random point: its lock goes with it; `lab up` takes over (adopting what it made), `lab down` leaves nothing', async () => {
    const I = instance('lk5');
    for (let round = 0; round < 8; round++) {
      const up = spawnLab(['up', '--name', I]);
      await until('the up to begin', () => existsSync(`/run/netns/${I}-node`) || !up.running());
      const ms = Math.round(Math.random() * 500);
      await sleep(ms);
      const pid = startedServer(up.err());
      expect(pid, up.err()).toBeGreaterThan(0);
      const landed = up.running();
      process.kill(pid, 'SIGKILL');
      up.kill('SIGKILL');
      await up.done;
      let when = `round ${round}, server ${pid} killed ${ms} ms after its node namespace appeared (${landed ? 'while up waited' : 'after up returned'})`;
      if (round % 2 === 1) {
        // The dead server's record is still in the lock file; the lock itself went with it.
        const r = await lab(['up', '--name', I]);
        when += `\n--- up again\n${r.stderr}`;
        expect(r.code, when).toBe(0);
        expect(r.stderr, when).toMatch(/converged in/);
        expect(theServer(I, when)).not.toBe(pid);
        await expectAllRecorded(I, 7, when);
      }
      const d = await lab(['down', '--name', I]);
      when += `\n--- down\n${d.stderr}`;
      expect(d.code, when).toBe(0);
      await expectNothingLeft(I, when);
    }
  }, 600_000);
});
