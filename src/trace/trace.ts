// `lab trace`: from what the kernel and the servers recorded around one real request, the path it
// took — laid out like the request-flow diagram. Pure: the observations come in (iptables
// counters before/after, conntrack tables, the ingress access log, DNS and pod logs), the hops
// come out. The applier (src/cli/commands/trace.ts) only collects the observations.
//
// Evidence, per connection that crosses a Service ("leg"):
// - rule counters: the nat table sees only the first packet of a connection, so each rule on the
//   path moves by one; of a KUBE-SVC chain's `-m statistic` jumps only the one taken moves;
// - conntrack: the original tuple (what the client sent) and the reply tuple (what the kernel
//   expects back: source = the pod it DNATed to, destination = the masquerade address, if any).
// An ingress request is two legs: client -> node IP:80 -> ingress pod, then ingress pod ->
// ClusterIP -> app pod, each with its own DNAT.
import { isSystemPod } from '../api/owners.ts';
import type { Pod } from '../api/types.ts';
import type { AccessLogEntry } from '../ingress/nginx.ts';
import { inCidr } from '../util/cidr.ts';
import { podLabel, type ClusterIndex, type FrontendKind, type ServicePortRef } from './cluster.ts';
import { dnatOf, hostPort, matchOriginal, snatOf, tupleText, type ConntrackEntry, type Tuple } from './conntrack.ts';
import { addressLabel, type ExplainContext } from './explain.ts';
import { matchesHost, type RuleDelta } from './iptables.ts';
import type { CurlResult, DnsAnswer, DnsLogEntry, ParsedUrl } from './observations.ts';
import { vxlanLines, type VxlanFrame } from './vxlan.ts';
import { chosenEndpointChain, firstPacketRuleHits, nftraceLines, type NftRuleHit, type NftTraceEvent } from './nftrace.ts';

export interface TraceSource {
  kind: 'laptop' | 'node' | 'pod';
  /** "the laptop", "node labS", "pod default/app1-…". */
  label: string;
  netns: string | null;
  pod?: Pod;
}

/** Counter deltas and conntrack tables around one part of the trace. */
export interface Window {
  deltas: RuleDelta[];
  conntrackBefore: ConntrackEntry[];
  conntrackAfter: ConntrackEntry[];
}

/** cluster-dns: dig through a pod's resolv.conf; hosts-file: the sandbox laptop's /etc/hosts; system: the node's own resolver (host mode). */
export type ResolutionMethod = 'cluster-dns' | 'hosts-file' | 'system';

export interface TraceObservations {
  url: ParsedUrl;
  /** The Host header sent (defaults to the URL's host). */
  hostHeader: string;
  from: TraceSource;
  /** How the URL's host was resolved: dig through the pod's resolv.conf, or the hosts file. */
  resolution?: { method: ResolutionMethod; answer: DnsAnswer; window?: Window; dnsLog?: DnsLogEntry[] };
  curl: CurlResult;
  http: Window;
  /** Access log lines the ingress wrote during the request. */
  accessLog: AccessLogEntry[];
  /** Query log lines of the cluster DNS server during the request. */
  dnsLog: DnsLogEntry[];
  /** New container log lines, by pod name. */
  podLogs: Record<string, string[]>;
  /** Address of the cluster DNS Service (10.43.0.10). */
  clusterDNS: string;
  /** The source's own address, for when curl could not report it (connection refused). */
  sourceIP?: string;
  /** More than one node: the node the request was routed on and what the other nodes saw. */
  nodes?: CrossNodeObservations;
  /** kube-proxy's nftables mode: `nft -a monitor trace` in the node's namespace during the request, and curl's source port it traced. */
  nft?: { events: NftTraceEvent[]; sport: number };
}

/** What a cross-node request leaves behind, read on both sides (commands/trace.ts collects it). */
export interface CrossNodeObservations {
  /** The node whose rules NAT the request and which routes it (the source pod's, or the node dialed). */
  sending: { name: string; ip: string; routes: string };
  /** flannel's VXLAN frames (udp 8472) a capture on the sending node's eth1 saw during the request. */
  capture: { frames: VxlanFrame[]; error?: string };
  /** Every other node the tools can read: its routes, flannel.1's received packets and conntrack around the request. */
  receivers: { name: string; ip: string; podCIDR?: string; routes: string; flannelRx?: { before: number; after: number }; window: Window }[];
}

export interface RuleHit {
  table: string;
  chain: string;
  text: string;
  packets: number;
  target?: string;
}

export interface ServiceRef {
  name: string;
  namespace: string;
  service: string;
  port: number;
  kind: FrontendKind;
}

export interface PodRef {
  name: string;
  namespace: string;
  ip: string;
  veth?: string;
}

export interface Leg {
  role: 'client' | 'upstream' | 'dns' | 'ingress-dns';
  protocol: string;
  from: { ip: string; port?: number; label?: string };
  to: { ip: string; port: number; label?: string };
  service?: ServiceRef;
  /** The nat rules on the path whose counters moved, in traversal order. */
  rules: RuleHit[];
  svcChain?: string;
  sepChain?: string;
  /** How the endpoint chain was identified. */
  sepEvidence?: 'counter' | 'conntrack' | 'counter+conntrack';
  dnat?: { from: string; to: string; pod?: PodRef };
  snat?: { from: string; to: string; rule?: RuleHit };
  conntrack?: { protocol: string; state?: string; original: Tuple; reply: Tuple; flags: string[]; raw: string };
}

