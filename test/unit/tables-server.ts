// A throwaway plain-HTTP API server on 127.0.0.1 for api-tables.test.ts: /version (minor 32, so
// that /usr/bin/kubectl, the Cloud SDK dispatcher, runs kubectl 1.32), legacy discovery from the
// resource table, and list/get answers from the fixtures: a Table from toTable when the Accept
// header asks for one, the List otherwise. kubectl sends no credentials over http and needs none.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { apiGroupList, apiResourceList, apiVersions } from '../../src/api/server/discovery.ts';
import { includeObjectOf, negotiateOutput } from '../../src/api/server/negotiate.ts';
import { apiVersionOf, resourceFor } from '../../src/api/server/resources.ts';
import { toTable } from '../../src/api/server/tables.ts';
import { FIXTURES, NOW } from './tables-fixtures.ts';

export interface TablesServer {
  url: string;
  /** Every request seen: method, path with query, Accept. */
  requests: { url: string; accept: string }[];
  close(): Promise<void>;
}

const VERSION = { major: '1', minor: '32', gitVersion: 'v1.32.4+k3s1', gitCommit: '0000000000000000000000000000000000000000', gitTreeState: 'clean', buildDate: '2025-04-22T00:00:00Z', goVersion: 'go1.23.6', compiler: 'gc', platform: 'linux/amd64' };

// /api/v1[/namespaces/<ns>]/<plural>[/<name>] and /apis/<group>/<version>[/namespaces/<ns>]/<plural>[/<name>]
const RESOURCE_PATH = /^\/(?:api\/v1|apis\/([^/]+)\/v1)(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?$/;

export async function startTablesServer(): Promise<TablesServer> {
  const requests: TablesServer['requests'] = [];
  let address = '';
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push({ url: `${url.pathname}${url.search}`, accept: req.headers.accept ?? '' });
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const p = url.pathname;
    if (p === '/version') return send(200, VERSION);
    if (p === '/api') return send(200, apiVersions(address));
    if (p === '/apis') return send(200, apiGroupList());
    if (p === '/api/v1') return send(200, apiResourceList('', 'v1'));
    const gv = /^\/apis\/([^/]+)\/(v1)$/.exec(p);
    if (gv) return send(200, apiResourceList(gv[1]!, gv[2]!));
    const m = RESOURCE_PATH.exec(p);
    const r = m ? resourceFor(m[1] ?? '', m[3]!) : undefined;
    if (!m || !r) return send(404, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'the server could not find the requested resource', reason: 'NotFound', details: {}, code: 404 });
    const [, , namespace, , name] = m;
    let items = (FIXTURES[`${r.group}/${r.plural}`] ?? []).filter((o) => !namespace || o.metadata.namespace === namespace);
    if (name) items = items.filter((o) => o.metadata.name === name);
    if (name && !items.length) return send(404, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `${r.plural} "${name}" not found`, reason: 'NotFound', details: { name, kind: r.plural }, code: 404 });
    const typed = items.map((o) => ({ kind: r.kind, apiVersion: apiVersionOf(r), ...o }));
    const resourceVersion = name ? typed[0]!.metadata.resourceVersion : '4711';
    if (negotiateOutput(req.headers.accept).as === 'Table') {
      return send(200, toTable(`${r.group}/${r.plural}`, typed, { includeObject: includeObjectOf(url.searchParams), now: NOW, listMeta: { resourceVersion } }));
    }
    if (name) return send(200, typed[0]);
    return send(200, { kind: `${r.kind}List`, apiVersion: apiVersionOf(r), metadata: { resourceVersion }, items });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  address = `127.0.0.1:${port}`;
  return {
    url: `http://${address}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
