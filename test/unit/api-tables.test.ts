// Table responses (src/api/server/tables.ts) checked two ways: the Tables themselves (columns as
// kube-apiserver 1.32 declares them, cells of every Pod STATUS rule, the row objects includeObject
// asks for, the default convertor), and what real kubectl v1.32 prints from them, served by a
// throwaway HTTP server on 127.0.0.1 (tables-server.ts) that is closed even on failure.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { humanDuration } from '../../src/api/age.ts';
import type { KubeObject } from '../../src/api/server/object.ts';
import { RESOURCES } from '../../src/api/server/resources.ts';
import { tableConvertor, toTable, type Table } from '../../src/api/server/tables.ts';
import { run } from '../../src/sys/exec.ts';
import { ago, FIXTURES, NOW, pods } from './tables-fixtures.ts';
import { startTablesServer, type TablesServer } from './tables-server.ts';

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

describe('HumanDuration (the AGE of every printer)', () => {
  it.each([
    [-2 * S, '<invalid>'], [-1999, '0s'], [-1 * S, '0s'], [0, '0s'], [999, '0s'], [119 * S, '119s'],
    [120 * S, '2m'], [5 * M + 3 * S, '5m3s'], [9 * M + 59 * S, '9m59s'], [10 * M + 30 * S, '10m'], [179 * M + 59 * S, '179m'],
    [3 * H, '3h'], [3 * H + 5 * M, '3h5m'], [7 * H + 59 * M, '7h59m'], [8 * H + 30 * M, '8h'], [47 * H + 59 * M, '47h'],
    [48 * H, '2d'], [50 * H, '2d2h'], [7 * D + 23 * H, '7d23h'], [8 * D + 5 * H, '8d'], [729 * D, '729d'],
    [730 * D, '2y'], [800 * D, '2y70d'], [8 * 365 * D - 1, '7y364d'], [8 * 365 * D, '8y'], [4000 * D, '10y'],
  ])('%d ms is %s', (ms, text) => {
    expect(humanDuration(ms)).toBe(text);
  });
});

const columns = (t: Table) => t.columnDefinitions.map((c) => `${c.name}:${c.type}:${c.format}:${c.priority}`).join(' ');
const table = (resource: string, objects: object[], include: 'None' | 'Metadata' | 'Object' = 'None') => toTable(resource, objects, { includeObject: include, now: NOW, listMeta: { resourceVersion: '4711' } });
const cells = (resource: string, objects: object[]) => table(resource, objects).rows!.map((r) => r.cells);

