// client-go's event recorder as the lab's controllers use it: the Event's shape, a repeat counted
// on the first one, similar events folded into one after 10, an expired event made anew.
import { beforeEach, describe, expect, it } from 'vitest';
import { Registry } from '../../src/api/server/registry.ts';
import { KineStore } from '../../src/api/storage/kine.ts';
import { EVENTS, EventRecorder, type CoreEvent } from '../../src/client/events.ts';
import { LocalClient } from '../../src/client/local.ts';

let client: LocalClient;
let clock: number;
let recorder: EventRecorder;
const T0 = Date.parse('2026-11-28T06:30:00Z');
const deploy = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'app2', namespace: 'default', uid: 'u-1', resourceVersion: '42' } };
const events = async () => (await client.list<CoreEvent>(EVENTS, { namespace: 'default' })).items;

beforeEach(async () => {
  client = new LocalClient(new Registry(new KineStore(':memory:')));
  await client.create({ group: '', resource: 'namespaces' }, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
  clock = T0;
  recorder = new EventRecorder(client, { component: 'deployment-controller' }, { now: () => clock });
});

describe('event recorder', () => {
  it("writes a core/v1 Event as client-go's recorder does", async () => {
    await recorder.event(deploy, 'Normal', 'ScalingReplicaSet', 'Scaled up replica set app2-6c555c46c6 from 0 to 3');
    const [listed] = await events();
    const { metadata, ...rest } = await client.get<CoreEvent>(EVENTS, 'default', listed!.metadata.name);
    expect(metadata.name).toBe(`app2.${(BigInt(T0) * 1_000_000n).toString(16)}`);
    expect(metadata.namespace).toBe('default');
    expect(rest).toEqual({
      apiVersion: 'v1',
      kind: 'Event',
      involvedObject: { kind: 'Deployment', namespace: 'default', name: 'app2', uid: 'u-1', apiVersion: 'apps/v1', resourceVersion: '42' },
      reason: 'ScalingReplicaSet',
      message: 'Scaled up replica set app2-6c555c46c6 from 0 to 3',
      source: { component: 'deployment-controller' },
      firstTimestamp: '2026-11-28T06:30:00Z',
      lastTimestamp: '2026-11-28T06:30:00Z',
      count: 1,
      type: 'Normal',
      eventTime: null,
      reportingComponent: 'deployment-controller',
      reportingInstance: '',
    });
  });

  it('counts a repeat on the first event (count, lastTimestamp) and makes it anew once it has expired', async () => {
    await recorder.event(deploy, 'Warning', 'SelectingAll', 'x');
    clock += 60_000;
    await recorder.event(deploy, 'Warning', 'SelectingAll', 'x');
    let [e] = await events();
    expect(await events()).toHaveLength(1);
    expect(e).toMatchObject({ count: 2, firstTimestamp: '2026-11-28T06:30:00Z', lastTimestamp: '2026-11-28T06:31:00Z' });
    await client.delete(EVENTS, 'default', e!.metadata.name); // its TTL passed
    await recorder.event(deploy, 'Warning', 'SelectingAll', 'x');
    [e] = await events();
    expect(e).toMatchObject({ count: 3, firstTimestamp: '2026-11-28T06:30:00Z' });
  });

  it('folds similar events (same reason, new messages) into one "(combined from similar events)" event past 10 within 10 minutes', async () => {
    for (let i = 0; i < 14; i++) {
      clock += 1000;
      await recorder.event(deploy, 'Warning', 'FailedCreate', `Error creating: pods "web-${i}" is forbidden`);
    }
    const all = await events();
    expect(all.filter((e) => !e.message.startsWith('(combined'))).toHaveLength(9);
    const combined = all.filter((e) => e.message.startsWith('(combined'));
    expect(combined).toHaveLength(1);
    expect(combined[0]).toMatchObject({ count: 5, message: '(combined from similar events): Error creating: pods "web-13" is forbidden', reportingComponent: '' });
    // Ten minutes of quiet: counted afresh.
    clock += 601_000;
    await recorder.event(deploy, 'Warning', 'FailedCreate', 'Error creating: pods "web-99" is forbidden');
    expect((await events()).some((e) => e.message === 'Error creating: pods "web-99" is forbidden')).toBe(true);
  });
});
