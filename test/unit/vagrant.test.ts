// The Vagrant VMs' files, checked without a VM: shellcheck on scripts/*.sh, `vagrant validate` on
// the Vagrantfile for one machine and for the pair (issue 6 and issue 14 item 9), the Vagrantfile's
// settings read back by evaluating it in Ruby against a recorder (box, hostname, address, synced
// folder, provisioner, LAB_* variables, the machines of LAB_NODES, the shared token), and the
// role parts of provision.sh run on their own (the server's token drop-in, read back by the lab's
// loader; the agent's unit). Each part skips, saying so in its title, when its tool is missing
// (CI: apt packages shellcheck and vagrant; vagrant brings ruby; vagrant-libvirt is optional).
import { accessSync, chmodSync, constants, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, relative, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readClusterConfig } from '../../src/api/load.ts';
import { HOST_MODE_MARK } from '../../src/node/mode.ts';

const ROOT = resolve(import.meta.dirname, '../..');
/** Everything a test makes (Vagrant's state, a stand-in checkout): removed at the end. */
const TMP = mkdtempSync(join(tmpdir(), 'pplt-vagrant-unit-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));
let tmpCount = 0;
const tmpDir = (what: string) => {
  const d = join(TMP, `${what}-${++tmpCount}`);
  mkdirSync(d, { recursive: true });
  return d;
};

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

  it('docs/vagrant.md names every package the apt line installs (the list there went stale once)', () => {
    const install = /apt-get install -y -q --no-install-recommends((?:[^\n]*\\\n)*[^\n]*)/.exec(code)!;
    const pkgs = install[1]!.split(/[\s\\]+/).filter(Boolean);
    const doc = readFileSync(join(ROOT, 'docs/vagrant.md'), 'utf8');
    expect(pkgs.filter((p) => !doc.includes(`\`${p}\``))).toEqual([]);
    expect(pkgs).toEqual(expect.arrayContaining(['containernetworking-plugins', 'python3']));
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

  it('takes its role as arguments (server by default; agent <server URL> <node name> <node IP>) and the token from LAB_TOKEN, never printed', () => {
    expect(code).toMatch(/^ROLE=\$\{1:-server\}$/m);
    expect(code).toMatch(/^ {4}LAB_SERVER=\$2 LAB_NODE_NAME=\$3 LAB_NODE_IP=\$4$/m);
    expect(code).toMatch(/^"provision_\$\{ROLE\}"$/m);
    // The token goes into files only: no log, echo or die line names it.
    for (const line of code.split('\n').filter((l) => /LAB_TOKEN|quoted/.test(l))) expect(line, line).not.toMatch(/^\s*(log|echo|die)\b.*\$\{?(LAB_TOKEN|quoted)/);
  });

  /** A function of provision.sh, to run on its own. */
  const shellFunction = (name: string): string => {
    const m = new RegExp(`^${name}\\(\\) \\{\\n[\\s\\S]*?^\\}$`, 'm').exec(text);
    if (!m) throw new Error(`provision.sh has no function ${name}`);
    return m[0];
  };

  it.skipIf(!onPath('bash'))("the server's token drop-in: 0600, what the lab's loader reads back (a ' in it too), where the rsync and git leave it alone", async () => {
    const repo = tmpDir('checkout');
    mkdirSync(join(repo, 'lab'));
    copyFileSync(join(ROOT, 'lab/config.yaml'), join(repo, 'lab/config.yaml'));
    for (const token of ['9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08', "it's-a-'shared'-secret#1"]) {
      const script = `set -euo pipefail\nlog() { :; }\nREPO_DIR=$1\nLAB_TOKEN=$2\n${shellFunction('provision_server')}\nprovision_server\n`;
      const r = await exec('bash', ['-c', script, 'bash', repo, token]);
      expect(r.stderr).toBe('');
      expect(r.exitCode).toBe(0);
      const dropin = join(repo, 'lab/config.yaml.d/vagrant-token.yaml');
      expect((statSync(dropin).mode & 0o777).toString(8)).toBe('600');
      const config = await readClusterConfig(join(repo, 'lab/config.yaml'), 'h');
      expect(config.token).toBe(token);
      expect(config.nodeIP).toBe('192.168.56.110');
    }
    // rsync's --delete leaves an excluded path alone; NFS puts the file in the laptop's checkout.
    expect(readFileSync(join(ROOT, 'Vagrantfile'), 'utf8')).toContain("'lab/config.yaml.d/'");
    expect(readFileSync(join(ROOT, '.gitignore'), 'utf8').split('\n')).toContain('/lab/config.yaml.d/vagrant-token.yaml');
  });

  it.skipIf(!onPath('bash'))("the agent's lab-agent.service: k3s-agent.service's shape, `lab agent` with the token read from a file", async () => {
    const m = /cat > \/etc\/systemd\/system\/lab-agent\.service <<UNIT\n([\s\S]*?)\nUNIT\n/.exec(text);
    expect(m).not.toBeNull();
    // The unit as provision.sh writes it for labSW (the heredoc alone, through bash's expansion).
    const script = `LAB_SERVER=$1 LAB_NODE_NAME=$2 LAB_NODE_IP=$3 REPO_DIR=/vagrant\ncat <<UNIT\n${m![1]}\nUNIT\n`;
    const r = await exec('bash', ['-c', script, 'bash', 'https://192.168.56.110:6443', 'labSW', '192.168.56.111']);
    expect(r.exitCode).toBe(0);
    const unit = r.stdout.split('\n');
    for (const line of ['[Service]', 'Type=exec', 'KillMode=process', 'Delegate=yes', 'Restart=always', 'RestartSec=5s', 'WantedBy=multi-user.target', 'After=network-online.target']) expect(unit, line).toContain(line);
    const exec_ = unit.find((l) => l.startsWith('ExecStart='));
    expect(exec_).toBe('ExecStart=/usr/local/bin/lab agent --server https://192.168.56.110:6443 --token-file /etc/packet-path-lab/token --node-name labSW --node-ip 192.168.56.111');
    // Every flag there is one `lab agent` takes.
    const help = await exec(process.execPath, [join(ROOT, 'bin/lab.js'), 'agent', '--help']);
    for (const flag of exec_!.match(/--[a-z-]+/g)!) expect(help.stdout, flag).toContain(flag);
    expect(code).toContain('/usr/local/bin/lab');
    expect(code).toMatch(/ln -sfn "\$REPO_DIR\/bin\/lab\.js" \/usr\/local\/bin\/lab/);
    expect(code).toMatch(/umask 077 && printf '%s\\n' "\$LAB_TOKEN" > \/etc\/packet-path-lab\/token/);
    expect(code).toMatch(/systemctl enable lab-agent\.service/);
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
    if n == 'define'
      conf = Rec.new
      blk.call(conf) if blk
      (@h['machines'] ||= {})[args[0].to_s] = { 'opts' => kw, 'config' => conf }
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
  /** config.vm.define NAME, opts do |m| ... end (LAB_NODES >= 2). */
  'machines'?: Record<string, { opts: { primary?: boolean }; config: { vm: VmConfig } }>;
}

/**
 * Loads the Vagrantfile as Vagrant would, with Vagrant's directory (where the token is kept) at
 * VAGRANT_DOTFILE_PATH: a fresh one unless given, never the checkout's .vagrant/.
 */
async function readVagrantfile(env: Record<string, string> = {}): Promise<{ vm: VmConfig } | Ran> {
  const r = await exec('ruby', ['-', join(ROOT, 'Vagrantfile')], { VAGRANT_DOTFILE_PATH: tmpDir('dot'), ...env }, RECORDER);
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
    expect(prov[0]!.opts.args).toEqual(['server']);
    expect(existsSync(join(ROOT, prov[0]!.opts.path as string))).toBe(true);
    // One machine, as before LAB_NODES: Vagrant's `default`, no define.
    expect(vm.machines).toBeUndefined();
  });

  run("one token per checkout, made on first load in Vagrant's directory (0600), the same on every load, marked sensitive", async () => {
    const dot = tmpDir('dot');
    const first = await vmOf({ VAGRANT_DOTFILE_PATH: dot });
    const file = join(dot, 'lab-token');
    const token = readFileSync(file, 'utf8').trim();
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect((statSync(file).mode & 0o777).toString(8)).toBe('600');
    const again = await vmOf({ VAGRANT_DOTFILE_PATH: dot });
    for (const vm of [first, again]) {
      expect(vm['provision()'][0]!.opts.env).toEqual({ LAB_TOKEN: token });
      expect(vm['provision()'][0]!.opts.sensitive).toBe(true);
    }
    // Another checkout (another .vagrant/) gets another token.
    expect((await vmOf())['provision()'][0]!.opts.env).not.toEqual({ LAB_TOKEN: token });
    // A relative VAGRANT_DOTFILE_PATH is read as Vagrant reads it: from the Vagrantfile's directory.
    const rel = tmpDir('rel');
    await vmOf({ VAGRANT_DOTFILE_PATH: relative(ROOT, rel) });
    expect(existsSync(join(rel, 'lab-token'))).toBe(true);
  });

  run('LAB_NODES=2: labS (primary) the server at .110, labSW the agent at .111 on eth1, the same token; 3 adds labSW2 at .112', async () => {
    const dot = tmpDir('dot');
    const top = await vmOf({ LAB_NODES: '3', VAGRANT_DOTFILE_PATH: dot });
    expect(top['provision()']).toBeUndefined();
    const machines = top.machines!;
    expect(Object.keys(machines)).toEqual(['labS', 'labSW', 'labSW2']);
    expect(Object.values(machines).map((m) => m.opts.primary)).toEqual([true, false, false]);
    const token = readFileSync(join(dot, 'lab-token'), 'utf8').trim();
    const want = [
      ['labS', '192.168.56.110', ['server']],
      ['labSW', '192.168.56.111', ['agent', 'https://192.168.56.110:6443', 'labSW', '192.168.56.111']],
      ['labSW2', '192.168.56.112', ['agent', 'https://192.168.56.110:6443', 'labSW2', '192.168.56.112']],
    ] as const;
    for (const [name, ip, args] of want) {
      const vm = machines[name]!.config.vm;
      expect(vm.box).toBe('debian/bookworm64');
      expect(vm.hostname).toBe(name);
      expect(vm['network()']).toEqual([{ args: ['private_network'], opts: { ip } }]);
      expect(vm['synced_folder()'][0]!.args).toEqual(['.', '/vagrant']);
      expect(Object.keys(vm.providers).sort()).toEqual(['libvirt', 'virtualbox']);
      const prov = vm['provision()'];
      expect(prov).toHaveLength(1);
      expect(prov[0]!.opts).toMatchObject({ path: 'scripts/provision.sh', args, env: { LAB_TOKEN: token }, sensitive: true, privileged: true });
    }
    const two = await vmOf({ LAB_NODES: '2', VAGRANT_DOTFILE_PATH: dot });
    expect(Object.keys(two.machines!)).toEqual(['labS', 'labSW']);
  });

  run('refuses LAB_NODES that is not a count, or more nodes than addresses after .110', async () => {
    for (const value of ['0', 'two', '146']) {
      const r = await readVagrantfile({ LAB_NODES: value });
      expect('vm' in r, `LAB_NODES=${value} accepted`).toBe(false);
      expect((r as Ran).stderr).toContain('LAB_NODES');
    }
    expect(Object.keys((await vmOf({ LAB_NODES: '145' })).machines!).at(-1)).toBe('labSW144');
  });

  run('the single VM and the pair both take 192.168.56.110: one is refused while the other exists, saying what to run', async () => {
    const single = tmpDir('dot');
    mkdirSync(join(single, 'machines/default/virtualbox'), { recursive: true });
    writeFileSync(join(single, 'machines/default/virtualbox/id'), 'a-vm-id\n');
    const r = await readVagrantfile({ LAB_NODES: '2', VAGRANT_DOTFILE_PATH: single });
    expect((r as Ran).stderr).toContain('remove it first with `LAB_NODES=1 vagrant destroy`');
    expect((await vmOf({ VAGRANT_DOTFILE_PATH: single })).hostname).toBe('labS');

    const pair = tmpDir('dot');
    mkdirSync(join(pair, 'machines/labS/libvirt'), { recursive: true });
    writeFileSync(join(pair, 'machines/labS/libvirt/id'), 'a-vm-id\n');
    const p = await readVagrantfile({ VAGRANT_DOTFILE_PATH: pair });
    expect((p as Ran).stderr).toContain('export LAB_NODES=2');
    expect(Object.keys((await vmOf({ LAB_NODES: '2', VAGRANT_DOTFILE_PATH: pair })).machines!)).toEqual(['labS', 'labSW']);
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

  run('passes for the pair and for three (LAB_NODES=2, 3), naming every machine', async () => {
    for (const [n, machines] of [
      ['2', ['labS', 'labSW']],
      ['3', ['labS', 'labSW', 'labSW2']],
    ] as const) {
      const r = await validate(['--ignore-provider'], { LAB_NODES: n });
      expect(r.stderr).toBe('');
      expect(r.stdout).toContain('Vagrantfile validated successfully.');
      // Machine names are printed as they are: none of them is scrubbed as a secret.
      expect([...r.stdout.matchAll(/^==> (\S+): Ignoring provider config/gm)].map((m) => m[1])).toEqual(machines);
      expect(r.exitCode).toBe(0);
    }
    if (!dotVagrantBefore) expect(existsSync(join(ROOT, '.vagrant'))).toBe(false);
  });

  run('validates the VirtualBox provider block (stand-in VBoxManage), for one machine and for the pair', async () => {
    const bin = mkdtempSync(join(tmp, 'vbox-'));
    const fake = join(bin, 'VBoxManage');
    writeFileSync(fake, '#!/bin/sh\n# stand-in for the test: vagrant validate only asks for the version\necho 7.0.14r161095\n');
    chmodSync(fake, 0o755);
    for (const n of ['1', '2']) {
      const r = await validate([], { LAB_NODES: n, VAGRANT_DEFAULT_PROVIDER: 'virtualbox', PATH: `${bin}${delimiter}${process.env.PATH ?? ''}` });
      expect(r.stdout + r.stderr, `LAB_NODES=${n}`).toContain('Vagrantfile validated successfully.');
      expect(r.exitCode).toBe(0);
    }
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
