// `lab ui`'s server: a small HTTP server for one page that draws the cluster live. It is a client
// of the instance's API server like kubectl (informers: list + watch of pods, Services,
// EndpointSlices, Nodes, Ingresses) and reads the node's kernel as `lab describe` / `lab explain`
// do (the nat table, the links, the pods' veths). Each change of either sends the page a new
// model (src/ui/model.ts) over a WebSocket. The page's "describe", "send a request" and "kill"
// run the very code of `lab describe`, `lab trace` and `lab kill`.
//
// Safety: it listens on one address only (127.0.0.1 in the sandbox, the node IP in the VM); every
// request must carry the random token printed with the URL (as ?token= or the cookie the page
// gets with it); a Host or Origin header other than the listening address is refused (a DNS
// rebinding page cannot reach it); every name in a request is validated before use.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { ensureBundle, LAB_ROOT } from '../../bin/bundles.mjs';
import { attachmentAddresses, readAllAttachments } from '../cni/pod-network.ts';
import type { HttpsClient } from '../client/https.ts';
import { Informer } from '../client/informer.ts';
import type { KubeObject, ResourceRef } from '../client/types.ts';
import { instancePaths } from '../node/instance.ts';
import { SANDBOX_HOST_IP } from '../node/node.ts';
import { ipArgs, run } from '../sys/exec.ts';
import { netnsExists } from '../sys/ip.ts';
import type { FlannelNode } from '../flannel/annotations.ts';
import type { Hop } from '../trace/crash.ts';
import { nodeInfoFromApi } from '../trace/nodes.ts';
import { ipJson, readConntrack, readIptables, readNftTable } from '../trace/observe.ts';
import { nftChainText } from '../trace/nft-table.ts';
import { buildModel, tracePath, type NodeKernel, type ApiEndpointSlice, type ApiIngress, type ApiNode, type ApiPod, type ApiService, type UiModel } from '../ui/model.ts';
import { conntrackFor, eventRows, EVENT_COLUMNS, iptablesRulesFor, nftRulesFor, type ApiEvent, type KernelObjects } from '../ui/panel.ts';
import { serverClient } from './api-client.ts';
import { describeText } from './commands/describe.ts';
import { killPod } from './commands/kill.ts';
import { runTrace } from './commands/trace.ts';
import { labHint } from './common.ts';

export interface UiOptions {
  instance: string;
  /** The address to listen on: 127.0.0.1 in the sandbox, the node IP in host mode. */
  host: string;
  /** 0: any free port. */
  port: number;
  log?: (line: string) => void;
}

export interface UiServer {
  url: string;
  /** The current model (tests, the bench). */
  model(): UiModel | null;
  close(): Promise<void>;
}

const RESOURCES = {
  pods: { group: '', resource: 'pods' },
  services: { group: '', resource: 'services' },
  endpointSlices: { group: 'discovery.k8s.io', resource: 'endpointslices' },
  nodes: { group: '', resource: 'nodes' },
  ingresses: { group: 'networking.k8s.io', resource: 'ingresses' },
} satisfies Record<string, ResourceRef>;

// Names as the API validates them: a DNS-1123 label (namespaces), subdomain (pods), a chain.
const LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const CHAIN = /^KUBE-[A-Z0-9-]{1,40}$/;
/** kube-proxy's nftables chain names: a lower-case prefix, then for a Service's chains its hash and readable name (src/proxy/nft-names.ts). */
const NFT_CHAIN = /^[a-z][a-z0-9-]{0,40}(?:-[A-Z2-7]{8}-[A-Za-z0-9._:/-]{1,230})?$/;
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const COOKIE = 'lab-ui-token';
const MAX_BODY = 4096;

class HttpError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

function parseId(id: unknown): { kind: 'pod' | 'svc' | 'node'; namespace?: string; name: string } {
  if (typeof id !== 'string') throw new HttpError(400, 'id: a string is required');
  const parts = id.split('/');
  if (parts[0] === 'node' && parts.length === 2 && SUBDOMAIN.test(parts[1]!)) return { kind: 'node', name: parts[1]! };
  if ((parts[0] === 'pod' || parts[0] === 'svc') && parts.length === 3 && LABEL.test(parts[1]!) && SUBDOMAIN.test(parts[2]!)) return { kind: parts[0], namespace: parts[1], name: parts[2]! };
  throw new HttpError(400, `id ${JSON.stringify(id).slice(0, 80)}: expected pod/<namespace>/<name>, svc/<namespace>/<name> or node/<name>`);
}

