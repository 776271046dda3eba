// `lab down`: stop the instance's controller and remove everything the instance created.
import { down } from '../../controllers/lab.ts';
import { log, type Common } from '../common.ts';
import { stopController } from '../lock.ts';
import { preflight } from '../preflight.ts';

export type Args = Common;

export async function downHandler(a: Args): Promise<void> {
  preflight({ needRoot: true, tools: [] });
  const stopped = await stopController(a.name);
  if (stopped) log(`stopped the controller of instance ${a.name} (pid ${stopped})`);
  await down({ instance: a.name, log });
}
