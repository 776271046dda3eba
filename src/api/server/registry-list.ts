// LIST with kube's resourceVersion semantics (k8s.io/apiserver storage: "" the newest state, "0" any
// state (here also the newest), N with resourceVersionMatch NotOlderThan at least N, Exact exactly
// N; N alone is NotOlderThan, or Exact when paging), selectors, and limit/continue paging with
// etcd3's continue tokens.
import { FutureRevisionError, GoneError } from '../storage/kine.ts';
import { decodeFromStorage, type KubeObject } from './object.ts';
import type { Registry } from './registry.ts';
import { apiVersionOf, storagePrefix, type ResourceInfo } from './resources.ts';
import { FieldSelector, LabelSelector, parseFieldSelector, parseLabelSelector, SelectorError, selectableFields } from './selectors.ts';
import * as errors from './status.ts';
import { fieldErrors, type FieldError } from './status.ts';

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion?: string;
  resourceVersionMatch?: '' | 'Exact' | 'NotOlderThan';
  limit?: number;
  continue?: string;
}

export interface KubeList {
  apiVersion: string;
  kind: string;
  metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number };
  /** Items carry no apiVersion/kind, as in kube's typed lists. */
  items: KubeObject[];
}

/** A resourceVersion parameter: undefined for "" and "0", else the revision; 400 if not a number. */
export function parseResourceVersion(rv: string | undefined): number | undefined {
  if (rv === undefined || rv === '' || rv === '0') return undefined;
  if (!/^\d+$/.test(rv) || !Number.isSafeInteger(Number(rv))) {
    // APIObjectVersioner.ParseResourceVersion wraps Go's strconv error in a field error.
    const why = /^\d+$/.test(rv) ? 'value out of range' : 'invalid syntax';
    const field = errors.fieldErrorString(fieldErrors.invalid('resourceVersion', rv, `strconv.ParseUint: parsing ${errors.goQuote(rv)}: ${why}`));
    throw errors.badRequest(`invalid resource version: ${field}`);
  }
  return Number(rv);
}

/** Parses both selectors of a request; a bad one is 400 with the parser's message. */
export function parseSelectors(r: ResourceInfo, opts: { labelSelector?: string; fieldSelector?: string }): { labels: LabelSelector; fields: FieldSelector } {
  try {
    return {
      labels: opts.labelSelector ? parseLabelSelector(opts.labelSelector) : LabelSelector.everything(),
      fields: opts.fieldSelector ? parseFieldSelector(opts.fieldSelector, r.plural) : FieldSelector.everything(),
    };
  } catch (err) {
    if (err instanceof SelectorError) throw errors.badRequest(err.message);
    throw err;
  }
}

export function matchesSelectors(r: ResourceInfo, obj: KubeObject, sel: { labels: LabelSelector; fields: FieldSelector }): boolean {
  return sel.labels.matches(obj.metadata.labels) && (sel.fields.empty || sel.fields.matches(selectableFields(r.plural, obj, r.namespaced)));
}

