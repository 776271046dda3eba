// The API server's resource routes, the ApiHandler http.ts calls: kube-apiserver's URL scheme over
// the registry.
//   /api, /apis, /api/v1, /apis/<g>, /apis/<g>/<v>              discovery (discovery.ts)
//   /openapi/v3[/<doc>]                                          openapi.ts
//   /api/v1/<resource>, /apis/<g>/<v>/<resource>                 list and watch across namespaces
//                                                                (cluster-scoped: also create, deletecollection)
//   .../namespaces/<ns>/<resource>                               list, watch, create, deletecollection
//   .../[namespaces/<ns>/]<resource>/<name>                      get, update, patch, delete
//   .../<name>/status, /scale, /finalize, pods/<name>/binding    subresources
//   pods/<name>/eviction                                         eviction.ts (kubectl drain)
//   /api/v1/watch/..., /apis/<g>/<v>/watch/...                   the deprecated watch paths (a named
//                                                                one watches that object alone)
// A path of no served group, version or resource is Go's plain 404 (http.ts); a method a path does
// not have, or a verb its resource does not have, is 405 MethodNotAllowed.
//   pods/<name>/log, /exec (/attach, /portforward refused)    pod-log.ts, pod-exec.ts: the bytes
//                                                                come from the kubelet (ContainerStreams);
//                                                                exec's WebSocket upgrade is served
//                                                                by pod-exec.ts's upgrade handler
import type { ApiHandler, ApiRequest, ApiResult } from './http.ts';
import { aggregatedDiscovery, AGGREGATED_CONTENT_TYPE, apiGroupDocument, apiGroupList, apiResourceList, apiVersions, servesGroupVersion, wantsAggregated } from './discovery.ts';
import type { ContainerStreams } from './node-streams.ts';
import type { KubeObject } from './object.ts';
import { connectCheck, CONNECT_SUBRESOURCES } from './pod-exec.ts';
import { podLog } from './pod-log.ts';
import { openApiV3 } from './openapi.ts';
import type { Registry } from './registry.ts';
import type { WatchEvent } from './registry-watch.ts';
import { listOptions, watchOptions } from './request-options.ts';
import { resourceFor, type ResourceInfo } from './resources.ts';
import { defaultToTable, includeObjectOf, negotiateOutput, partialObjectMetadata, tableAs, type ToTable } from './negotiate.ts';
import { createObject, deleteCollection, deleteObject, patchObject, postBinding, postEviction, updateObject, type ApplyPatch } from './routes-write.ts';
import * as errors from './status.ts';
import { watchRoute } from './watch-route.ts';

export type { ApplyPatch } from './routes-write.ts';
export type { ToTable, TableOptions, IncludeObject } from './negotiate.ts';

/** What other modules bring: patch.ts's applyPatch, tables.ts's toTable (the lead wires them in). */
export interface RouteDeps {
  /** Applies a json-patch, merge-patch or strategic-merge-patch body; without it PATCH is a 500. */
  applyPatch?: ApplyPatch;
  /** kubectl's columns; without it, Tables have kube's default Name and Created At. */
  toTable?: ToTable;
  /** The kubelet's logs and exec; without it, pods/log and pods/exec answer as for an unreachable kubelet. */
  streams?: ContainerStreams;
}

export interface RouteOptions extends RouteDeps {
  /** What /api names as the address to use (kube-apiserver's --advertise-address:port). */
  serverAddress?: string;
  /** info.version of the OpenAPI documents (the server's gitVersion). */
  gitVersion?: string;
}

/** One resource request, its path taken apart. */
export interface Target {
  r: ResourceInfo;
  namespace?: string;
  name?: string;
  subresource?: string;
  /** A namespaced resource at its cluster path (/api/v1/pods): lists and watches every namespace. */
  allNamespaces: boolean;
  /** The deprecated /watch/ path. */
  watchPath: boolean;
}

/** NewGenericServerResponse(405): a path that exists, a method it does not have. */
export const methodNotAllowed = () => errors.failure(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {});

function segmentProblems(s: string): string[] {
  if (s === '.' || s === '..') return [`may not be '${s}'`];
  return ['/', '%'].filter((c) => s.includes(c)).map((c) => `may not contain '${c}'`);
}

