// Soak (flagged: LAB_SOAK_MINUTES=10 npm test -- soak): a request loop against app2.com through the
// ingress while app2 pods are killed at random and app2's replicas are edited. No request may
// fail except those a disruption explains (in flight on a killed pod, or sent before its endpoint
// left the rules; counted and printed), and the controller's memory and open file descriptors
// must not grow. Kills pick a Ready app2 pod, and only while another one is Ready: the Service
// always has an endpoint (killing the last one would fail requests by design, not by defect).
import { spawn } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { rssKiB } from '../../bench/server.ts';
import { analyseSoak, type Disruption, type RequestRecord } from '../soak.ts';
import { useWatchedLab } from './controller.ts';
import { getPods, inNetns, instanceName, isRoot, lab, ROOT } from './helpers.ts';

const MINUTES = Number(process.env.LAB_SOAK_MINUTES ?? 0);
const I = instanceName('e2ek');
/** After a kill: the exit is noticed and the endpoint leaves the rules well within this. */
const KILL_WINDOW_MS = 1000;
/** After a scale edit: debounce, reconcile and graceful deletion of the excess pods. */
const SCALE_WINDOW_MS = 3000;

/** Open descriptors, the fewest of a few samples (a spawn in progress holds pipes for a moment). */
async function fdCount(pid: number): Promise<number> {
  let min = Infinity;
  for (let i = 0; i < 10; i++) {
    min = Math.min(min, (await readdir(`/proc/${pid}/fd`)).length);
    await new Promise((r) => setTimeout(r, 100));
  }
  return min;
}
const ready = (p: { status: { conditions: { type: string; status: string }[] } }) => p.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True');

describe.skipIf(!isRoot || MINUTES <= 0)(`soak: ${MINUTES} min of kills and scale edits under load`, () => {
  const w = useWatchedLab('soak', I);

  it('fails no request a disruption does not explain, and does not grow', async () => {
    const pid = w.controller.child.pid!;
    // `lab up --watch` is watching before its pods are ready: start once app2.com is served.
    for (let i = 0; ; i++) {
      const pods = (await getPods(I, true)).filter((p) => ready(p));
      const answer = await inNetns(`${I}-host`, ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '2', 'http://app2.com/']);
      if (answer.stdout === '200' && pods.filter((p) => p.metadata.labels.app === 'app2').length === 3) break;
      if (i > 300) throw new Error(`app2.com never served:\n${w.controller.log()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const end = Date.now() + MINUTES * 60_000;
    // The load: 20 requests/s from the laptop namespace, each on a new connection.
    const client = spawn('ip', ['netns', 'exec', `${I}-host`, process.execPath, path.join(ROOT, 'test/e2e/soak-client.mjs'), 'http://app2.com/', 'app2.com', '20']);
    const requests: RequestRecord[] = [];
    let partial = '';
    client.stdout.setEncoding('utf8').on('data', (d: string) => {
      const lines = (partial + d).split('\n');
      partial = lines.pop()!;
      for (const l of lines) if (l) requests.push(JSON.parse(l) as RequestRecord);
    });
    const done = new Promise((r) => client.on('exit', r));
    await new Promise((r) => setTimeout(r, 5000));
    const rss0 = rssKiB(await readFile(`/proc/${pid}/status`, 'utf8'));
    const fds0 = await fdCount(pid);
    const disruptions: Disruption[] = [];
    let replicas = 3;
    while (Date.now() < end) {
      await new Promise((r) => setTimeout(r, 3000 + Math.random() * 4000));
      if (Math.random() < 0.7) {
        const candidates = (await getPods(I)).filter((p) => p.metadata.labels.app === 'app2' && ready(p) && p.status.containerStatuses[0]?.pid);
        if (candidates.length < 2) continue;
        const victim = candidates[Math.floor(Math.random() * candidates.length)]!;
        const at = Date.now();
        try {
          process.kill(victim.status.containerStatuses[0]!.pid!, 'SIGKILL');
          disruptions.push({ at, what: `kill ${victim.metadata.name}`, windowMs: KILL_WINDOW_MS });
        } catch {
          /* it was restarting */
        }
      } else {
        const next = 2 + Math.floor(Math.random() * 4);
        disruptions.push({ at: Date.now(), what: `scale ${replicas} -> ${next}`, windowMs: SCALE_WINDOW_MS });
        replicas = next;
        await writeFile(w.state, w.original.replace(/replicas: 3/, `replicas: ${replicas}`));
      }
    }
    // A last stretch without disruptions: everything must answer again.
    await new Promise((r) => setTimeout(r, 5000));
    client.kill('SIGTERM');
    await done;
    const rss1 = rssKiB(await readFile(`/proc/${pid}/status`, 'utf8'));
    const fds1 = await fdCount(pid);
    const r = analyseSoak(requests, disruptions);
    const kills = disruptions.filter((d) => d.what.startsWith('kill')).length;
    process.stdout.write(
      `soak: ${r.requests} requests in ${MINUTES} min, ${r.failed} failed (${JSON.stringify(r.reasons)}), explained ${JSON.stringify(r.explained)}; ${kills} kills, ${disruptions.length - kills} scale edits; controller RSS ${rss0} -> ${rss1} KiB, fds ${fds0} -> ${fds1}\n`,
    );
    for (const u of r.unexplained.slice(0, 20)) {
      const near = disruptions.filter((d) => Math.abs(d.at - u.start) < 10_000).map((d) => `${d.what} at ${d.at - u.start} ms`);
      process.stdout.write(`  unexplained: ${JSON.stringify(u)} (nearby: ${near.join(', ') || 'none'})\n`);
    }
    if (r.unexplained.length) {
      // What the controller saw meanwhile, to tell what took the service down.
      process.stdout.write((await lab(['events', '--name', I])).stdout.split('\n').slice(-150).join('\n') + '\n');
      process.stdout.write(w.controller.log().split('\n').slice(-150).join('\n') + '\n');
    }
    expect(r.requests).toBeGreaterThan(MINUTES * 60 * 20 * 0.9); // the loop kept its rate
    expect(r.unexplained).toEqual([]);
    expect(fds1).toBeLessThanOrEqual(fds0 + 5);
    expect(rss1).toBeLessThan(rss0 * 1.5 + 20_000);
  }, (MINUTES + 2) * 60_000);
});