export type HopKind = 'source' | 'dns' | 'send' | 'dnat' | 'reject' | 'snat' | 'conntrack' | 'ingress' | 'route' | 'vxlan' | 'decap' | 'pod' | 'return' | 'response';

export interface Hop {
  kind: HopKind;
  title: string;
  lines: string[];
}

export interface Trace {
  url: string;
  from: { kind: TraceSource['kind']; label: string; netns: string | null; ip?: string };
  dns?: DnsAnswer & { method: ResolutionMethod; leg?: Leg };
  legs: Leg[];
  ingress?: { pod: PodRef; log?: AccessLogEntry; lookups: DnsLogEntry[] };
  answeredBy?: PodRef & { port: number; log: string[] };
  response: { ok: boolean; exitCode: number; error?: string; httpCode?: number; bytes?: number; timeTotal?: number; body: string };
  hops: Hop[];
  warnings: string[];
  /** The request crossed nodes: where, the route, the VXLAN evidence and the source the pod saw. */
  crossNode?: CrossNode;
  /** nftables mode: the rules of kube-proxy's table the client's first packet hit, from the kernel's trace. */
  nftrace?: { rules: NftRuleHit[]; serviceChain?: string; endpointChain?: string; dnat?: string };
}

export interface CrossNode {
  from: string;
  to: string;
  /** The sending node's route that took the packet to flannel.1. */
  route?: string;
  /** Frames of this connection captured on the sending node's eth1, each way. */
  framesOut: number;
  framesBack: number;
  first?: VxlanFrame;
  /** flannel.1's received packets on the other node during the request. */
  decapPackets?: number;
  /** The client address the receiving node's conntrack (and so the pod) saw. */
  sourceSeen?: string;
}

function podRef(p: Pod): PodRef {
  return { name: p.metadata.name, namespace: p.metadata.namespace, ip: p.status.podIP ?? '', veth: p.metadata.annotations['lab/veth'] };
}

function hit(d: RuleDelta): RuleHit {
  return { table: d.rule.table, chain: d.rule.chain, text: d.rule.text, packets: d.packets, target: d.rule.target };
}

function serviceRef(sp: ServicePortRef, kind: FrontendKind): ServiceRef {
  return { name: sp.name, namespace: sp.service.metadata.namespace, service: sp.service.metadata.name, port: sp.port.port, kind };
}

function splitHostPort(s: string): { ip: string; port: number } | null {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d+)$/.exec(s.trim());
  return m ? { ip: m[1]!, port: Number(m[2]) } : null;
}

/**
 * One connection through kube-proxy's rules: which rules counted it, which endpoint chain DNATed
 * it, and the conntrack entry that remembers the translation.
 */
