import { describe, expect, it } from 'vitest';
import { annotationsToPatch, backendData, leaseChanged, nodeLease, normalizeMac, ownAnnotations, podCIDROf, storedVtepMac, type FlannelNode } from '../../src/flannel/annotations.ts';

/** A Node as another flannel left it (flannel v0.26, k3s v1.33, an IPv4 cluster). */
function flannelNode(name: string, extra: Partial<FlannelNode['metadata']> = {}, spec: FlannelNode['spec'] = { podCIDR: '10.42.1.0/24', podCIDRs: ['10.42.1.0/24'] }): FlannelNode {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: {
        'flannel.alpha.coreos.com/backend-data': '{"VNI":1,"VtepMAC":"6E:11:22:33:44:66"}',
        'flannel.alpha.coreos.com/backend-type': 'vxlan',
        'flannel.alpha.coreos.com/kube-subnet-manager': 'true',
        'flannel.alpha.coreos.com/public-ip': '192.168.56.111',
        'k3s.io/node-args': '["agent"]',
      },
      ...extra,
    },
    spec,
  };
}

describe("flannel's Node annotations (kube subnet manager)", () => {
  it('publishes exactly the four annotations flannel writes, backend-data byte for byte as Go marshals it', () => {
    const own: FlannelNode = { metadata: { name: 'labs' }, spec: { podCIDR: '10.42.0.0/24' } };
    const want = ownAnnotations(own, { publicIP: '192.168.56.110', vtepMac: '5e:11:22:33:44:55' });
    expect(want).toEqual({
      'flannel.alpha.coreos.com/backend-data': '{"VNI":1,"VtepMAC":"5e:11:22:33:44:55"}',
      'flannel.alpha.coreos.com/backend-type': 'vxlan',
      'flannel.alpha.coreos.com/kube-subnet-manager': 'true',
      'flannel.alpha.coreos.com/public-ip': '192.168.56.110',
    });
    expect(annotationsToPatch(own, want)).toEqual(want);
    expect(annotationsToPatch({ ...own, metadata: { name: 'labs', annotations: { ...want, other: 'x' } } }, want)).toBeNull();
    expect(backendData('aa:bb:cc:dd:ee:ff')).toBe('{"VNI":1,"VtepMAC":"aa:bb:cc:dd:ee:ff"}');
  });

  it('public-ip-overwrite (k3s sets it for --node-external-ip) wins over the interface address', () => {
    const own: FlannelNode = { metadata: { name: 'labs', annotations: { 'flannel.alpha.coreos.com/public-ip-overwrite': '203.0.113.7' } } };
    expect(ownAnnotations(own, { publicIP: '192.168.56.110', vtepMac: '5e:11:22:33:44:55' })['flannel.alpha.coreos.com/public-ip']).toBe('203.0.113.7');
  });

  it("reads another node's lease: spec.podCIDR(s), the VTEP MAC from backend-data, public-ip", () => {
    expect(nodeLease(flannelNode('labsw'))).toEqual({ lease: { node: 'labsw', subnet: '10.42.1.0/24', publicIP: '192.168.56.111', vtepMac: '6e:11:22:33:44:66' } });
    expect(nodeLease(flannelNode('labsw', {}, { podCIDR: '10.42.2.0/24' }))).toMatchObject({ lease: { subnet: '10.42.2.0/24' } });
    expect(podCIDROf({ metadata: { name: 'x' }, spec: { podCIDR: 'fd00::/64', podCIDRs: ['fd00::/64', '10.42.3.0/24'] } })).toBe('10.42.3.0/24');
  });

  it('skips nodes that are not (yet) flannel leases, saying why', () => {
    const a = flannelNode('x').metadata.annotations!;
    const without = (k: string) => Object.fromEntries(Object.entries(a).filter(([key]) => key !== k));
    expect(nodeLease(flannelNode('labsw', { annotations: without('flannel.alpha.coreos.com/kube-subnet-manager') }))).toEqual({ skipped: 'node labsw has no flannel.alpha.coreos.com/kube-subnet-manager: "true" annotation', quiet: true });
    expect(nodeLease(flannelNode('labsw', {}, {}))).toEqual({ skipped: 'node labsw has no IPv4 spec.podCIDR' });
    expect(nodeLease(flannelNode('labsw', { annotations: without('flannel.alpha.coreos.com/public-ip') }))).toMatchObject({ skipped: expect.stringMatching(/^node labsw: flannel.alpha.coreos.com\/public-ip "" is not a valid IPv4 address/) });
    expect(nodeLease(flannelNode('labsw', { annotations: { ...a, 'flannel.alpha.coreos.com/backend-type': 'host-gw' } }))).toEqual({ skipped: 'node labsw: ignoring non-vxlan subnet 10.42.1.0/24: type=host-gw' });
    expect(nodeLease(flannelNode('labsw', { annotations: { ...a, 'flannel.alpha.coreos.com/backend-data': '{"VNI":1,"VtepMAC":"x; rm -rf"}' } }))).toMatchObject({ skipped: expect.stringContaining('error decoding subnet lease JSON') });
    expect(nodeLease(flannelNode('labsw', { annotations: { ...a, 'flannel.alpha.coreos.com/public-ip': '1.2.3.4 dev lo' } }))).toMatchObject({ skipped: expect.stringContaining('is not a valid IPv4 address') });
  });

  it('the stored MAC a restarted flannel reuses; MAC normalisation', () => {
    expect(storedVtepMac(flannelNode('labs'))).toBe('6e:11:22:33:44:66');
    expect(storedVtepMac({ metadata: { name: 'labs', annotations: { 'flannel.alpha.coreos.com/backend-data': 'null' } } })).toBeUndefined();
    expect(storedVtepMac(undefined)).toBeUndefined();
    expect(normalizeMac('AA-BB-CC-DD-EE-FF')).toBe('aa:bb:cc:dd:ee:ff');
    expect(normalizeMac('aa:bb:cc:dd:ee')).toBeUndefined();
  });

  it('a heartbeat is no lease change; a new MAC, IP, backend or pod CIDR is', () => {
    const n = flannelNode('labsw');
    expect(leaseChanged(n, { ...n, metadata: { ...n.metadata, resourceVersion: '9', labels: { a: 'b' } } })).toBe(false);
    expect(leaseChanged(n, flannelNode('labsw', { annotations: { ...n.metadata.annotations, 'flannel.alpha.coreos.com/public-ip': '192.168.56.121' } }))).toBe(true);
    expect(leaseChanged(n, flannelNode('labsw', {}, { podCIDR: '10.42.5.0/24' }))).toBe(true);
  });
});
