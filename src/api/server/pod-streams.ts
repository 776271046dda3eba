// What kube-apiserver checks before it connects a pods/log or pods/exec request to the kubelet
// (pkg/registry/core/pod/strategy.go LogLocation/streamLocation, pkg/registry/core/pod/rest/log.go,
// pkg/kubelet/client's NodeConnectionInfoGetter), and the kubelet's own check of a log request
// (pkg/kubelet/kubelet_pods.go validateContainerLogStatus), with their messages word for word.
// The kubelet's check reads the pod status the kubelet itself wrote, so it is made here from the
// API's copy: whichever ContainerStreams serves the bytes, a container that has not started yet
// answers as a kubelet would.
import type { KubeObject } from './object.ts';
import type { LogOptions } from './node-streams.ts';
import type { Registry } from './registry.ts';
import { resourceFor } from './resources.ts';
import * as errors from './status.ts';
import { fieldErrors, goQuote, type FieldError } from './status.ts';

const PODS = resourceFor('', 'pods')!;
const NODES = resourceFor('', 'nodes')!;

/** kube-apiserver's --kubelet-port default; a node's status.daemonEndpoints.kubeletEndpoint.port wins. */
export const KUBELET_PORT = 10250;

export interface PodRef {
  namespace: string;
  name: string;
  uid: string;
}

interface ContainerLike {
  name?: string;
}
interface ContainerStatusLike {
  name?: string;
  containerID?: string;
  state?: { waiting?: { reason?: string }; running?: unknown; terminated?: unknown };
  lastState?: { terminated?: unknown };
}

type PodSpecLike = { nodeName?: string; containers?: ContainerLike[]; initContainers?: ContainerLike[]; ephemeralContainers?: ContainerLike[] };
type PodStatusLike = { containerStatuses?: ContainerStatusLike[]; initContainerStatuses?: ContainerStatusLike[]; ephemeralContainerStatuses?: ContainerStatusLike[] };

const specOf = (pod: KubeObject) => (pod.spec ?? {}) as PodSpecLike;
const statusOf = (pod: KubeObject) => (pod.status ?? {}) as PodStatusLike;

/** runtime.Convert_Slice_string_To_bool: absent, "0" or "false" (any case) is false; anything else, "" too, is true. */
export function paramBool(query: URLSearchParams, name: string): boolean {
  const v = query.get(name);
  return v !== null && v !== '0' && v.toLowerCase() !== 'false';
}

