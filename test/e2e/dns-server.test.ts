// The cluster DNS server as a real process in a network namespace of its own, asked with dig over
// UDP and TCP, run as the API design's DNS pod runs it (lab/system.yaml): CoreDNS's `-conf` with
// the Corefile of the coredns ConfigMap k3s ships (its NodeHosts beside it), and its records from
// the snapshot file the server side publishes (src/dns/dns-controller.ts: Services and Endpoints
// as the API holds them, converted and built as it does). Three servers run in one namespace:
//   127.0.0.1:53     the ConfigMap's Corefile, --refuse-external (the sandbox setting)
//   127.0.0.1:5353   the same Corefile on :5353, forward . <resolv.conf> -> 192.0.2.53 (host mode)
//   192.0.2.53:53    example.test, flags only, standing in for the node's upstream resolver
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { endpointsFromApi, serviceFromApi, type ApiObject } from '../../src/api/convert.ts';
import type { Endpoints, Service } from '../../src/api/types.ts';
import { buildDnsSnapshot, formatDnsSnapshot, type DnsSnapshot } from '../../src/dns/records.ts';
import { writeDnsSnapshotFile } from '../../src/dns/snapshot-file.ts';
import { cmd, isRoot, ROOT } from './helpers.ts';

if (!isRoot) console.warn('test/e2e/dns-server.test.ts: skipped, needs root (it creates a network namespace)');

/** A Service as the API holds it, converted as the DNS controller converts its informer's items. */
function service(namespace: string, name: string, clusterIP: string | undefined, ports: { name: string; port: number; protocol?: 'TCP' | 'UDP' }[], extra: Record<string, unknown> = {}): Service {
  const spec = { type: 'ClusterIP', ...(clusterIP ? { clusterIP, clusterIPs: [clusterIP] } : {}), ports: ports.map((p) => ({ protocol: 'TCP', targetPort: p.port, ...p })), sessionAffinity: 'None', ...extra };
  return serviceFromApi({ apiVersion: 'v1', kind: 'Service', metadata: { namespace, name, uid: randomBytes(8).toString('hex') }, spec } as unknown as ApiObject);
}

/** An Endpoints object as the endpoints controller writes it (ready addresses only), converted likewise. */
function endpoints(namespace: string, name: string, ips: string[], port: { name: string; port: number }): Endpoints {
  return endpointsFromApi({ apiVersion: 'v1', kind: 'Endpoints', metadata: { namespace, name }, subsets: [{ addresses: ips.map((ip) => ({ ip })), ports: [{ ...port, protocol: 'TCP' }] }] } as unknown as ApiObject);
}

/** The coredns ConfigMap of lab/system.yaml: its Corefile and NodeHosts, with the node's line filled in. */
function corednsConfigMap(): { Corefile: string; NodeHosts: string } {
  const docs = parseAllDocuments(fs.readFileSync(path.join(ROOT, 'lab/system.yaml'), 'utf8')).map((d) => d.toJS() as { kind?: string; metadata?: { name?: string }; data?: Record<string, string> });
  const cm = docs.find((d) => d?.kind === 'ConfigMap' && d.metadata?.name === 'coredns')!;
  return { Corefile: cm.data!.Corefile!, NodeHosts: cm.data!.NodeHosts!.replace('$(LAB_NODE_HOSTS)', '192.168.56.110 labs') };
}

const BIG = Array.from({ length: 60 }, (_, i) => `10.42.1.${i + 1}`);

function clusterSnapshot(app2IP: string, generation: number): DnsSnapshot {
  return buildDnsSnapshot({
    clusterDomain: 'cluster.local',
    generation,
    services: [
      service('kube-system', 'kube-dns', '10.43.0.10', [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53 }]),
      service('default', 'app2-service', app2IP, [{ name: 'http', port: 80 }]),
      service('default', 'web-headless', 'None', [{ name: 'http', port: 80 }]),
      service('default', 'big', 'None', [{ name: 'http', port: 80 }]),
      service('default', 'ext', undefined, [], { type: 'ExternalName', externalName: 'web.default.svc.example.test' }),
    ],
    endpoints: [
      endpoints('default', 'app2-service', ['10.42.0.21', '10.42.0.22', '10.42.0.23'], { name: 'http', port: 80 }),
      endpoints('default', 'web-headless', ['10.42.0.31', '10.42.0.32'], { name: 'http', port: 8080 }),
      endpoints('default', 'big', BIG, { name: 'http', port: 80 }),
    ],
  });
}

const upstreamSnapshot = buildDnsSnapshot({ clusterDomain: 'example.test', generation: 1, services: [service('default', 'web', '198.51.100.7', [])], endpoints: [] });

interface Dig {
  status: string;
  flags: string[];
  answer: string[][];
  authority: string[][];
  additional: string[][];
}

