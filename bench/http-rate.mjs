// Fixed-rate HTTP client of the `nodes` benchmark's failover measurement, run inside a namespace:
//   ip netns exec <netns> node bench/http-rate.mjs <url> <host header|-> <requests per second> <timeout ms>
// Open loop: one request every 1/rate seconds whatever the earlier ones are doing (a slow answer
// does not slow the rate down), each on a new connection. Prints "started" once running; stops
// sending when its stdin closes, waits for the requests in flight, then prints one JSON line:
// {"requests":[[startEpochMs, durationMs, ok], ...]}, ok = 200 within the timeout.
import http from 'node:http';

const [url, host, rateArg, timeoutArg] = process.argv.slice(2);
const u = new URL(url);
const rate = Number(rateArg);
const timeoutMs = Number(timeoutArg);
const results = [];
const inflight = new Set();
const now = () => performance.timeOrigin + performance.now();

function one() {
  const start = now();
  const p = new Promise((resolve) => {
    let done = false;
    const finish = (ok) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      results.push([Math.round(start), Math.round(now() - start), ok]);
      resolve();
    };
    const req = http.get({ host: u.hostname, port: u.port || 80, path: u.pathname, agent: false, headers: host === '-' ? {} : { Host: host } }, (res) => {
      res.resume();
      res.on('end', () => finish(res.statusCode === 200));
      res.on('error', () => finish(false));
    });
    const timer = setTimeout(() => {
      finish(false);
      req.destroy();
    }, timeoutMs);
    req.on('error', () => finish(false));
  });
  inflight.add(p);
  void p.then(() => inflight.delete(p));
}

const t0 = now();
let sent = 0;
let stopped = false;
process.stdin.on('data', () => {});
process.stdin.on('end', () => (stopped = true));
process.stdin.on('close', () => (stopped = true));
process.stdout.write('started\n');
while (!stopped) {
  // The next request's due time from the start (no drift from timer lateness).
  const due = t0 + (sent * 1000) / rate;
  const wait = due - now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  if (stopped) break;
  one();
  sent++;
}
await Promise.all([...inflight]);
results.sort((a, b) => a[0] - b[0]);
process.stdout.write(JSON.stringify({ requests: results }) + '\n');
