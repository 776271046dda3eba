import { describe, expect, it } from 'vitest';
import { cidrProblem, compareIPs, contains, formatCidr, inCidr, intToIp, ipProblem, ipToInt, nth, nthSubnet, overlaps, parseCidr, parseIP, size } from '../../src/util/cidr.ts';

describe('IPv4 addresses', () => {
  it('parses dotted quads to unsigned numbers and back', () => {
    expect(parseIP('10.42.0.1')).toBe(0x0a2a0001);
    expect(parseIP('0.0.0.0')).toBe(0);
    expect(parseIP('255.255.255.255')).toBe(2 ** 32 - 1);
    expect(intToIp(0x0a2a0001)).toBe('10.42.0.1');
    expect(intToIp(2 ** 32 - 1)).toBe('255.255.255.255');
    expect(() => intToIp(2 ** 32)).toThrow();
    expect(() => intToIp(-1)).toThrow();
  });
  it('refuses bad octets, leading zeros and anything but four decimal octets, as Go does', () => {
    for (const bad of ['256.0.0.1', '10.42.0', '10.42.0.1.5', '10..0.1', '', ' 10.42.0.1', '10.42.0.1 ', '010.42.0.1', '10.42.00.1', '0x0a.0.0.1', '10.42.0.-1', '10.42.0.1/32', '::1', 'app1.com']) {
      expect(parseIP(bad), bad).toBeUndefined();
    }
    expect(() => ipToInt('010.42.0.1')).toThrow('invalid IPv4 address "010.42.0.1"');
    expect(parseIP('10.42.0.0')).toBe(ipToInt('10.42.0.0'));
  });
  it('says what is wrong with an address', () => {
    expect(ipProblem('10.43.0.10')).toBeUndefined();
    expect(ipProblem('10.43.0.256')).toBe('"10.43.0.256" is not a valid IPv4 address');
    expect(ipProblem('010.43.0.1')).toBe('"010.43.0.1" is not a valid IPv4 address');
    expect(ipProblem('fd00::10')).toBe('"fd00::10" is an IPv6 address; the lab is IPv4 only');
  });
  it('sorts by numeric value, not text', () => {
    expect(['10.42.0.10', '10.42.0.9', '9.0.0.1', '10.42.1.0'].sort(compareIPs)).toEqual(['9.0.0.1', '10.42.0.9', '10.42.0.10', '10.42.1.0']);
  });
});

