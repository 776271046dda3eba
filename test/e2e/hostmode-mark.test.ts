// Host mode only when asked, for the server (`lab up`). The lab runs inside a namespace made to look like the VM (eth1
// 192.168.56.110), never in the machine's root namespace: the addresses it checks node-ip against
// and the sysctls it changes are that namespace's. Without the lab VM's mark (LAB_HOST_MODE_MARK
// points at a file of the test's own), a node-ip the namespace holds is refused and nothing is
// made; with it, host mode, and `lab down` puts ip_forward and route_localnet back as they were.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { instancePaths } from '../../src/node/instance.ts';
import { cmd, inNetns, instanceName, isRoot, LAB_BIN } from './helpers.ts';

const I = instanceName('e2em');
const VM = `pplt-vmm-${process.pid.toString(36)}`;
const SYSCTLS = ['net.ipv4.ip_forward', 'net.ipv4.conf.all.route_localnet', 'net.bridge.bridge-nf-call-iptables'];
let dir = '';
let mark = '';

/** `lab` inside the VM namespace (nsenter: the network namespace only, as hostmode.test.ts explains). */
/** Host mode's kubeconfig (k3s's /etc/rancher/k3s/k3s.yaml) goes to the test's directory, as hostmode.test.ts explains. */
const labInVm = (args: string[]) => cmd(['nsenter', `--net=/run/netns/${VM}`, '--', process.execPath, LAB_BIN, ...args, '--name', I], { timeoutMs: 120_000, env: { LAB_HOST_MODE_MARK: mark, LAB_K3S_KUBECONFIG: path.join(dir, 'k3s.yaml') } });

async function ok(p: Promise<{ code: number; stderr: string; stdout: string }>): Promise<string> {
  const r = await p;
  if (r.code !== 0) throw new Error(`failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

async function sysctls(): Promise<Record<string, string>> {
  const out = await ok(inNetns(VM, ['sysctl', ...SYSCTLS]));
  return Object.fromEntries(out.trim().split('\n').map((l) => l.split(' = ') as [string, string]));
}

async function setSysctls(values: Record<string, string>): Promise<void> {
  await ok(inNetns(VM, ['sysctl', '-q', '-w', ...Object.entries(values).map(([k, v]) => `${k}=${v}`)]));
}

/** What the lab would make in the VM namespace: cni0, KUBE-* chains, a node namespace, the API's store, a running server. */
async function made(): Promise<string[]> {
  const out: string[] = [];
  if ((await cmd(['ip', '-n', VM, 'link', 'show', 'cni0'])).code === 0) out.push('cni0');
  const rules = (await ok(inNetns(VM, ['iptables-save']))) + (await ok(inNetns(VM, ['iptables-save', '-t', 'nat'])));
  if (/KUBE-/.test(rules)) out.push('KUBE-* chains');
  if ((await ok(cmd(['ip', 'netns', 'list']))).includes(`${I}-`)) out.push('namespaces');
  if (existsSync(instancePaths(I).storeFile)) out.push('store');
  if (existsSync(instancePaths(I).apiPortFile)) out.push('server');
  return out;
}

describe.skipIf(!isRoot)('host mode only when asked', () => {
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'pplt-mark-'));
    mark = path.join(dir, 'host-mode');
    await ok(cmd(['ip', 'netns', 'add', VM]));
    await ok(cmd(['ip', '-n', VM, 'link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'vboxnet0']));
    await ok(cmd(['ip', '-n', VM, 'addr', 'add', '192.168.56.110/24', 'dev', 'eth1']));
    for (const dev of ['eth1', 'vboxnet0', 'lo']) await ok(cmd(['ip', '-n', VM, 'link', 'set', dev, 'up']));
  });

  afterAll(async () => {
    await labInVm(['down']);
    await cmd(['ip', 'netns', 'delete', VM]);
    await rm(dir, { recursive: true, force: true });
  });

  it('without the mark, a node-ip the machine holds is refused with an explanation, and nothing is made', async () => {
    await setSysctls({ 'net.ipv4.ip_forward': '0', 'net.ipv4.conf.all.route_localnet': '0' });
    const before = await sysctls();
    expect(existsSync(mark)).toBe(false);
    const up = await labInVm(['up']);
    expect(up.code, up.stderr).not.toBe(0);
    expect(up.stderr).toContain(`node-ip 192.168.56.110 (${path.resolve('lab/config.yaml')}) is an address of this machine (eth1), but the machine is not marked as the lab VM (no ${mark})`);
    expect(up.stderr).toContain('Host mode makes the machine the lab runs on the node itself');
    expect(up.stderr).toContain('`lab up --mode host`');
    expect(up.stderr).toContain('`lab up --mode sandbox`');
    expect(await made()).toEqual([]);
    expect(await sysctls()).toEqual(before);
  });

  it('with the mark it runs in host mode, and down restores the sysctls it changed', async () => {
    await setSysctls({ 'net.ipv4.ip_forward': '0', 'net.ipv4.conf.all.route_localnet': '0' });
    const before = await sysctls();
    await writeFile(mark, '# test: this namespace is the lab VM\n');
    const up = await labInVm(['up']);
    expect(up.code, up.stderr).toBe(0);
    expect(await readFile(path.join(instancePaths(I).serverDir, 'server.log'), 'utf8')).toMatch(/^node labs \(host mode\): eth1 192\.168\.56\.110, /m);
    expect(await made()).toEqual(expect.arrayContaining(['cni0', 'KUBE-* chains', 'store', 'server']));
    expect((await ok(cmd(['ip', 'netns', 'list']))).includes(`${I}-node`)).toBe(false);
    expect(await sysctls()).toMatchObject({ 'net.ipv4.ip_forward': '1', 'net.ipv4.conf.all.route_localnet': '1' });
    // On record, before anything was changed: only the sysctls the lab changed, with their old values.
    const record = JSON.parse(await readFile(`/run/packet-path-lab/${I}/host-sysctls.json`, 'utf8')) as Record<string, string>;
    expect(record).toEqual(Object.fromEntries(Object.entries(before).filter(([, v]) => v !== '1')));
    // A second up (ip_forward already 1 by then) must not take the lab's values for the machine's.
    await ok(labInVm(['up']));
    await ok(labInVm(['down']));
    expect(await made()).toEqual([]);
    expect(await sysctls()).toEqual(before);
  });
});