/** The resource request a path names, or undefined when it names none (404). */
export function parseResourcePath(path: string): Target | undefined {
  const raw = path.split('/').slice(1);
  let segs: string[];
  try {
    segs = raw.map(decodeURIComponent);
  } catch {
    return undefined;
  }
  let group: string;
  let rest: string[];
  if (segs[0] === 'api' && segs.length >= 3) [group, rest] = ['', segs.slice(2)];
  else if (segs[0] === 'apis' && segs.length >= 4) [group, rest] = [segs[1]!, segs.slice(3)];
  else return undefined;
  const version = group ? segs[2]! : segs[1]!;
  if (!servesGroupVersion(group, version)) return undefined;
  const watchPath = rest[0] === 'watch';
  if (watchPath) rest = rest.slice(1);
  if (rest.some((s) => s === '')) return undefined;
  let target: Target | undefined;
  if (rest[0] === 'namespaces' && !(group === '' && rest.length <= 2) && !(group === '' && rest.length === 3 && (rest[2] === 'status' || rest[2] === 'finalize'))) {
    if (rest.length < 3 || rest.length > 5) return undefined;
    const r = resourceFor(group, rest[2]!);
    if (!r || !r.namespaced) return undefined;
    target = { r, namespace: rest[1], name: rest[3], subresource: rest[4], allNamespaces: false, watchPath };
  } else {
    if (rest.length < 1 || rest.length > 3) return undefined;
    const r = resourceFor(group, rest[0]!);
    if (!r) return undefined;
    if (r.namespaced && rest.length > 1) return undefined;
    target = { r, name: rest[1], subresource: rest[2], allNamespaces: r.namespaced, watchPath };
  }
  if (target.subresource !== undefined && !target.r.subresources.some((s) => s.name === target.subresource)) return undefined;
  for (const [what, value] of [['namespace', target.namespace], ['resource name', target.name]] as const) {
    const problems = value === undefined ? [] : segmentProblems(value);
    if (problems.length) throw errors.badRequest(`invalid ${what} ${errors.goQuote(value!)}: [${problems.join(', ')}]`);
  }
  return target;
}

const json = (body: unknown, status = 200, headers: Record<string, string> = {}): ApiResult => ({ status, body, headers });

