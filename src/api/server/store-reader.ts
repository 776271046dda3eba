// Reading an instance's kine store file while no server runs (or beside one: SQLite's WAL lets a
// reader in), through the registry's own list code, as `sqlite3 state.db` would see it: `lab get`
// (cli/api-get.ts) and the learner's tools (trace/api-view.ts). Read-only.
import { Registry } from './registry.ts';
import { listObjects, type KubeList } from './registry-list.ts';
import type { ResourceInfo } from './resources.ts';
import { KineStore } from '../storage/kine.ts';

export interface StoreReader {
  list(r: ResourceInfo, namespace?: string, labelSelector?: string): KubeList;
  close(): void;
}

export function openStoreReader(file: string): StoreReader {
  const store = new KineStore(file);
  const registry = new Registry(store);
  return { list: (r, namespace, labelSelector) => listObjects(registry, r, namespace, { labelSelector }), close: () => store.close() };
}
