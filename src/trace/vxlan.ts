// flannel's VXLAN frames as a capture on a node's eth1 holds them, decoded byte by byte: the outer
// Ethernet/IPv4/UDP (node IP to node IP, destination port 8472), the 8-byte VXLAN header (flags,
// VNI: RFC 7348), then the inner Ethernet frame between the two flannel.1 VTEPs and the pod
// packet in it. `lab trace` shows one as its evidence that a connection crossed nodes. Pure.

export interface L4 {
  protocol: 'tcp' | 'udp' | 'icmp' | number;
  src: string;
  dst: string;
  sport?: number;
  dport?: number;
  /** TCP flags as tcpdump prints them: S, S., ., P., F., R. */
  tcpFlags?: string;
}

export interface VxlanFrame {
  outer: L4 & { srcMac: string; dstMac: string };
  /** VXLAN header flags byte (0x08: the I flag, a valid VNI). */
  flags: number;
  vni: number;
  inner: L4 & { srcMac: string; dstMac: string };
  /** Seconds (with fraction) from the capture's record. */
  time?: number;
}

const mac = (b: Uint8Array, o: number) => [...b.subarray(o, o + 6)].map((x) => x.toString(16).padStart(2, '0')).join(':');
const ip4 = (b: Uint8Array, o: number) => `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
const u16 = (b: Uint8Array, o: number) => (b[o]! << 8) | b[o + 1]!;

function tcpFlagText(f: number): string {
  // tcpdump's order: S F P R then '.' for ACK.
  let s = '';
  if (f & 0x02) s += 'S';
  if (f & 0x01) s += 'F';
  if (f & 0x08) s += 'P';
  if (f & 0x04) s += 'R';
  if (f & 0x10) s += '.';
  return s || 'none';
}

/** Ethernet (no VLAN tag) + IPv4 + TCP/UDP header at `o`; null when it is not IPv4. */
function ethIPv4(b: Uint8Array, o: number): (L4 & { srcMac: string; dstMac: string; payload: number }) | null {
  if (b.length < o + 14 + 20 || u16(b, o + 12) !== 0x0800) return null;
  const ip = o + 14;
  if (b[ip]! >> 4 !== 4) return null;
  const ihl = (b[ip]! & 0x0f) * 4;
  const proto = b[ip + 9]!;
  const l4 = ip + ihl;
  const base = { srcMac: mac(b, o + 6), dstMac: mac(b, o), src: ip4(b, ip + 12), dst: ip4(b, ip + 16) };
  if ((proto === 6 && b.length >= l4 + 14) || (proto === 17 && b.length >= l4 + 8)) {
    const ports = { sport: u16(b, l4), dport: u16(b, l4 + 2) };
    if (proto === 6) return { ...base, protocol: 'tcp', ...ports, tcpFlags: tcpFlagText(b[l4 + 13]!), payload: l4 + ((b[l4 + 12]! >> 4) * 4) };
    return { ...base, protocol: 'udp', ...ports, payload: l4 + 8 };
  }
  return { ...base, protocol: proto === 1 ? 'icmp' : proto, payload: l4 };
}

/** One captured Ethernet frame as VXLAN on `port`; null when it is not one. */
export function decodeVxlan(frame: Uint8Array, port = 8472): VxlanFrame | null {
  const outer = ethIPv4(frame, 0);
  if (!outer || outer.protocol !== 'udp' || outer.dport !== port) return null;
  const v = outer.payload;
  if (frame.length < v + 8) return null;
  const flags = frame[v]!;
  const vni = (frame[v + 4]! << 16) | (frame[v + 5]! << 8) | frame[v + 6]!;
  const inner = ethIPv4(frame, v + 8);
  if (!inner) return null;
  const { payload: _o, ...o } = outer;
  const { payload: _i, ...i } = inner;
  return { outer: o, flags, vni, inner: i };
}

const hp = (ip: string, port?: number) => (port === undefined ? ip : `${ip}:${port}`);

/** tcpdump-like text of a frame's three layers. */
export function vxlanLines(f: VxlanFrame): string[] {
  return [
    `outer: ${f.outer.srcMac} > ${f.outer.dstMac}, IP ${hp(f.outer.src, f.outer.sport)} > ${hp(f.outer.dst, f.outer.dport)} UDP`,
    `VXLAN: flags 0x${f.flags.toString(16).padStart(2, '0')}${f.flags & 0x08 ? ' [I]' : ''}, VNI ${f.vni}`,
    `inner: ${f.inner.srcMac} > ${f.inner.dstMac}, IP ${hp(f.inner.src, f.inner.sport)} > ${hp(f.inner.dst, f.inner.dport)} ${String(f.inner.protocol).toUpperCase()}${f.inner.tcpFlags ? ` [${f.inner.tcpFlags}]` : ''}`,
  ];
}
