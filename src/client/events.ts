// client-go's event recorder (k8s.io/client-go/tools/record), which every Kubernetes component
// uses to write core/v1 Events: `kubectl describe` and `kubectl get events` show them. An Event
// names the object it is about (involvedObject: kind, namespace, name, uid, apiVersion,
// resourceVersion), why (reason, a CamelCase word), what (message), Normal or Warning, and who
// (source.component, also reportingComponent: "deployment-controller", "replicaset-controller",
// "default-scheduler", "kubelet"). Its name is `<object>.<hex nanoseconds>`.
//
// As client-go's EventCorrelator does, an event identical to one this recorder wrote before (same
// source, object, type, reason and message) is not written again: the first one's count goes up
// and its lastTimestamp moves, which `kubectl describe` shows as "(x3 over 10m)". Similar events
// (same object, type and reason, another message: "Error creating: pods \"web-x7k2q\" is
// forbidden: ...", a new pod name each time) are written as they come until 10 different messages
// have been seen within 10 minutes; from then on they go into one event, "(combined from similar
// events): <the latest message>", whose count goes up (EventAggregator). (client-go's per-object
// rate limit, 25 events then one per 5 minutes, is not kept.)
// Recording never fails the caller: a write the API refuses is logged and dropped, as client-go
// drops it.
import { rfc3339 } from '../api/server/object.ts';
import { SerialQueue } from '../util/serial-queue.ts';
import type { Client, KubeObject, ResourceRef } from './types.ts';

export const EVENTS: ResourceRef = { group: '', resource: 'events' };

export type EventType = 'Normal' | 'Warning';

export interface EventSource {
  component: string;
  host?: string;
}

export interface ObjectReference {
  kind?: string;
  namespace?: string;
  name: string;
  uid?: string;
  apiVersion?: string;
  resourceVersion?: string;
}

export interface CoreEvent extends KubeObject {
  involvedObject: ObjectReference;
  reason: string;
  message: string;
  source: EventSource;
  firstTimestamp: string;
  lastTimestamp: string;
  count: number;
  type: EventType;
  eventTime: null;
  reportingComponent: string;
  reportingInstance: string;
}

/** The reference client-go's ref.GetReference makes of an object. */
export function referenceTo(obj: KubeObject): ObjectReference {
  const { name, namespace, uid, resourceVersion } = obj.metadata;
  return { kind: obj.kind, namespace, name, uid, apiVersion: obj.apiVersion, resourceVersion };
}

/** events_cache.go getEventKey: what makes two events the same event. */
function eventKey(e: CoreEvent): string {
  const o = e.involvedObject;
  return JSON.stringify([e.source.component, e.source.host ?? '', o.kind, o.namespace, o.name, o.uid, o.apiVersion, e.type, e.reason, e.message]);
}

/** EventAggregatorByReasonFunc: what makes two events similar (the message aside). */
function similarKey(e: CoreEvent): string {
  const o = e.involvedObject;
  return JSON.stringify([e.source.component, e.source.host ?? '', o.kind, o.namespace, o.name, o.uid, o.apiVersion, e.type, e.reason, e.reportingComponent, e.reportingInstance]);
}

const CACHE_SIZE = 4096; // client-go's maxLruCacheEntries
const SIMILAR_MAX_EVENTS = 10; // defaultAggregateMaxEvents
const SIMILAR_INTERVAL_MS = 600_000; // defaultAggregateIntervalInSeconds

function remember<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > CACHE_SIZE) map.delete(map.keys().next().value!);
}

export interface RecorderOptions {
  now?: () => number;
  log?: (line: string) => void;
}

/**
 * What the recorder keeps of an event it wrote (client-go's eventLog): enough to count a repeat
 * onto it. Not the whole Event: 4,096 of those per recorder were most of what a server kept after
 * 1,000 pods came and went (a heap snapshot's diff, bench `server`).
 */
interface EventLog {
  name: string;
  namespace: string;
  count: number;
  firstTimestamp: string;
}

