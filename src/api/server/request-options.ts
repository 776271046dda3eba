// A request's options and body as kube-apiserver reads them: query parameters converted as Go's
// strconv does (a bad one is 400 with strconv's message), CreateOptions/UpdateOptions/PatchOptions
// (dryRun, fieldManager, fieldValidation) checked as metav1's validation does (422), bodies decoded
// from JSON or YAML into the resource's struct (typed-decode.ts) with kube's 400s, and DeleteOptions
// from the body, else from the query.
import { parse as parseYaml } from 'yaml';
import { decodeProtobuf, ProtobufError, PROTOBUF_MEDIA_TYPE } from './protobuf.ts';
import type { ApiRequest } from './http.ts';
import { decodeObject } from './json.ts';
import type { KubeObject } from './object.ts';
import type { DeleteOptions } from './registry-delete.ts';
import type { ListOptions } from './registry-list.ts';
import { resourceForKind } from './resources.ts';
import * as errors from './status.ts';
import { fieldErrors, type FieldError } from './status.ts';
import { strictDecodingError, typedDecode } from './typed-decode.ts';
import type { WatchRouteOptions } from './watch-route.ts';

export type FieldValidation = 'Ignore' | 'Warn' | 'Strict';

const TRUE = ['1', 't', 'T', 'true', 'TRUE', 'True'];
const FALSE = ['0', 'f', 'F', 'false', 'FALSE', 'False'];

/** strconv.ParseBool, as query conversion uses it. */
export function queryBool(query: URLSearchParams, name: string): boolean | undefined {
  const v = query.get(name);
  if (v === null || v === '') return undefined;
  if (TRUE.includes(v)) return true;
  if (FALSE.includes(v)) return false;
  throw errors.badRequest(`strconv.ParseBool: parsing ${errors.goQuote(v)}: invalid syntax`);
}

/** strconv.ParseInt(v, 10, 64). */
export function queryInt(query: URLSearchParams, name: string): number | undefined {
  const v = query.get(name);
  if (v === null || v === '') return undefined;
  if (!/^[+-]?\d+$/.test(v)) throw errors.badRequest(`strconv.ParseInt: parsing ${errors.goQuote(v)}: invalid syntax`);
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw errors.badRequest(`strconv.ParseInt: parsing ${errors.goQuote(v)}: value out of range`);
  return n;
}

const str = (query: URLSearchParams, name: string) => query.get(name) ?? undefined;

export function listOptions(query: URLSearchParams): ListOptions {
  return {
    labelSelector: str(query, 'labelSelector'),
    fieldSelector: str(query, 'fieldSelector'),
    resourceVersion: str(query, 'resourceVersion'),
    resourceVersionMatch: str(query, 'resourceVersionMatch') as ListOptions['resourceVersionMatch'],
    limit: queryInt(query, 'limit'),
    continue: str(query, 'continue'),
  };
}

export function watchOptions(query: URLSearchParams): WatchRouteOptions {
  return {
    labelSelector: str(query, 'labelSelector'),
    fieldSelector: str(query, 'fieldSelector'),
    resourceVersion: str(query, 'resourceVersion'),
    allowWatchBookmarks: queryBool(query, 'allowWatchBookmarks'),
    timeoutSeconds: queryInt(query, 'timeoutSeconds'),
    sendInitialEvents: queryBool(query, 'sendInitialEvents'),
  };
}

export interface WriteOptions {
  dryRun: boolean;
  fieldValidation: FieldValidation;
  fieldManager?: string;
}

/**
 * CreateOptions / UpdateOptions / PatchOptions: dryRun (only "All"), fieldManager, fieldValidation
 * ("" is Warn, kube's default since 1.27). Invalid values are 422 on the options' kind.
 */