export function resolveLeg(
  role: Leg['role'],
  protocol: string,
  from: { ip: string; port?: number },
  to: { ip: string; port: number },
  window: Window,
  index: ClusterIndex,
  ctx: ExplainContext,
  warnings: string[],
): Leg {
  const local = (ip: string) => ip === index.nodeIP || ip === ctx.gateway || ip.startsWith('127.');
  const fe = index.frontend(to.ip, to.port, protocol, local);
  const leg: Leg = {
    role,
    protocol,
    from: { ...from, label: addressLabel(from.ip, ctx) },
    to: { ...to, label: addressLabel(to.ip, ctx) },
    rules: [],
  };
  if (fe) leg.service = serviceRef(fe.servicePort, fe.kind);

  // conntrack: new entries first; a UDP socket reused within the entry's lifetime (nginx's
  // resolver) rides an existing one.
  const match = { protocol, src: from.ip, sport: from.port, dst: to.ip, dport: to.port };
  let candidates = window.conntrackAfter.filter((e) => matchOriginal(e, match));
  const fresh = candidates.filter((e) => !window.conntrackBefore.some((b) => b.protocol === e.protocol && tupleText(b.original) === tupleText(e.original)));
  if (fresh.length) candidates = fresh;
  const endpointsOf = new Set(fe?.servicePort.endpoints.map((e) => `${e.ip}:${e.port}`) ?? []);
  const ct = candidates.find((e) => endpointsOf.has(hostPort(e.reply.src, e.reply.sport))) ?? candidates.at(-1);
  if (ct) leg.conntrack = { protocol: ct.protocol, state: ct.state, original: ct.original, reply: ct.reply, flags: ct.flags, raw: ct.raw };

  // Rules: the KUBE-SERVICES rule for this destination, then down the chains it jumps to.
  const nat = window.deltas.filter((d) => d.rule.table === 'nat');
  const inChain = (chain: string) => nat.filter((d) => d.rule.chain === chain).sort((a, b) => a.rule.index - b.rule.index);
  const proto = (d: RuleDelta) => d.rule.protocol === undefined || d.rule.protocol === protocol;
  let entry = nat.find((d) => d.rule.chain === 'KUBE-SERVICES' && matchesHost(d.rule.destination, to.ip) && d.rule.dport === to.port && proto(d));
  const path: RuleDelta[] = [];
  if (!entry && fe?.kind === 'NodePort') {
    const toNodePorts = nat.find((d) => d.rule.chain === 'KUBE-SERVICES' && d.rule.target === 'KUBE-NODEPORTS');
    if (toNodePorts) path.push(toNodePorts);
    entry = nat.find((d) => d.rule.chain === 'KUBE-NODEPORTS' && d.rule.dport === to.port && proto(d));
  }
  const ctDnat = ct ? dnatOf(ct) : null;
  const walk = (d: RuleDelta, depth: number): void => {
    path.push(d);
    const t = d.rule.target;
    if (!t || !t.startsWith('KUBE-') || t === 'KUBE-MARK-MASQ' || depth > 6) return;
    let rules = inChain(t);
    const seps = rules.filter((r) => r.rule.target?.startsWith('KUBE-SEP-'));
    if (seps.length > 1) {
      // More than one endpoint counted a connection in this window (another leg, or other
      // traffic): conntrack says which one was ours.
      const endpointOf = (r: RuleDelta) => {
        const e = index.chainOwner(r.rule.target!)?.endpoint;
        return e ? hostPort(e.ip, e.port) : undefined;
      };
      const ours = ctDnat ? seps.find((r) => endpointOf(r) === ctDnat.to) : undefined;
      if (ours) rules = rules.filter((r) => !seps.includes(r) || r === ours);
      else warnings.push(`${t}: ${seps.length} endpoint chains counted a connection during the ${role} request; cannot tell which was this one`);
    }
    for (const r of rules) walk(r, depth + 1);
  };
  if (entry) walk(entry, 0);
  leg.rules = path.map(hit);
  leg.svcChain = path.find((d) => d.rule.chain.startsWith('KUBE-SVC-') || d.rule.chain.startsWith('KUBE-SVL-'))?.rule.chain;
  const dnatRule = path.find((d) => d.rule.target === 'DNAT' && d.rule.chain.startsWith('KUBE-SEP-'));
  const counterSep = dnatRule?.rule.chain;
  const conntrackSep = ctDnat && fe ? fe.servicePort.endpoints.find((e) => hostPort(e.ip, e.port) === ctDnat.to)?.sepChain : undefined;
  if (counterSep && conntrackSep && counterSep !== conntrackSep) {
    warnings.push(`${role}: the counters point at ${counterSep} but conntrack at ${conntrackSep}`);
  }
  leg.sepChain = counterSep ?? conntrackSep;
  if (!counterSep && conntrackSep && fe) leg.svcChain ??= fe.servicePort.chains.svc;
  if (leg.sepChain) leg.sepEvidence = counterSep && conntrackSep ? 'counter+conntrack' : counterSep ? 'counter' : 'conntrack';

  const dnatTo = dnatRule?.rule.toDestination ?? ctDnat?.to;
  if (dnatTo) {
    const hp = splitHostPort(dnatTo);
    const pod = hp ? index.podByIP(hp.ip) : undefined;
    leg.dnat = { from: hostPort(to.ip, to.port), to: dnatTo, pod: pod ? podRef(pod) : undefined };
  } else if (!fe) {
    const pod = index.podByIP(to.ip);
    if (pod) leg.to.label = `pod ${podLabel(pod)}`;
  }
  if (ct) {
    const snat = snatOf(ct);
    if (snat) {
      const masq = nat.find((d) => d.rule.chain === 'KUBE-POSTROUTING' && d.rule.target === 'MASQUERADE');
      leg.snat = { ...snat, rule: masq ? hit(masq) : undefined };
    }
  }
  if (fe && !leg.sepChain) warnings.push(`${role}: no endpoint chain of ${fe.servicePort.name} counted this connection and conntrack has no entry for it`);
  return leg;
}

function legTarget(leg: Leg): { ip: string; port: number } | null {
  if (leg.dnat) return splitHostPort(leg.dnat.to);
  return { ip: leg.to.ip, port: leg.to.port };
}

const fmtRule = (r: RuleHit) => `+${r.packets}  ${r.text}`;

function dnatHop(leg: Leg, where: string, hook: 'PREROUTING' | 'OUTPUT'): Hop {
  const svc = leg.service;
  const lines: string[] = [];
  lines.push(`${where}: nat ${hook} -> KUBE-SERVICES; the rules whose counters moved (iptables-save -c before/after):`);
  for (const r of leg.rules) lines.push(`  ${fmtRule(r)}`);
  if (leg.rules.length === 0) lines.push('  (none: no counter moved)');
  if (leg.sepChain) {
    const ev = leg.sepEvidence === 'counter+conntrack' ? 'its counter moved, and conntrack agrees' : leg.sepEvidence === 'counter' ? 'its counter moved' : 'from conntrack (its counter did not move in this window)';
    lines.push(`chosen: ${leg.svcChain ?? '?'} -> ${leg.sepChain} (${ev})`);
  }
  const to = leg.dnat?.pod ? `pod ${leg.dnat.pod.namespace === 'default' ? '' : `${leg.dnat.pod.namespace}/`}${leg.dnat.pod.name} ${leg.dnat.to}` : leg.dnat?.to ?? '?';
  const title = svc ? `${svc.name} (${svc.kind} ${hostPort(leg.to.ip, leg.to.port)}) -> ${to}` : `${hostPort(leg.to.ip, leg.to.port)} -> ${to}`;
  return { kind: 'dnat', title, lines };
}

