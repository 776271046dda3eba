// host-local IPAM, as the CNI plugin does it: hand out addresses from the range start upward,
// round robin after the last reserved address, never the network, gateway or broadcast address.
// Allocations are files named after the address (like /var/lib/cni/networks/<net>/<ip>) so a
// restarted controller finds them again.
import { type Cidr, intToIp, ipToInt, size } from '../util/cidr.ts';

export interface IpamRange {
  subnet: Cidr;
  gateway: string;
}

/** Returns the next free address after `lastReserved` (wrapping), or null when the range is full. */
export function nextAddress(range: IpamRange, used: ReadonlySet<string>, lastReserved?: string): string | null {
  const first = range.subnet.base + 1;
  const last = range.subnet.base + size(range.subnet) - 2; // broadcast excluded
  const gw = ipToInt(range.gateway);
  const count = last - first + 1;
  if (count <= 0) return null;
  let start = first;
  if (lastReserved) {
    const l = ipToInt(lastReserved);
    if (l >= first && l <= last) start = l + 1 > last ? first : l + 1;
  }
  for (let i = 0; i < count; i++) {
    const n = first + ((start - first + i) % count);
    if (n === gw) continue;
    const ip = intToIp(n >>> 0);
    if (!used.has(ip)) return ip;
  }
  return null;
}
