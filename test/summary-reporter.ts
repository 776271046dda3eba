// Prints one plain closing line, `tests: N passed, N failed, N skipped`, after vitest's own
// summary, so that any CI log reader can count the results.
import type { Reporter, TestModule } from 'vitest/node';

export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const m of modules) {
      for (const t of m.children.allTests()) {
        const s = t.result().state;
        if (s === 'passed') passed++;
        else if (s === 'failed') failed++;
        else skipped++;
      }
    }
    this.line = `tests: ${passed} passed, ${failed} failed, ${skipped} skipped`;
  }

  private line = '';

  // After vitest's own summary and the global teardown (the residue check), so it closes the log.
  constructor() {
    process.on('exit', () => {
      if (this.line) process.stdout.write(`\n${this.line}\n`);
    });
  }
}
