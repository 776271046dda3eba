// An object's age as kubectl and kube-apiserver's printers show it (the AGE column, `lab events`,
// `lab describe`): apimachinery's duration.HumanDuration, about two significant figures:
// 45s, 3m20s, 17m, 5h30m, 20h, 3d4h, 45d, 2y30d, 9y. Here, not in cli/, because the learner's
// tools in trace/ print ages too, and the API server's Table responses (server/tables.ts) carry
// them as cells.

/** HumanDuration of a duration in milliseconds (Go truncates every unit towards zero). */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  // Up to a second in the future counts as now (clock skew between machines); more is invalid.
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 3 * 60) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  const days = Math.trunc(hours / 24);
  if (hours < 24 * 8) return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${days}d`;
  const years = Math.trunc(days / 365);
  if (hours < 24 * 365 * 8) return days % 365 === 0 ? `${years}y` : `${years}y${days % 365}d`;
  return `${years}y`;
}

// metav1.Time's zero value serializes as 0001-01-01T00:00:00Z (and as null in metadata).
const ZERO_TIME = Date.parse('0001-01-01T00:00:00Z');

/**
 * The age of a timestamp (RFC 3339, as kube writes metav1.Time and MicroTime) at `now`, as the
 * printers' translateTimestampSince: `<unknown>` for a missing or zero time.
 */
export function age(from: string | null | undefined, now = Date.now()): string {
  const t = timeMs(from);
  return t === undefined ? '<unknown>' : humanDuration(now - t);
}

/** A timestamp in milliseconds, or undefined for a missing, zero or unreadable one. */
export function timeMs(t: string | null | undefined): number | undefined {
  const ms = t ? Date.parse(t) : NaN;
  return Number.isNaN(ms) || ms === ZERO_TIME ? undefined : ms;
}