function conntrackHop(leg: Leg): Hop | null {
  const c = leg.conntrack;
  if (!c) return null;
  return {
    kind: 'conntrack',
    title: `${c.protocol}${c.state ? ` ${c.state}` : ''}${c.flags.length ? ` [${c.flags.join(',')}]` : ''}`,
    lines: [`original: ${tupleText(c.original)}`, `reply:    ${tupleText(c.reply)}`],
  };
}

function snatHop(leg: Leg, ctx: ExplainContext): Hop | null {
  if (!leg.snat) return null;
  const via = addressLabel(leg.snat.to.split(':')[0]!, ctx);
  return {
    kind: 'snat',
    title: `masquerade: source ${leg.snat.from} -> ${leg.snat.to}${via ? ` (${via})` : ''}`,
    lines: [
      'KUBE-MARK-MASQ marked the packet, KUBE-POSTROUTING masqueraded it: the pod sees the node as the client, so its reply comes back through the node to be un-NATed',
      ...(leg.snat.rule ? [`  ${fmtRule(leg.snat.rule)}`] : []),
    ],
  };
}

function returnLines(leg: Leg): string[] {
  const c = leg.conntrack;
  if (!c) return [];
  const o = c.original;
  const r = c.reply;
  const what = [dnatOf({ original: o, reply: r } as ConntrackEntry) ? 'un-DNAT' : '', snatOf({ original: o, reply: r } as ConntrackEntry) ? 'un-SNAT' : ''].filter(Boolean).join(' + ') || 'no translation';
  return [`${hostPort(r.src, r.sport)} -> ${hostPort(r.dst, r.dport)}  becomes  ${hostPort(o.dst, o.dport)} -> ${hostPort(o.src, o.sport)}   (${what}, from the conntrack entry)`];
}

function sourceLines(src: TraceSource): string[] {
  if (src.kind === 'pod' && src.pod) return [`eth0 in network namespace ${src.netns}; its default route leads to cni0 on the node`];
  if (src.kind === 'laptop') return src.netns ? [`network namespace ${src.netns} stands in for it, its vboxnet0 a bridge (the host-only network) with each node's eth1 on it`] : [];
  return [src.netns ? `network namespace ${src.netns}` : 'this machine is the node (host mode): the request starts here, so it meets nat OUTPUT instead of PREROUTING'];
}

/** Longest-prefix match of `ip` in `ip route show` text (IPv4, the main table's lines). */
export function routeFor(routes: string, ip: string): string | undefined {
  let best: { line: string; len: number } | undefined;
  for (const line of routes.split('\n').map((l) => l.trim()).filter(Boolean)) {
    const dst = line.split(/\s+/)[0]!;
    const cidr = dst === 'default' ? '0.0.0.0/0' : dst.includes('/') ? dst : `${dst}/32`;
    if (!/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(cidr) || !inCidr(cidr, ip)) continue;
    const len = Number(cidr.split('/')[1]);
    if (!best || len > best.len) best = { line, len };
  }
  return best?.line;
}

/**
 * The hops of a connection that left its node for a pod on another: the route to flannel.1, the
 * VXLAN frame on eth1 (from the capture), the other node unwrapping it to cni0 and the pod's veth,
 * and the client address the pod sees (the other node's conntrack: nothing rewrote it there).
 */
