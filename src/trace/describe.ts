// `lab describe pod|svc|node`: everything about one object in kubectl describe's layout, plus the
// kernel objects behind it (netns, veth and its peer, KUBE-* chains, sysctls). Pure: the kernel
// observations are passed in.
import type { LabEvent, ClusterView } from './view.ts';
import { isTerminating, type ContainerState, type Pod, type Probe, type Service } from '../api/types.ts';
import { age } from '../api/age.ts';
import { formatCidr, parseCidr } from '../util/cidr.ts';
import { podLabel, type ClusterIndex } from './cluster.ts';
import type { IptablesDump } from './iptables.ts';
import type { CniResult } from '../cni/spec.ts';
import type { NodeInfo } from './nodes.ts';
import { nftServicePortView, type NftListing } from './nft-table.ts';

/** Lines of "Label:  value", values aligned, nested by indentation, like kubectl describe. */
export class Describer {
  readonly lines: string[] = [];

  kv(label: string, value: string | number | undefined, indent = 0, width = 18): this {
    const pad = ' '.repeat(indent);
    const head = `${pad}${label}:`;
    const text = value === undefined || value === '' ? '<none>' : String(value);
    const [first, ...rest] = text.split('\n');
    // Nested blocks get a wider label column, as kubectl's do.
    const col = Math.max(width + (indent >= 4 ? 2 : 0), head.length + 1);
    this.lines.push(`${head.padEnd(col)}${first}`);
    for (const r of rest) this.lines.push(`${' '.repeat(col)}${r}`);
    return this;
  }

  line(text: string, indent = 0): this {
    this.lines.push(`${' '.repeat(indent)}${text}`);
    return this;
  }

  table(header: string[], rows: string[][], indent = 2): this {
    if (rows.length === 0) return this;
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
    const fmt = (cells: string[]) => ' '.repeat(indent) + cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]! + 2))).join('').trimEnd();
    this.lines.push(fmt(header), fmt(header.map((h) => '-'.repeat(h.length))), ...rows.map(fmt));
    return this;
  }

  toString(): string {
    return this.lines.join('\n') + '\n';
  }
}

function mapText(m: Record<string, string> | undefined, sep = '='): string {
  const entries = Object.entries(m ?? {}).sort(([a], [b]) => a.localeCompare(b));
  return entries.length ? entries.map(([k, v]) => `${k}${sep}${v}`).join('\n') : '<none>';
}

const FROM: Record<string, string> = {
  Scheduled: 'default-scheduler',
  SuccessfulCreate: 'replicaset-controller',
  RELOAD: 'nginx-ingress-controller',
};

function eventsBlock(d: Describer, events: LabEvent[], now: number): void {
  if (events.length === 0) {
    d.kv('Events', '<none>', 0, 0);
    return;
  }
  d.line('Events:');
  d.table(
    ['Type', 'Reason', 'Age', 'From', 'Message'],
    events.map((e) => [e.type, e.reason, age(e.time, now), FROM[e.reason] ?? 'kubelet', e.message]),
  );
}

/** Events about a pod: its own, and its ReplicaSet's "Created pod: <name>". */
export function podEvents(state: ClusterView, pod: Pod): LabEvent[] {
  const name = pod.metadata.name;
  return state.events.filter((e) => e.object === `pod/${name}` || (e.object.startsWith('replicaset/') && e.message === `Created pod: ${name}`));
}

function stateText(s: ContainerState | undefined, now: number): string[] {
  if (!s) return ['<unknown>'];
  if (s.running) return ['Running', `Started:      ${s.running.startedAt} (${age(s.running.startedAt, now)} ago)`];
  if (s.waiting) return ['Waiting', `Reason:       ${s.waiting.reason}`, ...(s.waiting.message ? [`Message:      ${s.waiting.message}`] : [])];
  if (s.terminated) {
    const t = s.terminated;
    return ['Terminated', `Reason:       ${t.reason}`, `Exit Code:    ${t.exitCode}`, ...(t.signal ? [`Signal:       ${t.signal}`] : []), ...(t.startedAt ? [`Started:      ${t.startedAt}`] : []), `Finished:     ${t.finishedAt}`];
  }
  return ['<unknown>'];
}

