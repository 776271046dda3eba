// Fault injection: `kill -9` the controller at random points during `lab up` and during a scale
// change; each time the next run converges with no duplicate pod, container, rule or address and
// no leaked namespace.
import { spawn } from 'node:child_process';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pidsInNetns } from '../../src/sys/ip.ts';
import { diff, snapshot, type Residue } from '../residue.ts';
import { cmd, editableState, getPods, instanceName, isRoot, lab, LAB_BIN, labOk, ROOT } from './helpers.ts';

const I = instanceName('e2ef');
const ROUNDS = Number(process.env.LAB_FAULT_ROUNDS ?? 20);

/**
 * Starts `lab up`, SIGKILLs it after `ms`, resolves when it is gone: true when the kill landed
 * (the up was still running), false when it had already finished.
 */
function upKilledAfter(args: string[], ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [LAB_BIN, 'up', '--name', I, ...args], { cwd: ROOT, stdio: 'ignore' });
    const t = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('exit', (_code, signal) => {
      clearTimeout(t);
      resolve(signal === 'SIGKILL');
    });
  });
}

/** Wall-clock ms of an uninterrupted `lab up` with these arguments. */
async function timedUp(args: string[]): Promise<number> {
  const t0 = performance.now();
  await labOk(['up', '--name', I, ...args]);
  return performance.now() - t0;
}

/**
 * A random point inside a run of `ms`: not in node's first tenth, which is only module loading,
 * nor in the last tenth, which a run a little faster than the one timed has already left.
 */
const pointIn = (ms: number) => Math.round(ms * (0.1 + 0.8 * Math.random()));

