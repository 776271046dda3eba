// A watch over HTTP: the registry's watch (registry-watch.ts) streamed as newline-delimited JSON,
// `{"type":"ADDED","object":{...}}` per line, flushed per event. The watch is opened before the
// response starts, so a bad resourceVersion or selector is an HTTP error (400) and a compacted one
// is kube's 200 with one ERROR event (410 Expired) and the end of the stream. The stream ends
// after timeoutSeconds, or, without it, after a random 30 to 60 minutes as kube-apiserver's
// --min-request-timeout (1800 s) makes it, or when the client goes away.
//
// sendInitialEvents=true (the WatchList protocol) sends the current state as ADDED events and then
// a BOOKMARK annotated `k8s.io/initial-events-end: "true"`.
import type { StreamSink, ApiStream } from './http.ts';
import type { Registry } from './registry.ts';
import type { WatchEvent, WatchOptions } from './registry-watch.ts';
import { apiVersionOf, type ResourceInfo } from './resources.ts';
import { badRequest } from './status.ts';

export interface WatchRouteOptions extends WatchOptions {
  timeoutSeconds?: number;
  sendInitialEvents?: boolean;
}

/** Turns an event into what goes on the wire (Tables and metadata-only forms do more than `{type, object}`). */
export type EventEncoder = (event: WatchEvent) => unknown;

const MIN_REQUEST_TIMEOUT_S = 1800;

export function watchRoute(registry: Registry, r: ResourceInfo, namespace: string | undefined, opts: WatchRouteOptions, encode: EventEncoder): ApiStream {
  if (opts.sendInitialEvents && (opts.resourceVersion ?? '') !== '' && opts.resourceVersion !== '0') {
    // kube also demands resourceVersionMatch=NotOlderThan; a newer resourceVersion has nothing initial to send.
    throw badRequest('sendInitialEvents is only supported with resourceVersion "" or "0"');
  }
  const queue: WatchEvent[] = [];
  let sink: StreamSink | undefined;
  const deliver = (event: WatchEvent) => {
    if (!sink) queue.push(event);
    else if (!sink.send(encode(event))) watch.stop();
  };
  const watch = registry.watch(r, namespace, opts, deliver);
  if (opts.sendInitialEvents && !watch.stopped) {
    const metadata = { resourceVersion: String(registry.store.currentRevision()), annotations: { 'k8s.io/initial-events-end': 'true' } };
    deliver({ type: 'BOOKMARK', object: { apiVersion: apiVersionOf(r), kind: r.kind, metadata } });
  }
  const stopStore = watch.onStop;
  watch.onStop = () => {
    stopStore?.();
    sink?.end();
  };
  const timeoutMs = (opts.timeoutSeconds && opts.timeoutSeconds > 0 ? opts.timeoutSeconds : MIN_REQUEST_TIMEOUT_S * (1 + Math.random())) * 1000;
  return {
    stream(s) {
      sink = s;
      for (const event of queue.splice(0)) deliver(event);
      if (watch.stopped) {
        s.end();
        return;
      }
      const timer = setTimeout(() => s.end(), timeoutMs);
      return () => {
        clearTimeout(timer);
        watch.stop();
      };
    },
  };
}
