// `lab trace <url>`: sends one real request (curl, from the laptop namespace or from a pod) and
// prints the path it took, with the kernel's evidence for each hop. This module only collects
// the observations around the request; src/trace/trace.ts turns them into hops.
import { isSystemPod } from '../../api/owners.ts';
import { accessLogPath } from '../../ingress/controller.ts';
import { parseAccessLogLine, type AccessLogEntry } from '../../ingress/nginx.ts';
import { SANDBOX_HOST_IP } from '../../node/node.ts';
import { run, type Netns } from '../../sys/exec.ts';
import { flowTraceComplete, NFTRACE_TABLE, nftraceTable, parseNftTrace, type NftTraceEvent } from '../../trace/nftrace.ts';
import { counterDeltas, type IptablesDump } from '../../trace/iptables.ts';
import type { ConntrackEntry } from '../../trace/conntrack.ts';
import { findPod } from '../../trace/lookup.ts';
import { containerLogs, nodeFiles, explainFor, fileSize, indexFor, ipJson, linesSince, loadLabContext, podNode, readConntrack, readIptables, readNftTable, type LabContext } from '../../trace/observe.ts';
import { nodeByIP, type NodeInfo } from '../../trace/nodes.ts';
import { PcapStreamReader } from '../../trace/pcap.ts';
import { decodeVxlan, type VxlanFrame } from '../../trace/vxlan.ts';
import { spawnStream, type StreamChild } from '../../sys/stream.ts';
import { VXLAN_PORT } from './tcpdump.ts';
import { CURL_WRITE_OUT, parseCurlOutput, parseDig, parseDnsLogLine, parseTraceUrl, type DnsAnswer, type DnsLogEntry } from '../../trace/observations.ts';
import { renderTrace } from '../../trace/render.ts';
import { buildTrace, type CrossNodeObservations, type ResolutionMethod, type Trace, type TraceObservations, type TraceSource, type Window } from '../../trace/trace.ts';
import type { Common } from '../common.ts';
import { preflight, tools } from '../preflight.ts';

export type Args = Common & { url: string; from?: string; namespace?: string; json: boolean; header?: string[]; timeout: number };

interface Snapshot {
  ipt: IptablesDump;
  ct: ConntrackEntry[];
}

async function snapshot(netns: Netns): Promise<Snapshot> {
  const [ipt, ct] = await Promise.all([readIptables(netns, { counters: true }), readConntrack(netns)]);
  return { ipt, ct };
}

function window(a: Snapshot, b: Snapshot): Window {
  return { deltas: counterDeltas(a.ipt, b.ipt), conntrackBefore: a.ct, conntrackAfter: b.ct };
}

/** The node whose rules NAT the request and whose routes send it on: the source pod's, else the node dialed (else the server's). */
function sendingNode(ctx: LabContext, src: TraceSource, address: string): NodeInfo | undefined {
  if (!ctx.nodes.length) return undefined;
  if (src.kind === 'pod' && src.pod) return podNode(ctx, src.pod);
  const dialed = nodeByIP(ctx.nodes, address);
  return dialed?.reachable ? dialed : ctx.nodes.find((n) => n.name === ctx.state.nodeName && n.reachable);
}

function traceSource(ctx: LabContext, a: Pick<Args, 'from' | 'namespace'>): TraceSource & { ip?: string } {
  if (a.from) {
    const pod = findPod(ctx.state, a.from, a.namespace);
    const netns = pod.metadata.annotations['lab/netns'];
    if (!netns || !pod.status.podIP) throw new Error(`pod ${pod.metadata.name} has no network yet`);
    return { kind: 'pod', label: `pod ${pod.metadata.namespace}/${pod.metadata.name}`, netns, pod, ip: pod.status.podIP };
  }
  if (ctx.laptopNetns) return { kind: 'laptop', label: 'the laptop', netns: ctx.laptopNetns, ip: SANDBOX_HOST_IP };
  // Host mode: the laptop is outside the VM; the request starts on the node itself.
  return { kind: 'node', label: `node ${ctx.state.nodeName}`, netns: null, ip: ctx.state.nodeIP };
}

/** flannel.1's received packet count on a node (ip -s link), undefined when it has none. */
async function flannelRx(netns: Netns): Promise<number | undefined> {
  const [l] = (await ipJson(netns, '-s', 'link', 'show', 'dev', 'flannel.1')) as ({ stats64?: { rx?: { packets?: number } } } | undefined)[];
  return l?.stats64?.rx?.packets;
}

/**
 * A capture of flannel's VXLAN on a node's eth1 around the request: tcpdump writing pcap to its
 * stdout (the frames are decoded here, vxlan.ts), started and listening before the request.
 */
