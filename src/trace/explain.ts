// `lab explain`: the lab's own kernel state, each line annotated with the Service, endpoint or pod
// it belongs to. Pure: takes the text the kernel tools print and the cluster index, returns lines.
import { inCidr } from '../util/cidr.ts';
import { endpointLabel, podLabel, type ClusterIndex, type ServicePortRef } from './cluster.ts';
import { dnatOf, snatOf, type ConntrackEntry } from './conntrack.ts';
import { isLabChain, isLabRule, matchesHost, type IptablesDump, type IptRule } from './iptables.ts';

export interface ExplainContext {
  index: ClusterIndex;
  mode: 'host' | 'sandbox';
  /** cni0's address (the pods' gateway), e.g. 10.42.0.1. */
  gateway?: string;
  /** This node's pod CIDR, e.g. 10.42.0.0/24. */
  podCIDR?: string;
  /** The laptop's address on the host-only network (192.168.56.1). */
  laptopIP?: string;
}

/** `line   # note`: the kernel's text first, unchanged, so it can be compared with the tool's. */
export function annotate(line: string, note: string | undefined): string {
  return note ? `${line}   # ${note}` : line;
}

function svcText(sp: ServicePortRef): string {
  return sp.name;
}

function endpointsSummary(sp: ServicePortRef): string {
  const ready = sp.endpoints.filter((e) => e.ready);
  if (ready.length === 0) return 'no ready endpoint';
  return `${ready.length} endpoint${ready.length === 1 ? '' : 's'}`;
}

