// Soak (flagged: LAB_SOAK_MINUTES=10 npm test -- soak): a request loop against app2.com through the
// ingress while pods are killed at random and app2's replicas are edited; no request may fail
// except those in flight when a pod was killed (counted), and the controller's memory and open
// file descriptors must not grow.
import { spawn } from 'node:child_process';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startController, type RunningController } from './controller.ts';
import { editableState, getPods, instanceName, isRoot, lab } from './helpers.ts';

const MINUTES = Number(process.env.LAB_SOAK_MINUTES ?? 0);
const I = instanceName('e2ek');

async function rssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
}

describe.skipIf(!isRoot || MINUTES <= 0)(`soak: ${MINUTES} min of kills and scale edits under load`, () => {
  let dir: string;
  let state: string;
  let original: string;
  let controller: RunningController;

  beforeAll(async () => {
    ({ dir, state, original } = await editableState('soak'));
    controller = await startController(['--name', I, '--state', state]);
  });

  afterAll(async () => {
    await controller?.stop();
    await lab(['down', '--name', I]);
    if (dir) await rm(dir, { recursive: true, force: true }); // editableState's dir
  });

  it('fails no request except those in flight at a kill, and does not grow', async () => {
    const pid = controller.child.pid!;
    const end = Date.now() + MINUTES * 60_000;
    // The load: curl in the laptop namespace, 20 requests/s, one status code per line.
    const cfg = path.join(dir, 'loop.curl');
    const n = MINUTES * 60 * 20;
    await writeFile(cfg, Array.from({ length: n }, () => 'url = "http://app2.com/"\noutput = "/dev/null"\nwrite-out = "%{http_code}\\n"\n').join(''));
    const codes: string[] = [];
    const loop = spawn('ip', ['netns', 'exec', `${I}-host`, 'curl', '-s', '--max-time', '5', '--rate', '20/s', '-K', cfg]);
    loop.stdout.on('data', (d: Buffer) => codes.push(...d.toString().split('\n').filter(Boolean)));
    const done = new Promise((r) => loop.on('exit', r));
    await new Promise((r) => setTimeout(r, 5000));
    const rss0 = await rssKiB(pid);
    const fds0 = (await readdir(`/proc/${pid}/fd`)).length;
    let kills = 0;
    let replicas = 3;
    while (Date.now() < end) {
      await new Promise((r) => setTimeout(r, 3000 + Math.random() * 4000));
      if (Math.random() < 0.7) {
        const pods = (await getPods(I)).filter((p) => p.metadata.labels.app === 'app2' && p.status.containerStatuses[0]?.pid);
        const victim = pods[Math.floor(Math.random() * pods.length)];
        if (victim) {
          try {
            process.kill(victim.status.containerStatuses[0]!.pid!, 'SIGSEGV');
            kills++;
          } catch {
            /* it was restarting */
          }
        }
      } else {
        replicas = 2 + Math.floor(Math.random() * 4);
        await writeFile(state, original.replace(/replicas: 3/, `replicas: ${replicas}`));
      }
    }
    loop.kill('SIGTERM');
    await done;
    const rss1 = await rssKiB(pid);
    const fds1 = (await readdir(`/proc/${pid}/fd`)).length;
    const failed = codes.filter((c) => c !== '200').length;
    process.stdout.write(`soak: ${codes.length} requests, ${failed} failed, ${kills} kills; controller RSS ${rss0} -> ${rss1} KiB, fds ${fds0} -> ${fds1}\n`);
    // A request in flight on a pod that is killed can fail (the connection is reset): at most one per kill.
    expect(failed).toBeLessThanOrEqual(kills);
    expect(fds1).toBeLessThanOrEqual(fds0 + 5);
    expect(rss1).toBeLessThan(rss0 * 1.5 + 20_000);
  }, (MINUTES + 2) * 60_000);
});