describe('Table columns, as kube-apiserver declares them', () => {
  it.each([
    ['pods', 'Name:string:name:0 Ready:string::0 Status:string::0 Restarts:string::0 Age:string::0 IP:string::1 Node:string::1 Nominated Node:string::1 Readiness Gates:string::1'],
    ['services', 'Name:string:name:0 Type:string::0 Cluster-IP:string::0 External-IP:string::0 Port(s):string::0 Age:string::0 Selector:string::1'],
    ['endpoints', 'Name:string:name:0 Endpoints:string::0 Age:string::0'],
    ['nodes', 'Name:string:name:0 Status:string::0 Roles:string::0 Age:string::0 Version:string::0 Internal-IP:string::1 External-IP:string::1 OS-Image:string::1 Kernel-Version:string::1 Container-Runtime:string::1'],
    ['namespaces', 'Name:string:name:0 Status:string::0 Age:string::0'],
    ['configmaps', 'Name:string:name:0 Data:string::0 Age:string::0'],
    ['events', 'Last Seen:string::0 Type:string::0 Reason:string::0 Object:string::0 Subobject:string::1 Source:string::1 Message:string::0 First Seen:string::1 Count:string::1 Name:string:name:1'],
    ['deployments.apps', 'Name:string:name:0 Ready:string::0 Up-to-date:string::0 Available:string::0 Age:string::0 Containers:string::1 Images:string::1 Selector:string::1'],
    ['replicasets.apps', 'Name:string:name:0 Desired:integer::0 Current:integer::0 Ready:integer::0 Age:string::0 Containers:string::1 Images:string::1 Selector:string::1'],
    ['ingresses.networking.k8s.io', 'Name:string:name:0 Class:string::0 Hosts:string::0 Address:string::0 Ports:string::0 Age:string::0'],
    ['ingressclasses.networking.k8s.io', 'Name:string:name:0 Controller:string::0 Parameters:string::0 Age:string::0'],
    ['endpointslices.discovery.k8s.io', 'Name:string:name:0 AddressType:string::0 Ports:string::0 Endpoints:string::0 Age:string::0'],
    ['leases.coordination.k8s.io', 'Name:string:name:0 Holder:string::0 Age:string::0'],
  ])('%s', (resource, expected) => {
    const t = table(resource, []);
    expect(columns(t)).toBe(expected);
    expect(t.rows).toEqual([]);
    // Every row has a cell for every column (the server prints wide).
    const [group, plural] = Object.entries(FIXTURES).map(([k]) => k.split('/')).find(([g, p]) => resource === (g ? `${p}.${g}` : p))!;
    for (const row of table(resource, FIXTURES[`${group}/${plural}`]!).rows!) expect(row.cells).toHaveLength(t.columnDefinitions.length);
  });

  it('every resource the server serves has a printer, and each description is kube\'s text', () => {
    for (const r of RESOURCES) expect(columns(tableConvertor(r, [], { includeObject: 'None' }) as Table), r.plural).not.toContain('Created At');
    const pod = table('pods', []);
    expect(pod.columnDefinitions[0]!.description).toMatch(/^Name must be unique within a namespace\. .*#names$/);
    expect(pod.columnDefinitions[5]!.description).toBe('podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.');
    expect(table('nodes', []).columnDefinitions[4]!.description).toBe('Kubelet Version reported by the node.');
  });

  it('a resource without a printer gets the default convertor: Name and Created At', () => {
    const obj = { kind: 'Widget', apiVersion: 'example.com/v1', metadata: { name: 'w1', creationTimestamp: '2026-11-01T00:00:00Z' } };
    const t = toTable('widgets.example.com', [obj, { metadata: { name: 'w2' } }], { includeObject: 'None' });
    expect(columns(t)).toBe('Name:string:name:0 Created At:date::0');
    expect(t.rows!.map((r) => r.cells)).toEqual([['w1', '2026-11-01T00:00:00Z'], ['w2', '0001-01-01T00:00:00Z']]);
    expect(toTable('widgets.example.com', [], { includeObject: 'None' }).rows).toBeNull();
  });
});

describe('Table metadata and row objects', () => {
  const pod = pods[0]!;
  const typed = { kind: 'Pod', apiVersion: 'v1', ...pod };

  it('the list metadata is the Table\'s; includeObject picks the row object', () => {
    const t = toTable('pods', [typed], { includeObject: 'Metadata', now: NOW, listMeta: { resourceVersion: '42', continue: 'abc' } });
    expect(t).toMatchObject({ kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata: { resourceVersion: '42', continue: 'abc' } });
    expect(Object.keys(t)).toEqual(['kind', 'apiVersion', 'metadata', 'columnDefinitions', 'rows']);
    expect(t.rows![0]!.object).toEqual({ kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: pod.metadata });
    expect(toTable('pods', [typed], { includeObject: 'Object' }).rows![0]!.object).toEqual(typed);
    // The object from a list (no kind, no apiVersion) gets its type, first, as kube encodes it.
    const full = toTable('pods', [pod], { includeObject: 'Object' }).rows![0]!.object as KubeObject;
    expect(Object.keys(full).slice(0, 3)).toEqual(['kind', 'apiVersion', 'metadata']);
    expect(full).toEqual(typed);
    // includeObject=None: kube writes the field as null.
    expect(JSON.stringify(toTable('pods', [typed], { includeObject: 'None' }).rows![0])).toMatch(/"object":null}$/);
    expect(toTable('pods', [], { includeObject: 'None' }).metadata).toEqual({});
  });

  it('rows of finished pods carry the Completed condition', () => {
    const rows = table('pods', pods).rows!;
    const byName = (n: string) => rows[pods.findIndex((p) => p.metadata.name === n)]!;
    expect(byName('job-done').conditions).toEqual([{ type: 'Completed', status: 'True', reason: 'Succeeded', message: 'The pod has completed successfully.' }]);
    expect(byName('job-failed').conditions).toEqual([{ type: 'Completed', status: 'True', reason: 'Failed', message: 'The pod failed.' }]);
    expect(byName('killed').conditions).toBeUndefined();
  });
});

