// The cluster DNS server process (CoreDNS's role): UDP and TCP on one address and port, answers
// from the snapshot file, query log in CoreDNS's `log` plugin format, optional health/ready
// endpoints like CoreDNS's `health` (:8080/health) and `ready` (:8181/ready) plugins.
import dgram from 'node:dgram';
import fs from 'node:fs';
import http from 'node:http';
import net, { isIPv6 } from 'node:net';
import * as dnsPacket from 'dns-packet';
import { answer, rcodeName, rcodeOf, truncateForUdp, udpLimit, RCODE, reply, type Upstream } from './resolver.ts';
import type { DnsSnapshot } from './records.ts';
import type { HostsSettings } from './corefile.ts';
import { HostsWatcher, overlayHosts } from './hosts.ts';
import { SnapshotWatcher } from './snapshot-file.ts';
import { createForwarder, parseResolvConf, splitLoopback } from './upstream.ts';

/** Names outside the cluster: refused (the sandbox), or forwarded to a resolv.conf's nameservers or to given ones. */
export type ExternalMode = { mode: 'refuse' } | { mode: 'forward'; resolvConf: string } | { mode: 'forward'; nameservers: string[] };

export interface DnsServerOptions {
  snapshotPath: string;
  /** Default 0.0.0.0. */
  listen?: string;
  /** Default 53. 0 picks a free port (the same one for UDP and TCP). */
  port?: number;
  /** Names outside the cluster domain. Default refuse (the sandbox forwards nowhere). */
  external?: ExternalMode;
  /** Query log: true = one line per query on stdout; a function receives the lines instead. */
  queryLog?: boolean | ((line: string) => void);
  /** Operational messages (snapshot loads, problems). Default stdout. */
  log?: (line: string) => void;
  pollMs?: number;
  /** Serve GET /health (200 while running) on this port, like CoreDNS's health plugin. */
  healthPort?: number;
  /** Serve GET /ready (200 once a snapshot is loaded, else 503), like CoreDNS's ready plugin. */
  readyPort?: number;
  /** Upstream override (tests); otherwise built from `external`. */
  upstream?: Upstream;
  /** CoreDNS `hosts` (k3s: /etc/coredns/NodeHosts): names answered from a hosts file, re-read when it changes. */
  hosts?: HostsSettings;
  /** CoreDNS `cache N`: no answer carries a TTL above N seconds. */
  cacheTtl?: number;
}

export interface DnsServer {
  address: string;
  port: number;
  /** The snapshot answers currently come from. */
  snapshot(): DnsSnapshot | null;
  /** Re-reads the snapshot file now. */
  reload(): Promise<void>;
  close(): Promise<void>;
}

const TCP_IDLE_MS = 10_000;