/** runtime.Convert_Slice_string_To_Pointer_int64: strconv.ParseInt's errors are 400s. */
function paramInt(query: URLSearchParams, name: string): number | undefined {
  const v = query.get(name);
  if (v === null) return undefined;
  if (!/^[+-]?\d+$/.test(v)) throw errors.badRequest(`strconv.ParseInt: parsing ${goQuote(v)}: invalid syntax`);
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw errors.badRequest(`strconv.ParseInt: parsing ${goQuote(v)}: value out of range`);
  return n;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

export interface PodLogRequest {
  container: string;
  options: LogOptions;
}

/**
 * PodLogOptions from the query, validated as ValidatePodLogOptions does (422 PodLogOptions
 * "<pod>" is invalid). sinceTime (kubectl --since-time) becomes sinceSeconds for the kubelet.
 */
export function podLogOptions(query: URLSearchParams, pod: string, now = Date.now()): PodLogRequest {
  const tailLines = paramInt(query, 'tailLines');
  const limitBytes = paramInt(query, 'limitBytes');
  let sinceSeconds = paramInt(query, 'sinceSeconds');
  const sinceTime = query.get('sinceTime');
  let since: number | undefined;
  if (sinceTime !== null && sinceTime !== '') {
    // metav1.Time's query form: time.Parse(time.RFC3339, s).
    since = RFC3339.test(sinceTime) ? Date.parse(sinceTime) : NaN;
    if (Number.isNaN(since)) throw errors.badRequest(`parsing time ${goQuote(sinceTime)} as "2006-01-02T15:04:05Z07:00": cannot parse ${goQuote(sinceTime)} as "2006"`);
  }
  const problems: FieldError[] = [];
  if (tailLines !== undefined && tailLines < 0) problems.push(fieldErrors.invalid('tailLines', tailLines, 'must be greater than or equal to 0'));
  if (limitBytes !== undefined && limitBytes < 1) problems.push(fieldErrors.invalid('limitBytes', limitBytes, 'must be greater than 0'));
  if (sinceSeconds !== undefined && since !== undefined) problems.push(fieldErrors.forbidden('', 'at most one of `sinceTime` or `sinceSeconds` may be specified'));
  else if (sinceSeconds !== undefined && sinceSeconds < 1) problems.push(fieldErrors.invalid('sinceSeconds', sinceSeconds, 'must be greater than 0'));
  if (problems.length) throw errors.invalid('', 'PodLogOptions', pod, problems);
  // The kubelet takes the later of the two; a time in the future leaves only what is still to come.
  if (since !== undefined) sinceSeconds = Math.max(1, Math.ceil((now - since) / 1000));
  const options: LogOptions = {};
  if (paramBool(query, 'follow')) options.follow = true;
  if (paramBool(query, 'previous')) options.previous = true;
  if (paramBool(query, 'timestamps')) options.timestamps = true;
  if (tailLines !== undefined) options.tailLines = tailLines;
  if (sinceSeconds !== undefined) options.sinceSeconds = sinceSeconds;
  if (limitBytes !== undefined) options.limitBytes = limitBytes;
  return { container: query.get('container') ?? '', options };
}

/** Every container name of the pod in podutil.VisitContainers order: init, regular, ephemeral. */
function containerNames(pod: KubeObject): string[] {
  const spec = specOf(pod);
  return [...(spec.initContainers ?? []), ...(spec.containers ?? []), ...(spec.ephemeralContainers ?? [])].map((c) => c.name ?? '');
}

/** strategy.go validateContainer: the container asked for, or the pod's only one. */
export function chooseContainer(pod: KubeObject, container: string): string {
  const name = pod.metadata.name ?? '';
  if (container) {
    if (!containerNames(pod).includes(container)) throw errors.badRequest(`container ${container} is not valid for pod ${name}`);
    return container;
  }
  const regular = specOf(pod).containers ?? [];
  if (regular.length === 1) return regular[0]!.name ?? '';
  if (regular.length === 0) throw errors.badRequest(`a container name must be specified for pod ${name}`);
  // Go's %s of a []string: [a b c].
  throw errors.badRequest(`a container name must be specified for pod ${name}, choose one of: [${containerNames(pod).join(' ')}]`);
}

export interface StreamTarget {
  pod: KubeObject;
  ref: PodRef;
  container: string;
  /** spec.nodeName; empty when the pod is not scheduled yet. */
  nodeName: string;
}

/** getPod (404 pods "x" not found) and validateContainer. */
export function streamTarget(registry: Registry, namespace: string, name: string, container: string): StreamTarget {
  const pod = registry.get(PODS, namespace, name);
  const chosen = chooseContainer(pod, container);
  return { pod, ref: { namespace, name, uid: pod.metadata.uid ?? '' }, container: chosen, nodeName: specOf(pod).nodeName ?? '' };
}

/** streamLocation's error for exec/attach/portforward into a pod no node has. */
export const noHostAssigned = (pod: string) => errors.badRequest(`pod ${pod} does not have a host assigned`);

/**
 * Where kube-apiserver would dial the pod's kubelet (NodeConnectionInfoGetter with k3s's
 * --kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname): `host:port`.
 */
export function kubeletAddress(registry: Registry, nodeName: string): string {
  const node = registry.get(NODES, undefined, nodeName);
  const status = (node.status ?? {}) as { addresses?: { type?: string; address?: string }[]; daemonEndpoints?: { kubeletEndpoint?: { Port?: number } } };
  const addresses = status.addresses ?? [];
  let host: string | undefined;
  for (const type of ['InternalIP', 'ExternalIP', 'Hostname']) {
    host ??= addresses.find((a) => a.type === type && a.address)?.address;
  }
  if (!host) {
    const known = addresses.map((a) => `{${a.type ?? ''} ${a.address ?? ''}}`).join(' ');
    throw errors.internalError(new Error(`no preferred addresses found; known addresses: [${known}]`));
  }
  const port = status.daemonEndpoints?.kubeletEndpoint?.Port;
  const hostPort = host.includes(':') ? `[${host}]` : host;
  return `${hostPort}:${port && port > 0 ? port : KUBELET_PORT}`;
}

/** The dial error Go's net/http reports for a kubelet nobody serves (no ContainerStreams given). */
export function connectionRefused(method: 'Get' | 'Post', address: string, pathAndQuery: string): string {
  return `${method} "https://${address}${pathAndQuery}": dial tcp ${address}: connect: connection refused`;
}

/**
 * An error kube-apiserver does not turn into a Status (ErrorToAPIStatus's default): 500 with no
 * reason, which kubectl prints as `Error from server: <message>`.
 */
export function unknownError(message: string): errors.StatusError {
  return new errors.StatusError({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, code: 500 });
}

/**
 * The kubelet's validateContainerLogStatus against the pod's status: a message (the kubelet
 * answers it as 400, kube-apiserver as BadRequest) when there is no log to read.
 */
export function containerLogProblem(pod: KubeObject, container: string, previous: boolean): string | undefined {
  const podName = pod.metadata.name ?? '';
  const status = statusOf(pod);
  const q = `${goQuote(container)} in pod ${goQuote(podName)}`;
  const s = [...(status.containerStatuses ?? []), ...(status.initContainerStatuses ?? []), ...(status.ephemeralContainerStatuses ?? [])].find((c) => c.name === container);
  if (!s) return `container ${q} is not available`;
  const { waiting, running, terminated } = s.state ?? {};
  const last = s.lastState?.terminated;
  if (previous) return last ? undefined : `previous terminated container ${q} not found`;
  if (running || terminated || last) return undefined;
  if (waiting) {
    const reason = waiting.reason ?? '';
    if (reason === 'ErrImagePull') return `container ${q} is waiting to start: image can't be pulled`;
    if (reason === 'ImagePullBackOff') return `container ${q} is waiting to start: trying and failing to pull image`;
    return `container ${q} is waiting to start: ${reason}`;
  }
  return `container ${q} is waiting to start - no logs yet`;
}

/** url.Values.Encode (keys sorted): the kubelet URL in a dial error. */
export function encodeQuery(params: [string, string][]): string {
  const sorted = [...params].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const q = sorted.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v).replace(/%20/g, '+')}`).join('&');
  return q ? `?${q}` : '';
}

/** The kubelet's containerLogs query (LogLocation's params), as url.Values encodes it. */
export function logQuery(options: LogOptions): string {
  const params: [string, string][] = [];
  if (options.follow) params.push(['follow', 'true']);
  if (options.previous) params.push(['previous', 'true']);
  if (options.timestamps) params.push(['timestamps', 'true']);
  if (options.sinceSeconds !== undefined) params.push(['sinceSeconds', String(options.sinceSeconds)]);
  if (options.tailLines !== undefined) params.push(['tailLines', String(options.tailLines)]);
  if (options.limitBytes !== undefined) params.push(['limitBytes', String(options.limitBytes)]);
  return encodeQuery(params);
}