async function startVxlanCapture(netns: Netns): Promise<{ stop: () => Promise<{ frames: VxlanFrame[]; error?: string }> }> {
  const child: StreamChild = spawnStream(['tcpdump', '-n', '--immediate-mode', '-i', 'eth1', '-U', '-w', '-', 'udp', 'port', String(VXLAN_PORT)], { netns });
  const reader = new PcapStreamReader();
  const frames: VxlanFrame[] = [];
  let error: string | undefined;
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    try {
      for (const rec of reader.push(chunk)) {
        const f = decodeVxlan(rec.data, VXLAN_PORT);
        if (f) frames.push({ ...f, time: rec.seconds + rec.fraction / (reader.header?.nanos ? 1e9 : 1e6) });
      }
    } catch (e) {
      error = (e as Error).message;
    }
  });
  const listening = new Promise<void>((resolve) => {
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      if (/listening on /.test(stderr)) resolve();
    });
    void child.exited.then(() => resolve());
  });
  await Promise.race([listening, new Promise((r) => setTimeout(r, 3000))]);
  return {
    stop: async () => {
      // The last frames of the reply: tcpdump hands each one over at once (-U, immediate mode).
      await new Promise((r) => setTimeout(r, 100));
      child.stop('SIGINT');
      const ended = await child.exited;
      if (!frames.length && ended.code !== 0 && ended.signal === null) error ??= stderr.trim().split('\n').at(-1);
      return { frames, ...(error ? { error } : {}) };
    },
  };
}

/** Pods whose container logs are read: the cluster DNS pods, and every pod (to find who answered). */
async function logOffsets(ctx: LabContext): Promise<Map<string, { pod: string; file: string; offset: number }[]>> {
  const out = new Map<string, { pod: string; file: string; offset: number }[]>();
  for (const p of ctx.index.pods) {
    // A pod's logs are in its node's files (each agent has its own directory in the sandbox).
    const files = containerLogs(nodeFiles(ctx, p.spec.nodeName), p.metadata.name, p.spec.containers.map((c) => c.name));
    out.set(p.metadata.name, await Promise.all(files.map(async (file) => ({ pod: p.metadata.name, file, offset: await fileSize(file) }))));
  }
  return out;
}

const isDnsPod = (ctx: LabContext, name: string) => {
  const pod = ctx.index.podByName(name);
  return pod !== undefined && isSystemPod(pod, 'dns');
};

async function newDnsLog(ctx: LabContext, offsets: Map<string, { pod: string; file: string; offset: number }[]>): Promise<DnsLogEntry[]> {
  const out: DnsLogEntry[] = [];
  for (const [pod, files] of offsets) {
    if (!isDnsPod(ctx, pod)) continue;
    for (const f of files) for (const l of await linesSince(f.file, f.offset)) {
      const e = parseDnsLogLine(l);
      if (e) out.push(e);
    }
  }
  return out;
}

async function resolve(ctx: LabContext, src: TraceSource, host: string): Promise<{ method: ResolutionMethod; answer: DnsAnswer; window?: Window; dnsLog?: DnsLogEntry[] }> {
  if (src.kind === 'pod') {
    // dig through the pod's resolv.conf (search list, ndots:5), as its resolver would.
    const offsets = await logOffsets(ctx);
    // The query is NATed on the pod's own node.
    const nodeNetns = ctx.nodes.length && src.pod ? podNode(ctx, src.pod).netns : ctx.nodeNetns;
    const before = await snapshot(nodeNetns);
    const r = await run(['dig', '+search', '+tries=1', '+time=3', host, 'A'], { netns: src.netns, allowFail: true });
    const after = await snapshot(nodeNetns);
    const answer = parseDig(host, r.stdout);
    if (r.exitCode !== 0 && !answer.status) throw new Error(`dig ${host} in ${src.label} failed: ${(r.stderr || r.stdout).trim()}`);
    // The queries of this lookup: from the pod, for the name or one of its search-list expansions.
    const dnsLog = (await newDnsLog(ctx, offsets)).filter((e) => e.client === src.pod?.status.podIP && (e.name === host || e.name.startsWith(`${host}.`)));
    return { method: 'cluster-dns', answer, window: window(before, after), dnsLog };
  }
  const r = await run(['getent', 'ahostsv4', host], { netns: src.netns, allowFail: true });
  const addresses = [...new Set(r.stdout.split('\n').map((l) => l.trim().split(/\s+/)[0]).filter((x): x is string => !!x && /^\d+\.\d+\.\d+\.\d+$/.test(x)))];
  return { method: src.kind === 'laptop' ? 'hosts-file' : 'system', answer: { query: host, addresses, cnames: [], status: addresses.length ? 'NOERROR' : 'NXDOMAIN' } };
}