const logOf = (e: CoreEvent): EventLog => ({ name: e.metadata.name!, namespace: e.metadata.namespace!, count: e.count, firstTimestamp: e.firstTimestamp });

export class EventRecorder {
  private readonly queue = new SerialQueue();
  private readonly seen = new Map<string, EventLog>();
  private readonly similar = new Map<string, { messages: Set<string>; last: number }>();
  private lastNanos = 0n;
  private readonly now: () => number;

  constructor(
    private readonly client: Client,
    readonly source: EventSource,
    private readonly opts: RecorderOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
  }

  /** Records an event about `obj`; resolves once it is written (or dropped). Never rejects. */
  event(obj: KubeObject, type: EventType, reason: string, message: string): Promise<void> {
    const ms = this.now();
    const ref = referenceTo(obj);
    const time = rfc3339(ms);
    const event: CoreEvent = {
      apiVersion: 'v1',
      kind: 'Event',
      // metav1.Time's UnixNano in hex; a recorder never names two events alike.
      metadata: { name: `${ref.name}.${this.nanos(ms).toString(16)}`, namespace: ref.namespace || 'default' },
      involvedObject: ref,
      reason,
      message,
      source: this.source.host ? { ...this.source } : { component: this.source.component },
      firstTimestamp: time,
      lastTimestamp: time,
      count: 1,
      type,
      eventTime: null,
      reportingComponent: this.source.component,
      reportingInstance: this.source.host ?? '',
    };
    return this.queue.run(() => this.write(...this.aggregate(event, ms))).catch((e: unknown) => {
      this.opts.log?.(`${this.source.component}: event ${reason} for ${ref.kind} ${ref.namespace ?? ''}/${ref.name} dropped: ${(e as Error)?.message ?? e}`);
    });
  }

  private nanos(ms: number): bigint {
    let n = BigInt(ms) * 1_000_000n;
    if (n <= this.lastNanos) n = this.lastNanos + 1n;
    this.lastNanos = n;
    return n;
  }

  /** EventAggregate: the event as is with its own key, or past 10 similar ones the combined event and the similar key. */
  private aggregate(event: CoreEvent, ms: number): [CoreEvent, string] {
    const key = similarKey(event);
    let rec = this.similar.get(key);
    if (!rec || ms - rec.last > SIMILAR_INTERVAL_MS) rec = { messages: new Set(), last: ms };
    rec.messages.add(event.message);
    rec.last = ms;
    remember(this.similar, key, rec);
    if (rec.messages.size < SIMILAR_MAX_EVENTS) return [event, eventKey(event)];
    rec.messages.delete(rec.messages.values().next().value!);
    // client-go's combined copy carries no reporting fields.
    const name = `${event.involvedObject.name}.${this.nanos(ms).toString(16)}`;
    return [{ ...event, metadata: { ...event.metadata, name }, message: `(combined from similar events): ${event.message}`, reportingComponent: '', reportingInstance: '' }, key];
  }

  private async write(event: CoreEvent, key: string): Promise<void> {
    const prior = this.seen.get(key);
    if (prior) {
      // The same event again: one more on the first one's count (client-go patches count,
      // lastTimestamp and message; an event gone meanwhile, e.g. past its 1 h TTL, is made anew).
      const { name, namespace } = prior;
      const repeat: CoreEvent = { ...event, metadata: { name, namespace }, count: prior.count + 1, firstTimestamp: prior.firstTimestamp };
      // (A PUT of a missing Event creates it: the server's create-on-update for events.)
      const written = await this.client.mutate<CoreEvent>(EVENTS, namespace, name, (cur) => (cur.involvedObject ? { ...cur, count: repeat.count, lastTimestamp: repeat.lastTimestamp, message: repeat.message } : repeat));
      return remember(this.seen, key, logOf(written));
    }
    remember(this.seen, key, logOf(await this.client.create(EVENTS, event)));
  }
}
