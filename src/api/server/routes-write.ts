// The writing verbs of the resource routes, as kube-apiserver's handlers (create.go, update.go,
// patch.go, delete.go) run them: options, body decoding (request-options.ts), dryRun=All through a
// registry over a store that writes nothing (dry-run.ts), then the registry, and the status codes
// kube answers with (201 for a create and for an update that created, 200 otherwise; a DELETE
// answers the object while it is still there being deleted, else a Success Status for most kinds).
import type { ApiRequest, ApiResult } from './http.ts';
import { bindPod, type Binding } from './binding.ts';
import { evictPod, type Eviction } from './eviction.ts';
import { DryRunStore } from './dry-run.ts';
import type { KubeObject } from './object.ts';
import type { Registry } from './registry.ts';
import type { Scale } from './registry-scale.ts';
import { checkPatched, decodeBody, deleteOptions, listOptions, warningHeader, writeOptions } from './request-options.ts';
import { apiVersionOf, storageKey, type ResourceInfo } from './resources.ts';
import type { Target } from './routes.ts';
import * as errors from './status.ts';

/** patch.ts: the object after applying a patch body of `contentType` to `original` (a copy it may change). */
/** patch.ts's applyPatch: the kind's group picks the strategic merge schema. */
export type ApplyPatch = (kind: { group: string; kind: string }, original: KubeObject, body: Buffer, contentType: string) => KubeObject;

export interface WriteDeps {
  registry: Registry;
  applyPatch?: ApplyPatch;
  /** Answers an object (or Status) in the form the request's Accept header asks for. */
  present(req: ApiRequest, r: ResourceInfo, obj: KubeObject | errors.Status, status: number, headers?: Record<string, string>): ApiResult;
}

/** The patch types kube-apiserver takes for built-in resources, in its order. */
export const PATCH_TYPES = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml'];

const forDryRun = (registry: Registry, dryRun: boolean) => (dryRun ? registry.withStore(new DryRunStore(registry.store).asKineStore()) : registry);

const exists = (registry: Registry, t: Target) => registry.store.get(storageKey(t.r, t.namespace, t.name!)) !== undefined;

export function createObject(deps: WriteDeps, req: ApiRequest, t: Target): ApiResult {
  const options = writeOptions(req.query, 'CreateOptions');
  const { object, warnings } = decodeBody(req, t.r.kind, apiVersionOf(t.r), options.fieldValidation);
  const created = forDryRun(deps.registry, options.dryRun).create(t.r, t.namespace, object);
  if (options.dryRun) delete created.metadata.resourceVersion;
  return deps.present(req, t.r, created, 201, warningHeader([...warnings, ...deps.registry.admissionWarnings(t.r, created)]));
}

/** PUT of the object, or of its status, scale or (namespaces) finalize subresource. */
export function updateObject(deps: WriteDeps, req: ApiRequest, t: Target): ApiResult {
  const options = writeOptions(req.query, 'UpdateOptions');
  const registry = forDryRun(deps.registry, options.dryRun);
  if (t.subresource === 'scale') {
    const { object, warnings } = decodeBody(req, 'Scale', 'autoscaling/v1', options.fieldValidation);
    return { status: 200, body: registry.updateScale(t.r, t.namespace, t.name!, object as unknown as Scale), headers: warningHeader(warnings) };
  }
  const { object, warnings } = decodeBody(req, t.r.kind, apiVersionOf(t.r), options.fieldValidation);
  const existed = exists(deps.registry, t);
  const updated = registry.update(t.r, t.namespace, t.name!, object, { subresource: t.subresource as 'status' | 'finalize' | undefined });
  if (options.dryRun && !existed) delete updated.metadata.resourceVersion;
  const admission = t.subresource ? [] : deps.registry.admissionWarnings(t.r, updated);
  return deps.present(req, t.r, updated, existed ? 200 : 201, warningHeader([...warnings, ...admission]));
}