function sameToken(a: string | undefined, token: string): boolean {
  if (!a) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(token);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookieToken(req: http.IncomingMessage): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === COOKIE) return v.join('=');
  }
  return undefined;
}

async function readBody(req: http.IncomingMessage): Promise<unknown> {
  if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) throw new HttpError(415, 'send application/json');
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, 'request body too large');
    chunks.push(c as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'the body is not JSON');
  }
}

/** One at a time: a trace reads counters before and after its request, and a kill watches its pod. */
function serialized() {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>): Promise<T> => {
    const p = tail.then(fn, fn);
    tail = p.catch(() => {});
    return p;
  };
}

export async function startUi(opts: UiOptions): Promise<UiServer> {
  const log = opts.log ?? (() => {});
  const paths = instancePaths(opts.instance);
  const client: HttpsClient | null = await serverClient(opts.instance, paths);
  if (!client) throw new Error(`the server of instance ${opts.instance} is not running: start it with '${labHint(opts.instance, 'up')}'`);
  const mode = netnsExists(paths.nodeNetns) ? 'sandbox' : 'host';
  const nodeNetns = mode === 'sandbox' ? paths.nodeNetns : null;
  const token = randomBytes(24).toString('base64url');
  const [script, elkWorker, page, style] = await Promise.all([
    ensureBundle('ui').then((f) => readFile(f)),
    // ELK's own worker script (elkjs): the page lays out in a Web Worker, served from here (no network).
    readFile(path.join(LAB_ROOT, 'node_modules/elkjs/lib/elk-worker.min.js')),
    readFile(path.join(LAB_ROOT, 'src/ui/page/index.html'), 'utf8'),
    readFile(path.join(LAB_ROOT, 'src/ui/page/style.css')),
  ]);

  // The API's objects, as the watch stream keeps them.
  const informers = Object.fromEntries(Object.entries(RESOURCES).map(([k, ref]) => [k, new Informer<KubeObject>(client.listWatch(ref), { name: ref.resource, log })])) as Record<keyof typeof RESOURCES, Informer<KubeObject>>;
  const items = <T>(k: keyof typeof RESOURCES) => informers[k].list() as unknown as T[];

  let model: UiModel | null = null;
  let modelJson = '';
  const sockets = new Set<WebSocket>();
  let closed = false;

  // What the nodes' kernels hold (the server node's, and in the sandbox each agent's own), as last looked at. A watch event redraws from this at
  // once (no process to start); the kernel is looked at again a moment later (kube-proxy writes
  // its rules after the EndpointSlice changed), every 3 s, and before a trace's path is drawn.
  let kernel: NodeKernel & { veths: Record<string, string>; nodes: Record<string, NodeKernel> } = { nat: null, nft: null, links: {}, veths: {}, nodes: {} };

  /** One node's kernel, in its namespace: the nat table (or kube-proxy's nftables table), the links' IPv4 addresses. */
  async function readNodeKernel(netns: string | null): Promise<NodeKernel> {
    const [nat, links] = await Promise.all([readIptables(netns, { table: 'nat', counters: false }).catch(() => null), ipJson(netns, 'addr', 'show').catch(() => [])]);
    const linkAddrs: Record<string, string[]> = {};
    for (const l of links) linkAddrs[l.ifname] = (l.addr_info ?? []).filter((x) => x.family === 'inet').map((x) => `${x.local}/${x.prefixlen}`);
    // kube-proxy's nftables mode: no KUBE-SERVICES in the nat table, its `table ip kube-proxy` instead.
    const nft = nat?.get('nat')?.chains.some((c) => c.name === 'KUBE-SERVICES') ? null : await readNftTable(netns).catch(() => null);
    return { nat, nft, links: linkAddrs };
  }

  async function lookAtKernel(): Promise<void> {
    // The sandbox's agent nodes: each one's own namespace (only a name this instance owns, as `lab describe node` checks).
    const agents = mode === 'sandbox' ? items<ApiNode>('nodes').map((n) => nodeInfoFromApi(n as unknown as FlannelNode, paths, mode)).filter((n) => n.reachable && n.netns && n.netns !== nodeNetns) : [];
    const [mine, attachments, ...theirs] = await Promise.all([readNodeKernel(nodeNetns), readAllAttachments(paths).catch(() => new Map()), ...agents.map((n) => readNodeKernel(n.netns))]);
    const veths: Record<string, string> = {};
    for (const a of attachments.values()) {
      const v = attachmentAddresses(a).veth;
      if (v && a.pod.uid) veths[a.pod.uid] = v;
    }
    kernel = { ...(mine as NodeKernel), veths, nodes: Object.fromEntries(agents.map((n, i) => [n.name, theirs[i] as NodeKernel])) };
  }

  /** The model from the informers' caches and the kernel as last seen; sent to every page if it changed. */
  function publish(): void {
    const nodes = items<ApiNode>('nodes');
    // The node whose kernel this machine reads: the one holding one of its addresses (eth1's).
    const mine = new Set(Object.values(kernel.links).flat().map((a) => a.split('/')[0]));
    const kernelNode = nodes.find((n) => n.status?.addresses?.some((a) => a.type === 'InternalIP' && mine.has(a.address)))?.metadata.name ?? nodes[0]?.metadata.name;
    const next = buildModel({
      instance: opts.instance,
      mode,
      laptopIP: mode === 'sandbox' ? SANDBOX_HOST_IP : undefined,
      pods: items<ApiPod>('pods'),
      services: items<ApiService>('services'),
      endpointSlices: items<ApiEndpointSlice>('endpointSlices'),
      nodes,
      ingresses: items<ApiIngress>('ingresses'),
      nat: kernel.nat,
      nft: kernel.nft,
      nodeKernels: kernel.nodes,
      kernelNode,
      links: kernel.links,
      veths: kernel.veths,
    });
    const json = JSON.stringify(next);
    if (json === modelJson) return;
    model = next;
    modelJson = json;
    // sentAt: the page measures the delivery (this machine's clock; the bench's browser shares it).
    const msg = `{"type":"model","sentAt":${Date.now()},"model":${json}}`;
    for (const ws of sockets) if (ws.readyState === ws.OPEN) ws.send(msg);
  }

  async function rebuild(withKernel: boolean): Promise<void> {
    if (withKernel) await lookAtKernel();
    publish();
  }

  // Coalesced: a burst of requests is one rebuild, and one more after it if any came during it
  // (with the kernel if any of them asked for it).
  let running: Promise<void> | null = null;
  let again: 'no' | 'api' | 'kernel' = 'no';
  // No page open, no work (`npm run lab` serves the page whether or not one is open).
  const refresh = (withKernel: boolean): void => {
    if (closed || sockets.size === 0) return;
    if (running) {
      again = withKernel || again === 'kernel' ? 'kernel' : 'api';
      return;
    }
    running = rebuild(withKernel)
      .catch((e: unknown) => log(`ui: ${(e as Error).message}`))
      .finally(() => {
        running = null;
        const next = again;
        again = 'no';
        if (next !== 'no') refresh(next === 'kernel');
      });
  };
  // At most one pending look of each delay: a burst of events is two looks, not two per event.
  const followUps = new Map<number, NodeJS.Timeout>();
  const onChange = () => {
    refresh(false);
    for (const ms of [250, 1000]) {
      if (followUps.has(ms)) continue;
      followUps.set(
        ms,
        setTimeout(() => {
          followUps.delete(ms);
          refresh(true);
        }, ms),
      );
    }
  };
  for (const inf of Object.values(informers)) {
    inf.addHandlers({ add: onChange, update: onChange, delete: onChange });
    inf.start();
  }
  await Promise.all(Object.values(informers).map((i) => i.waitForSync()));
  await rebuild(true);
  // The kernel changes without an API change too (counters, a rule repaired): a slow look as well.
  const periodic = setInterval(() => refresh(true), 3000);

  const once = serialized();
  const listenHost = opts.host;

  /** The address of a pod (its IP), a Service (its ClusterIP) or a node (its InternalIP), from the informers' caches. */
  const addressOf = (id: ReturnType<typeof parseId>): string | undefined => {
    const find = <T extends { metadata: { name: string; namespace?: string } }>(k: keyof typeof RESOURCES) => items<T>(k).find((o) => o.metadata.name === id.name && (id.kind === 'node' || (o.metadata.namespace ?? 'default') === id.namespace));
    const ip = id.kind === 'pod' ? find<ApiPod>('pods')?.status?.podIP : id.kind === 'svc' ? find<ApiService>('services')?.spec?.clusterIP : find<ApiNode>('nodes')?.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
    return ip && IPV4.test(ip) ? ip : undefined;
  };

  /** What the server node's kernel holds for one object's address: rules with counters, route and neighbour, conntrack entries. */
  async function kernelObjects(id: ReturnType<typeof parseId>): Promise<KernelObjects> {
    const ip = addressOf(id);
    const dump = await readIptables(nodeNetns, { counters: true }).catch(() => null);
    const proxyMode = dump?.get('nat')?.chains.some((c) => c.name === 'KUBE-SERVICES') ? 'iptables' : 'nftables';
    const node = model?.elements.find((e) => e.kind === 'node' && e.describe)?.describe?.name;
    if (!ip) return { node, proxyMode, rules: [], routes: [], conntrack: [] };
    const text = async (args: string[]) => (await run(ipArgs(nodeNetns, ...args), { allowFail: true })).stdout.trim();
    const [nft, route, neigh, conntrack] = await Promise.all([
      proxyMode === 'nftables' ? readNftTable(nodeNetns) : Promise.resolve(null),
      text(['route', 'get', ip]),
      text(['neigh', 'show', 'to', ip]),
      readConntrack(nodeNetns).catch(() => []),
    ]);
    const rules = [...iptablesRulesFor(dump, ip), ...nftRulesFor(nft, ip)];
    const routes = [...(route ? [`$ ip route get ${ip}`, ...route.split('\n')] : []), ...(neigh ? [`$ ip neigh show to ${ip}`, ...neigh.split('\n')] : [])];
    return { ip, node, proxyMode, rules, routes, conntrack: conntrackFor(conntrack, ip) };
  }

  /** The object's Events from the API (kubectl describe's query: involvedObject kind and name), as kubectl get events prints them. */
  async function objectEvents(id: ReturnType<typeof parseId>): Promise<{ columns: readonly string[]; rows: string[][] }> {
    const kind = id.kind === 'pod' ? 'Pod' : id.kind === 'svc' ? 'Service' : 'Node';
    const list = await client!.list<ApiEvent & KubeObject>({ group: '', resource: 'events' }, { namespace: id.namespace, fieldSelector: `involvedObject.kind=${kind},involvedObject.name=${id.name}` });
    return { columns: EVENT_COLUMNS, rows: eventRows(list.items) };
  }
  let hostHeader = '';
  let origin = '';

  const headers = {
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'X-Frame-Options': 'DENY',
  };
  const send = (res: http.ServerResponse, code: number, type: string, body: string | Buffer, extra: Record<string, string> = {}) => {
    res.writeHead(code, { ...headers, 'Content-Type': type, ...extra });
    res.end(body);
  };
  const json = (res: http.ServerResponse, code: number, body: unknown) => send(res, code, 'application/json; charset=utf-8', JSON.stringify(body));

  /** Host and Origin name this server, and the token came (query or cookie): or why not. */
  const refusal = (req: http.IncomingMessage, url: URL): { code: number; why: string } | null => {
    if (req.headers.host !== hostHeader) return { code: 403, why: `Host ${JSON.stringify(req.headers.host ?? '')} is not this server (${hostHeader})` };
    if (req.headers.origin !== undefined && req.headers.origin !== origin) return { code: 403, why: `Origin ${JSON.stringify(req.headers.origin)} is not this server (${origin})` };
    if (!sameToken(url.searchParams.get('token') ?? undefined, token) && !sameToken(cookieToken(req), token)) return { code: 401, why: "no valid token: open the URL 'lab ui' printed" };
    return null;
  };

  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://ui.invalid');
      const no = refusal(req, url);
      if (no) return send(res, no.code, 'text/plain; charset=utf-8', `${no.why}\n`);
      const get = req.method === 'GET' || req.method === 'HEAD';
      if (get && url.pathname === '/') {
        return send(res, 200, 'text/html; charset=utf-8', page, {
          'Set-Cookie': `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`,
          'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        });
      }
      if (get && url.pathname === '/app.js') return send(res, 200, 'text/javascript; charset=utf-8', script);
      if (get && url.pathname === '/elk-worker.js') return send(res, 200, 'text/javascript; charset=utf-8', elkWorker);
      if (get && url.pathname === '/style.css') return send(res, 200, 'text/css; charset=utf-8', style);
      if (get && url.pathname === '/api/model') return json(res, 200, model);
      if (get && url.pathname === '/api/describe') {
        const id = parseId(url.searchParams.get('id'));
        const text = await describeText({ name: opts.instance, kind: id.kind, object: id.name, namespace: id.namespace });
        return json(res, 200, { text });
      }
      if (get && url.pathname === '/api/kernel') return json(res, 200, await kernelObjects(parseId(url.searchParams.get('id'))));
      if (get && url.pathname === '/api/events') return json(res, 200, await objectEvents(parseId(url.searchParams.get('id'))));
      if (get && url.pathname === '/api/chain') {
        const chain = url.searchParams.get('chain') ?? '';
        if (NFT_CHAIN.test(chain) && !CHAIN.test(chain)) {
          // nftables mode: the chain looked up by name in the table as listed (never handed to a command).
          const nft = await readNftTable(nodeNetns).catch(() => null);
          return json(res, 200, { text: nft ? nftChainText(nft, chain) : `no table ip kube-proxy in the node (kube-proxy is not in nftables mode)\n` });
        }
        if (!CHAIN.test(chain)) throw new HttpError(400, `chain ${JSON.stringify(chain).slice(0, 60)}: expected KUBE-... or one of kube-proxy's nftables chains`);
        const nat = (await readIptables(nodeNetns, { table: 'nat', counters: true })).get('nat');
        const rules = (nat?.rules ?? []).filter((r) => r.chain === chain || r.target === chain).map((r) => `[${r.packets ?? 0}:${r.bytes ?? 0}] ${r.text}`);
        return json(res, 200, { text: rules.length ? `${rules.join('\n')}\n` : `no rule of the nat table names ${chain}\n` });
      }
      if (req.method === 'POST' && url.pathname === '/api/trace') {
        const body = (await readBody(req)) as { url?: unknown; from?: unknown };
        if (typeof body.url !== 'string' || body.url.length > 2048) throw new HttpError(400, 'url: a string is required');
        let from: { namespace: string; name: string } | undefined;
        if (body.from !== undefined && body.from !== 'laptop') {
          const id = parseId(body.from);
          if (id.kind !== 'pod') throw new HttpError(400, 'from: the laptop or a pod');
          from = { namespace: id.namespace!, name: id.name };
        }
        const trace = await once(() => runTrace({ name: opts.instance, url: body.url as string, from: from?.name, namespace: from?.namespace, timeout: 10 }));
        await rebuild(true);
        const host = (() => {
          try {
            return new URL(/^[a-z]+:\/\//i.test(body.url as string) ? (body.url as string) : `http://${body.url as string}`).hostname;
          } catch {
            return '';
          }
        })();
        const lit = model ? tracePath(model, trace, from ? `pod/${from.namespace}/${from.name}` : 'laptop', host) : [];
        return json(res, 200, { trace, path: lit });
      }
      if (req.method === 'POST' && url.pathname === '/api/kill') {
        const id = parseId(((await readBody(req)) as { id?: unknown }).id);
        if (id.kind !== 'pod') throw new HttpError(400, 'only a pod can be killed');
        // As `lab kill --trace`, streamed (one JSON object a line) as it happens: each hop of the
        // crash flow (kubelet -> API -> endpoints -> kube-proxy, the pod's Events) until the pod is
        // back, for the page's timeline; the picture follows through the model as always.
        res.writeHead(200, { ...headers, 'Content-Type': 'application/x-ndjson; charset=utf-8' });
        const line = (o: unknown) => res.write(`${JSON.stringify(o)}\n`);
        const lines: string[] = [];
        try {
          const whole = await once(() =>
            killPod(
              { name: opts.instance, state: '', config: '', pod: id.name, namespace: id.namespace!, signal: 'KILL', trace: true },
              (l) => {
                lines.push(l);
                if (!l.startsWith('+')) line({ type: 'line', text: l });
              },
              (h: Hop) => {
                line({ type: 'step', step: h });
                // kube-proxy's move is the kernel's only: draw it now, not at the next look.
                if (h.step === 'kube-proxy') refresh(true);
              },
            ),
          );
          line({ type: 'done', whole, text: lines.join('\n') });
        } catch (e) {
          line({ type: 'error', error: (e as Error).message });
        }
        res.end();
        return;
      }
      throw new HttpError(404, `no ${req.method} ${url.pathname}`);
    })().catch((e: unknown) => {
      const code = e instanceof HttpError ? e.code : 500;
      if (!res.headersSent) json(res, code, { error: (e as Error).message });
      else res.destroy();
    });
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://ui.invalid');
    const no = url.pathname === '/ws' ? refusal(req, url) : { code: 404, why: 'not found' };
    if (no) {
      socket.end(`HTTP/1.1 ${no.code} ${http.STATUS_CODES[no.code]}\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${no.why}\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      ws.on('close', () => sockets.delete(ws));
      ws.on('error', () => sockets.delete(ws));
      if (model) ws.send(JSON.stringify({ type: 'model', model }));
      refresh(true); // the model may be older than the last change: nothing was looked at while no page was open
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, listenHost, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  hostHeader = `${listenHost}:${port}`;
  origin = `http://${hostHeader}`;

  return {
    url: `${origin}/?token=${token}`,
    model: () => model,
    close: async () => {
      closed = true;
      clearInterval(periodic);
      for (const t of followUps.values()) clearTimeout(t);
      for (const inf of Object.values(informers)) inf.stop();
      for (const ws of sockets) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await running?.catch(() => {});
      client.close();
    },
  };
}
