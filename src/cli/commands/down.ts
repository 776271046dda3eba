// `lab down`: take the instance from whoever holds it (stopping its controller), then remove
// everything the instance created.
import { down } from '../../controllers/down.ts';
import { log, type Common } from '../common.ts';
import { lockForDown } from '../lock.ts';
import { preflight, tools } from '../preflight.ts';

export type Args = Common;

export async function downHandler(a: Args): Promise<void> {
  preflight({ needRoot: true, tools: tools('flock') });
  // Held until the instance is gone: down() removes the lock file last, still holding it.
  const lock = await lockForDown(a.name, log);
  await down({ instance: a.name, log, lock });
}
