// flannel's VXLAN frames decoded from capture bytes (vxlan.ts), and the route lookup lab trace
// uses for the hop to flannel.1.
import { describe, expect, it } from 'vitest';
import { decodeVxlan, vxlanLines } from '../../src/trace/vxlan.ts';
import { routeFor } from '../../src/trace/trace.ts';

const mac = (s: string) => s.split(':').map((x) => parseInt(x, 16));
const ip = (s: string) => s.split('.').map(Number);
const be16 = (n: number) => [n >> 8, n & 0xff];

function ipv4(proto: number, src: string, dst: string, payload: number[]): number[] {
  const len = 20 + payload.length;
  return [0x45, 0, ...be16(len), 0, 0, 0x40, 0, 64, proto, 0, 0, ...ip(src), ...ip(dst), ...payload];
}
function eth(dst: string, src: string, body: number[]): number[] {
  return [...mac(dst), ...mac(src), 0x08, 0x00, ...body];
}
function tcpSyn(sport: number, dport: number): number[] {
  return [...be16(sport), ...be16(dport), 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0];
}

/** A SYN from a pod on labs to a pod on labsw, as flannel.1 on labs sends it out of eth1. */
function frame(vni = 1, dport = 8472): Uint8Array {
  const inner = eth('6e:00:00:00:00:02', '6e:00:00:00:00:01', ipv4(6, '10.42.0.5', '10.42.1.3', tcpSyn(43210, 80)));
  const vxlan = [0x08, 0, 0, 0, (vni >> 16) & 0xff, (vni >> 8) & 0xff, vni & 0xff, 0];
  const udp = [...be16(51234), ...be16(dport), ...be16(8 + vxlan.length + inner.length), 0, 0, ...vxlan, ...inner];
  return Uint8Array.from(eth('02:00:00:00:00:11', '02:00:00:00:00:10', ipv4(17, '192.168.56.110', '192.168.56.111', udp)));
}

describe('VXLAN frames', () => {
  it('decodes outer node IPs and UDP 8472, the VNI, the inner VTEP MACs and pod packet', () => {
    const f = decodeVxlan(frame())!;
    expect(f).toEqual({
      outer: { srcMac: '02:00:00:00:00:10', dstMac: '02:00:00:00:00:11', protocol: 'udp', src: '192.168.56.110', dst: '192.168.56.111', sport: 51234, dport: 8472 },
      flags: 0x08,
      vni: 1,
      inner: { srcMac: '6e:00:00:00:00:01', dstMac: '6e:00:00:00:00:02', protocol: 'tcp', src: '10.42.0.5', dst: '10.42.1.3', sport: 43210, dport: 80, tcpFlags: 'S' },
    });
    expect(vxlanLines(f)).toEqual([
      'outer: 02:00:00:00:00:10 > 02:00:00:00:00:11, IP 192.168.56.110:51234 > 192.168.56.111:8472 UDP',
      'VXLAN: flags 0x08 [I], VNI 1',
      'inner: 6e:00:00:00:00:01 > 6e:00:00:00:00:02, IP 10.42.0.5:43210 > 10.42.1.3:80 TCP [S]',
    ]);
    expect(decodeVxlan(frame(0x123456))!.vni).toBe(0x123456);
  });

  it('is null for anything else: another UDP port, a truncated frame, not IPv4', () => {
    expect(decodeVxlan(frame(1, 4789))).toBeNull();
    expect(decodeVxlan(frame(1, 4789), 4789)).not.toBeNull();
    expect(decodeVxlan(frame().subarray(0, 50))).toBeNull();
    const arp = frame();
    arp[12] = 0x08;
    arp[13] = 0x06;
    expect(decodeVxlan(arp)).toBeNull();
  });

  it('routeFor: the longest prefix of ip route show', () => {
    const routes = 'default via 192.168.56.1 dev eth1\n10.42.0.0/24 dev cni0 proto kernel scope link src 10.42.0.1\n10.42.1.0/24 via 10.42.1.0 dev flannel.1 onlink\n192.168.56.0/24 dev eth1 proto kernel scope link src 192.168.56.110\n';
    expect(routeFor(routes, '10.42.1.7')).toBe('10.42.1.0/24 via 10.42.1.0 dev flannel.1 onlink');
    expect(routeFor(routes, '10.42.0.9')).toBe('10.42.0.0/24 dev cni0 proto kernel scope link src 10.42.0.1');
    expect(routeFor(routes, '8.8.8.8')).toBe('default via 192.168.56.1 dev eth1');
    expect(routeFor('', '10.42.1.7')).toBeUndefined();
  });
});
