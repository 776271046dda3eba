// `lab ui`'s picture of the cluster, as data: the elements the page draws (the laptop, each node
// with its eth1 / cni0 / flannel.1, each pod on its veth, each Service with the KUBE-SVC and
// KUBE-SEP chains kube-proxy wrote for it, or in its nftables mode the service chain and its numgen
// vmap to the endpoint chains, the Ingress with its host rules) and the edges between them.
// Pure: the API's objects (as the watch stream delivers them) and what the node's kernel holds
// (its nat table or kube-proxy's nftables table, its links, the pods' veths) in, elements out.
// The page lays them out and draws them; the server (src/cli/ui-server.ts) sends a new model whenever either input changes.
import type { ServicePortRef } from '../trace/cluster.ts';
import type { IptablesDump } from '../trace/iptables.ts';
import { nftServicePortView, type NftListing } from '../trace/nft-table.ts';
import { chainId, ifaceId, ingressId, LAPTOP_ID, nodeId, podId, svcId } from './ids.ts';

/** A node or an edge of the picture. Ids are stable across updates (the page keeps positions by id). */
export interface UiElement {
  id: string;
  kind: 'laptop' | 'node' | 'iface' | 'pod' | 'service' | 'chain' | 'ingress' | 'group' | 'edge';
  label: string;
  /** The compound (a node's box, a Service's group) this element is drawn inside. */
  parent?: string;
  /** Edges only. */
  source?: string;
  target?: string;
  /** What the page colours by: Running, NotReady, Pending, Terminating, Failed, Ready, ... */
  state?: string;
  /** Extra classes for the page's style (dns, ingress-controller, notready, endpoint...). */
  classes?: string[];
  /** A short, one-line summary for the object list (and screen readers). */
  summary?: string;
  /** What `lab describe` is asked for when the element is clicked. */
  describe?: { kind: 'pod' | 'svc' | 'node'; namespace?: string; name: string };
  /** The ingress's hosts (to find the rule a request took); a chain's name (to read its rules). */
  hosts?: string[];
  chain?: string;
  pod?: { namespace: string; name: string; ip?: string };
}

export interface UiModel {
  instance: string;
  mode: 'sandbox' | 'host';
  /** kube-proxy's mode as the node's kernel shows it: iptables chains found, or none (nftables). */
  proxyMode: 'iptables' | 'nftables' | 'unknown';
  elements: UiElement[];
}

// The API objects' fields the picture uses (the watch stream's JSON).
export interface ApiMeta {
  name: string;
  namespace?: string;
  uid?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  deletionTimestamp?: string;
  ownerReferences?: { kind: string; name: string }[];
}
export interface ApiPod {
  metadata: ApiMeta;
  spec?: { nodeName?: string; containers?: { name: string }[] };
  status?: {
    phase?: string;
    podIP?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { name: string; ready?: boolean; restartCount?: number; state?: { waiting?: { reason?: string }; running?: object; terminated?: { reason?: string } } }[];
  };
}
export interface ApiService {
  metadata: ApiMeta;
  spec?: { type?: string; clusterIP?: string; ports?: { name?: string; port: number; nodePort?: number; protocol?: string }[]; selector?: Record<string, string> };
  status?: { loadBalancer?: { ingress?: { ip?: string }[] } };
}
export interface ApiEndpointSlice {
  metadata: ApiMeta;
  endpoints?: { addresses: string[]; conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean }; targetRef?: { kind?: string; name?: string; namespace?: string } }[];
}
export interface ApiNode {
  metadata: ApiMeta;
  spec?: { podCIDR?: string; unschedulable?: boolean };
  status?: { addresses?: { type: string; address: string }[]; conditions?: { type: string; status: string }[] };
}
export interface ApiIngress {
  metadata: ApiMeta;
  spec?: {
    ingressClassName?: string;
    defaultBackend?: { service?: { name: string } };
    rules?: { host?: string; http?: { paths?: { path?: string; pathType?: string; backend?: { service?: { name: string; port?: { number?: number; name?: string } } } }[] } }[];
  };
}

/** What one node's kernel holds, as the picture uses it. */
export interface NodeKernel {
  nat: IptablesDump | null;
  nft?: NftListing | null;
  links: Record<string, string[]>;
}