export function writeOptions(query: URLSearchParams, kind: 'CreateOptions' | 'UpdateOptions' | 'PatchOptions'): WriteOptions {
  const errs: FieldError[] = [];
  const dryRun = query.getAll('dryRun');
  if (dryRun.some((d) => d !== 'All')) errs.push(fieldErrors.notSupported('dryRun', dryRun, ['All']));
  const fv = query.get('fieldValidation') ?? '';
  if (!['', 'Ignore', 'Warn', 'Strict'].includes(fv)) errs.push(fieldErrors.notSupported('fieldValidation', fv, ['', 'Ignore', 'Warn', 'Strict']));
  const fieldManager = query.get('fieldManager') ?? undefined;
  if (fieldManager !== undefined && fieldManager.length > 128) errs.push(fieldErrors.tooLong('fieldManager', 128));
  if (errs.length) throw errors.invalid('meta.k8s.io', kind, '', errs);
  return { dryRun: dryRun.length > 0, fieldValidation: (fv || 'Warn') as FieldValidation, fieldManager };
}

/** `299 - "text"`: a Warning header value as kube-apiserver writes it. */
export function warningHeader(texts: string[]): Record<string, string> {
  const unique = [...new Set(texts)];
  return unique.length ? { Warning: unique.map((t) => `299 - ${JSON.stringify(t)}`).join(', ') } : {};
}

const MEDIA_TYPES = ['application/json', 'application/yaml', PROTOBUF_MEDIA_TYPE];

const unsupportedMediaType = () => errors.failure(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${MEDIA_TYPES.join(', ')}`, {});

/** The body's media type; 415 for one kube's serializers do not read (CBOR). */
function bodyMediaType(req: ApiRequest): string {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === '') return 'application/json';
  if (MEDIA_TYPES.includes(type)) return type;
  throw unsupportedMediaType();
}

/** The body as a JSON object (YAML converted), with kube's 400 for what does not parse. */
export function bodyObject(req: ApiRequest, kind: string): Record<string, unknown> {
  const type = bodyMediaType(req);
  if (type === 'application/json') return decodeObject(req.body, kind);
  if (type === PROTOBUF_MEDIA_TYPE) {
    // kubectl's typed clients (create service|deployment|configmap|namespace|ingress, run) send protobuf.
    try {
      return decodeProtobuf(req.body);
    } catch (e) {
      if (!(e instanceof ProtobufError)) throw e;
      if (e.message.startsWith('no protobuf schema')) throw unsupportedMediaType();
      throw errors.badRequest(`the object provided is unrecognized (must be of type ${kind}): ${e.message}`);
    }
  }
  let value: unknown;
  try {
    value = parseYaml(req.body.toString('utf8'));
  } catch (e) {
    throw errors.badRequest(`the object provided is unrecognized (must be of type ${kind}): couldn't get version/kind; json parse error: ${(e as Error).message}`);
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw errors.badRequest(`the object provided is unrecognized (must be of type ${kind}): couldn't get version/kind; json parse error: json: cannot unmarshal ${Array.isArray(value) ? 'array' : typeof value} into Go value of type struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }`);
  return value as Record<string, unknown>;
}

// Go package of each group's internal types, as conversion errors name them.
const INTERNAL_PACKAGE: Record<string, string> = { '': 'core', apps: 'apps', 'discovery.k8s.io': 'discovery', 'networking.k8s.io': 'networking', 'coordination.k8s.io': 'coordination', autoscaling: 'autoscaling' };

export interface Decoded {
  object: KubeObject;
  /** Warnings for the response (unknown fields under fieldValidation=Warn). */
  warnings: string[];
}

/**
 * A create or update body of `kind` (the resource's own, or a subresource's: Scale, Binding): its
 * apiVersion and kind must be the URL's (filled in when absent, as kube does), every value of its
 * Go type, and unknown fields are refused (Strict), warned about (Warn) or dropped (Ignore).
 */
