// The in-process client: roles that run inside the API server's process (controller-manager,
// scheduler, the server node's kubelet and kube-proxy, as in `k3s server`) reach the registry
// directly instead of over HTTPS, through the same verbs and the same list + watch semantics, so
// a role cannot tell the two apart. (Calls are synchronous underneath; the async signatures are
// the HTTPS client's, so that a role works with either.)
import { bindPod } from '../api/server/binding.ts';
import type { Registry } from '../api/server/registry.ts';
import type { DeleteOptions } from '../api/server/registry-delete.ts';
import type { ListOptions } from '../api/server/registry-list.ts';
import type { ResourceInfo } from '../api/server/resources.ts';
import type { KubeObject as StoredObject } from '../api/server/object.ts';
import type { Client, KubeObject, ListResult, ListWatch, ResourceRef, Selectors, WatchEvent, WatchOptions } from './types.ts';

export type { ResourceRef, Selectors } from './types.ts';

export interface LocalClientOptions {
  /**
   * client-go's rest.Config WarningHandler: each warning the API server's answer carries (its
   * Warning header over HTTPS), e.g. PodSecurity's `would violate PodSecurity ...`. None: ignored.
   */
  warningHandler?: (text: string) => void;
}

export class LocalClient implements Client {
  constructor(
    readonly registry: Registry,
    private readonly opts: LocalClientOptions = {},
  ) {}

  private info(ref: ResourceRef): ResourceInfo {
    return this.registry.resource(ref.group, ref.resource);
  }

  /** The admission's warnings on a write of `obj` (not of a subresource), to the warning handler. */
  private warn<T extends KubeObject>(info: ResourceInfo, obj: T, subresource?: string): T {
    if (this.opts.warningHandler && !subresource) for (const w of this.registry.admissionWarnings(info, obj as unknown as StoredObject)) this.opts.warningHandler(w);
    return obj;
  }

  async get<T extends KubeObject>(ref: ResourceRef, namespace: string | undefined, name: string): Promise<T> {
    return this.registry.get(this.info(ref), namespace, name) as unknown as T;
  }

  async list<T extends KubeObject>(ref: ResourceRef, sel: Selectors & Pick<ListOptions, 'limit' | 'continue' | 'resourceVersion'> = {}): Promise<ListResult<T>> {
    const { namespace, ...opts } = sel;
    const list = this.registry.list(this.info(ref), namespace, opts);
    return { items: list.items as unknown as T[], resourceVersion: list.metadata.resourceVersion };
  }

  async create<T extends KubeObject>(ref: ResourceRef, obj: T): Promise<T> {
    const info = this.info(ref);
    return this.warn(info, this.registry.create(info, obj.metadata.namespace, obj as unknown as StoredObject) as unknown as T);
  }

  /** PUT; `subresource: 'status'` writes only the status (the kubelet's and controllers' way). */
  async update<T extends KubeObject>(ref: ResourceRef, obj: T, opts: { subresource?: 'status' } = {}): Promise<T> {
    const info = this.info(ref);
    return this.warn(info, this.registry.update(info, obj.metadata.namespace, obj.metadata.name, obj as unknown as StoredObject, opts) as unknown as T, opts.subresource);
  }

  /** Read, change, write; read again and retry when someone else wrote in between. */
  async mutate<T extends KubeObject>(ref: ResourceRef, namespace: string | undefined, name: string, change: (current: T) => T, opts: { subresource?: 'status' } = {}): Promise<T> {
    const info = this.info(ref);
    return this.warn(info, this.registry.guaranteedUpdate(info, namespace, name, (cur) => change(cur as unknown as T) as unknown as StoredObject, opts) as unknown as T, opts.subresource);
  }

  async delete(ref: ResourceRef, namespace: string | undefined, name: string, opts: DeleteOptions = {}): Promise<void> {
    this.registry.delete(this.info(ref), namespace, name, opts);
  }

  async bind(namespace: string, pod: string, node: string): Promise<void> {
    bindPod(this.registry, this.registry.resource('', 'pods'), namespace, pod, { metadata: { name: pod, namespace }, target: { kind: 'Node', name: node } }, false);
  }

  /** What an informer lists and watches: this resource, maybe narrowed by namespace and selectors. */
  listWatch<T extends KubeObject>(ref: ResourceRef, sel: Selectors = {}): ListWatch<T> {
    const info = this.info(ref);
    const { namespace, ...selectors } = sel;
    return {
      list: async () => {
        const list = this.registry.list(info, namespace, selectors);
        return { items: list.items as unknown as T[], resourceVersion: list.metadata.resourceVersion };
      },
      watch: (opts: WatchOptions, onEvent: (e: WatchEvent<T>) => void, onClose: (err?: Error) => void) => {
        let cancelled = false;
        const stream = this.registry.watch(info, namespace, { ...selectors, ...opts }, (e) => onEvent(e as unknown as WatchEvent<T>));
        // A watch ends on its own only when a callback threw (the stream records why).
        // (An ERROR event, 410 Gone, ends it too: the informer lists again and ignores the close.)
        const stopStore = stream.onStop;
        const closed = () => {
          if (!cancelled) onClose(stream.error instanceof Error ? stream.error : new Error(`watch of ${info.plural} ended`));
        };
        if (stream.stopped) closed();
        stream.onStop = () => {
          stopStore?.();
          closed();
        };
        return () => {
          cancelled = true;
          stream.stop();
        };
      },
    };
  }
}
