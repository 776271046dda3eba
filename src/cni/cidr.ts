// IPv4 CIDR arithmetic on top of ip-address, in the few shapes the lab needs.
import { Address4 } from 'ip-address';

export interface Cidr {
  /** Network address as an unsigned 32-bit integer. */
  base: number;
  prefix: number;
}

export function parseCidr(text: string): Cidr {
  if (!Address4.isValid(text) || !text.includes('/')) throw new Error(`invalid IPv4 CIDR ${JSON.stringify(text)}`);
  const a = new Address4(text);
  return { base: ipToInt(a.startAddress().address), prefix: a.subnetMask };
}

export function ipToInt(ip: string): number {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`invalid IPv4 address ${JSON.stringify(ip)}`);
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function size(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

export function contains(c: Cidr, ip: string): boolean {
  const n = ipToInt(ip);
  return n >= c.base && n < c.base + size(c);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.base < b.base + size(b) && b.base < a.base + size(a);
}

export function formatCidr(c: Cidr): string {
  return `${intToIp(c.base)}/${c.prefix}`;
}

/** The i-th subnet of `maskSize` bits inside `c`: node i's pod CIDR (10.42.i.0/24 by default). */
export function nthSubnet(c: Cidr, maskSize: number, i: number): Cidr {
  if (maskSize < c.prefix) throw new Error(`node CIDR mask /${maskSize} is larger than the cluster CIDR /${c.prefix}`);
  const count = 2 ** (maskSize - c.prefix);
  if (i < 0 || i >= count) throw new Error(`no subnet #${i} of /${maskSize} in ${formatCidr(c)}`);
  return { base: (c.base + i * 2 ** (32 - maskSize)) >>> 0, prefix: maskSize };
}

/** Offset n inside the CIDR (1 = the first host address, the bridge gateway). */
export function nth(c: Cidr, n: number): string {
  return intToIp((c.base + n) >>> 0);
}
