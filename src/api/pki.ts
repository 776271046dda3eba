// The API server's certificates and token, as k3s makes them on its first start
// (pkg/daemons/control/deps): a server CA that signs the serving certificate, a client CA that
// signs client certificates (the admin's: CN=system:admin, O=system:masters), under k3s's file
// names in `server/tls/`, and a random token in `server/token`. Keys are ECDSA P-256 (k3s's
// choice), made by node:crypto and written 0600; certificates are issued by openssl
// (src/sys/openssl.ts). Everything is made once and reused: a later start regenerates only a piece
// that is missing, unreadable, expired (leaf certificates: within 90 days of it, k3s's
// CertificateRenewDays), not matching its key, or no longer what it should be (subject, SANs,
// issuer), as k3s's fieldsChanged does; a new CA therefore brings new certificates below it.
// Certificate files hold the certificate followed by its CA, as k3s writes them.
import { X509Certificate, createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile } from 'node:fs/promises';
import { isIPv6 } from 'node:net';
import path from 'node:path';
import { writeFileAtomic } from '../sys/files.ts';
import { lockFile } from '../sys/flock.ts';
import { issueCertificate } from '../sys/openssl.ts';
import { nth, parseCidr } from '../util/cidr.ts';
import type { ClusterConfig } from './types.ts';

export interface PkiPaths {
  /** k3s: /var/lib/rancher/k3s/server/tls. */
  tlsDir: string;
  /** k3s: /var/lib/rancher/k3s/server/token. */
  tokenFile: string;
}

/** What the serving certificate must name (k3s's SANs). */
export interface PkiSettings {
  nodeName: string;
  nodeIP: string;
  /** The `kubernetes` Service's ClusterIP: the first address of the service CIDR (10.43.0.1). */
  serviceIP: string;
  clusterDomain: string;
}

export interface Pki {
  serverCaCert: string;
  clientCaCert: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  /**
   * kube-apiserver's client certificate for the kubelets (--kubelet-client-certificate; k3s:
   * client-kube-apiserver.crt, CN=system:apiserver, O=system:masters): what it shows a node's :10250.
   */
  kubeletClientCert: string;
  kubeletClientKey: string;
  token: string;
  /** What this call made anew, and why (empty when everything was reused). */
  generated: { name: string; reason: string }[];
}

/** The kubeconfig user a client certificate or the token stands for: k3s's admin. */
export const ADMIN_USER = { name: 'system:admin', groups: ['system:masters'] };
/** The user kube-apiserver is to a kubelet (k3s's client-kube-apiserver certificate). */
export const APISERVER_USER = { name: 'system:apiserver', groups: ['system:masters'] };

const PROGRAM = 'packet-path-lab';
const CA_DAYS = 3650; // client-go certutil: ten years for a self-signed CA
export const LEAF_DAYS = 365; // and one for the certificates it signs
const RENEW_DAYS = 90; // k3s's CertificateRenewDays
const DAY_MS = 86_400_000;

export interface CertSpec {
  /** File name without .crt/.key (k3s's). */
  name: string;
  commonName: string;
  organizations: string[];
  /** The CA piece that signs it; none for a CA. */
  issuer?: string;
  usage?: 'serverAuth' | 'clientAuth';
  dns?: string[];
  ips?: string[];
}

/** The SAN inputs of a cluster configuration (lab/config.yaml). */
export function pkiSettings(c: Pick<ClusterConfig, 'nodeName' | 'nodeIP' | 'serviceCIDR' | 'clusterDomain'>): PkiSettings {
  return { nodeName: c.nodeName, nodeIP: c.nodeIP, serviceIP: nth(parseCidr(c.serviceCIDR), 1), clusterDomain: c.clusterDomain };
}

/** k3s's serving SANs: the in-cluster names, localhost, the node's name and IP, the Service IP. */
export function servingSans(s: PkiSettings): { dns: string[]; ips: string[] } {
  const dns = ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', `kubernetes.default.svc.${s.clusterDomain}`, 'localhost', s.nodeName];
  const ips = ['127.0.0.1', '::1', s.nodeIP, s.serviceIP];
  return { dns: [...new Set(dns)], ips: [...new Set(ips)] };
}