export interface ModelInput {
  instance: string;
  mode: 'sandbox' | 'host';
  laptopIP?: string;
  pods: ApiPod[];
  services: ApiService[];
  endpointSlices: ApiEndpointSlice[];
  nodes: ApiNode[];
  ingresses: ApiIngress[];
  /** The nat table of the node whose kernel the server reads (the server's node), or null. */
  nat: IptablesDump | null;
  /** That node's `table ip kube-proxy` (kube-proxy's nftables mode), or null/absent. */
  nft?: NftListing | null;
  /** That node's name, and its links' IPv4 addresses by interface (eth1, cni0, flannel.1). */
  kernelNode?: string;
  links?: Record<string, string[]>;
  /** Each other node's own kernel, read in its own namespace (the sandbox's agents), by node name. */
  nodeKernels?: Record<string, NodeKernel>;
  /** The host end of each pod's veth, by pod uid (the CNI plugins' results). */
  veths: Record<string, string>;
}

const key = (m: ApiMeta) => `${m.namespace ?? 'default'}/${m.name}`;
// The ids live in ./ids.ts (the page's modules take them without this module's Node-side readers).
export { chainId, ifaceId, ingressId, LAPTOP_ID, nodeId, podId, svcId };

const edge = (source: string, target: string, label = '', classes: string[] = []): UiElement => ({ id: `e/${source}->${target}`, kind: 'edge', source, target, label, classes });

/** kubectl's READY / STATUS / RESTARTS of a pod. */
export function podState(p: ApiPod): { status: string; ready: string; restarts: number; isReady: boolean } {
  const cs = p.status?.containerStatuses ?? [];
  const total = p.spec?.containers?.length ?? cs.length;
  const ready = cs.filter((c) => c.ready).length;
  const restarts = cs.reduce((n, c) => n + (c.restartCount ?? 0), 0);
  let status = p.status?.phase ?? 'Pending';
  for (const c of cs) {
    const reason = c.state?.waiting?.reason ?? c.state?.terminated?.reason;
    if (reason) status = reason;
  }
  if (p.metadata.deletionTimestamp) status = 'Terminating';
  const isReady = p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  return { status, ready: `${ready}/${total}`, restarts, isReady };
}

function nodeIP(n: ApiNode): string | undefined {
  return n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
}

/** 10.42.1.0/24 -> its n-th address (cni0 is .1, flannel.1 is .0). */
function cidrAddress(cidr: string | undefined, n: number): string | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr ?? '');
  if (!m) return undefined;
  const base = ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
  const v = (base + n) >>> 0;
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
}

/** kube-proxy's chains for one Service, as the nat table holds them: KUBE-SVC -> KUBE-SEP (probability) -> DNAT. */
export interface ServiceChains {
  svc: string;
  seps: { chain: string; probability?: number; to?: string }[];
}

/** The KUBE-SVC chain KUBE-SERVICES sends a ClusterIP:port to, with its endpoint chains in order. */
export function serviceChains(nat: IptablesDump | null, clusterIP: string, port: number, protocol = 'tcp'): ServiceChains | undefined {
  const table = nat?.get('nat');
  if (!table) return undefined;
  const jump = table.rules.find((r) => r.chain === 'KUBE-SERVICES' && r.target?.startsWith('KUBE-SVC-') && r.destination?.replace(/\/32$/, '') === clusterIP && r.dport === port && (r.protocol ?? 'tcp') === protocol);
  if (!jump?.target) return undefined;
  const svc = jump.target;
  const seps = table.rules
    .filter((r) => r.chain === svc && r.target?.startsWith('KUBE-SEP-'))
    .map((r) => ({ chain: r.target!, probability: r.probability, to: table.rules.find((x) => x.chain === r.target && x.target === 'DNAT')?.toDestination }));
  return { svc, seps };
}

/**
 * kube-proxy's nftables objects for one Service port (its nftables mode), as the node's
 * `table ip kube-proxy` holds them: the service chain, its `numgen random mod N vmap` to the
 * endpoint chains (each endpoint's share of the N slots), each endpoint chain's DNAT.
 */
/**
 * A per-service nftables chain's name as the picture labels it: its prefix and hash
 * ("endpoint-W3JLSUNE"), without the readable rest the Service's box and the edge already say
 * (the whole name is in the list and the click view).
 */
export function nftShortName(chain: string): string {
  return /^([a-z-]+-[A-Z2-7]{8})-/.exec(chain)?.[1] ?? chain;
}

