// PATCH bodies as kube-apiserver applies them (staging/src/k8s.io/apiserver/pkg/endpoints/handlers
// patch.go, v1.32): the three patch types kubectl sends, chosen by Content-Type, applied to the
// object as it is stored, with kube-apiserver's status for each way a patch can fail:
// - an unknown Content-Type: 415 UnsupportedMediaType (see patchTypeOf for its two texts);
// - a body that does not decode: 400 BadRequest with Go's decoding error;
// - a JSON patch whose operation fails (a missing path, a failed test): 422 with the fixed message
//   "the server rejected our request due to an error in our request" (apierrors'
//   NewGenericServerResponse keeps none of the library's text), more than 10000 operations: 413;
// - a merge patch that is `null`: 400 "Invalid JSON Patch";
// - a strategic merge patch: 400 for the malformed directives strategicpatch names (bad
//   `$retainKeys`, `$setElementOrder`, `$deleteFromPrimitiveList`), 422 for a list of lists, and a
//   500 without reason carrying the package's error text for the rest (a list item without its
//   merge key, an unknown `$patch`), as kube-apiserver passes those errors on unconverted;
// - where the Go code panics, kube-apiserver answers a plain-text 500 (ApiserverPanic).
// Not here: decoding the result into the Go type (unknown fields dropped or, with
// fieldValidation=Strict, refused; wrong types refused with 422), which is the registry's validation.
import { FIND_KIND, goJsonSyntaxError } from './json.ts';
import { applyJsonPatch, applyMergePatch, JsonPatchError, mergePatchArray } from './patch-json.ts';
import { GoPanic, isObject, type Json, type JsonObject } from './patch-go.ts';
import { schemaFor } from './patch-schema.ts';
import { StrategicPatchError, strategicMergePatch } from './patch-strategic.ts';
import { badRequest, failure, fieldErrors, invalid, StatusError } from './status.ts';

export const JSON_PATCH = 'application/json-patch+json';
export const MERGE_PATCH = 'application/merge-patch+json';
export const STRATEGIC_MERGE_PATCH = 'application/strategic-merge-patch+json';

/**
 * The patch types this server accepts, in kube-apiserver's order. kube-apiserver also takes
 * `application/apply-patch+yaml` (server-side apply), which the lab does not implement: it is
 * refused like any unknown type rather than listed as accepted.
 */
export const PATCH_TYPES = [JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH] as const;
export type PatchType = (typeof PATCH_TYPES)[number];

/** The `fieldValidation` query parameter; kube-apiserver's default is Warn. */
export type FieldValidation = 'Ignore' | 'Warn' | 'Strict';

export interface PatchOptions {
  fieldValidation?: FieldValidation;
}

/** kube-apiserver's maxJSONPatchOperations. */
export const MAX_JSON_PATCH_OPERATIONS = 10000;

/**
 * What kube-apiserver answers when a handler panics: its panic-recovery filter writes this text as
 * text/plain with status 500, not a Status object; the HTTP layer should do the same.
 */
export class ApiserverPanic extends StatusError {
  static readonly TEXT = 'This request caused apiserver to panic. Look in the logs for details.';
  constructor(readonly panic: string) {
    super({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: ApiserverPanic.TEXT, reason: 'InternalError', code: 500 });
  }
}

/** apierrors.NewGenericServerResponse(422, ...): the message is fixed, details empty. */
const unprocessable = () => failure(422, 'Invalid', 'the server rejected our request due to an error in our request', {});

/** An error kube-apiserver passes on without a status: 500, no reason, the error's text. */
const unconverted = (message: string) => new StatusError({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, code: 500 });

/**
 * The patch type of a Content-Type header, checked as kube-apiserver checks it twice. First its
 * router (go-restful) matches any comma-separated entry, parameters cut and spaces trimmed, against
 * the types the route consumes, and answers `415: Unsupported Media Type` when none matches (that
 * is for a request with a body; one without gets go-restful's 406/415 "Available
 * representations" texts, which depend on the Content-Length header this function is not given).
 * Then the handler cuts the header at its first `;` (untrimmed) and requires an exact type:
 * `the body of the request was in an unknown format - accepted media types include: ...`.
 * A kind without a strategic merge patch schema accepts the other two types only, as kube-apiserver
 * does for custom resources.
 */
export function patchTypeOf(contentType: string, kind: { group: string; kind: string }): PatchType {
  const accepted: readonly PatchType[] = schemaFor(kind) ? PATCH_TYPES : [JSON_PATCH, MERGE_PATCH];
  // go-restful trims spaces only, and reads a missing header as application/octet-stream.
  const entries = (contentType || 'application/octet-stream').split(',').map((e) => e.split(';')[0]!.replace(/^ +| +$/g, ''));
  if (!entries.some((e) => (accepted as readonly string[]).includes(e))) return unsupported(accepted, true);
  const semi = contentType.indexOf(';');
  const base = semi > 0 ? contentType.slice(0, semi) : contentType;
  if (!(accepted as readonly string[]).includes(base)) return unsupported(accepted, false);
  return base as PatchType;
}