describe('CIDRs', () => {
  it('parses to the network, clearing host bits', () => {
    expect(parseCidr('10.42.0.0/16')).toEqual({ base: 0x0a2a0000, prefix: 16 });
    expect(formatCidr(parseCidr('10.42.0.1/24'))).toBe('10.42.0.0/24');
    expect(formatCidr(parseCidr('192.168.56.110/0'))).toBe('0.0.0.0/0');
    expect(formatCidr(parseCidr('10.42.0.7/32'))).toBe('10.42.0.7/32');
  });
  it('refuses what is not <address>/<prefix>', () => {
    for (const bad of ['10.42.0.0', '10.42.0.0/', '10.42.0.0/33', '10.42.0.0/08', '10.42.0.0/-1', '10.42.0.0/16/8', '010.42.0.0/16', '10.42.0.256/24', 'fd00::/64']) {
      expect(() => parseCidr(bad), bad).toThrow(`invalid IPv4 CIDR ${JSON.stringify(bad)}`);
    }
  });
  it('says what is wrong with a CIDR', () => {
    expect(cidrProblem('10.42.0.0/16')).toBeUndefined();
    expect(cidrProblem('0.0.0.0/0')).toBeUndefined();
    expect(cidrProblem('10.42.0.0/33')).toBe('"10.42.0.0/33" is not a valid IPv4 CIDR such as 10.42.0.0/16');
    expect(cidrProblem('10.43.7.0/16')).toBe('"10.43.7.0/16" has host bits set; did you mean 10.43.0.0/16?');
    expect(cidrProblem('10.42.0.0/16,2001:cafe:42::/56')).toBe('"10.42.0.0/16,2001:cafe:42::/56" is a list; the lab is single-stack IPv4 and takes one CIDR');
    expect(cidrProblem('2001:cafe:42::/56')).toBe('"2001:cafe:42::/56" is an IPv6 CIDR; the lab is IPv4 only');
  });
  it('sizes, containment and overlap, /0 and /32 included', () => {
    expect(size(parseCidr('10.42.0.0/24'))).toBe(256);
    expect(size(parseCidr('10.42.0.1/32'))).toBe(1);
    expect(size(parseCidr('0.0.0.0/0'))).toBe(2 ** 32);
    expect(contains(parseCidr('10.43.0.0/16'), '10.43.0.10')).toBe(true);
    expect(contains(parseCidr('10.43.0.0/16'), '10.43.255.255')).toBe(true);
    expect(contains(parseCidr('10.43.0.0/16'), '10.44.0.0')).toBe(false);
    expect(contains(parseCidr('10.43.0.0/16'), ipToInt('10.42.255.255'))).toBe(false);
    expect(contains(parseCidr('0.0.0.0/0'), '255.255.255.255')).toBe(true);
    expect(contains(parseCidr('10.42.0.7/32'), '10.42.0.7')).toBe(true);
    expect(contains(parseCidr('10.42.0.7/32'), '10.42.0.8')).toBe(false);
    expect(() => contains(parseCidr('10.43.0.0/16'), '10.43.0')).toThrow('invalid IPv4 address');
    expect(overlaps(parseCidr('10.42.0.0/16'), parseCidr('10.42.128.0/17'))).toBe(true);
    expect(overlaps(parseCidr('10.42.0.0/16'), parseCidr('10.43.0.0/16'))).toBe(false);
    expect(overlaps(parseCidr('0.0.0.0/0'), parseCidr('10.43.0.0/16'))).toBe(true);
  });
  it('inCidr answers false, not an error, for what does not parse', () => {
    expect(inCidr('10.42.0.0/24', '10.42.0.5')).toBe(true);
    expect(inCidr('10.42.0.0/24', '10.42.1.5')).toBe(false);
    expect(inCidr('10.42.0.5', '10.42.0.5')).toBe(false); // a host route as `ip route` prints it is no CIDR
    expect(inCidr(undefined, '10.42.0.5')).toBe(false);
    expect(inCidr('default', '10.42.0.5')).toBe(false);
    expect(inCidr('10.42.0.0/24', 'fe80::1')).toBe(false);
  });
  it('gives address n of a network: the gateway is #1', () => {
    const pods = parseCidr('10.42.0.0/24');
    expect(nth(pods, 0)).toBe('10.42.0.0');
    expect(nth(pods, 1)).toBe('10.42.0.1');
    expect(nth(pods, 255)).toBe('10.42.0.255');
    expect(nth(parseCidr('10.42.0.7/32'), 0)).toBe('10.42.0.7');
    expect(nth(parseCidr('0.0.0.0/0'), 2 ** 32 - 1)).toBe('255.255.255.255');
    expect(() => nth(parseCidr('10.42.255.0/24'), 256)).toThrow('no address #256 in 10.42.255.0/24');
    expect(() => nth(parseCidr('10.42.0.7/32'), 1)).toThrow('no address #1 in 10.42.0.7/32');
    expect(() => nth(pods, -1)).toThrow('no address #-1');
  });
  it('gives node i the i-th subnet of the cluster CIDR', () => {
    const cluster = parseCidr('10.42.0.0/16');
    expect(formatCidr(nthSubnet(cluster, 24, 0))).toBe('10.42.0.0/24');
    expect(formatCidr(nthSubnet(cluster, 24, 7))).toBe('10.42.7.0/24');
    expect(formatCidr(nthSubnet(cluster, 24, 255))).toBe('10.42.255.0/24');
    expect(nth(nthSubnet(cluster, 24, 1), 1)).toBe('10.42.1.1');
    expect(formatCidr(nthSubnet(cluster, 16, 0))).toBe('10.42.0.0/16');
    expect(formatCidr(nthSubnet(cluster, 32, 65535))).toBe('10.42.255.255/32');
    expect(formatCidr(nthSubnet(parseCidr('0.0.0.0/0'), 8, 10))).toBe('10.0.0.0/8');
    expect(() => nthSubnet(cluster, 24, 256)).toThrow('no subnet #256 of /24 in 10.42.0.0/16');
    expect(() => nthSubnet(cluster, 8, 0)).toThrow('node CIDR mask /8 is larger than the cluster CIDR /16');
    expect(() => nthSubnet(cluster, 33, 0)).toThrow('longer than /32');
  });
});
