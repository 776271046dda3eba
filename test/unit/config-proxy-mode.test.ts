// k3s's kube-proxy-arg in lab/config.yaml: proxy-mode=nftables selects kube-proxy's nftables mode.
import { describe, expect, it } from 'vitest';
import { parseClusterConfig } from '../../src/api/load.ts';
import { configRefusal } from './config-fixtures.ts';

describe('kube-proxy-arg', () => {
  it('iptables by default; proxy-mode=nftables (or --proxy-mode) selects nftables', () => {
    expect(parseClusterConfig('node-name: s\n', 'c.yaml', 'h').proxyMode).toBe('iptables');
    expect(parseClusterConfig('kube-proxy-arg: [proxy-mode=nftables]\n', 'c.yaml', 'h').proxyMode).toBe('nftables');
    expect(parseClusterConfig('kube-proxy-arg:\n  - --proxy-mode=nftables\n  - proxy-mode=iptables\n', 'c.yaml', 'h').proxyMode).toBe('iptables');
  });
  it('refuses other flags and modes, naming file and field', () => {
    const ipvs = configRefusal('kube-proxy-arg: [proxy-mode=ipvs]\n');
    expect(ipvs).toContain('lab/config.yaml');
    expect(ipvs).toContain('kube-proxy-arg');
    expect(ipvs).toContain('proxy-mode "ipvs" is not a mode');
    expect(configRefusal('kube-proxy-arg: [masquerade-all=true]\n')).toContain('kube-proxy flag "masquerade-all" is not one the lab');
    expect(configRefusal('kube-proxy-arg: [nftables]\n')).toContain('is not a kube-proxy flag such as "proxy-mode=nftables"');
  });
});