function unsupported(accepted: readonly string[], byRouter: boolean): never {
  if (byRouter) throw failure(415, 'UnsupportedMediaType', '415: Unsupported Media Type', {});
  throw failure(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`);
}

/** The JSON type name encoding/json puts in `cannot unmarshal <x> into ...`. */
function jsonKind(v: Json): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  return typeof v === 'boolean' ? 'bool' : typeof v === 'object' ? 'object' : typeof v;
}

/** Go's json.Unmarshal of the body: its syntax error first, then the value. */
function decode(body: Buffer, syntaxError: (message: string) => StatusError): Json {
  const problem = goJsonSyntaxError(body);
  if (problem !== null) throw syntaxError(problem);
  return JSON.parse(body.toString('utf8')) as Json;
}

const cannotUnmarshal = (v: Json, into: string) => `json: cannot unmarshal ${jsonKind(v)} into Go value of type ${into}`;

/** The first type error sigs.k8s.io/json reports decoding a JSON patch into []handlers.jsonPatchOp. */
function jsonPatchOpsProblem(v: Json): string | null {
  if (v === null) return null;
  if (!Array.isArray(v)) return cannotUnmarshal(v, '[]handlers.jsonPatchOp');
  for (const op of v) {
    if (op === null) continue;
    if (!isObject(op)) return cannotUnmarshal(op, 'handlers.jsonPatchOp');
    for (const [field, value] of Object.entries(op)) {
      if ((field === 'op' || field === 'path' || field === 'from') && value !== null && typeof value !== 'string') {
        return `json: cannot unmarshal ${jsonKind(value)} into Go struct field jsonPatchOp.${field} of type string`;
      }
    }
  }
  return null;
}

/** The result kube-apiserver could not decode as an object (a patch that made it an array). */
function notAnObject(result: Json): StatusError {
  const detail = `couldn't get version/kind; json parse error: ${cannotUnmarshal(result, FIND_KIND)}`;
  return invalid('', '', '', [fieldErrors.invalid('patch', JSON.stringify(result), detail)]);
}

function jsonPatch(doc: JsonObject, body: Buffer, validation: FieldValidation): Json {
  let ops: Json;
  if (validation === 'Ignore') {
    // evanphx/json-patch's DecodePatch alone: Go's error as it is.
    ops = decode(body, badRequest);
    if (ops !== null && !Array.isArray(ops)) throw badRequest(cannotUnmarshal(ops, 'jsonpatch.Patch'));
    const bad = (ops ?? []).find((op) => op !== null && !isObject(op));
    if (bad !== undefined) throw badRequest(cannotUnmarshal(bad, 'jsonpatch.Operation'));
  } else {
    ops = decode(body, (m) => badRequest(`error decoding patch: ${m}`));
    const problem = jsonPatchOpsProblem(ops);
    if (problem) throw badRequest(`error decoding patch: ${problem}`);
  }
  const list = (ops ?? []) as (JsonObject | null)[];
  if (list.length > MAX_JSON_PATCH_OPERATIONS) {
    throw failure(413, 'RequestEntityTooLarge', `Request entity too large: The allowed maximum operations in a JSON patch is ${MAX_JSON_PATCH_OPERATIONS}, got ${list.length}`);
  }
  try {
    return applyJsonPatch(doc, list);
  } catch (e) {
    if (e instanceof JsonPatchError) throw unprocessable();
    throw e;
  }
}

function mergePatch(doc: JsonObject, body: Buffer, validation: FieldValidation): Json {
  const invalidPatch = () => badRequest('Invalid JSON Patch');
  const patch = validation === 'Ignore' ? decode(body, invalidPatch) : decode(body, (m) => badRequest(`error decoding patch: ${m}`));
  if (validation !== 'Ignore' && patch !== null && !isObject(patch)) throw badRequest(`error decoding patch: ${cannotUnmarshal(patch, 'map[string]interface {}')}`);
  if (Array.isArray(patch)) return mergePatchArray(patch);
  if (!isObject(patch)) throw invalidPatch();
  return applyMergePatch(doc, patch);
}

function strategicPatch(kind: { group: string; kind: string }, doc: JsonObject, body: Buffer): Json {
  const patch = decode(body, badRequest);
  if (patch !== null && !isObject(patch)) throw badRequest(cannotUnmarshal(patch, 'map[string]interface {}'));
  if (patch === null) return doc;
  try {
    return strategicMergePatch(doc, patch, schemaFor(kind)!);
  } catch (e) {
    if (!(e instanceof StrategicPatchError)) throw e;
    if (e.kind === 'badRequest') throw badRequest(e.message);
    if (e.kind === 'unprocessable') throw unprocessable();
    throw unconverted(e.message);
  }
}

/**
 * Applies a PATCH body to `original` (left unchanged) as kube-apiserver does for an object of
 * `kind` (`{group: 'apps', kind: 'Deployment'}`; the scale subresource's is `{group:
 * 'autoscaling', kind: 'Scale'}`), and returns the patched object. Throws a StatusError with
 * kube-apiserver's status when the patch cannot be applied.
 */
export function applyPatch(kind: { group: string; kind: string }, original: object, patchBody: Buffer | string, contentType: string, options: PatchOptions = {}): object {
  const type = patchTypeOf(contentType, kind);
  const body = typeof patchBody === 'string' ? Buffer.from(patchBody, 'utf8') : patchBody;
  const doc = JSON.parse(JSON.stringify(original)) as JsonObject;
  const validation = options.fieldValidation ?? 'Warn';
  let result: Json;
  try {
    if (type === JSON_PATCH) result = jsonPatch(doc, body, validation);
    else if (type === MERGE_PATCH) result = mergePatch(doc, body, validation);
    else result = strategicPatch(kind, doc, body);
  } catch (e) {
    if (e instanceof GoPanic) throw new ApiserverPanic(e.message);
    throw e;
  }
  if (!isObject(result)) throw notAnObject(result);
  return result;
}