/** Rules the monitor only knew by handle (added after it started): their text from the table as it is now. */
async function withRuleTexts(netns: Netns, events: NftTraceEvent[]): Promise<NftTraceEvent[]> {
  if (!events.some((e) => e.kind === 'rule' && e.text === '' && e.table === 'kube-proxy')) return events;
  const listing = await readNftTable(netns);
  return events.map((e) => (e.kind === 'rule' && e.text === '' && e.table === 'kube-proxy' && e.handle !== undefined ? { ...e, text: listing?.chains.get(e.chain)?.rules.find((x) => x.handle === e.handle)?.text ?? `(rule handle ${e.handle}, gone since)` } : e));
}

/**
 * nftables mode: `nft -a monitor` in the node's namespace, and the lab's own table ip lab-trace that
 * sets meta nftrace for the client's source port only; stop() ends the monitor (by its PID) and
 * deletes the table, also when the request failed.
 */
async function startNftrace(netns: Netns, sport: number): Promise<{ stop: () => Promise<NftTraceEvent[]> }> {
  // A table left by an interrupted trace first.
  await run(['nft', 'delete', 'table', 'ip', NFTRACE_TABLE], { netns, allowFail: true });
  const mon = spawnStream(['nft', '-a', 'monitor'], { netns });
  let out = '';
  mon.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
  mon.stderr.resume();
  const cleanup = async () => {
    mon.stop();
    await mon.exited;
    await run(['nft', 'delete', 'table', 'ip', NFTRACE_TABLE], { netns, allowFail: true });
  };
  try {
    // The monitor is listening once it reports the table's own rule being added.
    const ready = new RegExp(`^add rule ip ${NFTRACE_TABLE} output `, 'm');
    for (let i = 0; !ready.test(out); i++) {
      if (i === 0 || i % 20 === 0) await run(['nft', '-f', '-'], { netns, input: `delete table ip ${NFTRACE_TABLE}\n`, allowFail: true }).then(() => run(['nft', '-f', '-'], { netns, input: nftraceTable('tcp', sport) }));
      if (i > 100) throw new Error('nft monitor did not start in the node\'s namespace');
      await new Promise((res) => setTimeout(res, 20));
    }
  } catch (e) {
    await cleanup();
    throw e;
  }
  return {
    async stop() {
      // nft monitor prints the kernel's trace events as it reads them: on a busy machine the last
      // ones (the endpoint chain's DNAT, nat-postrouting) may still be on their way when curl
      // returns. Wait until the first packet's trace has reached its last verdict in kube-proxy's
      // table (flowTraceComplete), at most 2 s (a flow the kernel traced no packet of).
      const flow = { protocol: 'tcp', sport };
      for (const t0 = Date.now(); !flowTraceComplete(parseNftTrace(out.slice(0, out.lastIndexOf('\n') + 1)), flow) && Date.now() - t0 < 2000; ) {
        await new Promise((res) => setTimeout(res, 20));
      }
      await cleanup();
      return parseNftTrace(out);
    },
  };
}

export async function traceHandler(a: Args): Promise<void> {
  preflight({ needRoot: true, tools: tools('curl', 'iptables-save', 'conntrack', ...(a.from ? ['dig'] : [])) });
  const trace = await runTrace(a);
  process.stdout.write(a.json ? JSON.stringify(trace, null, 2) + '\n' : renderTrace(trace));
  if (trace.response.exitCode !== 0) process.exitCode = 1;
}

export type TraceRequest = Pick<Args, 'name' | 'url' | 'from' | 'namespace' | 'header' | 'timeout'>;

