// The soak test's bookkeeping (pure): which failed requests a disruption explains. A request can
// fail when it was in flight on a pod that was killed, or was sent in the moment between the
// kill and the endpoint leaving the rules; such failures are counted, every other one is a defect.

export interface RequestRecord {
  /** Epoch ms when the request was sent and when it ended (answer, error or timeout). */
  start: number;
  end: number;
  status?: number;
  error?: string;
}

export interface Disruption {
  /** Epoch ms. */
  at: number;
  /** 'kill <pod>' or 'scale <n> -> <m>'. */
  what: string;
  /** How long after `at` a failure is still this disruption's doing. */
  windowMs: number;
}

export interface SoakReport {
  requests: number;
  failed: number;
  /** Failures explained by a disruption, per disruption kind ('kill', 'scale'). */
  explained: Record<string, number>;
  /** Failures no disruption explains. */
  unexplained: RequestRecord[];
  /** Failure reasons and their counts ('502', 'ECONNRESET', 'TIMEOUT'). */
  reasons: Record<string, number>;
}

export const failed = (r: RequestRecord) => r.status !== 200;
/**
 * What a killed pod can do to a request through the ingress: nginx answers 502 (the upstream
 * connection was refused or reset) or 504. A client-side error (a failed name lookup, a reset by
 * the ingress itself) is never a pod kill's doing, whatever the timing.
 */
const disruptable = (r: RequestRecord) => r.status === 502 || r.status === 503 || r.status === 504;
const reason = (r: RequestRecord) => r.error ?? String(r.status);

/** A 5xx from the ingress is explained when the request's lifetime overlaps a disruption's window. */
export function analyseSoak(requests: RequestRecord[], disruptions: Disruption[]): SoakReport {
  const report: SoakReport = { requests: requests.length, failed: 0, explained: {}, unexplained: [], reasons: {} };
  for (const r of requests.filter(failed)) {
    report.failed++;
    report.reasons[reason(r)] = (report.reasons[reason(r)] ?? 0) + 1;
    const d = disruptable(r) ? disruptions.find((x) => r.start <= x.at + x.windowMs && r.end >= x.at) : undefined;
    if (!d) report.unexplained.push(r);
    else {
      const kind = d.what.split(' ')[0]!;
      report.explained[kind] = (report.explained[kind] ?? 0) + 1;
    }
  }
  return report;
}
