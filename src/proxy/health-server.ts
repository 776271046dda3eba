// kube-proxy's health servers, the applier half: real HTTP listeners in the node's network
// namespace serving the replies of health.ts.
//
// - ServiceHealthServer (healthcheck.ServiceHealthServer): after each successful sync kube-proxy
//   hands it the health check node ports of its Services (listeners opened for new ones, closed
//   for Services that went or changed port; one that cannot listen is logged and tried again at
//   the next sync) and the count of local ready endpoints per Service.
// - The proxy health server: /healthz and /livez on 127.0.0.1:10256 (k3s's
//   --healthz-bind-address=127.0.0.1), retried every 5 s while the address is taken.
//
// In the sandbox the server's kube-proxy runs in the machine's namespace and binds inside the
// node's (src/sys/netns-listen.ts: a short-lived child binds there and hands the socket back);
// an agent runs inside its node's namespace and binds directly (netns null).
import http, { type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Netns } from '../sys/exec.ts';
import { listenInNetns } from '../sys/netns-listen.ts';
import { HEALTHZ_PORT, ProxyHealthState, healthzReply, livezReply, nodeEligible, notFoundReply, serviceHealthReply, type HealthReply } from './health.ts';

/** One listening HTTP server answering every request with `reply(path)`. */
export class HealthListener {
  private constructor(
    private readonly server: Server,
    readonly host: string,
    readonly port: number,
  ) {}

  static async open(netns: Netns, host: string, port: number, reply: (path: string) => HealthReply): Promise<HealthListener> {
    const server = http.createServer((req, res) => write(req, res, reply(req.url ?? '/')));
    // Go's server keeps idle connections without a timeout and sends no Keep-Alive header.
    server.keepAliveTimeout = 0;
    const target = netns === null ? { host, port, exclusive: true } : await listenInNetns(netns, host, port);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(target, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address();
    return new HealthListener(server, host, typeof addr === 'object' && addr ? addr.port : port);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

/** The reply as Go's net/http writes it: the handler's headers, Date, Content-Length; no Connection header on keep-alive. */
function write(req: IncomingMessage, res: ServerResponse, r: HealthReply): void {
  res.statusCode = r.status;
  for (const [k, v] of r.headers) res.setHeader(k, v);
  if (!/\bclose\b/i.test(req.headers.connection ?? '')) res.removeHeader('Connection');
  res.end(req.method === 'HEAD' ? undefined : r.body);
}

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));

export interface ServiceHealthOptions {
  netns: Netns;
  /** --hostname-override, named in the failure message. */
  nodeName: string;
  /** Where to listen: --nodeport-addresses' IPs, or all of the node's (0.0.0.0, kube-proxy's default). */
  addresses?: string[];
  /** The proxy health server's verdict (serviceProxyHealthy). */
  proxyHealthy: () => boolean;
  log?: (line: string) => void;
}

interface HcInstance {
  port: number;
  endpoints: number;
  listeners: HealthListener[];
}

export class ServiceHealthServer {
  private readonly services = new Map<string, HcInstance>();

  constructor(private readonly opts: ServiceHealthOptions) {}

  /** SyncServices: close what is no longer wanted (or moved), open what is new. */
  async syncServices(wanted: Map<string, number>): Promise<void> {
    for (const [key, svc] of this.services) {
      if (wanted.get(key) === svc.port) continue;
      this.services.delete(key);
      await Promise.all(svc.listeners.map((l) => l.close()));
    }
    for (const [key, port] of wanted) {
      if (this.services.has(key)) continue;
      const svc: HcInstance = { port, endpoints: 0, listeners: [] };
      const [namespace = '', name = ''] = key.split('/');
      try {
        for (const host of this.opts.addresses ?? ['0.0.0.0']) {
          svc.listeners.push(await HealthListener.open(this.opts.netns, host, port, () => serviceHealthReply(namespace, name, this.services.get(key)?.endpoints ?? 0, this.opts.proxyHealthy())));
        }
        this.services.set(key, svc);
      } catch (e) {
        // Whatever opened is closed so that the next sync can try again (kube-proxy's closeAll).
        await Promise.all(svc.listeners.map((l) => l.close()));
        this.opts.log?.(`kube-proxy: node ${this.opts.nodeName} failed to start healthcheck ${JSON.stringify(key)} on port ${port}: ${errorText(e)}`);
      }
    }
  }