/** One real request and the path it took (`lab trace`; `lab ui`'s "send a request" runs this too). */
export async function runTrace(a: TraceRequest): Promise<Trace> {
  const url = parseTraceUrl(a.url);
  const ctx = await loadLabContext(a.name);
  const src = traceSource(ctx, a);
  const headers = (a.header ?? []).map(String);
  for (const h of headers) if (!/^[A-Za-z0-9-]+:/.test(h)) throw new Error(`bad header ${JSON.stringify(h)}: use -H 'Name: value'`);
  const hostHeader = headers.find((h) => /^host:/i.test(h))?.replace(/^host:\s*/i, '') ?? (url.port === 80 ? url.host : `${url.host}:${url.port}`);
  const clusterDNS = ctx.index.servicePorts.find((sp) => sp.service.metadata.namespace === 'kube-system' && sp.service.metadata.name === 'kube-dns')?.service.spec.clusterIP ?? '10.43.0.10';

  const resolution = url.isIP ? undefined : await resolve(ctx, src, url.host);
  const address = url.isIP ? url.host : resolution?.answer.addresses[0];
  if (!address) {
    const hint = src.kind === 'pod' ? ` (an Ingress host such as app2.com is the laptop's name for the node IP; from a pod use the Service name, or http://${ctx.state.nodeIP}/ -H 'Host: ${url.host}')` : '';
    throw new Error(`${url.host} does not resolve from ${src.label}: ${resolution?.answer.status ?? 'no answer'}${hint}`);
  }

  // The request, between two snapshots of the sending node's counters and connections (and, with
  // more than one node, of every other node's conntrack and flannel.1, with a capture of the
  // VXLAN leaving the sending node's eth1).
  const sender = sendingNode(ctx, src, address);
  const netns = sender ? sender.netns : ctx.nodeNetns;
  const index = sender ? indexFor(ctx, sender) : ctx.index;
  const explain = sender ? await explainFor(ctx, sender) : ctx.explain;
  const others = ctx.state.mode === 'sandbox' && sender ? ctx.nodes.filter((n) => n.reachable && n.name !== sender.name) : [];
  const offsets = await logOffsets(ctx);
  const access = accessLogPath(ctx.paths.stateDir);
  const accessOffset = await fileSize(access);
  const routes = sender && others.length ? (await run(['ip', 'route', 'show'], { netns, allowFail: true })).stdout : '';
  const receiverRoutes = await Promise.all(others.map(async (n) => (await run(['ip', 'route', 'show'], { netns: n.netns, allowFail: true })).stdout));
  const capture = others.length ? await startVxlanCapture(netns) : null;
  const [before, othersBefore, rxBefore] = await Promise.all([snapshot(netns), Promise.all(others.map((n) => readConntrack(n.netns))), Promise.all(others.map((n) => flannelRx(n.netns)))]);
  // kube-proxy's nftables mode (its table is on the sending node): the kernel's own trace of this
  // flow, told apart by curl's source port (below the ephemeral range, so no other connection has it).
  const nftMode = (await readNftTable(netns)) !== null;
  const sport = 20000 + Math.floor(Math.random() * 10000);
  const nftrace = nftMode ? await startNftrace(netns, sport) : null;
  const curlArgv = [
    'curl', '-sS', '--max-time', String(a.timeout),
    ...(nftMode ? ['--local-port', String(sport)] : []),
    // The address resolved above is the one used: curl does not look the name up again.
    ...(url.isIP ? [] : ['--resolve', `${url.host}:${url.port}:${address}`]),
    ...headers.flatMap((h) => ['-H', h]),
    '-w', CURL_WRITE_OUT,
    `http://${url.host}:${url.port}${url.path}`,
  ];
  let r;
  let nftEvents: NftTraceEvent[] = [];
  try {
    r = await run(curlArgv, { netns: src.netns, allowFail: true, timeoutMs: (a.timeout + 5) * 1000 });
  } catch (e) {
    await capture?.stop();
    throw e;
  } finally {
    if (nftrace) nftEvents = await nftrace.stop();
  }
  const curl = parseCurlOutput(r.stdout, r.exitCode, r.stderr);
  // nginx writes its access log line when the request is finalized, a moment after the reply.
  let accessLines: string[] = [];
  for (let i = 0; i < 20; i++) {
    accessLines = await linesSince(access, accessOffset);
    if (accessLines.length) break;
    if (i === 0 && curl.exitCode !== 0) break;
    await new Promise((res) => setTimeout(res, 25));
  }
  const captured = await capture?.stop();
  const [after, othersAfter, rxAfter] = await Promise.all([snapshot(netns), Promise.all(others.map((n) => readConntrack(n.netns))), Promise.all(others.map((n) => flannelRx(n.netns)))]);
  const nodes: CrossNodeObservations | undefined =
    sender && others.length
      ? {
          sending: { name: sender.name, ip: sender.ip, routes },
          capture: captured ?? { frames: [] },
          receivers: others.map((n, i) => ({
            name: n.name,
            ip: n.ip,
            podCIDR: n.podCIDR,
            routes: receiverRoutes[i]!,
            ...(rxBefore[i] !== undefined && rxAfter[i] !== undefined ? { flannelRx: { before: rxBefore[i]!, after: rxAfter[i]! } } : {}),
            window: { deltas: [], conntrackBefore: othersBefore[i]!, conntrackAfter: othersAfter[i]! },
          })),
        }
      : undefined;

  const podLogs: Record<string, string[]> = {};
  for (const [pod, files] of offsets) podLogs[pod] = (await Promise.all(files.map((f) => linesSince(f.file, f.offset)))).flat();
  const obs: TraceObservations = {
    url,
    hostHeader,
    from: src,
    sourceIP: src.ip,
    resolution,
    curl,
    http: window(before, after),
    accessLog: accessLines.map(parseAccessLogLine).filter((e): e is AccessLogEntry => e !== null),
    dnsLog: await newDnsLog(ctx, offsets),
    podLogs,
    clusterDNS,
    ...(nodes ? { nodes } : {}),
    ...(nftMode ? { nft: { events: await withRuleTexts(netns, nftEvents), sport } } : {}),
  };
  return buildTrace(obs, index, explain);
}