export function nftServiceObjects(nft: NftListing | null | undefined, ns: string, name: string, port: { name?: string; port: number; protocol?: string }): { svc: string; numgen?: string; eps: { chain: string; share: string; to?: string }[] } | undefined {
  if (!nft) return undefined;
  const protocol = (port.protocol ?? 'TCP').toUpperCase();
  const ref = { service: { metadata: { namespace: ns, name } }, port: { name: port.name, port: port.port, protocol }, name: `${ns}/${name}${port.name ? `:${port.name}` : ''}`, protocol: protocol.toLowerCase(), endpoints: [] } as unknown as ServicePortRef;
  const view = nftServicePortView(nft, ref);
  const svc = view.chains.find((c) => c.role === 'service');
  if (!svc) return undefined;
  // Without a numgen rule (one endpoint): the service chain's gotos.
  const targets = view.numgen?.targets ?? svc.rules.flatMap((r) => [...r.text.matchAll(/goto (endpoint-\S+)/g)].map((m) => m[1]!));
  const n = view.numgen?.n ?? targets.length;
  const eps = [...new Set(targets)].map((chain) => {
    const k = targets.filter((t) => t === chain).length;
    const to = nft.chains.get(chain)?.rules.map((r) => /dnat to (\S+)/.exec(r.text)?.[1]).find((x) => x);
    return { chain, share: n > 1 ? `${k}/${n}` : 'all', to };
  });
  return { svc: svc.name, numgen: view.numgen ? `numgen random mod ${view.numgen.n}` : undefined, eps };
}

function fmtProbability(p: number | undefined, i: number, n: number): string {
  if (p === undefined) return i === n - 1 && n > 1 ? 'the rest' : n === 1 ? 'all' : '';
  return `p=${p.toFixed(4).replace(/0+$/, '').replace(/\.$/, '')}`;
}