  /** SyncEndpoints: the local ready endpoint count of each Service; 0 for those not listed. */
  syncEndpoints(counts: Map<string, number>): void {
    for (const [key, svc] of this.services) svc.endpoints = counts.get(key) ?? 0;
  }

  /** The open health check node ports, by Service. */
  ports(): Map<string, number> {
    return new Map([...this.services].map(([k, s]) => [k, s.listeners[0]?.port ?? s.port]));
  }

  async close(): Promise<void> {
    const all = [...this.services.values()];
    this.services.clear();
    await Promise.all(all.flatMap((s) => s.listeners.map((l) => l.close())));
  }
}

export interface ProxyHealthServerOptions {
  netns: Netns;
  /** --healthz-bind-address (k3s: 127.0.0.1) and port (10256). */
  host?: string;
  port?: number;
  state: ProxyHealthState;
  /** Whether the node may take load-balancer traffic (nodeEligible). */
  eligible: () => boolean;
  now?: () => number;
  log?: (line: string) => void;
  /** How long to wait before trying a taken address again (kube-proxy: 5 s). */
  retryMs?: number;
}

/** /healthz and /livez; any other path is Go's 404. */
export class ProxyHealthServer {
  private listener: HealthListener | null = null;
  private retry: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(private readonly opts: ProxyHealthServerOptions) {}

  get port(): number | undefined {
    return this.listener?.port;
  }

  reply(path: string): HealthReply {
    const h = this.opts.state.health((this.opts.now ?? Date.now)());
    const p = path.split('?')[0];
    if (p === '/healthz') return healthzReply(h, this.opts.eligible());
    if (p === '/livez') return livezReply(h);
    return notFoundReply();
  }

  async start(): Promise<void> {
    const host = this.opts.host ?? '127.0.0.1';
    const port = this.opts.port ?? HEALTHZ_PORT;
    try {
      const l = await HealthListener.open(this.opts.netns, host, port, (p) => this.reply(p));
      if (this.stopped) await l.close();
      else this.listener = l;
    } catch (e) {
      if (this.stopped) return;
      this.opts.log?.(`kube-proxy: Healthz server failed: failed to start proxy healthz on ${host}:${port}: ${errorText(e)}`);
      this.retry = setTimeout(() => void this.start(), this.opts.retryMs ?? 5_000);
      this.retry.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    await this.listener?.close();
    this.listener = null;
  }
}

export interface KubeProxyHealthOptions {
  netns: Netns;
  nodeName: string;
  /** The /healthz listener; false: none. Default 127.0.0.1:10256. */
  healthz?: { host?: string; port?: number } | false;
  /** Addresses of the health check node port listeners (default 0.0.0.0). */
  serviceAddresses?: string[];
  /** 2 x --iptables-sync-period. */
  timeoutMs?: number;
  now?: () => number;
  log?: (line: string) => void;
}

/** Both servers and the state they share: what KubeProxy drives. */
export class KubeProxyHealth {
  readonly state: ProxyHealthState;
  readonly services: ServiceHealthServer;
  readonly healthz: ProxyHealthServer | null;
  private eligible = true;
  private readonly now: () => number;

  constructor(readonly opts: KubeProxyHealthOptions) {
    this.now = opts.now ?? Date.now;
    this.state = new ProxyHealthState(opts.timeoutMs);
    const proxyHealthy = () => this.state.health(this.now()).healthy;
    this.services = new ServiceHealthServer({ netns: opts.netns, nodeName: opts.nodeName, proxyHealthy, ...(opts.serviceAddresses ? { addresses: opts.serviceAddresses } : {}), ...(opts.log ? { log: opts.log } : {}) });
    this.healthz = opts.healthz === false ? null : new ProxyHealthServer({ netns: opts.netns, ...opts.healthz, state: this.state, eligible: () => this.eligible, now: this.now, ...(opts.log ? { log: opts.log } : {}) });
  }

  get nodeName(): string {
    return this.opts.nodeName;
  }

  queuedUpdate(): void {
    this.state.queuedUpdate(this.now());
  }

  updated(): void {
    this.state.updated(this.now());
  }

  /** A Node event for this node (add, update, delete). */
  syncNode(node: Parameters<typeof nodeEligible>[0]): void {
    this.eligible = nodeEligible(node);
  }

  start(): Promise<void> {
    return this.healthz?.start() ?? Promise.resolve();
  }

  async stop(): Promise<void> {
    await this.healthz?.stop();
    await this.services.close();
  }
}
