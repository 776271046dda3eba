import { describe, expect, it } from 'vitest';
import { parseSubnetEnv, renderSubnetEnv } from '../../src/flannel/subnet-env.ts';
import { parseCidr } from '../../src/util/cidr.ts';

describe('subnet.env', () => {
  it('is written as flanneld writes it: FLANNEL_SUBNET with its first address', () => {
    const text = renderSubnetEnv({ network: parseCidr('10.42.0.0/16'), subnet: parseCidr('10.42.1.0/24'), mtu: 1450, ipMasq: true });
    expect(text).toBe('FLANNEL_NETWORK=10.42.0.0/16\nFLANNEL_SUBNET=10.42.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n');
  });
  it('reads back what it wrote', () => {
    const env = { network: parseCidr('10.42.0.0/16'), subnet: parseCidr('10.42.3.0/24'), mtu: 1450, ipMasq: false };
    expect(parseSubnetEnv(renderSubnetEnv(env))).toEqual(env);
  });
  it('names the missing key and refuses a bad MTU', () => {
    expect(() => parseSubnetEnv('FLANNEL_NETWORK=10.42.0.0/16\nFLANNEL_MTU=1450\n', '/run/flannel/subnet.env')).toThrow('/run/flannel/subnet.env: FLANNEL_SUBNET is missing');
    expect(() => parseSubnetEnv('FLANNEL_NETWORK=10.42.0.0/16\nFLANNEL_SUBNET=10.42.0.1/24\nFLANNEL_MTU=big\n')).toThrow('FLANNEL_MTU "big" is not an MTU');
  });
});
