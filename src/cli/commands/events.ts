// `lab events [-w]`: what happened, as `kubectl get events` shows it (oldest first).
import type { LabEvent } from '../../trace/view.ts';
import { age } from '../../api/age.ts';
import { table } from '../format.ts';
import { runningState, type Common } from '../common.ts';

export function eventsTable(events: LabEvent[], now = Date.now(), header = true): string {
  const rows = events.map((e) => [age(e.time, now), e.type, e.reason, e.object, e.message]);
  const text = table(['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE'], rows);
  return header ? text : text.split('\n').slice(1).join('\n');
}

export type Args = Common & { watch: boolean; for?: string };

export async function eventsHandler(a: Args): Promise<void> {
  const pick = (evs: LabEvent[]) => (a.for ? evs.filter((e) => e.object === a.for || e.object.endsWith(`/${a.for}`)) : evs);
  let seen = (await runningState(a.name)).events;
  process.stdout.write(eventsTable(pick(seen)));
  if (!a.watch) return;
  let last = seen.at(-1)?.time ?? '';
  for (;;) {
    await new Promise((r) => setTimeout(r, 200));
    seen = (await runningState(a.name)).events;
    const fresh = seen.filter((e) => e.time > last);
    if (fresh.length === 0) continue;
    last = fresh.at(-1)!.time;
    const rows = pick(fresh);
    if (rows.length) process.stdout.write(eventsTable(rows, Date.now(), false).replace(/\n?$/, '\n'));
  }
}
