// Kubernetes' Status object, the body of every API error (k8s.io/apimachinery metav1.Status), and
// the errors the HTTPS layer itself returns, with kube-apiserver's reasons and messages
// (apimachinery/pkg/api/errors). Fields are in Go's order, so responses match byte for byte.

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

export function failure(code: number, reason: string, message: string, details?: StatusDetails): Status {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

/** An error carrying its Status; the HTTPS layer answers with it (any thrown object with a Status `status` works). */
export class StatusError extends Error {
  constructor(readonly status: Status) {
    super(status.message ?? status.reason ?? `status ${status.code}`);
  }
}

/** A thrown value's Status, when it carries one (this module's StatusError or any look-alike). */
export function statusOf(err: unknown): Status | undefined {
  const s = (err as { status?: Partial<Status> } | null)?.status;
  return s && typeof s === 'object' && s.kind === 'Status' && typeof s.code === 'number' ? (s as Status) : undefined;
}

/** apierrors.NewUnauthorized("Unauthorized"): what the authentication filter answers. */
export const unauthorized = () => failure(401, 'Unauthorized', 'Unauthorized');

/** apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", limit)) (handlers' limitedReadBody). */
export const requestEntityTooLarge = (limit: number) => failure(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${limit}`);

export const badRequest = (message: string) => failure(400, 'BadRequest', message);

/** apierrors.NewInternalError(err). */
export const internalError = (message: string) => failure(500, 'InternalError', `Internal error occurred: ${message}`, { causes: [{ message }] });
