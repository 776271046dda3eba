// `lab ui`'s layout, as ELK graphs: what the page asks ELK (elkjs) to lay out, and where ELK's answer
// puts each element. Pure (boxes of known sizes in, ELK's JSON graph out; ELK's answer in, centres
// out), so the unit tests run the very same graphs through elkjs in Node.
//
// Why not one ELK layered run over everything (hierarchyHandling INCLUDE_CHILDREN): with 1,000 pods
// that took 31-55 s in Chromium. Here every compound is laid out on its own (ELK's SEPARATE_CHILDREN):
// - the many elements of one kind inside a compound (a node's pods, a Service's KUBE-SEP chains) go
//   into a box of their own, packed in rows by ELK's rectpacking with a fixed target width, in the
//   order they arrived: one more pod is one more cell at the end, every other cell stays;
// - the rest of a compound (a node's eth1 / cni0 / flannel.1 above its pods' box; a Service above its
//   KUBE-SVC chain above its endpoints' box) and the top level (the laptop, the nodes' boxes, the
//   Services' groups, the Ingress) by ELK layered, top-down, in the model's order; an edge between
//   two compounds' insides counts as an edge between the two compounds (lifted to the level where
//   both ends are siblings), so the top level still reads laptop -> nodes, ingress -> Services.
// An update lays out again only the compound that got new elements (src/ui/page/layout.ts).
import type { ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api.js';

/** An element of the picture as the layout sees it: a box (a compound's size comes from its children). */
export interface LayoutBox {
  id: string;
  parent?: string;
  /** What packs: pods in a node (or on none: at the top level), KUBE-SEP chains in a Service's group. */
  packed?: boolean;
  /** A top-level box drawn in the bottom row (a node's box): it grows downwards, over nothing. */
  bottom?: boolean;
  width: number;
  height: number;
}
export interface LayoutEdge {
  source: string;
  target: string;
}

export interface ElkLike {
  layout(graph: ElkNode): Promise<ElkNode>;
}

export const ROOT = 'root';
/** The id of a compound's box of packed children (no element of the picture: only ELK sees it). */
export const packOf = (compound: string) => `${compound}#pack`;
export const isPack = (id: string) => id.endsWith('#pack');

const SPACING = 12;
/** ELK layered's last layer: the bottom row, top-down. */
const LAST = { 'elk.layered.layering.layerConstraint': 'LAST' };
/** Cytoscape draws a compound's children inside a 14 px padding, its label on top. */
const COMPOUND_PADDING = '[top=32,left=14,bottom=14,right=14]';

const layered = (extra: Record<string, string> = {}): Record<string, string> => ({
  'elk.algorithm': 'layered',
  'elk.direction': 'DOWN',
  'elk.layered.considerModelOrder.strategy': 'NODES_AND_EDGES',
  'elk.layered.spacing.nodeNodeBetweenLayers': '36',
  'elk.spacing.nodeNode': String(SPACING),
  'elk.randomSeed': '1',
  ...extra,
});

/**
 * The width a compound's packed box is filled to, row by row: about square for the children it has
 * when first laid out (no wider than `maxColumns` cells), in whole cells of the widest child.
 * The page keeps it for the compound's life, so later children only add rows.
 */
export function packWidth(children: { width: number }[], maxColumns = 12): number {
  const cell = Math.max(1, ...children.map((c) => c.width)) + SPACING;
  const columns = Math.min(maxColumns, Math.max(2, Math.ceil(Math.sqrt(children.length * 1.6))));
  return columns * cell;
}

export interface GraphOptions {
  /** Each compound's packed width as first laid out (kept across updates); missing: packWidth(). */
  packWidths?: Map<string, number>;
  /** Lay out only this compound's inside (an update): its subtree is the graph. */
  only?: string;
}

/**
 * The ELK graph of `boxes` (children listed after their parents or not: any order; the order among
 * siblings is the order given) and `edges`. Returns the graph and the packed widths it used.
 */
export function elkGraph(boxes: LayoutBox[], edges: LayoutEdge[], opts: GraphOptions = {}): { graph: ElkNode; packWidths: Map<string, number> } {
  const byId = new Map(boxes.map((b) => [b.id, b]));
  const nodes = new Map<string, ElkNode>();
  const container = new Map<string, string>(); // element -> the ELK node it sits in
  const hasChildren = new Set(boxes.filter((b) => b.parent && byId.has(b.parent)).map((b) => b.parent!));
  const packWidths = new Map(opts.packWidths ?? []);
  const graph: ElkNode = { id: ROOT, layoutOptions: layered({ 'elk.hierarchyHandling': 'SEPARATE_CHILDREN', 'elk.spacing.nodeNode': '30', 'elk.layered.spacing.nodeNodeBetweenLayers': '60' }), children: [], edges: [] };
  nodes.set(ROOT, graph);

  // Inside `only`: its subtree, with `only` as the root.
  const within = (b: LayoutBox): boolean => {
    if (!opts.only) return true;
    for (let x: LayoutBox | undefined = b; x; x = x.parent ? byId.get(x.parent) : undefined) if (x.parent === opts.only) return true;
    return false;
  };
  if (opts.only) {
    graph.id = opts.only;
    graph.layoutOptions = layered({ 'elk.padding': COMPOUND_PADDING });
    nodes.set(opts.only, graph);
  }
  const mine = boxes.filter(within);

  for (const b of mine) {
    const n: ElkNode = hasChildren.has(b.id) ? { id: b.id, layoutOptions: layered({ 'elk.padding': COMPOUND_PADDING }), children: [], edges: [] } : { id: b.id, width: b.width, height: b.height };
    if (b.bottom && !opts.only) n.layoutOptions = { ...n.layoutOptions, ...LAST };
    nodes.set(b.id, n);
  }
  // The packed boxes: one per compound with packed children (the top level's: pods on no node).
  const home = (b: LayoutBox): string => (b.parent && nodes.has(b.parent) ? b.parent : graph.id);
  for (const b of mine) {
    if (!b.packed) continue;
    const c = home(b);
    const pid = packOf(c);
    if (nodes.has(pid)) continue;
    const kids = mine.filter((k) => k.packed && home(k) === c);
    const width = packWidths.get(c) ?? packWidth(kids);
    packWidths.set(c, width);
    nodes.set(pid, {
      id: pid,
      layoutOptions: {
        'elk.algorithm': 'rectpacking',
        'elk.rectpacking.widthApproximation.strategy': 'TARGET_WIDTH',
        'elk.rectpacking.widthApproximation.targetWidth': String(width),
        'elk.rectpacking.packing.strategy': 'SIMPLE',
        'elk.spacing.nodeNode': String(SPACING),
        'elk.padding': '[top=0,left=0,bottom=0,right=0]',
        // The top level's (pods on no node): in the bottom row as well.
        ...(c === ROOT && !opts.only ? LAST : {}),
      },
      children: [],
    });
  }
  for (const b of mine) {
    const p = home(b);
    const where = b.packed ? packOf(p) : p;
    if (isPack(where) && !container.has(where)) {
      // The packed box itself sits in its compound, where its first child would.
      container.set(where, p);
      nodes.get(p)!.children!.push(nodes.get(where)!);
    }
    container.set(b.id, where);
    nodes.get(where)!.children!.push(nodes.get(b.id)!);
  }

  // Edges, lifted to the level where both ends are siblings; none inside a packed box.
  const chain = (id: string): string[] => {
    const out = [id];
    for (let c = container.get(id); c !== undefined && c !== graph.id; c = container.get(c)) out.push(c);
    out.push(graph.id);
    return out;
  };
  const last = new Set(graph.children!.filter((c) => c.layoutOptions?.['elk.layered.layering.layerConstraint'] === 'LAST').map((c) => c.id));
  const seen = new Set<string>();
  for (const e of edges) {
    if (!container.has(e.source) || !container.has(e.target)) continue;
    const a = chain(e.source);
    const b = chain(e.target);
    const common = a.find((x) => b.includes(x))!;
    if (isPack(common)) continue;
    let s = a[a.indexOf(common) - 1];
    let t = b[b.indexOf(common) - 1];
    if (!s || !t || s === t) continue;
    // ELK allows a bottom-row (LAST) node no outgoing edge: between two of them (the tunnel between
    // nodes) none, from one (a node's ingress pod to the Ingress) turned around.
    if (common === graph.id && last.has(s)) {
      if (last.has(t)) continue;
      [s, t] = [t, s];
    }
    const id = `${s}->${t}`;
    if (seen.has(id) || seen.has(`${t}->${s}`)) continue;
    seen.add(id);
    const edge: ElkExtendedEdge = { id, sources: [s], targets: [t] };
    nodes.get(common)!.edges!.push(edge);
  }
  return { graph, packWidths };
}

/** ELK's answer as each element's centre (ELK gives top-left corners relative to the container). */
export function centres(result: ElkNode): Map<string, { x: number; y: number }> {
  const out = new Map<string, { x: number; y: number }>();
  const walk = (n: ElkNode, ox: number, oy: number) => {
    for (const c of n.children ?? []) {
      const x = ox + (c.x ?? 0);
      const y = oy + (c.y ?? 0);
      if (c.children?.length) walk(c, x, y);
      else if (!isPack(c.id)) out.set(c.id, { x: x + (c.width ?? 0) / 2, y: y + (c.height ?? 0) / 2 });
    }
  };
  walk(result, 0, 0);
  return out;
}
