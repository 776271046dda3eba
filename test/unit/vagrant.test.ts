// The Vagrant VM's files, checked without a VM: shellcheck on scripts/*.sh, `vagrant validate` on
// the Vagrantfile (issue 6 acceptance), and the Vagrantfile's settings read back by evaluating it
// in Ruby against a recorder (box, hostname, address, synced folder, provisioner, LAB_* variables).
// Each part skips, saying so in its title, when its tool is missing (CI: apt packages shellcheck
// and vagrant; vagrant brings ruby; vagrant-libvirt is optional).
import { accessSync, chmodSync, constants, copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOST_MODE_MARK } from '../../src/node/mode.ts';

const ROOT = resolve(import.meta.dirname, '../..');

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

const skipNote = (cmd: string, pkg: string) => (onPath(cmd) ? '' : ` (skipped: ${cmd} not installed; apt-get install ${pkg})`);

interface Ran {
  exitCode: number;
  stdout: string;
  stderr: string;
}

async function exec(file: string, args: string[], env: Record<string, string> = {}, input?: string): Promise<Ran> {
  const r = await execa(file, args, { env: { LC_ALL: 'C', ...env }, input, reject: false, timeout: 60_000 });
  return { exitCode: r.exitCode ?? 1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

// ---------------------------------------------------------------------------------------------
describe(`shellcheck scripts/*.sh${skipNote('shellcheck', 'shellcheck')}`, () => {
  const scripts = readdirSync(join(ROOT, 'scripts'))
    .filter((f) => f.endsWith('.sh'))
    .sort();

  it('finds the provisioner among the scripts', () => {
    expect(scripts).toContain('provision.sh');
  });

  it.skipIf(!onPath('shellcheck'))('passes on every script', async () => {
    const r = await exec('shellcheck', scripts.map((s) => join(ROOT, 'scripts', s)));
    expect(r.stdout + r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
  });

  it.skipIf(!onPath('shellcheck'))('reports a real mistake (the check can fail)', async () => {
    const r = await exec('shellcheck', ['-s', 'bash', '-'], {}, '#!/bin/bash\nrm -rf $1/*\n');
    expect(r.exitCode).not.toBe(0);
    expect(r.stdout).toContain('SC2086');
  });
});

// ---------------------------------------------------------------------------------------------
describe('scripts/provision.sh', () => {
  const text = readFileSync(join(ROOT, 'scripts/provision.sh'), 'utf8');
  const code = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n');

  it('is strict bash', () => {
    expect(text.split('\n')[0]).toBe('#!/usr/bin/env bash');
    expect(code).toMatch(/^set -euo pipefail$/m);
  });

  it('installs every tool the lab drives, in one apt-get install', () => {
    const install = /apt-get install -y -q --no-install-recommends((?:[^\n]*\\\n)*[^\n]*)/.exec(code);
    expect(install).not.toBeNull();
    const pkgs = install![1]!.split(/[\s\\]+/).filter(Boolean);
    for (const p of ['iptables', 'busybox-static', 'tcpdump', 'conntrack', 'nginx', 'dnsutils', 'curl', 'iproute2', 'util-linux']) {
      expect(pkgs, p).toContain(p);
    }
  });

  it('keeps the distro nginx off port 80, loads br_netfilter for good, installs Node 20, runs npm ci', () => {
    expect(code).toMatch(/systemctl stop nginx/);
    expect(code).toMatch(/systemctl mask nginx/);
    expect(code).toMatch(/modprobe br_netfilter/);
    expect(code).toMatch(/br_netfilter[^\n]*> \/etc\/modules-load\.d\/[\w.-]+\.conf/);
    expect(code).toMatch(/^NODE_MAJOR=20$/m);
    expect(code).toMatch(/https:\/\/deb\.nodesource\.com\/node_\$\{NODE_MAJOR\}\.x/);
    expect(code).toMatch(/npm ci/);
    expect(code).toMatch(/^REPO_DIR=\$\{LAB_REPO_DIR:-\/vagrant\}$/m);
  });

  it('marks the VM for host mode at the path the lab checks', () => {
    expect(HOST_MODE_MARK).toBe('/etc/packet-path-lab/host-mode');
    expect(code).toContain(`install -d -m 0755 ${HOST_MODE_MARK.slice(0, HOST_MODE_MARK.lastIndexOf('/'))}`);
    expect(code).toContain(`cat > ${HOST_MODE_MARK} <<'EOF'`);
  });
});

// ---------------------------------------------------------------------------------------------
// Evaluates the Vagrantfile with a stand-in `Vagrant.configure` that records every setting, so
// the values (not just the syntax) are checked, with any LAB_* environment.
const RECORDER = String.raw`
require 'json'
class Rec
  def initialize; @h = {}; end
  def method_missing(name, *args, **kw, &blk)
    n = name.to_s
    if n == 'provider'
      conf = Rec.new
      blk.call(conf, Rec.new) if blk
      (@h['providers'] ||= {})[args[0].to_s] = conf
      return nil
    end
    return (@h[n.chomp('=')] = args[0]) if n.end_with?('=')
    return (@h[n] ||= Rec.new) if args.empty? && kw.empty? && blk.nil?
    (@h[n + '()'] ||= []) << { 'args' => args, 'opts' => kw }
    nil
  end
  def respond_to_missing?(*) = true
  def to_json(*a) = @h.to_json(*a)
end
module Vagrant
  CONFIGS = []
  def self.configure(version)
    raise "unexpected config version #{version}" unless version.to_s == '2'
    c = Rec.new
    yield c
    CONFIGS << c
  end
end
load ARGV[0]
puts JSON.generate(Vagrant::CONFIGS)
`;

interface Call {
  args: unknown[];
  opts: Record<string, unknown>;
}
interface VmConfig {
  box: string;
  hostname: string;
  'network()': Call[];
  'synced_folder()': Call[];
  'provision()': Call[];
  providers: Record<string, { memory: number; cpus: number; [k: string]: unknown }>;
}

async function readVagrantfile(env: Record<string, string> = {}): Promise<{ vm: VmConfig } | Ran> {
  const r = await exec('ruby', ['-', join(ROOT, 'Vagrantfile')], env, RECORDER);
  if (r.exitCode !== 0) return r;
  const configs = JSON.parse(r.stdout) as { vm: VmConfig }[];
  expect(configs).toHaveLength(1);
  return configs[0]!;
}

async function vmOf(env: Record<string, string> = {}): Promise<VmConfig> {
  const c = await readVagrantfile(env);
  if (!('vm' in c)) throw new Error(`Vagrantfile failed to load:\n${c.stderr}`);
  return c.vm;
}

describe(`Vagrantfile settings${skipNote('ruby', 'vagrant (brings ruby)')}`, () => {
  const run = it.skipIf(!onPath('ruby'));

  run('Debian 12 box, hostname labS, 192.168.56.110, repo at /vagrant, provision.sh', async () => {
    const vm = await vmOf();
    expect(vm.box).toBe('debian/bookworm64');
    expect(vm.hostname).toBe('labS');
    expect(vm['network()']).toEqual([{ args: ['private_network'], opts: { ip: '192.168.56.110' } }]);

    const folders = vm['synced_folder()'];
    expect(folders).toHaveLength(1);
    expect(folders[0]!.args).toEqual(['.', '/vagrant']);
    expect(folders[0]!.opts.type).toBe('rsync');
    // node_modules is built in the VM by npm ci; the laptop's must not overwrite it.
    expect(folders[0]!.opts.rsync__exclude).toEqual(expect.arrayContaining(['node_modules/', '.vagrant/']));

    const prov = vm['provision()'];
    expect(prov).toHaveLength(1);
    expect(prov[0]!.args).toEqual(['shell']);
    expect(prov[0]!.opts.path).toBe('scripts/provision.sh');
    expect(existsSync(join(ROOT, prov[0]!.opts.path as string))).toBe(true);
  });

  run('VirtualBox and libvirt: 2048 MiB and 2 CPUs unless LAB_MEMORY / LAB_CPUS say otherwise', async () => {
    const dflt = await vmOf();
    expect(Object.keys(dflt.providers).sort()).toEqual(['libvirt', 'virtualbox']);
    for (const p of Object.values(dflt.providers)) expect([p.memory, p.cpus]).toEqual([2048, 2]);

    const set = await vmOf({ LAB_MEMORY: '3072', LAB_CPUS: '3' });
    for (const p of Object.values(set.providers)) expect([p.memory, p.cpus]).toEqual([3072, 3]);
  });

  run('LAB_SYNC=nfs switches /vagrant to NFS', async () => {
    const vm = await vmOf({ LAB_SYNC: 'nfs' });
    expect(vm['synced_folder()'][0]!.args).toEqual(['.', '/vagrant']);
    expect(vm['synced_folder()'][0]!.opts.type).toBe('nfs');
  });

  run('refuses a LAB_MEMORY, LAB_CPUS or LAB_SYNC it cannot use, naming the variable', async () => {
    for (const [name, value] of [
      ['LAB_MEMORY', '2g'],
      ['LAB_CPUS', '0'],
      ['LAB_SYNC', 'smb'],
    ] as const) {
      const r = await readVagrantfile({ [name]: value });
      expect('vm' in r, `${name}=${value} accepted`).toBe(false);
      expect((r as Ran).stderr).toContain(name);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// `vagrant validate`, offline and without VirtualBox/libvirt: `--ignore-provider` skips the
// provider check (the CI gate). The VirtualBox block is validated too, with a stand-in VBoxManage
// that only answers `--version` (all validate asks it); the libvirt block when the vagrant-libvirt
// plugin is installed. Vagrant's state goes to a temporary VAGRANT_HOME/VAGRANT_DOTFILE_PATH, so
// no .vagrant/ appears in the repository and no ~/.vagrant.d in the home directory.
describe(`vagrant validate${skipNote('vagrant', 'vagrant')}`, () => {
  const run = it.skipIf(!onPath('vagrant'));
  let tmp = '';
  let env: Record<string, string> = {};
  const dotVagrantBefore = existsSync(join(ROOT, '.vagrant'));

  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'pplt-vagrant-'));
    env = {
      VAGRANT_CWD: ROOT,
      VAGRANT_HOME: join(tmp, 'home'), // system plugins (Debian's vagrant-libvirt) still load
      VAGRANT_DOTFILE_PATH: join(tmp, 'dot'),
      VAGRANT_CHECKPOINT_DISABLE: '1', // no version check over the network
    };
  });
  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const validate = (extraArgs: string[], extraEnv: Record<string, string> = {}) =>
    exec('vagrant', ['validate', '--no-color', ...extraArgs], { ...env, ...extraEnv });

  run('passes with --ignore-provider (the CI check), quickly and leaving no .vagrant/ behind', async () => {
    const t0 = Date.now();
    const r = await validate(['--ignore-provider']);
    const ms = Date.now() - t0;
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('Vagrantfile validated successfully.');
    expect(r.exitCode).toBe(0);
    expect(ms).toBeLessThan(30_000);
    if (!dotVagrantBefore) expect(existsSync(join(ROOT, '.vagrant'))).toBe(false);
  });

  run('validates the VirtualBox provider block (stand-in VBoxManage)', async () => {
    const bin = mkdtempSync(join(tmp, 'vbox-'));
    const fake = join(bin, 'VBoxManage');
    writeFileSync(fake, '#!/bin/sh\n# stand-in for the test: vagrant validate only asks for the version\necho 7.0.14r161095\n');
    chmodSync(fake, 0o755);
    const r = await validate([], { VAGRANT_DEFAULT_PROVIDER: 'virtualbox', PATH: `${bin}${delimiter}${process.env.PATH ?? ''}` });
    expect(r.stdout + r.stderr).toContain('Vagrantfile validated successfully.');
    expect(r.exitCode).toBe(0);
  });

  run('validates the libvirt provider block when vagrant-libvirt is installed', async (ctx) => {
    const r = await validate([], { VAGRANT_DEFAULT_PROVIDER: 'libvirt' });
    if (/provider 'libvirt' could not be found/.test(r.stdout + r.stderr)) {
      ctx.skip('vagrant-libvirt plugin not installed (optional: apt-get install vagrant-libvirt)');
      return;
    }
    expect(r.stdout + r.stderr).toContain('Vagrantfile validated successfully.');
    expect(r.exitCode).toBe(0);
  });

  run('fails when the provisioner script is missing (the check can fail)', async () => {
    const dir = mkdtempSync(join(tmp, 'broken-'));
    copyFileSync(join(ROOT, 'Vagrantfile'), join(dir, 'Vagrantfile'));
    const r = await validate(['--ignore-provider'], { VAGRANT_CWD: dir });
    expect(r.exitCode).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/shell provisioner:[\s\S]*scripts\/provision\.sh/);
  });
});
