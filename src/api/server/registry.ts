// Generic REST semantics over the kine store, as kube-apiserver's generic registry Store
// (k8s.io/apiserver/pkg/registry/generic/registry/store.go) and rest.BeforeCreate/BeforeUpdate do
// them: create, get, list, update (optimistic concurrency, status subresource), delete (registry-
// delete.ts) and watch (registry-watch.ts). Calls are synchronous: the store is, and nothing else in
// the process can run between a read and the write that depends on it. Errors are StatusErrors.
import { randomInt, randomUUID } from 'node:crypto';
import { KeyExistsError, KeyNotFoundError, RevisionConflictError, type KineStore } from '../storage/kine.ts';
import { clone, decodeFromStorage, deepEqual, encodeForStorage, normalize, rfc3339, type KubeObject } from './object.ts';
import { deleteObject, type DeleteOptions, type DeleteResult } from './registry-delete.ts';
import { listObjects, parseResourceVersion, type KubeList, type ListOptions } from './registry-list.ts';
import { getScale, updateScale, type Scale } from './registry-scale.ts';
import { watchObjects, type WatchEvent, type WatchOptions, type WatchStream } from './registry-watch.ts';
import { apiVersionOf, hasSubresource, resourceFor, storageKey, storagePrefix, type ResourceInfo } from './resources.ts';
import * as errors from './status.ts';
import { fieldErrors, type FieldError, type GroupResource } from './status.ts';
import { admitPodCreate, podControllerWarnings } from './pod-security.ts';
import { ServiceAllocator, type ServiceRanges } from './service-alloc.ts';
import { generationChanged, podPrepareForCreate, STRATEGIES, type Strategy } from './strategies.ts';
import type { DefaultTolerationSeconds } from './defaults.ts';
import { validateObjectMeta, validateObjectMetaUpdate } from './validation.ts';

export interface RegistryOptions {
  /** The clock, in ms (tests fix it). */
  now?: () => number;
  /** Per-resource strategy overrides (tests add validation hooks). */
  strategies?: Record<string, Partial<Strategy>>;
  /** How often a watch with allowWatchBookmarks gets a BOOKMARK (kube's cacher: about a minute). */
  bookmarkIntervalMs?: number;
  /** The service CIDR and NodePort range Services are allocated from (k3s: 10.43.0.0/16, 30000-32767). */
  serviceRanges?: ServiceRanges;
  /** --default-not-ready-toleration-seconds and --default-unreachable-toleration-seconds (300 each by default). */
  defaultTolerationSeconds?: DefaultTolerationSeconds;
}

export interface UpdateOptions {
  /** `status` (only status changes) or `finalize` (a namespace's spec.finalizers only). */
  subresource?: 'status' | 'finalize';
}

// generateName: 5 characters of this alphabet (k8s.io/apimachinery/pkg/util/rand: no vowels, no
// digits 0, 1, 3 that read as letters), the base cut to 58 so the name fits 63.
const GENERATE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
const MAX_GENERATED_BASE = 58;
const MAX_GENERATE_NAME_ATTEMPTS = 8;
const IMMORTAL_NAMESPACES = new Set(['default', 'kube-system', 'kube-public']);

export function generateName(base: string): string {
  let suffix = '';
  for (let i = 0; i < 5; i++) suffix += GENERATE_ALPHABET[randomInt(GENERATE_ALPHABET.length)];
  return base.slice(0, MAX_GENERATED_BASE) + suffix;
}

export const groupResource = (r: ResourceInfo): GroupResource => ({ group: r.group, resource: r.plural });

export class Registry {
  readonly now: () => number;
  readonly bookmarkIntervalMs: number;
  readonly services: ServiceAllocator;
  private readonly overrides: Record<string, Partial<Strategy>>;

