// `lab events [-w]`: what happened, as `kubectl get events` shows it (oldest first).
import type { CommandModule } from 'yargs';
import type { LabEvent } from '../../api/store.ts';
import { age, table } from '../format.ts';
import { common, runningState, type Common } from '../common.ts';

export function eventsTable(events: LabEvent[], now = Date.now(), header = true): string {
  const rows = events.map((e) => [age(e.time, now), e.type, e.reason, e.object, e.message]);
  const text = table(['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE'], rows);
  return header ? text : text.split('\n').slice(1).join('\n');
}

type Args = Common & { watch: boolean; for?: string };

export const eventsCommand: CommandModule<object, Args> = {
  command: 'events',
  describe: 'list events (Scheduled, Started, Killing, BackOff, Unhealthy, ...); -w follows new ones',
  builder: (y) => common(y).option('watch', { alias: 'w', type: 'boolean', default: false }).option('for', { type: 'string', describe: 'only events of this object, e.g. pod/app2-...' }) as never,
  handler: async (a) => {
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
  },
};