function probeText(p: Probe): string {
  const how = p.httpGet ? `http-get :${p.httpGet.port}${p.httpGet.path}` : p.tcpSocket ? `tcp-socket :${p.tcpSocket.port}` : p.exec ? `exec [${p.exec.command.join(' ')}]` : '?';
  return `${how} delay=${p.initialDelaySeconds}s timeout=${p.timeoutSeconds}s period=${p.periodSeconds}s #success=${p.successThreshold} #failure=${p.failureThreshold}`;
}

export interface PodNetworkObservation {
  /** The pod's eth0 as `ip -j addr show eth0` in its netns reports it. */
  eth0?: { ifindex: number; peerIfindex?: number; mac?: string; addrs: string[]; up: boolean };
  /** The host side of the veth pair, in the node. */
  veth?: { ifindex: number; peerIfindex?: number; master?: string; mac?: string; up: boolean };
  /** Default route in the pod. */
  gateway?: string;
  /** What the CNI plugins returned for the pod's sandbox (its cached ADD result), if any. */
  cni?: { network: string; containerId: string; ifName: string; file: string; result: CniResult };
  /** Whether each container process is alive (by pid). */
  alive: Record<string, boolean>;
  logDir: string;
}

export function describePod(pod: Pod, state: ClusterView, index: ClusterIndex, net: PodNetworkObservation, now = Date.now()): string {
  const d = new Describer();
  const m = pod.metadata;
  d.kv('Name', m.name).kv('Namespace', m.namespace);
  d.kv('Node', pod.spec.nodeName ? `${pod.spec.nodeName}/${pod.status.hostIP ?? state.nodeIP}` : '<none>');
  d.kv('Start Time', pod.status.startTime);
  d.kv('Labels', mapText(m.labels));
  d.kv('Annotations', mapText(m.annotations, ': '));
  d.kv('Status', isTerminating(pod) ? 'Terminating' : pod.status.phase);
  d.kv('IP', pod.status.podIP);
  const owner = m.ownerReferences?.[0];
  d.kv('Controlled By', owner ? `${owner.kind}/${owner.name}` : undefined);

  d.line('Network:');
  const netns = m.annotations['lab/netns'];
  d.kv('Namespace', `${netns ?? '<none>'}   (ip netns exec ${netns ?? '?'} ...)`, 2);
  if (net.eth0) {
    d.kv('eth0', `${net.eth0.addrs.join(', ') || 'no address'}, ifindex ${net.eth0.ifindex}, ${net.eth0.mac ?? ''}${net.eth0.up ? '' : ', DOWN'}${net.eth0.peerIfindex !== undefined ? `, peer ifindex ${net.eth0.peerIfindex} in the node` : ''}`, 2);
  } else d.kv('eth0', 'not found (is the pod network namespace gone?)', 2);
  const vethName = m.annotations['lab/veth'];
  if (net.veth) {
    d.kv('Veth (node)', `${vethName}, ifindex ${net.veth.ifindex}, ${net.veth.mac ?? ''}${net.veth.master ? `, port of ${net.veth.master}` : ', NOT on a bridge'}${net.veth.up ? '' : ', DOWN'}${net.veth.peerIfindex !== undefined ? `, peer ifindex ${net.veth.peerIfindex} (eth0 in the pod)` : ''}`, 2);
  } else d.kv('Veth (node)', `${vethName ?? '<none>'}: not found in the node`, 2);
  d.kv('Gateway', net.gateway ? `${net.gateway} (cni0 on the node)` : undefined, 2);
  cniBlock(d, net.cni);
  const eps = index.servicePorts.flatMap((sp) => sp.endpoints.filter((e) => e.pod?.metadata.name === m.name).map((e) => `${sp.name} -> ${e.ip}:${e.port} via ${e.sepChain}${e.ready ? '' : ' (not ready)'}`));
  d.kv('Endpoint of', eps.length ? eps.join('\n') : '<none> (no Service selects this pod)', 2);

  d.line('Containers:');
  for (const c of pod.spec.containers) {
    const s = pod.status.containerStatuses.find((x) => x.name === c.name);
    d.line(`${c.name}:`, 2);
    d.kv('Container ID', s?.containerID, 4);
    d.kv('Image', c.image, 4);
    d.kv('Command', [...(c.command ?? []), ...(c.args ?? [])].join(' ') || '<image default>', 4);
    d.kv('PID', s?.pid ? `${s.pid}${net.alive[c.name] ? '' : ' (not running)'}` : undefined, 4);
    const [st, ...detail] = stateText(s?.state, now);
    d.kv('State', st, 4);
    for (const l of detail) d.line(l, 6);
    if (s?.lastState && Object.keys(s.lastState).length) {
      const [ls, ...ld] = stateText(s.lastState, now);
      d.kv('Last State', ls, 4);
      for (const l of ld) d.line(l, 6);
    }
    d.kv('Ready', s ? (s.ready ? 'True' : 'False') : 'False', 4);
    d.kv('Restart Count', s?.restartCount ?? 0, 4);
    d.kv('Ports', c.ports.map((p) => `${p.containerPort}/${p.protocol}${p.name ? ` (${p.name})` : ''}`).join(', ') || undefined, 4);
    if (c.readinessProbe) d.kv('Readiness', probeText(c.readinessProbe), 4);
    if (c.livenessProbe) d.kv('Liveness', probeText(c.livenessProbe), 4);
    if (c.startupProbe) d.kv('Startup', probeText(c.startupProbe), 4);
    d.kv('Environment', c.env.length ? c.env.map((e) => `${e.name}=${e.value}`).join('\n') : undefined, 4);
    d.kv('Mounts', c.volumeMounts.length ? c.volumeMounts.map((v) => `${v.mountPath} from ${v.name} (${v.readOnly ? 'ro' : 'rw'}${v.subPath === undefined ? '' : `,path=${JSON.stringify(v.subPath)}`})`).join('\n') : undefined, 4);
    d.kv('Log', `${net.logDir}/${c.name}/container.log`, 4);
  }
  d.line('Conditions:');
  d.table(['Type', 'Status'], pod.status.conditions.map((c) => [c.type, c.status]));
  d.line('Volumes:');
  for (const v of pod.spec.volumes) {
    d.line(`${v.name}:`, 2);
    if (v.configMap) d.kv('Type', 'ConfigMap (a volume populated by a ConfigMap)', 4).kv('Name', v.configMap.name, 4);
    else if (v.hostPath) d.kv('Type', 'HostPath (bare host directory volume)', 4).kv('Path', v.hostPath.path, 4);
    else if (v.emptyDir) d.kv('Type', 'EmptyDir (a temporary directory that shares a pod\'s lifetime)', 4);
    else if (v.downwardAPI) d.kv('Type', 'DownwardAPI (a volume populated by information about the pod)', 4).kv('Items', v.downwardAPI.items.map((i) => `${i.fieldRef.fieldPath} -> ${i.path}`).join('\n'), 4);
  }
  if (pod.spec.volumes.length === 0) d.line('<none>', 2);
  eventsBlock(d, podEvents(state, pod), now);
  return d.toString();
}