export function createApiHandler(registry: Registry, opts: RouteOptions = {}): ApiHandler {
  const toTable = opts.toTable ?? defaultToTable;
  // Read per request: a server started on port 0 learns its address after the handler exists.
  const serverAddress = () => opts.serverAddress || '192.168.56.110:6443';
  const gitVersion = opts.gitVersion ?? 'v1.32.0+lab';

  /** An object of `r` in the form the Accept header asks for. */
  function present(req: ApiRequest, r: ResourceInfo, obj: KubeObject | errors.Status, status: number, headers: Record<string, string> = {}): ApiResult {
    if (obj.kind === 'Status') return json(obj, status, headers);
    const form = negotiateOutput(req.headers.accept);
    const o = obj as KubeObject;
    if (form.as === 'object') return json(o, status, headers);
    if (form.as === 'PartialObjectMetadata') return json(partialObjectMetadata(o, form.version), status, headers);
    const table = toTable(r, [o], { includeObject: includeObjectOf(req.query), listMeta: { resourceVersion: o.metadata.resourceVersion } });
    return json(tableAs(table, form.version), status, headers);
  }

  function list(req: ApiRequest, t: Target): ApiResult {
    const result = registry.list(t.r, t.namespace, listOptions(req.query));
    const form = negotiateOutput(req.headers.accept);
    if (form.as === 'object') return json(result);
    const items = result.items.map((o) => ({ apiVersion: result.apiVersion, kind: t.r.kind, ...o }) as KubeObject);
    if (form.as === 'PartialObjectMetadata') {
      return json({ kind: 'PartialObjectMetadataList', apiVersion: `meta.k8s.io/${form.version}`, metadata: result.metadata, items: items.map((o) => partialObjectMetadata(o, form.version)) });
    }
    return json(tableAs(toTable(t.r, items, { includeObject: includeObjectOf(req.query), listMeta: result.metadata }), form.version));
  }

  function watch(req: ApiRequest, t: Target): ApiResult {
    const options = watchOptions(req.query);
    if (t.name !== undefined) {
      // A watch of one object (the /watch/.../<name> path): its name as a field selector.
      const byName = `metadata.name=${t.name}`;
      options.fieldSelector = options.fieldSelector ? `${options.fieldSelector},${byName}` : byName;
    }
    const form = negotiateOutput(req.headers.accept);
    const include = form.as === 'Table' ? includeObjectOf(req.query) : 'Metadata';
    let headers = true;
    const encode = (e: WatchEvent) => {
      const o = e.object as KubeObject;
      if (form.as === 'object' || o.kind === 'Status') return e;
      if (form.as === 'PartialObjectMetadata') return { type: e.type, object: partialObjectMetadata(o, form.version) };
      const rows = e.type === 'BOOKMARK' ? [] : [o];
      const table = tableAs(toTable(t.r, rows, { includeObject: include, listMeta: { resourceVersion: o.metadata.resourceVersion } }), form.version);
      // Column definitions go with the first event only (kube's watch encoder sets NoHeaders after it).
      if (!headers || e.type === 'BOOKMARK') delete table.columnDefinitions;
      else headers = false;
      return { type: e.type, object: table };
    };
    return watchRoute(registry, t.r, t.namespace, options, encode);
  }

  function get(req: ApiRequest, t: Target): ApiResult {
    const rv = req.query.get('resourceVersion') ?? undefined;
    if (t.subresource === 'scale') return json(registry.getScale(t.r, t.namespace, t.name!));
    return present(req, t.r, registry.get(t.r, t.namespace, t.name!, { resourceVersion: rv }), 200);
  }

  function allowed(t: Target, verb: string): void {
    if (!t.r.verbs.includes(verb)) throw methodNotAllowed();
  }

  function resourceRequest(req: ApiRequest, t: Target): ApiResult | undefined | Promise<ApiResult> {
    const { method } = req;
    const deps = { registry, applyPatch: opts.applyPatch, present };
    if (t.subresource === 'log') {
      if (method !== 'GET') throw methodNotAllowed();
      return podLog(registry, opts.streams, req, t.namespace!, t.name!);
    }
    if (t.subresource && CONNECT_SUBRESOURCES.includes(t.subresource)) {
      // Not an upgrade (those go to pod-exec.ts): checked as kube checks it, then refused.
      connectCheck(registry, t.subresource, method, t.namespace!, t.name!, req.query);
      throw errors.badRequest('Upgrade request required');
    }
    if (t.watchPath) {
      if (method !== 'GET' || t.subresource) throw methodNotAllowed();
      allowed(t, 'watch');
      return watch(req, t);
    }
    if (t.name === undefined) {
      if (method === 'GET') {
        const isWatch = ['1', 't', 'T', 'true', 'TRUE', 'True'].includes(req.query.get('watch') ?? '');
        allowed(t, isWatch ? 'watch' : 'list');
        return isWatch ? watch(req, t) : list(req, t);
      }
      if (t.allNamespaces) throw methodNotAllowed();
      if (method === 'POST') return allowed(t, 'create'), createObject(deps, req, t);
      if (method === 'DELETE') return allowed(t, 'deletecollection'), deleteCollection(deps, req, t);
      throw methodNotAllowed();
    }
    const sub = t.subresource;
    if (sub === 'binding') {
      if (method !== 'POST') throw methodNotAllowed();
      return postBinding(deps, req, t);
    }
    if (sub === 'eviction') {
      if (method !== 'POST') throw methodNotAllowed();
      return postEviction(deps, req, t);
    }
    if (sub === 'finalize') {
      if (method !== 'PUT') throw methodNotAllowed();
      return updateObject(deps, req, t);
    }
    switch (method) {
      case 'GET':
        return allowed(t, 'get'), get(req, t);
      case 'PUT':
        return allowed(t, 'update'), updateObject(deps, req, t);
      case 'PATCH':
        return allowed(t, 'patch'), patchObject(deps, req, t);
      case 'DELETE':
        if (sub) throw methodNotAllowed();
        return allowed(t, 'delete'), deleteObject(deps, req, t);
      default:
        throw methodNotAllowed();
    }
  }

  function discovery(req: ApiRequest): ApiResult | undefined {
    const { path } = req;
    const aggregated = wantsAggregated(req.headers.accept);
    if (path === '/api' || path === '/apis') {
      if (!aggregated) return json(path === '/api' ? apiVersions(serverAddress()) : apiGroupList());
      return { status: 200, body: aggregatedDiscovery(path === '/api'), headers: { 'Content-Type': AGGREGATED_CONTENT_TYPE, Vary: 'Accept' } };
    }
    const m = /^\/(?:api\/(v1)|apis\/([^/]+)(?:\/([^/]+))?)\/?$/.exec(path);
    if (!m) return undefined;
    if (m[1]) return json(apiResourceList('', m[1]));
    if (m[3] === undefined) {
      const doc = apiGroupDocument(m[2]!);
      return doc && json(doc);
    }
    return servesGroupVersion(m[2]!, m[3]) ? json(apiResourceList(m[2]!, m[3])) : undefined;
  }

  return (req) => {
    if (req.path === '/openapi/v3' || req.path.startsWith('/openapi/v3/')) {
      if (req.method !== 'GET') throw methodNotAllowed();
      const doc = openApiV3(req.path, req.query, gitVersion);
      return doc && { status: doc.status, body: doc.body, headers: doc.headers };
    }
    const doc = discovery(req);
    if (doc) {
      if (req.method !== 'GET') throw methodNotAllowed();
      return doc;
    }
    const target = parseResourcePath(req.path);
    return target && resourceRequest(req, target);
  };
}
