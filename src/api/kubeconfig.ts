// A kubeconfig as k3s writes /etc/rancher/k3s/k3s.yaml (pkg/clientaccess/kubeconfig.go): one
// cluster, user and context, each named "default", the server CA and the admin's client
// certificate and key inlined as base64 `-data` fields. client-go writes it by converting JSON to
// YAML, so the keys come in alphabetical order and an empty user is `{}`; this renders the same
// text. Pure: the caller reads the PKI (src/api/pki.ts) and decides where the text goes.

/** kube-apiserver's secure port, k3s's too. */
export const KUBE_API_PORT = 6443;

export interface KubeconfigInput {
  /** https://<host>:<port> */
  server: string;
  /** PEM of the CA that signed the serving certificate (k3s: server-ca.crt). */
  certificateAuthority: string;
  /** A client certificate (PEM, with its chain) and its key... */
  clientCertificate?: string;
  clientKey?: string;
  /** ...or a bearer token. With neither the kubeconfig has no credentials at all. */
  token?: string;
}

const b64 = (pem: string) => Buffer.from(pem).toString('base64');

// Plain scalars YAML would read as something other than a string (numbers, booleans, null).
const NOT_A_STRING = /^([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|0x[0-9a-fA-F]+|0o[0-7]+|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)|true|True|TRUE|false|False|FALSE|null|Null|NULL|~|)$/;

/** A string as YAML: plain when that reads back as the same string, else double-quoted (JSON is valid YAML). */
function scalar(s: string): string {
  return /^[A-Za-z0-9._-]+$/.test(s) && !NOT_A_STRING.test(s) ? s : JSON.stringify(s);
}

/** The URL as a YAML scalar: plain when it is an ordinary https URL, else double-quoted (JSON is valid YAML). */
function serverScalar(server: string): string {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new Error(`invalid server URL ${JSON.stringify(server)}: use https://<host>:<port>`);
  }
  if (url.protocol !== 'https:') throw new Error(`invalid server URL ${JSON.stringify(server)}: the API server speaks https only`);
  if (url.username || url.password) throw new Error(`invalid server URL ${JSON.stringify(server)}: credentials belong in the user, not the URL`);
  return /^https:\/\/[A-Za-z0-9.:[\]/_-]+$/.test(server) ? server : JSON.stringify(server);
}

export function renderKubeconfig(k: KubeconfigInput): string {
  if ((k.clientCertificate === undefined) !== (k.clientKey === undefined)) throw new Error('a client certificate needs its key, and a key its certificate');
  if (k.token !== undefined && !/^[\x21-\x7e]+$/.test(k.token)) throw new Error('a bearer token is printable ASCII without spaces');
  const user: string[] = [];
  if (k.clientCertificate !== undefined) user.push(`    client-certificate-data: ${b64(k.clientCertificate)}`, `    client-key-data: ${b64(k.clientKey!)}`);
  if (k.token !== undefined) user.push(`    token: ${scalar(k.token)}`);
  return [
    'apiVersion: v1',
    'clusters:',
    '- cluster:',
    `    certificate-authority-data: ${b64(k.certificateAuthority)}`,
    `    server: ${serverScalar(k.server)}`,
    '  name: default',
    'contexts:',
    '- context:',
    '    cluster: default',
    '    user: default',
    '  name: default',
    'current-context: default',
    'kind: Config',
    'preferences: {}',
    'users:',
    '- name: default',
    ...(user.length ? ['  user:', ...user] : ['  user: {}']),
    '',
  ].join('\n');
}