function ppid(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/** Everything that must be exactly once: pods, their netns, one main process each, rules, addresses. */
async function checkConverged(replicasApp2: number, when: string): Promise<void> {
  const pods = await getPods(I, true);
  expect(pods.filter((p) => p.metadata.labels.app === 'app2'), when).toHaveLength(replicasApp2);
  expect(pods, when).toHaveLength(replicasApp2 + 4);
  const netns = (await cmd(['ip', 'netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(`${I}-`));
  expect(netns.sort(), when).toEqual([`${I}-host`, `${I}-node`, ...pods.map((p) => p.metadata.annotations['lab/netns']!)].sort());
  // Exactly one sandbox (pause) and one app container per pod in runc's state, the container the
  // one recorded in the pod's status; and in each pod's namespace exactly those two processes whose
  // parent is outside it (their waiters, `runc run`, live outside).
  const listed = JSON.parse((await cmd(['runc', '--root', `/run/packet-path-lab/${I}/runc`, 'list', '--format', 'json'])).stdout || '[]') as { pid: number; status: string; annotations?: Record<string, string> }[];
  expect(listed.length, `${when}: runc containers`).toBe(pods.length * 2);
  const procs = pidsInNetns(pods.map((p) => p.metadata.annotations['lab/netns']!));
  for (const p of pods) {
    const mine = listed.filter((c) => c.annotations?.['io.kubernetes.cri.sandbox-name'] === p.metadata.name);
    const sandboxes = mine.filter((c) => c.annotations?.['io.kubernetes.cri.container-type'] === 'sandbox').map((c) => c.pid);
    const containers = mine.filter((c) => c.annotations?.['io.kubernetes.cri.container-type'] === 'container').map((c) => c.pid);
    expect(sandboxes, `${when}: ${p.metadata.name} sandbox`).toHaveLength(1);
    expect(containers, `${when}: ${p.metadata.name} containers`).toEqual([p.status.containerStatuses[0]!.pid]);
    const pids = procs.get(p.metadata.annotations['lab/netns']!)!;
    const mains = pids.filter((pid) => !pids.includes(ppid(pid)));
    expect(mains.sort(), `${when}: ${p.metadata.name}`).toEqual([...sandboxes, ...containers].sort());
  }
  // No duplicate rule, IPs unique and allocated once.
  const save = (await cmd(['ip', 'netns', 'exec', `${I}-node`, 'iptables-save'])).stdout.split('\n').filter((l) => l.startsWith('-A'));
  expect(save.length, when).toBe(new Set(save).size);
  // When a pod is missing from the rules, say why: its readiness and container states.
  const unready = pods.filter((p) => !p.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True'));
  expect(save.filter((l) => l.includes('default/app2-service:http') && l.includes('DNAT')), `${when}; not ready: ${JSON.stringify(unready.map((p) => ({ name: p.metadata.name, ip: p.status.podIP, containers: p.status.containerStatuses })))}`).toHaveLength(replicasApp2);
  const ips = pods.map((p) => p.status.podIP);
  expect(new Set(ips).size, when).toBe(ips.length);
  const allocated = (await readdir(`/run/packet-path-lab/${I}/cni/networks/cbr0`)).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f));
  expect(allocated.sort(), when).toEqual([...ips].sort() as string[]);
}

describe.skipIf(!isRoot)(`fault injection: kill -9 of the controller at ${ROUNDS} random points`, () => {
  let before: Residue;
  let dir: string;
  let state: string;
  let original: string;

  beforeAll(async () => {
    before = snapshot();
    ({ dir, state, original } = await editableState('faults'));
  });

  afterAll(async () => {
    await lab(['down', '--name', I]);
    if (dir) await rm(dir, { recursive: true, force: true }); // editableState's dir
  });

  it('converges after a kill during the first up, every time', async () => {
    // How long an up takes here, so the kills land anywhere inside one.
    // The faster of two, as for the scale change below: the first builds the images.
    const firstMs = await timedUp(['--state', state]);
    await labOk(['down', '--name', I]);
    const upMs = Math.min(firstMs, await timedUp(['--state', state]));
    await labOk(['down', '--name', I]);
    let landed = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const ms = pointIn(upMs);
      if (await upKilledAfter(['--state', state], ms)) landed++;
      await labOk(['up', '--name', I, '--state', state]);
      await checkConverged(3, `round ${round}, first up killed after ${ms} ms`);
      await labOk(['down', '--name', I]);
      expect(diff(before, snapshot()).filter((p) => p.includes(I) || p.startsWith('root namespace')), `round ${round}, killed after ${ms} ms`).toEqual([]);
    }
    process.stdout.write(`faults: ${landed} of ${ROUNDS} kills landed inside a first up (${Math.round(upMs)} ms)\n`);
    // Kills that came after the up had finished test nothing: most must have landed.
    expect(landed).toBeGreaterThanOrEqual(Math.ceil(ROUNDS * 0.7));
  }, 900_000);

  it('converges after a kill during a scale change, every time', async () => {
    await labOk(['up', '--name', I, '--state', state]);
    const scale = (replicas: number) => writeFile(state, original.replace(/replicas: 3/, `replicas: ${replicas}`));
    // Up and down take different times: kill inside the shorter, so every point is inside either.
    await scale(6);
    const upscaleMs = await timedUp(['--state', state]);
    await scale(3);
    const scaleMs = Math.min(upscaleMs, await timedUp(['--state', state]));
    let replicas = 3;
    let landed = 0;
    for (let round = 0; round < ROUNDS; round++) {
      replicas = replicas === 3 ? 6 : 3;
      await scale(replicas);
      const ms = pointIn(scaleMs);
      if (await upKilledAfter(['--state', state], ms)) landed++;
      await labOk(['up', '--name', I, '--state', state]);
      await checkConverged(replicas, `round ${round}, scale to ${replicas} killed after ${ms} ms`);
    }
    process.stdout.write(`faults: ${landed} of ${ROUNDS} kills landed inside a scale change (${Math.round(scaleMs)} ms)\n`);
    expect(landed).toBeGreaterThanOrEqual(Math.ceil(ROUNDS * 0.7));
  }, 900_000);
});