/** The sandbox's CNI ADD result: what the plugins made (interfaces, addresses, routes). */
function cniBlock(d: Describer, cni: PodNetworkObservation['cni']): void {
  if (!cni) {
    d.kv('CNI', '<none> (no cached ADD result for this pod)', 2);
    return;
  }
  const r = cni.result;
  d.kv('CNI', `network ${cni.network}, ${cni.ifName}, sandbox ${cni.containerId.slice(0, 13)} (CNI_CONTAINERID), cniVersion ${r.cniVersion}`, 2);
  const ifaces = r.interfaces ?? [];
  d.kv('Interfaces', ifaces.map((i) => `${i.name}${i.mac ? ` ${i.mac}` : ''}${i.sandbox ? ` (in ${i.sandbox})` : ' (node)'}`).join('\n') || undefined, 4);
  d.kv('IPs', (r.ips ?? []).map((ip) => `${ip.address}${ip.interface !== undefined && ifaces[ip.interface] ? ` on ${ifaces[ip.interface]!.name}` : ''}${ip.gateway ? `, gateway ${ip.gateway}` : ''}`).join('\n') || undefined, 4);
  d.kv('Routes', (r.routes ?? []).map((rt) => `${rt.dst}${rt.gw ? ` via ${rt.gw}` : ''}`).join('\n') || undefined, 4);
  d.kv('Result', cni.file, 4);
}