function specs(s: PkiSettings): CertSpec[] {
  const sans = servingSans(s);
  return [
    // The CN carries its creation time, as k3s's `k3s-server-ca@<unix seconds>`; it is not compared.
    { name: 'server-ca', commonName: `${PROGRAM}-server-ca@`, organizations: [] },
    { name: 'client-ca', commonName: `${PROGRAM}-client-ca@`, organizations: [] },
    { name: 'serving-kube-apiserver', commonName: 'kube-apiserver', organizations: [], issuer: 'server-ca', usage: 'serverAuth', ...sans },
    { name: 'client-admin', commonName: ADMIN_USER.name, organizations: ADMIN_USER.groups, issuer: 'client-ca', usage: 'clientAuth' },
    { name: 'client-kube-apiserver', commonName: APISERVER_USER.name, organizations: APISERVER_USER.groups, issuer: 'client-ca', usage: 'clientAuth' },
  ];
}

/** `O=a\nCN=b` (Node's X509Certificate.subject) as attribute lists. */
function subjectOf(cert: X509Certificate): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of cert.subject.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out.set(line.slice(0, i), [...(out.get(line.slice(0, i)) ?? []), line.slice(i + 1)]);
  }
  return out;
}

/** An IPv6 address with every group written out, as Node prints them in subjectAltName. */
function expandIPv6(ip: string): string {
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.map((g) => parseInt(g, 16).toString(16).toUpperCase()).join(':');
}

function sansOf(cert: X509Certificate): { dns: Set<string>; ips: Set<string> } {
  const dns = new Set<string>();
  const ips = new Set<string>();
  for (const entry of (cert.subjectAltName ?? '').split(', ')) {
    if (entry.startsWith('DNS:')) dns.add(entry.slice(4));
    else if (entry.startsWith('IP Address:')) ips.add(entry.slice(11).toUpperCase());
  }
  return { dns, ips };
}

/**
 * Why the certificate `pem` with key `keyPem` must be made anew, or null when it can stay. Pure:
 * `issuerCa` is the certificate of the CA that must have signed it; none for a CA itself.
 */
export function certProblem(spec: Omit<CertSpec, 'name' | 'issuer'>, pem: string, keyPem: string, now: Date, issuerCa?: string): string | null {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) return 'certificate and key do not match';
  } catch (e) {
    return `unreadable (${(e as Error).message})`;
  }
  const notAfter = Date.parse(cert.validTo);
  if (issuerCa === undefined) {
    if (!cert.ca) return 'not a CA certificate';
    return notAfter <= now.getTime() ? `expired on ${cert.validTo}` : null;
  }
  if (notAfter - now.getTime() < RENEW_DAYS * DAY_MS) return `expires on ${cert.validTo}, within ${RENEW_DAYS} days`;
  const subject = subjectOf(cert);
  if ((subject.get('CN') ?? []).join() !== spec.commonName) return `common name is not ${spec.commonName}`;
  const orgs = subject.get('O') ?? [];
  if ([...orgs].sort().join() !== [...spec.organizations].sort().join()) return `organizations are not ${spec.organizations.join(', ') || '(none)'}`;
  const have = sansOf(cert);
  const missing = [...(spec.dns ?? []).filter((d) => !have.dns.has(d)), ...(spec.ips ?? []).filter((ip) => !have.ips.has(isIPv6(ip) ? expandIPv6(ip) : ip))];
  if (missing.length) return `SAN ${missing.join(', ')} missing`;
  const ca = new X509Certificate(issuerCa);
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return 'not signed by the current CA';
  return null;
}

export function extensions(spec: CertSpec): string[] {
  if (!spec.issuer) {
    return ['basicConstraints = critical,CA:TRUE', 'keyUsage = critical,digitalSignature,keyEncipherment,keyCertSign', 'subjectKeyIdentifier = hash'];
  }
  const sans = [...(spec.dns ?? []).map((d) => `DNS:${d}`), ...(spec.ips ?? []).map((ip) => `IP:${ip}`)];
  return [
    'basicConstraints = critical,CA:FALSE',
    'keyUsage = critical,digitalSignature,keyEncipherment',
    `extendedKeyUsage = ${spec.usage}`,
    'authorityKeyIdentifier = keyid',
    ...(sans.length ? [`subjectAltName = ${sans.join(',')}`] : []),
  ];
}

