// One list of programs (src/sys/packages.ts), and every install line names its packages: .ci/run
// (CI on a fresh machine), the README's apt line (a user's fresh machine) and the VM's provisioning.
// A test, benchmark or script that runs a program missing from the list fails here, before it can
// pass on a machine that happens to have it.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REQUIRED_TOOLS } from '../../src/cli/preflight.ts';
import { assertKnownProgram, ESSENTIAL_PACKAGES, isRuntime, PROGRAMS, programFor } from '../../src/sys/packages.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const read = (f: string) => readFileSync(path.join(ROOT, f), 'utf8');

/** The package names of every `apt-get install` in a script or a Markdown file. */
export function aptInstalled(text: string): Set<string> {
  const joined = text.replace(/\\\n/g, ' ');
  const names = new Set<string>();
  for (const m of joined.matchAll(/apt-get install([^\n`;&|)]*)/g)) {
    for (const word of m[1]!.trim().split(/\s+/)) if (/^[a-z0-9][a-z0-9.+-]+$/.test(word)) names.add(word);
  }
  return names;
}

const SPAWNERS = 'execFileSync|execFile|spawnSync|spawn|execa|execaSync|exec|run|runIn|spawnStream|runInteractive|inNetns\\([^,]+,';
/** Programs a source file starts: literal first elements of argv arrays, and `ip netns exec <ns> X`. */
export function programsRun(text: string): Set<string> {
  const found = new Set<string>();
  for (const m of text.matchAll(new RegExp(`(?:${SPAWNERS})\\(?\\s*\\[?\\s*'([a-z][a-z0-9_.-]*)'`, 'g'))) found.add(m[1]!);
  for (const m of text.matchAll(/'netns',\s*'exec',\s*[^,\]]+,\s*'([a-z][a-z0-9_.-]*)'/g)) found.add(m[1]!);
  for (const m of text.matchAll(/onPath\('([a-z][a-z0-9_.-]*)'\)/g)) found.add(m[1]!);
  // zx: $`prog ...`
  for (const m of text.matchAll(/\$(?:\([^)]*\))?`([a-z][a-z0-9_.-]*)[\s`]/g)) found.add(m[1]!);
  return found;
}

function sources(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.(ts|mjs|js)$/.test(e.name) && !e.parentPath.includes('fixtures'))
    .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)));
}

const needed = (filter: (p: (typeof PROGRAMS)[number]) => boolean) => [...new Set(PROGRAMS.filter(filter).map((p) => p.aptPackage))].filter((p) => !ESSENTIAL_PACKAGES.includes(p));
/** Debian's packages: what an apt line can install without adding a repository first. */
const debian = (p: (typeof PROGRAMS)[number]) => !p.repository;

describe('the install lines name every package', () => {
  it('.ci/run installs every package the lab, its tools, tests and benchmarks use', () => {
    const installed = aptInstalled(read('.ci/run'));
    expect(needed(debian).filter((p) => !installed.has(p))).toEqual([]);
    // and checks for those from another repository, stopping with a message when one is missing
    for (const p of PROGRAMS.filter((p) => p.repository)) expect(read('.ci/run')).toContain(`command -v ${p.command} >/dev/null || {`);
  });

  it("the README's apt line names every one of them", () => {
    const installed = aptInstalled(read('README.md'));
    expect(needed(debian).filter((p) => !installed.has(p))).toEqual([]);
    // and says how to get the others
    for (const p of PROGRAMS.filter((p) => p.repository)) expect(read('README.md')).toContain(`scripts/apt-kubernetes.sh && sudo apt-get install ${p.aptPackage}`);
  });

  it("the VM's provisioning installs what the lab and the learner's tools use", () => {
    const installed = aptInstalled(read('scripts/provision.sh'));
    expect(needed((p) => p.usedBy !== 'tests').filter((p) => !installed.has(p))).toEqual([]);
  });

  // Debian's busybox-static conflicts with busybox: an install line naming both fails (or removes
  // one), and the lab's images need the static one (src/kubelet/images.ts).
  it('installs busybox-static, never busybox beside it', () => {
    expect(programFor('busybox')?.aptPackage).toBe('busybox-static');
    for (const file of ['.ci/run', 'README.md', 'scripts/provision.sh']) {
      const installed = aptInstalled(read(file));
      expect(installed.has('busybox-static'), file).toBe(true);
      expect(installed.has('busybox'), file).toBe(false);
    }
  });

  it('lab up checks for every program the lab itself runs', () => {
    expect(REQUIRED_TOOLS.map((t) => t.command)).toEqual(expect.arrayContaining(['ip', 'iptables-restore', 'busybox', 'nginx', 'conntrack']));
  });
});

describe('every program that is run is in src/sys/packages.ts', () => {
  for (const dir of ['src', 'test', 'bench', 'scripts', 'bin']) {
    it(`${dir}/`, () => {
      const missing: string[] = [];
      // This file's own examples are made-up programs.
      for (const file of sources(dir).filter((f) => f !== 'test/unit/packages.test.ts')) {
        for (const prog of programsRun(read(file))) if (!programFor(prog) && !isRuntime(prog)) missing.push(`${file}: ${prog}`);
      }
      expect(missing).toEqual([]);
    });
  }

  it('src/sys refuses to start a program that is not in the list (the check can fail)', () => {
    expect(() => assertKnownProgram('ip')).not.toThrow();
    expect(() => assertKnownProgram('/usr/sbin/nginx')).not.toThrow();
    expect(() => assertKnownProgram('no-such-prog-a')).toThrow(/no-such-prog-a.*src\/sys\/packages\.ts/);
  });

  it('the scan finds programs in the shapes the code uses', () => {
    const text = [
      "await run(['no-such-prog-a', '-'], { netns });",
      "execFileSync('no-such-prog-b', ['-l']);",
      "spawn('ip', ['netns', 'exec', ns, 'no-such-prog-c', '-c', '8']);",
      "await $`no-such-prog-d .items`;",
      "it.skipIf(!onPath('no-such-prog-e'))",
    ].join('\n');
    expect([...programsRun(text)].sort()).toEqual(['ip', 'no-such-prog-a', 'no-such-prog-b', 'no-such-prog-c', 'no-such-prog-d', 'no-such-prog-e']);
    expect(aptInstalled('apt-get install -y -q \\\n  iproute2 nftables \\\n  curl\nnpm ci')).toEqual(new Set(['-y', '-q', 'iproute2', 'nftables', 'curl'].filter((w) => !w.startsWith('-'))));
  });
});