// Decided once per run; each instance carries it so parallel runs never collide.
const NETNS = `pplt-dns-${randomBytes(3).toString('hex')}`;
let dir = '';
const servers: { name: string; proc: ChildProcess; out: string[] }[] = [];

async function dig(args: string[]): Promise<Dig> {
  const r = await cmd(['ip', 'netns', 'exec', NETNS, 'dig', '+tries=1', '+time=2', '+nocookie', ...args], { timeoutMs: 10_000 });
  const out: Dig = { status: '', flags: [], answer: [], authority: [], additional: [] };
  let section: 'answer' | 'authority' | 'additional' | undefined;
  for (const line of r.stdout.split('\n')) {
    const status = /status: (\w+)/.exec(line);
    if (status) out.status = status[1]!;
    const flags = /^;; flags: ([^;]*);/.exec(line);
    if (flags) out.flags = flags[1]!.trim().split(/\s+/);
    const sec = /^;; (ANSWER|AUTHORITY|ADDITIONAL) SECTION:/.exec(line);
    if (sec) section = sec[1]!.toLowerCase() as typeof section;
    else if (line.startsWith(';') || line.trim() === '') {
      if (line.trim() === '') section = undefined;
    } else if (section) out[section].push(line.trim().split(/\s+/));
  }
  if (!out.status) throw new Error(`dig ${args.join(' ')} gave no answer:\n${r.stdout}\n${r.stderr}`);
  return out;
}

const values = (rrs: string[][], type: string) => rrs.filter((r) => r[3] === type).map((r) => r.slice(4).join(' '));

function startServer(name: string, args: string[]): Promise<void> {
  // A process group of its own, so that afterAll can end npx, tsx and node together by its id.
  const proc = spawn('ip', ['netns', 'exec', NETNS, 'npx', 'tsx', 'src/dns/main.ts', ...args], { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const entry = { name, proc, out: [] as string[] };
  servers.push(entry);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${entry.out.join('')}`)), 60_000);
    const onData = (chunk: Buffer): void => {
      entry.out.push(chunk.toString());
      if (entry.out.join('').includes('dns: listening on')) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', (c: Buffer) => entry.out.push(c.toString()));
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}) before listening:\n${entry.out.join('')}`));
    });
  });
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

async function stopServer(entry: { proc: ChildProcess }, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const pgid = entry.proc.pid;
  if (!pgid || !groupAlive(pgid)) return;
  process.kill(-pgid, signal);
  for (let i = 0; i < 50 && groupAlive(pgid); i++) await new Promise((r) => setTimeout(r, 100));
  if (groupAlive(pgid)) process.kill(-pgid, 'SIGKILL');
}