const read = (file: string) => readFile(file, 'utf8').catch(() => null);
export const randomSerial = () => (randomBytes(8).readBigUInt64BE() >> 1n || 1n).toString(16);

async function ensureCert(dir: string, spec: CertSpec, issuerPem: string | undefined, now: Date): Promise<{ cert: string; key: string; reason: string | null }> {
  const certFile = path.join(dir, `${spec.name}.crt`);
  const keyFile = path.join(dir, `${spec.name}.key`);
  const [pem, keyPem] = [await read(certFile), await read(keyFile)];
  const reason = pem === null || keyPem === null ? 'missing' : certProblem(spec, pem, keyPem, now, issuerPem);
  if (reason === null) {
    await chmod(keyFile, 0o600);
    return { cert: pem!, key: keyPem!, reason };
  }
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const key = privateKey.export({ type: 'sec1', format: 'pem' }) as string;
  await writeFileAtomic(keyFile, key, { mode: 0o600 });
  const issuer = spec.issuer ? { certFile: path.join(dir, `${spec.issuer}.crt`), keyFile: path.join(dir, `${spec.issuer}.key`) } : undefined;
  const commonName = spec.issuer ? spec.commonName : `${spec.commonName}${Math.floor(now.getTime() / 1000)}`;
  const issued = await issueCertificate({
    keyFile,
    commonName,
    organizations: spec.organizations,
    days: spec.issuer ? LEAF_DAYS : CA_DAYS,
    serial: randomSerial(),
    extensions: extensions(spec),
    issuer,
  });
  const cert = issuerPem ? issued + issuerPem : issued;
  await writeFileAtomic(certFile, cert, { mode: 0o644 });
  return { cert, key, reason };
}

const TOKEN = /^[0-9a-f]{64}$/;

/**
 * Makes whatever is missing or wrong under `paths` and returns the whole set. Callers in several
 * processes (the controller starting its API server, `lab kubeconfig`) take turns through a
 * lock in the directory, so they never make two different CAs.
 */
export async function ensurePki(paths: PkiPaths, settings: PkiSettings, now: Date = new Date()): Promise<Pki> {
  await mkdir(paths.tlsDir, { recursive: true, mode: 0o700 });
  await mkdir(path.dirname(paths.tokenFile), { recursive: true, mode: 0o700 });
  await chmod(paths.tlsDir, 0o700);
  const lock = await lockFile(path.join(paths.tlsDir, '.lock'), 30_000);
  if (!lock) throw new Error(`${paths.tlsDir} is locked by another process for more than 30 s`);
  try {
    const generated: Pki['generated'] = [];
    const made = new Map<string, { cert: string; key: string }>();
    for (const spec of specs(settings)) {
      // The issuer's certificate alone (its file is just the CA: CAs are self-signed here).
      const issuerPem = spec.issuer ? made.get(spec.issuer)!.cert : undefined;
      const r = await ensureCert(paths.tlsDir, spec, issuerPem, now);
      if (r.reason !== null) generated.push({ name: spec.name, reason: r.reason });
      made.set(spec.name, r);
    }
    let token = (await read(paths.tokenFile))?.trim() ?? '';
    if (!TOKEN.test(token)) {
      generated.push({ name: 'token', reason: token ? 'not 64 hex digits' : 'missing' });
      token = randomBytes(32).toString('hex');
      await writeFileAtomic(paths.tokenFile, `${token}\n`, { mode: 0o600 });
    }
    await chmod(paths.tokenFile, 0o600);
    const get = (name: string) => made.get(name)!;
    return {
      serverCaCert: get('server-ca').cert,
      clientCaCert: get('client-ca').cert,
      servingCert: get('serving-kube-apiserver').cert,
      servingKey: get('serving-kube-apiserver').key,
      adminCert: get('client-admin').cert,
      adminKey: get('client-admin').key,
      kubeletClientCert: get('client-kube-apiserver').cert,
      kubeletClientKey: get('client-kube-apiserver').key,
      token,
      generated,
    };
  } finally {
    lock.release();
  }
}

/** SHA-256 fingerprint of a PEM certificate (its first one), as `openssl x509 -fingerprint -sha256`. */
export function fingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}