  constructor(
    readonly store: KineStore,
    opts: RegistryOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.overrides = opts.strategies ?? {};
    if (opts.defaultTolerationSeconds) {
      // The DefaultTolerationSeconds admission with the server's flags; folded into the overrides
      // so that withStore (dry run) admits the same way.
      this.overrides = { ...this.overrides, pods: { prepareForCreate: podPrepareForCreate(opts.defaultTolerationSeconds), ...this.overrides.pods } };
    }
    this.bookmarkIntervalMs = opts.bookmarkIntervalMs ?? 60_000;
    this.services = new ServiceAllocator(opts.serviceRanges);
  }

  /** The same registry over another store (dry-run.ts: one that writes nothing). */
  withStore(store: KineStore): Registry {
    return new Registry(store, { now: this.now, strategies: this.overrides, bookmarkIntervalMs: this.bookmarkIntervalMs, serviceRanges: this.services.ranges });
  }

  /** The resource of a group ('' for core) by plural name; 404 as kube answers an unknown path. */
  resource(group: string, plural: string): ResourceInfo {
    const r = resourceFor(group, plural);
    if (!r) throw errors.pathNotFound();
    return r;
  }

  strategy(r: ResourceInfo): Strategy {
    return { ...STRATEGIES[r.plural]!, ...this.overrides[r.plural] };
  }

  create(r: ResourceInfo, namespace: string | undefined, input: KubeObject): KubeObject {
    const gr = groupResource(r);
    const obj = this.prepareCreate(r, namespace, input);
    const generated = Boolean(obj.metadata.generateName) && !obj.metadata.name;
    for (let attempt = 1; ; attempt++) {
      const candidate = clone(obj);
      if (generated) candidate.metadata.name = generateName(candidate.metadata.generateName!);
      this.beginCreate(r, candidate);
      this.validateCreate(r, candidate);
      // Validating admission (PodSecurity) runs here, inside the store's create: it sees the generated name.
      if (r.namespaced) admitPodCreate(r, candidate, this.namespaceLabels(candidate.metadata.namespace!));
      const key = storageKey(r, candidate.metadata.namespace, candidate.metadata.name!);
      try {
        const rev = this.store.create(key, encodeForStorage(candidate), this.strategy(r).leaseSeconds ?? 0);
        candidate.metadata.resourceVersion = String(rev);
        return normalize(candidate);
      } catch (err) {
        if (!(err instanceof KeyExistsError)) throw err;
        const name = candidate.metadata.name!;
        if (candidate.metadata.generateName) {
          if (generated && attempt < MAX_GENERATE_NAME_ATTEMPTS) continue;
          throw errors.generateNameConflict(gr, name, 1);
        }
        const exists = errors.alreadyExists(gr, name);
        const current = this.store.get(key);
        if (current && decodeFromStorage(current.value, current.modRevision).metadata.deletionTimestamp) {
          throw new errors.StatusError({ ...exists.status, message: `object is being deleted: ${exists.status.message}` });
        }
        throw exists;
      }
    }
  }

  get(r: ResourceInfo, namespace: string | undefined, name: string, opts: { resourceVersion?: string } = {}): KubeObject {
    const min = parseResourceVersion(opts.resourceVersion);
    const kv = this.store.get(storageKey(r, namespace, name));
    const current = this.store.currentRevision();
    if (min !== undefined && min > current) throw errors.tooLargeResourceVersion(min, current);
    if (!kv) throw errors.notFound(groupResource(r), name);
    return decodeFromStorage(kv.value, kv.modRevision);
  }

  list(r: ResourceInfo, namespace: string | undefined, opts: ListOptions = {}): KubeList {
    return listObjects(this, r, namespace, opts);
  }

  /** PUT: replaces the object (or its status/finalizers) if metadata.resourceVersion is current. */
  update(r: ResourceInfo, namespace: string | undefined, name: string, input: KubeObject, opts: UpdateOptions = {}): KubeObject {
    const obj = clone(input);
    obj.metadata ??= {};
    if (obj.metadata.name && obj.metadata.name !== name) {
      throw errors.badRequest(`the name of the object (${obj.metadata.name}) does not match the name on the URL (${name})`);
    }
    obj.metadata.name = name;
    this.checkNamespace(r, namespace, obj);
    return this.guaranteedUpdate(r, namespace, name, () => obj, { ...opts, uidPrecondition: obj.metadata.uid });
  }

