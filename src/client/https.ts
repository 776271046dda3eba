// The API over HTTPS, as client-go speaks it: REST paths (/api/v1/namespaces/<ns>/pods/<name>,
// /apis/<group>/<version>/...), JSON bodies, a kube Status for every error (thrown as a
// StatusError), and watch as a long GET whose body is one JSON event per line. For whoever is not
// inside the API server's process: `lab get`, an agent node's kubelet and kube-proxy, a pod.
import { Agent, request } from 'node:https';
import { resourceFor, apiVersionOf } from '../api/server/resources.ts';
import { StatusError, type Status } from '../api/server/status.ts';
import type { Client, DeleteOptions, KubeObject, ListResult, ListWatch, ResourceRef, Selectors, WatchEvent, WatchOptions } from './types.ts';

export interface HttpsClientOptions {
  /** e.g. https://127.0.0.1:6443 */
  server: string;
  /** PEM of the CA that signed the server's certificate. */
  ca: string;
  token?: string;
  cert?: string;
  key?: string;
  /** The User-Agent, as client-go sends one (`lab/v1.32.0 (linux/amd64)`). */
  userAgent?: string;
}

/** Optimistic-concurrency retries of mutate(), as client-go's RetryOnConflict (DefaultRetry: 5). */
const CONFLICT_RETRIES = 5;

export class HttpsClient implements Client {
  private readonly agent: Agent;
  private readonly base: URL;

  constructor(private readonly opts: HttpsClientOptions) {
    this.base = new URL(opts.server);
    this.agent = new Agent({ keepAlive: true, ca: opts.ca, ...(opts.cert && opts.key ? { cert: opts.cert, key: opts.key } : {}) });
  }

  close(): void {
    this.agent.destroy();
  }

  /** The REST path of a resource (a collection without name), as kube-apiserver serves it. */
  path(ref: ResourceRef, namespace: string | undefined, name?: string, subresource?: string): string {
    const r = resourceFor(ref.group, ref.resource);
    if (!r) throw new Error(`unknown resource ${ref.resource}${ref.group ? `.${ref.group}` : ''}`);
    const root = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
    const ns = r.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
    return `${root}${ns}/${r.plural}${name ? `/${encodeURIComponent(name)}` : ''}${subresource ? `/${subresource}` : ''}`;
  }

  private headers(body?: string, contentType = 'application/json'): Record<string, string> {
    return {
      Accept: 'application/json',
      ...(this.opts.token ? { Authorization: `Bearer ${this.opts.token}` } : {}),
      ...(this.opts.userAgent ? { 'User-Agent': this.opts.userAgent } : {}),
      ...(body !== undefined ? { 'Content-Type': contentType, 'Content-Length': String(Buffer.byteLength(body)) } : {}),
    };
  }

  /**
   * One request; a non-2xx answer is thrown as the StatusError its body carries. A GET whose
   * connection was reset is sent once more, as client-go retries it: a kept-alive connection the
   * server closes (idle past its keep-alive timeout) just as a request goes out on it is reset.
   */
  async call<T>(method: string, path: string, query: Record<string, string | undefined> = {}, body?: unknown, contentType?: string): Promise<T> {
    const url = new URL(path, this.base);
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') url.searchParams.set(k, v);
    const text = body === undefined ? undefined : JSON.stringify(body);
    try {
      return await this.send<T>(method, url, text, contentType);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (method !== 'GET' || (code !== 'ECONNRESET' && code !== 'EPIPE')) throw e;
      return this.send<T>(method, url, text, contentType);
    }
  }

