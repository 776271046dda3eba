// `lab get <resource>`: the API's objects as kubectl shows them (Tables from the API server's
// printers): over HTTPS while the instance's server runs, from its store otherwise (api-get.ts).
import { InstanceNotRunningError } from '../../api/errors.ts';
import { instancePaths } from '../../node/instance.ts';
import { apiGet, hasApiStore } from '../api-get.ts';
import { log, type Common } from '../common.ts';

export type Args = Common & { resource: string; names?: string[]; output?: string; selector?: string; 'all-namespaces': boolean; namespace: string; watch?: boolean };

export async function getHandler(a: Args): Promise<void> {
  const paths = instancePaths(a.name);
  if (!hasApiStore(paths)) throw new InstanceNotRunningError(a.name, paths.stateDir);
  const req = { resource: a.resource, names: a.names ?? [], namespace: a.namespace, allNamespaces: a['all-namespaces'], labelSelector: a.selector, output: a.output };
  if (a.watch) {
    if (a.output && a.output !== 'wide') throw new Error('lab get -w prints tables (-o wide at most): use kubectl get -w -o ... (kubeconfig: lab kubeconfig)');
    const { apiWatch } = await import('../api-watch.ts');
    return apiWatch(a.name, paths, req, (t) => process.stdout.write(t));
  }
  const text = await apiGet(a.name, paths, req);
  if (text === '' && a.output !== 'json' && a.output !== 'yaml') log(a['all-namespaces'] ? 'No resources found' : `No resources found in ${a.namespace} namespace.`);
  process.stdout.write(text);
}
