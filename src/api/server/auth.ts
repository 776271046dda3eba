// Authentication as kube-apiserver's union authenticator does it, with the two methods k3s's
// kubeconfigs use: a client certificate signed by the client CA (x509: CN is the user, each O a
// group) and a bearer token (a static token, as --token-auth-file). The first method that
// succeeds wins, so a valid token still works next to a certificate from another CA; no valid
// credential is 401: k3s runs kube-apiserver with --anonymous-auth=false, so there is no
// system:anonymous, not even for /healthz or /version.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { TLSSocket } from 'node:tls';

export interface UserInfo {
  name: string;
  /** Includes system:authenticated, which kube-apiserver adds to every authenticated user. */
  groups: string[];
}

export interface TokenUser {
  token: string;
  user: { name: string; groups: string[] };
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();

const authenticated = (name: string, groups: string[]): UserInfo => ({ name, groups: [...groups.filter((g) => g !== 'system:authenticated'), 'system:authenticated'] });

/**
 * The client certificate's user, when the TLS handshake verified it against the client CA (the
 * server asks for a certificate but accepts connections without one or with one it cannot verify:
 * `socket.authorized` tells). Node's TLS checks the chain, the validity dates and the clientAuth
 * usage, as the x509 authenticator's Verify does. A certificate without a CN is no user.
 */
export function certificateUser(socket: TLSSocket): UserInfo | null {
  if (!socket.authorized) return null;
  const cert = socket.getPeerCertificate();
  const subject = cert?.subject as Record<string, string | string[] | undefined> | undefined;
  const cn = subject?.CN;
  if (typeof cn !== 'string' || cn === '') return null;
  const o = subject?.O;
  return authenticated(cn, o === undefined ? [] : Array.isArray(o) ? o : [o]);
}

/** `Authorization: Bearer <token>` (scheme case-insensitive, as the bearertoken authenticator reads it). */
export function bearerToken(headers: IncomingHttpHeaders): string | null {
  const parts = (headers.authorization ?? '').trim().split(' ');
  if (parts.length < 2 || parts[0]!.toLowerCase() !== 'bearer' || parts[1] === '') return null;
  return parts[1]!;
}

/** The token's user; comparisons take the same time whichever byte differs. */
export function tokenUser(token: string, tokens: readonly TokenUser[]): UserInfo | null {
  const given = sha256(token);
  let found: TokenUser | null = null;
  for (const t of tokens) if (timingSafeEqual(given, sha256(t.token))) found = t;
  return found ? authenticated(found.user.name, found.user.groups) : null;
}

export function authenticate(socket: TLSSocket, headers: IncomingHttpHeaders, tokens: readonly TokenUser[]): UserInfo | null {
  const fromCert = certificateUser(socket);
  if (fromCert) return fromCert;
  const token = bearerToken(headers);
  return token === null ? null : tokenUser(token, tokens);
}
