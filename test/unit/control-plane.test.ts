// The server's roles together on one store, each only through the API: the file's objects applied,
// the node registered, the Deployment's ReplicaSet and pods made and scheduled by their controllers,
// its readiness (written as the kubelet will) turned into EndpointSlices by the endpoints
// controllers; the store is kine's table, as a learner reads it with sqlite3.
import { until } from './until.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDesiredState } from '../../src/api/load.ts';
import type { KubeObject } from '../../src/client/types.ts';
import { ControlPlane } from '../../src/controllers/control-plane.ts';
import { run } from '../../src/sys/exec.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'pplt-cp-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FILE = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app2
spec:
  replicas: 3
  selector:
    matchLabels: { app: app2 }
  template:
    metadata:
      labels: { app: app2 }
    spec:
      containers:
        - name: app2
          image: busybox
          ports: [{ containerPort: 80 }]
---
apiVersion: v1
kind: Service
metadata:
  name: app2-service
spec:
  selector: { app: app2 }
  ports:
    - name: http
      port: 80
      targetPort: 80
`;
const host = { bootID: 'b', machineID: 'm', osImage: 'Debian', kernelVersion: '6', architecture: 'amd64', cpus: 2, memoryKi: 1 };


describe('control plane', () => {
  it('file -> API -> scheduler and endpoints controllers, all through the store', async () => {
    const store = path.join(dir, 'state.db');
    const cp = new ControlPlane({
      storePath: store,
      api: { clusterIP: '10.43.0.1', endpointIP: '192.168.56.110', port: 6443 },
      node: { name: 'labs', nodeIP: '192.168.56.110', podCIDR: '10.42.0.0/24', role: 'server', host, kubeletVersion: 'v1.32.0+lab', containerRuntimeVersion: 'runc://1.1.5', maxPods: 251 },
    });
    try {
      await cp.start();
      const applied = await cp.apply('cluster', parseDesiredState({ stateText: FILE, statePath: 'lab/cluster.yaml', hostname: 'labs' }).manifests);
      expect(applied.created).toEqual(['lab/cluster.yaml:1: Deployment default/app2', 'lab/cluster.yaml:18: Service default/app2-service']);
      const c = cp.client;
      type PodView = KubeObject & { spec: { nodeName?: string } };
      // Deployment -> ReplicaSet -> 3 pods, named <deployment>-<hash>-<5>, bound by the scheduler
      const pods = await until('3 pods bound to labs', async () => (await c.list<PodView>({ group: '', resource: 'pods' }, { namespace: 'default' })).items, (l) => l?.length === 3 && l.every((p) => p.spec.nodeName === 'labs'));
      for (const p of pods) expect(p.metadata.name).toMatch(/^app2-[0-9a-f]{8,10}-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
      // the kubelet's part, for now by hand: each pod running and ready with an address
      let ip = 7;
      for (const p of pods) await c.mutate<KubeObject & { status?: object }>({ group: '', resource: 'pods' }, 'default', p.metadata.name, (x) => ({ ...x, status: { ...x.status, phase: 'Running', podIP: `10.42.0.${ip++}`, conditions: [{ type: 'Ready', status: 'True' }], containerStatuses: [] } }), { subresource: 'status' });
      type Slice = KubeObject & { endpoints: { addresses: string[]; conditions: { ready: boolean } }[] };
      const slices = await until('the Service\'s slice with three ready pods', async () => (await c.list<Slice>({ group: 'discovery.k8s.io', resource: 'endpointslices' }, { namespace: 'default', labelSelector: 'kubernetes.io/service-name=app2-service' })).items, (s) => s?.[0]?.endpoints.filter((e) => e.conditions.ready).length === 3);
      expect(slices[0]!.endpoints.map((e) => e.addresses[0]).sort()).toEqual(['10.42.0.7', '10.42.0.8', '10.42.0.9']);
      type Deploy = KubeObject & { status?: { readyReplicas?: number; availableReplicas?: number } };
      await until('the Deployment 3/3 available', () => c.get<Deploy>({ group: 'apps', resource: 'deployments' }, 'default', 'app2').catch(() => undefined as unknown as Deploy), (d) => d?.status?.availableReplicas === 3);
      // the node, Ready through its own heartbeat; the kubernetes Service the API server made
      const node = await c.get<KubeObject & { status: { conditions: { type: string; status: string }[] } }>({ group: '', resource: 'nodes' }, undefined, 'labs');
      expect(node.status.conditions.find((x) => x.type === 'Ready')?.status).toBe('True');
      const names = (await run(['sqlite3', store, "select name from kine where name like '/registry/%' and deleted = 0 group by name order by name"])).stdout.split('\n');
      expect(names).toEqual(expect.arrayContaining(['/registry/deployments/default/app2', '/registry/services/specs/default/kubernetes', '/registry/services/specs/default/app2-service', '/registry/minions/labs', '/registry/leases/kube-node-lease/labs']));
    } finally {
      await cp.stop();
    }
  });
});
