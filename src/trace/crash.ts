// `lab kill <pod> --trace`: the control-plane hops of one crash, as they happen, with the time
// since the kill and the resourceVersion each write got in the API:
//   container exit seen by the kubelet -> pod status Ready=False (API) -> EndpointSlice updated by
//   the endpointslice controller (API) -> kube-proxy's rules without the endpoint (the node's nat
//   table) -> restart after the back-off -> Ready -> the endpoint back in the slice and the rules.
// The cluster DNS's records and the ingress's nginx.conf are watched too: they change only when
// they name the pod's address (a headless Service's records; nginx sending straight to pods,
// service-upstream "false"); otherwise the trace says why they did not.
// Everything here is observed from outside: watches on the API (pods, EndpointSlices), the
// node's `iptables-save -t nat` and the files the DNS and ingress pods read. No role reports to
// the trace; it sees what a learner could see.
import { readFile } from 'node:fs/promises';
import type { Client, KubeObject, WatchEvent } from '../client/types.ts';
import { run, type Netns } from '../sys/exec.ts';

export interface Hop {
  /** ms since the kill. */
  at: number;
  who: string;
  what: string;
  resourceVersion?: string;
}

type ContainerStatus = { name: string; containerID?: string; ready?: boolean; restartCount?: number; state?: { running?: object; waiting?: { reason?: string }; terminated?: { exitCode?: number; reason?: string; signal?: number } } };
export type TracedPod = KubeObject & { status?: { podIP?: string; conditions?: { type: string; status: string }[]; containerStatuses?: ContainerStatus[] } };
export type TracedSlice = KubeObject & { endpoints?: { addresses?: string[]; conditions?: { ready?: boolean }; targetRef?: { name?: string; namespace?: string } }[] };

const isReady = (p: TracedPod) => Boolean(p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));

/** What changed between two versions of the pod, as hops (pure). */
export function podHops(before: TracedPod, after: TracedPod, container: string, at: number): Hop[] {
  const hops: Hop[] = [];
  const rv = after.metadata.resourceVersion;
  const b = before.status?.containerStatuses?.find((c) => c.name === container);
  const a = after.status?.containerStatuses?.find((c) => c.name === container);
  if (b?.state?.running && a && !a.state?.running) {
    const t = a.state?.terminated ?? (a as { lastState?: ContainerStatus['state'] }).lastState?.terminated;
    const how = t ? ` (${t.reason ?? 'Error'}, exit code ${t.exitCode ?? '?'})` : a.state?.waiting ? ` (${a.state.waiting.reason})` : '';
    hops.push({ at, who: 'kubelet', what: `container ${container} exited${how}: pod status written`, resourceVersion: rv });
  }
  if ((a?.restartCount ?? 0) > (b?.restartCount ?? 0) && a?.state?.running) hops.push({ at, who: 'kubelet', what: `container ${container} restarted after its back-off (restartCount ${a.restartCount})`, resourceVersion: rv });
  if (isReady(before) && !isReady(after)) hops.push({ at, who: 'kubelet', what: `pod Ready=False`, resourceVersion: rv });
  if (!isReady(before) && isReady(after)) hops.push({ at, who: 'kubelet', what: `pod Ready=True`, resourceVersion: rv });
  return hops;
}

/** The pod's endpoint readiness in a slice, or undefined when the slice does not list it. */
export function endpointReady(slice: TracedSlice, pod: { name: string; namespace?: string }): boolean | undefined {
  const e = slice.endpoints?.find((x) => x.targetRef?.name === pod.name && (x.targetRef.namespace ?? slice.metadata.namespace) === pod.namespace);
  return e ? e.conditions?.ready !== false : undefined;
}

/** Whether a file's text names `ip` as an address (not as part of a longer one) (pure). */
export function mentions(text: string, ip: string): boolean {
  return new RegExp(`(^|[^\\d.])${ip.replace(/\./g, '\\.')}(?![\\d]|\\.\\d)`).test(text);
}

/** A file a role writes from the API, watched for the pod's address. */
export interface WatchedFile {
  who: string;
  path: string;
  /** What the address's leaving or coming back means, e.g. "nginx.conf's upstreams". */
  where: string;
  /** Said at the end when the file never named the address: why it did not change. */
  unchanged: string;
}

/** Whether some Service's chain in a `iptables-save -t nat` dump sends to `ip` (pure). */
export function inProxyRules(natDump: string, ip: string): boolean {
  const sepToIp = new Map<string, string>();
  for (const m of natDump.matchAll(/^-A (KUBE-SEP-\S+) .*--to-destination (\S+?):\d+/gm)) sepToIp.set(m[1]!, m[2]!);
  for (const m of natDump.matchAll(/^-A KUBE-SVC-\S+ .*-j (KUBE-SEP-\S+)/gm)) if (sepToIp.get(m[1]!) === ip) return true;
  return false;
}

export interface CrashTraceOptions {
  client: Client;
  namespace: string;
  pod: string;
  container: string;
  /** The node's network namespace (null: host mode) for its nat table. */
  nodeNetns: Netns;
  /** Called with each hop as it is seen. */
  onHop: (h: Hop) => void;
  /** The DNS records and nginx.conf, say: polled with the rules. */
  files?: WatchedFile[];
  /** Called at the end for each watched file that never named the pod's address. */
  onNote?: (line: string) => void;
  timeoutMs?: number;
  /** How often the nat table is read. */
  rulesEveryMs?: number;
}

