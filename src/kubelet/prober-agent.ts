// The kubelet's prober runs on the node: httpGet and tcpSocket probes connect from the node's
// network namespace to the pod IP. The controller may live in another namespace (sandbox mode),
// so it starts this agent inside the node once and sends it probes as JSON lines on stdin;
// one result line comes back per probe. One process for all probes, not one per probe.
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { pathToFileURL } from 'node:url';

export interface ProbeRequest {
  id: number;
  kind: 'http' | 'tcp';
  host: string;
  port: number;
  path?: string;
  timeoutMs: number;
}

export interface ProbeResult {
  id: number;
  ok: boolean;
  message: string;
}

export function probeHttp(r: ProbeRequest): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const req = http.get({ host: r.host, port: r.port, path: r.path ?? '/', timeout: r.timeoutMs, headers: { 'User-Agent': 'kube-probe/1.33', Connection: 'close' }, agent: false }, (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      // httpGet passes on 200-399.
      resolve({ id: r.id, ok: code >= 200 && code < 400, message: `HTTP probe returned status code ${code}` });
    });
    req.on('timeout', () => req.destroy(new Error(`context deadline exceeded (timeout ${r.timeoutMs}ms)`)));
    req.on('error', (e) => resolve({ id: r.id, ok: false, message: `Get "http://${r.host}:${r.port}${r.path ?? '/'}": ${e.message}` }));
  });
}

export function probeTcp(r: ProbeRequest): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const s = net.connect({ host: r.host, port: r.port, timeout: r.timeoutMs });
    s.once('connect', () => {
      s.destroy();
      resolve({ id: r.id, ok: true, message: 'connected' });
    });
    s.once('timeout', () => {
      s.destroy();
      resolve({ id: r.id, ok: false, message: `dial tcp ${r.host}:${r.port}: i/o timeout` });
    });
    s.once('error', (e) => resolve({ id: r.id, ok: false, message: `dial tcp ${r.host}:${r.port}: ${e.message}` }));
  });
}

function main(): void {
  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    let r: ProbeRequest;
    try {
      r = JSON.parse(line) as ProbeRequest;
    } catch {
      return;
    }
    void (r.kind === 'http' ? probeHttp(r) : probeTcp(r)).then((res) => process.stdout.write(`${JSON.stringify(res)}\n`));
  });
  rl.on('close', () => process.exit(0));
}

// Run directly (build/prober-agent.mjs, bundled by programs.ts), not when imported by a test.
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) main();
