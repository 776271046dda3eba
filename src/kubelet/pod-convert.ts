// The boundary between the API's pods and the kubelet's own record of them. The API object is
// plain Kubernetes JSON (fields may be absent); the kubelet's runtime functions (kubelet.ts) work
// on the lab's internal Pod, whose fields are never absent and whose status carries what only
// this kubelet knows (a container's pid, its restart backoff). Those private fields never go back
// to the API: pod-status.ts writes the API's status from the record.
import type { ConfigMap, Container, ContainerStatus, Pod, Probe, Volume } from '../api/types.ts';
import type { KubeObject } from '../client/types.ts';
import type { InstancePaths } from '../node/instance.ts';
import { NETNS_ANNOTATION } from './kubelet.ts';

type Obj = Record<string, unknown>;

export interface ApiPod extends KubeObject {
  spec: Obj & { nodeName?: string; containers: Obj[] };
  status?: Obj & { containerStatuses?: Obj[]; conditions?: Obj[] };
}

export type ApiConfigMap = KubeObject & { data?: Record<string, string> };

const API_SOURCE = { file: '<api>', line: 0 };

function probe(p: Obj | undefined): Probe | undefined {
  if (!p) return undefined;
  const httpGet = p.httpGet as Obj | undefined;
  return {
    ...(httpGet ? { httpGet: { path: (httpGet.path as string | undefined) ?? '/', port: httpGet.port as number | string, scheme: 'HTTP' as const } } : {}),
    ...(p.tcpSocket ? { tcpSocket: p.tcpSocket as { port: number | string } } : {}),
    ...(p.exec ? { exec: { command: ((p.exec as Obj).command as string[] | undefined) ?? [] } } : {}),
    initialDelaySeconds: (p.initialDelaySeconds as number | undefined) ?? 0,
    periodSeconds: (p.periodSeconds as number | undefined) ?? 10,
    timeoutSeconds: (p.timeoutSeconds as number | undefined) ?? 1,
    successThreshold: (p.successThreshold as number | undefined) ?? 1,
    failureThreshold: (p.failureThreshold as number | undefined) ?? 3,
  };
}

function container(c: Obj): Container {
  const opt = <K extends keyof Container>(k: K, v: Container[K] | undefined) => (v === undefined ? {} : { [k]: v });
  return {
    name: c.name as string,
    image: c.image as string,
    ...opt('command', c.command as string[] | undefined),
    ...opt('args', c.args as string[] | undefined),
    ...opt('workingDir', c.workingDir as string | undefined),
    // Only literal values: the lab has no Secrets, and fieldRef/configMapKeyRef env is not supported.
    env: ((c.env as Obj[] | undefined) ?? []).filter((e) => e.valueFrom === undefined).map((e) => ({ name: e.name as string, value: (e.value as string | undefined) ?? '' })),
    ports: ((c.ports as Obj[] | undefined) ?? []).map((p) => ({ ...(p.name ? { name: p.name as string } : {}), containerPort: p.containerPort as number, protocol: ((p.protocol as string | undefined) ?? 'TCP') as 'TCP' })),
    volumeMounts: ((c.volumeMounts as Obj[] | undefined) ?? []).map((m) => m as unknown as Container['volumeMounts'][number]),
    ...opt('readinessProbe', probe(c.readinessProbe as Obj | undefined)),
    ...opt('livenessProbe', probe(c.livenessProbe as Obj | undefined)),
    ...opt('startupProbe', probe(c.startupProbe as Obj | undefined)),
    ...opt('securityContext', c.securityContext as Container['securityContext']),
  };
}

/**
 * The kubelet's record of an API pod: spec and metadata converted, the sandbox's namespace derived
 * from the pod's name (a restarted kubelet finds the same netns, and its attachment in the CNI
 * cache), the status empty (the kubelet fills it from the runtime: adoptStatuses).
 */
