// src/ui/layout.ts: the ELK graphs `lab ui`'s page lays out, run through the real elkjs (in Node).
import ElkBundled from 'elkjs/lib/elk.bundled.js';
import { describe, expect, it } from 'vitest';
import { centres, elkGraph, packOf, packWidth, type LayoutBox, type LayoutEdge } from '../../src/ui/layout.ts';

const elk = new ElkBundled.default();

/** A cluster as the page has it: laptop, one node with its interfaces and n pods, a Service group with its chains. */
function cluster(nPods: number, nSeps = 3): { boxes: LayoutBox[]; edges: LayoutEdge[] } {
  const boxes: LayoutBox[] = [{ id: 'laptop', width: 80, height: 30 }, { id: 'node/a', width: 0, height: 0, bottom: true }];
  const edges: LayoutEdge[] = [];
  for (const i of ['eth1', 'cni0', 'flannel.1']) boxes.push({ id: `if/a/${i}`, parent: 'node/a', width: 70, height: 30 });
  edges.push({ source: 'laptop', target: 'if/a/eth1' }, { source: 'if/a/eth1', target: 'if/a/cni0' }, { source: 'if/a/cni0', target: 'if/a/flannel.1' });
  for (let i = 0; i < nPods; i++) {
    boxes.push({ id: `pod/default/p${i}`, parent: 'node/a', packed: true, width: 110 + (i % 5) * 4, height: 44 });
    edges.push({ source: 'if/a/cni0', target: `pod/default/p${i}` });
  }
  boxes.push({ id: 'group/default/s', width: 0, height: 0 }, { id: 'svc/default/s', parent: 'group/default/s', width: 100, height: 40 }, { id: 'chain/KUBE-SVC-X', parent: 'group/default/s', width: 120, height: 30 });
  edges.push({ source: 'svc/default/s', target: 'chain/KUBE-SVC-X' });
  for (let i = 0; i < nSeps; i++) {
    boxes.push({ id: `chain/KUBE-SEP-${i}`, parent: 'group/default/s', packed: true, width: 120, height: 30 });
    edges.push({ source: 'chain/KUBE-SVC-X', target: `chain/KUBE-SEP-${i}` }, { source: `chain/KUBE-SEP-${i}`, target: `pod/default/p${i}` });
  }
  return { boxes, edges };
}

const overlaps = (boxes: LayoutBox[], pos: Map<string, { x: number; y: number }>) => {
  const leaves = boxes.filter((b) => pos.has(b.id));
  for (let i = 0; i < leaves.length; i++) {
    for (let j = i + 1; j < leaves.length; j++) {
      const a = leaves[i]!;
      const b = leaves[j]!;
      const pa = pos.get(a.id)!;
      const pb = pos.get(b.id)!;
      if (Math.abs(pa.x - pb.x) * 2 < a.width + b.width && Math.abs(pa.y - pb.y) * 2 < a.height + b.height) return `${a.id} overlaps ${b.id}`;
    }
  }
  return null;
};

