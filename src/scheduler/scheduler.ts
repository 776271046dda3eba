// The scheduler as a pure function: the same pods and nodes give the same placement on every
// run. Filter: a pod that names its node goes there. Score: fewest pods, then node name.
import type { Pod } from '../api/types.ts';

export interface SchedulableNode {
  name: string;
  /** How many pods the node's pod CIDR can still hold. */
  capacity: number;
}

export function schedule(pods: Pod[], nodes: SchedulableNode[], existing: Pod[]): Map<string, string> {
  const load = new Map(nodes.map((n) => [n.name, 0]));
  for (const p of existing) if (p.spec.nodeName && load.has(p.spec.nodeName)) load.set(p.spec.nodeName, load.get(p.spec.nodeName)! + 1);
  const placement = new Map<string, string>();
  for (const pod of [...pods].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))) {
    const fits = nodes.filter((n) => load.get(n.name)! < n.capacity && (!pod.spec.nodeName || pod.spec.nodeName === n.name));
    if (fits.length === 0) continue; // stays Pending, as with a real scheduler
    fits.sort((a, b) => load.get(a.name)! - load.get(b.name)! || a.name.localeCompare(b.name));
    const chosen = fits[0]!;
    placement.set(pod.metadata.name, chosen.name);
    load.set(chosen.name, load.get(chosen.name)! + 1);
  }
  return placement;
}
