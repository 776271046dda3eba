// The CNI runtime's pure parts: the conflist k3s writes, the delegate config flannel's plugin
// builds from subnet.env, each plugin's config and environment as libcni makes them, and plugin
// results and errors read as libcni reads them.
import { describe, expect, it } from 'vitest';
import { k3sConflist, LOOPBACK } from '../../src/cni/conflist.ts';
import { delegateConfig } from '../../src/cni/flannel.ts';
import { nodeCniDirs } from '../../src/cni/pod-network.ts';
import { containerIPs, goJson, hostVeth, parseNetConf, parseResult, PluginListError, pluginConfig, pluginEnv, pluginFailure, validateRuntimeConf, versionAtLeast, type RuntimeConf } from '../../src/cni/spec.ts';
import { parseSubnetEnv } from '../../src/flannel/subnet-env.ts';
import { instancePaths } from '../../src/node/instance.ts';

const paths = instancePaths('lab');
const dirs = nodeCniDirs(paths, 'labs');
const rt: RuntimeConf = { containerId: 'a'.repeat(64), netns: '/run/netns/lab-web-1', ifName: 'eth0', args: [['IgnoreUnknown', '1'], ['K8S_POD_NAME', 'web-1']], capabilityArgs: { portMappings: [] } };
// What the bridge plugin (containernetworking-plugins 1.1.1) printed for a pod, verbatim.
const BRIDGE_RESULT = '{"cniVersion":"1.0.0","interfaces":[{"name":"cni0","mac":"76:a2:18:08:53:26"},{"name":"vethf6505b16","mac":"82:47:8a:a3:e8:33"},{"name":"eth0","mac":"66:38:e4:93:d6:b5","sandbox":"/run/netns/lab-web-1"}],"ips":[{"interface":2,"address":"10.42.0.2/24","gateway":"10.42.0.1"}],"routes":[{"dst":"10.42.0.0/16"},{"dst":"0.0.0.0/0","gw":"10.42.0.1"}],"dns":{}}';

describe("the node's CNI files", () => {
  it('sit in the node directory of the instance, as /var/lib/cni and the agent config directory on a k3s node', () => {
    expect(dirs).toEqual({
      confDir: '/run/packet-path-lab/lab/nodes/labs/agent/etc/cni/net.d',
      subnetFile: '/run/packet-path-lab/lab/nodes/labs/run/flannel/subnet.env',
      ipamDataDir: '/run/packet-path-lab/lab/nodes/labs/cni/networks',
      flannelDataDir: '/run/packet-path-lab/lab/nodes/labs/cni/flannel',
      cacheDir: '/run/packet-path-lab/lab/nodes/labs/cni',
    });
  });

  it("the conflist is k3s's (flannel delegating, portmap, bandwidth), with the node's own file paths", () => {
    const list = k3sConflist(dirs);
    expect(list).toMatchObject({ name: 'cbr0', cniVersion: '1.0.0' });
    expect(list.plugins.map((p) => p.type)).toEqual(['flannel', 'portmap', 'bandwidth']);
    expect(list.plugins[0]).toEqual({ type: 'flannel', subnetFile: dirs.subnetFile, dataDir: dirs.flannelDataDir, ipam: { dataDir: dirs.ipamDataDir }, delegate: { hairpinMode: true, forceAddress: true, isDefaultGateway: true } });
    expect(list.plugins[1]).toEqual({ type: 'portmap', capabilities: { portMappings: true } });
    expect(list.plugins[2]).toEqual({ type: 'bandwidth', capabilities: { bandwidth: true } });
    expect(LOOPBACK.list).toEqual({ cniVersion: '0.3.1', name: 'cni-loopback', plugins: [{ type: 'loopback' }] });
  });
});

describe("flannel's delegate", () => {
  const env = parseSubnetEnv('FLANNEL_NETWORK=10.42.0.0/16\nFLANNEL_SUBNET=10.42.0.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n');
  const conf = { ...k3sConflist(dirs).plugins[0]!, name: 'cbr0', cniVersion: '1.0.0' } as Parameters<typeof delegateConfig>[0];

  it('is the bridge on cni0 with host-local over FLANNEL_SUBNET and a route to FLANNEL_NETWORK, MTU from subnet.env', () => {
    expect(delegateConfig(conf, env)).toEqual({
      name: 'cbr0',
      cniVersion: '1.0.0',
      type: 'bridge',
      hairpinMode: true,
      forceAddress: true,
      isDefaultGateway: true,
      isGateway: true,
      // flanneld masquerades (FLANNEL_IPMASQ=true): the bridge plugin must not as well.
      ipMasq: false,
      mtu: 1450,
      ipam: { type: 'host-local', dataDir: dirs.ipamDataDir, ranges: [[{ subnet: '10.42.0.0/24' }]], routes: [{ dst: '10.42.0.0/16' }] },
    });
  });

  it('masquerades itself when flanneld does not; keys the conflist sets win; name and ipam are flannel\'s', () => {
    expect(delegateConfig(conf, { ...env, ipMasq: false }).ipMasq).toBe(true);
    expect(delegateConfig({ ...conf, delegate: { mtu: 1400 } }, env).mtu).toBe(1400);
    expect(() => delegateConfig({ ...conf, delegate: { name: 'x' } }, env)).toThrow("'delegate' dictionary must not have 'name' field, it'll be set by flannel");
    expect(() => delegateConfig({ ...conf, delegate: { ipam: {} } }, env)).toThrow("'delegate' dictionary must not have 'ipam' field");
  });
});

