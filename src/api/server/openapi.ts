// OpenAPI v3, as small as kubectl 1.32 needs it. `apply`, `create -f`, `replace -f` and `edit`
// validate strictly by default: they fetch /openapi/v3 and, for the object's group version,
// /openapi/v3/<api|apis/g>/<v>, and look for a path whose `patch` operation names the object's
// group-version-kind (x-kubernetes-group-version-kind) and takes a `fieldValidation` query
// parameter. When it does, kubectl leaves validation to the server and sends
// fieldValidation=Strict (typed-decode.ts refuses unknown fields then). Without the documents it
// refuses to send anything ("failed to download openapi").
//
// No schemas are served (so `kubectl explain` has nothing to show), and the patch operation lists
// no `application/strategic-merge-patch+json` body: with it, kubectl would try to compute apply's
// patch from the (missing) schemas instead of its compiled-in types. /openapi/v2 is not served;
// kubectl asks for it after v3 and carries on without it.
import { createHash } from 'node:crypto';
import { groupVersions } from './discovery.ts';
import { RESOURCES } from './resources.ts';

export interface OpenApiResponse {
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

/** `api/v1`, `apis/apps/v1`: the document's name under /openapi/v3/. */
const docName = (group: string, version: string) => (group ? `apis/${group}/${version}` : `api/${version}`);

function groupVersionDocument(group: string, version: string, gitVersion: string): Record<string, unknown> {
  const prefix = `/${docName(group, version)}`;
  const paths: Record<string, unknown> = {};
  for (const r of RESOURCES.filter((x) => x.group === group && x.version === version)) {
    const item = r.namespaced ? `${prefix}/namespaces/{namespace}/${r.plural}/{name}` : `${prefix}/${r.plural}/{name}`;
    paths[item] = {
      patch: {
        description: `partially update the specified ${r.kind}`,
        operationId: `patch${r.kind}`,
        'x-kubernetes-action': 'patch',
        'x-kubernetes-group-version-kind': { group: r.group, version: r.version, kind: r.kind },
        parameters: [
          { name: 'dryRun', in: 'query', schema: { type: 'string', uniqueItems: true } },
          { name: 'fieldManager', in: 'query', schema: { type: 'string', uniqueItems: true } },
          { name: 'fieldValidation', in: 'query', schema: { type: 'string', uniqueItems: true } },
          { name: 'force', in: 'query', schema: { type: 'boolean', uniqueItems: true } },
        ],
        requestBody: {
          content: {
            'application/json-patch+json': { schema: {} },
            'application/merge-patch+json': { schema: {} },
            'application/apply-patch+yaml': { schema: {} },
          },
          required: true,
        },
        responses: {},
      },
    };
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes', version: gitVersion }, paths, components: {} };
}

const hashOf = (doc: unknown) => createHash('sha512').update(JSON.stringify(doc)).digest('hex').slice(0, 128).toUpperCase();

/**
 * /openapi/v3 and /openapi/v3/<doc>, or undefined for a path not served. A request for a
 * document with `?hash=` that is not the current one is redirected to the current one, as
 * kube-apiserver does; hashed URLs may be cached for good (kubectl keeps them in its http cache).
 */
export function openApiV3(path: string, query: URLSearchParams, gitVersion: string): OpenApiResponse | undefined {
  const docs = new Map(groupVersions().map(({ group, version }) => [docName(group, version), groupVersionDocument(group, version, gitVersion)]));
  if (path === '/openapi/v3' || path === '/openapi/v3/') {
    const paths = Object.fromEntries([...docs].map(([name, doc]) => [name, { serverRelativeURL: `/openapi/v3/${name}?hash=${hashOf(doc)}` }]));
    return { status: 200, body: { paths }, headers: {} };
  }
  const name = path.slice('/openapi/v3/'.length);
  const doc = docs.get(name);
  if (!path.startsWith('/openapi/v3/') || !doc) return undefined;
  const hash = hashOf(doc);
  const etag = `"${hash}"`;
  const asked = query.get('hash');
  if (asked === null) return { status: 200, body: doc, headers: { ETag: etag, 'Cache-Control': 'no-cache, private' } };
  if (asked !== hash) return { status: 301, body: '', headers: { Location: `/openapi/v3/${name}?hash=${hash}`, 'Cache-Control': 'no-cache, private' } };
  return { status: 200, body: doc, headers: { ETag: etag, 'Cache-Control': 'public, immutable', Expires: new Date(Date.now() + 365 * 86_400_000).toUTCString() } };
}
