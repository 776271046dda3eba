// The manifests applier, as k3s's deploy controller applies /var/lib/rancher/k3s/server/manifests:
// each file is an addon (lab/cluster.yaml is "cluster", the lab's system manifests "system"); its
// objects are created or patched through the API, and an object that leaves the file is deleted.
// Like k3s (wrangler's apply), each object carries who applied it and what was applied:
//   label      objectset.rio.cattle.io/hash        a hash of the owning addon
//   annotation objectset.rio.cattle.io/owner-name  the addon ("cluster")
//   annotation objectset.rio.cattle.io/applied     the object as last applied (gzip, base64)
// and a change is a three-way merge: the fields the file changed since the last apply are
// patched into the live object, and a field someone else changed (`kubectl scale`, `kubectl
// edit`) stays as they left it until the file changes that field (k3s's rule). The patch is a JSON
// merge patch (RFC 7386: lists are replaced whole); wrangler uses a strategic merge patch, which
// merges lists such as containers by name: the difference shows only when both the file and
// kubectl changed the same list.
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { apiVersionOf, resourceFor, resourceForKind } from '../api/server/resources.ts';
import type { Source } from '../api/types.ts';
import { applyMergePatch } from '../api/server/patch-json.ts';
import { isNotFound, type KubeObject, type ResourceRef } from '../client/types.ts';

type JsonDoc = Parameters<typeof applyMergePatch>[0];

export const HASH_LABEL = 'objectset.rio.cattle.io/hash';
export const OWNER_NAME = 'objectset.rio.cattle.io/owner-name';
export const OWNER_NAMESPACE = 'objectset.rio.cattle.io/owner-namespace';
export const OWNER_GVK = 'objectset.rio.cattle.io/owner-gvk';
export const APPLIED = 'objectset.rio.cattle.io/applied';

export interface Manifest {
  object: Record<string, unknown>;
  source: Source;
}