describe("a plugin's input, as libcni makes it", () => {
  const list = k3sConflist(dirs);
  it('each plugin gets the list name and version, the previous result, and runtimeConfig for the capabilities it declares', () => {
    const prev = parseResult(BRIDGE_RESULT);
    expect(pluginConfig(list, list.plugins[1]!, prev, rt)).toEqual({ type: 'portmap', capabilities: { portMappings: true }, name: 'cbr0', cniVersion: '1.0.0', prevResult: prev, runtimeConfig: { portMappings: [] } });
    // bandwidth declares bandwidth, which the runtime has no data for: no runtimeConfig.
    expect(pluginConfig(list, list.plugins[2]!, prev, rt)).not.toHaveProperty('runtimeConfig');
    expect(pluginConfig(list, list.plugins[0]!, undefined, rt)).not.toHaveProperty('prevResult');
  });

  it('the environment carries the arguments', () => {
    expect(pluginEnv('ADD', rt, ['/usr/lib/cni'])).toEqual({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: rt.containerId, CNI_NETNS: '/run/netns/lab-web-1', CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=web-1', CNI_IFNAME: 'eth0', CNI_PATH: '/usr/lib/cni' });
  });

  it("stdin is Go's JSON of a map: keys sorted", () => {
    expect(goJson({ type: 'bridge', ipam: { type: 'host-local', dataDir: '/d' }, name: 'cbr0' })).toBe('{"ipam":{"dataDir":"/d","type":"host-local"},"name":"cbr0","type":"bridge"}');
  });

  it('refuses IDs and interface names that would end up in file names or the kernel wrongly', () => {
    expect(() => validateRuntimeConf({ ...rt, containerId: '../x' }, 'cbr0')).toThrow('invalid characters in containerID');
    expect(() => validateRuntimeConf({ ...rt, ifName: 'a-very-long-ifname' }, 'cbr0')).toThrow('interface name');
    expect(() => validateRuntimeConf({ ...rt, args: [['K8S_POD_NAME', 'a;b']] }, 'cbr0')).toThrow('invalid CNI_ARGS');
    expect(() => validateRuntimeConf(rt, 'cbr0')).not.toThrow();
  });
});

describe("a plugin's output", () => {
  it('the result: the pod address and the host end of its veth', () => {
    const r = parseResult(BRIDGE_RESULT);
    expect(containerIPs(r)).toEqual(['10.42.0.2']);
    expect(hostVeth(r, 'cni0')).toBe('vethf6505b16');
  });

  it('errors: the error object on stdout, or what a plugin that printed none said', () => {
    expect(pluginFailure(1, '{"code":999,"msg":"container veth name provided (eth0) already exists"}', '').message).toBe('container veth name provided (eth0) already exists');
    expect(pluginFailure(1, '{"code":11,"msg":"busy","details":"try again"}', '')).toMatchObject({ code: 11, message: 'busy; try again' });
    // Debian's bandwidth 1.1.1 on CHECK without a bandwidth config: a Go panic, exit 2.
    expect(pluginFailure(2, '', 'panic: runtime error: invalid memory address or nil pointer dereference\n').message).toBe('netplugin failed: "panic: runtime error: invalid memory address or nil pointer dereference\\n"');
    expect(pluginFailure(1, '', '').message).toBe('netplugin failed with no error message: exit status 1');
    expect(pluginFailure(1, 'oops', '').message).toMatch(/^netplugin failed but error parsing its diagnostic message "oops"/);
  });

  it('a failed plugin of a list is named the way kubectl describe shows it', () => {
    const e = new PluginListError('flannel', 'ADD', new Error('failed to delegate add: failed to allocate for range 0: no IP addresses available in range set: 10.42.0.1-10.42.0.2'));
    expect(e.message).toBe('plugin type="flannel" failed (add): failed to delegate add: failed to allocate for range 0: no IP addresses available in range set: 10.42.0.1-10.42.0.2');
    expect(new PluginListError('bridge', 'DEL', new Error('x')).message).toBe('plugin type="bridge" failed (delete): x');
  });
});

describe('network configuration files', () => {
  it('a list, or a single config read as a list of one; refused with the file named', () => {
    expect(parseNetConf(JSON.stringify(k3sConflist(dirs)), 'f').plugins).toHaveLength(3);
    expect(parseNetConf('{"cniVersion":"0.4.0","name":"n","type":"bridge","bridge":"br0"}', 'f')).toEqual({ cniVersion: '0.4.0', name: 'n', plugins: [{ type: 'bridge', bridge: 'br0' }] });
    expect(() => parseNetConf('{', '/etc/cni/net.d/10-x.conflist')).toThrow(/^\/etc\/cni\/net\.d\/10-x\.conflist: error parsing configuration/);
    expect(() => parseNetConf('{"cniVersion":"1.0.0","name":"n","plugins":[]}', 'f')).toThrow('no plugins in list');
    expect(() => parseNetConf('{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"../../bin/sh"}]}', 'f')).toThrow('plugin 0: no valid "type"');
  });

  it('versions: CHECK and cached results on DEL from 0.4.0', () => {
    expect(versionAtLeast('1.0.0', '0.4.0')).toBe(true);
    expect(versionAtLeast('0.3.1', '0.4.0')).toBe(false);
    expect(versionAtLeast('0.4.0', '0.4.0')).toBe(true);
  });
});
