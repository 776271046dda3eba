// `lab get <resource>`: pods, nodes, deployments, services and endpoints, as kubectl get shows them.
import type { Pod } from '../../api/types.ts';
import { instancePaths } from '../../node/instance.ts';
import { apiGet, hasApiStore } from '../api-get.ts';
import { log, runningState, type Common } from '../common.ts';
import { age } from '../../api/age.ts';
import { asList, endpointsTable, podStatusText, podsTable, servicesTable, table } from '../format.ts';

async function loadPods(name: string): Promise<Pod[]> {
  const state = await runningState(name);
  return Object.values(state.pods).sort((a, b) => a.metadata.namespace.localeCompare(b.metadata.namespace) || a.metadata.name.localeCompare(b.metadata.name));
}

export type Args = Common & { resource: string; names?: string[]; output?: string; selector?: string; 'all-namespaces': boolean; namespace: string; watch?: boolean };

/** kubectl get pods -w: a line whenever a pod's row changes (status, readiness, restarts, IP). */
async function watchPods(a: Args, pods: Pod[]): Promise<never> {
  const sig = (p: Pod) => JSON.stringify([podStatusText(p), p.status.containerStatuses.map((c) => [c.ready, c.restartCount]), p.status.podIP]);
  const shown = new Map(pods.map((p) => [p.metadata.name, sig(p)]));
  for (;;) {
    await new Promise((r) => setTimeout(r, 200));
    const now = (await loadPods(a.name)).filter((p) => (a['all-namespaces'] || p.metadata.namespace === a.namespace) && (!a.names?.length || a.names.includes(p.metadata.name)));
    const changed = now.filter((p) => shown.get(p.metadata.name) !== sig(p));
    for (const p of changed) shown.set(p.metadata.name, sig(p));
    if (changed.length) process.stdout.write(podsTable(changed, { wide: a.output === 'wide', allNamespaces: a['all-namespaces'] }).split('\n').slice(1).join('\n'));
  }
}

export async function getHandler(a: Args): Promise<void> {
  // An instance run by its server (`lab server`): the API's objects, as kubectl shows them.
  const paths = instancePaths(a.name);
  if (hasApiStore(paths)) {
    const req = { resource: a.resource, names: a.names ?? [], namespace: a.namespace, allNamespaces: a['all-namespaces'], labelSelector: a.selector, output: a.output };
    if (a.watch) {
      if (a.output && a.output !== 'wide') throw new Error('lab get -w prints tables (-o wide at most): use kubectl get -w -o ... (kubeconfig: lab kubeconfig)');
      const { apiWatch } = await import('../api-watch.ts');
      return apiWatch(a.name, paths, req, (t) => process.stdout.write(t));
    }
    const text = await apiGet(a.name, paths, req);
    if (text === '' && a.output !== 'json' && a.output !== 'yaml') log(a['all-namespaces'] ? 'No resources found' : `No resources found in ${a.namespace} namespace.`);
    return void process.stdout.write(text);
  }
  if (a.output === 'name' || a.selector) throw new Error('-o name and -l: only for an instance run by its server (`lab server`)');
  const res = a.resource.toLowerCase();
  const format = a.output === 'json' || a.output === 'yaml' ? a.output : undefined;
  const wide = a.output === 'wide';
  const state = await runningState(a.name);
  const named = (n: string) => !a.names?.length || a.names.includes(n);
  const inNs = <T extends { metadata: { namespace: string; name: string } }>(xs: T[]) => xs.filter((x) => (a['all-namespaces'] || x.metadata.namespace === a.namespace) && named(x.metadata.name));
  if (['pods', 'pod', 'po'].includes(res)) {
    const pods = inNs(await loadPods(a.name));
    if (format) return void process.stdout.write(await asList(pods, format));
    if (pods.length === 0 && !a.watch) return void log(`No resources found in ${a.namespace} namespace.`);
    process.stdout.write(podsTable(pods, { wide, allNamespaces: a['all-namespaces'] }));
    if (a.watch) await watchPods(a, pods);
    return;
  }
  if (['nodes', 'node', 'no'].includes(res)) {
    const node = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: state.nodeName, labels: { 'kubernetes.io/hostname': state.nodeName }, annotations: { 'lab/netns': state.mode === 'sandbox' ? instancePaths(a.name).nodeNetns : '<host>', 'lab/mode': state.mode } },
      status: { addresses: [{ type: 'InternalIP', address: state.nodeIP }, { type: 'Hostname', address: state.nodeName }], conditions: [{ type: 'Ready', status: 'True' }] },
    };
    if (format) return void process.stdout.write(await asList([node], format));
    const header = ['NAME', 'STATUS', 'ROLES', 'AGE', ...(wide ? ['INTERNAL-IP', 'MODE', 'NETNS'] : [])];
    const row = [state.nodeName, 'Ready', 'control-plane,master', age(state.createdAt), ...(wide ? [state.nodeIP, state.mode, node.metadata.annotations['lab/netns']] : [])];
    return void process.stdout.write(table(header, [row]));
  }
  if (['deployments', 'deployment', 'deploy'].includes(res)) {
    const pods = await loadPods(a.name);
    const byDep = new Map<string, Pod[]>();
    for (const p of pods) {
      const d = p.metadata.annotations['lab/deployment'];
      if (d) byDep.set(`${p.metadata.namespace}/${d}`, [...(byDep.get(`${p.metadata.namespace}/${d}`) ?? []), p]);
    }
    const items = [...byDep].filter(([k]) => a['all-namespaces'] || k.startsWith(`${a.namespace}/`)).map(([k, ps]) => {
      const [namespace, name] = k.split('/') as [string, string];
      const ready = ps.filter((p) => p.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True')).length;
      return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace }, status: { replicas: ps.length, readyReplicas: ready, availableReplicas: ready, updatedReplicas: ps.length }, _created: ps.map((p) => p.metadata.creationTimestamp ?? '').sort()[0] };
    });
    if (format) return void process.stdout.write(await asList(items.map(({ _created, ...d }) => d), format));
    const header = [...(a['all-namespaces'] ? ['NAMESPACE'] : []), 'NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE'];
    return void process.stdout.write(
      table(header, items.map((d) => [...(a['all-namespaces'] ? [d.metadata.namespace] : []), d.metadata.name, `${d.status.readyReplicas}/${d.status.replicas}`, String(d.status.updatedReplicas), String(d.status.availableReplicas), age(d._created)])),
    );
  }
  if (['services', 'service', 'svc'].includes(res)) {
    const svcs = inNs(state.services ?? []);
    if (format) return void process.stdout.write(await asList(svcs, format));
    return void process.stdout.write(servicesTable(svcs, { wide, allNamespaces: a['all-namespaces'], nodeIP: state.nodeIP }));
  }
  if (['endpoints', 'endpoint', 'ep'].includes(res)) {
    const eps = inNs(state.endpoints ?? []);
    if (format) return void process.stdout.write(await asList(eps, format));
    return void process.stdout.write(endpointsTable(eps, { allNamespaces: a['all-namespaces'] }));
  }
  throw new Error(`unknown resource type ${JSON.stringify(a.resource)}: use pods, nodes, deployments, services or endpoints`);
}

