// A running API server in one call: the kine store file, the PKI (made on first use, k3s's files),
// the registry with its resource routes, and the HTTPS front, listening on 127.0.0.1 (a free port
// unless told) or wherever asked. Like kube-apiserver on start, it makes sure the system
// namespaces exist (default, kube-system, kube-public, kube-node-lease). What tests use, and what
// the lab's server process will start.
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { renderKubeconfig } from '../kubeconfig.ts';
import { ADMIN_USER, ensurePki, type Pki, type PkiSettings } from '../pki.ts';
import { KineStore } from '../storage/kine.ts';
import { labVersion, type VersionInfo } from './builtin.ts';
import { startApiServer as startHttps, type ListenAddress, type TokenUser, type UpgradeHandler } from './http.ts';
import { Registry, type RegistryOptions } from './registry.ts';
import { resourceFor } from './resources.ts';
import { createApiHandler, parseResourcePath, type RouteDeps } from './routes.ts';
import { execUpgradeHandler } from './pod-exec.ts';
import { StatusError } from './status.ts';
import { applyPatch } from './patch.ts';
import { SYSTEM_NAMESPACES } from './bootstrap.ts';
import { tableConvertor } from './tables.ts';
import type { KubeObject } from './object.ts';
import type { Dial } from '../../sys/netns-dial.ts';
import { signNodeCertificate } from '../node-certs.ts';
import { KubeletClient, KubeletRouter } from './kubelet-client.ts';
import type { ContainerStreams } from './node-streams.ts';

export interface ServeOptions extends RouteDeps {
  /** k3s's server directory for the PKI: `tls/` and `token` go there. */
  pkiDir: string;
  /** What the serving certificate names (default: the lab's node labs at 192.168.56.110). */
  pkiSettings?: PkiSettings;
  /** Default: 127.0.0.1 on a free port. */
  listen?: ListenAddress[];
  version?: VersionInfo;
  upgrade?: UpgradeHandler;
  /** The cluster settings GET /v1-k3s/config gives an agent (k3s's server config for agents). */
  agentConfig?: () => object;
  /**
   * pods/log and pods/exec through each pod's kubelet (kubelet-client.ts): `dial` reaches a node's
   * :10250; `local` is the server's own node's kubelet, called in process. `streams` wins (tests).
   */
  kubelets?: { dial: Dial; local?: { nodeName: string; streams: ContainerStreams } };
  /** config.yaml's token: the secret agents join with, taken as the user NODE_USER (not the admin). */
  agentSecret?: string;
  log?: (line: string) => void;
}

export interface StartOptions extends ServeOptions {
  /** The kine SQLite file (k3s: server/db/state.db); made with its directory if missing. */
  storeFile: string;
  registry?: RegistryOptions;
}

export interface ServingApi {
  /** https://<first address>:<port> */
  url: string;
  addresses: { host: string; port: number }[];
  pki: Pki;
  /** k3s.yaml for this server: the admin's client certificate, or the token. */
  kubeconfig(auth?: 'certificate' | 'token'): string;
  /**
   * k3s's node-token, what `lab agent --token` takes: K10<sha256 of the server CA>::node:<config's
   * token>, or ::server:<the server's own token> when the config sets none.
   */
  readonly nodeToken: string;
  /** A new config token (or none): the API takes it at once, and the old one no more. */
  setAgentSecret(secret: string | undefined): void;
  /** Stops listening (open watches end). */
  close(): Promise<void>;
}

export interface RunningApiServer extends ServingApi {
  registry: Registry;
  store: KineStore;
  /** Stops listening (open watches end) and closes the store. */
  close(): Promise<void>;
}

/**
 * Who config.yaml's token authenticates: k3s's passwd user for agents (`node`, role k3s:agent, as
 * k3s's deps.go makes it), so a machine holding the shared token is not the cluster's admin.
 * The lab has no authorization step (every authenticated user may do everything), so today the
 * difference is the name the API sees; it is where RBAC for nodes would start.
 */
export const NODE_USER = { name: 'node', groups: ['k3s:agent'] };

/** The bearer tokens the API takes: the server's own token (the admin), and the agents' secret. */
export function apiTokens(adminToken: string, agentSecret?: string): TokenUser[] {
  const tokens: TokenUser[] = [{ token: adminToken, user: ADMIN_USER }];
  // The same secret for both would make the admin's token a node's: it stays the admin's.
  if (agentSecret && agentSecret !== adminToken) tokens.push({ token: agentSecret, user: NODE_USER });
  return tokens;
}

/** The node-token agents join with: the config's token when it sets one (as k3s's agent-token file), else the server's. */
export function nodeTokenFor(caPem: string, adminToken: string, agentSecret?: string): string {
  return agentSecret ? fullToken(caPem, agentSecret, 'node') : fullToken(caPem, adminToken, 'server');
}

