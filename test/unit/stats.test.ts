import { describe, expect, it } from 'vitest';
import { gammaQ, uniformChiSquare } from '../stats.ts';

describe('chi-square helper used by the load-balancing tests', () => {
  it('matches known critical values', () => {
    // p = 0.001 at chi2 = 13.816 (df 2), 10.828 (df 1), 22.458 (df 6)
    expect(gammaQ(1, 13.816 / 2)).toBeCloseTo(0.001, 5);
    expect(gammaQ(0.5, 10.828 / 2)).toBeCloseTo(0.001, 5);
    expect(gammaQ(3, 22.458 / 2)).toBeCloseTo(0.001, 5);
  });
  it('accepts an even spread and rejects a skewed one', () => {
    expect(uniformChiSquare([1000, 1010, 990]).p).toBeGreaterThan(0.5);
    expect(uniformChiSquare([1500, 750, 750]).p).toBeLessThan(1e-10);
    expect(uniformChiSquare([3000, 0, 0]).p).toBeLessThan(1e-100);
  });
});