function patchType(req: ApiRequest): string {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
  if (!PATCH_TYPES.includes(type)) {
    throw errors.failure(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${PATCH_TYPES.join(', ')}`, {});
  }
  return type;
}

/**
 * PATCH: the patch is applied to the object as stored and the result written if nobody wrote in
 * between (else applied again to the newer object): the registry's guaranteedUpdate. The patched
 * object is decoded as a body is (types, unknown fields per fieldValidation). A patch that names
 * no resourceVersion never conflicts.
 */
export function patchObject(deps: WriteDeps, req: ApiRequest, t: Target): ApiResult {
  const type = patchType(req);
  const options = writeOptions(req.query, 'PatchOptions');
  const applyPatch = deps.applyPatch;
  if (!applyPatch) throw errors.internalError(new Error('patch is not available in this API server (src/api/server/patch.ts is not wired in)'));
  const registry = forDryRun(deps.registry, options.dryRun);
  const name = t.name!;
  const warnings = new Set<string>();
  if (t.subresource === 'scale') {
    for (;;) {
      const scale = registry.getScale(t.r, t.namespace, name);
      const patched = applyPatch({ group: 'autoscaling', kind: 'Scale' }, structuredClone(scale) as unknown as KubeObject, req.body, type);
      for (const w of checkPatched('Scale', patched, options.fieldValidation)) warnings.add(w);
      // The Scale carried the current resourceVersion; only one the patch changed is a precondition.
      if (patched.metadata?.resourceVersion === scale.metadata.resourceVersion) delete patched.metadata.resourceVersion;
      try {
        return { status: 200, body: registry.updateScale(t.r, t.namespace, name, patched as unknown as Scale), headers: warningHeader([...warnings]) };
      } catch (err) {
        // Someone wrote between our read and write and the patch named no version: apply it again.
        if (err instanceof errors.StatusError && err.code === 409 && patched.metadata?.resourceVersion === undefined) continue;
        throw err;
      }
    }
  }
  // Only server-side apply creates a missing object (kube's forceAllowCreate), and the lab has none.
  if (!exists(deps.registry, t)) throw errors.notFound({ group: t.r.group, resource: t.r.plural }, name);
  const patchedObject = registry.guaranteedUpdate(
    t.r,
    t.namespace,
    name,
    (current) => {
      const patched = applyPatch({ group: t.r.group, kind: t.r.kind }, current, req.body, type);
      for (const w of checkPatched(t.r.kind, patched, options.fieldValidation)) warnings.add(w);
      patched.metadata ??= {};
      if (patched.metadata.name !== name) throw errors.badRequest(`the name of the object (${patched.metadata.name ?? ''}) does not match the name on the URL (${name})`);
      if (t.r.namespaced && patched.metadata.namespace !== t.namespace) {
        throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      return patched;
    },
    { subresource: t.subresource as 'status' | undefined },
  );
  if (!t.subresource) for (const w of deps.registry.admissionWarnings(t.r, patchedObject)) warnings.add(w);
  return deps.present(req, t.r, patchedObject, 200, warningHeader([...warnings]));
}

export function deleteObject(deps: WriteDeps, req: ApiRequest, t: Target): ApiResult {
  const { options, dryRun } = deleteOptions(req);
  const result = forDryRun(deps.registry, dryRun).delete(t.r, t.namespace, t.name!, options);
  // 202 only for the deprecated orphanDependents=false on an object that stays (kube's compatibility rule).
  const status = !result.deleted && options.orphanDependents === false ? 202 : 200;
  return deps.present(req, t.r, result.object, status);
}

/** DELETE of a collection: every object the selectors match, deleted as one DELETE would; answers the list of them. */
export function deleteCollection(deps: WriteDeps, req: ApiRequest, t: Target): ApiResult {
  const { options, dryRun } = deleteOptions(req);
  const registry = forDryRun(deps.registry, dryRun);
  const list = deps.registry.list(t.r, t.namespace, listOptions(req.query));
  const items: KubeObject[] = [];
  for (const obj of list.items) {
    try {
      const result = registry.delete(t.r, obj.metadata.namespace, obj.metadata.name!, options);
      items.push(result.object.kind === 'Status' ? obj : (result.object as KubeObject));
    } catch (err) {
      if (err instanceof errors.StatusError && err.code === 404) continue; // gone meanwhile
      throw err;
    }
  }
  return { status: 200, body: { kind: list.kind, apiVersion: list.apiVersion, metadata: {}, items } };
}

export function postBinding(deps: WriteDeps, req: ApiRequest, t: Target): ApiResult {
  const options = writeOptions(req.query, 'CreateOptions');
  const { object, warnings } = decodeBody(req, 'Binding', 'v1', options.fieldValidation);
  const status = bindPod(deps.registry, t.r, t.namespace!, t.name!, object as unknown as Binding, options.dryRun);
  return { status: 201, body: status, headers: warningHeader(warnings) };
}

/** POST pods/<name>/eviction: a policy/v1 Eviction (v1beta1 too, as kube takes both). */
export function postEviction(deps: WriteDeps, req: ApiRequest, t: Target): ApiResult {
  const options = writeOptions(req.query, 'CreateOptions');
  let version = 'policy/v1';
  try {
    if ((JSON.parse(req.body.toString('utf8')) as { apiVersion?: unknown }).apiVersion === 'policy/v1beta1') version = 'policy/v1beta1';
  } catch {
    // decodeBody reports a body that is not JSON
  }
  const { object, warnings } = decodeBody(req, 'Eviction', version, options.fieldValidation);
  const status = evictPod(deps.registry, t.r, t.namespace!, t.name!, object as unknown as Eviction, options.dryRun);
  return { status: 201, body: status, headers: warningHeader(warnings) };
}
