// `lab get -w` for an instance run by its server: kubectl get -w. The current objects first, with
// the header, then one row per watch event (ADDED, MODIFIED, DELETED) as the API server sends it,
// from the list's resourceVersion on, so nothing is missed or repeated. Rows come from the API
// server's Table printers, as `lab get` prints them. A watch needs the server: the store file
// alone has nobody to send events.
import type { KubeList } from '../api/server/registry-list.ts';
import { toTable } from '../api/server/tables.ts';
import type { KubeObject } from '../client/types.ts';
import type { InstancePaths } from '../node/instance.ts';
import { printTable, resourcesNamed, type GetRequest } from './api-get.ts';
import { serverClient } from './api-client.ts';

/** Watches until the server ends the watch (or the process is stopped); `write` gets each piece of output. */
export async function apiWatch(instance: string, paths: InstancePaths, req: GetRequest, write: (text: string) => void): Promise<void> {
  const infos = req.resource.split(',').flatMap(resourcesNamed);
  if (infos.length !== 1) throw new Error(`watch is only supported on individual resources and resource collections, but ${infos.length} resources were found`);
  const info = infos[0]!;
  const client = await serverClient(instance, paths);
  if (!client) throw new Error(`lab get -w needs the instance's server running (the API server sends the events); start it with 'lab up --name ${instance}'`);
  try {
    const ref = { group: info.group, resource: info.plural };
    const namespace = info.namespaced && !req.allNamespaces ? req.namespace : undefined;
    // One name: kubectl watches with the field selector metadata.name=<name>.
    const sel = { namespace, labelSelector: req.labelSelector, fieldSelector: req.names.length === 1 ? `metadata.name=${req.names[0]}` : undefined };
    const wanted = (o: KubeObject) => req.names.length === 0 || req.names.includes(o.metadata.name);
    const lw = client.listWatch<KubeObject>(ref, sel);
    const first = await lw.list();
    const items = first.items.filter(wanted);
    const wide = req.output === 'wide';
    const namespaceColumn = (xs: KubeObject[]) => (req.allNamespaces && info.namespaced ? xs.map((o) => o.metadata.namespace ?? '') : undefined);
    const table = (xs: KubeObject[]) => toTable(`${info.group}/${info.plural}`, xs as unknown as KubeList['items'], { includeObject: 'None' });
    // The header and the current objects; each event's row is laid out against the header.
    write(printTable(table(items), { wide, namespaceColumn: namespaceColumn(items), headers: true }));
    await new Promise<void>((resolve, reject) => {
      lw.watch(
        { resourceVersion: first.resourceVersion },
        (e) => {
          if (e.type === 'ERROR') return reject(new Error(`watch: ${(e.object as unknown as { message?: string }).message ?? 'error'}`));
          if (e.type === 'BOOKMARK' || !wanted(e.object)) return;
          const lines = printTable(table([e.object]), { wide, namespaceColumn: namespaceColumn([e.object]), headers: true }).split('\n');
          write(`${lines.slice(1).join('\n')}`);
        },
        () => resolve(),
      );
    });
  } finally {
    client.close();
  }
}
