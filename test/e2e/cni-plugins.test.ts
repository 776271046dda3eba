// The kubelet's CNI runtime against the real plugins (Debian's containernetworking-plugins), from
// the conflist k3s writes, in a node namespace of its own: what ADD makes in the kernel and in
// host-local's files, what DEL gives back (also twice, also after the namespace went), what a
// plugin's failure reads like, and the collection of an ADD cut short.
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheFile } from '../../src/cni/cache.ts';
import { writeNodeCniConfig } from '../../src/cni/node-config.ts';
import { attachmentAddresses, nodeCniDirs, PodNetworks, readAttachments, type CniNode, type SandboxRef } from '../../src/cni/pod-network.ts';
import { CniConfig, loadedList } from '../../src/cni/runtime.ts';
import { renderSubnetEnv } from '../../src/flannel/subnet-env.ts';
import { instancePaths } from '../../src/node/instance.ts';
import { parseCidr } from '../../src/util/cidr.ts';
import { addNetns, deleteNetns, listNetns } from '../../src/sys/ip.ts';
import { newId } from '../../src/kubelet/runc.ts';
import { cmd, inNetns, instanceName, isRoot } from './helpers.ts';

const I = instanceName('cnip');
const paths = instancePaths(I);
const NODE = `${I}-node`;
const node: CniNode = { name: 'labs', netns: NODE, paths };
const dirs = nodeCniDirs(paths, 'labs');
const pod = (name: string): SandboxRef => ({ name, namespace: 'default', uid: `uid-${name}`, netns: `${I}-${name}` });
const ipJson = async (netns: string, ...args: string[]) => JSON.parse((await cmd(['ip', '-n', netns, '-j', '-d', ...args])).stdout || '[]') as Record<string, unknown>[];
/** subnet.env as flanneld writes it for the node (no flanneld in this test). */
const writeSubnetEnv = async () => {
  await mkdir(path.dirname(dirs.subnetFile), { recursive: true });
  await writeFile(dirs.subnetFile, renderSubnetEnv({ network: parseCidr('10.42.0.0/16'), subnet: parseCidr('10.42.0.0/24'), mtu: 1450, ipMasq: true }));
};
const allocated = async () => (await readdir(path.join(dirs.ipamDataDir, 'cbr0')).catch(() => [] as string[])).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)).sort();

