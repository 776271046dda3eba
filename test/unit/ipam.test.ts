import { describe, expect, it } from 'vitest';
import { nextAddress } from '../../src/cni/ipam.ts';
import { nth, nthSubnet, parseCidr, contains, overlaps, formatCidr } from '../../src/cni/cidr.ts';

const range = { subnet: parseCidr('10.42.0.0/24'), gateway: '10.42.0.1' };

describe('host-local IPAM', () => {
  it('starts at .2, skipping the network address and the gateway', () => {
    expect(nextAddress(range, new Set())).toBe('10.42.0.2');
  });
  it('goes round robin after the last reserved address instead of reusing freed ones', () => {
    expect(nextAddress(range, new Set(['10.42.0.2', '10.42.0.4']), '10.42.0.4')).toBe('10.42.0.5');
    // .3 is free but was handed out before: host-local moves on.
    expect(nextAddress(range, new Set(['10.42.0.2']), '10.42.0.3')).toBe('10.42.0.4');
  });
  it('wraps to the start of the range and skips the broadcast address', () => {
    expect(nextAddress(range, new Set(['10.42.0.2']), '10.42.0.254')).toBe('10.42.0.3');
  });
  it('returns null when the range is full', () => {
    const all = new Set(Array.from({ length: 253 }, (_, i) => `10.42.0.${i + 2}`));
    expect(nextAddress(range, all)).toBeNull();
    all.delete('10.42.0.77');
    expect(nextAddress(range, all, '10.42.0.200')).toBe('10.42.0.77');
  });
});

describe('CIDR helpers', () => {
  it('gives node i the i-th /24 of the cluster CIDR', () => {
    const c = parseCidr('10.42.0.0/16');
    expect(formatCidr(nthSubnet(c, 24, 0))).toBe('10.42.0.0/24');
    expect(formatCidr(nthSubnet(c, 24, 7))).toBe('10.42.7.0/24');
    expect(nth(nthSubnet(c, 24, 1), 1)).toBe('10.42.1.1');
    expect(() => nthSubnet(c, 24, 256)).toThrow(/no subnet/);
  });
  it('checks containment and overlap', () => {
    expect(contains(parseCidr('10.43.0.0/16'), '10.43.0.10')).toBe(true);
    expect(contains(parseCidr('10.43.0.0/16'), '10.44.0.10')).toBe(false);
    expect(overlaps(parseCidr('10.42.0.0/16'), parseCidr('10.42.128.0/17'))).toBe(true);
    expect(overlaps(parseCidr('10.42.0.0/16'), parseCidr('10.43.0.0/16'))).toBe(false);
    expect(() => parseCidr('10.42.0.0/33')).toThrow();
    expect(() => parseCidr('10.42.0.0')).toThrow();
  });
});