function crossNodeHops(obs: TraceObservations, leg: Leg, target: { ip: string; port: number }, pod: Pod, hops: Hop[], warnings: string[]): CrossNode | undefined {
  const x = obs.nodes;
  const podNode = pod.spec.nodeName;
  if (!x || !podNode || podNode === x.sending.name) return undefined;
  const rx = x.receivers.find((r) => r.name === podNode);
  const sent = leg.snat ? leg.snat.to.split(':')[0]! : leg.from.ip;
  const cross: CrossNode = { from: x.sending.name, to: podNode, framesOut: 0, framesBack: 0 };

  // ROUTE: the sending node's route to the other node's pod subnet.
  const route = routeFor(x.sending.routes, target.ip);
  cross.route = route;
  const via = route ? /via (\S+) dev (\S+)/.exec(route) : null;
  hops.push({
    kind: 'route',
    title: `node ${x.sending.name}: ${target.ip} -> ${route ?? 'no route'}`,
    lines: via && via[2] === 'flannel.1'
      ? [
          `ip route: ${route}   (flannel's route to node ${podNode}'s podCIDR${rx?.podCIDR ? ` ${rx.podCIDR}` : ''})`,
          `via ${via[1]} is node ${podNode}'s flannel.1 address (its subnet's .0, "onlink": reachable on flannel.1 without a subnet of its own); the PERMANENT neighbour entry gives its VTEP MAC, the FDB entry for that MAC the node IP to send the VXLAN to`,
        ]
      : [`ip route: ${route ?? '(none)'}`],
  });
  if (!via || via[2] !== 'flannel.1') warnings.push(`node ${x.sending.name} does not route ${target.ip} through flannel.1`);

  // VXLAN: the capture on the sending node's eth1.
  const inner = (f: VxlanFrame, a: string, b: string, bport: number) => f.inner.src === a && f.inner.dst === b && f.inner.dport === bport;
  const out = x.capture.frames.filter((f) => inner(f, sent, target.ip, target.port));
  const back = x.capture.frames.filter((f) => f.inner.src === target.ip && f.inner.sport === target.port && f.inner.dst === sent);
  cross.framesOut = out.length;
  cross.framesBack = back.length;
  const first = out.find((f) => f.inner.tcpFlags === 'S') ?? out[0];
  cross.first = first;
  const rxIP = rx?.ip ?? '?';
  hops.push({
    kind: 'vxlan',
    title: first
      ? `eth1 on ${x.sending.name}: UDP ${first.outer.src} -> ${first.outer.dst}:${first.outer.dport}, VXLAN VNI ${first.vni}, inner ${sent} -> ${target.ip}:${target.port}`
      : `eth1 on ${x.sending.name}: no VXLAN frame of this connection captured`,
    lines: first
      ? [
          `tcpdump on ${x.sending.name}'s eth1 (udp port 8472) during the request: ${out.length} frame${out.length === 1 ? '' : 's'} to ${podNode} (${rxIP}), ${back.length} back; the first, decoded:`,
          ...vxlanLines(first).map((l) => `  ${l}`),
          'flannel.1 wrapped the pod packet, unchanged, in UDP from this node\'s eth1 to the other node\'s: the pods\' addresses travel inside, the network between the nodes only sees node IPs',
        ]
      : [x.capture.error ? `capture failed: ${x.capture.error}` : `the capture on ${x.sending.name}'s eth1 saw ${x.capture.frames.length} VXLAN frame(s), none from ${sent} to ${target.ip}:${target.port}`],
  });
  if (!first) warnings.push(`no VXLAN frame of this connection was captured on ${x.sending.name}'s eth1`);

  // DECAP on the other node.
  const lines: string[] = [];
  if (rx?.flannelRx) {
    cross.decapPackets = rx.flannelRx.after - rx.flannelRx.before;
    lines.push(`flannel.1 on ${podNode} received ${cross.decapPackets} packet${cross.decapPackets === 1 ? '' : 's'} during the request (ip -s link: RX ${rx.flannelRx.before} -> ${rx.flannelRx.after}): the kernel took the UDP 8472 datagram on eth1 apart and handed the inner frame to flannel.1`);
  }
  const local = rx ? routeFor(rx.routes, target.ip) : undefined;
  if (local) lines.push(`ip route on ${podNode}: ${local}   (its own pods: on the bridge)`);
  lines.push(`cni0 switches it to veth ${pod.metadata.annotations['lab/veth'] ?? '?'}, eth0 in ${pod.metadata.annotations['lab/netns'] ?? '?'}`);
  // The other node's conntrack: the connection as it arrived there.
  if (rx) {
    const match = { protocol: leg.protocol, dst: target.ip, dport: target.port, src: sent };
    const fresh = rx.window.conntrackAfter.filter((e) => matchOriginal(e, match) && !rx.window.conntrackBefore.some((b) => tupleText(b.original) === tupleText(e.original)));
    const ct = fresh.at(-1) ?? rx.window.conntrackAfter.filter((e) => matchOriginal(e, match)).at(-1);
    if (ct) {
      cross.sourceSeen = hostPort(ct.original.src, ct.original.sport);
      const nat = dnatOf(ct) || snatOf(ct);
      lines.push(`conntrack on ${podNode}: original ${tupleText(ct.original)} | reply ${tupleText(ct.reply)}${nat ? '' : ' (no NAT on this node)'}`);
    } else warnings.push(`node ${podNode}'s conntrack has no entry of this connection`);
  }
  hops.push({ kind: 'decap', title: `node ${podNode} (${rxIP}): eth1 -> flannel.1 (VNI 1) -> cni0 -> ${pod.metadata.annotations['lab/veth'] ?? 'veth'}`, lines });
  return cross;
}

