// IPv4 addresses and CIDRs, the lab's one implementation, on top of ip-address. Parsing is strict,
// like Go's net.ParseIP / ParseCIDR: four decimal octets 0-255 without leading zeros, a prefix
// length 0-32 without a leading zero. The lab is single-stack IPv4, as k3s is by default.
import { Address4 } from 'ip-address';

/** A network: its first address as an unsigned 32-bit number, and its prefix length. */
export interface Cidr {
  base: number;
  prefix: number;
}

const PREFIX = /^(0|[1-9][0-9]?)$/;

function address(text: string): Address4 | undefined {
  if (text.includes('/')) return undefined;
  try {
    return new Address4(text);
  } catch {
    return undefined;
  }
}

/** The address as an unsigned 32-bit number; undefined when `text` is not an IPv4 address. */
export function parseIP(text: string): number | undefined {
  const a = address(text);
  return a && Number(a.bigInt());
}

/** The address as an unsigned 32-bit number; throws when `text` is not an IPv4 address. */
export function ipToInt(text: string): number {
  const n = parseIP(text);
  if (n === undefined) throw new Error(`invalid IPv4 address ${JSON.stringify(text)}`);
  return n;
}

export function intToIp(n: number): string {
  return Address4.fromInteger(n).correctForm();
}

/** `<address>/<prefix>` as its network (host bits cleared: 10.42.0.1/24 is 10.42.0.0/24). */
function cidrOf(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0 || !address(text.slice(0, slash)) || !PREFIX.test(text.slice(slash + 1))) return undefined;
  const prefix = Number(text.slice(slash + 1));
  if (prefix > 32) return undefined;
  return { base: Number(new Address4(text).startAddress().bigInt()), prefix };
}

/** The network of `<address>/<prefix>`, host bits cleared; throws when `text` is not one. */
export function parseCidr(text: string): Cidr {
  const c = cidrOf(text);
  if (!c) throw new Error(`invalid IPv4 CIDR ${JSON.stringify(text)}`);
  return c;
}

export function formatCidr(c: Cidr): string {
  return `${intToIp(c.base)}/${c.prefix}`;
}

/** Number of addresses, network and broadcast included. */
export function size(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

export function contains(c: Cidr, ip: string | number): boolean {
  const n = typeof ip === 'number' ? ip : ipToInt(ip);
  return n >= c.base && n < c.base + size(c);
}

/** False, not an error, when either side does not parse (addresses read from the kernel's output). */
export function inCidr(cidr: string | undefined, ip: string): boolean {
  const c = cidr === undefined ? undefined : cidrOf(cidr);
  const n = parseIP(ip);
  return c !== undefined && n !== undefined && contains(c, n);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.base < b.base + size(b) && b.base < a.base + size(a);
}

/** Address number `n` of the network (0 = the network address, 1 = the bridge gateway). */
export function nth(c: Cidr, n: number): string {
  if (!Number.isInteger(n) || n < 0 || n >= size(c)) throw new Error(`no address #${n} in ${formatCidr(c)}`);
  return intToIp(c.base + n);
}

/** The i-th subnet of `maskSize` bits inside `c`: node i's pod CIDR (10.42.i.0/24 by default). */
export function nthSubnet(c: Cidr, maskSize: number, i: number): Cidr {
  if (maskSize < c.prefix) throw new Error(`node CIDR mask /${maskSize} is larger than the cluster CIDR /${c.prefix}`);
  if (maskSize > 32) throw new Error(`node CIDR mask /${maskSize} is longer than /32`);
  const count = 2 ** (maskSize - c.prefix);
  if (!Number.isInteger(i) || i < 0 || i >= count) throw new Error(`no subnet #${i} of /${maskSize} in ${formatCidr(c)}`);
  return { base: c.base + i * 2 ** (32 - maskSize), prefix: maskSize };
}

/** Numeric order (10.42.0.9 before 10.42.0.10), for sort(). */
export function compareIPs(a: string, b: string): number {
  return ipToInt(a) - ipToInt(b);
}

/** Why `text` is not an IPv4 address, or undefined when it is one. */
export function ipProblem(text: string): string | undefined {
  if (text.includes(':')) return `${JSON.stringify(text)} is an IPv6 address; the lab is IPv4 only`;
  return parseIP(text) === undefined ? `${JSON.stringify(text)} is not a valid IPv4 address` : undefined;
}

/** Why `text` is not an IPv4 network in CIDR notation (host bits clear), or undefined when it is one. */
export function cidrProblem(text: string): string | undefined {
  if (text.includes(',')) return `${JSON.stringify(text)} is a list; the lab is single-stack IPv4 and takes one CIDR`;
  if (text.includes(':')) return `${JSON.stringify(text)} is an IPv6 CIDR; the lab is IPv4 only`;
  const c = cidrOf(text);
  if (!c) return `${JSON.stringify(text)} is not a valid IPv4 CIDR such as 10.42.0.0/16`;
  if (ipToInt(text.slice(0, text.indexOf('/'))) !== c.base) return `${JSON.stringify(text)} has host bits set; did you mean ${formatCidr(c)}?`;
  return undefined;
}
