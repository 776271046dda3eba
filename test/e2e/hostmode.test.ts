// Host mode, as inside the Vagrant VM: the server (`lab up`) runs in a namespace made to look
// like the VM (eth1 192.168.56.110, and the mark scripts/provision.sh writes, here a file of the
// test's own named by LAB_HOST_MODE_MARK), which it takes for the node itself; a laptop namespace
// reaches it over a veth pair. The admin kubeconfig k3s writes to /etc/rancher/k3s/k3s.yaml goes
// to a file of the test's own too (LAB_K3S_KUBECONFIG: the machine's /etc is not the stand-in's).
// Also: rules the lab did not create survive up, sync and down.
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { instancePaths } from '../../src/node/instance.ts';
import { cmd, curl, inNetns, instanceName, isRoot, LAB_BIN } from './helpers.ts';

const I = instanceName('e2eh');
const VM = `pplt-vm-${process.pid.toString(36)}`;
const LAPTOP = `pplt-laptop-${process.pid.toString(36)}`;

/**
 * `lab` run inside the VM namespace, so its own namespace is the node. nsenter switches only the
 * network namespace: `ip netns exec` would also give it a private mount namespace, and the pod
 * namespaces it mounts under /run/netns would vanish with it, as they never would in a VM.
 */
let markDir = '';
const labInVm = (args: string[]) => cmd(['nsenter', `--net=/run/netns/${VM}`, '--', process.execPath, LAB_BIN, ...args, '--name', I], { timeoutMs: 120_000, env: { LAB_HOST_MODE_MARK: path.join(markDir, 'host-mode'), LAB_K3S_KUBECONFIG: kubeconfig() } });
const kubeconfig = () => path.join(markDir, 'k3s.yaml');

async function ok(p: Promise<{ code: number; stderr: string; stdout: string }>): Promise<string> {
  const r = await p;
  if (r.code !== 0) throw new Error(`failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

const foreignNat = '-A PREROUTING -s 203.0.113.7/32 -m comment --comment "someone else" -j RETURN';
const foreignFilter = '-A FORWARD -s 203.0.113.7/32 -m comment --comment "someone else" -j DROP';

describe.skipIf(!isRoot)('host mode: the controller in a VM-like namespace', () => {
  beforeAll(async () => {
    markDir = await mkdtemp(path.join(tmpdir(), 'pplt-mark-'));
    await writeFile(path.join(markDir, 'host-mode'), '# test: this namespace is the lab VM\n');
    await ok(cmd(['ip', 'netns', 'add', VM]));
    await ok(cmd(['ip', 'netns', 'add', LAPTOP]));
    await ok(cmd(['ip', '-n', VM, 'link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'vboxnet0', 'netns', LAPTOP]));
    await ok(cmd(['ip', '-n', VM, 'addr', 'add', '192.168.56.110/24', 'dev', 'eth1']));
    await ok(cmd(['ip', '-n', LAPTOP, 'addr', 'add', '192.168.56.1/24', 'dev', 'vboxnet0']));
    for (const [ns, dev] of [[VM, 'eth1'], [VM, 'lo'], [LAPTOP, 'vboxnet0'], [LAPTOP, 'lo']] as const) await ok(cmd(['ip', '-n', ns, 'link', 'set', dev, 'up']));
    await mkdir(`/etc/netns/${LAPTOP}`, { recursive: true });
    await writeFile(`/etc/netns/${LAPTOP}/hosts`, '127.0.0.1 localhost\n192.168.56.110 app1.com app2.com app3.com\n');
    // Rules that belong to someone else, there before the lab.
    await ok(inNetns(VM, ['iptables', '-t', 'nat', '-A', 'PREROUTING', '-s', '203.0.113.7/32', '-m', 'comment', '--comment', 'someone else', '-j', 'RETURN']));
    await ok(inNetns(VM, ['iptables', '-t', 'filter', '-A', 'FORWARD', '-s', '203.0.113.7/32', '-m', 'comment', '--comment', 'someone else', '-j', 'DROP']));
  });

  afterAll(async () => {
    await labInVm(['down']);
    await cmd(['ip', 'netns', 'delete', VM]);
    await cmd(['ip', 'netns', 'delete', LAPTOP]);
    await rm(`/etc/netns/${LAPTOP}`, { recursive: true, force: true });
    await rm(markDir, { recursive: true, force: true });
  });

  it('runs in host mode on the mark, serves app2.com to the laptop, and leaves foreign rules alone through up, sync and down', async () => {
    const up = await labInVm(['up']);
    expect(up.code, up.stderr).toBe(0);
    expect(await readFile(path.join(instancePaths(I).serverDir, 'server.log'), 'utf8')).toMatch(/^node labs \(host mode\): eth1 192\.168\.56\.110, cni0 /m);
    // The VM's own kubectl, with the kubeconfig k3s writes for it (0600), on 127.0.0.1:6443.
    expect((await stat(kubeconfig())).mode & 0o777).toBe(0o600);
    const nodes = await cmd(['nsenter', `--net=/run/netns/${VM}`, '--', 'kubectl', '--kubeconfig', kubeconfig(), 'get', 'nodes']);
    expect(nodes.stdout, nodes.stderr).toMatch(/^labs\s+Ready\s+control-plane,master\s/m);
    // cni0 and the KUBE chains are in the VM namespace itself; no <instance>-node namespace.
    expect((await cmd(['ip', '-n', VM, 'link', 'show', 'cni0'])).code).toBe(0);
    expect((await cmd(['ip', 'netns', 'list'])).stdout).not.toContain(`${I}-node`);
    for (let i = 0; i < 6; i++) expect((await curl(LAPTOP, 'http://app2.com/')).stdout).toContain('Welcome to App 2!');
    expect((await curl(LAPTOP, 'http://app1.com/')).stdout).toContain('Hello from app1.');
    // A second up (another full sync) duplicates nothing and keeps the foreign rules.
    const rules = async (table: string) => (await ok(inNetns(VM, ['iptables-save', '-t', table]))).split('\n').filter((l) => l.startsWith('-A'));
    const natBefore = await rules('nat');
    await ok(labInVm(['up']));
    expect(await rules('nat')).toEqual(natBefore);
    expect(natBefore).toContain(foreignNat);
    expect(await rules('filter')).toContain(foreignFilter);
    // down: no KUBE-* chain or jump left, the foreign rules still there.
    await ok(labInVm(['down']));
    const nat = await ok(inNetns(VM, ['iptables-save', '-t', 'nat']));
    const filter = await ok(inNetns(VM, ['iptables-save', '-t', 'filter']));
    expect(nat + filter).not.toMatch(/KUBE-/);
    expect(nat.split('\n')).toContain(foreignNat);
    expect(filter.split('\n')).toContain(foreignFilter);
    expect((await cmd(['ip', '-n', VM, 'link', 'show', 'cni0'])).code).not.toBe(0);
    expect((await cmd(['ip', 'netns', 'list'])).stdout).not.toContain(I);
    expect(existsSync(kubeconfig())).toBe(false); // this instance's kubeconfig goes with it
  });
});
