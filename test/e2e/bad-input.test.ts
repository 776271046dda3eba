// Bad input through the real CLI: every malformed state or config file of the corpus is refused by
// the instance's server with a message naming the file and the line, before anything is created;
// `lab up` prints that message itself, exits non-zero and leaves nothing behind (no
// namespace, no store, no server process). A running server given a bad file keeps serving its
// last good state. (test/unit/validation.test.ts checks each message's object and field in
// detail; this checks what the user sees and that nothing is touched.)
import { readdirSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diff, snapshot } from '../residue.ts';
import { LabServer } from '../../src/controllers/server.ts';
import { instancePaths } from '../../src/node/instance.ts';
import { curl, editableState, instanceName, isRoot, lab, labOk, until, type EditableState } from './helpers.ts';
import { waitForPodsReady } from './controller.ts';

const BAD = 'test/fixtures/bad';
const I = instanceName('e2ex');
const fixtures = readdirSync(BAD).sort();
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** What this test could have left: its instance's things, or the machine's own namespace changed (other tests run beside it). */
const ours = (problems: string[]) => problems.filter((p) => p.includes(I) || p.startsWith('root namespace'));

/**
 * `lab server` processes of this instance (residue.ts's snapshot knows containers, not the lab's
 * own processes). A child the server has forked but not yet exec'd still shows the server's
 * command line for a moment: one whose parent is in the list is not counted.
 */
function serverProcesses(): string[] {
  const found = new Map<string, { ppid: string; line: string }>();
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]!;
      if (argv.some((x) => x.endsWith('lab.js')) && argv[argv.indexOf('--name') + 1] === I) found.set(pid, { ppid, line: `${pid} ${argv.slice(1).join(' ')}` });
    } catch {
      /* gone */
    }
  }
  return [...found.values()].filter((p) => !found.has(p.ppid)).map((p) => p.line);
}

function args(fixture: string): string[] {
  return fixture.endsWith('.config.yaml') ? ['--config', `${BAD}/${fixture}`] : ['--state', `${BAD}/${fixture}`];
}

/** The refusal as the CLI prints it: the heading, then file:line first (the file as given, or made absolute). */
const refusal = (f: string) => new RegExp(`^error: invalid lab state\\n(\\S*/)?${escape(`${BAD}/${f}`)}:\\d+: `);

describe.skipIf(!isRoot)('bad input is refused before anything is created', () => {
  it('has a corpus of at least 30 files', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(30);
  });

  it('refuses each malformed file in the server at start: file:line in the error, nothing created', async () => {
    const before = snapshot();
    for (const f of fixtures) {
      const [flag, file] = args(f);
      const server = new LabServer({ instance: I, statePath: flag === '--state' ? file! : 'lab/cluster.yaml', configPath: flag === '--config' ? file! : 'lab/config.yaml', mode: 'sandbox' });
      try {
        await expect(server.start(), f).rejects.toThrow(new RegExp(`${escape(`${BAD}/${f}`)}:\\d+: `));
      } finally {
        await server.stop();
      }
    }
    expect(ours(diff(before, snapshot()))).toEqual([]);
  }, 120_000);

  it('makes `lab up` exit non-zero with the message, for a sample of the corpus: no namespace, no store, no server left', async () => {
    const before = snapshot();
    for (const f of fixtures.filter((_, i) => i % 6 === 0)) {
      const r = await lab(['up', '--name', I, ...args(f)]);
      expect(r.code, f).not.toBe(0);
      expect(r.stderr, f).toMatch(refusal(f));
      expect(serverProcesses(), f).toEqual([]);
    }
    expect(ours(diff(before, snapshot()))).toEqual([]);
  }, 120_000);

  it('makes the server itself (`lab up --watch`) refuse at start with the message, for another sample: nothing left', async () => {
    const before = snapshot();
    for (const f of fixtures.filter((_, i) => i % 6 === 3)) {
      const r = await lab(['up', '--watch', '--name', I, ...args(f)], { timeoutMs: 30_000 });
      expect(r.code, f).not.toBe(0);
      expect(r.stderr, f).toMatch(refusal(f));
      expect(serverProcesses(), f).toEqual([]);
    }
    expect(ours(diff(before, snapshot()))).toEqual([]);
  }, 120_000);

  describe('with a server running', () => {
    let fixture: EditableState;
    const serverLog = () => readFile(`${instancePaths(I).serverDir}/server.log`, 'utf8');
    const pods = async () => (JSON.parse((await labOk(['get', 'pods', '-A', '--name', I, '-o', 'json'])).stdout) as { items: { metadata: { uid: string; name: string } }[] }).items.map((p) => `${p.metadata.name} ${p.metadata.uid}`).sort();
    const rules = async () => (await labOk(['explain', 'iptables', '--name', I])).stdout;

    beforeAll(async () => {
      fixture = await editableState('badinput');
      await labOk(['up', '--name', I, '--state', fixture.state]);
      await waitForPodsReady(I);
    }, 180_000);
    afterAll(async () => {
      await lab(['down', '--name', I]);
      await fixture?.remove();
    });

    it('keeps serving and changes nothing when `lab up` is given bad files', async () => {
      const before = await pods();
      const rulesBefore = await rules();
      expect(before.length).toBeGreaterThan(0);
      for (const f of ['name-shell-metachar.yaml', 'configmap-key-traversal.yaml', 'replicas-huge.yaml', 'config-cidr-overlap.config.yaml', 'yaml-syntax-error.yaml']) {
        const r = await lab(['up', '--name', I, ...args(f)]);
        expect(r.code, f).not.toBe(0);
        expect(r.stderr, f).toMatch(refusal(f));
        expect((await curl(`${I}-host`, 'http://app2.com/')).stdout).toContain('Welcome to App 2!');
      }
      expect(await pods()).toEqual(before);
      expect(await rules()).toBe(rulesBefore);
      expect(serverProcesses()).toHaveLength(1);
    });

    it('refuses a bad edit of the state file whole, naming file and line; the last good state keeps serving', async () => {
      const before = await pods();
      const rulesBefore = await rules();
      for (const f of ['name-shell-metachar.yaml', 'configmap-key-traversal.yaml', 'replicas-huge.yaml', 'yaml-syntax-error.yaml']) {
        const offset = (await serverLog()).length;
        // The fixture's objects plus a valid change (app2 at 5 replicas) that must not be applied either.
        await writeFile(fixture.state, `${fixture.original.replace(/replicas: 3/, 'replicas: 5')}\n---\n${await readFile(`${BAD}/${f}`, 'utf8')}`);
        const said = await until(`the refusal of ${f}`, async () => /refused, the last good state keeps serving: .*/.exec((await serverLog()).slice(offset))?.[0], 10_000);
        expect(said, f).toMatch(new RegExp(`: ${escape(fixture.state)}:\\d+: `));
        expect((await curl(`${I}-host`, 'http://app2.com/')).stdout).toContain('Welcome to App 2!');
      }
      await new Promise((r) => setTimeout(r, 1000)); // anything applied would show by now
      expect(await pods()).toEqual(before);
      expect(await rules()).toBe(rulesBefore);
      // Fixed: applied.
      const offset = (await serverLog()).length;
      await writeFile(fixture.state, fixture.original.replace(/replicas: 3/, 'replicas: 4'));
      await until('the fix applied', async () => (await serverLog()).slice(offset).includes(`applied ${fixture.state}`), 10_000);
      await until('app2 at 4 pods', async () => (await pods()).filter((p) => p.startsWith('app2-')).length === 4, 30_000);
    }, 90_000);
  });
});
