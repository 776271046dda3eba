// The page's layout: ELK (elkjs, in a Web Worker so the page stays responsive) on the graphs
// src/ui/layout.ts builds from Cytoscape's elements. The first model is laid out whole; after that
// an update lays out only the compounds that got new elements, and puts only the new elements
// where ELK put them (anchored on an element of the same compound that stays): nothing that was
// drawn moves. A new top-level element (a new Service's group, a new node) is laid out on its own
// and drawn below the picture. Only when a new element would cover another compound is the whole
// picture laid out again; the nodes' boxes, which grow the most, are drawn in the bottom row, so
// that growing down they cover nothing.
import type { Core, NodeCollection, NodeSingular } from 'cytoscape';
import ElkApi from 'elkjs/lib/elk-api.js';
import { centres, elkGraph, ROOT, type ElkLike, type LayoutBox, type LayoutEdge } from '../layout.ts';

/** Packed in rows inside their compound: a node's pods (pods on no node: at the top level), a Service's endpoint chains. */
export const isPacked = (n: NodeSingular) => n.data('kind') === 'pod' || (n.isChild() && n.hasClass('sep'));

export class Layouter {
  private readonly elk: ElkLike;
  private packWidths = new Map<string, number>();
  /** How the last update was laid out (the bench and the e2e test read it). */
  last: { kind: 'full' | 'compounds' | 'room' | 'none'; ms: number; compounds: number } = { kind: 'none', ms: 0, compounds: 0 };
  /** How many layouts of each kind so far. */
  readonly counts = { full: 0, compounds: 0, room: 0 };

  constructor(
    private readonly cy: Core,
    elk?: ElkLike,
  ) {
    // The worker script is served by `lab ui` itself (elkjs's own elk-worker.min.js): same origin, no network.
    this.elk = elk ?? new ElkApi.default({ workerUrl: '/elk-worker.js' });
  }

  private boxes(nodes: NodeCollection): LayoutBox[] {
    return nodes.map((n) => {
      const parent = n.isChild() ? n.parent().first().id() : undefined;
      if (n.isParent()) return { id: n.id(), parent, width: 0, height: 0, bottom: n.data('kind') === 'node' };
      const d = n.layoutDimensions({ nodeDimensionsIncludeLabels: true });
      return { id: n.id(), parent, packed: isPacked(n), width: d.w, height: d.h };
    });
  }

  private edges(): LayoutEdge[] {
    return this.cy.edges().map((e) => ({ source: e.data('source') as string, target: e.data('target') as string }));
  }

  private place(pos: Map<string, { x: number; y: number }>, ids: Iterable<string>, dx = 0, dy = 0): void {
    this.cy.batch(() => {
      for (const id of ids) {
        const p = pos.get(id);
        const n = this.cy.getElementById(id);
        if (p && n.nonempty() && !n.isParent()) n.position({ x: p.x + dx, y: p.y + dy });
      }
    });
  }

  /** The whole picture, in the model's order. */
  async full(): Promise<void> {
    const t0 = performance.now();
    const { graph, packWidths } = elkGraph(this.boxes(this.cy.nodes()), this.edges());
    this.packWidths = packWidths;
    const pos = centres(await this.elk.layout(graph));
    this.place(pos, pos.keys());
    this.cy.fit(undefined, 20);
    this.last = { kind: 'full', ms: performance.now() - t0, compounds: 0 };
    this.counts.full++;
  }

  /**
   * Room for a compound that grew: the top level laid out again by ELK with each compound as the
   * box it now is, and each compound moved whole to its new place (nothing inside it moves
   * relative to the rest of it; the pods on no node count as one box).
   */
  private async makeRoom(): Promise<void> {
    const ORPHANS = '#pods-on-no-node';
    const tops = this.cy.nodes().orphans();
    const unit = (n: NodeSingular): string => (isPacked(n) ? ORPHANS : n.id());
    const units = new Map<string, NodeCollection>();
    tops.forEach((n) => void units.set(unit(n), (units.get(unit(n)) ?? this.cy.collection()).union(n)));
    const boxes: LayoutBox[] = [...units].map(([id, c]) => {
      const bb = c.boundingBox({ includeLabels: true });
      return { id, width: bb.w, height: bb.h, bottom: id === ORPHANS || c.first().data('kind') === 'node' };
    });
    const topOf = (n: NodeSingular): NodeSingular => (n.isChild() ? topOf(n.parent().first()) : n);
    const edges = this.cy.edges().map((e) => ({ source: unit(topOf(e.source())), target: unit(topOf(e.target())) }));
    const pos = centres(await this.elk.layout(elkGraph(boxes, edges).graph));
    this.cy.batch(() => {
      for (const [id, c] of units) {
        const bb = c.boundingBox({ includeLabels: true });
        const p = pos.get(id);
        if (!p) continue;
        const leaves = c.union(c.descendants()).nodes().filter((n) => !n.isParent());
        leaves.shift({ x: p.x - (bb.x1 + bb.w / 2), y: p.y - (bb.y1 + bb.h / 2) });
      }
    });
  }

