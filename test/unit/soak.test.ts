import { describe, expect, it } from 'vitest';
import { analyseSoak, type Disruption, type RequestRecord } from '../soak.ts';

describe('soak bookkeeping', () => {
  const ok = (start: number): RequestRecord => ({ start, end: start + 5, status: 200 });
  const kill: Disruption = { at: 1000, what: 'kill app2-x', windowMs: 500 };
  const scale: Disruption = { at: 5000, what: 'scale 4 -> 2', windowMs: 2000 };

  it('counts failures inside a disruption window as explained, per kind, and every other one as unexplained', () => {
    const requests: RequestRecord[] = [
      ok(0),
      { start: 990, end: 1010, status: 502 }, // in flight at the kill
      { start: 1400, end: 1410, status: 504 }, // sent inside the window
      { start: 1600, end: 1605, status: 502 }, // after the window
      { start: 6000, end: 6001, status: 502 }, // during the scale change
      { start: 100, end: 5100, status: 502 }, // spans everything: still explained
      { start: 1000, end: 1001, error: 'EAI_AGAIN' }, // a client-side error: never a kill's doing
      ok(9000),
    ];
    const r = analyseSoak(requests, [kill, scale]);
    expect(r.requests).toBe(8);
    expect(r.failed).toBe(6);
    expect(r.explained).toEqual({ kill: 3, scale: 1 });
    expect(r.unexplained).toEqual([{ start: 1600, end: 1605, status: 502 }, { start: 1000, end: 1001, error: 'EAI_AGAIN' }]);
    expect(r.reasons).toEqual({ '502': 4, '504': 1, EAI_AGAIN: 1 });
  });

  it('calls every failure unexplained when nothing was disrupted', () => {
    const r = analyseSoak([{ start: 1, end: 2, status: 503 }, ok(3)], []);
    expect(r.unexplained).toHaveLength(1);
    expect(r.explained).toEqual({});
  });
});
