// GET /api/v1/namespaces/<ns>/pods/<name>/log (kubectl logs): kube-apiserver's LogREST. The
// options are checked (400 for a parameter that does not parse, 422 PodLogOptions ... is
// invalid), the pod read (404) and its container chosen (400), then the bytes come from the
// pod's kubelet (ContainerStreams) and are passed on as they come: text/plain, chunked, the
// response open while the kubelet's stream is (`-f`), the stream destroyed when the client goes.
// A pod no node has yet answers 204 with nothing (LocationStreamer without a location); with no
// ContainerStreams the answer is the dial error kube-apiserver gives for an unreachable kubelet.
import { Transform, type Readable } from 'node:stream';
import type { ApiRequest, ApiResult } from './http.ts';
import type { ContainerStreams } from './node-streams.ts';
import { connectionRefused, containerLogProblem, kubeletAddress, logQuery, podLogOptions, streamTarget, unknownError } from './pod-streams.ts';
import type { Registry } from './registry.ts';
import * as errors from './status.ts';

/** Cuts a stream after `limit` bytes (limitBytes; the kubelet should already have, this makes sure). */
function limitTo(limit: number): Transform {
  let left = limit;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      if (left <= 0) return done();
      const part = chunk.length > left ? chunk.subarray(0, left) : chunk;
      left -= part.length;
      done(null, part);
      if (left <= 0) this.push(null);
    },
  });
}

function chain(src: Readable, limit: number | undefined): Readable {
  if (limit === undefined) return src;
  const out = limitTo(limit);
  src.on('error', (e) => out.destroy(e));
  out.on('close', () => src.destroy());
  return src.pipe(out);
}

export async function podLog(registry: Registry, streams: ContainerStreams | undefined, req: ApiRequest, namespace: string, name: string): Promise<ApiResult> {
  const { container: asked, options } = podLogOptions(req.query, name);
  const target = streamTarget(registry, namespace, name, asked);
  if (!target.nodeName) return { status: 204, body: '' };
  const address = kubeletAddress(registry, target.nodeName);
  if (!streams) throw unknownError(connectionRefused('Get', address, `/containerLogs/${namespace}/${name}/${target.container}${logQuery(options)}`));
  const problem = containerLogProblem(target.pod, target.container, Boolean(options.previous));
  if (problem) throw errors.badRequest(problem);
  let src: Readable;
  try {
    src = await streams.logs({ ...target.ref, nodeName: target.nodeName, kubelet: address }, target.container, options);
  } catch (e) {
    // The kubelet answers its refusals with 400 and a text, which kube-apiserver passes on as
    // BadRequest (GenericHttpResponseChecker); a Status the provider throws is kept as it is.
    if (errors.statusOf(e)) throw e;
    throw errors.badRequest(e instanceof Error ? e.message : String(e));
  }
  if (req.signal.aborted) {
    src.destroy();
    return { status: 200, body: '' };
  }
  return { status: 200, contentType: 'text/plain', pipe: chain(src, options.limitBytes) };
}