  /**
   * Reads the object, lets `apply` compute the new one, and writes it if nobody wrote in between,
   * else reads again and retries (storage's GuaranteedUpdate): the path patch.ts takes. A
   * resourceVersion that `apply` leaves in the object is a precondition (409 when stale); the
   * object it is given carries the current one, so a patch that does not touch it always applies.
   */
  guaranteedUpdate(
    r: ResourceInfo,
    namespace: string | undefined,
    name: string,
    apply: (current: KubeObject) => KubeObject,
    opts: UpdateOptions & { uidPrecondition?: string } = {},
  ): KubeObject {
    const gr = groupResource(r);
    const strategy = this.strategy(r);
    const key = storageKey(r, namespace, name);
    if (opts.subresource && !hasSubresource(r, opts.subresource)) throw errors.pathNotFound();
    for (;;) {
      const kv = this.store.get(key);
      if (!kv) {
        if (!strategy.allowCreateOnUpdate || opts.subresource) throw errors.notFound(gr, name);
        try {
          const created = apply({ metadata: { name, namespace } });
          delete created.metadata?.resourceVersion;
          return this.create(r, namespace, created);
        } catch (err) {
          if (err instanceof errors.StatusError && err.reason === 'AlreadyExists') continue;
          throw err;
        }
      }
      const existing = decodeFromStorage(kv.value, kv.modRevision);
      if (opts.uidPrecondition && opts.uidPrecondition !== existing.metadata.uid) {
        throw errors.conflict(gr, name, `Precondition failed: UID in precondition: ${opts.uidPrecondition}, UID in object meta: ${existing.metadata.uid ?? ''}`);
      }
      const requested = clone(apply(clone(existing)));
      const obj = this.beforeUpdate(r, requested, existing, opts.subresource);
      if (shouldDeleteDuringUpdate(obj, existing) && (strategy.deleteDuringUpdate?.(obj) ?? true)) {
        try {
          this.store.delete(key, kv.modRevision);
        } catch (err) {
          if (err instanceof RevisionConflictError || err instanceof KeyNotFoundError) continue;
          throw err;
        }
        return obj;
      }
      // A write that changes nothing is not a write: no new revision, no watch event (as kube).
      const { resourceVersion: _a, ...newMeta } = obj.metadata;
      const { resourceVersion: _b, ...oldMeta } = existing.metadata;
      if (deepEqual({ ...obj, metadata: newMeta }, { ...existing, metadata: oldMeta })) return existing;
      try {
        const rev = this.store.update(key, encodeForStorage(obj), kv.modRevision, strategy.leaseSeconds ?? kv.lease);
        obj.metadata.resourceVersion = String(rev);
        return normalize(obj);
      } catch (err) {
        // Another process wrote between our read and write: read again (GuaranteedUpdate's loop).
        if (err instanceof RevisionConflictError || err instanceof KeyNotFoundError) continue;
        throw err;
      }
    }
  }

  delete(r: ResourceInfo, namespace: string | undefined, name: string, opts: DeleteOptions = {}): DeleteResult {
    if (r.plural === 'namespaces' && IMMORTAL_NAMESPACES.has(name)) {
      throw errors.forbidden(groupResource(r), name, 'this namespace may not be deleted');
    }
    return deleteObject(this, r, namespace, name, opts);
  }

  watch(r: ResourceInfo, namespace: string | undefined, opts: WatchOptions = {}, onEvent?: (event: WatchEvent) => void): WatchStream {
    return watchObjects(this, r, namespace, opts, onEvent);
  }

