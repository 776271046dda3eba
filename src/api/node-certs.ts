// The certificates a node's kubelet gets from its server, as k3s's supervisor signs them
// (pkg/server/handlers: ServingKubeletCert, ClientKubeletCert): the agent sends a certificate
// signing request for a key it keeps, the server signs it with the subject and usages it chooses.
//   serving-kubelet: CN=<node>, SANs <node>, localhost, 127.0.0.1 and the node's IPs, serverAuth,
//     signed by the server CA: what :10250 presents, checked by kube-apiserver with the server CA
//     (k3s runs it with --kubelet-certificate-authority=server-ca.crt).
//   client-kubelet: CN=system:node:<node>, O=system:nodes, clientAuth, signed by the client CA:
//     the kubelet's credential towards the API server.
// k3s guards these paths with the node's password as well; the lab takes the join token alone.
import { isIP } from 'node:net';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { lockFile } from '../sys/flock.ts';
import { signCertificateRequest } from '../sys/openssl.ts';
import { dns1123SubdomainProblem } from './names.ts';
import { extensions, LEAF_DAYS, randomSerial, type CertSpec } from './pki.ts';

export type NodeCertKind = 'serving-kubelet' | 'client-kubelet';
export const NODE_CERT_KINDS: readonly NodeCertKind[] = ['serving-kubelet', 'client-kubelet'];

/** The user a node's kubelet is to the API server (client-go's system:node:<name>, group system:nodes). */
export const nodeUser = (node: string) => ({ name: `system:node:${node}`, groups: ['system:nodes'] });

/** What the server puts in a node's certificate: its own choice, never the request's. Pure. */
export function nodeCertSpec(kind: NodeCertKind, node: string, nodeIPs: string[]): CertSpec {
  const problem = dns1123SubdomainProblem(node);
  if (problem) throw new Error(`node name ${JSON.stringify(node)}: ${problem}`);
  for (const ip of nodeIPs) if (!isIP(ip)) throw new Error(`invalid node IP address ${JSON.stringify(ip)}`);
  if (kind === 'client-kubelet') {
    const u = nodeUser(node);
    return { name: kind, commonName: u.name, organizations: u.groups, issuer: 'client-ca', usage: 'clientAuth' };
  }
  return { name: kind, commonName: node, organizations: [], issuer: 'server-ca', usage: 'serverAuth', dns: [node, 'localhost'], ips: [...new Set(['127.0.0.1', ...nodeIPs])] };
}

/**
 * Signs a node's CSR with the server's CA (`tlsDir`: server/tls); answers the certificate followed
 * by its CA, as k3s sends it. Takes the PKI's lock, so a CA being made anew is never half read.
 */
export async function signNodeCertificate(tlsDir: string, kind: NodeCertKind, node: string, nodeIPs: string[], csr: string): Promise<string> {
  const spec = nodeCertSpec(kind, node, nodeIPs);
  const lock = await lockFile(path.join(tlsDir, '.lock'), 30_000);
  if (!lock) throw new Error(`${tlsDir} is locked by another process for more than 30 s`);
  try {
    const issuer = { certFile: path.join(tlsDir, `${spec.issuer}.crt`), keyFile: path.join(tlsDir, `${spec.issuer}.key`) };
    const cert = await signCertificateRequest({ csr, commonName: spec.commonName, organizations: spec.organizations, days: LEAF_DAYS, serial: randomSerial(), extensions: extensions(spec), issuer });
    return cert + (await readFile(issuer.certFile, 'utf8'));
  } finally {
    lock.release();
  }
}
