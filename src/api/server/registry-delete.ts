// DELETE as kube-apiserver's generic Store.Delete and rest.BeforeDelete do it: preconditions,
// graceful deletion (pods: deletionTimestamp and deletionGracePeriodSeconds set, the object stays
// until a delete with grace 0, which the kubelet sends once the containers are gone), finalizers
// (the object gets a deletionTimestamp and stays until an update removes the last finalizer), and
// the namespace's own lifecycle (Terminating until the namespace controller has emptied it).
//
// propagationPolicy is recorded as kube records it, for a garbage collector that comes later:
// kube's garbage collector (pkg/controller/garbagecollector) builds a graph of ownerReferences
// from informers on every resource. When an owner is deleted:
//   - Background (the default for most kinds): the owner goes at once; the collector then deletes
//     every dependent whose ownerReferences point only at owners that no longer exist (by uid).
//   - Foreground: the owner gets the `foregroundDeletion` finalizer and a deletionTimestamp; the
//     collector deletes its dependents first (waiting for those with blockOwnerDeletion: true to be
//     gone), then removes the finalizer, and the owner goes.
//   - Orphan: the owner gets the `orphan` finalizer; the collector removes the owner's entry from
//     each dependent's ownerReferences, then removes the finalizer, and the owner goes.
// Without a collector those two finalizers stay, and so does the object, as in a cluster whose
// controller-manager is down.
import { KeyNotFoundError, RevisionConflictError } from '../storage/kine.ts';
import { clone, decodeFromStorage, deepEqual, encodeForStorage, normalize, rfc3339, type KubeObject } from './object.ts';
import { groupResource, type Registry } from './registry.ts';
import { storageKey, type ResourceInfo } from './resources.ts';
import * as errors from './status.ts';
import { fieldErrors, type FieldError, type Status } from './status.ts';

export interface DeleteOptions {
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  propagationPolicy?: 'Orphan' | 'Background' | 'Foreground';
  /** Deprecated form of propagationPolicy: true is Orphan, false Background. */
  orphanDependents?: boolean;
}

export interface DeleteResult {
  /** The object as it stays (being deleted), or as it was when it went: a Status unless the kind returns the object. */
  object: KubeObject | Status;
  /** True when the object is gone from the store. */
  deleted: boolean;
}

const ORPHAN = 'orphan';
const FOREGROUND = 'foregroundDeletion';

function validateDeleteOptions(o: DeleteOptions): void {
  const errs: FieldError[] = [];
  if (o.orphanDependents !== undefined && o.propagationPolicy !== undefined) {
    errs.push(fieldErrors.invalid('propagationPolicy', o.propagationPolicy, 'orphanDependents and deletionPropagation cannot be both set'));
  }
  if (o.propagationPolicy !== undefined && !['Orphan', 'Background', 'Foreground'].includes(o.propagationPolicy)) {
    errs.push(fieldErrors.notSupported('propagationPolicy', o.propagationPolicy, ['Foreground', 'Background', 'Orphan', 'nil']));
  }
  if (errs.length) throw errors.invalid('meta.k8s.io', 'DeleteOptions', '', errs);
}

/** The GC finalizers a delete asks for (deletionFinalizersForGarbageCollection). */
function gcFinalizers(current: string[], o: DeleteOptions): { changed: boolean; finalizers: string[] } {
  const pick = (orphan: boolean, foreground: boolean): boolean | undefined => {
    if (o.orphanDependents !== undefined) return orphan ? o.orphanDependents : false;
    if (o.propagationPolicy) return o.propagationPolicy === (orphan ? 'Orphan' : 'Foreground');
    if (current.includes(ORPHAN)) return orphan;
    if (current.includes(FOREGROUND)) return foreground;
    return false;
  };
  const finalizers = current.filter((f) => f !== ORPHAN && f !== FOREGROUND);
  if (pick(true, false)) finalizers.push(ORPHAN);
  if (pick(false, true)) finalizers.push(FOREGROUND);
  const same = new Set(current).size === new Set(finalizers).size && finalizers.every((f) => current.includes(f));
  return same ? { changed: false, finalizers: current } : { changed: true, finalizers };
}

export function deleteObject(registry: Registry, r: ResourceInfo, namespace: string | undefined, name: string, opts: DeleteOptions): DeleteResult {
  validateDeleteOptions(opts);
  for (;;) {
    try {
      return attempt(registry, r, namespace, name, opts);
    } catch (err) {
      // Another process wrote between our read and our write: start again from what is stored.
      if (err instanceof RevisionConflictError || err instanceof KeyNotFoundError) continue;
      throw err;
    }
  }
}

