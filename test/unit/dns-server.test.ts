// Cluster DNS process plumbing without sockets: command line, resolv.conf, query log line, and the
// snapshot file watcher (temp files only; no network, no root).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as dnsPacket from 'dns-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { parseDnsArgs } from '../../src/dns/main.ts';
import { buildDnsSnapshot, formatDnsSnapshot, type DnsSnapshot } from '../../src/dns/records.ts';
import { reply, RCODE } from '../../src/dns/resolver.ts';
import { formatQueryLog } from '../../src/dns/server.ts';
import { SnapshotWatcher, writeDnsSnapshotFile } from '../../src/dns/snapshot-file.ts';
import { parseResolvConf, splitLoopback } from '../../src/dns/upstream.ts';

describe('parseDnsArgs', () => {
  it('has CoreDNS-like defaults: 0.0.0.0:53, refuse external names, no query log', () => {
    const o = parseDnsArgs(['--snapshot', 'snap.json']);
    expect(o).toMatchObject({ snapshotPath: path.resolve('snap.json'), listen: '0.0.0.0', port: 53, external: { mode: 'refuse' }, queryLog: false, pollMs: 250 });
    expect(o.healthPort).toBeUndefined();
  });

  it('reads forward mode, listen address, port, log and probe ports', () => {
    const o = parseDnsArgs(['--snapshot', '/run/x/dns.json', '--listen', '10.42.0.5', '--port', '5353', '--forward-resolv-conf', '/etc/resolv.conf', '--log', '--health-port', '8080', '--ready-port', '8181']);
    expect(o).toMatchObject({ snapshotPath: '/run/x/dns.json', listen: '10.42.0.5', port: 5353, external: { mode: 'forward', resolvConf: '/etc/resolv.conf' }, queryLog: true, healthPort: 8080, readyPort: 8181 });
    expect(parseDnsArgs(['--snapshot', 's', '--refuse-external']).external).toEqual({ mode: 'refuse' });
  });

  it('rejects missing, conflicting and malformed arguments', () => {
    expect(() => parseDnsArgs([])).toThrow(/--snapshot is required/);
    expect(() => parseDnsArgs(['--snapshot', 's', '--refuse-external', '--forward-resolv-conf', 'r'])).toThrow(/exclude each other/);
    expect(() => parseDnsArgs(['--snapshot', 's', '--port', '99999'])).toThrow(/--port/);
    expect(() => parseDnsArgs(['--snapshot', 's', '--bogus'])).toThrow(/usage/);
  });
});

describe('resolv.conf', () => {
  it('lists nameservers in order and sets loopback ones aside', () => {
    const text = '# generated\nsearch lan\nnameserver 127.0.0.53\nnameserver 192.0.2.1\n  nameserver fe80::1%eth0\nnameserver bogus\noptions edns0 trust-ad\n';
    const all = parseResolvConf(text);
    expect(all).toEqual(['127.0.0.53', '192.0.2.1', 'fe80::1%eth0']);
    expect(splitLoopback(all)).toEqual({ usable: ['192.0.2.1', 'fe80::1%eth0'], loopback: ['127.0.0.53'] });
  });
});

describe('formatQueryLog', () => {
  it('writes CoreDNS log plugin lines', () => {
    const q: dnsPacket.Packet = { type: 'query', id: 5377, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name: 'app2-service.default.svc.cluster.local', type: 'A', class: 'IN' }] };
    const res = reply(q, RCODE.NXDOMAIN, { aa: true });
    const line = formatQueryLog(q, res, { proto: 'udp', remote: '10.42.0.7', remotePort: 41234, size: 79, rsize: 148, started: process.hrtime.bigint() });
    expect(line).toMatch(/^\[INFO\] 10\.42\.0\.7:41234 - 5377 "A IN app2-service\.default\.svc\.cluster\.local\. udp 79 false 512" NXDOMAIN qr,aa,rd 148 \d+\.\d{9}s$/);
  });
});

describe('SnapshotWatcher', () => {
  let dir = '';
  let watcher: SnapshotWatcher | undefined;
  afterEach(() => {
    watcher?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const snap = (generation: number, ip: string): DnsSnapshot =>
    buildDnsSnapshot({
      clusterDomain: 'cluster.local',
      generation,
      endpoints: [],
      services: [
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { namespace: 'default', name: 'web', labels: {}, annotations: {} },
          spec: { type: 'ClusterIP', clusterIP: ip, ports: [], externalIPs: [], sessionAffinity: 'None', externalTrafficPolicy: 'Cluster', internalTrafficPolicy: 'Cluster' },
          source: { file: 't', line: 1 },
        },
      ],
    });
  const ipOf = (s: DnsSnapshot | null) => s?.records.find((r) => r.name === 'web.default.svc.cluster.local' && r.type === 'A')?.data;

  async function until(cond: () => boolean, ms: number): Promise<number> {
    const t0 = Date.now();
    while (!cond()) {
      if (Date.now() - t0 > ms) throw new Error(`condition not met within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return Date.now() - t0;
  }

  it('follows atomic replacement and in-place rewrites within 1 s, and keeps the last good snapshot on garbage', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pplt-dns-unit-'));
    const file = path.join(dir, 'dns.json');
    const lines: string[] = [];
    watcher = new SnapshotWatcher(file, { log: (l) => lines.push(l) });
    await watcher.start();
    expect(watcher.snapshot).toBeNull();
    expect(lines.join('\n')).toMatch(/unreadable \(ENOENT\)/);

    expect(await writeDnsSnapshotFile(file, snap(1, '10.43.0.51'))).toBe(true);
    expect(await writeDnsSnapshotFile(file, snap(1, '10.43.0.51'))).toBe(false); // unchanged content: no write
    expect(await until(() => ipOf(watcher!.snapshot) === '10.43.0.51', 1000)).toBeLessThan(1000);

    fs.writeFileSync(file, formatDnsSnapshot(snap(2, '10.43.0.52'))); // in place, same inode
    await until(() => ipOf(watcher!.snapshot) === '10.43.0.52', 1000);

    fs.writeFileSync(file, '{"kind": "DnsSnapshot", "records": [');
    await until(() => lines.some((l) => l.includes('ignoring snapshot')), 1000);
    expect(watcher.snapshot?.generation).toBe(2);
    expect(lines.find((l) => l.includes('ignoring snapshot'))).toMatch(/not JSON.*keeping generation 2/);

    await writeDnsSnapshotFile(file, snap(3, '10.43.0.53'));
    await until(() => ipOf(watcher!.snapshot) === '10.43.0.53', 1000);
    expect(lines.filter((l) => l.startsWith('dns: loaded snapshot')).map((l) => /generation (\d+)/.exec(l)![1])).toEqual(['1', '2', '3']);
    expect(fs.readdirSync(dir)).toEqual(['dns.json']); // no temp files left
  });
});
