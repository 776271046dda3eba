// The kubelet's certificates, as a k3s agent gets them at every start: it keeps its own keys
// (ECDSA P-256, 0600), sends its server a certificate signing request for each, and writes what
// the server signed (api/node-certs.ts) beside them, with the client CA its :10250 checks callers
// against. k3s's file names, under the node's agent directory (k3s: /var/lib/rancher/k3s/agent):
// serving-kubelet.{crt,key}, client-kubelet.{crt,key}, client-ca.crt.
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { chmod, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { NodeCertKind } from '../api/node-certs.ts';
import { writeFileAtomic } from '../sys/files.ts';
import { certificateSigningRequest } from '../sys/openssl.ts';
import type { InstancePaths } from '../node/instance.ts';

export interface KubeletCerts {
  servingCert: string;
  servingKey: string;
  clientCert: string;
  clientKey: string;
  /** What the kubelet's server verifies client certificates with (--client-ca-file). */
  clientCa: string;
}

/** Signs a CSR of this node's: the server's supervisor over HTTPS, or its PKI in process. */
export type SignNodeCert = (kind: NodeCertKind, csr: string) => Promise<string>;

/** The node's agent directory (k3s: /var/lib/rancher/k3s/agent). */
export function kubeletCertDir(paths: InstancePaths, node: string): string {
  return path.join(paths.nodeDir(node), 'agent');
}

/** The key in `file`, kept if it is one; a new one otherwise. */
async function ensureKey(file: string): Promise<string> {
  const have = await readFile(file, 'utf8').catch(() => null);
  if (have) {
    try {
      createPrivateKey(have);
      await chmod(file, 0o600);
      return have;
    } catch {
      /* unreadable: a new one */
    }
  }
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const key = privateKey.export({ type: 'sec1', format: 'pem' }) as string;
  await writeFileAtomic(file, key, { mode: 0o600 });
  return key;
}

export async function ensureKubeletCerts(dir: string, node: string, clientCa: string, sign: SignNodeCert): Promise<KubeletCerts> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const one = async (kind: NodeCertKind) => {
    const keyFile = path.join(dir, `${kind}.key`);
    const key = await ensureKey(keyFile);
    const cert = await sign(kind, await certificateSigningRequest(keyFile, node));
    await writeFileAtomic(path.join(dir, `${kind}.crt`), cert, { mode: 0o644 });
    return { cert, key };
  };
  const serving = await one('serving-kubelet');
  const client = await one('client-kubelet');
  await writeFileAtomic(path.join(dir, 'client-ca.crt'), clientCa, { mode: 0o644 });
  return { servingCert: serving.cert, servingKey: serving.key, clientCert: client.cert, clientKey: client.key, clientCa };
}
