// The soak test's load client, run inside the laptop namespace:
//   ip netns exec <host-netns> node test/e2e/soak-client.mjs <url> <host header> <requests/s>
// Starts a request every 1/rate s (each on a new connection, 5 s timeout) until SIGTERM, then
// waits for those in flight. One JSON line per request on stdout:
//   {"start":<epoch ms>,"end":<epoch ms>,"status":200,"body":"...","error":"ECONNRESET"}
import http from 'node:http';

const [url, host, rateArg] = process.argv.slice(2);
const u = new URL(url);
const interval = 1000 / Number(rateArg);
const now = () => performance.timeOrigin + performance.now();
const inflight = new Set();

function one() {
  const start = now();
  const p = new Promise((resolve) => {
    const done = (rec) => {
      process.stdout.write(JSON.stringify({ start: Math.round(start), end: Math.round(now()), ...rec }) + '\n');
      resolve();
    };
    const req = http.get({ host: u.hostname, port: u.port || 80, path: u.pathname, agent: false, timeout: 5000, headers: { Host: host } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d) => (body += d));
      res.on('end', () => done({ status: res.statusCode, body: body.trim().slice(0, 80) }));
      res.on('error', (e) => done({ status: res.statusCode, error: e.code ?? e.message }));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (e) => done({ error: e.code ?? e.message }));
  });
  inflight.add(p);
  p.then(() => inflight.delete(p));
}

const timer = setInterval(one, interval);
process.once('SIGTERM', async () => {
  clearInterval(timer);
  await Promise.all(inflight);
  process.exit(0);
});
