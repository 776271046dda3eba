import { describe, expect, it } from 'vitest';
import { nextAddress } from '../../src/cni/ipam.ts';
import { parseCidr } from '../../src/util/cidr.ts';

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
