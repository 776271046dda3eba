// The lab's etcd: observed state persisted as one JSON file under /run/packet-path-lab/<instance>/
// so that `lab get`, a second `lab up` and a restarted controller see the same pods, IPs and
// allocations. Written atomically (temp file + rename): a crash never leaves half a file.
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../sys/files.ts';
import type { Endpoints, NodeMode, Pod, Service } from './types.ts';

export interface LabState {
  version: 1;
  instance: string;
  mode: NodeMode;
  nodeName: string;
  nodeIP: string;
  createdAt: string;
  /** Every pod the lab created, keyed by name; a pod is recorded before its netns exists. */
  pods: Record<string, Pod>;
  /** Service IP / NodePort allocations, by "<ns>/<name>". */
  serviceAllocations: Record<string, unknown>;
  /** Services as allocated (clusterIP, nodePorts filled in), for `lab get svc`. */
  services: Service[];
  /** Endpoints as the endpoints controller last computed them, for `lab get endpoints`. */
  endpoints: Endpoints[];
  /** Events, newest last, capped. */
  events: LabEvent[];
}

export interface LabEvent {
  time: string;
  type: 'Normal' | 'Warning';
  reason: string;
  object: string;
  message: string;
}

export const MAX_EVENTS = 500;

export async function readState(file: string): Promise<LabState | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as LabState;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`cannot read lab state ${file}: ${(e as Error).message}`, { cause: e });
  }
}

export async function writeState(file: string, state: LabState): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  if (state.events.length > MAX_EVENTS) state.events.splice(0, state.events.length - MAX_EVENTS);
  await writeFileAtomic(file, JSON.stringify(state, null, 1));
}

export function recordEvent(state: LabState, ev: Omit<LabEvent, 'time'>): void {
  state.events.push({ time: new Date().toISOString(), ...ev });
}
