// Controller side of the cluster DNS: the DNS pod serves a snapshot file that the controller
// rewrites whenever Services or endpoints change (the DNS server watches it), the way CoreDNS's
// kubernetes plugin follows the API server.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { ClusterConfig, Endpoints, Pod, Service } from '../api/types.ts';
import { buildDnsSnapshot } from './records.ts';
import { writeDnsSnapshotFile } from './snapshot-file.ts';

/** The file the DNS pod reads: <state>/coredns/snapshot.json, mounted at /etc/coredns. */
export function dnsSnapshotPath(stateDir: string): string {
  return path.join(stateDir, 'coredns', 'snapshot.json');
}

let generation = 0;
/** What was last published per state dir, generation left out: an unchanged snapshot is not rewritten. */
const published = new Map<string, string>();

/**
 * Writes a new snapshot generation when the records changed (the controller calls this after every
 * pod status change; most change no record). Returns whether a file was written.
 */
export async function publishDns(stateDir: string, input: { services: Service[]; endpoints: Endpoints[]; pods: Pod[]; config: ClusterConfig }): Promise<boolean> {
  const snapshot = buildDnsSnapshot({
    services: input.services,
    endpoints: input.endpoints,
    pods: input.pods,
    clusterDomain: input.config.clusterDomain,
    generation: generation + 1,
    nodeHosts: [{ ip: input.config.nodeIP, hostnames: [input.config.nodeName] }],
  });
  const file = dnsSnapshotPath(stateDir);
  const content = JSON.stringify({ ...snapshot, generation: 0 });
  if (published.get(stateDir) === content && existsSync(file)) return false;
  generation++;
  const written = await writeDnsSnapshotFile(file, snapshot);
  published.set(stateDir, content);
  return written;
}