/** What an address is, in the lab's words; undefined when the lab does not know it. */
export function addressLabel(ip: string, ctx: ExplainContext): string | undefined {
  const { index } = ctx;
  const pod = index.podByIP(ip);
  if (pod) return `pod ${podLabel(pod)}`;
  if (ip === index.nodeIP) return `node ${index.nodeName} eth1`;
  if (ctx.gateway && ip === ctx.gateway) return `node ${index.nodeName} cni0`;
  const node = index.nodes.find((n) => n.ip === ip);
  if (node) return `node ${node.name} eth1`;
  // flannel.1's address on a node is its subnet's .0 (the VTEP's, what a masqueraded pod-to-other-node packet carries).
  const vtep = index.nodes.find((n) => n.podCIDR && n.podCIDR.replace(/\/\d+$/, '') === ip);
  if (vtep) return `node ${vtep.name} flannel.1`;
  if (ctx.laptopIP && ip === ctx.laptopIP) return 'the laptop';
  const svc = index.servicePorts.find((sp) => sp.service.spec.clusterIP === ip);
  if (svc) return `ClusterIP of ${svc.service.metadata.namespace}/${svc.service.metadata.name}`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// iptables

const BUILTIN_JUMPS: Record<string, string> = {
  'nat PREROUTING KUBE-SERVICES': 'every packet arriving at the node (from eth1 or from a pod) meets the Service portals',
  'nat OUTPUT KUBE-SERVICES': 'packets the node itself sends (curl on the node) meet them too',
  'nat POSTROUTING KUBE-POSTROUTING': 'last stop before a packet leaves: masquerade what KUBE-MARK-MASQ marked',
  'filter INPUT KUBE-FIREWALL': 'drop martian packets to 127.0.0.0/8 that route_localnet would otherwise accept',
  'filter OUTPUT KUBE-FIREWALL': 'same check for packets the node sends',
  'filter INPUT KUBE-PROXY-FIREWALL': 'loadBalancerSourceRanges of LoadBalancer Services',
  'filter FORWARD KUBE-PROXY-FIREWALL': 'loadBalancerSourceRanges of LoadBalancer Services',
  'filter OUTPUT KUBE-PROXY-FIREWALL': 'loadBalancerSourceRanges of LoadBalancer Services',
  'filter INPUT KUBE-NODEPORTS': 'health check node ports (externalTrafficPolicy: Local)',
  'filter INPUT KUBE-EXTERNAL-SERVICES': 'REJECT external traffic to Services without endpoints',
  'filter FORWARD KUBE-EXTERNAL-SERVICES': 'REJECT external traffic to Services without endpoints',
  'filter FORWARD KUBE-FORWARD': 'let Service traffic be forwarded between eth1 and cni0',
  'filter FORWARD KUBE-SERVICES': 'REJECT new connections to Services without endpoints',
  'filter OUTPUT KUBE-SERVICES': 'REJECT new connections to Services without endpoints',
};

/** The annotation of one lab rule; undefined when there is nothing to add. */
export function explainRule(r: IptRule, ctx: ExplainContext): string | undefined {
  const { index } = ctx;
  const t = r.target ?? '';
  if (!isLabChain(r.chain)) return BUILTIN_JUMPS[`${r.table} ${r.chain} ${t}`] ?? (r.comment ? undefined : `jump into kube-proxy's ${t}`);
  const owner = index.chainOwner(r.chain);
  const targetOwner = index.chainOwner(t);

  if (r.table === 'nat') {
    if (r.chain === 'KUBE-SERVICES') {
      if (t === 'KUBE-NODEPORTS') return "anything else addressed to one of the node's own addresses (ip route show table local) may be a NodePort";
      if (targetOwner) {
        const sp = targetOwner.servicePort;
        const where = `${r.destination?.replace(/\/32$/, '') ?? '?'}:${r.dport ?? '?'}`;
        if (targetOwner.kind === 'SVC') return `${svcText(sp)} ClusterIP ${where} -> ${endpointsSummary(sp)}`;
        if (matchesHost(r.destination, index.nodeIP) || sp.loadBalancerIPs.some((ip) => matchesHost(r.destination, ip))) return `${svcText(sp)} LoadBalancer on the node IP ${where} (k3s ServiceLB) -> ${endpointsSummary(sp)}`;
        return `${svcText(sp)} external IP ${where} -> ${endpointsSummary(sp)}`;
      }
    }
    if (r.chain === 'KUBE-NODEPORTS' && targetOwner) return `NodePort ${r.dport ?? '?'} of ${svcText(targetOwner.servicePort)}, on every node address`;
    if (r.chain === 'KUBE-MARK-MASQ') return 'mark the packet (0x4000): KUBE-POSTROUTING will masquerade it';
    if (r.chain === 'KUBE-POSTROUTING') {
      if (t === 'RETURN') return 'packets without the mark keep their source address';
      if (t === 'MARK') return 'clear the mark before the packet leaves';
      if (t === 'MASQUERADE') return "source becomes the outgoing interface's address (cni0's towards pods), so replies return through this node";
    }
    if (owner?.kind === 'EXT') {
      if (t === 'KUBE-MARK-MASQ') return `traffic to ${svcText(owner.servicePort)} from outside the cluster is masqueraded`;
      if (targetOwner?.kind === 'SVC') return 'then load-balanced like ClusterIP traffic';
      if (targetOwner?.kind === 'SVL') return 'externalTrafficPolicy: Local: only endpoints on this node';
    }
    if (owner?.kind === 'SVC' || owner?.kind === 'SVL') {
      if (t === 'KUBE-MARK-MASQ') return `${svcText(owner.servicePort)}: traffic to the ClusterIP from outside the pod network (e.g. the node itself) is masqueraded`;
      if (targetOwner?.kind === 'SEP' && targetOwner.endpoint) {
        const e = targetOwner.endpoint;
        const rules = owner.servicePort.endpoints.length;
        const pick = r.probability !== undefined ? `picked with probability ${r.probability.toFixed(4)} of the connections still undecided` : 'takes every connection the rules above left';
        return `${svcText(owner.servicePort)} -> ${endpointLabel(e)} (${e.ip}:${e.port}), ${pick}${rules === 1 ? ' (the only endpoint)' : ''}`;
      }
    }
    if (owner?.kind === 'SEP' && owner.endpoint) {
      const e = owner.endpoint;
      if (t === 'KUBE-MARK-MASQ') return `hairpin: ${endpointLabel(e)} calling its own Service is masqueraded, or it would answer itself directly`;
      if (t === 'DNAT') return `${svcText(owner.servicePort)} -> ${endpointLabel(e)}`;
    }
    if (owner?.kind === 'FW') return `loadBalancerSourceRanges of ${svcText(owner.servicePort)}`;
    if (t === 'DNAT' && r.toDestination) {
      const ip = r.toDestination.split(':')[0]!;
      const pod = index.podByIP(ip);
      if (pod) return `-> pod ${podLabel(pod)}`;
    }
  }
  if (r.table === 'filter') {
    if ((r.chain === 'KUBE-SERVICES' || r.chain === 'KUBE-EXTERNAL-SERVICES') && t === 'REJECT') {
      const ip = r.destination?.replace(/\/32$/, '');
      const sp = index.servicePorts.find((s) => (s.service.spec.clusterIP === ip || s.loadBalancerIPs.includes(ip ?? '') || s.service.spec.externalIPs.includes(ip ?? '')) && (r.dport === undefined || s.port.port === r.dport || s.port.nodePort === r.dport));
      return `${sp ? svcText(sp) : 'this Service'} has no ready endpoint: refused at once (ICMP port unreachable) instead of a timeout`;
    }
    if (r.chain === 'KUBE-FORWARD') {
      if (t === 'DROP') return 'drop packets conntrack cannot place in a connection';
      if (r.args.includes('--mark')) return 'forward packets kube-proxy marked (Service traffic to be masqueraded)';
      if (r.args.includes('RELATED,ESTABLISHED')) return 'and every later packet of a connection already accepted';
    }
    if (r.chain === 'KUBE-FIREWALL' && t === 'DROP') return 'drop martian packets to 127.0.0.0/8 from outside (route_localnet=1 is on for localhost NodePorts)';
  }
  return undefined;
}

/** The annotation of a chain (shown above its rules). */
export function explainChain(table: string, chain: string, ctx: ExplainContext): string | undefined {
  const owner = ctx.index.chainOwner(chain);
  if (owner) {
    const sp = owner.servicePort;
    switch (owner.kind) {
      case 'SVC':
        return `${sp.name}: load balancing over ${endpointsSummary(sp)} (ClusterIP ${sp.service.spec.clusterIP}:${sp.port.port})`;
      case 'SVL':
        return `${sp.name}: endpoints on this node only (traffic policy Local)`;
      case 'EXT':
        return `${sp.name}: traffic from outside the cluster (${[...(sp.port.nodePort ? [`NodePort ${sp.port.nodePort}`] : []), ...sp.loadBalancerIPs.map((ip) => `LoadBalancer ${ip}:${sp.port.port}`), ...sp.service.spec.externalIPs.map((ip) => `external IP ${ip}:${sp.port.port}`)].join(', ') || 'external'})`;
      case 'FW':
        return `${sp.name}: loadBalancerSourceRanges`;
      case 'SEP':
        return `${sp.name} endpoint ${owner.endpoint!.ip}:${owner.endpoint!.port}: ${endpointLabel(owner.endpoint!)}`;
    }
  }
  const generic: Record<string, string> = {
    'nat KUBE-SERVICES': 'the Service portals: one rule per ClusterIP / LoadBalancer IP, NodePorts last',
    'nat KUBE-NODEPORTS': 'NodePorts: any local address, by port',
    'nat KUBE-MARK-MASQ': 'marks packets to masquerade',
    'nat KUBE-POSTROUTING': 'masquerades marked packets',
    'filter KUBE-SERVICES': 'REJECT for Services without endpoints',
    'filter KUBE-EXTERNAL-SERVICES': 'REJECT for external traffic to Services without endpoints',
    'filter KUBE-FORWARD': 'forwarding of Service traffic',
    'filter KUBE-FIREWALL': 'anti-martian rule for localhost NodePorts',
    'filter KUBE-NODEPORTS': 'health check node ports',
    'filter KUBE-PROXY-FIREWALL': 'loadBalancerSourceRanges',
  };
  if (chain === 'KUBE-PROXY-CANARY') return "empty on purpose: kube-proxy checks it still exists to notice someone flushed its rules";
  if (chain.startsWith('KUBE-SVC-') || chain.startsWith('KUBE-SEP-') || chain.startsWith('KUBE-EXT-')) return 'no Service or endpoint of the state owns this chain (stale: the next sync removes it)';
  return generic[`${table} ${chain}`];
}

export interface ExplainOptions {
  /** Show the [packets:bytes] counters. */
  counters?: boolean;
}

/** The lab's rules of every table, as iptables-save prints them, chain by chain, annotated. */
export function explainIptables(dump: IptablesDump, ctx: ExplainContext, opts: ExplainOptions = {}): string[] {
  const out: string[] = [];
  for (const table of dump.values()) {
    const labChains = table.chains.filter((c) => isLabChain(c.name));
    const rules = table.rules.filter(isLabRule);
    if (labChains.length === 0 && rules.length === 0) continue;
    out.push(`*${table.name}`);
    const order = [...new Set([...table.chains.map((c) => c.name), ...rules.map((r) => r.chain)])];
    for (const chain of order) {
      const own = rules.filter((r) => r.chain === chain);
      if (!isLabChain(chain) && own.length === 0) continue;
      const note = isLabChain(chain) ? explainChain(table.name, chain, ctx) : 'built-in chain: only the jumps into kube-proxy\'s chains are shown';
      out.push('');
      out.push(`# ${chain}${note ? `: ${note}` : ''}`);
      for (const r of own) {
        const line = `${opts.counters && r.packets !== undefined ? `[${r.packets}:${r.bytes}] ` : ''}${r.text}`;
        out.push(annotate(line, explainRule(r, ctx)));
      }
      if (own.length === 0) out.push('#   (no rules)');
    }
    out.push('');
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// routes

export interface RouteLine {
  raw: string;
  type?: string;
  prefix: string;
  dev?: string;
  via?: string;
  src?: string;
}

const ROUTE_TYPES = new Set(['local', 'broadcast', 'unicast', 'multicast', 'anycast', 'blackhole', 'unreachable', 'prohibit', 'throw', 'nat']);

export function parseRoute(line: string): RouteLine | null {
  const w = line.trim().split(/\s+/);
  if (!w[0]) return null;
  let i = 0;
  let type: string | undefined;
  if (ROUTE_TYPES.has(w[0])) type = w[i++];
  const prefix = w[i++];
  if (!prefix) return null;
  const get = (k: string) => {
    const j = w.indexOf(k, i);
    return j >= 0 ? w[j + 1] : undefined;
  };
  return { raw: line.trim(), type, prefix, dev: get('dev'), via: get('via'), src: get('src') };
}

/** Annotation of a route of the node's main or local table. */
export function explainNodeRoute(r: RouteLine, ctx: ExplainContext): string | undefined {
  const podCount = ctx.index.pods.filter((p) => p.status.podIP && inCidr(r.prefix, p.status.podIP)).length;
  if (r.type === 'local') {
    if (r.prefix === ctx.index.nodeIP) return `the node IP: --dst-type LOCAL matches it, so NodePorts and the LoadBalancer (${ctx.index.nodeIP}:80) answer here`;
    if (ctx.gateway && r.prefix === ctx.gateway) return "cni0's address: every pod's default gateway";
    if (r.dev === 'lo') return 'loopback (localhost NodePorts need route_localnet=1)';
    return undefined;
  }
  if (r.type === 'broadcast') return undefined;
  if (r.prefix === 'default') {
    return ctx.mode === 'sandbox'
      ? `sandbox uplink: to the laptop namespace via eth1 (it routes nowhere further; the sandbox is sealed)`
      : `the VM's default route`;
  }
  if (r.dev === 'cni0') return `this node's pod CIDR: the cni0 bridge, one veth per pod (${podCount} pod${podCount === 1 ? '' : 's'})`;
  if (r.dev === 'eth1') return 'the host-only network between the laptop (192.168.56.1) and the node';
  if (r.dev === 'flannel.1') return 'pod CIDR of another node, through the flannel VXLAN device';
  return undefined;
}

/** The node's routes (main table, then the local addresses), annotated. */
export function explainRoutes(input: { main: string; local: string; neighbours?: string; bridgePorts?: { ifname: string; ifindex: number }[]; podRoutes?: { pod: string; text: string }[] }, ctx: ExplainContext): string[] {
  const out: string[] = [`# node ${ctx.index.nodeName}: ip route`];
  for (const line of input.main.split('\n')) {
    const r = parseRoute(line);
    if (r) out.push(annotate(r.raw, explainNodeRoute(r, ctx)));
  }
  out.push('', '# node: local addresses (ip route show table local)');
  for (const line of input.local.split('\n')) {
    const r = parseRoute(line);
    if (r && r.type === 'local') out.push(annotate(r.raw, explainNodeRoute(r, ctx)));
  }
  if (input.bridgePorts?.length) {
    out.push('', '# node: cni0 bridge ports (ip link show master cni0): the host side of each pod\'s veth pair');
    for (const l of input.bridgePorts) {
      const pod = ctx.index.podByVeth(l.ifname);
      out.push(annotate(`${l.ifindex}: ${l.ifname}`, pod ? `pod ${podLabel(pod)} (${pod.status.podIP ?? 'no IP'})` : 'no pod of the state owns it'));
    }
  }
  if (input.neighbours?.trim()) {
    out.push('', '# node: neighbours on cni0 (ip neigh show dev cni0): the pods\' MAC addresses the node has learned');
    for (const line of input.neighbours.split('\n')) {
      const ip = line.trim().split(/\s+/)[0];
      if (!ip) continue;
      out.push(annotate(line.trim(), addressLabel(ip, ctx)));
    }
  }
  for (const p of input.podRoutes ?? []) {
    out.push('', `# pod ${p.pod}: ip route`);
    for (const line of p.text.split('\n')) {
      const r = parseRoute(line);
      if (!r) continue;
      const note = r.prefix === 'default' ? `everything off the pod subnet (ClusterIPs too) goes to cni0 on the node, where kube-proxy's DNAT happens` : r.dev === 'eth0' ? 'the other pods of this node: straight over the bridge' : undefined;
      out.push(annotate(r.raw, note));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// conntrack

/** Annotation of one conntrack entry; undefined when it involves nothing of the lab's. */
export function explainConntrackEntry(e: ConntrackEntry, ctx: ExplainContext): string | undefined {
  const o = e.original;
  const addrs = [o.src, o.dst, e.reply.src, e.reply.dst];
  const known = (ip: string) => addressLabel(ip, ctx) !== undefined;
  const fe = o.dport !== undefined ? ctx.index.frontend(o.dst, o.dport, e.protocol) : undefined;
  if (!fe && !addrs.some(known)) return undefined;
  const parts: string[] = [];
  const from = addressLabel(o.src, ctx);
  if (from) parts.push(`from ${from}`);
  const dnat = dnatOf(e);
  if (fe) {
    const to = dnat ? addressLabel(e.reply.src, ctx) ?? e.reply.src : undefined;
    parts.push(`${fe.servicePort.name} (${fe.kind})${dnat ? ` -> DNAT to ${to} ${dnat.to}` : ' (not translated)'}`);
  } else if (dnat) {
    parts.push(`DNAT ${dnat.from} -> ${addressLabel(e.reply.src, ctx) ?? e.reply.src} ${dnat.to}`);
  } else {
    const to = addressLabel(o.dst, ctx);
    if (to) parts.push(`to ${to}${o.dst.startsWith('224.') ? '' : ', no NAT'}`);
  }
  const snat = snatOf(e);
  if (snat) parts.push(`masqueraded: the server sees ${snat.to}`);
  if (e.flags.includes('UNREPLIED')) parts.push('no reply yet');
  return parts.join('; ') || undefined;
}

/** The entries that involve the lab, annotated; `skipped` counts the others. */
export function explainConntrack(entries: ConntrackEntry[], ctx: ExplainContext): { lines: string[]; skipped: number } {
  const lines: string[] = [];
  let skipped = 0;
  for (const e of entries) {
    const note = explainConntrackEntry(e, ctx);
    if (!note) {
      skipped++;
      continue;
    }
    lines.push(annotate(e.raw, note));
  }
  return { lines, skipped };
}
