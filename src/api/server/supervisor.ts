// k3s's supervisor paths, served on the API port as k3s serves them (pkg/server/router.go), for
// the agents: GET /cacerts needs no credentials (an agent checks the bundle against its token's
// CA hash before it trusts the server); the rest come after authentication: GET /v1-k3s/config
// (the cluster settings an agent takes), GET /v1-k3s/client-ca.crt (the CA its kubelet checks
// clients of :10250 against), and POST /v1-k3s/serving-kubelet.crt and /v1-k3s/client-kubelet.crt
// with a certificate signing request as the body and the node named in the `k3s-Node-Name` and
// `k3s-Node-IP` headers: the answer is the signed certificate followed by its CA.
import type { IncomingHttpHeaders } from 'node:http';
import { NODE_CERT_KINDS, type NodeCertKind } from '../node-certs.ts';

export interface Supervisor {
  /** The server CA bundle. */
  cacerts: string;
  /** The client CA (what the kubelets verify the API server's client certificate with). */
  clientCa: string;
  config: () => object;
  /** Signs a node's CSR (api/node-certs.ts); none: the paths answer 404. */
  sign?: (kind: NodeCertKind, node: string, nodeIPs: string[], csr: string) => Promise<string>;
}

export interface SupervisorAnswer {
  status: number;
  contentType: string;
  body: string;
}

/** A CSR is a few hundred bytes; anything near this is not one. */
export const MAX_CSR_BYTES = 16 * 1024;

const text = (status: number, body: string): SupervisorAnswer => ({ status, contentType: 'text/plain; charset=utf-8', body: `${body}\n` });

/** The authenticated paths; undefined for any other (the API's handler takes it). */
export async function supervisorRoute(s: Supervisor, method: string, pathname: string, headers: IncomingHttpHeaders, body: () => Promise<Buffer | null>): Promise<SupervisorAnswer | undefined> {
  if (method === 'GET' && pathname === '/v1-k3s/config') return { status: 200, contentType: 'application/json', body: `${JSON.stringify(s.config())}\n` };
  if (method === 'GET' && pathname === '/v1-k3s/client-ca.crt') return { status: 200, contentType: 'text/plain', body: s.clientCa };
  const kind = NODE_CERT_KINDS.find((k) => pathname === `/v1-k3s/${k}.crt`);
  if (!kind || !s.sign) return undefined;
  if (method !== 'POST') return text(405, `POST a certificate signing request to ${pathname}`);
  const node = String(headers['k3s-node-name'] ?? '');
  if (!node) return text(400, 'the k3s-Node-Name header is required');
  const ips = String(headers['k3s-node-ip'] ?? '').split(',').filter(Boolean);
  const csr = await body();
  if (csr === null) return text(413, `the certificate signing request is over ${MAX_CSR_BYTES} bytes`);
  try {
    return { status: 200, contentType: 'text/plain', body: await s.sign(kind, node, ips, csr.toString()) };
  } catch (e) {
    return text(400, (e as Error).message);
  }
}