async function waitFor<T>(probe: () => Promise<T>, ok: (v: T) => boolean, ms: number): Promise<{ value: T; elapsed: number }> {
  const t0 = Date.now();
  for (;;) {
    const value = await probe();
    if (ok(value)) return { value, elapsed: Date.now() - t0 };
    if (Date.now() - t0 > ms) throw new Error(`not within ${ms} ms; last: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.skipIf(!isRoot)('cluster DNS server in a network namespace (dig over UDP and TCP)', () => {
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pplt-dns-e2e-'));
    await cmd(['ip', 'netns', 'add', NETNS]).then((r) => expect(r.code, r.stderr).toBe(0));
    await cmd(['ip', '-n', NETNS, 'link', 'set', 'lo', 'up']).then((r) => expect(r.code, r.stderr).toBe(0));
    await cmd(['ip', '-n', NETNS, 'addr', 'add', '192.0.2.53/32', 'dev', 'lo']).then((r) => expect(r.code, r.stderr).toBe(0));
    await writeDnsSnapshotFile(path.join(dir, 'dns.json'), clusterSnapshot('10.43.22.2', 1));
    await writeDnsSnapshotFile(path.join(dir, 'upstream.json'), upstreamSnapshot);
    fs.writeFileSync(path.join(dir, 'resolv.conf'), 'nameserver 127.0.0.53\nnameserver 192.0.2.53\n');
    // The ConfigMap's files as the pod mounts them at /etc/coredns, its paths pointed at this
    // directory. The forwarding server: the same Corefile on another port (and health/ready ports,
    // which the two would share in one namespace), forwarding to this test's resolv.conf.
    const cm = corednsConfigMap();
    const corefile = cm.Corefile.replaceAll('/etc/coredns/', `${dir}/`);
    expect(corefile).toContain(`hosts ${dir}/NodeHosts`);
    fs.writeFileSync(path.join(dir, 'NodeHosts'), cm.NodeHosts);
    fs.writeFileSync(path.join(dir, 'Corefile'), corefile);
    const forwarding = corefile.replace('.:53 {', '.:5353 {').replace(/^(\s+)health$/m, '$1health :8082').replace(/^(\s+)ready$/m, '$1ready :8183').replace('forward . /etc/resolv.conf', `forward . ${path.join(dir, 'resolv.conf')}`);
    expect(forwarding).not.toBe(corefile);
    fs.writeFileSync(path.join(dir, 'Corefile.5353'), forwarding);
    const snap = path.join(dir, 'dns.json');
    await Promise.all([
      startServer('refusing', ['-conf', path.join(dir, 'Corefile'), '--snapshot', snap, '--listen', '127.0.0.1', '--refuse-external']),
      startServer('forwarding', ['-conf', path.join(dir, 'Corefile.5353'), '--snapshot', snap, '--listen', '127.0.0.1']),
      startServer('upstream', ['--snapshot', path.join(dir, 'upstream.json'), '--listen', '192.0.2.53', '--port', '53']),
    ]);
  });

  afterAll(async () => {
    for (const s of servers) await stopServer(s).catch(() => {});
    await cmd(['ip', 'netns', 'del', NETNS]);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const at = ['@127.0.0.1'];

  it('answers a ClusterIP Service over UDP and over TCP, authoritative with TTL 5', async () => {
    for (const proto of ['+notcp', '+tcp']) {
      const r = await dig([...at, proto, 'app2-service.default.svc.cluster.local', 'A']);
      expect(r.status).toBe('NOERROR');
      expect(r.flags).toContain('aa');
      expect(r.answer).toEqual([['app2-service.default.svc.cluster.local.', '5', 'IN', 'A', '10.43.22.2']]);
    }
    const log = servers[0]!.out.join('');
    expect(log).toMatch(/\[INFO\] 127\.0\.0\.1:\d+ - \d+ "A IN app2-service\.default\.svc\.cluster\.local\. udp \d+ false 1232" NOERROR qr,aa,rd \d+ [\d.]+s/);
    expect(log).toMatch(/"A IN app2-service\.default\.svc\.cluster\.local\. tcp /);
  });

  it('answers SRV for a named port (TCP) and a headless Service with its endpoints', async () => {
    const srv = await dig([...at, '+tcp', '_http._tcp.app2-service.default.svc.cluster.local', 'SRV']);
    expect(values(srv.answer, 'SRV')).toEqual(['0 100 80 app2-service.default.svc.cluster.local.']);
    expect(values(srv.additional, 'A')).toEqual(['10.43.22.2']);

    const headless = await dig([...at, 'web-headless.default.svc.cluster.local', 'A']);
    expect(values(headless.answer, 'A').sort()).toEqual(['10.42.0.31', '10.42.0.32']);
    const hsrv = await dig([...at, '_http._tcp.web-headless.default.svc.cluster.local', 'SRV']);
    expect(values(hsrv.answer, 'SRV').sort()).toEqual(['0 50 8080 10-42-0-31.web-headless.default.svc.cluster.local.', '0 50 8080 10-42-0-32.web-headless.default.svc.cluster.local.']);
    expect(values(hsrv.additional, 'A').sort()).toEqual(['10.42.0.31', '10.42.0.32']);
  });

  it('answers PTR, the ExternalName CNAME and dns-version', async () => {
    expect(values((await dig([...at, '-x', '10.43.22.2'])).answer, 'PTR')).toEqual(['app2-service.default.svc.cluster.local.']);
    expect(values((await dig([...at, '-x', '10.42.0.31'])).answer, 'PTR')).toEqual(['10-42-0-31.web-headless.default.svc.cluster.local.']);
    expect(values((await dig([...at, 'ext.default.svc.cluster.local', 'A'])).answer, 'CNAME')).toEqual(['web.default.svc.example.test.']);
    expect(values((await dig([...at, 'dns-version.cluster.local', 'TXT'])).answer, 'TXT')).toEqual(['"1.1.0"']);
  });

  it('reads the ConfigMap\'s Corefile and answers the node\'s name from its NodeHosts (the hosts plugin)', async () => {
    expect(servers[0]!.out.join('')).toContain(`dns: Corefile ${dir}/Corefile: .:53, kubernetes cluster.local in-addr.arpa ip6.arpa, hosts ${dir}/NodeHosts, forward . /etc/resolv.conf, cache 30`);
    expect(servers[0]!.out.join('')).toContain('dns: Corefile: forward . /etc/resolv.conf overridden by --refuse-external');
    expect(servers[1]!.out.join('')).toContain(`dns: Corefile ${dir}/Corefile.5353: .:5353`);
    for (const at5353 of [[], ['-p', '5353']]) {
      const r = await dig([...at, ...at5353, 'labs', 'A']);
      expect(r.status).toBe('NOERROR');
      // The hosts plugin's `ttl 60`, capped by `cache 30` as CoreDNS's cache caps every answer's TTL.
      expect(r.answer).toEqual([['labs.', '30', 'IN', 'A', '192.168.56.110']]);
    }
  });

  it('answers NXDOMAIN with the SOA for unknown cluster names, NODATA for AAAA', async () => {
    const r = await dig([...at, 'nope.default.svc.cluster.local', 'A']);
    expect(r.status).toBe('NXDOMAIN');
    expect(r.authority.map((x) => x.slice(0, 5))).toEqual([['cluster.local.', '5', 'IN', 'SOA', 'ns.dns.cluster.local.']]);
    const aaaa = await dig([...at, 'app2-service.default.svc.cluster.local', 'AAAA']);
    expect(aaaa.status).toBe('NOERROR');
    expect(aaaa.answer).toEqual([]);
  });

  it('refuses names outside the cluster domain in refuse mode', async () => {
    const r = await dig([...at, 'example.com', 'A']);
    expect(r.status).toBe('REFUSED');
    expect(r.answer).toEqual([]);
    expect(servers[0]!.out.join('')).toMatch(/"A IN example\.com\. udp .*" REFUSED qr,rd/);
  });

  it('forwards names outside the cluster domain and chases ExternalName targets in forward mode', async () => {
    const fwd = ['@127.0.0.1', '-p', '5353'];
    const ext = await dig([...fwd, 'web.default.svc.example.test', 'A']);
    expect(ext.status).toBe('NOERROR');
    expect(values(ext.answer, 'A')).toEqual(['198.51.100.7']);
    const chase = await dig([...fwd, 'ext.default.svc.cluster.local', 'A']);
    expect(values(chase.answer, 'CNAME')).toEqual(['web.default.svc.example.test.']);
    expect(values(chase.answer, 'A')).toEqual(['198.51.100.7']);
    // the upstream's own NXDOMAIN comes back as such; cluster names stay local
    expect((await dig([...fwd, 'nope.example.test', 'A'])).status).toBe('NXDOMAIN');
    expect(values((await dig([...fwd, 'app2-service.default.svc.cluster.local', 'A'])).answer, 'A')).toEqual(['10.43.22.2']);
    expect(servers[1]!.out.join('')).toMatch(/skipping loopback nameservers 127\.0\.0\.53/);
  });

  it('truncates a large answer over UDP and serves it whole over TCP', async () => {
    const udp = await dig([...at, '+noedns', '+ignore', 'big.default.svc.cluster.local', 'A']);
    expect(udp.flags).toContain('tc');
    expect(udp.answer).toEqual([]);
    const retried = await dig([...at, '+noedns', 'big.default.svc.cluster.local', 'A']); // dig retries over TCP on TC
    expect(values(retried.answer, 'A').sort()).toEqual([...BIG].sort());
  });

  it('follows snapshot rewrites within 1 s and keeps the last good snapshot when the file is malformed', async () => {
    const file = path.join(dir, 'dns.json');
    const ask = async () => values((await dig([...at, 'app2-service.default.svc.cluster.local', 'A'])).answer, 'A');

    await writeDnsSnapshotFile(file, clusterSnapshot('10.43.22.99', 2)); // atomic rename
    const renamed = await waitFor(ask, (v) => v[0] === '10.43.22.99', 3000);
    expect(renamed.elapsed).toBeLessThan(1000);

    fs.writeFileSync(file, formatDnsSnapshot(clusterSnapshot('10.43.22.100', 3))); // in place
    const inPlace = await waitFor(ask, (v) => v[0] === '10.43.22.100', 3000);
    expect(inPlace.elapsed).toBeLessThan(1000);

    fs.writeFileSync(file, '{ "kind": "DnsSnapshot", ');
    await waitFor(async () => servers[0]!.out.join(''), (o) => o.includes('ignoring snapshot'), 3000);
    expect(await ask()).toEqual(['10.43.22.100']);

    await writeDnsSnapshotFile(file, clusterSnapshot('10.43.22.2', 4));
    await waitFor(ask, (v) => v[0] === '10.43.22.2', 3000);
  });

  it('exits cleanly on SIGTERM', async () => {
    const s = servers[0]!;
    const exited = new Promise<number | null>((resolve) => s.proc.once('exit', (code) => resolve(code)));
    await stopServer(s, 'SIGTERM');
    await exited;
    expect(s.out.join('')).toContain('dns: SIGTERM, shutting down');
    expect(groupAlive(s.proc.pid!)).toBe(false);
    const r = await dig([...at, 'app2-service.default.svc.cluster.local', 'A']).catch((e: Error) => e);
    expect(r).toBeInstanceOf(Error); // nobody listens any more
  });
});