function validateListOptions(opts: ListOptions): void {
  const errs: FieldError[] = [];
  const match = opts.resourceVersionMatch;
  if (match) {
    if (!opts.resourceVersion) errs.push(fieldErrors.forbidden('resourceVersionMatch', 'resourceVersionMatch is forbidden unless resourceVersion is provided'));
    if (opts.continue) errs.push(fieldErrors.forbidden('resourceVersionMatch', 'resourceVersionMatch is forbidden when continue is provided'));
    if (match !== 'Exact' && match !== 'NotOlderThan') errs.push(fieldErrors.notSupported('resourceVersionMatch', match, ['Exact', 'NotOlderThan', '']));
    if (match === 'Exact' && opts.resourceVersion === '0') errs.push(fieldErrors.forbidden('resourceVersionMatch', 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'));
  }
  if (errs.length) throw errors.invalid('meta.k8s.io', 'ListOptions', '', errs);
}

interface ContinueToken {
  v: string;
  rv: number;
  start: string;
}

export function encodeContinue(startKey: string, prefix: string, rv: number): string {
  const token: ContinueToken = { v: 'meta.k8s.io/v1', rv, start: startKey.slice(prefix.length) };
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

function decodeContinue(value: string, prefix: string): { startKey: string; rv: number } {
  const invalid = (why: string) => errors.badRequest(`invalid continue token: continue key is not valid${why}`);
  let token: ContinueToken;
  try {
    if (!/^[A-Za-z0-9_-]*$/.test(value)) throw new Error('illegal base64 data');
    token = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as ContinueToken;
  } catch (err) {
    throw invalid(`: ${(err as Error).message}`);
  }
  if (token.v !== 'meta.k8s.io/v1') throw errors.badRequest(`invalid continue token: continue key is not valid: server does not recognize this encoded version ${token.v}`);
  if (!token.rv) throw invalid(': incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
  if (!token.start) throw invalid(': encoded start key empty (version meta.k8s.io/v1)');
  // Defend against a token that climbs out of the prefix (storage.DecodeContinue's path.Clean).
  const key = token.start.startsWith('/') ? token.start : `/${token.start}`;
  if (cleanPath(key) !== key) throw invalid(`: ${token.start}`);
  return { startKey: prefix + key.slice(1), rv: token.rv };
}

/** Go's path.Clean for an absolute path. */
function cleanPath(p: string): string {
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  return `/${out.join('/')}`;
}

const INCONSISTENT_CONTINUE =
  'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.';

export function listObjects(registry: Registry, r: ResourceInfo, namespace: string | undefined, opts: ListOptions): KubeList {
  validateListOptions(opts);
  const selectors = parseSelectors(r, opts);
  const prefix = storagePrefix(r, namespace);
  const store = registry.store;
  let exact: number | undefined;
  let startKey: string | undefined;
  const requested = parseResourceVersion(opts.resourceVersion);
  if (opts.continue) {
    const token = decodeContinue(opts.continue, prefix);
    if (opts.resourceVersion && opts.resourceVersion !== '0') throw errors.badRequest('specifying resource version is not allowed when using continue');
    startKey = token.startKey;
    if (token.rv > 0) exact = token.rv;
  } else if (requested !== undefined) {
    const match = opts.resourceVersionMatch || ((opts.limit ?? 0) > 0 ? 'Exact' : 'NotOlderThan');
    const current = store.currentRevision();
    if (requested > current) throw errors.tooLargeResourceVersion(requested, current);
    if (match === 'Exact') exact = requested;
  }
  let result;
  try {
    result = store.list(prefix, { revision: exact, startKey });
  } catch (err) {
    if (err instanceof GoneError) {
      if (!opts.continue) throw errors.resourceExpired('The resourceVersion for the provided list is too old.');
      const expired = errors.resourceExpired(INCONSISTENT_CONTINUE);
      expired.status.metadata.continue = encodeContinue(startKey!, prefix, -1);
      throw expired;
    }
    if (err instanceof FutureRevisionError) throw errors.tooLargeResourceVersion(err.requested, err.currentRevision);
    throw err;
  }
  const listRv = exact ?? result.revision;
  const limit = opts.limit && opts.limit > 0 ? opts.limit : Infinity;
  const items: KubeObject[] = [];
  let last: string | undefined;
  let remaining = 0;
  for (const kv of result.kvs) {
    const obj = decodeFromStorage(kv.value, kv.modRevision);
    if (!matchesSelectors(r, obj, selectors)) continue;
    if (items.length >= limit) {
      remaining++;
      continue;
    }
    delete obj.apiVersion;
    delete obj.kind;
    items.push(obj);
    last = kv.key;
  }
  const metadata: KubeList['metadata'] = { resourceVersion: String(listRv) };
  if (remaining > 0) {
    metadata.continue = encodeContinue(`${last!}\x00`, prefix, listRv);
    // Only an unfiltered list knows how many are left (kube leaves it unset with selectors).
    if (selectors.labels.empty && selectors.fields.empty) metadata.remainingItemCount = remaining;
  }
  return { kind: `${r.kind}List`, apiVersion: apiVersionOf(r), metadata, items };
}