export async function startDnsServer(opts: DnsServerOptions): Promise<DnsServer> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const queryLog = opts.queryLog === true ? (line: string) => console.log(line) : opts.queryLog || undefined;
  const address = opts.listen ?? '0.0.0.0';
  const external = opts.external ?? { mode: 'refuse' };

  let upstream = opts.upstream;
  if (!upstream && external.mode === 'forward' && 'nameservers' in external) {
    log(`dns: forwarding names outside the cluster domain to ${external.nameservers.join(', ')}`);
    upstream = createForwarder(external.nameservers);
  } else if (!upstream && external.mode === 'forward' && 'resolvConf' in external) {
    const all = parseResolvConf(await fs.promises.readFile(external.resolvConf, 'utf8'));
    const { usable, loopback } = splitLoopback(all);
    if (loopback.length) log(`dns: skipping loopback nameservers ${loopback.join(', ')} from ${external.resolvConf} (unreachable from a pod; point --forward-resolv-conf at the real resolvers, e.g. /run/systemd/resolve/resolv.conf)`);
    if (!usable.length) log(`dns: no usable nameserver in ${external.resolvConf}: external names will get SERVFAIL`);
    else log(`dns: forwarding names outside the cluster domain to ${usable.join(', ')}`);
    upstream = createForwarder(usable);
  }
  if (external.mode === 'refuse') log('dns: names outside the cluster domain are REFUSED (sandbox: forwards nowhere)');

  const watcher = new SnapshotWatcher(opts.snapshotPath, { pollMs: opts.pollMs, log });
  await watcher.start();
  const hosts = opts.hosts ? new HostsWatcher(opts.hosts, log) : null;
  await hosts?.start();
  // The snapshot as served: the hosts file's names laid over it (recomputed when either changes).
  let served: { base: DnsSnapshot | null; entries: unknown; view: DnsSnapshot | null } = { base: null, entries: null, view: null };
  const current = (): DnsSnapshot | null => {
    const base = watcher.snapshot;
    const entries = hosts?.entries ?? null;
    if (served.base !== base || served.entries !== entries) served = { base, entries, view: base && entries ? overlayHosts(base, entries, opts.hosts?.ttl) : base };
    return served.view;
  };

  const handle = async (wire: Buffer, proto: 'udp' | 'tcp', remote: string, remotePort: number): Promise<Buffer | null> => {
    const started = process.hrtime.bigint();
    let query: dnsPacket.DecodedPacket;
    try {
      query = dnsPacket.decode(wire);
    } catch {
      // Unparseable: answer FORMERR when at least the header is there, else drop.
      if (wire.length < 12) return null;
      const id = wire.readUInt16BE(0);
      return dnsPacket.encode(reply({ id, flags: 0, questions: [] }, RCODE.FORMERR));
    }
    if (query.type !== 'query') return null; // never answer a response (reflection loops)
    let res: dnsPacket.Packet;
    try {
      res = await answer(query, current(), { upstream });
      if (opts.cacheTtl !== undefined) res = capTtl(res, opts.cacheTtl);
    } catch (err) {
      log(`dns: error answering ${query.questions?.[0]?.name}: ${(err as Error).message}`);
      res = reply(query, RCODE.SERVFAIL);
    }
    if (proto === 'udp') res = truncateForUdp(res, udpLimit(query), dnsPacket.encodingLength);
    let out: Buffer;
    try {
      out = dnsPacket.encode(res);
    } catch (err) {
      log(`dns: cannot encode the answer for ${query.questions?.[0]?.name}: ${(err as Error).message}`);
      out = dnsPacket.encode(reply(query, RCODE.SERVFAIL));
    }
    if (queryLog) queryLog(formatQueryLog(query, res, { proto, remote, remotePort, size: wire.length, rsize: out.length, started }));
    return out;
  };

  // UDP and TCP on the same port; with port 0 the kernel picks the UDP one and TCP follows.
  const family = isIPv6(address) ? 'udp6' : 'udp4';
  let udp: dgram.Socket | undefined;
  let tcp: net.Server | undefined;
  const conns = new Set<net.Socket>();
  for (let attempt = 0; ; attempt++) {
    udp = dgram.createSocket({ type: family });
    const u = udp;
    await new Promise<void>((resolve, reject) => {
      u.once('error', reject);
      u.bind(opts.port ?? 53, address, () => {
        u.off('error', reject);
        resolve();
      });
    });
    const port = u.address().port;
    tcp = net.createServer((conn) => serveTcp(conn, conns, handle));
    const t = tcp;
    const ok = await new Promise<boolean>((resolve, reject) => {
      t.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' && !opts.port && attempt < 10 ? resolve(false) : reject(err)));
      t.listen(port, address, () => resolve(true));
    }).catch((err) => {
      u.close();
      watcher.stop();
      throw err;
    });
    if (ok) break;
    u.close();
  }
  const udpSock = udp!;
  const tcpServer = tcp!;
  tcpServer.removeAllListeners('error');
  tcpServer.on('error', (err) => log(`dns: tcp: ${err.message}`));
  udpSock.on('error', (err) => log(`dns: udp: ${err.message}`));
  udpSock.on('message', (msg, rinfo) => {
    void handle(msg, 'udp', rinfo.address, rinfo.port).then((out) => {
      if (!out || closed) return;
      udpSock.send(out, rinfo.port, rinfo.address, (err) => err && log(`dns: udp send to ${rinfo.address}: ${err.message}`));
    });
  });
  const port = udpSock.address().port;
  let closed: Promise<void> | undefined;

  const httpServers: http.Server[] = [];
  const serveHttp = async (p: number, path: string, ok: () => boolean): Promise<void> => {
    const srv = http.createServer((req, res) => {
      const good = req.url === path && ok();
      res.writeHead(req.url === path ? (good ? 200 : 503) : 404, { 'content-type': 'text/plain' });
      res.end(good ? 'OK' : req.url === path ? 'not ready' : 'not found');
    });
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(p, address, () => resolve());
    });
    httpServers.push(srv);
  };
  if (opts.healthPort !== undefined) await serveHttp(opts.healthPort, '/health', () => true);
  if (opts.readyPort !== undefined) await serveHttp(opts.readyPort, '/ready', () => watcher.snapshot !== null);

  log(`dns: listening on ${isIPv6(address) ? `[${address}]` : address}:${port} (udp+tcp)`);

  return {
    address,
    port,
    snapshot: current,
    reload: () => watcher.reload(),
    close: () =>
      (closed ??= (async () => {
        watcher.stop();
        hosts?.stop();
        udpSock.close();
        for (const c of conns) c.destroy();
        for (const h of httpServers) h.closeAllConnections();
        await Promise.all([tcpServer, ...httpServers].map((srv) => new Promise<void>((resolve) => srv.close(() => resolve()))));
      })()),
  };
}