  /** GET .../scale of a Deployment or ReplicaSet. */
  getScale(r: ResourceInfo, namespace: string | undefined, name: string): Scale {
    return getScale(this, r, namespace, name);
  }

  /** PUT .../scale: changes spec.replicas only. */
  updateScale(r: ResourceInfo, namespace: string | undefined, name: string, scale: Scale): Scale {
    return updateScale(this, r, namespace, name, scale);
  }

  /** Namespace of the object against the request's (rest.EnsureObjectNamespaceMatchesRequestNamespace). */
  private checkNamespace(r: ResourceInfo, namespace: string | undefined, obj: KubeObject): void {
    if (!r.namespaced) {
      delete obj.metadata.namespace;
      return;
    }
    if (!obj.metadata.namespace) obj.metadata.namespace = namespace;
    else if (namespace && obj.metadata.namespace !== namespace) {
      throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
  }

  private prepareCreate(r: ResourceInfo, namespace: string | undefined, input: KubeObject): KubeObject {
    const obj = clone(input);
    obj.metadata ??= {};
    this.checkNamespace(r, namespace, obj);
    if (obj.metadata.resourceVersion) throw errors.internalError('resourceVersion should not be set on objects to be created');
    if (r.namespaced && obj.metadata.namespace) this.admitNamespace(r, obj);
    obj.apiVersion = apiVersionOf(r);
    obj.kind = r.kind;
    const meta = obj.metadata;
    meta.uid = randomUUID();
    meta.creationTimestamp = rfc3339(this.now());
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    const strategy = this.strategy(r);
    if (strategy.generation) meta.generation = 1;
    else delete meta.generation;
    strategy.defaults?.(obj);
    strategy.prepareForCreate?.(obj);
    return obj;
  }

  /** A namespace's labels (the PodSecurity admission reads its pod-security.kubernetes.io/* levels). */
  namespaceLabels(ns: string): Record<string, string> {
    const kv = this.store.get(storageKey(resourceFor('', 'namespaces')!, undefined, ns));
    return (kv && decodeFromStorage(kv.value, kv.modRevision).metadata.labels) || {};
  }

  /**
   * The warnings kube-apiserver's admission adds to the response of a create or update of `obj`
   * (PodSecurity's `would violate PodSecurity ...` for a pod controller's template).
   */
  admissionWarnings(r: ResourceInfo, obj: KubeObject): string[] {
    return r.namespaced && obj.metadata.namespace ? podControllerWarnings(r, obj, this.namespaceLabels(obj.metadata.namespace)) : [];
  }

  /** The NamespaceLifecycle admission plugin: no new content in a missing or terminating namespace. */
  private admitNamespace(r: ResourceInfo, obj: KubeObject): void {
    const ns = obj.metadata.namespace!;
    const kv = this.store.get(storageKey(resourceFor('', 'namespaces')!, undefined, ns));
    if (!kv) throw errors.notFound({ group: '', resource: 'namespaces' }, ns);
    if (decodeFromStorage(kv.value, kv.modRevision).status?.phase === 'Terminating') {
      throw errors.forbidden(groupResource(r), obj.metadata.name ?? '', `unable to create new content in namespace ${ns} because it is being terminated`);
    }
  }

  /**
   * The generic store's BeginCreate/BeginUpdate hooks, before the strategy's own preparation and
   * validation: a Service's allocations (service-alloc.ts), from the Services stored now.
   */
  private beginCreate(r: ResourceInfo, obj: KubeObject): void {
    if (r.plural === 'services') this.services.allocateCreate(obj, this.storedObjects(r));
  }

  private beginUpdate(r: ResourceInfo, obj: KubeObject, existing: KubeObject): void {
    if (r.plural === 'services') this.services.allocateUpdate(obj, existing, this.storedObjects(r));
  }

  private storedObjects(r: ResourceInfo): KubeObject[] {
    return this.store.list(storagePrefix(r)).kvs.map((kv) => decodeFromStorage(kv.value, kv.modRevision));
  }

  private validateCreate(r: ResourceInfo, obj: KubeObject): void {
    const strategy = this.strategy(r);
    const errs: FieldError[] = [...validateObjectMeta(obj.metadata, r.namespaced, strategy.nameValidator), ...(strategy.validate?.(obj) ?? [])];
    if (errs.length) throw errors.invalid(r.group, r.kind, obj.metadata.name ?? '', errs);
  }

  /** The resourceVersion check and rest.BeforeUpdate: what an update keeps, what it may change. */
  private beforeUpdate(r: ResourceInfo, requested: KubeObject, existing: KubeObject, subresource: UpdateOptions['subresource']): KubeObject {
    const gr = groupResource(r);
    const strategy = this.strategy(r);
    const name = existing.metadata.name!;
    requested.metadata ??= {};
    let rv = requested.metadata.resourceVersion;
    if (!rv) {
      if (!strategy.allowUnconditionalUpdate) {
        // kube names the resource where the kind belongs here, and prints the uint64 zero as 0x0.
        const err = fieldErrors.invalid('metadata.resourceVersion', { goSyntax: '0x0' }, 'must be specified for an update');
        throw errors.invalid(gr.group, gr.resource, name, [err]);
      }
      rv = existing.metadata.resourceVersion;
    } else if (rv !== existing.metadata.resourceVersion) {
      throw errors.conflict(gr, name, errors.OPTIMISTIC_LOCK_MESSAGE);
    }
    let obj: KubeObject;
    if (subresource === 'status') {
      const defaulted = clone(requested);
      strategy.defaults?.(defaulted);
      obj = { ...clone(existing), status: defaulted.status };
      strategy.prepareForStatusUpdate?.(obj, defaulted);
    } else if (subresource === 'finalize') {
      obj = { ...clone(existing), spec: { ...existing.spec, finalizers: requested.spec?.finalizers ?? [] } };
    } else {
      obj = requested;
      obj.apiVersion = apiVersionOf(r);
      obj.kind = r.kind;
      if (hasSubresource(r, 'status')) {
        // Status belongs to the status subresource; through the main resource it is ignored.
        if (existing.status === undefined) delete obj.status;
        else obj.status = clone(existing.status);
      }
      const meta = obj.metadata;
      const old = existing.metadata;
      meta.generation = old.generation;
      meta.uid ||= old.uid;
      if (old.creationTimestamp) meta.creationTimestamp = old.creationTimestamp;
      if (old.deletionTimestamp) meta.deletionTimestamp = old.deletionTimestamp;
      if (old.deletionGracePeriodSeconds !== undefined && meta.deletionGracePeriodSeconds === undefined) meta.deletionGracePeriodSeconds = old.deletionGracePeriodSeconds;
      strategy.defaults?.(obj);
      this.beginUpdate(r, obj, existing);
      strategy.prepareForUpdate?.(obj, existing);
      if (strategy.generation && generationChanged(strategy.generation, obj, existing)) meta.generation = (old.generation ?? 0) + 1;
    }
    obj.metadata.resourceVersion = rv;
    const errs = [
      ...validateObjectMeta(obj.metadata, r.namespaced, strategy.nameValidator),
      ...validateObjectMetaUpdate(obj.metadata, existing.metadata),
      // The status subresource keeps the spec as stored: its strategy validates no spec.
      ...(subresource === 'status' ? [] : (strategy.validate?.(obj, existing) ?? [])),
    ];
    if (errs.length) throw errors.invalid(r.group, r.kind, name, errs);
    return normalize(obj);
  }
}

/** An update that removes the last finalizer of an object being deleted with no grace left deletes it. */
function shouldDeleteDuringUpdate(obj: KubeObject, existing: KubeObject): boolean {
  if ((obj.metadata.finalizers ?? []).length > 0) return false;
  if (!existing.metadata.deletionTimestamp) return false;
  return !existing.metadata.deletionGracePeriodSeconds;
}