export function toInternalPod(api: ApiPod, paths: InstancePaths): Pod {
  const m = api.metadata;
  const s = api.spec;
  const netns = paths.podNetns(m.name);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: m.name,
      namespace: m.namespace ?? 'default',
      uid: m.uid,
      labels: { ...m.labels },
      // The sandbox's namespace, as kubelet.ts reads it (never written back to the API); its veth
      // and sandbox ID come from its CNI ADD's result.
      annotations: { ...m.annotations, [NETNS_ANNOTATION]: netns },
      ...(m.creationTimestamp ? { creationTimestamp: m.creationTimestamp } : {}),
      ...(m.deletionTimestamp ? { deletionTimestamp: m.deletionTimestamp } : {}),
      ...(m.deletionGracePeriodSeconds !== undefined ? { deletionGracePeriodSeconds: m.deletionGracePeriodSeconds } : {}),
      ...(m.ownerReferences ? { ownerReferences: m.ownerReferences } : {}),
    },
    spec: {
      containers: s.containers.map(container),
      volumes: ((s.volumes as Obj[] | undefined) ?? []) as unknown as Volume[],
      restartPolicy: ((s.restartPolicy as string | undefined) ?? 'Always') as Pod['spec']['restartPolicy'],
      terminationGracePeriodSeconds: (s.terminationGracePeriodSeconds as number | undefined) ?? 30,
      ...(s.nodeName ? { nodeName: s.nodeName } : {}),
      ...(s.hostname ? { hostname: s.hostname as string } : {}),
      ...(s.subdomain ? { subdomain: s.subdomain as string } : {}),
      ...(s.dnsPolicy ? { dnsPolicy: s.dnsPolicy as string } : {}),
    },
    status: { phase: 'Pending', conditions: [], containerStatuses: [] },
  };
}

/** A ConfigMap as podfiles.ts's writeVolumes reads it. */
export function toInternalConfigMap(api: ApiConfigMap): ConfigMap {
  const m = api.metadata;
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: m.name, namespace: m.namespace ?? 'default', labels: { ...m.labels }, annotations: { ...m.annotations } }, data: { ...api.data }, source: API_SOURCE };
}

/** A container the runtime lists as running, alive in the pod's network namespace. */
export interface LiveContainer {
  id: string;
  pid: number;
}

/**
 * After a kubelet restart: each container's status from what the API last heard and what the
 * runtime has now. A container the API calls running whose process is still alive (same
 * container ID) is adopted as it is: same pid, same start time, readiness as the API had it (its
 * probes resume). One the API knew but the runtime no longer runs ended while nobody watched: it
 * is recorded as kube records a container it cannot find (ContainerStatusUnknown, 137), and is
 * started again by the next sync with its restart count carried on. Pure.
 */
export function adoptStatuses(pod: Pod, apiStatuses: Obj[], live: Map<string, LiveContainer>, now: string): ContainerStatus[] {
  const out: ContainerStatus[] = [];
  for (const c of pod.spec.containers) {
    const a = apiStatuses.find((x) => x.name === c.name);
    const running = live.get(c.name);
    const restartCount = (a?.restartCount as number | undefined) ?? 0;
    const lastState = a?.lastState as ContainerStatus['lastState'] | undefined;
    const state = (a?.state ?? {}) as ContainerStatus['state'];
    const containerID = a?.containerID as string | undefined;
    if (running) {
      const same = containerID === `runc://${running.id}`;
      out.push({
        name: c.name,
        ready: same ? Boolean(a?.ready) : false,
        started: same ? Boolean(a?.started) : !c.startupProbe,
        restartCount,
        containerID: `runc://${running.id}`,
        pid: running.pid,
        state: same && state.running ? state : { running: { startedAt: now } },
        ...(lastState && Object.keys(lastState).length ? { lastState } : {}),
        backoff: { crashes: 0, lastStart: Date.parse(state.running?.startedAt ?? now) || Date.now() },
      });
      continue;
    }
    if (!a) continue; // never started: the sync starts it
    if (state.running && containerID) {
      const terminated = { exitCode: 137, reason: 'ContainerStatusUnknown', finishedAt: now, startedAt: state.running.startedAt };
      out.push({ name: c.name, ready: false, started: false, restartCount, containerID, state: { waiting: { reason: 'ContainerCreating' } }, lastState: { terminated }, backoff: { crashes: 0, lastStart: 0 } });
      continue;
    }
    if (state.terminated) {
      out.push({ name: c.name, ready: false, started: false, restartCount, ...(containerID ? { containerID } : {}), state, ...(lastState && Object.keys(lastState).length ? { lastState } : {}) });
      continue;
    }
    // Waiting (backoff, a failed start): started again by the sync, its count carried on.
    out.push({ name: c.name, ready: false, started: false, restartCount, ...(containerID ? { containerID } : {}), state: { waiting: { reason: 'ContainerCreating' } }, ...(lastState && Object.keys(lastState).length ? { lastState } : {}), backoff: { crashes: 0, lastStart: 0 } });
  }
  return out;
}
