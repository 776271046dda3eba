// The cluster as the learner's tools (get, describe, trace, tcpdump, exec, events, explain) read
// it: the API's objects in the lab's internal shapes (src/api/types.ts), with what only the node
// knows added (each running container's pid). api-view.ts builds it from the instance's store.
import type { Endpoints, NodeMode, Pod, Service } from '../api/types.ts';
import type { NodeInfo } from './nodes.ts';

export interface ClusterView {
  instance: string;
  mode: NodeMode;
  /** The server's node (where the laptop's Ingress hosts point). */
  nodeName: string;
  nodeIP: string;
  /** Every node, the server's first (nodes.ts: each one's validated namespace, pod CIDR, VTEP). */
  nodes: NodeInfo[];
  /** When the node registered (its Node's creationTimestamp). */
  createdAt: string;
  /** Every pod, keyed by name. */
  pods: Record<string, Pod>;
  /** Services as the API server allocated them (clusterIP, nodePorts filled in). */
  services: Service[];
  endpoints: Endpoints[];
  /** Events, oldest first. */
  events: LabEvent[];
}

/** An Event as `lab events` lists it. */
export interface LabEvent {
  time: string;
  type: 'Normal' | 'Warning';
  reason: string;
  object: string;
  message: string;
}
