// X.509 certificates through the `openssl` command line (Debian's openssl): Node can make keys
// (node:crypto) and read certificates (X509Certificate) but cannot issue one, nor write a
// certificate signing request. Argument arrays only; no secret is ever on a command line: keys
// are passed as file paths, and the request's settings go through a config file written 0600
// into a private temporary directory removed afterwards.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { run } from './exec.ts';

export interface CertificateRequest {
  /** The new certificate's private key (PEM file; read by openssl, never passed as an argument). */
  keyFile: string;
  commonName: string;
  organizations?: string[];
  days: number;
  /** Serial number, hex digits. */
  serial: string;
  /** X.509 v3 extension lines in openssl config syntax (`basicConstraints = critical,CA:TRUE`). */
  extensions: string[];
  /** The signing CA; none for a self-signed certificate (a CA). */
  issuer?: { certFile: string; keyFile: string };
}

const TIMEOUT_MS = 30_000;

// Values that go into the config file: nothing openssl would expand ($var), continue or comment.
const SUBJECT_VALUE = /^[A-Za-z0-9][A-Za-z0-9:._@-]*$/;
const EXTENSION_LINE = /^[A-Za-z]+ = [A-Za-z0-9:.,_@ -]+$/;

/** The openssl config of one request: `prompt = no` takes the subject from [dn], so no -subj. */
export function requestConfig(req: Omit<CertificateRequest, 'keyFile' | 'issuer' | 'days' | 'serial'>): string {
  const names = [...(req.organizations ?? []), req.commonName];
  for (const v of names) if (!SUBJECT_VALUE.test(v)) throw new Error(`refusing certificate subject value ${JSON.stringify(v)}`);
  for (const l of req.extensions) if (!EXTENSION_LINE.test(l)) throw new Error(`refusing certificate extension ${JSON.stringify(l)}`);
  // Go's pkix.Name order (as client-go's certutil writes subjects): O before CN.
  const dn = [...(req.organizations ?? []).map((o, i) => `${i}.O = ${o}`), `CN = ${req.commonName}`];
  return ['[ req ]', 'distinguished_name = dn', 'prompt = no', 'string_mask = utf8only', '[ dn ]', ...dn, '[ ext ]', ...req.extensions, ''].join('\n');
}

/** Issues a certificate (PEM) for `keyFile`: self-signed when there is no issuer, else signed by it. */
export async function issueCertificate(req: CertificateRequest): Promise<string> {
  if (!/^[0-9a-f]{1,40}$/.test(req.serial)) throw new Error(`bad serial ${req.serial}`);
  if (!Number.isInteger(req.days) || req.days < 1) throw new Error(`bad validity ${req.days} days`);
  const dir = await mkdtemp(path.join(tmpdir(), 'lab-openssl-')); // mode 0700
  try {
    const config = path.join(dir, 'request.cnf');
    await writeFile(config, requestConfig(req), { mode: 0o600 });
    const common = ['-days', String(req.days), '-set_serial', `0x${req.serial}`, '-sha256'];
    if (!req.issuer) {
      const r = await run(['openssl', 'req', '-new', '-x509', '-config', config, '-key', req.keyFile, '-extensions', 'ext', ...common], { timeoutMs: TIMEOUT_MS });
      return r.stdout;
    }
    const csr = await run(['openssl', 'req', '-new', '-config', config, '-key', req.keyFile], { timeoutMs: TIMEOUT_MS });
    const r = await run(['openssl', 'x509', '-req', '-CA', req.issuer.certFile, '-CAkey', req.issuer.keyFile, '-extfile', config, '-extensions', 'ext', ...common], {
      input: csr.stdout,
      timeoutMs: TIMEOUT_MS,
    });
    return r.stdout;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A PEM certificate signing request (PKCS#10), no more than a few kilobytes. */
const CSR_PEM = /^-----BEGIN CERTIFICATE REQUEST-----\r?\n[A-Za-z0-9+/=\r\n]{1,16000}-----END CERTIFICATE REQUEST-----\r?\n?$/;

export function isCsrPem(text: string): boolean {
  return CSR_PEM.test(text);
}

/** A certificate signing request for `keyFile` (what a k3s agent sends its server), PEM. */
export async function certificateSigningRequest(keyFile: string, commonName: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'lab-openssl-'));
  try {
    const config = path.join(dir, 'request.cnf');
    await writeFile(config, requestConfig({ commonName, extensions: [] }), { mode: 0o600 });
    return (await run(['openssl', 'req', '-new', '-config', config, '-key', keyFile], { timeoutMs: TIMEOUT_MS })).stdout;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface SignRequest extends Omit<CertificateRequest, 'keyFile' | 'issuer'> {
  /** The requester's CSR (PEM): only its public key is used; openssl checks its self-signature. */
  csr: string;
  issuer: { certFile: string; keyFile: string };
}

/**
 * Signs a CSR with the issuer's key, as k3s's supervisor signs an agent's: the subject and the
 * extensions are the signer's (`-subj` replaces whatever the request named), the key the requester's.
 */
export async function signCertificateRequest(req: SignRequest): Promise<string> {
  if (!isCsrPem(req.csr)) throw new Error('not a PEM certificate signing request');
  if (!/^[0-9a-f]{1,40}$/.test(req.serial)) throw new Error(`bad serial ${req.serial}`);
  if (!Number.isInteger(req.days) || req.days < 1) throw new Error(`bad validity ${req.days} days`);
  // requestConfig validates every subject value (no '/', '=', '$' or newline can reach -subj).
  const configText = requestConfig(req);
  const subject = [...(req.organizations ?? []).map((o) => `/O=${o}`), `/CN=${req.commonName}`].join('');
  const dir = await mkdtemp(path.join(tmpdir(), 'lab-openssl-'));
  try {
    const config = path.join(dir, 'request.cnf');
    await writeFile(config, configText, { mode: 0o600 });
    const r = await run(
      ['openssl', 'x509', '-req', '-subj', subject, '-CA', req.issuer.certFile, '-CAkey', req.issuer.keyFile, '-extfile', config, '-extensions', 'ext', '-days', String(req.days), '-set_serial', `0x${req.serial}`, '-sha256'],
      { input: req.csr, timeoutMs: TIMEOUT_MS },
    );
    return r.stdout;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