/** CoreDNS's cache caps the TTL of what it hands out (`cache 30`: at most 30 s). */
export function capTtl(res: dnsPacket.Packet, max: number): dnsPacket.Packet {
  const cap = <T extends { ttl?: number; type?: string }>(rrs: T[] | undefined): T[] | undefined =>
    rrs?.map((r) => (r.type !== 'OPT' && r.ttl !== undefined && r.ttl > max ? { ...r, ttl: max } : r));
  return { ...res, answers: cap(res.answers), authorities: cap(res.authorities), additionals: cap(res.additionals) } as dnsPacket.Packet;
}

type Handler = (wire: Buffer, proto: 'udp' | 'tcp', remote: string, remotePort: number) => Promise<Buffer | null>;

// DNS over TCP: each message is prefixed by its 16-bit length; a client may send several queries
// on one connection and answers may come back in any order (RFC 7766 6.2.1.1).
function serveTcp(conn: net.Socket, conns: Set<net.Socket>, handle: Handler): void {
  conns.add(conn);
  conn.on('close', () => conns.delete(conn));
  conn.setTimeout(TCP_IDLE_MS, () => conn.destroy());
  conn.on('error', () => conn.destroy());
  let buf = Buffer.alloc(0);
  conn.on('data', (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
      const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
      buf = buf.subarray(2 + msg.length);
      void handle(Buffer.from(msg), 'tcp', conn.remoteAddress ?? '?', conn.remotePort ?? 0).then((out) => {
        if (!out || conn.destroyed) return;
        const len = Buffer.alloc(2);
        len.writeUInt16BE(out.length);
        conn.write(Buffer.concat([len, out]));
      });
    }
  });
}

/**
 * One line per query in CoreDNS's `log` plugin default format:
 * `[INFO] 10.42.0.7:41234 - 5377 "A IN app2-service.default.svc.cluster.local. udp 79 false 1232" NOERROR qr,aa,rd 148 0.000213741s`
 */
export function formatQueryLog(
  query: dnsPacket.Packet,
  res: dnsPacket.Packet,
  m: { proto: string; remote: string; remotePort: number; size: number; rsize: number; started: bigint },
): string {
  const q = query.questions?.[0];
  const opt = query.additionals?.find((a): a is dnsPacket.OptAnswer => a.type === 'OPT');
  const flags = res.flags ?? 0;
  const rflags = [res.type === 'response' ? 'qr' : '', flags & (1 << 10) ? 'aa' : '', flags & (1 << 9) ? 'tc' : '', flags & (1 << 8) ? 'rd' : '', flags & (1 << 7) ? 'ra' : '']
    .filter(Boolean)
    .join(',');
  const secs = Number(process.hrtime.bigint() - m.started) / 1e9;
  const remote = isIPv6(m.remote) ? `[${m.remote}]` : m.remote;
  const question = q ? `${q.type} ${q.class ?? 'IN'} ${q.name.replace(/\.?$/, '.')}` : '- - -';
  return `[INFO] ${remote}:${m.remotePort} - ${query.id ?? 0} "${question} ${m.proto} ${m.size} ${opt?.flag_do ?? false} ${opt ? opt.udpPayloadSize : 512}" ${rcodeName(rcodeOf(res))} ${rflags} ${m.rsize} ${secs.toFixed(9)}s`;
}