describe('Pod STATUS, READY and RESTARTS (printPod)', () => {
  const base = { metadata: { name: 'p', creationTimestamp: ago('1m') }, spec: { containers: [{ name: 'a' }, { name: 'b' }] } };
  const status = (s: Record<string, unknown>, extra: Record<string, unknown> = {}) => cells('pods', [{ ...base, ...extra, status: s }])[0]!.slice(1, 4);
  const term = (t: Record<string, unknown>) => ({ name: 'x', ready: false, restartCount: 0, state: { terminated: t } });

  it('reads containers last to first: the first container\'s reason wins', () => {
    expect(status({ phase: 'Running', containerStatuses: [{ name: 'a', state: { waiting: { reason: 'ImagePullBackOff' } } }, term({ exitCode: 1, reason: 'Error' })] })).toEqual(['0/2', 'ImagePullBackOff', '0']);
    expect(status({ phase: 'Running', containerStatuses: [term({ exitCode: 3 }), { name: 'b', ready: true, state: { running: {} } }] })).toEqual(['1/2', 'ExitCode:3', '0']);
    expect(status({ phase: 'Running', containerStatuses: [term({ exitCode: 0, reason: 'Completed' }), { name: 'b', ready: true, state: { running: {} } }] })).toEqual(['1/2', 'NotReady', '0']);
    expect(status({ phase: 'Running', containerStatuses: [{ name: 'a', ready: false, state: { running: {} } }] })).toEqual(['0/2', 'Running', '0']);
    expect(status({ phase: 'Pending', reason: 'Evicted' })).toEqual(['0/2', 'Evicted', '0']);
  });

  it('scheduling gates, init containers and deletion', () => {
    expect(status({ phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'SchedulingGated' }] })).toEqual(['0/2', 'SchedulingGated', '0']);
    const init = { spec: { ...base.spec, initContainers: [{ name: 'i1' }, { name: 'i2' }] } };
    expect(status({ phase: 'Pending', initContainerStatuses: [term({ exitCode: 0 }), term({ exitCode: 137, signal: 9 })] }, init)).toEqual(['0/2', 'Init:Signal:9', '0']);
    expect(status({ phase: 'Pending', initContainerStatuses: [term({ exitCode: 2 })] }, init)).toEqual(['0/2', 'Init:ExitCode:2', '0']);
    expect(status({ phase: 'Pending', initContainerStatuses: [term({ exitCode: 1, reason: 'OOMKilled' })] }, init)).toEqual(['0/2', 'Init:OOMKilled', '0']);
    expect(status({ phase: 'Pending', initContainerStatuses: [{ name: 'i1', state: { waiting: { reason: 'PodInitializing' } } }] }, init)).toEqual(['0/2', 'Init:0/2', '0']);
    const deleting = { metadata: { ...base.metadata, deletionTimestamp: ago('1s') } };
    expect(status({ phase: 'Running', reason: 'NodeLost' }, deleting)).toEqual(['0/2', 'Unknown', '0']);
    expect(status({ phase: 'Succeeded' }, deleting)).toEqual(['0/2', 'Succeeded', '0']);
    expect(status({ phase: 'Running' }, deleting)).toEqual(['0/2', 'Terminating', '0']);
  });

  it('RESTARTS adds the age of the latest termination', () => {
    const restarted = (n: number, finishedAt?: string) => ({ name: 'a', restartCount: n, state: { running: {} }, lastState: finishedAt === undefined ? {} : { terminated: { exitCode: 1, finishedAt } } });
    expect(status({ phase: 'Running', containerStatuses: [restarted(2, ago('5m')), restarted(1, ago('45s'))] })[2]).toBe('3 (45s ago)');
    expect(status({ phase: 'Running', containerStatuses: [restarted(2)] })[2]).toBe('2');
    expect(status({ phase: 'Running', containerStatuses: [restarted(2, '0001-01-01T00:00:00Z')] })[2]).toBe('2');
  });
});

