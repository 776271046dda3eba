// HTTP load client for the data-path benchmark, run inside a namespace:
//   ip netns exec <netns> node bench/http-load.mjs <url> <host header|-> <seconds> <concurrency>
// Each request on a new connection (busybox httpd closes after every response anyway), so every
// request crosses the NAT path anew. Prints {"requests":n,"errors":e,"seconds":s,"rps":r,"bytes":b}
// (bytes: the bodies of the successful answers).
import http from 'node:http';

const [url, host, secondsArg, concurrencyArg] = process.argv.slice(2);
const u = new URL(url);
const seconds = Number(secondsArg);
const concurrency = Number(concurrencyArg);
let requests = 0;
let errors = 0;
let bytes = 0;
const t0 = performance.now();
const until = t0 + seconds * 1000;

function one() {
  return new Promise((resolve) => {
    const req = http.get({ host: u.hostname, port: u.port || 80, path: u.pathname, agent: false, headers: host === '-' ? {} : { Host: host } }, (res) => {
      let got = 0;
      res.on('data', (d) => (got += d.length));
      res.on('end', () => {
        if (res.statusCode === 200) {
          requests++;
          bytes += got;
        } else errors++;
        resolve();
      });
    });
    req.on('error', () => {
      errors++;
      resolve();
    });
  });
}

async function worker() {
  while (performance.now() < until) await one();
}

await Promise.all(Array.from({ length: concurrency }, worker));
const s = (performance.now() - t0) / 1000;
process.stdout.write(JSON.stringify({ requests, errors, seconds: s, rps: requests / s, bytes }) + '\n');