/** `nft` (kube-proxy's nftables mode): the node's table ip kube-proxy, shown instead of the iptables chains. */
/** kube-proxy's nftables mode: the Service's elements in the verdict maps, its service chain with the numgen vmap, its endpoint chains with their DNAT. */
function nftServiceBlock(d: Describer, nft: NftListing, sps: ReturnType<ClusterIndex['servicePortsOf']>, type: string, nodeName: string): void {
  d.line(`kube-proxy (nftables, node ${nodeName}: table ${nft.family} ${nft.table}):`);
  if (sps.length === 0) d.line(type === 'ExternalName' ? 'none: an ExternalName Service is a DNS CNAME only' : 'none: a headless Service has no ClusterIP; DNS returns the pod IPs', 2);
  for (const sp of sps) {
    const v = nftServicePortView(nft, sp);
    d.line(`${sp.name} (${sp.port.port}/${sp.port.protocol}):`, 2);
    d.line('Map elements:', 4);
    if (v.elements.length === 0) d.line('<none>', 6);
    for (const e of v.elements) d.line(`${e.map}: ${e.element}`, 6);
    if (v.numgen) d.kv('Load balancing', `numgen random mod ${v.numgen.n} vmap: ${v.numgen.n} endpoint${v.numgen.n === 1 ? '' : 's'}, each chosen with probability 1/${v.numgen.n}`, 4);
    else if (sp.endpoints.length === 0) d.kv('Endpoints', 'none: new connections meet the no-endpoint-services map (reject-chain)', 4);
    d.line('Chains:', 4);
    for (const c of v.chains) {
      d.line(`chain ${c.name}${c.endpoint ? `  (endpoint ${c.endpoint}${(() => {
        const e = sp.endpoints.find((x) => `${x.ip}:${x.port}` === c.endpoint);
        return e?.pod ? `, pod ${podLabel(e.pod)}` : '';
      })()})` : ''}`, 6);
      for (const r of c.rules) d.line(`${r.text}${r.handle !== undefined ? `  # handle ${r.handle}` : ''}`, 8);
    }
    for (const c of v.missing) d.line(`chain ${c}  (missing from the node's table)`, 6);
  }
}

export function describeService(svc: Service, state: ClusterView, index: ClusterIndex, nat: IptablesDump | null, filter: IptablesDump | null, now = Date.now(), nft: NftListing | null = null): string {
  const d = new Describer();
  const m = svc.metadata;
  const s = svc.spec;
  d.kv('Name', m.name).kv('Namespace', m.namespace).kv('Labels', mapText(m.labels)).kv('Annotations', mapText(m.annotations, ': '));
  d.kv('Selector', s.selector ? Object.entries(s.selector).map(([k, v]) => `${k}=${v}`).join(',') : undefined);
  d.kv('Type', s.type);
  d.kv('IP', s.clusterIP);
  if (s.type === 'ExternalName') d.kv('External Name', s.externalName);
  if (s.externalIPs.length) d.kv('External IPs', s.externalIPs.join(','));
  if (s.type === 'LoadBalancer') d.kv('LoadBalancer Ingress', index.nodes.length > 1 ? `${index.nodes.map((n) => n.ip).join(', ')} (the node IPs: k3s ServiceLB)` : `${state.nodeIP} (the node IP: k3s ServiceLB)`);
  const epObj = (state.endpoints ?? []).find((e) => e.metadata.namespace === m.namespace && e.metadata.name === m.name);
  for (const p of s.ports) {
    d.kv('Port', `${p.name || '<unset>'}  ${p.port}/${p.protocol}`);
    d.kv('TargetPort', `${p.targetPort}/${p.protocol}`);
    if (p.nodePort) d.kv('NodePort', `${p.name || '<unset>'}  ${p.nodePort}/${p.protocol}`);
    const list = (epObj?.subsets ?? []).flatMap((ss) => {
      const ep = ss.ports.find((x) => x.name === p.name) ?? (ss.ports.length === 1 ? ss.ports[0] : undefined);
      return ep ? ss.addresses.map((a) => `${a.ip}:${ep.port}`) : [];
    });
    d.kv('Endpoints', list.join(',') || '<none>');
  }
  d.kv('Session Affinity', s.sessionAffinity);
  if (s.type === 'NodePort' || s.type === 'LoadBalancer') d.kv('External Traffic Policy', s.externalTrafficPolicy);
  d.kv('Internal Traffic Policy', s.internalTrafficPolicy);

  const present = (chain: string) => !nat || (nat.get('nat')?.chains.some((c) => c.name === chain) ?? false);
  const ruleCount = (chain: string) => nat?.get('nat')?.rules.filter((r) => r.chain === chain).length ?? 0;
  const chainText = (chain: string) => (nat ? (present(chain) ? `${chain}  (${ruleCount(chain)} rule${ruleCount(chain) === 1 ? '' : 's'})` : `${chain}  (not in the node's nat table)`) : chain);
  const sps = index.servicePortsOf(m.namespace, m.name);
  if (nft) {
    nftServiceBlock(d, nft, sps, s.type, state.nodeName);
    eventsBlock(d, state.events.filter((e) => e.object === `service/${m.name}` || e.object === `service/${m.namespace}/${m.name}`), now);
    return d.toString();
  }
  d.line(`kube-proxy (iptables, node ${state.nodeName}):`);
  if (sps.length === 0) d.line(s.type === 'ExternalName' ? 'none: an ExternalName Service is a DNS CNAME only' : 'none: a headless Service has no ClusterIP; DNS returns the pod IPs', 2);
  for (const sp of sps) {
    d.line(`${sp.name} (${sp.port.port}/${sp.port.protocol}):`, 2);
    d.kv('ClusterIP', `${s.clusterIP}:${sp.port.port} -> ${chainText(sp.chains.svc)}`, 4, 14);
    const external = [...(sp.port.nodePort ? [`NodePort :${sp.port.nodePort}`] : []), ...sp.loadBalancerIPs.map((ip) => `LoadBalancer ${ip}:${sp.port.port}`), ...s.externalIPs.map((ip) => `external IP ${ip}:${sp.port.port}`)];
    if (external.length) d.kv('External', `${external.join(', ')} -> ${chainText(sp.chains.ext)}`, 4, 14);
    const svcRules = nat?.get('nat')?.rules.filter((r) => r.chain === sp.chains.svc) ?? [];
    if (sp.endpoints.length === 0) {
      const rejects = filter?.get('filter')?.rules.filter((r) => r.target === 'REJECT' && r.comment?.startsWith(`${sp.name} has no endpoints`)).length ?? 0;
      d.kv('Endpoints', `none: new connections are REJECTed in the filter table${filter ? ` (${rejects} rule${rejects === 1 ? '' : 's'})` : ''}`, 4, 14);
    } else {
      d.line('Endpoints:', 4);
      // More than one node: which node each endpoint pod runs on (off this node: through flannel.1).
      const multi = index.nodes.length > 1;
      d.table(
        ['ENDPOINT', 'CHAIN', 'PROBABILITY', 'POD', ...(multi ? ['NODE'] : [])],
        sp.endpoints.map((e) => {
          const jump = svcRules.find((r) => r.target === e.sepChain);
          const prob = jump ? (jump.probability !== undefined ? jump.probability.toFixed(5) : 'the rest') : e.ready ? '-' : 'not ready';
          const node = e.pod?.spec.nodeName ? `${e.pod.spec.nodeName}${e.pod.spec.nodeName === state.nodeName ? '' : ' (via flannel.1)'}` : '<none>';
          return [`${e.ip}:${e.port}`, present(e.sepChain) ? e.sepChain : `${e.sepChain} (missing)`, prob, e.pod ? podLabel(e.pod) : '<no pod>', ...(multi ? [node] : [])];
        }),
        6,
      );
    }
  }
  eventsBlock(d, state.events.filter((e) => e.object === `service/${m.name}` || e.object === `service/${m.namespace}/${m.name}`), now);
  return d.toString();
}

export interface NodeObservation {
  links: { ifname: string; addrs: string[]; up: boolean; kind?: string; ports?: number }[];
  sysctls: Record<string, string>;
  natChains: number;
  natRules: number;
  conntrackEntries?: number;
  nodeNetns: string | null;
  laptopNetns: string | null;
  /** The node described (from its Node object); absent: the server's, from the view. */
  node?: NodeInfo;
  /** flannel's side of the node, as the kernel and subnet.env have it (text, as the commands print it). */
  flannel?: {
    /** `ip -d link show flannel.1`. */
    link: string;
    /** `bridge fdb show dev flannel.1`. */
    fdb: string;
    /** `ip neigh show dev flannel.1`. */
    neigh: string;
    /** `ip route show`. */
    routes: string;
    subnetEnvFile: string;
    /** Its contents, or undefined when it is not there. */
    subnetEnv?: string;
  };
}

/** A VTEP MAC -> the node that published it (flannel's backend-data annotation). */
function vtepOwner(nodes: NodeInfo[], mac: string): NodeInfo | undefined {
  return nodes.find((n) => n.vtepMac === mac.toLowerCase());
}

function flannelBlock(d: Describer, index: ClusterIndex, f: NonNullable<NodeObservation['flannel']>): void {
  const nodes = index.nodes;
  const text = (t: string) => t.split('\n').map((l) => l.trim()).filter(Boolean);
  d.line('flannel.1 (ip -d link show flannel.1):');
  for (const l of text(f.link)) d.line(l, 2);
  if (!text(f.link).length) d.line('(none: flannel has not set up this node)', 2);
  d.line('FDB entries (bridge fdb show dev flannel.1): where to send each VTEP MAC\'s VXLAN');
  for (const l of text(f.fdb)) {
    const m = /^([0-9a-f:]{17})\s.*dst (\S+)/.exec(l);
    const owner = m ? vtepOwner(nodes, m[1]!) : undefined;
    d.line(`${l}${owner ? `   # node ${owner.name}'s flannel.1, over UDP 8472 to its eth1 ${m![2]}` : ''}`, 2);
  }
  d.line('Neighbours (ip neigh show dev flannel.1): each other node\'s <subnet>.0 and its VTEP MAC');
  for (const l of text(f.neigh)) {
    const m = /^(\S+) lladdr ([0-9a-f:]{17})/.exec(l);
    const owner = m ? vtepOwner(nodes, m[2]!) : undefined;
    d.line(`${l}${owner ? `   # node ${owner.name} (podCIDR ${owner.podCIDR ?? '?'})` : ''}`, 2);
  }
  d.line('Routes (ip route show):');
  for (const l of text(f.routes)) {
    const m = /^(\S+) via (\S+) dev flannel\.1/.exec(l);
    const owner = m ? nodes.find((n) => n.podCIDR === m[1]) : undefined;
    const why = owner ? `   # node ${owner.name}'s pods: through flannel.1, wrapped in VXLAN to ${owner.ip}` : / dev cni0 /.test(l) ? '   # this node\'s pods, on the bridge' : '';
    d.line(`${l}${why}`, 2);
  }
  d.line(`subnet.env (${f.subnetEnvFile}):`);
  if (f.subnetEnv === undefined) d.line('(not written yet)', 2);
  else for (const l of text(f.subnetEnv)) d.line(l, 2);
}

const SYSCTL_WHY: Record<string, string> = {
  'net.ipv4.ip_forward': 'the node routes between eth1 and cni0',
  'net.ipv4.conf.all.route_localnet': 'kube-proxy: NodePorts answer on 127.0.0.1 too',
  'net.bridge.bridge-nf-call-iptables': 'bridged pod-to-pod frames pass iptables: same-node Service traffic and hairpin get NATed',
};

export function describeNodeText(state: ClusterView, index: ClusterIndex, obs: NodeObservation, now = Date.now()): string {
  const d = new Describer();
  const link = (n: string) => obs.links.find((l) => l.ifname === n);
  const node = obs.node;
  const name = node?.name ?? state.nodeName;
  const ip = node?.ip ?? state.nodeIP;
  const createdAt = node?.createdAt ?? state.createdAt;
  const roles = node ? Object.keys(node.labels).filter((k) => k.startsWith('node-role.kubernetes.io/')).map((k) => k.slice('node-role.kubernetes.io/'.length)).sort().join(',') || '<none>' : 'control-plane,master';
  d.kv('Name', name);
  d.kv('Roles', roles);
  d.kv('Mode', state.mode === 'sandbox' ? `sandbox: the node is network namespace ${obs.nodeNetns}, the laptop ${obs.laptopNetns}` : "host: this machine's network namespace is the node (the Vagrant VM)");
  d.kv('CreationTimestamp', `${createdAt} (${age(createdAt, now)} ago)`);
  if (node?.ready) d.kv('Ready', node.ready);
  d.line('Addresses:');
  d.kv('InternalIP', `${ip}${link('eth1') ? ' (eth1)' : ''}`, 2);
  d.kv('Hostname', name, 2);
  const cni0 = link('cni0');
  d.kv('PodCIDR', node?.podCIDR ?? (cni0?.addrs[0] ? formatCidr(parseCidr(cni0.addrs[0])) : undefined));
  if (node) {
    d.line('flannel (the Node\'s annotations: its lease, as the other nodes read it):');
    d.kv('VTEP MAC', node.vtepMac ?? '<none>', 2);
    d.kv('VNI', node.vni ?? '<none>', 2);
    d.kv('Public IP', node.publicIP ?? '<none>', 2);
  }
  d.line('Interfaces:');
  for (const l of obs.links.filter((x) => x.ifname === 'eth1' || x.ifname === 'cni0' || x.ifname === 'flannel.1')) {
    const extra = l.ifname === 'cni0' ? `, bridge with ${l.ports ?? 0} port${l.ports === 1 ? '' : 's'} (one veth per pod)` : l.ifname === 'eth1' && state.mode === 'sandbox' ? ", veth whose peer is a port of vboxnet0, the laptop namespace's bridge (the host-only network)" : '';
    d.kv(l.ifname, `${l.addrs.join(', ') || 'no address'}, ${l.up ? 'UP' : 'DOWN'}${extra}`, 2);
  }
  d.line('Sysctls:');
  for (const [k, v] of Object.entries(obs.sysctls)) d.kv(k, `${v}${SYSCTL_WHY[k] ? `   (${SYSCTL_WHY[k]})` : ''}`, 2, 40);
  d.line('kube-proxy:');
  d.kv('nat table', `${obs.natChains} KUBE-* chains, ${obs.natRules} rules (lab explain iptables)`, 2);
  d.kv('Service ports', `${index.servicePorts.length} (${index.servicePorts.reduce((n, sp) => n + sp.endpoints.length, 0)} endpoints)`, 2);
  if (obs.conntrackEntries !== undefined) d.kv('conntrack', `${obs.conntrackEntries} entries (lab explain conntrack)`, 2);
  if (obs.flannel) flannelBlock(d, index, obs.flannel);
  const pods = index.pods.filter((p) => !node || !p.spec.nodeName || p.spec.nodeName === name).sort((a, b) => a.metadata.namespace.localeCompare(b.metadata.namespace) || a.metadata.name.localeCompare(b.metadata.name));
  d.line(`Non-terminated Pods:  (${pods.length} in total)`);
  d.table(
    ['Namespace', 'Name', 'IP', 'Veth', 'Restarts', 'Age'],
    pods.map((p) => [p.metadata.namespace, p.metadata.name, p.status.podIP ?? '<none>', p.metadata.annotations['lab/veth'] ?? '<none>', String(p.status.containerStatuses.reduce((n, c) => n + c.restartCount, 0)), age(p.metadata.creationTimestamp, now)]),
  );
  eventsBlock(d, state.events.filter((e) => e.object === `node/${name}`), now);
  return d.toString();
}