export function decodeBody(req: ApiRequest, kind: string, groupVersion: string, fieldValidation: FieldValidation): Decoded {
  const raw = bodyObject(req, kind);
  const apiVersion = typeof raw.apiVersion === 'string' && raw.apiVersion ? raw.apiVersion : groupVersion;
  const bodyKind = typeof raw.kind === 'string' && raw.kind ? raw.kind : kind;
  const version = apiVersion.includes('/') ? apiVersion.slice(apiVersion.indexOf('/') + 1) : apiVersion;
  const cannot = (why: string) => errors.badRequest(`${bodyKind} in version ${errors.goQuote(version)} cannot be handled as a ${kind}: ${why}`);
  if (bodyKind !== kind) {
    const known = resourceForKind(apiVersion, bodyKind);
    const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
    if (!known) throw cannot(`no kind ${errors.goQuote(bodyKind)} is registered for version ${errors.goQuote(apiVersion)} in scheme "pkg/api/legacyscheme/scheme.go:30"`);
    throw cannot(`converting (${version}.${bodyKind}) to (${INTERNAL_PACKAGE[group] ?? group}.${kind}): unknown conversion`);
  }
  if (apiVersion !== groupVersion) {
    throw errors.badRequest(`the API version in the data (${apiVersion}) does not match the expected API version (${groupVersion})`);
  }
  const decoded = typedDecode(kind, raw);
  if (decoded.typeError) throw cannot(decoded.typeError);
  const warnings: string[] = [];
  if (decoded.unknown.length) {
    if (fieldValidation === 'Strict') throw cannot(strictDecodingError(decoded.unknown));
    if (fieldValidation === 'Warn') warnings.push(...decoded.unknown);
  }
  raw.apiVersion = apiVersion;
  raw.kind = kind;
  if (typeof raw.metadata !== 'object' || raw.metadata === null) raw.metadata = {};
  return { object: raw as KubeObject, warnings };
}

/**
 * A patched object, decoded as kube decodes the result of a patch: a type error or (Strict)
 * unknown fields are 422 `"" is invalid: patch: Invalid value: "<the patched object>": <why>`.
 */
export function checkPatched(kind: string, patched: KubeObject, fieldValidation: FieldValidation): string[] {
  const text = JSON.stringify(patched);
  const decoded = typedDecode(kind, patched as unknown as Record<string, unknown>);
  const invalid = (why: string) => errors.invalid('', '', '', [fieldErrors.invalid('patch', text, why)]);
  if (decoded.typeError) throw invalid(decoded.typeError);
  if (decoded.unknown.length === 0 || fieldValidation === 'Ignore') return [];
  if (fieldValidation === 'Strict') throw invalid(strictDecodingError(decoded.unknown));
  return decoded.unknown;
}

/** DeleteOptions from the body (when there is one), else from the query; dryRun checked as kube does. */
export function deleteOptions(req: ApiRequest): { options: DeleteOptions; dryRun: boolean } {
  let raw: Record<string, unknown>;
  if (req.body.length > 0) {
    raw = bodyObject(req, 'DeleteOptions');
    const decoded = typedDecode('DeleteOptions', raw);
    if (decoded.typeError) throw errors.badRequest(decoded.typeError);
  } else {
    raw = {};
    const grace = queryInt(req.query, 'gracePeriodSeconds');
    if (grace !== undefined) raw.gracePeriodSeconds = grace;
    const orphan = queryBool(req.query, 'orphanDependents');
    if (orphan !== undefined) raw.orphanDependents = orphan;
    const policy = req.query.get('propagationPolicy');
    if (policy) raw.propagationPolicy = policy;
    const dryRun = req.query.getAll('dryRun');
    if (dryRun.length) raw.dryRun = dryRun;
  }
  const dryRun = (raw.dryRun as string[] | undefined) ?? [];
  if (dryRun.some((d) => d !== 'All')) throw errors.invalid('meta.k8s.io', 'DeleteOptions', '', [fieldErrors.notSupported('dryRun', dryRun, ['All'])]);
  const options: DeleteOptions = {};
  if (raw.gracePeriodSeconds !== undefined) options.gracePeriodSeconds = raw.gracePeriodSeconds as number;
  if (raw.preconditions) options.preconditions = raw.preconditions as DeleteOptions['preconditions'];
  if (raw.propagationPolicy !== undefined) options.propagationPolicy = raw.propagationPolicy as DeleteOptions['propagationPolicy'];
  if (raw.orphanDependents !== undefined) options.orphanDependents = raw.orphanDependents as boolean;
  return { options, dryRun: dryRun.length > 0 };
}