/**
 * Starts watching (from the current resourceVersions), then calls `kill`, then reports hops until
 * the pod is ready again with its endpoint back in the rules, or the time is up. Resolves true
 * when the whole round trip was seen.
 */
export async function traceCrash(opts: CrashTraceOptions, kill: () => void | Promise<void>): Promise<boolean> {
  const { client } = opts;
  const PODS = { group: '', resource: 'pods' };
  const SLICES = { group: 'discovery.k8s.io', resource: 'endpointslices' };
  const podSel = { namespace: opts.namespace, fieldSelector: `metadata.name=${opts.pod}` };
  const [pods, slices] = await Promise.all([client.list<TracedPod>(PODS, podSel), client.list<TracedSlice>(SLICES, { namespace: opts.namespace })]);
  let pod = pods.items[0];
  if (!pod) throw new Error(`pods "${opts.pod}" not found`);
  const ip = pod.status?.podIP;
  const ref = { name: opts.pod, namespace: opts.namespace };
  const sliceReady = new Map(slices.items.map((s) => [s.metadata.name, endpointReady(s, ref)]));
  const restarts0 = pod.status?.containerStatuses?.find((c) => c.name === opts.container)?.restartCount ?? 0;
  let t0 = Date.now();
  const hop = (h: Omit<Hop, 'at'>) => opts.onHop({ ...h, at: Date.now() - t0 });
  let rules = ip ? inProxyRules((await run(['iptables-save', '-t', 'nat'], { netns: opts.nodeNetns })).stdout, ip) : false;
  const files = opts.files ?? [];
  const named = async (f: WatchedFile) => (ip ? mentions(await readFile(f.path, 'utf8').catch(() => ''), ip) : false);
  const fileState = await Promise.all(files.map(named));
  const fileChanged = files.map(() => false);
  let sawOut = false;
  let done: (ok: boolean) => void = () => {};
  const finished = new Promise<boolean>((r) => (done = r));
  const check = () => {
    const restarted = (pod!.status?.containerStatuses?.find((c) => c.name === opts.container)?.restartCount ?? 0) > restarts0;
    if (restarted && isReady(pod!) && rules && sawOut) done(true);
  };

  const stops = [
    client.listWatch<TracedPod>(PODS, podSel).watch(
      { resourceVersion: pods.resourceVersion },
      (e: WatchEvent<TracedPod>) => {
        if (e.type === 'DELETED') {
          hop({ who: 'API', what: `pod deleted`, resourceVersion: e.object.metadata.resourceVersion });
          return done(false);
        }
        if (e.type !== 'MODIFIED') return;
        for (const h of podHops(pod!, e.object, opts.container, Date.now() - t0)) opts.onHop(h);
        pod = e.object;
        check();
      },
      () => {},
    ),
    client.listWatch<TracedSlice>(SLICES, { namespace: opts.namespace }).watch(
      { resourceVersion: slices.resourceVersion },
      (e: WatchEvent<TracedSlice>) => {
        if (e.type !== 'MODIFIED' && e.type !== 'ADDED') return;
        const now = endpointReady(e.object, ref);
        const was = sliceReady.get(e.object.metadata.name);
        sliceReady.set(e.object.metadata.name, now);
        if (now === was) return;
        const state = now === undefined ? 'removed from it' : `ready=${now}`;
        hop({ who: 'endpointslice controller', what: `EndpointSlice ${e.object.metadata.name}: endpoint ${ip ?? opts.pod} ${state}`, resourceVersion: e.object.metadata.resourceVersion });
      },
      () => {},
    ),
  ];
  let polling = true;
  const poll = (async () => {
    while (polling && ip) {
      const now = inProxyRules((await run(['iptables-save', '-t', 'nat'], { netns: opts.nodeNetns, allowFail: true })).stdout, ip);
      if (now !== rules) {
        rules = now;
        if (!now) sawOut = true;
        hop({ who: 'kube-proxy', what: now ? `${ip} back in the Service chains (nat table)` : `${ip} out of the Service chains (nat table)` });
        check();
      }
      for (const [i, f] of files.entries()) {
        const now = await named(f);
        if (now === fileState[i]) continue;
        fileState[i] = now;
        fileChanged[i] = true;
        hop({ who: f.who, what: now ? `${ip} back in ${f.where}` : `${ip} out of ${f.where}` });
      }
      await new Promise((r) => setTimeout(r, opts.rulesEveryMs ?? 10));
    }
  })();
  const timer = setTimeout(() => done(false), opts.timeoutMs ?? 60_000);
  try {
    t0 = Date.now();
    await kill();
    return await finished;
  } finally {
    clearTimeout(timer);
    polling = false;
    for (const s of stops) s();
    await poll;
    for (const [i, f] of files.entries()) if (!fileChanged[i] && !fileState[i]) opts.onNote?.(`${f.who}: ${f.unchanged}`);
  }
}

/** "+  12 ms  kube-proxy                  10.42.0.7 out of ... (resourceVersion 123)" */
export function formatHop(h: Hop): string {
  const at = h.at < 10_000 ? `${h.at} ms` : `${(h.at / 1000).toFixed(1)} s`;
  return `+${at.padStart(8)}  ${h.who.padEnd(25)} ${h.what}${h.resourceVersion ? `  (resourceVersion ${h.resourceVersion})` : ''}`;
}
