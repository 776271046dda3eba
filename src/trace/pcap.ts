// Capture files. `lab tcpdump <service>` runs one tcpdump per endpoint veth, each writing a classic
// pcap stream (`-w -`); this merges them into ONE pcapng file with one interface per endpoint,
// named "<pod>/<veth>" — Wireshark shows which pod's veth saw each packet, and `tcpdump -r`
// reads it. Pure: byte streams in, byte blocks out.

export interface PcapHeader {
  littleEndian: boolean;
  /** Timestamps in nanoseconds (magic 0xa1b23c4d) instead of microseconds. */
  nanos: boolean;
  snaplen: number;
  linktype: number;
}

export interface PcapRecord {
  seconds: number;
  /** Microseconds or nanoseconds, per the header. */
  fraction: number;
  origLen: number;
  data: Uint8Array;
}

export const LINKTYPE_ETHERNET = 1;

/** Incremental reader of a classic pcap stream (as tcpdump -w - writes it). */
export class PcapStreamReader {
  header: PcapHeader | null = null;
  private buf: Buffer = Buffer.alloc(0);

  /** Feeds bytes; returns the records completed by them. */
  push(chunk: Uint8Array): PcapRecord[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : Buffer.from(chunk);
    const out: PcapRecord[] = [];
    if (!this.header) {
      if (this.buf.length < 24) return out;
      const magicLE = this.buf.readUInt32LE(0);
      const magicBE = this.buf.readUInt32BE(0);
      let littleEndian: boolean;
      let nanos: boolean;
      if (magicLE === 0xa1b2c3d4 || magicLE === 0xa1b23c4d) [littleEndian, nanos] = [true, magicLE === 0xa1b23c4d];
      else if (magicBE === 0xa1b2c3d4 || magicBE === 0xa1b23c4d) [littleEndian, nanos] = [false, magicBE === 0xa1b23c4d];
      else throw new Error(`not a pcap stream (magic 0x${magicBE.toString(16)})`);
      const u32 = (o: number) => (littleEndian ? this.buf.readUInt32LE(o) : this.buf.readUInt32BE(o));
      this.header = { littleEndian, nanos, snaplen: u32(16), linktype: u32(20) & 0x0fffffff };
      this.buf = this.buf.subarray(24);
    }
    const le = this.header.littleEndian;
    const u32 = (o: number) => (le ? this.buf.readUInt32LE(o) : this.buf.readUInt32BE(o));
    while (this.buf.length >= 16) {
      const incl = u32(8);
      if (incl > 0x4000000) throw new Error(`pcap record of ${incl} bytes: corrupt stream`);
      if (this.buf.length < 16 + incl) break;
      out.push({ seconds: u32(0), fraction: u32(4), origLen: u32(12), data: Uint8Array.prototype.slice.call(this.buf, 16, 16 + incl) });
      this.buf = this.buf.subarray(16 + incl);
    }
    return out;
  }
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

function block(type: number, body: Buffer): Buffer {
  const total = 12 + body.length;
  const b = Buffer.alloc(total);
  b.writeUInt32LE(type, 0);
  b.writeUInt32LE(total, 4);
  body.copy(b, 8);
  b.writeUInt32LE(total, total - 4);
  return b;
}

function option(code: number, value: Buffer): Buffer {
  const b = Buffer.alloc(4 + pad4(value.length));
  b.writeUInt16LE(code, 0);
  b.writeUInt16LE(value.length, 2);
  value.copy(b, 4);
  return b;
}

const END_OF_OPTIONS = Buffer.alloc(4);

/** Section Header Block (little endian, unknown section length). */
export function pcapngSectionHeader(application = 'packet-path-lab'): Buffer {
  const fixed = Buffer.alloc(16);
  fixed.writeUInt32LE(0x1a2b3c4d, 0);
  fixed.writeUInt16LE(1, 4);
  fixed.writeUInt16LE(0, 6);
  fixed.writeBigInt64LE(-1n, 8);
  return block(0x0a0d0d0a, Buffer.concat([fixed, option(4, Buffer.from(application)), END_OF_OPTIONS]));
}

/** Interface Description Block; microsecond timestamps (the default if_tsresol). */
export function pcapngInterface(opts: { name: string; description?: string; linktype?: number; snaplen?: number }): Buffer {
  const fixed = Buffer.alloc(8);
  fixed.writeUInt16LE(opts.linktype ?? LINKTYPE_ETHERNET, 0);
  fixed.writeUInt32LE(opts.snaplen ?? 262144, 4);
  const options = [option(2, Buffer.from(opts.name)), ...(opts.description ? [option(3, Buffer.from(opts.description))] : []), END_OF_OPTIONS];
  return block(0x00000001, Buffer.concat([fixed, ...options]));
}

/** Enhanced Packet Block for a record read from a pcap stream, on interface `interfaceId`. */
export function pcapngPacket(interfaceId: number, rec: PcapRecord, nanos = false): Buffer {
  const micros = BigInt(rec.seconds) * 1_000_000n + BigInt(nanos ? Math.floor(rec.fraction / 1000) : rec.fraction);
  const fixed = Buffer.alloc(20);
  fixed.writeUInt32LE(interfaceId, 0);
  fixed.writeUInt32LE(Number(micros >> 32n), 4);
  fixed.writeUInt32LE(Number(micros & 0xffffffffn), 8);
  fixed.writeUInt32LE(rec.data.length, 12);
  fixed.writeUInt32LE(rec.origLen, 16);
  const data = Buffer.alloc(pad4(rec.data.length));
  Buffer.from(rec.data).copy(data);
  return block(0x00000006, Buffer.concat([fixed, data]));
}

/**
 * Merges several pcap streams into one pcapng byte stream. All interfaces are declared up
 * front (readers such as libpcap want them before the packets), so their link type is assumed
 * Ethernet — what a veth, a bridge and eth1 all are.
 */
export class PcapngMerger {
  private started = false;
  private readers: PcapStreamReader[];
  packets = 0;

  constructor(private readonly interfaces: { name: string; description?: string }[]) {
    this.readers = interfaces.map(() => new PcapStreamReader());
  }

  /** The section header and interface blocks; write them first. */
  start(): Buffer {
    this.started = true;
    return Buffer.concat([pcapngSectionHeader(), ...this.interfaces.map((i) => pcapngInterface(i))]);
  }

  /** Bytes from interface i's pcap stream -> pcapng packet blocks to append. */
  push(i: number, chunk: Uint8Array): Buffer {
    if (!this.started) throw new Error('call start() first');
    const r = this.readers[i]!;
    const recs = r.push(chunk);
    if (r.header && r.header.linktype !== LINKTYPE_ETHERNET) throw new Error(`${this.interfaces[i]!.name}: link type ${r.header.linktype}, not Ethernet`);
    this.packets += recs.length;
    return Buffer.concat(recs.map((rec) => pcapngPacket(i, rec, r.header!.nanos)));
  }
}