describe('cells of the other printers', () => {
  it('Endpoints and EndpointSlices list at most three, then count the rest', () => {
    const subsets = [{ addresses: [{ ip: 'fd00::1' }, { ip: '10.0.0.2' }], ports: [{ port: 80 }, { port: 443 }] }, { addresses: [{ ip: '10.0.0.9' }] }];
    expect(cells('endpoints', [{ metadata: { name: 'e' }, subsets }])[0]).toEqual(['e', '[fd00::1]:80,10.0.0.2:80,[fd00::1]:443 + 2 more...', '<unknown>']);
    expect(cells('endpointslices.discovery.k8s.io', [{ metadata: { name: 's' }, addressType: 'IPv4', ports: [{ name: 'http' }, {}, { port: 1 }, { port: 2 }], endpoints: [{ addresses: ['10.0.0.1'] }] }])[0]!.slice(2, 4)).toEqual(['http,*,1 + 1 more...', '10.0.0.1']);
  });

  it('Ingress hosts count every rule past the third; events without a count count once', () => {
    const rules = [{ host: 'a' }, {}, {}, {}, { host: 'b' }];
    expect(cells('ingresses.networking.k8s.io', [{ metadata: { name: 'i' }, spec: { rules } }])[0]!.slice(1, 5)).toEqual(['<none>', 'a,b', '', '80']);
    expect(cells('events', [{ metadata: { name: 'e' }, involvedObject: { kind: 'Namespace' }, message: '  hi \n', lastTimestamp: ago('3m'), firstTimestamp: ago('1h') }])[0]).toEqual(['3m', '', '', 'namespace', '', '', 'hi', '60m', 1, 'e']);
  });

  it('Deployment selectors print as selectors (an empty one is empty), a bad one as <invalid>', () => {
    const d = (selector: unknown) => cells('deployments.apps', [{ metadata: { name: 'd' }, spec: { replicas: 1, selector, template: { spec: { containers: [] } } } }])[0]!.slice(5);
    expect(d({})).toEqual(['', '', '']);
    expect(d({ matchExpressions: [{ key: 'a', operator: 'Bogus' }] })).toEqual(['', '', '<invalid>']);
    expect(cells('replicasets.apps', [{ metadata: { name: 'r' }, spec: { selector: { matchExpressions: [{ key: 'a', operator: 'Bogus' }] } } }])[0]!.at(-1)).toBe('<error>');
  });
});

// ---------------------------------------------------------------------------------------------------
// Real kubectl against the tables server.

const tmp = mkdtempSync(path.join(tmpdir(), 'lab-api-tables-'));
const cacheDir = path.join(tmp, 'kube-cache');
const saved = { KUBECACHEDIR: process.env.KUBECACHEDIR, KUBECONFIG: process.env.KUBECONFIG };
let server: TablesServer | undefined;

beforeAll(async () => {
  // A kubeconfig of its own (empty: --server says where) and an HTTP cache of its own (the
  // dispatcher caches /version there).
  const kubeconfig = path.join(tmp, 'kubeconfig');
  writeFileSync(kubeconfig, '', { mode: 0o600 });
  process.env.KUBECONFIG = kubeconfig;
  process.env.KUBECACHEDIR = cacheDir;
  server = await startTablesServer();
});

