// What the kernel says about flannel.1 and what hangs off it, parsed from iproute2's JSON: one
// `ip -d -j -force -batch -` (the uplink, flannel.1 with its addresses, its neighbours, the routes
// through it) and one `bridge -j fdb show dev flannel.1`. Pure: text in, values out.

/** The device flannel's vxlan backend makes (`flannel.<VNI>`). */
export const VXLAN_DEVICE = 'flannel.1';

/**
 * The commands of the observation batch, in the order parseIpObservation expects their answers.
 * `addr show` for the uplink too, never `link show`: in a batch, iproute2's `link show` leaves a
 * global set that makes every later `addr show` print links without their addresses.
 */
export function observationBatch(uplink: string): string[][] {
  return [
    ['addr', 'show', 'dev', uplink],
    ['addr', 'show', 'dev', VXLAN_DEVICE],
    ['neigh', 'show', 'dev', VXLAN_DEVICE],
    ['route', 'show', 'dev', VXLAN_DEVICE],
  ];
}

export interface VxlanLink {
  /** linkinfo.info_kind: "vxlan" for the real thing. */
  kind?: string;
  vni?: number;
  local?: string;
  /** The device the VTEP sends through (`dev eth1`). */
  link?: string;
  port?: number;
  learning?: boolean;
  gbp?: boolean;
  l2miss?: boolean;
  mac: string;
  mtu: number;
  up: boolean;
  /** IPv4 addresses, "10.42.0.0/32". */
  addrs: string[];
}

export interface ObservedNeighbour {
  ip: string;
  mac?: string;
  permanent: boolean;
}

export interface ObservedFdb {
  mac: string;
  /** The remote VTEP's IP; entries without one are the kernel's, never flannel's. */
  dst?: string;
  permanent: boolean;
  self: boolean;
}

export interface ObservedRoute {
  /** "10.42.1.0/24" (a host route with its /32). */
  dst: string;
  gateway?: string;
  onlink: boolean;
}

export interface ObservedVxlan {
  /** flannel.1, or null when there is none. */
  device: VxlanLink | null;
  neighbours: ObservedNeighbour[];
  fdb: ObservedFdb[];
  routes: ObservedRoute[];
}

export const NOTHING_OBSERVED: ObservedVxlan = { device: null, neighbours: [], fdb: [], routes: [] };

interface IpLinkJson {
  ifname: string;
  flags?: string[];
  mtu?: number;
  address?: string;
  linkinfo?: { info_kind?: string; info_data?: { id?: number; local?: string; link?: string; port?: number; learning?: boolean; gbp?: boolean; l2miss?: boolean } };
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

function parseLink(l: IpLinkJson): VxlanLink {
  const d = l.linkinfo?.info_data ?? {};
  return {
    kind: l.linkinfo?.info_kind,
    vni: d.id,
    local: d.local,
    link: d.link,
    port: d.port,
    learning: d.learning,
    gbp: d.gbp ?? false,
    l2miss: d.l2miss ?? false,
    mac: (l.address ?? '').toLowerCase(),
    mtu: l.mtu ?? 0,
    up: (l.flags ?? []).includes('UP'),
    addrs: (l.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`),
  };
}

/**
 * The answers of observationBatch: one JSON array per line. The uplink must be there (its MTU is
 * flannel's); without flannel.1 the three commands about it fail and print nothing.
 */
export function parseIpObservation(stdout: string, uplink: string): { uplinkMtu: number; vxlan: Omit<ObservedVxlan, 'fdb'> } {
  const answers = stdout
    .split('\n')
    .filter((l) => l.trim().startsWith('['))
    .map((l) => JSON.parse(l) as unknown[]);
  const up = (answers[0] as IpLinkJson[] | undefined)?.[0];
  if (!up || up.ifname !== uplink || !up.mtu) throw new Error(`flannel: interface ${uplink} not found (the flannel interface, k3s's --flannel-iface)`);
  if (answers.length === 1) return { uplinkMtu: up.mtu, vxlan: { device: null, neighbours: [], routes: [] } };
  if (answers.length !== 4) throw new Error(`flannel: unexpected answer from ip about ${uplink} and flannel.1 (${answers.length} of 4 parts)`);
  const dev = (answers[1] as IpLinkJson[])[0];
  const neighbours = (answers[2] as { dst: string; lladdr?: string; state?: string[] }[]).map((n) => ({
    ip: n.dst,
    ...(n.lladdr ? { mac: n.lladdr.toLowerCase() } : {}),
    permanent: (n.state ?? []).includes('PERMANENT'),
  }));
  const routes = (answers[3] as { dst: string; gateway?: string; flags?: string[] }[])
    .filter((r) => r.dst !== 'default')
    .map((r) => ({ dst: r.dst.includes('/') ? r.dst : `${r.dst}/32`, ...(r.gateway ? { gateway: r.gateway } : {}), onlink: (r.flags ?? []).includes('onlink') }));
  return { uplinkMtu: up.mtu, vxlan: { device: dev ? parseLink(dev) : null, neighbours, routes } };
}

/** `bridge -j fdb show dev flannel.1`. */
export function parseFdb(json: string): ObservedFdb[] {
  const entries = JSON.parse(json.trim() || '[]') as { mac: string; dst?: string; flags?: string[]; state?: string }[];
  return entries.map((e) => ({ mac: e.mac.toLowerCase(), ...(e.dst ? { dst: e.dst } : {}), permanent: e.state === 'permanent', self: (e.flags ?? []).includes('self') }));
}