describe('the layout graph', () => {
  it("packs a node's pods and a Service's KUBE-SEP chains into boxes of their own; layered elsewhere", () => {
    const { boxes, edges } = cluster(5);
    const { graph } = elkGraph(boxes, edges);
    expect(graph.layoutOptions?.['elk.hierarchyHandling']).toBe('SEPARATE_CHILDREN');
    const node = graph.children!.find((c) => c.id === 'node/a')!;
    expect(node.layoutOptions?.['elk.algorithm']).toBe('layered');
    // A node's box grows downwards: drawn in the bottom row, it covers nothing when it does.
    expect(node.layoutOptions?.['elk.layered.layering.layerConstraint']).toBe('LAST');
    const pack = node.children!.find((c) => c.id === packOf('node/a'))!;
    expect(pack.layoutOptions?.['elk.algorithm']).toBe('rectpacking');
    expect(pack.children!.map((c) => c.id)).toEqual([0, 1, 2, 3, 4].map((i) => `pod/default/p${i}`));
    expect(node.children!.map((c) => c.id)).toEqual(['if/a/eth1', 'if/a/cni0', 'if/a/flannel.1', packOf('node/a')]);
    const group = graph.children!.find((c) => c.id === 'group/default/s')!;
    expect(group.children!.find((c) => c.id === packOf('group/default/s'))!.children).toHaveLength(3);
    // Edges lifted to where both ends are siblings: cni0 -> the pods' box once; laptop -> the node;
    // the Service's group -> the node (its DNAT edges); none inside a packed box.
    expect(node.edges!.map((e) => e.id)).toEqual(['if/a/eth1->if/a/cni0', 'if/a/cni0->if/a/flannel.1', `if/a/cni0->${packOf('node/a')}`]);
    expect(graph.edges!.map((e) => e.id).sort()).toEqual(['group/default/s->node/a', 'laptop->node/a']);
  });

  it('lays out 1,000 pods without overlap, every element placed', async () => {
    const { boxes, edges } = cluster(1000, 50);
    const pos = centres(await elk.layout(elkGraph(boxes, edges).graph));
    expect([...pos.keys()].sort()).toEqual(boxes.filter((b) => !['node/a', 'group/default/s'].includes(b.id)).map((b) => b.id).sort());
    expect(overlaps(boxes, pos)).toBeNull();
  });

  it("a compound laid out alone with more children (a scale-up): the children it had stay where they were, relative to each other", async () => {
    const before = cluster(40);
    const first = elkGraph(before.boxes, before.edges);
    const pos0 = centres(await elk.layout(first.graph));
    const after = cluster(47);
    const again = elkGraph(after.boxes, after.edges, { only: 'node/a', packWidths: first.packWidths });
    expect(again.graph.id).toBe('node/a');
    expect(again.packWidths.get('node/a')).toBe(first.packWidths.get('node/a'));
    const pos1 = centres(await elk.layout(again.graph));
    // Only the node's inside was laid out.
    expect(pos1.has('laptop')).toBe(false);
    expect(pos1.has('pod/default/p46')).toBe(true);
    const dx = pos0.get('pod/default/p0')!.x - pos1.get('pod/default/p0')!.x;
    const dy = pos0.get('pod/default/p0')!.y - pos1.get('pod/default/p0')!.y;
    for (let i = 0; i < 40; i++) {
      const a = pos0.get(`pod/default/p${i}`)!;
      const b = pos1.get(`pod/default/p${i}`)!;
      expect({ x: b.x + dx, y: b.y + dy }).toEqual(a);
    }
    const moved = new Map([...pos1].map(([k, v]) => [k, { x: v.x + dx, y: v.y + dy }]));
    expect(overlaps(after.boxes, moved)).toBeNull();
  });

  it('two nodes in the bottom row: the tunnel between them is no edge of the top level, an edge out of one is turned around (ELK allows a LAST node none out)', async () => {
    const one = cluster(3);
    const boxes: LayoutBox[] = [...one.boxes, { id: 'node/b', width: 0, height: 0, bottom: true }, { id: 'if/b/flannel.1', parent: 'node/b', width: 70, height: 30 }, { id: 'ing/default/i', width: 120, height: 50 }];
    const edges: LayoutEdge[] = [...one.edges, { source: 'if/a/flannel.1', target: 'if/b/flannel.1' }, { source: 'pod/default/p0', target: 'ing/default/i' }];
    const { graph } = elkGraph(boxes, edges);
    const ids = graph.edges!.map((e) => e.id);
    expect(ids).not.toContain('node/a->node/b');
    expect(ids).toContain('ing/default/i->node/a');
    expect(overlaps(boxes, centres(await elk.layout(graph)))).toBeNull();
  });

  it('pods on no node are packed at the top level, in the bottom row', () => {
    const { graph } = elkGraph([{ id: 'laptop', width: 80, height: 30 }, { id: 'pod/default/x', packed: true, width: 100, height: 40 }, { id: 'pod/default/y', packed: true, width: 100, height: 40 }], []);
    const pack = graph.children!.find((c) => c.id === packOf('root'))!;
    expect(pack.children!.map((c) => c.id)).toEqual(['pod/default/x', 'pod/default/y']);
    expect(pack.layoutOptions?.['elk.layered.layering.layerConstraint']).toBe('LAST');
  });

  it('packs about square, in whole cells of the widest child, at most 12 columns', () => {
    expect(packWidth([{ width: 100 }])).toBe(2 * 112);
    expect(packWidth(Array.from({ length: 10 }, () => ({ width: 100 })))).toBe(4 * 112);
    expect(packWidth(Array.from({ length: 1000 }, () => ({ width: 100 })))).toBe(12 * 112);
  });
});
