// kube-controller-manager's ControllerRefManager (pkg/controller/controller_ref_manager.go): which
// objects a controller owns. An object belongs to the owner its controller reference names (by
// uid), whatever its labels; an orphan (no controller reference) that the owner's selector matches
// is adopted; an owned object that stops matching is released. This is how a Deployment finds its
// ReplicaSets and a ReplicaSet its pods after a restart, and how `kubectl label pod x app-` takes
// a pod out of its ReplicaSet (which then makes a new one).
import type { Client, KubeObject, ResourceRef } from '../client/types.ts';
import { controllerOf, isStatusError, type OwnerReference } from './workloads.ts';

export interface Claim<T> {
  /** Owned and matching: the controller's. */
  claimed: T[];
  /** Orphans to adopt: the controller's once the adoption is written. */
  adopt: T[];
  /** Owned but no longer matching: to release. */
  release: T[];
}

/** ClaimObject for each object (pure). */
export function claim<T extends KubeObject>(owner: KubeObject, matches: (o: T) => boolean, objects: T[]): Claim<T> {
  const out: Claim<T> = { claimed: [], adopt: [], release: [] };
  const ownerGone = Boolean(owner.metadata.deletionTimestamp);
  for (const o of objects) {
    const ref = controllerOf(o);
    if (ref) {
      if (ref.uid !== owner.metadata.uid) continue; // someone else's
      if (matches(o)) out.claimed.push(o);
      else if (!ownerGone) out.release.push(o);
      continue;
    }
    // An orphan: adopted only by a live owner, if it matches and is not itself being deleted.
    if (ownerGone || !matches(o) || o.metadata.deletionTimestamp || o.metadata.namespace !== owner.metadata.namespace) continue;
    out.adopt.push(o);
  }
  return out;
}

/**
 * Writes the adoptions and releases (kube patches ownerReferences with the object's uid as a
 * precondition) and returns what the controller owns: the claimed objects and those it adopted.
 * Before adopting, `canAdopt` checks the owner afresh (RecheckDeletionTimestamp: a quorum read, so
 * an owner deleted a moment ago adopts nothing).
 */
export async function applyClaim<T extends KubeObject>(client: Client, ref: ResourceRef, ownerRef: OwnerReference, c: Claim<T>, canAdopt: () => Promise<void>): Promise<T[]> {
  const owned = [...c.claimed];
  const errors: unknown[] = [];
  if (c.adopt.length) await canAdopt();
  for (const o of c.adopt) {
    try {
      owned.push(
        await client.mutate<T>(ref, o.metadata.namespace, o.metadata.name, (cur) => {
          if (cur.metadata.uid !== o.metadata.uid) throw Object.assign(new Error('gone'), { status: { code: 404 } });
          // Someone else took it meanwhile: the API would refuse a second controller reference.
          if (controllerOf(cur)) throw Object.assign(new Error(`${o.metadata.name} has a controller already`), { status: { code: 409 } });
          return { ...cur, metadata: { ...cur.metadata, ownerReferences: [...(cur.metadata.ownerReferences ?? []), ownerRef] } };
        }),
      );
    } catch (e) {
      // Gone, or taken by another controller meanwhile: not ours; anything else is retried.
      if (!isStatusError(e, 404) && !isStatusError(e, 409)) errors.push(e);
    }
  }
  for (const o of c.release) {
    try {
      await client.mutate<T>(ref, o.metadata.namespace, o.metadata.name, (cur) => {
        if (cur.metadata.uid !== o.metadata.uid) throw Object.assign(new Error('gone'), { status: { code: 404 } });
        const refs = (cur.metadata.ownerReferences ?? []).filter((r) => r.uid !== ownerRef.uid);
        return { ...cur, metadata: { ...cur.metadata, ownerReferences: refs.length ? refs : undefined } };
      });
    } catch (e) {
      // kube ignores NotFound and Invalid (the object is being deleted, or already released).
      if (!isStatusError(e, 404) && !isStatusError(e, 422)) errors.push(e);
    }
  }
  if (errors.length) throw errors[0];
  return owned;
}