describe.skipIf(!isRoot)('CNI plugins, run as the kubelet runs them', () => {
  beforeAll(async () => {
    await addNetns([NODE]);
    await cmd(['ip', '-n', NODE, 'link', 'set', 'lo', 'up']);
    await writeNodeCniConfig({ name: 'labs' }, paths);
    await writeSubnetEnv();
  });
  afterAll(async () => {
    await deleteNetns(listNetns().filter((n) => n.startsWith(`${I}-`)));
    await rm(paths.stateDir, { recursive: true, force: true });
  });

  it('ADD of three pods at once: addresses from FLANNEL_SUBNET, cni0 as gateway, MTU 1450, hairpin, routes from flannel', async () => {
    const nets = await PodNetworks.load(node);
    expect(nets.describe()).toBe('cbr0 (10-flannel.conflist: flannel, portmap, bandwidth)');
    const pods = ['a', 'b', 'c'].map(pod);
    await addNetns(pods.map((p) => p.netns));
    const got = await Promise.all(pods.map((p) => nets.setUp(p, newId())));
    const ips = got.map((a) => attachmentAddresses(a).podIP!);
    expect(new Set(ips).size).toBe(3);
    for (const ip of ips) expect(ip).toMatch(/^10\.42\.0\.([2-9]|[1-9]\d+)$/);
    expect(await allocated()).toEqual([...ips].sort());

    // cni0: made by the bridge plugin (isGateway), with the gateway address and subnet.env's MTU.
    const [cni0] = await ipJson(NODE, 'addr', 'show', 'dev', 'cni0');
    expect(cni0).toMatchObject({ mtu: 1450, addr_info: expect.arrayContaining([expect.objectContaining({ local: '10.42.0.1', prefixlen: 24 })]) });
    for (const [i, a] of got.entries()) {
      const p = pods[i]!;
      const [eth0] = await ipJson(p.netns, 'addr', 'show', 'dev', 'eth0');
      expect(eth0).toMatchObject({ mtu: 1450, addr_info: expect.arrayContaining([expect.objectContaining({ local: ips[i], prefixlen: 24 })]) });
      // The result's host interface is the cni0 port the kernel pairs with this eth0, hairpin on.
      const [veth] = await ipJson(NODE, 'link', 'show', attachmentAddresses(a).veth!);
      expect(veth).toMatchObject({ ifindex: eth0!.link_index, master: 'cni0', mtu: 1450 });
      expect((veth!.linkinfo as { info_slave_data: { hairpin: boolean } }).info_slave_data.hairpin).toBe(true);
      const routes = (await cmd(['ip', '-n', p.netns, 'route'])).stdout;
      expect(routes).toContain('default via 10.42.0.1 dev eth0');
      expect(routes).toContain('10.42.0.0/16 via 10.42.0.1 dev eth0');
      // loopback, from containerd's own network.
      const [lo] = await ipJson(p.netns, 'addr', 'show', 'dev', 'lo');
      expect(lo!.flags).toContain('UP');
      // host-local's file names the sandbox (CNI_CONTAINERID) and interface; the cache holds the result.
      expect(await readFile(path.join(dirs.ipamDataDir, 'cbr0', ips[i]!), 'utf8')).toBe(`${a.containerId}\r\neth0`);
      const cached = JSON.parse(await readFile(cacheFile(dirs.cacheDir, 'cbr0', a.containerId, 'eth0'), 'utf8')) as Record<string, unknown>;
      expect(cached).toMatchObject({ kind: 'cniCacheV1', containerId: a.containerId, ifName: 'eth0', networkName: 'cbr0', netns: `/run/netns/${p.netns}`, result: a.result });
      expect(cached.cniArgs).toContainEqual(['K8S_POD_NAME', p.name]);
    }
    // flannel saved the config it gave bridge, for the DEL.
    const saved = JSON.parse(await readFile(path.join(dirs.flannelDataDir, got[0]!.containerId), 'utf8')) as Record<string, unknown>;
    expect(saved).toMatchObject({ type: 'bridge', name: 'cbr0', mtu: 1450, ipMasq: false, isGateway: true, hairpinMode: true, ipam: { type: 'host-local', ranges: [[{ subnet: '10.42.0.0/24' }]], routes: [{ dst: '10.42.0.0/16' }] } });
    // Pod to pod over cni0.
    const ping = await inNetns(pods[0]!.netns, ['busybox', 'ping', '-c', '1', '-W', '2', ips[1]!]);
    expect(ping.code, ping.stderr).toBe(0);
    expect((await readAttachments(paths, 'labs')).map((a) => a.netns).sort()).toEqual(pods.map((p) => p.netns).sort());
  });

  it('DEL gives the address back and is idempotent: twice, and after the namespace is gone', async () => {
    const nets = PodNetworks.forTeardown(node);
    const [a, b] = (await readAttachments(paths, 'labs')).sort((x, y) => x.netns.localeCompare(y.netns));
    await nets.tearDown(a!.containerId, a!.netns);
    expect(await ipJson(a!.netns, 'link', 'show', 'dev', 'eth0')).toEqual([]);
    expect(await allocated()).not.toContain(attachmentAddresses(a!).podIP);
    expect(existsSync(a!.file)).toBe(false);
    expect(existsSync(path.join(dirs.flannelDataDir, a!.containerId))).toBe(false);
    await nets.tearDown(a!.containerId, a!.netns); // again: nothing left, no error
    // The namespace deleted first (ip netns del): CNI_NETNS is empty, host-local still releases.
    await deleteNetns([b!.netns]);
    await nets.tearDown(b!.containerId, b!.netns);
    expect(await allocated()).not.toContain(attachmentAddresses(b!).podIP);
    expect(existsSync(b!.file)).toBe(false);
    await nets.tearDownNetns([`${I}-c`]);
    expect(await allocated()).toEqual([]);
    await deleteNetns([`${I}-a`, `${I}-c`]);
  });

  it("a plugin's failure names the plugin and says what went wrong; the failed setup leaves nothing", async () => {
    // A /30: host-local has one address to give (.2; .1 is the gateway).
    await writeFile(dirs.subnetFile, 'FLANNEL_NETWORK=10.42.0.0/16\nFLANNEL_SUBNET=10.42.0.1/30\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n');
    const nets = await PodNetworks.load(node);
    const [d, e] = [pod('d'), pod('e')];
    await addNetns([d.netns, e.netns]);
    const first = await nets.setUp(d, newId());
    expect(attachmentAddresses(first).podIP).toBe('10.42.0.2');
    const id = newId();
    const err = await nets.setUp(e, id).then(() => null, (x: Error) => x);
    expect(err?.message).toBe(`failed to setup network for sandbox "${id}": plugin type="flannel" failed (add): failed to delegate add: failed to allocate for range 0: no IP addresses available in range set: 10.42.0.1-10.42.0.2`);
    // Torn down again: no cached result (loopback's neither), no saved delegate config.
    expect((await readdir(path.join(dirs.cacheDir, 'results'))).filter((f) => f.includes(id))).toEqual([]);
    expect(existsSync(path.join(dirs.flannelDataDir, id))).toBe(false);

    await unlink(dirs.subnetFile);
    const noEnv = await nets.setUp(e, newId()).then(() => null, (x: Error) => x);
    expect(noEnv?.message).toContain(`plugin type="flannel" failed (add): failed to load flannel 'subnet.env' file: open ${dirs.subnetFile}: no such file or directory. Check the flannel pod log for this node.`);
    await nets.tearDown(first.containerId, d.netns);
    await deleteNetns([d.netns, e.netns]);
  });

  it('garbage collection: an ADD cut short before its result was cached is deleted through flannel, its address given back', async () => {
    await writeSubnetEnv();
    const nets = await PodNetworks.load(node);
    const [f, g] = [pod('f'), pod('g')];
    await addNetns([f.netns, g.netns]);
    const cut = await nets.setUp(f, newId());
    const kept = await nets.setUp(g, newId());
    // A server killed while bridge ran: loopback's result cached, the default network's not; only
    // flannel's saved config says that bridge had a sandbox. The pod itself is still there.
    await unlink(cut.file);
    expect(await allocated()).toHaveLength(2);
    const collected = await nets.collectGarbage(new Set([f.netns, g.netns]));
    expect(collected).toEqual([`unfinished ADD of sandbox ${cut.containerId.slice(0, 13)}`]);
    expect(await allocated()).toEqual([attachmentAddresses(kept).podIP]);
    expect((await readdir(path.join(dirs.cacheDir, 'results'))).filter((f) => f.includes(cut.containerId))).toEqual([]);
    expect(await ipJson(f.netns, 'link', 'show', 'dev', 'eth0')).toEqual([]);
    await deleteNetns([f.netns]);
    // A cached attachment of a namespace no pod has is torn down too.
    expect(await nets.collectGarbage(new Set())).toEqual([`${g.netns} (sandbox ${kept.containerId.slice(0, 13)})`]);
    expect(await allocated()).toEqual([]);
    await deleteNetns([g.netns]);
  });

  it('CHECK runs the list with the cached result; loopback (CNI 0.3.1) cannot be checked', async () => {
    // A list whose plugins can check themselves (bridge's CHECK wants every route with a gateway,
    // and Debian's bandwidth 1.1.1 crashes on CHECK without a bandwidth config: k3s's list is
    // never checked by the kubelet, which uses the cached result).
    const list = loadedList(JSON.stringify({ cniVersion: '1.0.0', name: 'chk', plugins: [{ type: 'bridge', bridge: 'chk0', isGateway: true, ipam: { type: 'host-local', dataDir: dirs.ipamDataDir, ranges: [[{ subnet: '10.99.0.0/24' }]], routes: [{ dst: '10.98.0.0/16', gw: '10.99.0.1' }] } }, { type: 'portmap', capabilities: { portMappings: true } }] }), 'chk');
    const cni = new CniConfig({ cacheDir: dirs.cacheDir, netns: NODE });
    const h = pod('h');
    await addNetns([h.netns]);
    const rt = { containerId: newId(), netns: `/run/netns/${h.netns}`, ifName: 'eth0', args: [], capabilityArgs: { portMappings: [] } };
    await cni.addNetworkList(list, rt);
    await cni.checkNetworkList(list, rt);
    await cmd(['ip', '-n', h.netns, 'route', 'del', '10.98.0.0/16']);
    await expect(cni.checkNetworkList(list, rt)).rejects.toThrow(/^plugin type="bridge" failed \(check\): Expected Route \{Dst:\{IP:10\.98\.0\.0 Mask:ffff0000\} GW:10\.99\.0\.1\} not found in routing table/);
    const { LOOPBACK } = await import('../../src/cni/conflist.ts');
    await expect(cni.checkNetworkList(LOOPBACK, { ...rt, ifName: 'lo' })).rejects.toThrow('configuration version "0.3.1" does not support the CHECK command');
    await cni.delNetworkList(list, rt);
    await deleteNetns([h.netns]);
    expect(await allocated()).toEqual([]);
  });
});
