// Not root: `lab up` (also `--watch`, and the server itself) and `lab down` refuse clearly, before
// touching anything.
import { describe, expect, it } from 'vitest';
import { diff, snapshot } from '../residue.ts';
import { cmd, isRoot, LAB_BIN } from './helpers.ts';

describe.skipIf(!isRoot)('privileges', () => {
  for (const sub of ['up', 'up --watch', 'server', 'down']) {
    it(`refuses \`lab ${sub}\` as an ordinary user, saying how to run it`, async () => {
      const before = snapshot();
      const r = await cmd(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--', process.execPath, LAB_BIN, ...sub.split(' '), '--name', 'pplt-nonroot']);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('lab needs root to create network namespaces');
      expect(r.stderr).toContain('sudo');
      expect(diff(before, snapshot())).toEqual([]);
    });
  }
});