export const DEFAULT_PKI_SETTINGS: PkiSettings = { nodeName: 'labs', nodeIP: '192.168.56.110', serviceIP: '10.43.0.1', clusterDomain: 'cluster.local' };

export { SYSTEM_NAMESPACES };

export function ensureSystemNamespaces(registry: Registry): void {
  const namespaces = resourceFor('', 'namespaces')!;
  for (const name of SYSTEM_NAMESPACES) {
    try {
      registry.create(namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    } catch (err) {
      if (!(err instanceof StatusError && err.reason === 'AlreadyExists')) throw err;
    }
  }
}

const hostPort = (a: { host: string; port: number }) => (a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`);

/** The HTTPS front over a registry someone else owns (the lab's server process: src/controllers). */
export async function serveApi(registry: Registry, opts: ServeOptions): Promise<ServingApi> {
  const tlsDir = path.join(opts.pkiDir, 'tls');
  const pki = await ensurePki({ tlsDir, tokenFile: path.join(opts.pkiDir, 'token') }, opts.pkiSettings ?? DEFAULT_PKI_SETTINGS);
  const version = opts.version ?? labVersion();
  const listen = opts.listen ?? [{ host: '127.0.0.1', port: 0 }];
  let serverAddress = '';
  const kubelets = opts.kubelets;
  const streams = opts.streams ?? (kubelets && new KubeletRouter(new KubeletClient({ ca: pki.serverCaCert, cert: pki.kubeletClientCert, key: pki.kubeletClientKey, dial: kubelets.dial }), kubelets.local));
  const handler = createApiHandler(registry, { applyPatch: opts.applyPatch ?? ((kind, original, body, contentType) => applyPatch(kind, original, body, contentType) as KubeObject), toTable: opts.toTable ?? tableConvertor, streams, gitVersion: version.gitVersion, get serverAddress() { return serverAddress; } });
  const execUpgrade = execUpgradeHandler(registry, streams, parseResourcePath, opts.log);
  const upgrade: UpgradeHandler = (req, user, socket, head) => execUpgrade(req, user, socket, head) || (opts.upgrade?.(req, user, socket, head) ?? false);
  let agentSecret = opts.agentSecret;
  // Read at every request, so setAgentSecret changes it in place.
  const tokens = apiTokens(pki.token, agentSecret);
  const https = await startHttps({
    tls: { cert: pki.servingCert, key: pki.servingKey, clientCa: pki.clientCaCert },
    tokens,
    listen,
    handler,
    upgrade,
    version,
    k3s: { cacerts: pki.serverCaCert, clientCa: pki.clientCaCert, config: opts.agentConfig ?? (() => ({})), sign: (kind, node, ips, csr) => signNodeCertificate(tlsDir, kind, node, ips, csr) },
    log: opts.log,
  });
  serverAddress = hostPort(https.addresses[0]!);
  const url = `https://${serverAddress}`;
  return {
    url,
    addresses: https.addresses,
    pki,
    kubeconfig: (auth = 'certificate') =>
      renderKubeconfig(auth === 'token' ? { server: url, certificateAuthority: pki.serverCaCert, token: pki.token } : { server: url, certificateAuthority: pki.serverCaCert, clientCertificate: pki.adminCert, clientKey: pki.adminKey }),
    get nodeToken() {
      return nodeTokenFor(pki.serverCaCert, pki.token, agentSecret);
    },
    setAgentSecret(secret) {
      agentSecret = secret;
      tokens.splice(0, tokens.length, ...apiTokens(pki.token, secret));
    },
    close: () => https.close(),
  };
}

/**
 * k3s's "full" token: K10, the SHA-256 of the CA bundle the server serves at /cacerts, then
 * `::<user>:` and the secret. An agent given it trusts a server only if /cacerts hashes to it.
 */
export function fullToken(caPem: string, secret: string, user: 'server' | 'node' = 'server'): string {
  return `K10${createHash('sha256').update(caPem).digest('hex')}::${user}:${secret}`;
}

/** A store, a registry and the HTTPS front in one call (tests, tools). */
export async function startApiServer(opts: StartOptions): Promise<RunningApiServer> {
  mkdirSync(path.dirname(opts.storeFile), { recursive: true });
  const store = new KineStore(opts.storeFile);
  try {
    const registry = new Registry(store, opts.registry);
    ensureSystemNamespaces(registry);
    const serving = await serveApi(registry, opts);
    return {
      ...serving,
      // The spread copied the node-token as it was; it follows setAgentSecret.
      get nodeToken() {
        return serving.nodeToken;
      },
      registry,
      store,
      close: async () => {
        await serving.close();
        store.close();
      },
    };
  } catch (err) {
    store.close();
    throw err;
  }
}