afterAll(async () => {
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

/** kubectl's output with each line's trailing blanks dropped (an empty last cell leaves padding). */
async function kubectl(...args: string[]): Promise<string> {
  const r = await run(['kubectl', '--server', server!.url, '--cache-dir', cacheDir, ...args], { allowFail: true, timeoutMs: 30_000 });
  expect(r.exitCode, `kubectl ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout.split('\n').map((l) => l.trimEnd()).join('\n').trim();
}

const lines = (...ls: string[]) => ls.join('\n');

describe('real kubectl v1.32 prints the Tables', () => {
  it('kubectl get pods: READY, STATUS, RESTARTS, AGE as the server computed them', async () => {
    expect(await kubectl('get', 'pods')).toBe(lines(
      'NAME                   READY   STATUS                  RESTARTS      AGE',
      'app2-5d9c8b7f6-x1b2c   1/1     Running                 0             60m',
      'app2-5d9c8b7f6-crash   0/1     CrashLoopBackOff        3 (45s ago)   5m3s',
      'app2-5d9c8b7f6-new     0/1     ContainerCreating       0             30s',
      'waiting                0/1     Pending                 0             2m',
      'job-done               0/1     Completed               0             150m',
      'job-failed             0/1     Error                   0             7h59m',
      'killed                 0/1     Signal:9                0             2d2h',
      'app2-5d9c8b7f6-old     1/1     Terminating             1             3d4h',
      'init-pod               0/1     Init:1/2                0             9m59s',
      'init-crash             0/1     Init:CrashLoopBackOff   12 (2m ago)   3h',
      'with-sidecar           2/3     Running                 3 (60m ago)   2d',
    ));
    // kubectl asked for a Table (and would print NAME AGE by itself from a plain list).
    const list = server!.requests.find((r) => r.url.startsWith('/api/v1/namespaces/default/pods'))!;
    expect(list.accept).toContain('application/json;as=Table;v=v1;g=meta.k8s.io');
  });

  it('kubectl get pods -o wide shows the priority-1 columns', async () => {
    expect(await kubectl('get', 'pods', '-o', 'wide')).toBe(lines(
      'NAME                   READY   STATUS                  RESTARTS      AGE     IP           NODE     NOMINATED NODE   READINESS GATES',
      'app2-5d9c8b7f6-x1b2c   1/1     Running                 0             60m     10.42.0.5    labs     <none>           <none>',
      'app2-5d9c8b7f6-crash   0/1     CrashLoopBackOff        3 (45s ago)   5m3s    10.42.0.6    labs     <none>           <none>',
      'app2-5d9c8b7f6-new     0/1     ContainerCreating       0             30s     <none>       labs     <none>           <none>',
      'waiting                0/1     Pending                 0             2m      <none>       <none>   labsw            1/2',
      'job-done               0/1     Completed               0             150m    <none>       labs     <none>           <none>',
      'job-failed             0/1     Error                   0             7h59m   <none>       labs     <none>           <none>',
      'killed                 0/1     Signal:9                0             2d2h    10.42.0.9    labs     <none>           <none>',
      'app2-5d9c8b7f6-old     1/1     Terminating             1             3d4h    10.42.0.7    labs     <none>           <none>',
      'init-pod               0/1     Init:1/2                0             9m59s   10.42.0.10   labs     <none>           <none>',
      'init-crash             0/1     Init:CrashLoopBackOff   12 (2m ago)   3h      10.42.0.11   labs     <none>           <none>',
      'with-sidecar           2/3     Running                 3 (60m ago)   2d      10.42.0.12   labs     <none>           <none>',
    ));
  });

  it('kubectl get nodes -o wide: status, roles, addresses, node info', async () => {
    expect(await kubectl('get', 'nodes', '-o', 'wide')).toBe(lines(
      'NAME    STATUS                        ROLES                  AGE    VERSION        INTERNAL-IP      EXTERNAL-IP   OS-IMAGE                         KERNEL-VERSION   CONTAINER-RUNTIME',
      'labs    Ready                         control-plane,master   10d    v1.32.4+k3s1   192.168.56.110   <none>        Debian GNU/Linux 12 (bookworm)   6.1.0-41-amd64   runc://1.1.5',
      'labsw   NotReady,SchedulingDisabled   <none>                 3h5m   v1.32.4+k3s1   192.168.56.111   203.0.113.7   <unknown>                        6.1.0-41-amd64   <unknown>',
      'spare   Unknown                       worker                 400d                  <none>           <none>        <unknown>                        <unknown>        <unknown>',
    ));
    expect(await kubectl('get', 'nodes', 'labs')).toBe(lines(
      'NAME   STATUS   ROLES                  AGE   VERSION',
      'labs   Ready    control-plane,master   10d   v1.32.4+k3s1',
    ));
  });

  it('kubectl get svc,ep,deploy,rs,ing,cm,events,lease -A: one table per type, kind/ prefixes, namespaces from the row objects', async () => {
    expect(await kubectl('get', 'svc,ep,deploy,rs,ing,cm,events,lease', '-A')).toBe(lines(
      'NAMESPACE     NAME                    TYPE           CLUSTER-IP     EXTERNAL-IP      PORT(S)                      AGE',
      'default       service/kubernetes      ClusterIP      10.43.0.1      <none>           443/TCP                      10d',
      'default       service/app2-service    ClusterIP      10.43.12.34    <none>           80/TCP                       59m',
      'default       service/app2-nodeport   NodePort       10.43.99.1     192.168.56.200   80:30080/TCP,53:30053/UDP    10d',
      'default       service/headless        ClusterIP      None           <none>           80/TCP                       10d',
      'default       service/external        ExternalName   <none>         example.com      <none>                       10d',
      'default       service/no-ports        ClusterIP      10.43.5.5      <none>           <none>                       10d',
      'kube-system   service/traefik         LoadBalancer   10.43.200.10   192.168.56.110   80:31080/TCP,443:31443/TCP   10d',
      'default       service/lb-pending      LoadBalancer   10.43.7.7      <pending>        8080:32000/TCP               10d',
      '',
      'NAMESPACE   NAME                     ENDPOINTS                                             AGE',
      'default     endpoints/kubernetes     192.168.56.110:6443                                   10d',
      'default     endpoints/app2-service   10.42.0.5:80,10.42.0.7:80,10.42.0.12:80 + 1 more...   59m',
      'default     endpoints/lb-pending     <none>                                                10d',
      '',
      'NAMESPACE   NAME                   READY   UP-TO-DATE   AVAILABLE   AGE',
      'default     deployment.apps/app2   2/3     3            2           60m',
      'default     deployment.apps/web    0/0     0            0           8d',
      '',
      'NAMESPACE   NAME                             DESIRED   CURRENT   READY   AGE',
      'default     replicaset.apps/app2-5d9c8b7f6   3         3         2       60m',
      'default     replicaset.apps/web-old          0         0         0       8d',
      '',
      'NAMESPACE   NAME                                  CLASS    HOSTS                                       ADDRESS                                    PORTS     AGE',
      'default     ingress.networking.k8s.io/apps        nginx    app1.com,app2.com                           192.168.56.110                             80        60m',
      'default     ingress.networking.k8s.io/many        nginx    a.example,b.example,c.example + 2 more...   192.168.56.110,192.168.56.111,lb.example   80, 443   60m',
      'default     ingress.networking.k8s.io/catch-all   <none>   *                                                                                      80        2m',
      '',
      'NAMESPACE     NAME                         DATA   AGE',
      'default       configmap/kube-root-ca.crt   1      10d',
      'kube-system   configmap/coredns            2      10d',
      'kube-system   configmap/binary             3      60s',
      'kube-system   configmap/empty              0      60s',
      '',
      // Events have no name column before -o wide: nothing gets the event/ prefix. The eventTime's
      // microseconds make 60m and 20s ago print as 59m and 19s (HumanDuration truncates).
      'NAMESPACE   LAST SEEN   TYPE      REASON              OBJECT                     MESSAGE',
      'default     59m         Normal    Scheduled           pod/app2-5d9c8b7f6-x1b2c   Successfully assigned default/app2-5d9c8b7f6-x1b2c to labs',
      'default     12s         Warning   BackOff             pod/app2-5d9c8b7f6-crash   Back-off restarting failed container app2 in pod app2-5d9c8b7f6-crash_default(u2)',
      'default     60m         Normal    ScalingReplicaSet   deployment/app2            Scaled up replica set app2-5d9c8b7f6 from 0 to 3',
      'default     19s         Normal    NodeReady           node/labs                  Node labs status is now: NodeReady',
      '',
      'NAMESPACE         NAME                                                HOLDER   AGE',
      'kube-node-lease   lease.coordination.k8s.io/labs                      labs     10d',
      'kube-system       lease.coordination.k8s.io/kube-controller-manager            10d',
    ));
  });

  it('-o wide of events, workloads and services; namespaces, ingress classes, endpoint slices', async () => {
    expect(await kubectl('get', 'events', '-o', 'wide')).toBe(lines(
      'LAST SEEN   TYPE      REASON              OBJECT                     SUBOBJECT               SOURCE                                      MESSAGE                                                                             FIRST SEEN   COUNT   NAME',
      '59m         Normal    Scheduled           pod/app2-5d9c8b7f6-x1b2c                           default-scheduler, default-scheduler-labs   Successfully assigned default/app2-5d9c8b7f6-x1b2c to labs                          59m          1       app2-5d9c8b7f6-x1b2c.18a1b2c3d4e5f6a7',
      '12s         Warning   BackOff             pod/app2-5d9c8b7f6-crash   spec.containers{app2}   kubelet, labs                               Back-off restarting failed container app2 in pod app2-5d9c8b7f6-crash_default(u2)   4m50s        7       app2-5d9c8b7f6-crash.18a1b2c3d4e5f6b8',
      '60m         Normal    ScalingReplicaSet   deployment/app2                                    deployment-controller                       Scaled up replica set app2-5d9c8b7f6 from 0 to 3                                    60m          1       app2.18a1b2c3d4e5f6c9',
      '19s         Normal    NodeReady           node/labs                                          kubelet, labs                               Node labs status is now: NodeReady                                                  9d           4       labs.18a1b2c3d4e5f6d0',
    ));
    expect(await kubectl('get', 'deploy,rs,svc', '-o', 'wide')).toBe(lines(
      'NAME                   READY   UP-TO-DATE   AVAILABLE   AGE   CONTAINERS      IMAGES               SELECTOR',
      'deployment.apps/app2   2/3     3            2           60m   app2            busybox:1.36         app=app2',
      'deployment.apps/web    0/0     0            0           8d    nginx,sidecar   nginx:1.27,busybox   app=web,!canary,env in (dev,prod),tier=web',
      '',
      'NAME                             DESIRED   CURRENT   READY   AGE   CONTAINERS   IMAGES         SELECTOR',
      'replicaset.apps/app2-5d9c8b7f6   3         3         2       60m   app2         busybox:1.36   app=app2,pod-template-hash=5d9c8b7f6',
      'replicaset.apps/web-old          0         0         0       8d    nginx        nginx:1.25     <none>',
      '',
      'NAME                    TYPE           CLUSTER-IP    EXTERNAL-IP      PORT(S)                     AGE   SELECTOR',
      'service/kubernetes      ClusterIP      10.43.0.1     <none>           443/TCP                     10d   <none>',
      'service/app2-service    ClusterIP      10.43.12.34   <none>           80/TCP                      59m   app=app2',
      'service/app2-nodeport   NodePort       10.43.99.1    192.168.56.200   80:30080/TCP,53:30053/UDP   10d   app=app2,tier=web',
      'service/headless        ClusterIP      None          <none>           80/TCP                      10d   app=app2',
      'service/external        ExternalName   <none>        example.com      <none>                      10d   <none>',
      'service/no-ports        ClusterIP      10.43.5.5     <none>           <none>                      10d   <none>',
      'service/lb-pending      LoadBalancer   10.43.7.7     <pending>        8080:32000/TCP              10d   <none>',
    ));
    expect(await kubectl('get', 'ns,ingressclass')).toBe(lines(
      'NAME                    STATUS        AGE',
      'namespace/default       Active        10d',
      'namespace/kube-system   Active        10d',
      'namespace/old-project   Terminating   120m',
      '',
      // Each type's table is aligned on its own.
      'NAME                                         CONTROLLER                       PARAMETERS                                      AGE',
      'ingressclass.networking.k8s.io/nginx         k8s.io/ingress-nginx             <none>                                          10d',
      'ingressclass.networking.k8s.io/external-lb   example.com/ingress-controller   IngressParameters.k8s.example.com/external-lb   24h',
    ));
    expect(await kubectl('get', 'endpointslices')).toBe(lines(
      'NAME                 ADDRESSTYPE   PORTS     ENDPOINTS                                   AGE',
      'app2-service-7xk2p   IPv4          80        10.42.0.5,10.42.0.6,10.42.0.7 + 1 more...   59m',
      'lb-pending-abcde     IPv4          <unset>   <unset>                                     10d',
    ));
  });

  it('--sort-by asks for whole objects (includeObject=Object) and sorts by them', async () => {
    const out = (await kubectl('get', 'pods', '-A', '--sort-by=.status.podIP')).split('\n');
    // Four pods without an IP come first (in no promised order), then IPs as strings.
    expect(out.slice(5).map((l) => l.split(/\s+/)[1])).toEqual(['init-pod', 'init-crash', 'with-sidecar', 'coredns-6799fbcd5-abcde', 'app2-5d9c8b7f6-x1b2c', 'app2-5d9c8b7f6-crash', 'app2-5d9c8b7f6-old', 'killed']);
    expect(server!.requests.some((r) => r.url === '/api/v1/pods?includeObject=Object')).toBe(true);
  });
});