function attempt(registry: Registry, r: ResourceInfo, namespace: string | undefined, name: string, opts: DeleteOptions): DeleteResult {
  const gr = groupResource(r);
  const strategy = registry.strategy(r);
  const key = storageKey(r, namespace, name);
  const kv = registry.store.get(key);
  if (!kv) throw errors.notFound(gr, name);
  const existing = decodeFromStorage(kv.value, kv.modRevision);
  const meta = existing.metadata;
  const now = registry.now();
  const finish = (obj: KubeObject, deleted: boolean): DeleteResult => ({
    object: deleted && !strategy.returnDeletedObject ? successStatus(r, obj) : obj,
    deleted,
  });
  const write = (obj: KubeObject): KubeObject => {
    if (deepEqual(obj, existing)) return existing;
    const rev = registry.store.update(key, encodeForStorage(obj), kv.modRevision, kv.lease);
    return normalize({ ...obj, metadata: { ...obj.metadata, resourceVersion: String(rev) } });
  };

  if (r.plural === 'namespaces') {
    // The namespace's own Delete: the first one only starts termination.
    const uid = opts.preconditions?.uid;
    if (uid !== undefined && uid !== meta.uid) {
      throw errors.conflict(gr, name, `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${meta.uid ?? ''}`);
    }
    if (!meta.deletionTimestamp) {
      const obj = clone(existing);
      obj.metadata.deletionTimestamp = rfc3339(now);
      obj.status = { ...obj.status, phase: 'Terminating' };
      const gc = gcFinalizers(obj.metadata.finalizers ?? [], opts);
      if (gc.changed) obj.metadata.finalizers = gc.finalizers;
      return finish(write(obj), false);
    }
    if (((existing.spec?.finalizers ?? []) as string[]).length > 0) {
      throw errors.conflict(gr, name, 'The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system.');
    }
  }

  // rest.BeforeDelete: preconditions fail early, as a conflict named by kind (kube's own quirk).
  const byKind = { group: r.group, resource: r.kind };
  const pre = opts.preconditions ?? {};
  if (pre.uid !== undefined && pre.uid !== meta.uid) {
    throw errors.conflict(byKind, name, `the UID in the precondition (${pre.uid}) does not match the UID in record (${meta.uid ?? ''}). The object might have been deleted and then recreated`);
  }
  if (pre.resourceVersion !== undefined && pre.resourceVersion !== meta.resourceVersion) {
    throw errors.conflict(byKind, name, `the ResourceVersion in the precondition (${pre.resourceVersion}) does not match the ResourceVersion in record (${meta.resourceVersion}). The object might have been modified`);
  }
  let grace = opts.gracePeriodSeconds !== undefined && opts.gracePeriodSeconds < 0 ? 1 : opts.gracePeriodSeconds;
  const obj = clone(existing);
  let graceful = false;
  if (strategy.gracePeriod) {
    const current = obj.metadata.deletionGracePeriodSeconds;
    if (obj.metadata.deletionTimestamp) {
      // Already being deleted: a delete may only shorten the grace period.
      if (current) {
        if (grace === undefined || grace >= current) return finish(existing, false);
        obj.metadata.deletionTimestamp = rfc3339(Date.parse(obj.metadata.deletionTimestamp) - current * 1000 + grace * 1000);
        obj.metadata.deletionGracePeriodSeconds = grace;
        graceful = true;
      }
    } else {
      grace = strategy.gracePeriod(obj, grace);
      obj.metadata.deletionTimestamp = rfc3339(now + grace * 1000);
      obj.metadata.deletionGracePeriodSeconds = grace;
      if ((obj.metadata.generation ?? 0) > 0) obj.metadata.generation! += 1;
      graceful = true;
    }
  }

  let last = existing;
  const gc = gcFinalizers(obj.metadata.finalizers ?? [], opts);
  if (graceful || (meta.finalizers ?? []).length > 0 || gc.changed) {
    if (gc.changed) obj.metadata.finalizers = gc.finalizers;
    const pending = (obj.metadata.finalizers ?? []).length > 0;
    if (graceful || pending) {
      if (!graceful) markAsDeleting(obj, now);
      last = write(obj);
      if (pending || (grace ?? 0) > 0) return finish(last, false);
    }
  }
  registry.store.delete(key, Number(last.metadata.resourceVersion));
  return finish(last, true);
}

/** Finalizers pending on a kind without graceful deletion: deleting now, with no grace left. */
function markAsDeleting(obj: KubeObject, now: number): void {
  const meta = obj.metadata;
  if (!meta.deletionTimestamp && (meta.generation ?? 0) > 0) meta.generation! += 1;
  if (!meta.deletionTimestamp || Date.parse(meta.deletionTimestamp) > now) meta.deletionTimestamp = rfc3339(now);
  meta.deletionGracePeriodSeconds = 0;
}

/** What DELETE answers when the object is gone and its kind does not return it. */
function successStatus(r: ResourceInfo, obj: KubeObject): Status {
  const details: errors.StatusDetails = { name: obj.metadata.name, ...(r.group ? { group: r.group } : {}), kind: r.plural, uid: obj.metadata.uid };
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details };
}
