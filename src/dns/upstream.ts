// Forwarding for names outside the cluster domain (CoreDNS `forward . /etc/resolv.conf`): host
// mode only; the sandbox refuses instead. Plain DNS over UDP, retried over TCP when truncated.
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import net, { isIP } from 'node:net';
import * as dnsPacket from 'dns-packet';
import type { Upstream } from './resolver.ts';

/** The `nameserver` addresses of a resolv.conf, in order. */
export function parseResolvConf(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    // A scope suffix (fe80::1%eth0) is legal in resolv.conf; keep it, node's sockets accept it.
    if (m && isIP(m[1]!.split('%')[0]!)) out.push(m[1]!);
  }
  return out;
}

/**
 * Loopback nameservers (systemd-resolved's 127.0.0.53, a local dnsmasq) are unreachable from a pod's
 * network namespace, and forwarding to ourselves would loop (CoreDNS's `loop` plugin exits on that;
 * kubelet/k3s pick /run/systemd/resolve/resolv.conf instead). They are dropped here.
 */
export function splitLoopback(nameservers: string[]): { usable: string[]; loopback: string[] } {
  const isLoop = (ns: string): boolean => ns.startsWith('127.') || ns === '::1' || ns === '0.0.0.0' || ns === '::';
  return { usable: nameservers.filter((n) => !isLoop(n)), loopback: nameservers.filter(isLoop) };
}

export interface ForwarderOptions {
  /** Per nameserver and attempt. */
  timeoutMs?: number;
  port?: number;
}

/** Asks each nameserver in turn (UDP, TCP if truncated) and returns the first response. */
export function createForwarder(nameservers: string[], opts: ForwarderOptions = {}): Upstream {
  const timeoutMs = opts.timeoutMs ?? 2000;
  const port = opts.port ?? 53;
  return async (query) => {
    let lastError: unknown = new Error('no upstream nameservers');
    for (const server of nameservers) {
      const id = randomInt(65536);
      const wire = dnsPacket.encode({ ...query, id, type: 'query' });
      try {
        let res = await udpExchange(server, port, wire, id, timeoutMs);
        if (res.flag_tc) res = await tcpExchange(server, port, wire, id, timeoutMs);
        return res;
      } catch (err) {
        lastError = err;
      }
    }
    throw lastError;
  };
}

function udpExchange(server: string, port: number, wire: Buffer, id: number, timeoutMs: number): Promise<dnsPacket.DecodedPacket> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(isIP(server.split('%')[0]!) === 6 ? 'udp6' : 'udp4');
    const done = (err: Error | null, res?: dnsPacket.DecodedPacket): void => {
      clearTimeout(timer);
      sock.close();
      if (err) reject(err);
      else resolve(res!);
    };
    const timer = setTimeout(() => done(new Error(`upstream ${server}:${port} timed out`)), timeoutMs);
    sock.on('error', (err) => done(err));
    sock.on('message', (msg) => {
      try {
        const res = dnsPacket.decode(msg);
        if (res.id === id && res.type === 'response') done(null, res); // ignore strays and spoofs
      } catch {
        /* not DNS: keep waiting */
      }
    });
    sock.connect(port, server, () => sock.send(wire));
  });
}

function tcpExchange(server: string, port: number, wire: Buffer, id: number, timeoutMs: number): Promise<dnsPacket.DecodedPacket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: server, port });
    let buf = Buffer.alloc(0);
    const done = (err: Error | null, res?: dnsPacket.DecodedPacket): void => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(res!);
    };
    const timer = setTimeout(() => done(new Error(`upstream ${server}:${port} (tcp) timed out`)), timeoutMs);
    sock.on('error', (err) => done(err));
    sock.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(wire.length);
      sock.write(Buffer.concat([len, wire]));
    });
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        try {
          const res = dnsPacket.decode(msg);
          if (res.id === id) return done(null, res);
        } catch (err) {
          return done(err as Error);
        }
      }
    });
    sock.on('end', () => done(new Error(`upstream ${server}:${port} closed the TCP connection`)));
  });
}