export interface ObjectRef {
  ref: ResourceRef;
  kind: string;
  namespace?: string;
  name: string;
  /** Where the file declares it (for a message naming file and line). */
  source?: Source;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

export interface ApplyPlan {
  create: (ObjectRef & { object: KubeObject })[];
  /** A JSON merge patch for each live object whose file entry changed (annotations included). */
  patch: (ObjectRef & { patch: JsonObject })[];
  delete: ObjectRef[];
}

/** The label value that marks an addon's objects (a hash of the owner, as wrangler's objectset). */
export function addonHash(addon: string): string {
  return createHash('sha1').update(`k3s.cattle.io/v1, Kind=Addon kube-system/${addon}`).digest('hex');
}

export function encodeApplied(o: unknown): string {
  return gzipSync(JSON.stringify(o)).toString('base64');
}

export function decodeApplied(text: string | undefined): JsonObject | undefined {
  if (!text) return undefined;
  try {
    return JSON.parse(gunzipSync(Buffer.from(text, 'base64')).toString()) as JsonObject;
  } catch {
    return undefined;
  }
}

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The merge patch that turns `from` into `to` (RFC 7386: null removes a key, lists are replaced). */
export function mergeDiff(from: JsonObject, to: JsonObject): JsonObject {
  const patch: JsonObject = {};
  for (const [k, v] of Object.entries(to)) {
    const was = from[k];
    if (isObject(v) && isObject(was)) {
      const sub = mergeDiff(was, v);
      if (Object.keys(sub).length > 0) patch[k] = sub;
    } else if (JSON.stringify(v) !== JSON.stringify(was)) patch[k] = v;
  }
  for (const k of Object.keys(from)) if (!(k in to)) patch[k] = null;
  return patch;
}

function refOf(o: Record<string, unknown>, source?: Source): ObjectRef {
  const kind = String(o.kind);
  const r = resourceForKind(String(o.apiVersion), kind);
  if (!r) throw new Error(`${source ? `${source.file}:${source.line}: ` : ''}${kind} ${String(o.apiVersion)} is not served by the API server`);
  const meta = (o.metadata ?? {}) as { name?: string; namespace?: string };
  return { ref: { group: r.group, resource: r.plural }, kind, ...(r.namespaced ? { namespace: meta.namespace ?? 'default' } : {}), name: String(meta.name), ...(source ? { source } : {}) };
}

const idOf = (r: ObjectRef) => `${r.ref.group}/${r.ref.resource}/${r.namespace ?? ''}/${r.name}`;

/** What the objectset.rio.cattle.io/applied annotation records of a manifest: the file's object, its namespace filled in. */
export function appliedObject(m: Manifest): JsonObject {
  const r = refOf(m.object, m.source);
  const o = structuredClone(m.object) as unknown as KubeObject;
  o.metadata = { ...o.metadata, ...(r.namespace ? { namespace: r.namespace } : {}) };
  return o as unknown as JsonObject;
}

/**
 * Why a live object is not (yet) what the manifest says, as its applied annotation tells; null
 * when it is. `lab up` waits on this: the server applies the files a moment after its start.
 */
export function notAppliedFrom(m: Manifest, live: KubeObject): string | null {
  const got = decodeApplied(live.metadata.annotations?.[APPLIED]);
  if (!got) return 'not applied from the state files yet';
  return JSON.stringify(got) === JSON.stringify(appliedObject(m)) ? null : 'not yet as the state files say (the server applies them)';
}

/** The object as it is sent: the file's, with its namespace filled in and the addon's marks. */
function desiredObject(addon: string, m: Manifest, r: ObjectRef): KubeObject {
  const o = structuredClone(m.object) as unknown as KubeObject;
  o.metadata = { ...o.metadata, ...(r.namespace ? { namespace: r.namespace } : {}) };
  const applied = appliedObject(m);
  o.metadata.labels = { ...o.metadata.labels, [HASH_LABEL]: addonHash(addon) };
  o.metadata.annotations = { ...o.metadata.annotations, [APPLIED]: encodeApplied(applied), [OWNER_GVK]: 'k3s.cattle.io/v1, Kind=Addon', [OWNER_NAME]: addon, [OWNER_NAMESPACE]: 'kube-system' };
  return o;
}

/**
 * What applying `manifests` as addon `addon` does, given the live objects the addon applied
 * before (`owned`: those labelled with its hash) and any other live objects of the same names
 * (`others`: objects someone else created, which the file then takes over, as k3s does).
 * Namespaces are created first and deleted last.
 */
export function planApply(addon: string, manifests: Manifest[], owned: KubeObject[], others: KubeObject[] = []): ApplyPlan {
  const plan: ApplyPlan = { create: [], patch: [], delete: [] };
  const live = new Map<string, KubeObject>();
  for (const o of [...others, ...owned]) live.set(idOf(refOf(o as unknown as Record<string, unknown>)), o);
  const wanted = new Set<string>();
  for (const m of manifests) {
    const r = refOf(m.object, m.source);
    const id = idOf(r);
    wanted.add(id);
    const desired = desiredObject(addon, m, r);
    const cur = live.get(id);
    if (!cur) {
      plan.create.push({ ...r, object: desired });
      continue;
    }
    // Three-way: what the file changed since the last apply (all of it for an object first applied now).
    const last = decodeApplied(cur.metadata.annotations?.[APPLIED]) ?? {};
    const applied = decodeApplied(desired.metadata.annotations![APPLIED])!;
    const patch = mergeDiff(last, applied);
    const marks = mergeDiff(
      { labels: pick(cur.metadata.labels, [HASH_LABEL]), annotations: pick(cur.metadata.annotations, [APPLIED, OWNER_GVK, OWNER_NAME, OWNER_NAMESPACE]) } as JsonObject,
      { labels: pick(desired.metadata.labels, [HASH_LABEL]), annotations: pick(desired.metadata.annotations, [APPLIED, OWNER_GVK, OWNER_NAME, OWNER_NAMESPACE]) } as JsonObject,
    );
    // (gzip of the same text is the same text: an unchanged object gives no patch.)
    if (Object.keys(marks).length > 0) patch.metadata = mergeObjects(isObject(patch.metadata) ? patch.metadata : {}, marks);
    if (Object.keys(patch).length > 0) plan.patch.push({ ...r, patch });
  }
  for (const o of owned) {
    const r = refOf(o as unknown as Record<string, unknown>);
    if (!wanted.has(idOf(r))) plan.delete.push(r);
  }
  const nsFirst = (a: ObjectRef, b: ObjectRef) => Number(b.kind === 'Namespace') - Number(a.kind === 'Namespace');
  plan.create.sort(nsFirst);
  plan.delete.sort((a, b) => -nsFirst(a, b));
  return plan;
}

function pick(m: Record<string, string> | undefined, keys: string[]): Record<string, string> {
  return Object.fromEntries(keys.filter((k) => m?.[k] !== undefined).map((k) => [k, m![k]!]));
}

function mergeObjects(a: JsonObject, b: JsonObject): JsonObject {
  const out: JsonObject = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = isObject(v) && isObject(out[k]) ? mergeObjects(out[k], v) : v;
  return out;
}

/** The API calls the applier makes (LocalClient has them; so will the HTTPS client). */
export interface ApplyClient {
  list(ref: ResourceRef, sel: { labelSelector?: string }): Promise<{ items: KubeObject[] }>;
  get(ref: ResourceRef, namespace: string | undefined, name: string): Promise<KubeObject>;
  create(ref: ResourceRef, obj: KubeObject): Promise<KubeObject>;
  mutate(ref: ResourceRef, namespace: string | undefined, name: string, change: (current: KubeObject) => KubeObject): Promise<KubeObject>;
  delete(ref: ResourceRef, namespace: string | undefined, name: string): Promise<void>;
}

/** The resources an addon's objects can be: what the lab's loader accepts. */
export const ADDON_RESOURCES: ResourceRef[] = [
  { group: '', resource: 'namespaces' },
  { group: '', resource: 'configmaps' },
  { group: '', resource: 'services' },
  { group: '', resource: 'endpoints' },
  { group: 'discovery.k8s.io', resource: 'endpointslices' },
  { group: 'apps', resource: 'deployments' },
  { group: 'networking.k8s.io', resource: 'ingresses' },
];

export interface ApplyOutcome {
  created: string[];
  patched: string[];
  deleted: string[];
  /** The API server's warnings, as kubectl prints them: `Warning: <file>:<line>: Deployment ns/name: <text>`. */
  warnings: string[];
}

/**
 * Applies the addon: what it owns is found by its label, the plan is made, and each step goes to
 * the API (namespaces first). An API error names the file and line of the object, and so does
 * each warning of the API server's answer (`takeWarnings`: those the client's warning handler
 * received since it was last called).
 */
export async function applyAddon(client: ApplyClient, addon: string, manifests: Manifest[], takeWarnings: () => string[] = () => []): Promise<ApplyOutcome> {
  const sel = { labelSelector: `${HASH_LABEL}=${addonHash(addon)}` };
  // The hash label alone does not make an object the addon's: the endpoints and EndpointSlice
  // controllers copy a Service's labels, hash included, to the objects they write (as kube's do).
  // Only what the applier itself wrote carries the owner annotations (wrangler checks them too);
  // pruning by the label alone deleted every Endpoints and slice of the file's Services on each
  // apply after the first (a restart of the server, an edit of the file).
  const owned = (await Promise.all(ADDON_RESOURCES.map((r) => client.list(r, sel))))
    .flatMap((l, i) => l.items.map((o) => withKind(o, ADDON_RESOURCES[i]!)))
    .filter((o) => o.metadata.annotations?.[OWNER_NAME] === addon);
  const ownedIds = new Set(owned.map((o) => idOf(refOf(o as unknown as Record<string, unknown>))));
  // Objects of the same names that someone else created: the file takes them over.
  const others: KubeObject[] = [];
  for (const m of manifests) {
    const r = refOf(m.object, m.source);
    if (ownedIds.has(idOf(r))) continue;
    try {
      others.push(withKind(await client.get(r.ref, r.namespace, r.name), r.ref));
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
  const plan = planApply(addon, manifests, owned, others);
  const where = (r: ObjectRef) => `${r.source ? `${r.source.file}:${r.source.line}: ` : ''}${r.kind} ${r.namespace ? `${r.namespace}/` : ''}${r.name}`;
  const out: ApplyOutcome = { created: [], patched: [], deleted: [], warnings: [] };
  takeWarnings();
  const step = async (r: ObjectRef, list: string[], call: () => Promise<unknown>) => {
    try {
      await call();
      list.push(where(r));
      out.warnings.push(...takeWarnings().map((w) => `Warning: ${where(r)}: ${w}`));
    } catch (e) {
      throw new Error(`${where(r)}: ${(e as Error).message}`, { cause: e });
    }
  };
  const create = (c: (typeof plan.create)[number]) => step(c, out.created, () => client.create(c.ref, c.object));
  const patch = (p: (typeof plan.patch)[number]) => step(p, out.patched, () => client.mutate(p.ref, p.namespace, p.name, (cur) => applyMergePatch(cur as unknown as JsonDoc, p.patch as unknown as JsonDoc) as unknown as KubeObject));
  // Namespaces, created or patched, before what goes into them: admission reads their labels (a
  // kube-system the API server made itself gets its pod-security labels before its Deployments).
  const isNamespace = (r: ObjectRef) => r.ref.group === '' && r.ref.resource === 'namespaces';
  for (const c of plan.create.filter(isNamespace)) await create(c);
  for (const p of plan.patch.filter(isNamespace)) await patch(p);
  for (const c of plan.create.filter((x) => !isNamespace(x))) await create(c);
  for (const p of plan.patch.filter((x) => !isNamespace(x))) await patch(p);
  for (const d of plan.delete) await step(d, out.deleted, () => client.delete(d.ref, d.namespace, d.name).catch((e) => (isNotFound(e) ? undefined : Promise.reject(e))));
  return out;
}

/** Lists carry items without apiVersion and kind (as kube's typed lists): put them back. */
function withKind(o: KubeObject, ref: ResourceRef): KubeObject {
  if (o.apiVersion && o.kind) return o;
  const r = resourceFor(ref.group, ref.resource)!;
  return { ...o, apiVersion: apiVersionOf(r), kind: r.kind };
}
