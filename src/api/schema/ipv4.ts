// IPv4 addresses and CIDRs, parsed strictly like Go's net.ParseIP / ParseCIDR (no leading zeros). The
// lab is single-stack IPv4, as k3s is by default.

import type { Problem } from './fields.ts';

export interface Cidr4 {
  /** Network address as an unsigned 32-bit number. */
  base: number;
  prefix: number;
}

const OCTET = /^(0|[1-9][0-9]{0,2})$/;

export function parseIPv4(value: string): number | undefined {
  const parts = value.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!OCTET.test(p)) return undefined;
    const o = Number(p);
    if (o > 255) return undefined;
    n = n * 256 + o;
  }
  return n;
}

export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function ipv4Problem(value: string): Problem {
  if (value.includes(':')) return `${JSON.stringify(value)} is an IPv6 address; the lab is IPv4 only`;
  return parseIPv4(value) === undefined ? `${JSON.stringify(value)} is not a valid IPv4 address` : undefined;
}

/** ValidateEndpointIP: no unspecified, loopback, link-local or multicast addresses as endpoints. */
export function endpointIPProblem(value: string): Problem {
  const base = ipv4Problem(value);
  if (base) return base;
  const n = parseIPv4(value)!;
  const first = n >>> 24;
  if (n === 0) return 'may not be unspecified (0.0.0.0)';
  if (first === 127) return 'may not be in the loopback range (127.0.0.0/8)';
  if (first === 169 && ((n >>> 16) & 255) === 254) return 'may not be in the link-local range (169.254.0.0/16)';
  if (first >= 224 && first <= 239) return 'may not be a multicast address (224.0.0.0/4)';
  return undefined;
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export function parseCidr4(value: string): Cidr4 | undefined {
  const m = /^([^/]+)\/(0|[1-9][0-9]?)$/.exec(value);
  if (!m) return undefined;
  const ip = parseIPv4(m[1]!);
  const prefix = Number(m[2]);
  if (ip === undefined || prefix > 32) return undefined;
  return { base: (ip & mask(prefix)) >>> 0, prefix };
}

export function cidrProblem(value: string): Problem {
  if (value.includes(',')) return `${JSON.stringify(value)} is a list; the lab is single-stack IPv4 and takes one CIDR`;
  if (value.includes(':')) return `${JSON.stringify(value)} is an IPv6 CIDR; the lab is IPv4 only`;
  const c = parseCidr4(value);
  if (!c) return `${JSON.stringify(value)} is not a valid IPv4 CIDR such as 10.42.0.0/16`;
  const ip = parseIPv4(value.split('/')[0]!)!;
  if (ip !== c.base) return `${JSON.stringify(value)} has host bits set; did you mean ${formatCidr4(c)}?`;
  return undefined;
}

export function formatCidr4(c: Cidr4): string {
  return `${formatIPv4(c.base)}/${c.prefix}`;
}

export function cidrSize(c: Cidr4): number {
  return 2 ** (32 - c.prefix);
}

export function cidrContains(c: Cidr4, ip: number): boolean {
  return ((ip & mask(c.prefix)) >>> 0) === c.base;
}

export function cidrsOverlap(a: Cidr4, b: Cidr4): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return ((a.base & mask(p)) >>> 0) === ((b.base & mask(p)) >>> 0);
}

export function nthIP(c: Cidr4, n: number): string {
  return formatIPv4(c.base + n);
}