/** Everything `lab trace` prints, from the observations. */
export function buildTrace(obs: TraceObservations, index: ClusterIndex, ctx: ExplainContext): Trace {
  const warnings: string[] = [];
  const hops: Hop[] = [];
  const c = obs.curl;
  const trace: Trace = {
    url: `http://${obs.url.host}${obs.url.port === 80 ? '' : `:${obs.url.port}`}${obs.url.path}`,
    from: { kind: obs.from.kind, label: obs.from.label, netns: obs.from.netns, ip: c.localIP },
    legs: [],
    response: { ok: c.exitCode === 0, exitCode: c.exitCode, error: c.error, httpCode: c.httpCode, bytes: c.bytes, timeTotal: c.timeTotal, body: c.body },
    hops,
    warnings,
  };

  hops.push({ kind: 'source', title: `${obs.from.label}${c.localIP ?? obs.sourceIP ? ` ${c.localIP ?? obs.sourceIP}` : ''}`, lines: sourceLines(obs.from) });

  // 1. Name resolution.
  if (obs.resolution) {
    const { answer, method } = obs.resolution;
    trace.dns = { ...answer, method };
    if (method !== 'cluster-dns') {
      const how = method === 'hosts-file' ? `from the hosts file of ${obs.from.label} (not the cluster DNS: the laptop maps the Ingress hosts to the node IP)` : `from the node's own resolver (getaddrinfo: /etc/hosts, then its DNS servers)`;
      hops.push({ kind: 'dns', title: `${answer.query} -> ${answer.addresses.join(', ') || 'no address'}`, lines: [how] });
    } else {
      const lines: string[] = [];
      if (answer.fqdn && answer.fqdn !== answer.query) lines.push(`resolv.conf search list (ndots:5): ${answer.query} -> ${answer.fqdn}`);
      lines.push(`${answer.status ?? '?'}: ${answer.fqdn ?? answer.query} A ${answer.addresses.join(', ') || '(none)'}${answer.ttl !== undefined ? ` ttl ${answer.ttl}` : ''}${answer.server ? `, answered by ${answer.server.ip}:${answer.server.port}/${answer.server.protocol}` : ''}`);
      const w = obs.resolution.window;
      const dnsFrom = obs.from.pod?.status.podIP ?? c.localIP ?? obs.sourceIP;
      if (w && answer.server && dnsFrom) {
        const leg = resolveLeg('dns', answer.server.protocol, { ip: dnsFrom }, { ip: answer.server.ip, port: answer.server.port }, w, index, ctx, warnings);
        trace.dns.leg = leg;
        if (leg.dnat) lines.push(`the query's DNAT: ${leg.service?.name ?? '?'} ${hostPort(leg.to.ip, leg.to.port)} -> ${leg.svcChain ?? '?'} -> ${leg.sepChain ?? '?'} -> ${leg.dnat.pod ? `pod ${leg.dnat.pod.namespace}/${leg.dnat.pod.name} ` : ''}${leg.dnat.to}`);
        if (leg.conntrack) lines.push(`conntrack: ${leg.conntrack.protocol} original ${tupleText(leg.conntrack.original)} | reply ${tupleText(leg.conntrack.reply)}`);
      }
      for (const l of obs.resolution.dnsLog ?? []) lines.push(`DNS server log: ${l.raw}`);
      hops.push({ kind: 'dns', title: `${answer.query} -> ${answer.addresses.join(', ') || 'no address'} (cluster DNS)`, lines });
    }
  } else if (obs.url.isIP) {
    hops.push({ kind: 'dns', title: `${obs.url.host}: an address, no lookup`, lines: [] });
  }

  // 2. The client's connection (when it failed, curl may not say which address it tried).
  const targetIP = c.remoteIP ?? (obs.url.isIP ? obs.url.host : obs.resolution?.answer.addresses[0]);
  if (!targetIP) {
    warnings.push(`the request failed before connecting: ${c.error ?? `curl exit ${c.exitCode}`}`);
    hops.push({ kind: 'response', title: `failed: ${c.error ?? `curl exit ${c.exitCode}`}`, lines: [] });
    return trace;
  }
  const dialed = { ip: targetIP, port: c.remotePort ?? obs.url.port };
  const from = { ip: c.localIP ?? obs.sourceIP ?? '?', port: c.localPort };
  const bridged = obs.from.kind === 'pod' && ctx.podCIDR !== undefined && inCidr(ctx.podCIDR, dialed.ip);
  const sendVia =
    obs.from.kind === 'pod'
      ? `out of eth0, through veth ${obs.from.pod?.metadata.annotations['lab/veth'] ?? '?'} to cni0: ${bridged ? 'the bridge switches it straight to the other pod\'s veth (same subnet; br_netfilter still shows it to iptables and conntrack)' : `off the pod subnet, so to the gateway${ctx.gateway ? ` ${ctx.gateway}` : ''}: the node routes it`}`
      : obs.from.kind === 'laptop'
        ? 'out of the laptop, into the node on eth1'
        : 'from the node itself (nat OUTPUT)';
  hops.push({ kind: 'send', title: `tcp ${hostPort(from.ip, from.port)} -> ${hostPort(dialed.ip, dialed.port)}  Host: ${obs.hostHeader}`, lines: [sendVia] });
  // A Service without endpoints has no nat rules, only a REJECT in the filter table.
  const rejects = obs.http.deltas.filter((d) => d.rule.table === 'filter' && d.rule.target === 'REJECT' && matchesHost(d.rule.destination, dialed.ip) && (d.rule.dport === undefined || d.rule.dport === dialed.port));
  const client = resolveLeg('client', 'tcp', from, dialed, obs.http, index, ctx, rejects.length ? [] : warnings);
  trace.legs.push(client);
  if (obs.nft) {
    // nftables mode: the kernel's own trace of the client's flow, not iptables counters.
    const hits = firstPacketRuleHits(obs.nft.events, { protocol: 'tcp', sport: obs.nft.sport }, 'kube-proxy');
    const chosen = chosenEndpointChain(hits);
    trace.nftrace = { rules: hits, serviceChain: chosen?.service, endpointChain: chosen?.endpoint, dnat: chosen?.dnat };
    client.rules = [];
    client.svcChain = chosen?.service;
    client.sepChain = chosen?.endpoint;
    const lines = nftraceLines(hits);
    if (chosen) lines.push(`chosen: ${chosen.service ?? '?'} -> ${chosen.endpoint}${chosen.dnat ? ` (dnat to ${chosen.dnat})` : ''}`);
    else if (client.service) warnings.push(`client: the kernel's trace shows no endpoint chain of ${client.service.name} for this flow`);
    if (chosen?.dnat && client.dnat && chosen.dnat !== client.dnat.to) warnings.push(`client: nft trace says dnat to ${chosen.dnat} but conntrack ${client.dnat.to}`);
    const to = client.dnat?.pod ? `pod ${client.dnat.pod.name} ${client.dnat.to}` : client.dnat?.to ?? chosen?.dnat ?? '?';
    hops.push({ kind: 'dnat', title: `${client.service ? `${client.service.name} (${client.service.kind} ${hostPort(client.to.ip, client.to.port)})` : hostPort(client.to.ip, client.to.port)} -> ${to}`, lines: [`node ${index.nodeName}: table ip kube-proxy (nftables mode)`, ...lines] });
  } else if (client.rules.length || client.dnat || (client.service && !rejects.length)) hops.push(dnatHop(client, `node ${index.nodeName}`, obs.from.kind === 'node' && !obs.from.netns ? 'OUTPUT' : 'PREROUTING'));
  if (rejects.length) {
    hops.push({
      kind: 'reject',
      title: `${rejects[0]!.rule.comment ?? 'REJECT'}: the node answers "connection refused" itself`,
      lines: [`filter ${obs.from.kind === 'node' && !obs.from.netns ? 'OUTPUT' : 'FORWARD'} -> KUBE-SERVICES; the rule whose counter moved:`, ...rejects.map((d) => `  +${d.packets}  ${d.rule.text}`)],
    });
  }
  const s1 = snatHop(client, ctx);
  if (s1) hops.push(s1);
  const ct1 = conntrackHop(client);
  if (ct1) hops.push(ct1);

  let last = client;
  const t1 = legTarget(client);
  const firstPod = t1 ? index.podByIP(t1.ip) : undefined;

  // 3. The ingress, when the first hop landed on it.
  if (firstPod && isSystemPod(firstPod, 'ingress')) {
    const ingressIP = firstPod.status.podIP!;
    const reqLine = (e: AccessLogEntry) => e.request.split(' ')[1];
    const entries = obs.accessLog.filter((e) => e.host === obs.hostHeader.replace(/:\d+$/, '') && reqLine(e) === obs.url.path);
    const log = entries.at(-1) ?? obs.accessLog.at(-1);
    if (!log) warnings.push('the ingress wrote no access log line for this request');
    const lookups = obs.dnsLog.filter((l) => l.client === ingressIP);
    trace.ingress = { pod: podRef(firstPod), log, lookups };
    // service-upstream "false" (ingress-nginx's default): the upstream addresses are pod IPs.
    const upstreams = (log?.upstream ?? '').split(/,\s*/).map(splitHostPort).filter((u): u is { ip: string; port: number } => u !== null);
    const direct = upstreams.length > 0 && upstreams.every((u) => index.podByIP(u.ip) !== undefined);
    const lines: string[] = [];
    if (log) {
      lines.push(`access log: host="${log.host}" request="${log.request}" status=${log.status} backend="${log.backend}" upstream="${log.upstream}" upstream_status="${log.upstreamStatus}"`);
      lines.push(
        log.backend === '-'
          ? 'no Ingress rule matched and there is no default backend: nginx answered 404 itself'
          : direct
            ? `Ingress rule -> backend ${log.backend}: service-upstream "false": nginx connects straight to a pod from its upstream block (the EndpointSlice's ready endpoints); no ClusterIP, no kube-proxy DNAT on this leg`
            : `Ingress rule -> backend ${log.backend}: service-upstream "true": nginx connects to the Service's ClusterIP, not to a pod; kube-proxy's rules pick the pod`,
      );
    }
    hops.push({ kind: 'ingress', title: `pod ${podLabel(firstPod)} ${ingressIP}${log ? `: ${log.host}${reqLine(log) ?? ''} -> ${log.backend}` : ''}`, lines });

    // Its DNS lookup of the Service name, if this request made one.
    const dnsSp = index.servicePorts.find((sp) => sp.service.spec.clusterIP === obs.clusterDNS && sp.protocol === 'udp');
    const dnsMoved = obs.http.deltas.some((d) => d.rule.chain === 'KUBE-SERVICES' && matchesHost(d.rule.destination, obs.clusterDNS) && d.rule.protocol === 'udp');
    if (dnsSp && (dnsMoved || lookups.length)) {
      const leg = resolveLeg('ingress-dns', 'udp', { ip: ingressIP }, { ip: obs.clusterDNS, port: dnsSp.port.port }, obs.http, index, ctx, []);
      trace.legs.push(leg);
      const dl: string[] = lookups.map((l) => `DNS server log: ${l.raw}`);
      if (leg.sepChain) dl.push(`the query's DNAT: ${leg.svcChain ?? '?'} -> ${leg.sepChain} -> ${leg.dnat?.pod ? `pod ${leg.dnat.pod.namespace}/${leg.dnat.pod.name} ` : ''}${leg.dnat?.to ?? '?'}`);
      if (!dnsMoved && leg.conntrack) dl.push(`no nat rule counted it: the query rode an existing conntrack entry (nginx reuses its UDP socket), whose NAT was decided when it was created: ${tupleText(leg.conntrack.original)} | reply ${tupleText(leg.conntrack.reply)}`);
      hops.push({ kind: 'dns', title: `ingress resolves ${lookups[0]?.name ?? 'the backend Service'} through ${obs.clusterDNS}:53 (cluster DNS)`, lines: dl });
    } else if (log && log.backend !== '-' && !direct) {
      hops.push({ kind: 'dns', title: 'ingress: Service name answered from nginx\'s resolver cache (valid=5s), no DNS packet this time', lines: [] });
    }

    // The ingress's connection to the ClusterIP or the pod (the last upstream tried is the one that answered).
    for (const u of upstreams) {
      const leg = resolveLeg('upstream', 'tcp', { ip: ingressIP }, u, obs.http, index, ctx, warnings);
      trace.legs.push(leg);
      const pod = direct ? index.podByIP(u.ip) : undefined;
      if (pod) hops.push({ kind: 'send', title: `ingress pod -> pod ${podLabel(pod)} ${hostPort(u.ip, u.port)}`, lines: ['no NAT: nginx chose this endpoint itself (service-upstream "false"), cni0 bridges it to the pod'] });
      else hops.push(dnatHop(leg, `node ${index.nodeName}, from the ingress pod`, 'PREROUTING'));
      const s = snatHop(leg, ctx);
      if (s) hops.push(s);
      const ct = conntrackHop(leg);
      if (ct) hops.push(ct);
      last = leg;
    }
  }

  // 4. The pod that answered.
  const target = legTarget(last);
  const answered = target ? index.podByIP(target.ip) : undefined;
  if (answered && target) {
    const cross = crossNodeHops(obs, last, target, answered, hops, warnings);
    if (cross) trace.crossNode = cross;
    const ref = podRef(answered);
    const peer = last.conntrack ? `${last.conntrack.reply.dst}]:${last.conntrack.reply.dport}` : undefined;
    const all = obs.podLogs[answered.metadata.name] ?? [];
    const log = peer ? all.filter((l) => l.includes(peer)) : [];
    trace.answeredBy = { ...ref, port: target.port, log: log.length ? log : all.slice(-3) };
    hops.push({
      kind: 'pod',
      title: `pod ${podLabel(answered)} ${hostPort(target.ip, target.port)} answered`,
      lines: [
        `through cni0 and its veth ${ref.veth ?? '?'} to eth0 in ${answered.metadata.annotations['lab/netns'] ?? '?'}`,
        ...(trace.crossNode?.sourceSeen
          ? [`it sees the client as ${trace.crossNode.sourceSeen}${last.snat ? ' (masqueraded on the sending node)' : ': the source pod\'s own address, no SNAT pod-to-pod across nodes'}`]
          : last.conntrack ? [`it sees the client as ${hostPort(last.conntrack.reply.dst, last.conntrack.reply.dport)}`] : []),
        ...trace.answeredBy.log.map((l) => `container log: ${l}`),
      ],
    });
  } else if (target && !rejects.length) {
    warnings.push(`no pod of the state has the address ${target.ip}`);
  }

  // 5. The way back: conntrack rewrites each reply with the original tuple, innermost leg first.
  const back = [...trace.legs].filter((l) => l.role === 'client' || l.role === 'upstream').reverse().flatMap(returnLines);
  if (back.length) hops.push({ kind: 'return', title: 'the reply retraces the path, rewritten by conntrack', lines: back });

  const body = c.body.split('\n').map((l) => l.trim()).filter(Boolean);
  hops.push({
    kind: 'response',
    title: c.exitCode === 0 ? `HTTP ${c.httpCode ?? '?'}, ${c.bytes ?? c.body.length} bytes${c.timeTotal !== undefined ? ` in ${(c.timeTotal * 1000).toFixed(1)} ms` : ''}` : `failed: ${c.error}`,
    lines: [...body.slice(0, 3).map((l) => `| ${l.length > 120 ? `${l.slice(0, 120)}…` : l}`), ...(body.length > 3 ? [`| … (${body.length - 3} more lines)`] : [])],
  });
  return trace;
}