  private send<T>(method: string, url: URL, text: string | undefined, contentType: string | undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const req = request(url, { method, agent: this.agent, headers: this.headers(text, contentType) }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const raw = Buffer.concat(chunks).toString();
          const code = res.statusCode ?? 0;
          let parsed: unknown;
          try {
            parsed = raw ? JSON.parse(raw) : undefined;
          } catch {
            parsed = undefined;
          }
          if (code >= 200 && code < 300) return resolve(parsed as T);
          const s = parsed as Partial<Status> | undefined;
          reject(new StatusError(s?.kind === 'Status' ? (s as Status) : { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: raw.trim() || `HTTP ${code}`, reason: res.statusMessage, code }));
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(text);
    });
  }

  async get<T extends KubeObject>(ref: ResourceRef, namespace: string | undefined, name: string): Promise<T> {
    return this.call<T>('GET', this.path(ref, namespace, name));
  }

  async list<T extends KubeObject>(ref: ResourceRef, sel: Selectors = {}): Promise<ListResult<T>> {
    const l = await this.call<{ items: T[]; metadata: { resourceVersion: string } }>('GET', this.path(ref, sel.namespace), { labelSelector: sel.labelSelector, fieldSelector: sel.fieldSelector });
    return { items: l.items, resourceVersion: l.metadata.resourceVersion };
  }

  async create<T extends KubeObject>(ref: ResourceRef, obj: T): Promise<T> {
    return this.call<T>('POST', this.path(ref, obj.metadata.namespace), {}, withKind(ref, obj));
  }

  async update<T extends KubeObject>(ref: ResourceRef, obj: T, opts: { subresource?: 'status' } = {}): Promise<T> {
    return this.call<T>('PUT', this.path(ref, obj.metadata.namespace, obj.metadata.name, opts.subresource), {}, withKind(ref, obj));
  }

  async mutate<T extends KubeObject>(ref: ResourceRef, namespace: string | undefined, name: string, change: (current: T) => T, opts: { subresource?: 'status' } = {}): Promise<T> {
    for (let i = 0; ; i++) {
      const cur = await this.get<T>(ref, namespace, name);
      try {
        return await this.update(ref, change(cur), opts);
      } catch (e) {
        if (!(e instanceof StatusError) || e.code !== 409 || i >= CONFLICT_RETRIES) throw e;
      }
    }
  }

  async delete(ref: ResourceRef, namespace: string | undefined, name: string, opts: DeleteOptions = {}): Promise<void> {
    await this.call('DELETE', this.path(ref, namespace, name), {}, { apiVersion: 'v1', kind: 'DeleteOptions', ...(opts.gracePeriodSeconds !== undefined ? { gracePeriodSeconds: opts.gracePeriodSeconds } : {}), ...(opts.preconditions ? { preconditions: opts.preconditions } : {}) });
  }

  async bind(namespace: string, pod: string, node: string): Promise<void> {
    await this.call('POST', this.path({ group: '', resource: 'pods' }, namespace, pod, 'binding'), {}, { apiVersion: 'v1', kind: 'Binding', metadata: { name: pod, namespace }, target: { apiVersion: 'v1', kind: 'Node', name: node } });
  }

  listWatch<T extends KubeObject>(ref: ResourceRef, sel: Selectors = {}): ListWatch<T> {
    return {
      list: () => this.list<T>(ref, sel),
      watch: (opts: WatchOptions, onEvent: (e: WatchEvent<T>) => void, onClose: (err?: Error) => void) => {
        const url = new URL(this.path(ref, sel.namespace), this.base);
        const q = { watch: '1', resourceVersion: opts.resourceVersion, allowWatchBookmarks: opts.allowWatchBookmarks ? 'true' : undefined, labelSelector: sel.labelSelector, fieldSelector: sel.fieldSelector };
        for (const [k, v] of Object.entries(q)) if (v) url.searchParams.set(k, v);
        let cancelled = false;
        const req = request(url, { method: 'GET', agent: this.agent, headers: this.headers() }, (res) => {
          if ((res.statusCode ?? 0) >= 300) {
            let raw = '';
            res.on('data', (c: Buffer) => (raw += c.toString()));
            res.on('end', () => {
              // A watch refused outright (410 for a compacted version): an ERROR event, as in the stream.
              try {
                const s = JSON.parse(raw) as Status;
                if (s.kind === 'Status') return onEvent({ type: 'ERROR', object: s as unknown as T });
              } catch {
                /* not a Status */
              }
              if (!cancelled) onClose(new Error(`watch: HTTP ${res.statusCode}: ${raw.trim()}`));
            });
            return;
          }
          let buf = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            buf += c;
            for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
              const line = buf.slice(0, nl).trim();
              buf = buf.slice(nl + 1);
              if (line) onEvent(JSON.parse(line) as WatchEvent<T>);
            }
          });
          res.on('end', () => {
            if (!cancelled) onClose(new Error('watch ended'));
          });
          res.on('error', (e) => {
            if (!cancelled) onClose(e);
          });
        });
        req.on('error', (e) => {
          if (!cancelled) onClose(e);
        });
        req.end();
        return () => {
          cancelled = true;
          req.destroy();
        };
      },
    };
  }
}

/** Bodies carry apiVersion and kind, as client-go's typed clients send them. */
function withKind<T extends KubeObject>(ref: ResourceRef, obj: T): T {
  if (obj.apiVersion && obj.kind) return obj;
  const r = resourceFor(ref.group, ref.resource)!;
  return { ...obj, apiVersion: apiVersionOf(r), kind: r.kind };
}