  /** New elements (already added to Cytoscape): laid out where they fit, nothing else moves. */
  async added(ids: string[]): Promise<void> {
    const t0 = performance.now();
    const fresh = new Set(ids);
    const newNodes = ids.map((id) => this.cy.getElementById(id)).filter((n) => n.nonempty() && n.isNode()) as NodeSingular[];
    if (!newNodes.length) return;
    const topOf = (n: NodeSingular): NodeSingular => (n.isChild() ? topOf(n.parent().first()) : n);
    // The compounds that were drawn and got new children; the new top-level elements.
    const grown = new Set<string>();
    const newTops = new Set<string>();
    for (const n of newNodes) {
      const top = topOf(n);
      if (n.isOrphan() && isPacked(n)) grown.add(ROOT); // a pod on no node: the top level's packed box
      else if (fresh.has(top.id())) newTops.add(top.id());
      else grown.add(n.parent().first().id());
    }
    const orphanPods = this.cy.nodes().filter((n) => n.isOrphan() && isPacked(n));
    const all = this.boxes(this.cy.nodes());
    const edges = this.edges();
    for (const c of grown) {
      const { graph, packWidths } = c === ROOT ? elkGraph(this.boxes(orphanPods), [], { packWidths: this.packWidths }) : elkGraph(all, edges, { only: c, packWidths: this.packWidths });
      this.packWidths = packWidths;
      const pos = centres(await this.elk.layout(graph));
      // Anchored on a child that was drawn: where ELK puts it now is where it is.
      const kids = c === ROOT ? orphanPods : this.cy.getElementById(c).children();
      const anchor = kids.filter((k) => !fresh.has(k.id()) && !k.isParent() && pos.has(k.id())).first();
      const at = anchor.nonempty() ? (anchor as NodeSingular).position() : c === ROOT ? { x: 0, y: 0 } : (this.cy.getElementById(c) as NodeSingular).position();
      const was = anchor.nonempty() ? pos.get(anchor.id())! : { x: 0, y: 0 };
      this.place(pos, kids.filter((k) => fresh.has(k.id())).map((k) => k.id()), at.x - was.x, at.y - was.y);
    }
    if (newTops.size) {
      // Laid out among themselves, below what is drawn.
      const tops = this.cy.nodes().filter((n) => newTops.has(topOf(n).id()));
      const { graph } = elkGraph(this.boxes(tops), edges);
      const pos = centres(await this.elk.layout(graph));
      const drawn = this.cy.nodes().filter((n) => !newTops.has(topOf(n).id()));
      const bb = drawn.nonempty() ? drawn.boundingBox({}) : { x1: 0, y2: -40 };
      const ys = [...pos.values()].map((p) => p.y);
      const xs = [...pos.values()].map((p) => p.x);
      this.place(pos, pos.keys(), bb.x1 - Math.min(...xs), bb.y2 + 80 - Math.min(...ys));
    }
    // A new element drawn over another compound: the whole picture again (the only case anything moves).
    const others = this.cy.nodes().orphans().filter((n) => !isPacked(n)).toArray() as NodeSingular[];
    const covers = newNodes.some((n) => {
      if (n.isParent()) return false;
      const a = n.boundingBox({ includeLabels: false });
      const own = topOf(n).id();
      return others.some((o) => {
        if (o.id() === own) return false;
        const b = o.boundingBox({ includeLabels: false });
        return a.x1 < b.x2 && b.x1 < a.x2 && a.y1 < b.y2 && b.y1 < a.y2;
      });
    });
    if (covers) {
      await this.makeRoom();
      this.last = { kind: 'room', ms: performance.now() - t0, compounds: grown.size + newTops.size };
      this.counts.room++;
      return;
    }
    this.last = { kind: 'compounds', ms: performance.now() - t0, compounds: grown.size + newTops.size };
    this.counts.compounds++;
  }
}
