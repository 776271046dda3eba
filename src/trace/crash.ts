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
import { parseNftList, type NftListing } from './nft-table.ts';

/** The crash flow's roles, in the order a crash passes through them (`lab ui` draws them so). */
export type CrashStep = 'kubelet' | 'API' | 'endpoints' | 'kube-proxy' | 'event' | 'file';

export interface Hop {
  /** ms since the kill. */
  at: number;
  who: string;
  what: string;
  resourceVersion?: string;
  /** Whose move this is in the crash flow. */
  step?: CrashStep;
  /** out: the pod leaving its Service; in: coming back. */
  direction?: 'out' | 'in';
  /** What was seen, as read: the watch event's fields, the Event, the rules that changed. */
  evidence?: string[];
  /** An EndpointSlice's Service (namespace/name). */
  service?: string;
  /** kube-proxy's chains that lost or regained the endpoint (KUBE-SVC/KUBE-SEP, or nftables service/endpoint chains). */
  chains?: string[];
}

type ContainerStatus = { name: string; containerID?: string; ready?: boolean; restartCount?: number; state?: { running?: object; waiting?: { reason?: string }; terminated?: { exitCode?: number; reason?: string; signal?: number } } };
export type TracedPod = KubeObject & { status?: { podIP?: string; conditions?: { type: string; status: string }[]; containerStatuses?: ContainerStatus[] } };
export type TracedSlice = KubeObject & { endpoints?: { addresses?: string[]; conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean }; targetRef?: { name?: string; namespace?: string } }[] };

const isReady = (p: TracedPod) => Boolean(p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));

