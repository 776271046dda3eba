// Checks, once around the whole suite, that the tests left nothing behind and never touched the
// machine's root network namespace. Runs only as root (the e2e tests skip otherwise).
import { diff, snapshot, type Residue } from './residue.ts';

export default function setup(): () => void {
  if (process.getuid?.() !== 0) return () => {};
  const before: Residue = snapshot();
  return () => {
    const problems = diff(before, snapshot());
    if (problems.length) throw new Error(`the test suite left residue on this machine:\n${problems.join('\n')}`);
    process.stdout.write('residue check: no namespace, process or file left behind; root namespace unchanged\n');
  };
}