export function buildModel(inp: ModelInput): UiModel {
  const els: UiElement[] = [];
  const table = inp.nat?.get('nat');
  const proxyMode = table?.chains.some((c) => c.name === 'KUBE-SERVICES') ? 'iptables' : inp.nft ? 'nftables' : table ? 'nftables' : 'unknown';
  const byName = <T extends { metadata: ApiMeta }>(xs: T[]) => [...xs].sort((a, b) => key(a.metadata).localeCompare(key(b.metadata)));
  const nodes = byName(inp.nodes);
  const serverNode = inp.kernelNode ?? nodes[0]?.metadata.name;

  // The laptop, on the host-only network with every node's eth1.
  els.push({ id: LAPTOP_ID, kind: 'laptop', label: `laptop\n${inp.laptopIP ?? '(your machine)'}`, summary: `laptop ${inp.laptopIP ?? ''}`.trim() });

  const podsByIP = new Map<string, ApiPod>();
  for (const p of inp.pods) if (p.status?.podIP) podsByIP.set(p.status.podIP, p);

  for (const n of nodes) {
    const name = n.metadata.name;
    const ready = n.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
    const id = nodeId(name);
    const ip = nodeIP(n);
    els.push({ id, kind: 'node', label: `node ${name}${ip ? ` · ${ip}` : ''}`, state: ready ? 'Ready' : 'NotReady', summary: `node ${name} ${ip ?? ''} ${ready ? 'Ready' : 'NotReady'} podCIDR ${n.spec?.podCIDR ?? '-'}`, describe: name === serverNode ? { kind: 'node', name } : undefined, classes: ready ? [] : ['notready'] });
    // Each node's interfaces as its own kernel shows them (the API's addresses when it cannot be read).
    const kernel = name === serverNode ? inp.links : inp.nodeKernels?.[name]?.links;
    const addr = (ifname: string, fallback?: string) => kernel?.[ifname]?.join(', ') ?? fallback ?? '';
    const ifs: [string, string][] = [
      ['eth1', addr('eth1', ip)],
      ['cni0', addr('cni0', cidrAddress(n.spec?.podCIDR, 1) && `${cidrAddress(n.spec?.podCIDR, 1)}/24`)],
      ['flannel.1', addr('flannel.1', cidrAddress(n.spec?.podCIDR, 0) && `${cidrAddress(n.spec?.podCIDR, 0)}/32`)],
    ];
    for (const [ifname, a] of ifs) els.push({ id: ifaceId(name, ifname), kind: 'iface', parent: id, label: `${ifname}\n${a}`, summary: `${name} ${ifname} ${a}`, classes: [ifname.replace('.', '-')] });
    els.push(edge(LAPTOP_ID, ifaceId(name, 'eth1'), 'host-only network'));
    els.push(edge(ifaceId(name, 'eth1'), ifaceId(name, 'cni0'), 'routed'));
    els.push(edge(ifaceId(name, 'cni0'), ifaceId(name, 'flannel.1'), 'other nodes\' pods'));
  }
  // The VXLAN tunnel between each pair of nodes' flannel.1.
  for (let i = 0; i < nodes.length; i++) {
    for (let j = i + 1; j < nodes.length; j++) {
      const a = nodes[i]!.metadata.name;
      const b = nodes[j]!.metadata.name;
      els.push(edge(ifaceId(a, 'flannel.1'), ifaceId(b, 'flannel.1'), 'VXLAN VNI 1, udp/8472', ['tunnel']));
    }
  }

  const nodeNames = new Set(nodes.map((n) => n.metadata.name));
  for (const p of byName(inp.pods)) {
    const ns = p.metadata.namespace ?? 'default';
    const st = podState(p);
    const node = p.spec?.nodeName;
    const id = podId(ns, p.metadata.name);
    const veth = p.metadata.uid ? inp.veths[p.metadata.uid] : undefined;
    const classes = [st.isReady ? 'ready' : 'notready'];
    if (p.metadata.labels?.['k8s-app'] === 'kube-dns') classes.push('dns');
    if (p.metadata.labels?.['app.kubernetes.io/name'] === 'ingress-nginx') classes.push('ingress-controller');
    const role = classes.includes('dns') ? ' (cluster DNS)' : classes.includes('ingress-controller') ? ' (ingress)' : '';
    const summary = `pod ${ns}/${p.metadata.name}${role} ${st.status} ready ${st.ready} restarts ${st.restarts} IP ${p.status?.podIP ?? '-'}`;
    els.push({
      id,
      kind: 'pod',
      parent: node && nodeNames.has(node) ? nodeId(node) : undefined,
      label: `${p.metadata.name}${role}\n${st.status} · ${st.ready} ready · ↻${st.restarts}\n${p.status?.podIP ?? 'no IP'}`,
      state: st.isReady ? 'Ready' : st.status,
      classes,
      summary,
      describe: { kind: 'pod', namespace: ns, name: p.metadata.name },
      pod: { namespace: ns, name: p.metadata.name, ip: p.status?.podIP },
    });
    if (node && nodeNames.has(node) && p.status?.podIP) els.push(edge(ifaceId(node, 'cni0'), id, veth ?? 'veth'));
  }

  // Services, each in a group with its chains.
  const others = Object.entries(inp.nodeKernels ?? {}).filter(([n]) => n !== serverNode).sort(([a], [b]) => a.localeCompare(b)).map(([, k]) => k);
  const otherNats = others.map((k) => k.nat);
  const otherNfts = others.map((k) => k.nft);
  const slicesBySvc = new Map<string, ApiEndpointSlice[]>();
  for (const s of inp.endpointSlices) {
    const svc = s.metadata.labels?.['kubernetes.io/service-name'];
    if (!svc) continue;
    const k = `${s.metadata.namespace ?? 'default'}/${svc}`;
    slicesBySvc.set(k, [...(slicesBySvc.get(k) ?? []), s]);
  }
  for (const s of byName(inp.services)) {
    const ns = s.metadata.namespace ?? 'default';
    const name = s.metadata.name;
    const id = svcId(ns, name);
    const group = `group/${ns}/${name}`;
    const ports = s.spec?.ports ?? [];
    const type = s.spec?.type ?? 'ClusterIP';
    const clusterIP = s.spec?.clusterIP ?? '';
    const portText = ports.map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol ?? 'TCP'}`).join(',');
    const eps = (slicesBySvc.get(`${ns}/${name}`) ?? []).flatMap((sl) => sl.endpoints ?? []);
    const readyEps = eps.filter((e) => e.conditions?.ready !== false);
    els.push({ id: group, kind: 'group', label: `Service ${ns}/${name}` });
    els.push({
      id,
      kind: 'service',
      parent: group,
      label: `${name}\n${type} ${clusterIP}\n${portText} · ${readyEps.length}/${eps.length} ready`,
      summary: `service ${ns}/${name} ${type} ClusterIP ${clusterIP} ports ${portText} endpoints ${readyEps.length} ready of ${eps.length}`,
      state: readyEps.length ? 'Ready' : 'NoEndpoints',
      classes: readyEps.length ? [] : ['notready'],
      describe: { kind: 'svc', namespace: ns, name },
    });
    // LoadBalancer: the node IPs' traffic enters it (k3s ServiceLB, kube-proxy's KUBE-EXT).
    if (type === 'LoadBalancer') for (const n of nodes) els.push(edge(ifaceId(n.metadata.name, 'eth1'), id, `LoadBalancer ${ports.map((p) => p.port).join(',')}`, ['lb']));
    let drawn = false;
    for (const port of ports) {
      // The server node's chains; a node's own when the server's has none for it (yet).
      const ch = clusterIP && clusterIP !== 'None' ? [inp.nat, ...otherNats].map((nat) => serviceChains(nat, clusterIP, port.port, (port.protocol ?? 'TCP').toLowerCase())).find((x) => x) : undefined;
      if (!ch) continue;
      drawn = true;
      const svcChain = chainId(ch.svc);
      if (!els.some((e) => e.id === svcChain)) {
        els.push({ id: svcChain, kind: 'chain', parent: group, label: `${ch.svc}\n${port.name ?? ''} ${port.port}/${port.protocol ?? 'TCP'}`, chain: ch.svc, summary: `chain ${ch.svc} of ${ns}/${name} port ${port.port}` });
        els.push(edge(id, svcChain, `:${port.port}`));
      }
      ch.seps.forEach((sep, i) => {
        const sepId = chainId(sep.chain);
        const prob = fmtProbability(sep.probability, i, ch.seps.length);
        if (!els.some((e) => e.id === sepId)) {
          els.push({ id: sepId, kind: 'chain', parent: group, label: `${sep.chain}\n→ ${sep.to ?? '?'}`, chain: sep.chain, summary: `chain ${sep.chain} DNAT to ${sep.to ?? '?'} ${prob}`, classes: ['sep'] });
        }
        els.push(edge(svcChain, sepId, prob, ['probability']));
        const ip = sep.to?.split(':')[0];
        const target = ip ? podsByIP.get(ip) : undefined;
        if (target) els.push(edge(sepId, podId(target.metadata.namespace ?? 'default', target.metadata.name), 'DNAT', ['dnat']));
      });
    }
    // kube-proxy's nftables mode: the service chain, its numgen vmap to the endpoint chains.
    if (!drawn && clusterIP && clusterIP !== 'None') {
      for (const port of ports) {
        const o = [inp.nft, ...otherNfts].map((nft) => nftServiceObjects(nft, ns, name, port)).find((x) => x);
        if (!o) continue;
        drawn = true;
        const svcChain = chainId(o.svc);
        if (!els.some((e) => e.id === svcChain)) {
          els.push({ id: svcChain, kind: 'chain', parent: group, label: `${nftShortName(o.svc)}\n${o.numgen ?? ''} ${port.port}/${port.protocol ?? 'TCP'}`, chain: o.svc, summary: `nftables chain ${o.svc} of ${ns}/${name} port ${port.port}${o.numgen ? `: ${o.numgen} vmap over ${o.eps.length} endpoint chains` : ''}`, classes: ['nft'] });
          els.push(edge(id, svcChain, `:${port.port}`));
        }
        for (const ep of o.eps) {
          const epId = chainId(ep.chain);
          if (!els.some((e) => e.id === epId)) els.push({ id: epId, kind: 'chain', parent: group, label: `${nftShortName(ep.chain)}\n→ ${ep.to ?? '?'}`, chain: ep.chain, summary: `nftables chain ${ep.chain} dnat to ${ep.to ?? '?'} share ${ep.share}`, classes: ['sep', 'nft'] });
          els.push(edge(svcChain, epId, ep.share, ['probability']));
          const target = ep.to ? podsByIP.get(ep.to.split(':')[0]!) : undefined;
          if (target) els.push(edge(epId, podId(target.metadata.namespace ?? 'default', target.metadata.name), 'dnat', ['dnat']));
        }
      }
    }
    // No chains in the kernel (none written yet): the EndpointSlice's pods.
    if (!drawn) {
      for (const e of eps) {
        const t = e.targetRef;
        if (t?.kind === 'Pod' && t.name) {
          const target = podId(t.namespace ?? ns, t.name);
          if (inp.pods.some((p) => podId(p.metadata.namespace ?? 'default', p.metadata.name) === target)) els.push(edge(id, target, e.conditions?.ready === false ? 'not ready' : 'endpoint', ['endpoint']));
        }
      }
    }
  }

  // Ingresses: host rules to their backend Services; the controller's pods read them.
  const controllers = inp.pods.filter((p) => p.metadata.labels?.['app.kubernetes.io/name'] === 'ingress-nginx');
  for (const ing of byName(inp.ingresses)) {
    const ns = ing.metadata.namespace ?? 'default';
    const id = ingressId(ns, ing.metadata.name);
    const lines: string[] = [];
    const hosts: string[] = [];
    const backends = new Map<string, string[]>();
    const add = (svc: string, what: string) => backends.set(svc, [...(backends.get(svc) ?? []), what]);
    for (const r of ing.spec?.rules ?? []) {
      for (const p of r.http?.paths ?? []) {
        const svc = p.backend?.service?.name;
        const host = r.host ?? '*';
        if (r.host) hosts.push(r.host);
        lines.push(`${host}${p.path ?? '/'} → ${svc ?? '?'}`);
        if (svc) add(svc, host);
      }
    }
    const def = ing.spec?.defaultBackend?.service?.name;
    if (def) {
      lines.push(`(default) → ${def}`);
      add(def, 'default');
    }
    els.push({ id, kind: 'ingress', label: `Ingress ${ing.metadata.name}\n${lines.join('\n')}`, hosts, summary: `ingress ${ns}/${ing.metadata.name}: ${lines.join('; ')}` });
    for (const [svc, what] of backends) if (inp.services.some((s) => s.metadata.name === svc && (s.metadata.namespace ?? 'default') === ns)) els.push(edge(id, svcId(ns, svc), what.join(', '), ['ingress-rule']));
    for (const c of controllers) els.push(edge(podId(c.metadata.namespace ?? 'default', c.metadata.name), id, 'nginx reads', ['reads']));
  }

  // Only edges whose two ends exist (an endpoint of a pod not yet listed, say).
  const ids = new Set(els.filter((e) => e.kind !== 'edge').map((e) => e.id));
  const seen = new Set<string>();
  const elements = els.filter((e) => {
    if (seen.has(e.id)) return false;
    seen.add(e.id);
    return e.kind !== 'edge' || (ids.has(e.source!) && ids.has(e.target!));
  });
  return { instance: inp.instance, mode: inp.mode, proxyMode, elements };
}

/** The trace's fields the path is drawn from (src/trace/trace.ts's Trace). */
export interface TraceLike {
  from: { kind: string; ip?: string };
  legs: { service?: { namespace: string; service: string }; svcChain?: string; sepChain?: string; to: { ip: string }; dnat?: { pod?: { name: string; namespace: string } } }[];
  ingress?: { pod: { name: string; namespace: string }; log?: { host?: string } };
  answeredBy?: { name: string; namespace: string };
}

/**
 * The elements a traced request went through, in order: its source, the node's eth1, each
 * Service with the KUBE-SVC and KUBE-SEP chains that counted it, the ingress pod and the Ingress
 * whose rule it took, the pod that answered. Ids not in the model are left out.
 */
export function tracePath(model: UiModel, t: TraceLike, source: string, host: string): string[] {
  const ids = new Set(model.elements.map((e) => e.id));
  const out: string[] = [];
  const push = (id: string | undefined) => {
    if (id && ids.has(id) && out.at(-1) !== id) out.push(id);
  };
  push(source);
  const first = t.legs[0];
  if (first && t.from.kind !== 'pod') {
    const node = model.elements.find((e) => e.kind === 'iface' && e.id.endsWith('/eth1') && e.label.includes(first.to.ip));
    push(node?.id);
  }
  t.legs.forEach((leg, i) => {
    if (leg.service) push(svcId(leg.service.namespace, leg.service.service));
    if (leg.svcChain) push(chainId(leg.svcChain));
    if (leg.sepChain) push(chainId(leg.sepChain));
    if (leg.dnat?.pod) push(podId(leg.dnat.pod.namespace, leg.dnat.pod.name));
    // After the first leg reached the ingress pod: the Ingress whose rule it took.
    if (i === 0 && t.ingress) {
      push(podId(t.ingress.pod.namespace, t.ingress.pod.name));
      const h = (t.ingress.log?.host ?? host).replace(/:\d+$/, '');
      const ings = model.elements.filter((e) => e.kind === 'ingress');
      push((ings.find((e) => e.hosts?.includes(h)) ?? ings.find((e) => e.label.includes('(default)')))?.id);
    }
  });
  if (t.answeredBy) push(podId(t.answeredBy.namespace, t.answeredBy.name));
  return out;
}