/** What changed between two versions of the pod, as hops (pure): the kubelet's move, then the API's write. */
export function podHops(before: TracedPod, after: TracedPod, container: string, at: number): Hop[] {
  const hops: Hop[] = [];
  const rv = after.metadata.resourceVersion;
  const watched = `watch: MODIFIED pod ${after.metadata.namespace ?? 'default'}/${after.metadata.name} resourceVersion ${rv ?? '?'}`;
  const b = before.status?.containerStatuses?.find((c) => c.name === container);
  const a = after.status?.containerStatuses?.find((c) => c.name === container);
  const ready = (p: TracedPod) => p.status?.conditions?.find((c) => c.type === 'Ready');
  const stateText = (s: ContainerStatus['state'] | undefined) => (s?.running ? 'running' : s?.waiting ? `waiting (${s.waiting.reason ?? ''})` : s?.terminated ? `terminated (${s.terminated.reason ?? ''}, exitCode ${s.terminated.exitCode ?? '?'})` : 'unknown');
  if (b?.state?.running && a && !a.state?.running) {
    const last = (a as { lastState?: ContainerStatus['state'] }).lastState;
    const t = a.state?.terminated ?? last?.terminated;
    const how = t ? ` (${t.reason ?? 'Error'}, exit code ${t.exitCode ?? '?'})` : a.state?.waiting ? ` (${a.state.waiting.reason})` : '';
    const evidence = [watched, `status.containerStatuses[${container}].state: ${stateText(a.state)}`];
    if (last?.terminated) evidence.push(`status.containerStatuses[${container}].lastState: ${stateText(last)}${last.terminated.signal ? `, signal ${last.terminated.signal}` : ''}`);
    hops.push({ at, who: 'kubelet', what: `container ${container} exited${how}: pod status written`, resourceVersion: rv, step: 'kubelet', direction: 'out', evidence });
  }
  if ((a?.restartCount ?? 0) > (b?.restartCount ?? 0) && a?.state?.running) {
    hops.push({ at, who: 'kubelet', what: `container ${container} restarted after its back-off (restartCount ${a.restartCount})`, resourceVersion: rv, step: 'kubelet', direction: 'in', evidence: [watched, `status.containerStatuses[${container}].state: running, restartCount ${a.restartCount}`] });
  }
  const r = ready(after);
  const condition = r ? `status.conditions[Ready]: ${r.status}${(r as { reason?: string }).reason ? ` (${(r as { reason?: string }).reason})` : ''}` : 'status.conditions[Ready]: -';
  if (isReady(before) && !isReady(after)) hops.push({ at, who: 'API', what: `pod Ready=False stored: watchers (the endpointslice controller) told`, resourceVersion: rv, step: 'API', direction: 'out', evidence: [watched, condition] });
  if (!isReady(before) && isReady(after)) hops.push({ at, who: 'API', what: `pod Ready=True stored: watchers (the endpointslice controller) told`, resourceVersion: rv, step: 'API', direction: 'in', evidence: [watched, condition] });
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

/** A rule of a Service's chain that sends to one endpoint's chain. */
export interface ProxyJump {
  /** KUBE-SVC-... (iptables) or service-... (nftables). */
  svc: string;
  /** KUBE-SEP-... or endpoint-...__<ip>/<port>. */
  sep: string;
  rule: string;
}

/** The KUBE-SVC rules of a `iptables-save -t nat` dump that jump to a KUBE-SEP chain DNATing to `ip` (pure). */
export function iptablesJumps(natDump: string, ip: string): ProxyJump[] {
  const sepToIp = new Map<string, string>();
  for (const m of natDump.matchAll(/^-A (KUBE-SEP-\S+) .*--to-destination (\S+?):\d+/gm)) sepToIp.set(m[1]!, m[2]!);
  const out: ProxyJump[] = [];
  for (const m of natDump.matchAll(/^-A (KUBE-SVC-\S+) .*-j (KUBE-SEP-\S+)\s*$/gm)) if (sepToIp.get(m[2]!) === ip) out.push({ svc: m[1]!, sep: m[2]!, rule: m[0].trim() });
  return out;
}

/** The service chains of kube-proxy's nftables table whose rules go to an endpoint chain of `ip` (pure). */
export function nftJumps(listing: NftListing | null, ip: string): ProxyJump[] {
  if (!listing) return [];
  const eps = [...listing.chains.keys()].filter((c) => c.startsWith('endpoint-') && c.includes(`__${ip}/`));
  const out: ProxyJump[] = [];
  for (const [name, chain] of listing.chains) {
    if (!name.startsWith('service-')) continue;
    for (const r of chain.rules) for (const ep of eps) if (r.text.includes(ep)) out.push({ svc: name, sep: ep, rule: r.text });
  }
  return out;
}

/** Whether some Service's chain in a `iptables-save -t nat` dump sends to `ip` (pure). */
export function inProxyRules(natDump: string, ip: string): boolean {
  return iptablesJumps(natDump, ip).length > 0;
}

/** The rules of one chain, as the dump lists them (pure). */
export function chainRules(mode: 'iptables' | 'nftables', text: string, chain: string): string[] {
  if (mode === 'iptables') return text.split('\n').filter((l) => l.startsWith(`-A ${chain} `));
  return parseNftList(text)?.chains.get(chain)?.rules.map((r) => r.text) ?? [];
}

/** kube-proxy's move as the kernel shows it: the jumps to the pod's endpoint chains that went or came (pure). */
export function proxyHop(mode: 'iptables' | 'nftables', before: ProxyJump[], after: ProxyJump[], text: string, ip: string): Omit<Hop, 'at'> | null {
  const back = after.length > 0;
  if (back === before.length > 0) return null;
  const changed = back ? after : before;
  const where = mode === 'iptables' ? 'the Service chains (nat table)' : "the Service chains (nftables table ip kube-proxy)";
  const svcs = [...new Set(changed.map((j) => j.svc))];
  const evidence = [
    mode === 'iptables' ? 'iptables-save -t nat, in the node' : 'nft list table ip kube-proxy, in the node',
    ...changed.map((j) => `${back ? '+ ' : '- '}${j.rule}`),
    ...svcs.flatMap((c) => [`${c} now:`, ...chainRules(mode, text, c).map((l) => `  ${l}`)]),
  ];
  return { who: 'kube-proxy', what: back ? `${ip} back in ${where}` : `${ip} out of ${where}`, step: 'kube-proxy', direction: back ? 'in' : 'out', evidence, chains: [...svcs, ...new Set(changed.map((j) => j.sep))] };
}

/** One Event about the pod, as the watch delivers it (pure). */
export function eventHop(type: string, e: TracedEvent): Omit<Hop, 'at'> {
  const from = e.source?.component ?? e.reportingComponent ?? '';
  return {
    who: `Event (${from || '?'})`,
    what: `${e.type ?? 'Normal'} ${e.reason ?? ''}: ${e.message ?? ''}`,
    resourceVersion: e.metadata.resourceVersion,
    step: 'event',
    evidence: [`watch: ${type} Event ${e.metadata.name} resourceVersion ${e.metadata.resourceVersion ?? '?'}`, `involvedObject: ${e.involvedObject?.kind ?? ''} ${e.involvedObject?.namespace ?? ''}/${e.involvedObject?.name ?? ''}, count ${e.count ?? 1}, from ${from}${e.source?.host ? ` on ${e.source.host}` : ''}`],
  };
}

export type TracedEvent = KubeObject & { type?: string; reason?: string; message?: string; count?: number; reportingComponent?: string; source?: { component?: string; host?: string }; involvedObject?: { kind?: string; name?: string; namespace?: string } };

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
  /** Also watch the pod's Events (`lab ui`'s timeline shows them). */
  events?: boolean;
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
  const EVENTS = { group: '', resource: 'events' };
  const podSel = { namespace: opts.namespace, fieldSelector: `metadata.name=${opts.pod}` };
  const eventSel = { namespace: opts.namespace, fieldSelector: `involvedObject.kind=Pod,involvedObject.name=${opts.pod}` };
  const [pods, slices, events] = await Promise.all([
    client.list<TracedPod>(PODS, podSel),
    client.list<TracedSlice>(SLICES, { namespace: opts.namespace }),
    opts.events ? client.list<TracedEvent>(EVENTS, eventSel) : Promise.resolve(null),
  ]);
  let pod = pods.items[0];
  if (!pod) throw new Error(`pods "${opts.pod}" not found`);
  const ip = pod.status?.podIP;
  const ref = { name: opts.pod, namespace: opts.namespace };
  const sliceReady = new Map(slices.items.map((s) => [s.metadata.name, endpointReady(s, ref)]));
  const restarts0 = pod.status?.containerStatuses?.find((c) => c.name === opts.container)?.restartCount ?? 0;
  let t0 = Date.now();
  const hop = (h: Omit<Hop, 'at'>) => opts.onHop({ ...h, at: Date.now() - t0 });
  // kube-proxy's rules as the node's kernel holds them: its nat table, or its nftables table.
  const readNat = async () => (await run(['iptables-save', '-t', 'nat'], { netns: opts.nodeNetns, allowFail: true })).stdout;
  const readNft = async () => {
    const r = await run(['nft', 'list', 'table', 'ip', 'kube-proxy'], { netns: opts.nodeNetns, allowFail: true }).catch(() => null);
    return r?.exitCode === 0 ? r.stdout : '';
  };
  let proxyText = ip ? await readNat() : '';
  let mode: 'iptables' | 'nftables' = 'iptables';
  if (ip && !/^:KUBE-SERVICES /m.test(proxyText)) {
    const nft = await readNft();
    if (nft) {
      mode = 'nftables';
      proxyText = nft;
    }
  }
  const jumpsOf = (text: string) => (!ip ? [] : mode === 'iptables' ? iptablesJumps(text, ip) : nftJumps(parseNftList(text), ip));
  let jumps = jumpsOf(proxyText);
  let rules = jumps.length > 0;
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
          hop({ who: 'API', what: `pod deleted`, resourceVersion: e.object.metadata.resourceVersion, step: 'API', direction: 'out', evidence: [`watch: DELETED pod ${opts.namespace}/${opts.pod} resourceVersion ${e.object.metadata.resourceVersion ?? '?'}`] });
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
        const ep = e.object.endpoints?.find((x) => x.targetRef?.name === opts.pod);
        const svc = e.object.metadata.labels?.['kubernetes.io/service-name'];
        const c = ep?.conditions ?? {};
        hop({
          who: 'endpointslice controller',
          what: `EndpointSlice ${e.object.metadata.name}: endpoint ${ip ?? opts.pod} ${state}`,
          resourceVersion: e.object.metadata.resourceVersion,
          step: 'endpoints',
          direction: now === true ? 'in' : 'out',
          service: svc ? `${opts.namespace}/${svc}` : undefined,
          evidence: [
            `watch: ${e.type} EndpointSlice ${opts.namespace}/${e.object.metadata.name} resourceVersion ${e.object.metadata.resourceVersion ?? '?'}${svc ? ` (kubernetes.io/service-name=${svc})` : ''}`,
            ep ? `endpoints[${(ep.addresses ?? []).join(',')}] targetRef pod ${opts.pod}: conditions ready=${c.ready ?? '-'} serving=${c.serving ?? '-'} terminating=${c.terminating ?? '-'}` : `no endpoint for pod ${opts.pod} any more`,
          ],
        });
      },
      () => {},
    ),
  ];
  if (events) {
    stops.push(
      client.listWatch<TracedEvent>(EVENTS, eventSel).watch(
        { resourceVersion: events.resourceVersion },
        (e: WatchEvent<TracedEvent>) => {
          if (e.type === 'ADDED' || e.type === 'MODIFIED') hop(eventHop(e.type, e.object));
        },
        () => {},
      ),
    );
  }
  let polling = true;
  const poll = (async () => {
    while (polling && ip) {
      const text = mode === 'iptables' ? await readNat() : await readNft();
      const next = jumpsOf(text);
      const h = proxyHop(mode, jumps, next, text, ip);
      jumps = next;
      if (h) {
        rules = next.length > 0;
        if (!rules) sawOut = true;
        hop(h);
        check();
      }
      for (const [i, f] of files.entries()) {
        const now = await named(f);
        if (now === fileState[i]) continue;
        fileState[i] = now;
        fileChanged[i] = true;
        hop({ who: f.who, what: now ? `${ip} back in ${f.where}` : `${ip} out of ${f.where}`, step: 'file', direction: now ? 'in' : 'out', evidence: [f.path] });
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
