// Fault injection on the instance's server (`lab up`, issue 13): `kill -9` of the server at
// random points of its start-up and convergence (`lab up --watch` in the foreground), and
// of the running server during a scale change (an edit of the state file it applies). Each time
// a new server (`lab up`) must find the same objects in the API (uids unchanged), go on
// with resourceVersions above every one written before the kill, adopt the containers that ran
// (same pids), start no duplicate pod, container, rule or address, converge, and `lab down` must
// leave nothing.
import { spawn } from 'node:child_process';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readHolder } from '../../src/cli/lock.ts';
import { attachmentAddresses, readAttachments } from '../../src/cni/pod-network.ts';
import { runtimeFor } from '../../src/kubelet/runc.ts';
import { instancePaths } from '../../src/node/instance.ts';
import { pidsInNetns } from '../../src/sys/ip.ts';
import { diff, snapshot, type Residue } from '../residue.ts';
import { cmd, editableState, getPods, instanceName, isRoot, lab, LAB_BIN, labOk, ROOT, type PodJson } from './helpers.ts';

const I = instanceName('e2ef');
const PATHS = instancePaths(I);
const ROUNDS = Number(process.env.LAB_FAULT_ROUNDS ?? 20);
/** The default state's pods besides app2's: app1, app3, and the system's DNS and ingress pods. */
const OTHER_PODS = 4;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts the server in the foreground (`lab up --watch`), SIGKILLs it after `ms`, resolves
 * when it is gone.
 */
