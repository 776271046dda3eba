// Issue 12, item 7 (one owner per instance) and its "Races" row: whoever changes an instance holds
// its lock. Two one-shot `lab up` never both create pods; a one-shot `lab up` next to a watch
// controller is refused; of two `lab up --watch` exactly one runs; `lab down` racing an `up` (or
// following one killed with SIGKILL) leaves nothing of the instance behind.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { cmd, getPods, instanceName, isRoot, lab, LAB_BIN, labOk, ROOT } from './helpers.ts';

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

/** Every pod namespace is a recorded pod and every recorded pod has one: no orphan, no duplicate. */
async function expectAllRecorded(i: string, pods: number, when: string): Promise<void> {
  const recorded = await getPods(i, true);
  expect(recorded, when).toHaveLength(pods);
  expect(await podNetns(i), when).toEqual(recorded.map((p) => p.metadata.annotations['lab/netns']!).sort());
}

/** Processes of the instance: anything whose root directory is under its directory in /run. */
function instanceProcesses(i: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readlinkSync(`/proc/${pid}/root`).startsWith(`/run/packet-path-lab/${i}/`)) out.push(pid);
    } catch {
      /* gone */
    }
  }
  return out;
}

/** What `lab down` must leave of an instance: nothing at all. */
async function expectNothingLeft(i: string, when: string): Promise<void> {
  const netns = (await cmd(['ip', 'netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(`${i}-`));
  expect(netns, `${when}: namespaces`).toEqual([]);
  expect(existsSync(`/run/packet-path-lab/${i}`), `${when}: /run/packet-path-lab/${i}`).toBe(false);
  expect(readdirSync('/etc/netns').filter((n) => n.startsWith(`${i}-`)), `${when}: /etc/netns`).toEqual([]);
  expect(instanceProcesses(i), `${when}: processes`).toEqual([]);
}

const created = (stderr: string) => Number(/(\d+) pod\(s\) created/.exec(stderr)?.[1] ?? NaN);

describe.skipIf(!isRoot)('one owner per instance (issue 12, item 7)', () => {
  it('two one-shot `lab up` 0.05 s apart: 7 pods in all, every one recorded', async () => {
    const I = instance('lk1');
    for (let round = 0; round < 3; round++) {
      const a = spawnLab(['up', '--name', I]);
      await sleep(50);
      const b = spawnLab(['up', '--name', I]);
      const [ra, rb] = await Promise.all([a.done, b.done]);
      const when = `round ${round}:\n--- first\n${ra.stderr}\n--- second\n${rb.stderr}`;
      // Both may succeed (the later one waited, then found nothing to do), but only one creates.
      const ok = [ra, rb].filter((r) => r.code === 0);
      expect(ok.length, when).toBeGreaterThanOrEqual(1);
      expect(ok.map((r) => created(r.stderr)).sort(), when).toEqual(ok.length === 2 ? [0, 7] : [7]);
      await expectAllRecorded(I, 7, when);
      await labOk(['down', '--name', I]);
      await expectNothingLeft(I, when);
    }
  }, 300_000);

  it('a one-shot `lab up` while a watch controller runs is refused, naming it; no orphan pod', async () => {
    const I = instance('lk2');
    const watch = spawnLab(['up', '--watch', '--name', I]);
    await until('the controller to watch', () => watch.err().includes('Watching') || !watch.running());
    expect(watch.running(), watch.err()).toBe(true);
    const r = await lab(['up', '--name', I]);
    expect(r.code, r.stderr).not.toBe(0);
    expect(r.stderr).toMatch(/run by its controller, `lab up --watch` \(pid \d+, since [\d:]+ UTC/);
    expect(r.stderr).toContain(`pid ${watch.pid}`);
    expect(r.stderr).toMatch(/already reconciles .*cluster\.yaml whenever it changes/);
    await expectAllRecorded(I, 7, r.stderr);
    expect(watch.running()).toBe(true);
    // `lab down` stops the controller, then removes everything.
    const d = await lab(['down', '--name', I]);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stderr).toContain(`stopping \`lab up --watch\` (pid ${watch.pid}`);
    const w = await watch.done;
    expect(w.signal, w.stderr).toBeNull(); // it stopped by itself on SIGTERM, nobody had to kill it
    expect(w.stderr).toContain('SIGTERM: controller stopped');
    await expectNothingLeft(I, d.stderr);
  }, 180_000);

  it('two `lab up --watch` started together: exactly one holds the instance, every time', async () => {
    const I = instance('lk3');
    for (let round = 0; round < 8; round++) {
      const both = [spawnLab(['up', '--watch', '--name', I]), spawnLab(['up', '--watch', '--name', I])];
      await until('both to settle', () => both.every((p) => !p.running() || p.err().includes('Watching')));
      await sleep(200); // a second controller still coming up would show here
      const running = both.filter((p) => p.running());
      const when = `round ${round}:\n${both.map((p) => `--- pid ${p.pid}\n${p.err()}`).join('\n')}`;
      expect(running, when).toHaveLength(1);
      const loser = both.find((p) => !p.running())!;
      const lost = await loser.done;
      expect(lost.code, when).not.toBe(0);
      // Refused, naming the holder by its pid.
      expect(lost.stderr, when).toContain(`a controller for instance ${I} is already running`);
      expect(lost.stderr, when).toContain(`pid ${running[0]!.pid}`);
      await expectAllRecorded(I, 7, when);
      // `lab down` stops the one controller and removes the instance; the next pair starts afresh.
      const d = await lab(['down', '--name', I]);
      expect(d.code, `${when}\n--- down\n${d.stderr}`).toBe(0);
      await running[0]!.done;
      await expectNothingLeft(I, when);
    }
  }, 600_000);

  it('`lab down` started 0.05-0.3 s into a `lab up`: nothing of the instance is left', async () => {
    const I = instance('lk4');
    for (let round = 0; round < 8; round++) {
      const ms = 50 + Math.round(Math.random() * 250);
      const up = spawnLab(['up', '--name', I]);
      const t0 = Date.now();
      // Into the up's work, not its start-up: not before it has made the instance's first namespace.
      await until('the up to begin', () => existsSync(`/run/netns/${I}-node`) || !up.running());
      await sleep(Math.max(0, ms - (Date.now() - t0)));
      const when = `round ${round}, down ${ms} ms into the up (${up.running() ? 'still running' : 'already finished'})`;
      const down = spawnLab(['down', '--name', I]);
      const [ru, rd] = await Promise.all([up.done, down.done]);
      const out = `${when}\n--- up\n${ru.stderr}\n--- down\n${rd.stderr}`;
      expect(rd.code, out).toBe(0);
      await expectNothingLeft(I, out);
      // Nothing a second down would still find.
      await labOk(['down', '--name', I]);
    }
  }, 600_000);

  it('`lab down` right after a `lab up` killed with SIGKILL at a random point: nothing left', async () => {
    const I = instance('lk5');
    for (let round = 0; round < 8; round++) {
      const up = spawnLab(['up', '--name', I]);
      await until('the up to begin', () => existsSync(`/run/netns/${I}-node`) || !up.running());
      const ms = Math.round(Math.random() * 500);
      await sleep(ms);
      const landed = up.running();
      up.kill('SIGKILL');
      await up.done;
      const d = await lab(['down', '--name', I]);
      const when = `round ${round}, up killed ${ms} ms after its node namespace appeared (${landed ? 'while running' : 'after it finished'})\n--- down\n${d.stderr}`;
      expect(d.code, when).toBe(0);
      await expectNothingLeft(I, when);
    }
  }, 600_000);
});
