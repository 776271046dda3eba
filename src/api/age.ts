// An object's age as kubectl prints it (the AGE column, `lab events`, `lab describe`): a
// simplified duration.HumanDuration, e.g. 45s, 3m20s, 17m, 5h, 2d. Here, not in cli/, because
// the learner's tools in trace/ print ages too.

export function age(from: string | undefined, now = Date.now()): string {
  if (!from) return '<unknown>';
  const s = Math.max(0, Math.floor((now - Date.parse(from)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 600) return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ''}`;
  if (s < 3 * 3600) return `${Math.floor(s / 60)}m`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}