function serverKilledAfter(args: string[], ms: number): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [LAB_BIN, 'up', '--watch', '--name', I, ...args], { cwd: ROOT, stdio: 'ignore' });
    const t = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('exit', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

/** SIGKILLs the server `lab up` started as a daemon (the instance lock names it), resolves when it is gone. */
async function killDaemon(): Promise<void> {
  const holder = readHolder(I);
  expect(holder?.command, 'the instance is held by its server').toBe('server');
  process.kill(holder!.pid, 'SIGKILL');
  for (let i = 0; readHolder(I); i++) {
    if (i > 100) throw new Error(`server ${holder!.pid} still holds the instance after SIGKILL`);
    await sleep(50);
  }
}

/**
 * `lab up` after a kill: a new server, converged. On failure: `lab up`'s own verdict (its
 * timeout is under this call's) and the server's last log lines.
 */
async function upAgain(args: string[], when: string): Promise<void> {
  const r = await lab(['up', '--name', I, ...args], { timeoutMs: 180_000 });
  if (r.code === 0) return;
  const log = readFileSync(`${PATHS.serverDir}/server.log`, 'utf8').trimEnd().split('\n').slice(-60).join('\n');
  // What the runtime runs and what the API says of every pod that is not ready: the two sides a
  // restarted kubelet has to bring together.
  const containers = (await runtimeFor(PATHS).listContainers()).map((c) => `${c.pod.name}/${c.name || 'sandbox'} ${c.id.slice(0, 12)} ${c.status} pid ${c.pid}`);
  const notReady = [...(await seen({ runtime: false })).objects.values()]
    .filter((o) => o.kind === 'pods' && !isReady({ ...(o as unknown as PodJson), status: { ...(o as unknown as PodJson).status, conditions: (o as unknown as PodJson).status?.conditions ?? [] } }))
    .map((o) => `${o.metadata.name}: ${JSON.stringify((o as unknown as { status: unknown }).status)}`);
  throw new Error(`${when}: lab up after the kill failed (${r.code}):\n${r.stderr}\n${r.stdout}\nserver.log:\n${log}\nruntime:\n${containers.join('\n')}\npods not ready:\n${notReady.join('\n')}`);
}

/** Wall-clock ms of an uninterrupted `lab up` (server start and convergence). */
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

const isReady = (p: PodJson) => p.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True');
const terminating = (p: PodJson) => Boolean((p.metadata as { deletionTimestamp?: string }).deletionTimestamp);

interface ApiObject {
  kind: string;
  metadata: { name: string; namespace?: string; uid: string; resourceVersion: string; deletionTimestamp?: string; labels?: Record<string, string> };
}

/** What the kine store holds (read with sqlite3, as a k3s learner would), and what the runtime runs. */
interface Seen {
  /** By uid; `kind` is the store key's resource part, resourceVersion its row's revision (kine's). */
  objects: Map<string, ApiObject>;
  /** The store's last revision. */
  maxRV: number;
  /** Containers the runtime runs: id -> their pid and pod. */
  running: Map<string, { pid: number; pod: string }>;
}

/**
 * The current row of every key but Events (kine: the highest id of a name, unless a deletion).
 * Read straight from the file while no server runs, and beside the running server (SQLite's WAL
 * lets a reader in).
 */
async function seen(opts: { runtime?: boolean } = {}): Promise<Seen> {
  const objects = new Map<string, ApiObject>();
  let maxRV = 0;
  const sql = (q: string) => cmd(['sqlite3', '-json', '-cmd', '.timeout 5000', PATHS.storeFile, q]);
  // A kill between SQLite's creating the file and committing the schema leaves a file with no
  // kine table: nothing was stored yet (the next server creates it).
  const hasTable = async () => {
    const tables = await sql(`select name from sqlite_master where type = 'table' and name = 'kine'`);
    expect(tables.code, tables.stderr).toBe(0);
    return tables.stdout.includes('"kine"');
  };
  if (existsSync(PATHS.storeFile) && (await hasTable())) {
    const rows = await sql(`select id, name, cast(value as text) as value from kine k where id = (select max(id) from kine where name = k.name) and deleted = 0 and name like '/registry/%' and name not like '/registry/events/%'`);
    expect(rows.code, rows.stderr).toBe(0);
    for (const r of JSON.parse(rows.stdout || '[]') as { id: number; name: string; value: string }[]) {
      const o = JSON.parse(r.value) as ApiObject;
      if (!o.metadata?.uid) continue; // kine's own keys (health, compaction)
      // The key's resource part, as kube-apiserver lays it out: pods, services/specs, services/endpoints...
      o.kind = r.name.split('/').slice(2, o.metadata.namespace ? -2 : -1).join('/');
      o.metadata.resourceVersion = String(r.id);
      objects.set(o.metadata.uid, o);
    }
    maxRV = Number((JSON.parse((await sql('select max(id) as rev from kine')).stdout || '[{}]') as { rev?: number }[])[0]?.rev ?? 0);
  }
  const running = opts.runtime === false ? new Map() : new Map((await runtimeFor(PATHS).listContainers()).filter((c) => c.status === 'running').map((c) => [c.id, { pid: c.pid, pod: c.pod.name }]));
  return { objects, maxRV, running };
}

const describeObj = (o: ApiObject) => `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;

/** True when the store already showed the cluster converged: the kill came too late to test anything. */
function convergedIn(s: Seen, replicasApp2: number): boolean {
  const pods = [...s.objects.values()].filter((o) => o.kind === 'pods') as unknown as (PodJson & { status: { conditions?: PodJson['status']['conditions'] } })[];
  for (const p of pods) p.status.conditions ??= [];
  const app2 = pods.filter((p) => p.metadata.labels?.app === 'app2');
  return app2.length === replicasApp2 && pods.length === replicasApp2 + OTHER_PODS && pods.every((p) => isReady(p) && !terminating(p));
}

/**
 * The server after the kill goes on from the store: every object of before is there with its uid
 * (app2 pods may have gone in a scale-down, which deletes), no resourceVersion went back, every
 * new write is above the last one before the kill, and every container that ran still runs with
 * the same pid (adopted, not restarted), unless its pod was deleted by a scale-down.
 */
function checkContinued(before: Seen, after: Seen, opts: { scaleDown: boolean }, when: string): void {
  for (const [uid, o] of before.objects) {
    const now = after.objects.get(uid);
    const mayGo = opts.scaleDown && o.kind === 'pods' && o.metadata.labels?.app === 'app2';
    if (!now) {
      expect(mayGo, `${when}: ${describeObj(o)} (uid ${uid}) gone after the restart`).toBe(true);
      continue;
    }
    expect(describeObj(now), `${when}: uid ${uid}`).toBe(describeObj(o));
    expect(Number(now.metadata.resourceVersion), `${when}: ${describeObj(o)} resourceVersion went back`).toBeGreaterThanOrEqual(Number(o.metadata.resourceVersion));
  }
  // An object of the same kind and name under a new uid would be a duplicate made by the restart.
  const names = new Set([...before.objects.values()].map(describeObj));
  for (const [uid, o] of after.objects) {
    if (before.objects.has(uid)) continue;
    expect(Number(o.metadata.resourceVersion), `${when}: new ${describeObj(o)} written below the store's last revision before the kill (${before.maxRV})`).toBeGreaterThan(before.maxRV);
    expect(names.has(describeObj(o)), `${when}: ${describeObj(o)} recreated under a new uid`).toBe(false);
  }
  expect(after.maxRV, `${when}: resourceVersions continue`).toBeGreaterThan(before.maxRV);
  // Adopted: same container, same process.
  const podsAfter = new Set([...after.objects.values()].filter((o) => o.kind === 'pods').map((o) => o.metadata.name));
  const lost: string[] = [];
  for (const [id, c] of before.running) {
    if (after.running.get(id)?.pid === c.pid) continue;
    // A scale-down deletes pods, and their containers with them.
    if (opts.scaleDown && !podsAfter.has(c.pod)) continue;
    lost.push(`${c.pod}: container ${id.slice(0, 13)} pid ${c.pid} -> ${after.running.get(id)?.pid ?? 'gone'}`);
  }
  expect(lost, `${when}: containers not adopted`).toEqual([]);
}

