// Errors as kube-apiserver returns them: one StatusError carrying a metav1.Status, built by the
// constructors of k8s.io/apimachinery/pkg/api/errors with their messages word for word, and the
// field errors of k8s.io/apimachinery/pkg/util/validation/field that an Invalid status lists.

export interface StatusCause {
  /** The field error type (`FieldValueInvalid`, ...); JSON `reason`, as metav1.StatusCause. */
  reason?: string;
  message?: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  /** For most errors the resource (`pods`), for Invalid the kind (`Pod`): kube's own mix. */
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: { continue?: string };
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: StatusDetails;
  /** Absent on the Success status a DELETE returns. */
  code?: number;
}

export class StatusError extends Error {
  constructor(readonly status: Status) {
    super(status.message ?? status.reason ?? 'unknown error');
    this.name = 'StatusError';
  }

  get code(): number {
    return this.status.code ?? 500;
  }

  get reason(): string | undefined {
    return this.status.reason;
  }
}

/** A label or field selector that does not parse; the API answers 400 with its message. */
export class SelectorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SelectorError';
  }
}

export interface GroupResource {
  group: string;
  resource: string;
}

/** `pods`, `deployments.apps` (schema.GroupResource.String). */
export function groupResourceString(gr: GroupResource): string {
  return gr.group ? `${gr.resource}.${gr.group}` : gr.resource;
}

/** `Pod`, `Deployment.apps` (schema.GroupKind.String). */
export function groupKindString(group: string, kind: string): string {
  return group ? `${kind}.${group}` : kind;
}

export function failure(code: number, reason: string, message: string, details?: StatusDetails): StatusError {
  // metav1.Status's field order: details before code.
  const status: Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason };
  if (details) status.details = compact(details);
  status.code = code;
  return new StatusError(status);
}

function compact(details: StatusDetails): StatusDetails {
  // metav1.StatusDetails fields are omitempty.
  const out: StatusDetails = {};
  if (details.name) out.name = details.name;
  if (details.group) out.group = details.group;
  if (details.kind) out.kind = details.kind;
  if (details.uid) out.uid = details.uid;
  if (details.causes && details.causes.length > 0) out.causes = details.causes;
  if (details.retryAfterSeconds) out.retryAfterSeconds = details.retryAfterSeconds;
  return out;
}

const grDetails = (gr: GroupResource, name: string): StatusDetails => ({ name, group: gr.group, kind: gr.resource });

export function notFound(gr: GroupResource, name: string): StatusError {
  return failure(404, 'NotFound', `${groupResourceString(gr)} ${goQuote(name)} not found`, grDetails(gr, name));
}

export function alreadyExists(gr: GroupResource, name: string): StatusError {
  return failure(409, 'AlreadyExists', `${groupResourceString(gr)} ${goQuote(name)} already exists`, grDetails(gr, name));
}

/** generateName gave a name that exists, on every attempt (NewGenerateNameConflict). */
export function generateNameConflict(gr: GroupResource, name: string, retryAfterSeconds: number): StatusError {
  const message = `${groupResourceString(gr)} ${goQuote(name)} already exists, the server was not able to generate a unique name for the object`;
  return failure(409, 'AlreadyExists', message, { ...grDetails(gr, name), retryAfterSeconds });
}

export const OPTIMISTIC_LOCK_MESSAGE = 'the object has been modified; please apply your changes to the latest version and try again';

export function conflict(gr: GroupResource, name: string, why: string): StatusError {
  return failure(409, 'Conflict', `Operation cannot be fulfilled on ${groupResourceString(gr)} ${goQuote(name)}: ${why}`, grDetails(gr, name));
}

export function forbidden(gr: GroupResource, name: string, why: string): StatusError {
  const what = groupResourceString(gr);
  const message = name ? `${what} ${goQuote(name)} is forbidden: ${why}` : `${what} is forbidden: ${why}`;
  return failure(403, 'Forbidden', message, grDetails(gr, name));
}

/** What kube-apiserver answers for a path it does not serve (an unknown resource or subresource). */
export function pathNotFound(): StatusError {
  return failure(404, 'NotFound', 'the server could not find the requested resource', {});
}

/** A thrown value's Status, when it carries one (a StatusError or any look-alike). */
export function statusOf(err: unknown): Status | undefined {
  const s = (err as { status?: Partial<Status> } | null)?.status;
  return s && typeof s === 'object' && s.kind === 'Status' && typeof s.code === 'number' ? (s as Status) : undefined;
}

/** apierrors.NewUnauthorized("Unauthorized"): what the authentication filter answers. */
export const unauthorized = () => failure(401, 'Unauthorized', 'Unauthorized');

/** apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", limit)) (handlers' limitedReadBody). */
export const requestEntityTooLarge = (limit: number) => failure(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${limit}`);

export function badRequest(message: string): StatusError {
  return failure(400, 'BadRequest', message);
}

/** 410 with reason Expired (NewResourceExpired): a resourceVersion or continue token too old. */
export function resourceExpired(message: string): StatusError {
  return failure(410, 'Expired', message);
}

export function methodNotSupported(gr: GroupResource, action: string): StatusError {
  return failure(405, 'MethodNotAllowed', `${action} is not supported on resources of kind ${goQuote(groupResourceString(gr))}`, { group: gr.group, kind: gr.resource });
}

export function internalError(err: unknown): StatusError {
  const text = err instanceof Error ? err.message : String(err);
  return failure(500, 'InternalError', `Internal error occurred: ${text}`, { causes: [{ message: text }] });
}

/** storage.NewTooLargeResourceVersionError: a list or get at a resourceVersion the store has not reached. */
export function tooLargeResourceVersion(minimum: number, current: number): StatusError {
  const err = failure(504, 'Timeout', `Timeout: Too large resource version: ${minimum}, current: ${current}`, {
    causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
    retryAfterSeconds: 1,
  });
  return err;
}

export function invalid(group: string, kind: string, name: string, errors: FieldError[]): StatusError {
  const causes = errors.map((e) => ({ reason: e.type, message: errorBody(e), field: e.field }));
  const aggregate = aggregateMessage(errors);
  const what = `${groupKindString(group, kind)} ${goQuote(name)} is invalid`;
  return failure(422, 'Invalid', aggregate ? `${what}: ${aggregate}` : what, { name, group, kind, causes });
}

// ---------------------------------------------------------------------------------------------------
// Field errors (k8s.io/apimachinery/pkg/util/validation/field).

export type FieldErrorType =
  | 'FieldValueNotFound'
  | 'FieldValueRequired'
  | 'FieldValueDuplicate'
  | 'FieldValueInvalid'
  | 'FieldValueNotSupported'
  | 'FieldValueForbidden'
  | 'FieldValueTooLong'
  | 'FieldValueTooMany'
  | 'InternalError';

const TYPE_TEXT: Record<FieldErrorType, string> = {
  FieldValueNotFound: 'Not found',
  FieldValueRequired: 'Required value',
  FieldValueDuplicate: 'Duplicate value',
  FieldValueInvalid: 'Invalid value',
  FieldValueNotSupported: 'Unsupported value',
  FieldValueForbidden: 'Forbidden',
  FieldValueTooLong: 'Too long',
  FieldValueTooMany: 'Too many',
  InternalError: 'Internal error',
};

/** A value printed as Go source would print it (`0x0` for a uint64 zero), when %q/%v would not do. */
export interface GoSyntax {
  goSyntax: string;
}

export interface FieldError {
  type: FieldErrorType;
  field: string;
  badValue?: unknown;
  detail: string;
}

export const fieldErrors = {
  required: (field: string, detail = ''): FieldError => ({ type: 'FieldValueRequired', field, detail }),
  invalid: (field: string, badValue: unknown, detail: string): FieldError => ({ type: 'FieldValueInvalid', field, badValue, detail }),
  forbidden: (field: string, detail: string): FieldError => ({ type: 'FieldValueForbidden', field, detail }),
  duplicate: (field: string, badValue: unknown): FieldError => ({ type: 'FieldValueDuplicate', field, badValue, detail: '' }),
  notSupported: (field: string, badValue: unknown, valid: string[]): FieldError => ({
    type: 'FieldValueNotSupported',
    field,
    badValue,
    detail: valid.length ? `supported values: ${valid.map(goQuote).join(', ')}` : '',
  }),
  tooLong: (field: string, maxBytes: number): FieldError => ({ type: 'FieldValueTooLong', field, detail: `must have at most ${maxBytes} bytes` }),
  notFound: (field: string, badValue: unknown): FieldError => ({ type: 'FieldValueNotFound', field, badValue, detail: '' }),
};

/** The message without the field (field.Error.ErrorBody). */
export function errorBody(e: FieldError): string {
  let s = TYPE_TEXT[e.type];
  const valueless = e.type === 'FieldValueRequired' || e.type === 'FieldValueForbidden' || e.type === 'FieldValueTooLong' || e.type === 'InternalError';
  if (!valueless) s += `: ${goValue(e.badValue)}`;
  if (e.detail) s += `: ${e.detail}`;
  return s;
}

export function fieldErrorString(e: FieldError): string {
  return `${e.field}: ${errorBody(e)}`;
}

/** utilerrors.Aggregate's message: one error as is, several as `[a, b]`, duplicates once. */
export function aggregateMessage(errors: FieldError[]): string {
  const messages = [...new Set(errors.map(fieldErrorString))];
  if (messages.length === 0) return '';
  return messages.length === 1 ? messages[0]! : `[${messages.join(', ')}]`;
}

function goValue(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return goQuote(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'object' && 'goSyntax' in value) return (value as GoSyntax).goSyntax;
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return `[]string{${value.map(goQuote).join(', ')}}`;
  return JSON.stringify(value);
}

/** A map[string]string as Go's %#v prints it (keys sorted): `map[string]string{"app":"web"}`. */
export function goMap(m: Record<string, string> | undefined | null): GoSyntax {
  if (!m) return { goSyntax: 'map[string]string(nil)' };
  const entries = Object.keys(m).sort().map((k) => `${goQuote(k)}:${goQuote(String(m[k]))}`);
  return { goSyntax: `map[string]string{${entries.join(', ')}}` };
}

/** A []string as %#v prints it (nil as `[]string(nil)`). */
export function goStrings(list: string[] | undefined | null): GoSyntax {
  return { goSyntax: list ? `[]string{${list.map(goQuote).join(', ')}}` : '[]string(nil)' };
}

interface SelectorLike {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key?: string; operator?: string; values?: string[] }[];
}

/** A metav1.LabelSelector as %#v prints it, what kube shows for an invalid or changed selector. */
export function goLabelSelector(sel: SelectorLike): GoSyntax {
  const exprs = sel.matchExpressions
    ? `[]v1.LabelSelectorRequirement{${sel.matchExpressions
        .map((e) => `v1.LabelSelectorRequirement{Key:${goQuote(e.key ?? '')}, Operator:${goQuote(e.operator ?? '')}, Values:${goStrings(e.values).goSyntax}}`)
        .join(', ')}}`
    : '[]v1.LabelSelectorRequirement(nil)';
  return { goSyntax: `v1.LabelSelector{MatchLabels:${goMap(sel.matchLabels).goSyntax}, MatchExpressions:${exprs}}` };
}

/** Go's %q (strconv.Quote) for the values a message shows. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}
