// Readiness check of the `pods` benchmark, ONE process inside the node's network namespace:
//   ip netns exec <node netns> node bench/http-check.mjs <timeout ms> <expected text>
// Started before the clock does: it prints "waiting" and reads one line of pod IPs from stdin,
// then GETs http://<ip>/ until each answers 200 with a body containing the expected text. It
// prints {"ready":n,"missing":[...],"ms":...,"lastReadyAt":...} and exits 0 when every address
// answered. lastReadyAt (ms since the epoch) is when the last one did, so the caller's clock stops
// there, not when this process has exited.
// A few workers take the IPs in order (pods start roughly in IP order) and retry each every 10 ms
// until it answers: fast to notice, but not thousands of refused connections a second competing
// for the CPU with the pods being started. Plain JavaScript, no dependencies.
import http from 'node:http';
import { createInterface } from 'node:readline';

const WORKERS = 16;
const [timeoutArg, expect] = process.argv.slice(2);

function probe(ip) {
  return new Promise((resolve) => {
    const req = http.get({ host: ip, port: 80, path: '/', agent: false, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(res.statusCode === 200 && body.includes(expect)));
      res.on('error', () => resolve(false));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(false));
  });
}

const lines = createInterface({ input: process.stdin });
process.stdout.write('waiting\n');
const line = await new Promise((resolve) => {
  lines.once('line', resolve);
  lines.once('close', () => resolve(''));
});
lines.close();
const ips = String(line).split(/\s+/).filter(Boolean);
const t0 = performance.now();
const deadline = Date.now() + Number(timeoutArg);
let lastReadyAt = 0;
const missing = [];
let next = 0;

async function worker() {
  while (next < ips.length) {
    const ip = ips[next++];
    let ok = false;
    while (!ok && Date.now() < deadline) {
      ok = await probe(ip);
      if (!ok) await new Promise((r) => setTimeout(r, 10));
    }
    if (ok) lastReadyAt = Math.max(lastReadyAt, performance.timeOrigin + performance.now());
    else missing.push(ip);
  }
}

await Promise.all(Array.from({ length: Math.min(WORKERS, ips.length) }, worker));
process.stdout.write(JSON.stringify({ ready: ips.length - missing.length, missing, ms: Math.round(performance.now() - t0), lastReadyAt }) + '\n');
process.exit(missing.length || ips.length === 0 ? 1 : 0);
