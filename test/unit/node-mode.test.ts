// Host mode only when asked: the pure choice between host and sandbox mode (src/node/mode.ts), and
// what host mode records of the machine's sysctls so that `lab down` can put them back.
import { describe, expect, it } from 'vitest';
import { decideMode, HOST_MODE_MARK, hostModeMarkPath, ModeRefusedError, type ModeInputs } from '../../src/node/mode.ts';
import { planSysctlRecord } from '../../src/node/setup.ts';

const base: ModeInputs = { nodeIP: '192.168.56.110', configFile: 'lab/config.yaml', markPath: HOST_MODE_MARK, marked: false };

function refusal(i: ModeInputs): string {
  try {
    decideMode(i);
  } catch (e) {
    if (e instanceof ModeRefusedError) return e.message;
    throw e;
  }
  throw new Error('not refused');
}

describe('decideMode', () => {
  it('sandbox by default; host only with the mark or --mode host', () => {
    expect(decideMode(base)).toBe('sandbox');
    expect(decideMode({ ...base, marked: true, holder: 'eth1' })).toBe('host');
    expect(decideMode({ ...base, requested: 'host', holder: 'eth1' })).toBe('host');
    expect(decideMode({ ...base, requested: 'sandbox', holder: 'eth1', marked: true })).toBe('sandbox');
  });

  it('a node-ip this machine holds, without the mark, is refused with what host mode is and how to ask for it', () => {
    const m = refusal({ ...base, holder: 'eth1' });
    expect(m).toContain('node-ip 192.168.56.110 (lab/config.yaml) is an address of this machine (eth1), but the machine is not marked as the lab VM (no /etc/packet-path-lab/host-mode)');
    expect(m).toMatch(/Host mode makes the machine the lab runs on the node itself: cni0, the KUBE-\* iptables chains .* ip_forward and route_localnet/);
    expect(m).toContain('scripts/provision.sh writes the mark /etc/packet-path-lab/host-mode');
    expect(m).toContain('`lab up --mode host`');
    expect(m).toContain('`lab up --mode sandbox`');
  });

  it('the mark with a node-ip no interface holds, or --mode host without it, is refused', () => {
    expect(refusal({ ...base, marked: true })).toMatch(/^this machine is marked as the lab VM \(\/etc\/packet-path-lab\/host-mode\), .* none of its interfaces holds node-ip 192\.168\.56\.110 \(lab\/config\.yaml\)/);
    expect(refusal({ ...base, requested: 'host' })).toMatch(/^--mode host makes this machine the node, but none of its interfaces holds node-ip 192\.168\.56\.110/);
  });

  it('a running instance keeps its mode', () => {
    expect(decideMode({ ...base, prior: 'host' })).toBe('host');
    expect(decideMode({ ...base, prior: 'sandbox', holder: 'eth1' })).toBe('sandbox');
  });

  it('the mark is /etc/packet-path-lab/host-mode unless LAB_HOST_MODE_MARK points elsewhere', () => {
    expect(hostModeMarkPath({})).toBe('/etc/packet-path-lab/host-mode');
    expect(hostModeMarkPath({ LAB_HOST_MODE_MARK: '/tmp/x/mark' })).toBe('/tmp/x/mark');
  });
});

describe('planSysctlRecord', () => {
  const wanted = { 'net.ipv4.ip_forward': '1', 'net.ipv4.conf.all.route_localnet': '1', 'net.bridge.bridge-nf-call-iptables': '1' };

  it('records only the sysctls the lab is about to change, with their values from before', () => {
    expect(planSysctlRecord({}, { 'net.ipv4.ip_forward': '0', 'net.ipv4.conf.all.route_localnet': '0', 'net.bridge.bridge-nf-call-iptables': '1' }, wanted)).toEqual({ 'net.ipv4.ip_forward': '0', 'net.ipv4.conf.all.route_localnet': '0' });
  });

  it('a second up keeps the values from before the first', () => {
    const first = planSysctlRecord({}, { 'net.ipv4.ip_forward': '0', 'net.ipv4.conf.all.route_localnet': '1' }, wanted);
    expect(first).toEqual({ 'net.ipv4.ip_forward': '0' });
    expect(planSysctlRecord(first, { 'net.ipv4.ip_forward': '1', 'net.ipv4.conf.all.route_localnet': '1' }, wanted)).toEqual(first);
  });
});
