// No merge leftovers: a `<<<<<<<` / `>>>>>>>` line in a source or document file means a conflict
// was committed unresolved (docs/architecture.md carried one for a while).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DIRS = ['src', 'test', 'bench', 'docs', 'scripts', 'lab', 'lint', 'bin', '.ci'];
const TOP = ['README.md', 'package.json', 'Vagrantfile'];

function files(): string[] {
  const out = TOP.map((f) => path.join(ROOT, f));
  for (const d of DIRS) {
    for (const e of readdirSync(path.join(ROOT, d), { recursive: true, withFileTypes: true })) {
      if (e.isFile() && /\.(ts|mts|mjs|js|md|yaml|yml|json|sh|rb)$|^run$/.test(e.name)) out.push(path.join(e.parentPath, e.name));
    }
  }
  return out;
}

describe('no unresolved merge conflict is committed', () => {
  it('has no conflict marker lines', () => {
    const found: string[] = [];
    for (const f of files()) {
      let text: string;
      try {
        text = readFileSync(f, 'utf8');
      } catch {
        continue;
      }
      text.split('\n').forEach((l, i) => {
        if (/^(<{7}|>{7})( |$)/.test(l)) found.push(`${path.relative(ROOT, f)}:${i + 1}: ${l}`);
      });
    }
    expect(found).toEqual([]);
  });
});