/** Everything that must be exactly once: pods, ReplicaSets, their netns, one main process each, rules, addresses. */
async function checkConverged(replicasApp2: number, when: string): Promise<void> {
  const pods = await getPods(I, true);
  expect(pods.filter((p) => p.metadata.labels.app === 'app2'), when).toHaveLength(replicasApp2);
  expect(pods, when).toHaveLength(replicasApp2 + OTHER_PODS);
  expect(pods.filter(terminating), when).toEqual([]);
  const objs = [...(await seen()).objects.values()];
  const deployments = objs.filter((o) => o.kind === 'deployments');
  const replicaSets = objs.filter((o) => o.kind === 'replicasets');
  expect(deployments.length, when).toBeGreaterThan(0);
  // The template never changes here: one ReplicaSet per Deployment, whatever the kills.
  expect(replicaSets.map(describeObj).sort(), when).toHaveLength(deployments.length);
  const netnsOf = (p: PodJson) => PATHS.podNetns(p.metadata.name);
  const netns = (await cmd(['ip', 'netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(`${I}-`));
  expect(netns.sort(), when).toEqual([`${I}-host`, `${I}-node`, ...pods.map(netnsOf)].sort());
  // Exactly one sandbox (pause) and one app container per pod in runc's state, the container the
  // one recorded in the pod's status (getPods finds its pid by the status's containerID); and in
  // each pod's namespace exactly those two processes whose parent is outside it (their waiters,
  // `runc run`, live outside).
  const listed = JSON.parse((await cmd(['runc', '--root', `${PATHS.stateDir}/runc`, 'list', '--format', 'json'])).stdout || '[]') as { pid: number; status: string; annotations?: Record<string, string> }[];
  expect(listed.length, `${when}: runc containers`).toBe(pods.length * 2);
  const procs = pidsInNetns(pods.map(netnsOf));
  for (const p of pods) {
    const mine = listed.filter((c) => c.annotations?.['io.kubernetes.cri.sandbox-name'] === p.metadata.name);
    const sandboxes = mine.filter((c) => c.annotations?.['io.kubernetes.cri.container-type'] === 'sandbox').map((c) => c.pid);
    const containers = mine.filter((c) => c.annotations?.['io.kubernetes.cri.container-type'] === 'container').map((c) => c.pid);
    expect(sandboxes, `${when}: ${p.metadata.name} sandbox`).toHaveLength(1);
    expect(containers, `${when}: ${p.metadata.name} containers`).toEqual([p.status.containerStatuses[0]!.pid]);
    const pids = procs.get(netnsOf(p))!;
    const mains = pids.filter((pid) => !pids.includes(ppid(pid)));
    expect(mains.sort(), `${when}: ${p.metadata.name}`).toEqual([...sandboxes, ...containers].sort());
  }
  // No duplicate rule, IPs unique and allocated once.
  const save = (await cmd(['ip', 'netns', 'exec', `${I}-node`, 'iptables-save'])).stdout.split('\n').filter((l) => l.startsWith('-A'));
  expect(save.length, when).toBe(new Set(save).size);
  // When a pod is missing from the rules, say why: its readiness and container states.
  const unready = pods.filter((p) => !isReady(p));
  expect(save.filter((l) => l.includes('default/app2-service:http') && l.includes('DNAT')), `${when}; not ready: ${JSON.stringify(unready.map((p) => ({ name: p.metadata.name, ip: p.status.podIP, containers: p.status.containerStatuses })))}`).toHaveLength(replicasApp2);
  const ips = pods.map((p) => p.status.podIP);
  expect(new Set(ips).size, when).toBe(ips.length);
  // host-local's allocations (the default node's) and the cached CNI results: one per pod.
  const allocated = (await readdir(path.join(PATHS.cniDataDir('labs'), 'cbr0'))).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f));
  expect(allocated.sort(), when).toEqual([...ips].sort() as string[]);
  const attached = await readAttachments(PATHS, 'labs');
  expect(attached.map((a) => `${a.netns} ${attachmentAddresses(a).podIP}`).sort(), when).toEqual(pods.map((p) => `${netnsOf(p)} ${p.status.podIP}`).sort());
}

describe.skipIf(!isRoot)(`fault injection: kill -9 of the server at ${ROUNDS} random points`, () => {
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

  it('a new server continues after a kill during start-up and convergence, every time', async () => {
    // How long a start takes here, so the kills land anywhere inside one.
    // The faster of two: the first builds the images.
    const firstMs = await timedUp(['--state', state]);
    await labOk(['down', '--name', I]);
    let upMs = Math.min(firstMs, await timedUp(['--state', state]));
    await labOk(['down', '--name', I]);
    let landed = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const ms = pointIn(upMs);
      const when = `round ${round}, server killed ${ms} ms into its start`;
      await serverKilledAfter(['--state', state], ms);
      const killed = await seen();
      if (!convergedIn(killed, 3)) landed++;
      // Converged already: a start takes at most `ms` now (the machine is quieter than when the
      // start was timed), so the next kills aim inside that.
      else upMs = Math.min(upMs, ms);
      await upAgain(['--state', state], when);
      checkContinued(killed, await seen(), { scaleDown: false }, when);
      await checkConverged(3, when);
      await labOk(['down', '--name', I]);
      expect(diff(before, snapshot()).filter((p) => p.includes(I) || p.startsWith('root namespace')), when).toEqual([]);
    }
    process.stdout.write(`faults: ${landed} of ${ROUNDS} kills landed before the server had converged (a start: ${Math.round(upMs)} ms at the end)\n`);
    // Kills that came after convergence test less: most must have landed.
    expect(landed).toBeGreaterThanOrEqual(Math.ceil(ROUNDS * 0.7));
  }, 1_200_000);

  it('a new server continues after a kill during a scale change, every time', async () => {
    await labOk(['up', '--name', I, '--state', state]);
    const scale = (replicas: number) => writeFile(state, original.replace(/replicas: 3/, `replicas: ${replicas}`));
    /**
     * From the edit to the store showing it done (app2 at `replicas`, all ready, none terminating),
     * the same test that tells afterwards whether a kill landed; polled in the store (sqlite3, a
     * few ms), so that the time is not stretched by the polling.
     */
    const timedScale = async (replicas: number) => {
      const t0 = performance.now();
      await scale(replicas);
      while (!convergedIn(await seen({ runtime: false }), replicas)) {
        if (performance.now() - t0 > 60_000) throw new Error(`never scaled to ${replicas}`);
        await sleep(10);
      }
      return performance.now() - t0;
    };
    // Up and down take different times: kill inside the shorter, so every point is inside either.
    let scaleMs = Math.min(await timedScale(6), await timedScale(3));
    let replicas = 3;
    let landed = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const from = replicas;
      replicas = replicas === 3 ? 6 : 3;
      const ms = pointIn(scaleMs);
      const when = `round ${round}, server killed ${ms} ms into a scale from ${from} to ${replicas}`;
      await scale(replicas);
      await sleep(ms);
      await killDaemon();
      const killed = await seen();
      if (!convergedIn(killed, replicas)) landed++;
      // Done already: a scale takes at most `ms` now, so the next kills aim inside that.
      else scaleMs = Math.min(scaleMs, ms);
      await upAgain(['--state', state], when);
      checkContinued(killed, await seen(), { scaleDown: replicas < from }, when);
      await checkConverged(replicas, when);
    }
    process.stdout.write(`faults: ${landed} of ${ROUNDS} kills landed inside a scale change (${Math.round(scaleMs)} ms at the end)\n`);
    expect(landed).toBeGreaterThanOrEqual(Math.ceil(ROUNDS * 0.7));
  }, 1_200_000);
});
