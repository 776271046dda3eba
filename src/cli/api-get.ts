// `lab get` for an instance run by its server (`lab server`, issue 13): a client of the API. With
// the server running it asks the API over HTTPS, as kubectl does; with none running it reads the
// kine store file itself (as `sqlite3 state.db` would), through the same registry code. Either way
// the rows come from the API server's own Table printers (src/api/server/tables.ts), so the
// columns are those `kubectl get` prints.
import { existsSync } from 'node:fs';
import type { KubeList } from '../api/server/registry-list.ts';
import { openStoreReader } from '../api/server/store-reader.ts';
import { resolveResourceName, RESOURCES, type ResourceInfo } from '../api/server/resources.ts';
import { toTable, type Table } from '../api/server/tables.ts';
import type { InstancePaths } from '../node/instance.ts';
import { serverClient } from './api-client.ts';

/** True when the instance is run the API's way (it has a store). */
export function hasApiStore(paths: InstancePaths): boolean {
  return existsSync(paths.storeFile);
}

export interface GetRequest {
  resource: string;
  names: string[];
  namespace: string;
  allNamespaces: boolean;
  labelSelector?: string;
  output?: string;
}

/** The resources a name means: `po`, `pods`, `deploy`, `deployments.apps`, or the category `all`. */
export function resourcesNamed(name: string): ResourceInfo[] {
  const byCategory = RESOURCES.filter((r) => r.categories.includes(name));
  if (byCategory.length) return byCategory;
  const found = resolveResourceName(name);
  if (found.length === 0) throw new Error(`the server doesn't have a resource type "${name}"`);
  return found.slice(0, 1);
}

type Lister = (r: ResourceInfo, namespace: string | undefined, labelSelector?: string) => Promise<KubeList>;

/** Over HTTPS when the server holds the instance; else straight from the store file. */
async function lister(instance: string, paths: InstancePaths): Promise<{ list: Lister; close(): void }> {
  const client = await serverClient(instance, paths);
  if (client) {
    return {
      list: async (r, namespace, labelSelector) => {
        const l = await client.list({ group: r.group, resource: r.plural }, { namespace, labelSelector });
        return { apiVersion: 'v1', kind: `${r.kind}List`, metadata: { resourceVersion: l.resourceVersion }, items: l.items } as unknown as KubeList;
      },
      close: () => client.close(),
    };
  }
  const reader = openStoreReader(paths.storeFile);
  return { list: async (r, namespace, labelSelector) => reader.list(r, namespace, labelSelector), close: () => reader.close() };
}

/** kubectl's human-readable printer: upper-case headers, columns three spaces apart; wide shows every column. */
export function printTable(t: Table, opts: { wide: boolean; namespaceColumn?: string[]; kindPrefix?: string; headers: boolean }): string {
  const shown = t.columnDefinitions.map((c, i) => ({ c, i })).filter(({ c }) => opts.wide || c.priority === 0);
  const header = [...(opts.namespaceColumn ? ['NAMESPACE'] : []), ...shown.map(({ c }) => c.name.toUpperCase())];
  const rows = (t.rows ?? []).map((row, r) => [
    ...(opts.namespaceColumn ? [opts.namespaceColumn[r] ?? ''] : []),
    ...shown.map(({ c, i }) => {
      const cell = row.cells[i];
      const text = cell === undefined || cell === null ? '<none>' : String(cell);
      return c.format === 'name' && opts.kindPrefix ? `${opts.kindPrefix}/${text}` : text;
    }),
  ]);
  const all = opts.headers ? [header, ...rows] : rows;
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]! + 3))).join('').trimEnd()).join('\n') + (all.length ? '\n' : '');
}

/** `lab get` over the API: the text to print. */
export async function apiGet(instance: string, paths: InstancePaths, req: GetRequest): Promise<string> {
  const infos = req.resource.split(',').flatMap(resourcesNamed);
  const { list, close } = await lister(instance, paths);
  try {
    const out: string[] = [];
    const lists: { info: ResourceInfo; items: KubeList['items'] }[] = [];
    for (const info of infos) {
      const ns = info.namespaced && !req.allNamespaces ? req.namespace : undefined;
      const l = await list(info, ns, req.labelSelector);
      const items = l.items.filter((o) => req.names.length === 0 || req.names.includes(o.metadata.name ?? ''));
      for (const n of req.names) if (!items.some((o) => o.metadata.name === n)) throw new Error(`Error from server (NotFound): ${info.plural}${info.group ? `.${info.group}` : ''} "${n}" not found`);
      lists.push({ info, items });
    }
    if (req.output === 'json' || req.output === 'yaml') {
      const items = lists.flatMap((l) => l.items);
      const doc = req.names.length === 1 && items.length === 1 ? items[0] : { apiVersion: 'v1', kind: 'List', items, metadata: { resourceVersion: '' } };
      return req.output === 'json' ? `${JSON.stringify(doc, null, 4)}\n` : (await import('yaml')).stringify(doc);
    }
    if (req.output === 'name') return lists.flatMap(({ info, items }) => items.map((o) => `${info.kind.toLowerCase()}${info.group ? `.${info.group}` : ''}/${o.metadata.name}\n`)).join('');
    const several = infos.length > 1;
    for (const { info, items } of lists) {
      if (items.length === 0) continue;
      const table = toTable(`${info.group}/${info.plural}`, items, { includeObject: 'None' });
      const kindPrefix = several ? `${info.kind.toLowerCase()}${info.group ? `.${info.group}` : ''}` : undefined;
      const namespaceColumn = req.allNamespaces && info.namespaced ? items.map((o) => o.metadata.namespace ?? '') : undefined;
      out.push(printTable(table, { wide: req.output === 'wide', namespaceColumn, kindPrefix, headers: true }));
    }
    if (out.length === 0) return '';
    return out.join('\n');
  } finally {
    close();
  }
}
