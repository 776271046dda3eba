// Bad input through the real CLI: every malformed state or config file of the corpus makes
// `lab up` exit non-zero with a message naming the file and the line, and creates nothing. A
// running lab given a bad file keeps serving. (test/unit/validation.test.ts checks each message's
// object and field in detail; this checks what the user sees and that nothing is touched.)
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diff, snapshot } from '../residue.ts';
import { Cluster } from '../../src/controllers/lab.ts';
import { curl, instanceName, isRoot, lab, labOk } from './helpers.ts';

const BAD = 'test/fixtures/bad';
const I = instanceName('e2ex');
const fixtures = readdirSync(BAD).sort();

/** What this test could have left: its instance's things, or the machine's own namespace changed (other tests run beside it). */
const ours = (problems: string[]) => problems.filter((p) => p.includes(I) || p.startsWith('root namespace'));

function args(fixture: string): string[] {
  return fixture.endsWith('.config.yaml') ? ['--config', `${BAD}/${fixture}`] : ['--state', `${BAD}/${fixture}`];
}

describe.skipIf(!isRoot)('bad input is refused before anything is created', () => {
  it('has a corpus of at least 30 files', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(30);
  });

  it('refuses each malformed file in the controller: file:line in the error, nothing created', async () => {
    const before = snapshot();
    for (const f of fixtures) {
      const [flag, file] = args(f);
      const cluster = new Cluster({ instance: I, statePath: flag === '--state' ? file! : 'lab/cluster.yaml', configPath: flag === '--config' ? file! : 'lab/config.yaml', mode: 'sandbox' });
      await expect(cluster.reconcile(), f).rejects.toThrow(new RegExp(`${BAD}/${f.replace(/\./g, '\\.')}:\\d+: `));
    }
    expect(ours(diff(before, snapshot()))).toEqual([]);
  }, 120_000);

  it('makes `lab up` exit non-zero with the message, for a sample of the corpus', async () => {
    const before = snapshot();
    for (const f of fixtures.filter((_, i) => i % 6 === 0)) {
      const r = await lab(['up', '--name', I, ...args(f)]);
      expect(r.code, f).not.toBe(0);
      expect(r.stderr, f).toMatch(new RegExp(`^error: invalid lab state\\n${BAD}/${f.replace(/\./g, '\\.')}:\\d+: `));
    }
    expect(ours(diff(before, snapshot()))).toEqual([]);
  }, 120_000);

  describe('with a lab running', () => {
    beforeAll(async () => {
      await labOk(['up', '--name', I]);
    });
    afterAll(async () => {
      await lab(['down', '--name', I]);
    });

    it('keeps serving and changes nothing when `up` is given bad files', async () => {
      const pods = (await labOk(['get', 'pods', '-A', '--name', I, '-o', 'json'])).stdout;
      const rules = (await lab(['explain', 'iptables', '--name', I])).stdout;
      for (const f of ['name-shell-metachar.yaml', 'configmap-key-traversal.yaml', 'replicas-huge.yaml', 'config-cidr-overlap.config.yaml', 'yaml-syntax-error.yaml']) {
        const r = await lab(['up', '--name', I, ...args(f)]);
        expect(r.code, f).not.toBe(0);
        expect((await curl(`${I}-host`, 'http://app2.com/')).stdout).toContain('Welcome to App 2!');
      }
      expect((await labOk(['get', 'pods', '-A', '--name', I, '-o', 'json'])).stdout).toBe(pods);
      expect((await lab(['explain', 'iptables', '--name', I])).stdout).toBe(rules);
    });
  });
});
