// PATCH bodies as kube-apiserver applies them (src/api/server/patch*.ts): the three patch types,
// their statuses when a patch fails, and, where kubectl is installed, the same cases through
// `kubectl patch --local` (kubectl's own Go implementation of all three, the libraries
// kube-apiserver uses) as an oracle.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiserverPanic, applyPatch, PATCH_TYPES, type PatchOptions } from '../../src/api/server/patch.ts';
import { StatusError, type Status } from '../../src/api/server/status.ts';
import { run } from '../../src/sys/exec.ts';

type Obj = Record<string, unknown>;
const SMP = 'application/strategic-merge-patch+json';
const MERGE = 'application/merge-patch+json';
const JSONP = 'application/json-patch+json';
const POD = { group: '', kind: 'Pod' };
const DEPLOYMENT = { group: 'apps', kind: 'Deployment' };
const NODE = { group: '', kind: 'Node' };
const SERVICE = { group: '', kind: 'Service' };

const smp = (kind: { group: string; kind: string }, obj: object, patch: unknown) => applyPatch(kind, obj, JSON.stringify(patch), SMP) as Obj;
const merge = (obj: object, patch: unknown) => applyPatch(POD, obj, JSON.stringify(patch), MERGE) as Obj;
const jsonPatch = (obj: object, patch: unknown, opts?: PatchOptions) => applyPatch(POD, obj, JSON.stringify(patch), JSONP, opts) as Obj;

/** The Status of the StatusError fn throws. */
function statusOf(fn: () => unknown): Status {
  try {
    fn();
  } catch (err) {
    if (err instanceof StatusError) return err.status;
    throw err;
  }
  throw new Error('expected a StatusError');
}

const failure = (code: number, reason: string | undefined, message: string, details?: object): Status => {
  const s: Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message };
  if (reason !== undefined) s.reason = reason;
  if (details) s.details = details;
  s.code = code;
  return s;
};
const UNPROCESSABLE = failure(422, 'Invalid', 'the server rejected our request due to an error in our request', {});

const containers = (...names: string[]) => names.map((name) => ({ name, image: `${name}:1` }));
const deployment = (spec: Obj = {}, metadata: Obj = {}): Obj => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'default', ...metadata },
  spec: { replicas: 1, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: containers('httpd') } }, ...spec },
});
const podSpec = (spec: Obj): Obj => deployment({ template: { metadata: { labels: { app: 'web' } }, spec } });
const names = (list: unknown) => (list as { name: string }[]).map((c) => c.name);
const tpl = (spec: Obj) => ({ spec: { template: { spec } } });
const tmplSpec = (o: Obj) => ((o.spec as Obj).template as Obj).spec as Obj;

// ------------------------------------------------------------------------------------------------
describe('content types', () => {
  const obj = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' } };
  const body = '{"metadata":{"labels":{"a":"b"}}}';

  it('takes the three patch types, with parameters after a ";"', () => {
    for (const type of PATCH_TYPES) {
      const patch = type === JSONP ? '[{"op":"add","path":"/metadata/labels","value":{"a":"b"}}]' : body;
      expect(applyPatch(POD, obj, patch, type), type).toEqual({ ...obj, metadata: { name: 'p', labels: { a: 'b' } } });
    }
    expect(applyPatch(POD, obj, body, 'application/merge-patch+json; charset=utf-8')).toMatchObject({ metadata: { labels: { a: 'b' } } });
  });

  it('an unknown type: the router\'s 415 (go-restful\'s text through NewGenericServerResponse)', () => {
    for (const type of ['application/json', 'text/plain', '', 'Application/Merge-Patch+JSON', 'application/apply-patch+yaml']) {
      expect(statusOf(() => applyPatch(POD, obj, body, type)), type).toEqual(failure(415, 'UnsupportedMediaType', '415: Unsupported Media Type', {}));
    }
  });

  it('a header the router accepts but the handler does not: the handler\'s 415 listing the accepted types', () => {
    const list = 'application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json';
    const want = failure(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${list}`);
    // A space before ";" survives the handler's cut; a list of types is no type.
    expect(statusOf(() => applyPatch(POD, obj, body, 'application/merge-patch+json ; charset=utf-8'))).toEqual(want);
    expect(statusOf(() => applyPatch(POD, obj, body, 'text/plain, application/merge-patch+json'))).toEqual(want);
  });

  it('a kind without a strategic merge schema (as a custom resource) takes JSON and merge patches only', () => {
    const foo = { group: 'example.com', kind: 'Foo' };
    expect(applyPatch(foo, obj, body, MERGE)).toMatchObject({ metadata: { labels: { a: 'b' } } });
    expect(statusOf(() => applyPatch(foo, obj, body, SMP))).toEqual(failure(415, 'UnsupportedMediaType', '415: Unsupported Media Type', {}));
  });

  it('leaves the original object as it was', () => {
    const before = structuredClone(obj);
    applyPatch(POD, obj, body, SMP);
    applyPatch(POD, obj, body, MERGE);
    applyPatch(POD, obj, '[{"op":"remove","path":"/metadata/name"}]', JSONP);
    expect(obj).toEqual(before);
  });
});

// ------------------------------------------------------------------------------------------------
describe('JSON patch (RFC 6902, as evanphx/json-patch v4 applies it)', () => {
  const doc = (): Obj => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', labels: { a: '1' }, finalizers: ['x', 'y'] }, spec: { containers: containers('c') } });

  it('add, remove, replace, move, copy, test', () => {
    const out = jsonPatch(doc(), [
      { op: 'test', path: '/metadata/labels/a', value: '1' },
      { op: 'add', path: '/metadata/labels/b', value: '2' },
      { op: 'replace', path: '/metadata/labels/a', value: 'one' },
      { op: 'remove', path: '/metadata/finalizers/0' },
      { op: 'add', path: '/metadata/finalizers/0', value: 'w' },
      { op: 'copy', from: '/spec/containers/0', path: '/spec/containers/-' },
      { op: 'replace', path: '/spec/containers/1/name', value: 'd' },
      { op: 'move', from: '/metadata/labels/b', path: '/metadata/annotations' },
    ]);
    expect(out.metadata).toEqual({ name: 'p', labels: { a: 'one' }, finalizers: ['w', 'y'], annotations: '2' });
    expect(names((out.spec as Obj).containers)).toEqual(['c', 'd']);
  });

  it('JSON pointer escapes: ~1 is "/", ~0 is "~" (an annotation key with a slash)', () => {
    const out = jsonPatch(doc(), [
      { op: 'add', path: '/metadata/annotations', value: {} },
      { op: 'add', path: '/metadata/annotations/kubernetes.io~1change-cause', value: 'x' },
      { op: 'add', path: '/metadata/annotations/a~0b~01', value: 'y' },
    ]);
    expect((out.metadata as Obj).annotations).toEqual({ 'kubernetes.io/change-cause': 'x', 'a~b~1': 'y' });
  });

  it('"-" appends; an index inserts; the library also takes negative indexes and Atoi forms', () => {
    const f = (ops: unknown[]) => (jsonPatch(doc(), ops).metadata as Obj).finalizers;
    expect(f([{ op: 'add', path: '/metadata/finalizers/-', value: 'z' }])).toEqual(['x', 'y', 'z']);
    expect(f([{ op: 'add', path: '/metadata/finalizers/1', value: 'z' }])).toEqual(['x', 'z', 'y']);
    expect(f([{ op: 'add', path: '/metadata/finalizers/2', value: 'z' }])).toEqual(['x', 'y', 'z']);
    expect(f([{ op: 'add', path: '/metadata/finalizers/-1', value: 'z' }])).toEqual(['x', 'y', 'z']);
    expect(f([{ op: 'remove', path: '/metadata/finalizers/-1' }])).toEqual(['x']);
    expect(f([{ op: 'add', path: '/metadata/finalizers/01', value: 'z' }])).toEqual(['x', 'z', 'y']);
    expect(f([{ op: 'replace', path: '/metadata/finalizers/-2', value: 'z' }])).toEqual(['z', 'y']);
  });

  it('quirks kube-apiserver keeps: replace of a missing member adds it, copy of one copies null', () => {
    expect((jsonPatch(doc(), [{ op: 'replace', path: '/metadata/namespace', value: 'ns' }]).metadata as Obj).namespace).toBe('ns');
    expect((jsonPatch(doc(), [{ op: 'copy', from: '/metadata/nope', path: '/metadata/copy' }]).metadata as Obj).copy).toBeNull();
    expect((jsonPatch(doc(), [{ op: 'add', path: '/metadata/novalue' }]).metadata as Obj).novalue).toBeNull();
    // `replace ""` with an object replaces the document; with a string it does nothing.
    expect(jsonPatch(doc(), [{ op: 'replace', path: '', value: { kind: 'Pod', metadata: { name: 'q' } } }])).toEqual({ kind: 'Pod', metadata: { name: 'q' } });
    expect(jsonPatch(doc(), [{ op: 'replace', path: '', value: 'x' }])).toEqual(doc());
  });

  it('test: equal values pass (objects regardless of key order), a missing member equals null', () => {
    expect(() => jsonPatch(doc(), [{ op: 'test', path: '/spec', value: { containers: [{ image: 'c:1', name: 'c' }] } }])).not.toThrow();
    expect(() => jsonPatch(doc(), [{ op: 'test', path: '/metadata/nope', value: null }])).not.toThrow();
    expect(() => jsonPatch(doc(), [{ op: 'test', path: '', value: doc() }])).not.toThrow();
  });

  it('kubectl rollout undo\'s patch: replace the template and the annotations', () => {
    const d = deployment({}, { annotations: { 'deployment.kubernetes.io/revision': '2' } });
    const template = { metadata: { creationTimestamp: null, labels: { app: 'web' } }, spec: { containers: containers('old') } };
    const out = applyPatch(DEPLOYMENT, d, JSON.stringify([
      { op: 'replace', path: '/spec/template', value: template },
      { op: 'replace', path: '/metadata/annotations', value: { 'deployment.kubernetes.io/revision': '2' } },
    ]), JSONP) as Obj;
    expect((out.spec as Obj).template).toEqual(template);
  });

  it('a failing operation fails the patch: 422 with kube\'s fixed message, nothing applied', () => {
    const bad = [
      [{ op: 'test', path: '/metadata/labels/a', value: '2' }],
      [{ op: 'test', path: '/metadata/labels', value: null }],
      [{ op: 'add', path: '/metadata/nope/x', value: 1 }],
      [{ op: 'add', path: '', value: {} }],
      [{ op: 'remove', path: '/metadata/nope' }],
      [{ op: 'remove', path: '/metadata/finalizers/2' }],
      [{ op: 'replace', path: '/metadata/finalizers/2', value: 'z' }],
      [{ op: 'add', path: '/metadata/finalizers/3', value: 'z' }],
      [{ op: 'add', path: '/metadata/finalizers/x', value: 'z' }],
      [{ op: 'move', from: '/metadata/nope', path: '/metadata/x' }],
      [{ op: 'move', from: '/metadata', path: '/metadata/x' }],
      [{ op: 'bogus', path: '/x' }],
      [{ path: '/x' }],
      [null],
      [{ op: 'add' }],
      [{ op: 'test', path: '/metadata/name' }],
    ];
    for (const ops of bad) expect(statusOf(() => jsonPatch(doc(), ops)), JSON.stringify(ops)).toEqual(UNPROCESSABLE);
  });

  it('a body that does not decode: 400 with Go\'s error ("error decoding patch: " with field validation)', () => {
    const err = (body: string, opts?: PatchOptions) => statusOf(() => applyPatch(POD, doc(), body, JSONP, opts)).message;
    expect(err('[{')).toBe('error decoding patch: unexpected end of JSON input');
    expect(err('[x]')).toBe("error decoding patch: invalid character 'x' looking for beginning of value");
    expect(err('{"op":"add"}')).toBe('error decoding patch: json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp');
    expect(err('["add"]')).toBe('error decoding patch: json: cannot unmarshal string into Go value of type handlers.jsonPatchOp');
    expect(err('[{"op":"add","path":5}]')).toBe('error decoding patch: json: cannot unmarshal number into Go struct field jsonPatchOp.path of type string');
    expect(statusOf(() => applyPatch(POD, doc(), '[{', JSONP))).toEqual(failure(400, 'BadRequest', 'error decoding patch: unexpected end of JSON input'));
    // fieldValidation=Ignore skips that decoding: the library's DecodePatch speaks.
    expect(err('{"op":"add"}', { fieldValidation: 'Ignore' })).toBe('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
    expect(err('[1]', { fieldValidation: 'Ignore' })).toBe('json: cannot unmarshal number into Go value of type jsonpatch.Operation');
    expect(statusOf(() => applyPatch(POD, doc(), '[{"op":"add","path":5,"value":1}]', JSONP, { fieldValidation: 'Ignore' }))).toEqual(UNPROCESSABLE);
  });

  it('null is an empty patch; more than 10000 operations: 413', () => {
    expect(applyPatch(POD, doc(), 'null', JSONP)).toEqual(doc());
    const ops = Array.from({ length: 10001 }, () => ({ op: 'test', path: '/metadata/name', value: 'p' }));
    expect(statusOf(() => jsonPatch(doc(), ops))).toEqual(
      failure(413, 'RequestEntityTooLarge', 'Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10001'),
    );
    expect(() => jsonPatch(doc(), ops.slice(1))).not.toThrow();
  });

  it('copies may add 3 MiB in all (kube-apiserver\'s JSONPatchMaxCopyBytes), then 422', () => {
    const big = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: 'x'.repeat(1024 * 1024) } };
    const copy = (n: number) => Array.from({ length: n }, (_, i) => ({ op: 'copy', from: '/data/a', path: `/data/c${i}` }));
    expect(() => applyPatch({ group: '', kind: 'ConfigMap' }, big, JSON.stringify(copy(2)), JSONP)).not.toThrow();
    expect(statusOf(() => applyPatch({ group: '', kind: 'ConfigMap' }, big, JSON.stringify(copy(3)), JSONP))).toEqual(UNPROCESSABLE);
  });

  it('where the library dereferences nil, kube-apiserver panics: a plain-text 500', () => {
    const err = (() => {
      try {
        jsonPatch(doc(), [{ op: 'test', path: '/metadata/nope' }]);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ApiserverPanic);
    expect((err as ApiserverPanic).code).toBe(500);
    expect((err as ApiserverPanic).message).toBe('This request caused apiserver to panic. Look in the logs for details.');
  });

  it('a patch that makes the document an array: 422 Invalid on field "patch" (the object does not decode)', () => {
    const s = statusOf(() => jsonPatch(doc(), [{ op: 'replace', path: '', value: [1] }]));
    expect(s.code).toBe(422);
    expect(s.reason).toBe('Invalid');
    expect(s.message).toBe(
      ' "" is invalid: patch: Invalid value: "[1]": couldn\'t get version/kind; json parse error: json: cannot unmarshal array into Go value of type struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }',
    );
    expect(s.details?.causes?.[0]?.field).toBe('patch');
  });
});

// ------------------------------------------------------------------------------------------------
describe('JSON merge patch (RFC 7386)', () => {
  const pod = (): Obj => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', labels: { a: '1', b: '2' } }, spec: { containers: containers('c', 'd') } });

  it('kubectl label/annotate/scale: keys set, null deletes, maps merge recursively', () => {
    expect(merge(pod(), { metadata: { labels: { c: '3', a: null } } }).metadata).toEqual({ name: 'p', labels: { b: '2', c: '3' } });
    expect(merge(pod(), { metadata: { annotations: { x: 'y' } } }).metadata).toEqual({ name: 'p', labels: { a: '1', b: '2' }, annotations: { x: 'y' } });
    expect(merge(pod(), { metadata: { labels: null } }).metadata).toEqual({ name: 'p' });
    expect(merge(pod(), { metadata: { nope: null } }).metadata).toEqual(pod().metadata);
    const scale = { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name: 'web' }, spec: { replicas: 1 }, status: { replicas: 1 } };
    expect(applyPatch({ group: 'autoscaling', kind: 'Scale' }, scale, '{"spec":{"replicas":5}}', MERGE)).toEqual({ ...scale, spec: { replicas: 5 } });
  });

  it('arrays are replaced whole; a scalar replaces a map and the other way round', () => {
    expect(names((merge(pod(), { spec: { containers: containers('e') } }).spec as Obj).containers)).toEqual(['e']);
    expect(merge(pod(), { metadata: { labels: 'x' } }).metadata).toEqual({ name: 'p', labels: 'x' });
    expect(merge({ ...pod(), x: 1 }, { x: { y: 1, z: null } }).x).toEqual({ y: 1 });
  });

  it('nulls in inserted values are dropped, also in objects inside arrays; null array elements stay', () => {
    expect(merge(pod(), { spec: { extra: { a: null, b: { c: null, d: 1 } } } }).spec).toMatchObject({ extra: { b: { d: 1 } } });
    expect(merge(pod(), { spec: { list: [{ a: null, b: 1 }, null] } }).spec).toMatchObject({ list: [{ b: 1 }, null] });
  });

  it('RFC 7386 appendix A, where the library agrees', () => {
    const cases: [unknown, unknown, unknown][] = [
      [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
      [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
      [{ a: 'b' }, { a: null }, {}],
      [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
      [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
      [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
      [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
      [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
      [{ e: null }, { a: 1 }, { e: null, a: 1 }],
      [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
    ];
    for (const [doc, patch, want] of cases) expect(applyPatch(POD, doc as object, JSON.stringify(patch), MERGE), JSON.stringify(patch)).toEqual(want);
  });

  it('errors: null is "Invalid JSON Patch"; a body that is no object does not decode', () => {
    expect(statusOf(() => applyPatch(POD, pod(), 'null', MERGE))).toEqual(failure(400, 'BadRequest', 'Invalid JSON Patch'));
    expect(statusOf(() => applyPatch(POD, pod(), '[1]', MERGE)).message).toBe('error decoding patch: json: cannot unmarshal array into Go value of type map[string]interface {}');
    expect(statusOf(() => applyPatch(POD, pod(), '{"a":', MERGE)).message).toBe('error decoding patch: unexpected end of JSON input');
    expect(statusOf(() => applyPatch(POD, pod(), '{"a":', MERGE, { fieldValidation: 'Ignore' })).message).toBe('Invalid JSON Patch');
    expect(statusOf(() => applyPatch(POD, pod(), '5', MERGE, { fieldValidation: 'Ignore' })).message).toBe('Invalid JSON Patch');
    expect(statusOf(() => applyPatch(POD, pod(), '[1]', MERGE, { fieldValidation: 'Ignore' })).code).toBe(422);
  });
});

// ------------------------------------------------------------------------------------------------
describe('strategic merge patch', () => {
  it('kubectl apply (research doc §7.1): every directive kubectl emits at once', () => {
    const before = deployment(
      { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } },
      { labels: { tier: 'web', app: 'web' }, finalizers: ['example.com/a', 'example.com/b'] },
    );
    (before.spec as Obj).template = {
      metadata: { labels: { app: 'web' } },
      spec: {
        containers: [
          { name: 'a', image: 'busybox', ports: [{ containerPort: 80 }, { containerPort: 81 }], volumeMounts: [{ name: 'data', mountPath: '/d' }] },
          { name: 'b', image: 'busybox' },
        ],
        volumes: [{ name: 'data', emptyDir: {} }],
      },
    };
    const patch = {
      metadata: { '$deleteFromPrimitiveList/finalizers': ['example.com/b'], '$setElementOrder/finalizers': ['example.com/a'], labels: { tier: null } },
      spec: {
        strategy: { $retainKeys: ['type'], rollingUpdate: null, type: 'Recreate' },
        template: {
          spec: {
            '$setElementOrder/containers': [{ name: 'c' }, { name: 'a' }],
            '$setElementOrder/volumes': [{ name: 'data' }],
            containers: [
              { image: 'busybox', name: 'c' },
              { '$setElementOrder/ports': [{ containerPort: 80 }], args: ['x'], name: 'a', ports: [{ $patch: 'delete', containerPort: 81 }], volumeMounts: null },
              { $patch: 'delete', name: 'b' },
            ],
            volumes: [{ $retainKeys: ['hostPath', 'name'], emptyDir: null, hostPath: { path: '/tmp' }, name: 'data' }],
          },
        },
      },
    };
    const out = smp(DEPLOYMENT, before, patch);
    expect(out.metadata).toEqual({ name: 'web', namespace: 'default', labels: { app: 'web' }, finalizers: ['example.com/a'] });
    expect((out.spec as Obj).strategy).toEqual({ type: 'Recreate' });
    expect(tmplSpec(out)).toEqual({
      containers: [
        { image: 'busybox', name: 'c' },
        { name: 'a', image: 'busybox', ports: [{ containerPort: 80 }], args: ['x'] },
      ],
      volumes: [{ name: 'data', hostPath: { path: '/tmp' } }],
    });
  });

  it('kubectl apply of env: $setElementOrder/env orders, $patch: delete removes', () => {
    const before = podSpec({ containers: [{ name: 'httpd', image: 'busybox', env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }] }] });
    const out = smp(DEPLOYMENT, before, {
      spec: { replicas: 3, template: { spec: { '$setElementOrder/containers': [{ name: 'httpd' }], containers: [{ '$setElementOrder/env': [{ name: 'A' }, { name: 'C' }], env: [{ name: 'C', value: '3' }, { $patch: 'delete', name: 'B' }], image: 'busybox:1.36', name: 'httpd' }] } } },
    });
    expect((out.spec as Obj).replicas).toBe(3);
    expect(tmplSpec(out).containers).toEqual([{ name: 'httpd', image: 'busybox:1.36', env: [{ name: 'A', value: '1' }, { name: 'C', value: '3' }] }]);
  });

  it('kubectl edit, rollout restart, cordon and uncordon', () => {
    const d = podSpec({ containers: containers('httpd', 'side') });
    const edited = smp(DEPLOYMENT, d, { spec: { replicas: 4, template: { spec: { '$setElementOrder/containers': [{ name: 'httpd' }, { name: 'side' }], containers: [{ image: 'busybox:edited', name: 'httpd' }] } } } });
    expect(tmplSpec(edited).containers).toEqual([{ name: 'httpd', image: 'busybox:edited' }, { name: 'side', image: 'side:1' }]);
    const restarted = smp(DEPLOYMENT, d, { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-11-28T06:49:32Z' } } } } });
    expect(((restarted.spec as Obj).template as Obj).metadata).toEqual({ labels: { app: 'web' }, annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-11-28T06:49:32Z' } });
    const node = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'labs' }, spec: { podCIDR: '10.42.0.0/24' } };
    const cordoned = smp(NODE, node, { spec: { unschedulable: true } });
    expect(cordoned.spec).toEqual({ podCIDR: '10.42.0.0/24', unschedulable: true });
    expect(smp(NODE, cordoned, { spec: { unschedulable: null } }).spec).toEqual({ podCIDR: '10.42.0.0/24' });
  });

  it('merges a container by name and keeps the others; a new one comes first (patch order before the object\'s)', () => {
    const d = podSpec({ containers: containers('a', 'b', 'c') });
    expect(tmplSpec(smp(DEPLOYMENT, d, { spec: { template: { spec: { containers: [{ name: 'b', image: 'new' }] } } } })).containers).toEqual([
      { name: 'a', image: 'a:1' },
      { name: 'b', image: 'new' },
      { name: 'c', image: 'c:1' },
    ]);
    expect(names(tmplSpec(smp(DEPLOYMENT, d, { spec: { template: { spec: { containers: [{ name: 'x', image: 'x' }] } } } })).containers)).toEqual(['x', 'a', 'b', 'c']);
    expect(names(tmplSpec(smp(DEPLOYMENT, d, { spec: { template: { spec: { containers: [{ name: 'c' }, { name: 'x' }] } } } })).containers)).toEqual(['a', 'b', 'c', 'x']);
  });

  it('$patch: delete removes a list item; $patch: replace replaces the list', () => {
    const d = podSpec({ containers: containers('a', 'b', 'c') });
    expect(names(tmplSpec(smp(DEPLOYMENT, d, { spec: { template: { spec: { containers: [{ name: 'b', $patch: 'delete' }] } } } })).containers)).toEqual(['a', 'c']);
    expect(names(tmplSpec(smp(DEPLOYMENT, d, { spec: { template: { spec: { containers: [{ name: 'nope', $patch: 'delete' }] } } } })).containers)).toEqual(['a', 'b', 'c']);
    expect(tmplSpec(smp(DEPLOYMENT, d, { spec: { template: { spec: { containers: [{ $patch: 'replace' }, { name: 'z', image: 'z' }] } } } })).containers).toEqual([{ name: 'z', image: 'z' }]);
  });

  it('$setElementOrder orders the merged list; items it does not name keep their place', () => {
    const d = podSpec({ containers: containers('a', 'b', 'c', 'd') });
    const order = (setOrder: string[], list: Obj[]) => names(tmplSpec(smp(DEPLOYMENT, d, { spec: { template: { spec: { '$setElementOrder/containers': setOrder.map((name) => ({ name })), containers: list } } } })).containers);
    expect(order(['d', 'c', 'b', 'a'], [])).toEqual(['d', 'c', 'b', 'a']);
    expect(order(['b', 'a'], [{ name: 'a', image: 'n' }])).toEqual(['b', 'a', 'c', 'd']);
    // Go's slices alias: the object's list, shifted in place by the deletion, with the new item where
    // the deleted one was, is what the server-only items are ordered by (as kube-apiserver does).
    expect(order(['a', 'x'], [{ name: 'x', image: 'x' }, { $patch: 'delete', name: 'b' }])).toEqual(['a', 'c', 'd', 'x']);
    expect(order(['x', 'a'], [{ name: 'x', image: 'x' }, { $patch: 'delete', name: 'b' }])).toEqual(['c', 'd', 'x', 'a']);
  });

  it('$retainKeys drops the keys it does not list, then merges', () => {
    const d = deployment({ strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1 } } });
    expect((smp(DEPLOYMENT, d, { spec: { strategy: { $retainKeys: ['type'], type: 'Recreate' } } }).spec as Obj).strategy).toEqual({ type: 'Recreate' });
    expect((smp(DEPLOYMENT, d, { spec: { strategy: { $retainKeys: ['type', 'rollingUpdate'], rollingUpdate: { maxUnavailable: 2 } } } }).spec as Obj).strategy).toEqual({
      type: 'RollingUpdate',
      rollingUpdate: { maxSurge: 1, maxUnavailable: 2 },
    });
  });

  it('$patch on maps: replace takes the patch map, delete leaves an empty map (none where there was none)', () => {
    const d = deployment({ strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1 } } });
    expect((smp(DEPLOYMENT, d, { spec: { strategy: { $patch: 'replace', type: 'Recreate' } } }).spec as Obj).strategy).toEqual({ type: 'Recreate' });
    expect((smp(DEPLOYMENT, d, { spec: { strategy: { $patch: 'delete' } } }).spec as Obj).strategy).toEqual({});
    expect(smp(DEPLOYMENT, d, { spec: { nothing: { $patch: 'delete' } } }).spec).not.toHaveProperty('nothing');
    // The whole object: {} (kube-apiserver then refuses it for its missing name; the registry's check).
    expect(smp(DEPLOYMENT, d, { $patch: 'delete' })).toEqual({});
  });

  it('lists of strings with strategy merge: union without duplicates, $deleteFromPrimitiveList removes', () => {
    const d = deployment({}, { finalizers: ['a', 'b'] });
    const fin = (patch: Obj) => (smp(DEPLOYMENT, d, { metadata: patch }).metadata as Obj).finalizers;
    expect(fin({ finalizers: ['c', 'a'] })).toEqual(['c', 'a', 'b']);
    expect(fin({ finalizers: ['b', 'b', 'c'] })).toEqual(['a', 'b', 'c']);
    expect(fin({ '$deleteFromPrimitiveList/finalizers': ['a', 'z'] })).toEqual(['b']);
    expect(fin({ '$setElementOrder/finalizers': ['b', 'a'] })).toEqual(['b', 'a']);
    expect(fin({ '$setElementOrder/finalizers': ['c', 'a'], finalizers: ['c'], '$deleteFromPrimitiveList/finalizers': ['b'] })).toEqual(['c', 'a']);
    expect(smp(DEPLOYMENT, d, { metadata: { '$deleteFromPrimitiveList/finalizers': null } }).metadata).not.toHaveProperty('finalizers');
    const node = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n' }, spec: { podCIDRs: ['10.42.0.0/24'] } };
    expect(smp(NODE, node, { spec: { podCIDRs: ['fd00::/64'] } }).spec).toEqual({ podCIDRs: ['fd00::/64', '10.42.0.0/24'] });
  });

  it('lists without a strategy are replaced: args, tolerations, taints, Endpoints subsets, ingress rules', () => {
    const d = podSpec({ containers: [{ name: 'a', args: ['1', '2'] }], tolerations: [{ key: 'k', operator: 'Exists' }] });
    const out = smp(DEPLOYMENT, d, { spec: { template: { spec: { containers: [{ name: 'a', args: ['3'] }], tolerations: [{ key: 'j', operator: 'Exists' }] } } } });
    expect(tmplSpec(out)).toEqual({ containers: [{ name: 'a', args: ['3'] }], tolerations: [{ key: 'j', operator: 'Exists' }] });
    const node = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n' }, spec: { taints: [{ key: 'a', effect: 'NoSchedule' }] } };
    expect(smp(NODE, node, { spec: { taints: [{ key: 'b', effect: 'NoSchedule' }] } }).spec).toEqual({ taints: [{ key: 'b', effect: 'NoSchedule' }] });
    const ep = { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'e' }, subsets: [{ addresses: [{ ip: '10.42.0.5' }] }] };
    expect(smp({ group: '', kind: 'Endpoints' }, ep, { subsets: [{ addresses: [{ ip: '10.42.0.6' }] }] }).subsets).toEqual([{ addresses: [{ ip: '10.42.0.6' }] }]);
    const ing = { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'i' }, spec: { rules: [{ host: 'a' }, { host: 'b' }] } };
    expect(smp({ group: 'networking.k8s.io', kind: 'Ingress' }, ing, { spec: { rules: [{ host: 'c' }] } }).spec).toEqual({ rules: [{ host: 'c' }] });
  });

  it('merge keys of the other types: service ports by port, node conditions and addresses by type, ownerReferences by uid, pod status', () => {
    const svc = { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { ports: [{ port: 80, targetPort: 8080 }, { port: 443 }] } };
    expect((smp(SERVICE, svc, { spec: { ports: [{ port: 80, targetPort: 9090 }] } }).spec as Obj).ports).toEqual([{ port: 80, targetPort: 9090 }, { port: 443 }]);
    const node = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n' }, status: { conditions: [{ type: 'Ready', status: 'True' }, { type: 'MemoryPressure', status: 'False' }], addresses: [{ type: 'InternalIP', address: '192.168.56.110' }] } };
    expect(smp(NODE, node, { status: { conditions: [{ type: 'Ready', status: 'False' }], addresses: [{ type: 'Hostname', address: 'labs' }] } }).status).toEqual({
      conditions: [{ type: 'Ready', status: 'False' }, { type: 'MemoryPressure', status: 'False' }],
      addresses: [{ type: 'Hostname', address: 'labs' }, { type: 'InternalIP', address: '192.168.56.110' }],
    });
    const owned = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', ownerReferences: [{ uid: '1', name: 'a', kind: 'ReplicaSet', apiVersion: 'apps/v1' }] } };
    expect((smp(POD, owned, { metadata: { ownerReferences: [{ uid: '1', controller: true }] } }).metadata as Obj).ownerReferences).toEqual([{ uid: '1', name: 'a', kind: 'ReplicaSet', apiVersion: 'apps/v1', controller: true }]);
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, status: { conditions: [{ type: 'Ready', status: 'True' }], podIPs: [{ ip: '10.42.0.5' }], containerStatuses: [{ name: 'a', ready: true }, { name: 'b', ready: true }] } };
    const status = smp(POD, pod, { status: { '$setElementOrder/conditions': [{ type: 'PodScheduled' }, { type: 'Ready' }], conditions: [{ type: 'PodScheduled', status: 'True' }, { type: 'Ready', status: 'False' }], containerStatuses: [{ name: 'a', ready: false }] } }).status;
    expect(status).toEqual({ conditions: [{ type: 'PodScheduled', status: 'True' }, { type: 'Ready', status: 'False' }], podIPs: [{ ip: '10.42.0.5' }], containerStatuses: [{ name: 'a', ready: false }] });
  });

  it('null deletes a key; null for a key the object lacks, and nulls inside new values, are dropped', () => {
    const d = deployment({}, { labels: { a: '1' } });
    expect(smp(DEPLOYMENT, d, { metadata: { labels: null, nope: null, annotations: { x: 'y', z: null } } }).metadata).toEqual({ name: 'web', namespace: 'default', annotations: { x: 'y' } });
  });

  it('a value of another type replaces the object\'s (a map by a list, a list by a string)', () => {
    const d = deployment({}, { labels: { a: '1' } });
    expect(smp(DEPLOYMENT, d, { metadata: { labels: ['x'] } }).metadata).toMatchObject({ labels: ['x'] });
    expect(tmplSpec(smp(DEPLOYMENT, d, { spec: { template: { spec: { containers: 'none' } } } })).containers).toBe('none');
  });

  it('directives the merge leaves in new values are dropped (decoding into the Go type drops them)', () => {
    const d = podSpec({ containers: containers('a') });
    const out = smp(DEPLOYMENT, d, { spec: { template: { spec: { containers: [{ name: 'b', '$setElementOrder/env': [{ name: 'A' }], env: [{ name: 'A', value: '1' }] }] } } } });
    expect(tmplSpec(out).containers).toEqual([{ name: 'b', env: [{ name: 'A', value: '1' }] }, { name: 'a', image: 'a:1' }]);
    expect(smp(DEPLOYMENT, d, null)).toEqual(d);
  });

  it('malformed directives: 400 with strategicpatch\'s text', () => {
    const d = deployment({ strategy: { type: 'RollingUpdate' } }, { finalizers: ['a'] });
    const bad = (patch: unknown) => statusOf(() => smp(DEPLOYMENT, d, patch));
    expect(bad({ spec: { strategy: { $retainKeys: 'type' } } })).toEqual(failure(400, 'BadRequest', 'invalid patch format of retainKeys'));
    expect(bad({ spec: { strategy: { $retainKeys: ['type'], rollingUpdate: {} } } })).toEqual(failure(400, 'BadRequest', 'invalid patch format of retainKeys'));
    expect(bad({ metadata: { $deleteFromPrimitiveList: ['a'] } })).toEqual(failure(400, 'BadRequest', 'invalid patch format of primitive list'));
    expect(bad({ metadata: { $setElementOrderX: ['a'] } })).toEqual(failure(400, 'BadRequest', 'invalid patch format of setElementOrder list'));
  });

  it('a list of lists: 422; the package\'s other errors: 500 without a reason, its text as the message', () => {
    const d = podSpec({ containers: containers('a') });
    const bad = (patch: unknown) => statusOf(() => smp(DEPLOYMENT, d, { spec: { template: { spec: patch } } }));
    expect(statusOf(() => smp(DEPLOYMENT, podSpec({ containers: [] }), tpl({ containers: [['x']] })))).toEqual(UNPROCESSABLE);
    expect(bad({ containers: [['x']] }).message).toBe('list element types are not identical: [[map[image:a:1 name:a]] [[x]]]');
    expect(bad({ containers: [{ image: 'y' }] })).toEqual(failure(500, undefined, 'map: map[image:y] does not contain declared merge key: name'));
    expect(bad({ containers: [{ name: 'a', $patch: 'bogus' }] })).toEqual(failure(500, undefined, 'unknown patch type: bogus in map: map[$patch:bogus name:a]'));
    expect(bad({ containers: [{ name: 'a', $patch: 'merge' }] }).message).toBe('merging lists cannot yet be specified in the patch');
    expect(bad({ $patch: 1 }).message).toBe('unknown patch type: %!s(int64=1) in map: map[$patch:1]');
    expect(bad({ containers: [{ name: 'a' }, 'b'] }).message).toBe('list element types are not identical: [[map[image:a:1 name:a]] [map[name:a] b]]');
    expect(bad({ '$setElementOrder/containers': 'a' }).message).toBe('expected a []interface {}, but received a string');
    expect(bad({ '$setElementOrder/containers': [{ name: 'a' }], containers: [{ name: 'b' }] }).message).toBe(
      'The order in patch list:\n[map[name:b]]\n doesn\'t match $setElementOrder list:\n[map[name:a]]\n',
    );
    expect(statusOf(() => smp(DEPLOYMENT, deployment({}, { finalizers: ['a'] }), { metadata: { finalizers: [{ a: 1 }] } })).message).toBe('list element types are not identical: [[a] [map[a:1]]]');
  });

  it('a body that does not decode: 400 with Go\'s error, no prefix', () => {
    const d = deployment();
    expect(statusOf(() => applyPatch(DEPLOYMENT, d, '[1]', SMP))).toEqual(failure(400, 'BadRequest', 'json: cannot unmarshal array into Go value of type map[string]interface {}'));
    expect(statusOf(() => applyPatch(DEPLOYMENT, d, '', SMP)).message).toBe('unexpected end of JSON input');
    expect(statusOf(() => applyPatch(DEPLOYMENT, d, '{"a":tru}', SMP)).message).toBe("invalid character '}' in literal true (expecting 'e')");
  });

  it('a key named __proto__ is data, never the prototype', () => {
    const out = smp(DEPLOYMENT, deployment(), JSON.parse('{"metadata":{"labels":{"__proto__":{"polluted":"yes"}}}}'));
    expect(Object.getPrototypeOf((out.metadata as Obj).labels)).toBe(Object.prototype);
    expect(({} as Obj).polluted).toBeUndefined();
    expect(Object.keys((out.metadata as Obj).labels as object)).toEqual(['__proto__']);
  });
});

// ------------------------------------------------------------------------------------------------
// The oracle: `kubectl patch --local` computes all three patch types with kubectl's compiled-in Go
// code (k8s.io/apimachinery strategicpatch and evanphx/json-patch v4, the libraries kube-apiserver
// uses), no server needed.

interface OracleCase {
  name: string;
  object: Obj;
  type: 'strategic' | 'merge' | 'json';
  patch: unknown;
}

const KIND_OF = (o: Obj) => {
  const apiVersion = String(o.apiVersion);
  return { group: apiVersion.includes('/') ? apiVersion.split('/')[0]! : '', kind: String(o.kind) };
};
const CONTENT_TYPE = { strategic: SMP, merge: MERGE, json: JSONP };

function oracleCases(): OracleCase[] {
  const d4 = podSpec({ containers: [...containers('a', 'b', 'c', 'd')], volumes: [{ name: 'data', emptyDir: {} }, { name: 'cfg', configMap: { name: 'c' } }] });
  const env = podSpec({ containers: [{ name: 'httpd', image: 'busybox', env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }], ports: [{ containerPort: 80 }, { containerPort: 81, name: 'x' }] }] });
  const withStrategy = deployment({ strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } }, { labels: { app: 'web', tier: 'x' }, finalizers: ['example.com/a', 'example.com/b'] });
  const node = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'labs', labels: { a: 'b' } }, spec: { podCIDR: '10.42.0.0/24', podCIDRs: ['10.42.0.0/24'], taints: [{ key: 'k', effect: 'NoSchedule' }] }, status: { conditions: [{ type: 'MemoryPressure', status: 'False' }, { type: 'Ready', status: 'True' }], addresses: [{ type: 'InternalIP', address: '192.168.56.110' }, { type: 'Hostname', address: 'labs' }] } };
  const svc = { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }, { name: 'https', port: 443 }] } };
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'u1' }] }, spec: { containers: containers('c'), imagePullSecrets: [{ name: 'r' }] }, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }, { type: 'PodScheduled', status: 'True' }], podIPs: [{ ip: '10.42.0.5' }] } };
  const slice = { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'e', labels: { 'kubernetes.io/service-name': 's' } }, addressType: 'IPv4', endpoints: [{ addresses: ['10.42.0.5'] }], ports: [{ port: 80 }] };
  const lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'labs' }, spec: { holderIdentity: 'labs', leaseDurationSeconds: 40 } };
  const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'coredns', annotations: { 'kubernetes.io/x': 'y' } }, data: { Corefile: '.:53 {}', NodeHosts: '192.168.56.110 labs' } };
  const s = (name: string, object: Obj, patch: unknown): OracleCase => ({ name, object, type: 'strategic', patch });
  return [
    // Strategic merge patches kubectl emits.
    s('apply 7.1', { ...withStrategy, spec: { ...(withStrategy.spec as Obj), template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'a', image: 'busybox', ports: [{ containerPort: 80 }, { containerPort: 81 }], volumeMounts: [{ name: 'data', mountPath: '/d' }] }, { name: 'b', image: 'busybox' }], volumes: [{ name: 'data', emptyDir: {} }] } } } }, {
      metadata: { '$deleteFromPrimitiveList/finalizers': ['example.com/b'], '$setElementOrder/finalizers': ['example.com/a'], labels: { tier: null } },
      spec: { strategy: { $retainKeys: ['type'], rollingUpdate: null, type: 'Recreate' }, template: { spec: { '$setElementOrder/containers': [{ name: 'c' }, { name: 'a' }], '$setElementOrder/volumes': [{ name: 'data' }], containers: [{ image: 'busybox', name: 'c' }, { '$setElementOrder/ports': [{ containerPort: 80 }], args: ['x'], name: 'a', ports: [{ $patch: 'delete', containerPort: 81 }], volumeMounts: null }, { $patch: 'delete', name: 'b' }], volumes: [{ $retainKeys: ['hostPath', 'name'], emptyDir: null, hostPath: { path: '/tmp' }, name: 'data' }] } } },
    }),
    s('apply env', env, { spec: { replicas: 3, template: { spec: { '$setElementOrder/containers': [{ name: 'httpd' }], containers: [{ '$setElementOrder/env': [{ name: 'A' }, { name: 'C' }], env: [{ name: 'C', value: '3' }, { $patch: 'delete', name: 'B' }], image: 'busybox:1.36', name: 'httpd' }] } } } }),
    s('edit', d4, { spec: { replicas: 4, template: { spec: { '$setElementOrder/containers': [{ name: 'a' }, { name: 'b' }, { name: 'c' }, { name: 'd' }], containers: [{ image: 'busybox:edited', name: 'b' }] } } } }),
    s('rollout restart', d4, { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-11-28T06:49:32Z' } } } } }),
    s('cordon', node, { spec: { unschedulable: true } }),
    s('uncordon', { ...node, spec: { ...node.spec, unschedulable: true } }, { spec: { unschedulable: null } }),
    s('set image', d4, tpl({ containers: [{ name: 'c', image: 'nginx' }] })),
    // Lists merged by key, new items, deletes, replace.
    s('new container first', d4, tpl({ containers: [{ name: 'x', image: 'x' }] })),
    s('patch order of several', d4, tpl({ containers: [{ name: 'x', image: 'x' }, { name: 'b', image: 'b2' }, { name: 'y' }] })),
    s('delete item', d4, tpl({ containers: [{ $patch: 'delete', name: 'b' }, { $patch: 'delete', name: 'zz' }] })),
    s('replace list', d4, tpl({ containers: [{ name: 'b', image: 'q' }, { $patch: 'replace' }, { name: 'n', image: 'n' }] })),
    s('order reverse', d4, tpl({ '$setElementOrder/containers': [{ name: 'd' }, { name: 'c' }, { name: 'b' }, { name: 'a' }] })),
    s('order partial', d4, tpl({ '$setElementOrder/containers': [{ name: 'c' }, { name: 'a' }], containers: [{ name: 'a', image: 'n' }] })),
    s('order + delete + new, aliasing 1', d4, tpl({ '$setElementOrder/containers': [{ name: 'a' }, { name: 'x' }], containers: [{ name: 'x', image: 'x' }, { $patch: 'delete', name: 'b' }] })),
    s('order + delete + new, aliasing 2', d4, tpl({ '$setElementOrder/containers': [{ name: 'x' }, { name: 'a' }, { name: 'y' }], containers: [{ name: 'x', image: 'x' }, { name: 'y', image: 'y' }, { $patch: 'delete', name: 'b' }, { $patch: 'delete', name: 'c' }] })),
    s('order + delete + 3 new', d4, tpl({ '$setElementOrder/containers': [{ name: 'd' }, { name: 'x' }, { name: 'y' }, { name: 'z' }], containers: [{ name: 'x' }, { name: 'y' }, { name: 'z' }, { $patch: 'delete', name: 'a' }] })),
    s('order of a new list', deployment(), tpl({ '$setElementOrder/initContainers': [{ name: 'i2' }, { name: 'i1' }], initContainers: [{ name: 'i2', image: 'x' }, { name: 'i1', image: 'y' }] })),
    s('env, ports and volumes', env, tpl({ containers: [{ name: 'httpd', env: [{ name: 'B', value: null }, { name: 'Z', value: 'z' }], ports: [{ containerPort: 81, protocol: 'UDP' }, { containerPort: 9090 }], volumeMounts: [{ name: 'v', mountPath: '/v' }] }], volumes: [{ name: 'v', emptyDir: {} }] })),
    s('volumes retainKeys', d4, tpl({ volumes: [{ $retainKeys: ['name', 'secret'], name: 'cfg', secret: { secretName: 's' } }] })),
    s('strategy retainKeys', withStrategy, { spec: { strategy: { $retainKeys: ['type', 'rollingUpdate'], rollingUpdate: { maxUnavailable: 2 } } } }),
    s('strategy $patch replace', withStrategy, { spec: { strategy: { $patch: 'replace', type: 'Recreate' } } }),
    s('strategy $patch delete', withStrategy, { spec: { strategy: { $patch: 'delete' } }, status: { $patch: 'delete' } }),
    s('finalizers union', withStrategy, { metadata: { finalizers: ['example.com/c', 'example.com/a', 'example.com/c'] } }),
    s('finalizers order and delete', withStrategy, { metadata: { '$setElementOrder/finalizers': ['example.com/c', 'example.com/b', 'example.com/a'], finalizers: ['example.com/c'], '$deleteFromPrimitiveList/finalizers': ['example.com/zz'] } }),
    s('finalizers delete all', withStrategy, { metadata: { '$deleteFromPrimitiveList/finalizers': ['example.com/a', 'example.com/b'] } }),
    s('atomic lists', podSpec({ containers: [{ name: 'a', args: ['1', '2'], command: ['sh'] }], tolerations: [{ key: 'k', operator: 'Exists' }] }), tpl({ containers: [{ name: 'a', args: ['3'] }], tolerations: [{ key: 'j', operator: 'Exists' }] })),
    s('node status', node, { status: { '$setElementOrder/conditions': [{ type: 'Ready' }, { type: 'MemoryPressure' }, { type: 'DiskPressure' }], conditions: [{ type: 'Ready', status: 'False', reason: 'KubeletNotReady' }, { type: 'DiskPressure', status: 'False' }], addresses: [{ type: 'InternalIP', address: '192.168.56.111' }] } }),
    s('node taints and podCIDRs', node, { spec: { taints: [{ key: 'n', effect: 'NoExecute' }], podCIDRs: ['fd00::/64', '10.42.0.0/24'] } }),
    s('service ports', svc, { spec: { ports: [{ port: 443, targetPort: 8443 }, { port: 8080, name: 'alt' }] } }),
    s('pod status and owners', pod, { metadata: { ownerReferences: [{ uid: 'u1', controller: true }, { uid: 'u2', apiVersion: 'v1', kind: 'Node', name: 'n' }] }, spec: { imagePullSecrets: [{ name: 's' }] }, status: { conditions: [{ type: 'Ready', status: 'False' }], podIPs: [{ ip: 'fd00::5' }] } }),
    s('nulls', { ...cm }, { metadata: { annotations: null, labels: { a: null, b: 'c' } }, data: { NodeHosts: null, x: null }, binaryData: { y: null } }),
    s('types differ', cm, { data: ['x'], metadata: { annotations: 'y' } }),
    s('new map with directives', deployment(), { spec: { strategy: { $retainKeys: ['type'], type: 'Recreate' } } }),
    s('endpointslice', slice, { endpoints: [{ addresses: ['10.42.0.6'] }], ports: null }),
    s('lease', lease, { spec: { renewTime: '2026-11-28T06:30:00.000000Z', holderIdentity: null } }),
    s('scale', { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name: 'web' }, spec: { replicas: 1 } }, { spec: { replicas: 3 } }),
    s('duplicate keys in the object', podSpec({ containers: [{ name: 'a', env: [{ name: 'A', value: '1' }, { name: 'A', value: '2' }, { name: 'B' }] }] }), tpl({ containers: [{ name: 'a', env: [{ name: 'A', value: '3' }, { name: 'C' }] }] })),
    s('replace directive in a new map', deployment(), { spec: { strategy: { $patch: 'replace', type: 'Recreate' } } }),
    s('delete list on a list of maps', d4, tpl({ '$deleteFromPrimitiveList/containers': [{ name: 'a' }] })),
    s('order of strings not in the object', withStrategy, { metadata: { '$setElementOrder/finalizers': ['example.com/z', 'example.com/b'] } }),
    s('nested list item merge with order', env, tpl({ '$setElementOrder/containers': [{ name: 'side' }, { name: 'httpd' }], containers: [{ name: 'side', image: 's' }, { name: 'httpd', '$setElementOrder/ports': [{ containerPort: 81 }, { containerPort: 80 }], ports: [{ containerPort: 81, name: 'y' }] }] })),
    s('panic: a null first item', podSpec({ containers: [] }), tpl({ containers: [null] })),
    s('error: a null item', d4, tpl({ containers: [null] })),
    // Strategic merge patch errors: kubectl prints the package's error as kube-apiserver returns it.
    s('error: no merge key', d4, tpl({ containers: [{ image: 'x' }] })),
    s('error: unknown $patch', d4, tpl({ containers: [{ name: 'a', $patch: 'bogus' }] })),
    s('error: $patch merge', d4, tpl({ containers: [{ name: 'a', $patch: 'merge' }] })),
    s('error: list element types', d4, tpl({ containers: [['x']] })),
    s('error: list of lists', podSpec({ containers: [] }), tpl({ containers: [['x']] })),
    s('error: retainKeys', withStrategy, { spec: { strategy: { $retainKeys: ['type'], rollingUpdate: {} } } }),
    s('error: order mismatch', d4, tpl({ '$setElementOrder/containers': [{ name: 'a' }], containers: [{ name: 'b' }] })),
    s('error: primitive list directive', withStrategy, { metadata: { $deleteFromPrimitiveList: ['a'] } }),
    s('error: element types', withStrategy, { metadata: { finalizers: [1] } }),
    s('error: order is no list', d4, tpl({ '$setElementOrder/containers': 'a' })),
    // Merge patches.
    { name: 'merge label', object: pod, type: 'merge', patch: { metadata: { labels: { foo: 'bar' } } } },
    { name: 'merge unlabel', object: { ...pod, metadata: { ...pod.metadata, labels: { foo: 'bar', x: 'y' } } }, type: 'merge', patch: { metadata: { labels: { foo: null } } } },
    { name: 'merge lists replaced, nulls pruned', object: d4, type: 'merge', patch: { spec: { template: { spec: { containers: [{ name: 'n', image: null, env: [{ name: 'A', value: null }] }, null] } }, extra: { a: null, b: { c: null } } } } },
    { name: 'merge scalar over map', object: cm, type: 'merge', patch: { data: 'x', metadata: { annotations: { 'kubernetes.io/x': null, z: 'w' } } } },
    { name: 'merge error null', object: cm, type: 'merge', patch: null },
    // JSON patches.
    { name: 'json ops', object: pod, type: 'json', patch: [{ op: 'add', path: '/metadata/labels', value: { a: 'b' } }, { op: 'add', path: '/metadata/annotations', value: {} }, { op: 'add', path: '/metadata/annotations/kubernetes.io~1change-cause', value: 'x' }, { op: 'copy', from: '/metadata/labels', path: '/spec/nodeSelector' }, { op: 'move', from: '/spec/imagePullSecrets/0', path: '/spec/imagePullSecrets/-' }, { op: 'test', path: '/status/phase', value: 'Running' }] },
    { name: 'json quirks', object: pod, type: 'json', patch: [{ op: 'replace', path: '/metadata/namespace', value: 'ns' }, { op: 'copy', from: '/metadata/nope', path: '/metadata/copied' }, { op: 'add', path: '/status/conditions/-1', value: { type: 'X' } }, { op: 'add', path: '/status/podIPs/01', value: { ip: 'b' } }, { op: 'remove', path: '/status/conditions/-1' }, { op: 'replace', path: '', value: 'x' }] },
    { name: 'json undo', object: d4, type: 'json', patch: [{ op: 'replace', path: '/spec/template', value: { metadata: { creationTimestamp: null, labels: { app: 'web' } }, spec: { containers: containers('old') } } }, { op: 'replace', path: '/metadata/annotations', value: { 'deployment.kubernetes.io/revision': '1' } }] },
    { name: 'json error test', object: pod, type: 'json', patch: [{ op: 'test', path: '/status/phase', value: 'Pending' }] },
    { name: 'json error missing', object: pod, type: 'json', patch: [{ op: 'remove', path: '/metadata/labels' }] },
    { name: 'json panic: test without value', object: pod, type: 'json', patch: [{ op: 'test', path: '/metadata/nope' }] },
    { name: 'json error index', object: pod, type: 'json', patch: [{ op: 'add', path: '/status/conditions/5', value: {} }] },
  ];
}

type Outcome = { ok: true; object: unknown } | { ok: false; status: Status };

function ours(c: OracleCase): Outcome {
  try {
    return { ok: true, object: applyPatch(KIND_OF(c.object), c.object, JSON.stringify(c.patch), CONTENT_TYPE[c.type]) };
  } catch (e) {
    if (e instanceof StatusError) return { ok: false, status: e.status };
    throw e;
  }
}

/** Object keys sorted at every level (kubectl prints maps sorted; the order of keys means nothing). */
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Obj)[k])]));
  return v;
}

/**
 * kubectl prints the merged map as it is; kube-apiserver decodes it into the Go type, which drops
 * the directives the merge left in new values (no Go field is called `$retainKeys`), as applyPatch does.
 */
function dropDirectives(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(dropDirectives);
  if (!v || typeof v !== 'object') return v;
  const directive = (k: string) => k === '$patch' || k === '$retainKeys' || k.startsWith('$setElementOrder/') || k.startsWith('$deleteFromPrimitiveList/');
  return Object.fromEntries(Object.entries(v).filter(([k]) => !directive(k)).map(([k, x]) => [k, dropDirectives(x)]));
}

describe('against kubectl patch --local (the Go implementation)', () => {
  let tmp = '';
  let kubectl = false;
  beforeAll(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), 'api-patch-'));
    const r = await run(['kubectl', 'version', '--client', '-o', 'json'], { allowFail: true, timeoutMs: 30_000 }).catch(() => null);
    kubectl = r?.exitCode === 0;
    if (!kubectl) console.warn('kubectl is not installed: skipping the comparisons with kubectl patch --local');
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  async function theirs(c: OracleCase, i: number): Promise<{ ok: boolean; out: string }> {
    const file = path.join(tmp, `obj-${i}.json`);
    writeFileSync(file, JSON.stringify(c.object));
    const r = await run(
      ['kubectl', 'patch', '--local', '-f', file, `--type=${c.type}`, '-p', JSON.stringify(c.patch), '-o', 'json', '--kubeconfig=/dev/null', '--cache-dir', path.join(tmp, 'cache')],
      { allowFail: true, timeoutMs: 30_000 },
    );
    return r.exitCode === 0 ? { ok: true, out: r.stdout } : { ok: false, out: r.stderr.trim() };
  }

  it('gives kubectl\'s result for every case, or fails where it fails (with its message for strategic merge patches)', async (ctx) => {
    if (!kubectl) ctx.skip();
    const cases = oracleCases();
    const results: { ok: boolean; out: string }[] = new Array(cases.length);
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < cases.length) {
          const i = next++;
          results[i] = await theirs(cases[i]!, i);
        }
      }),
    );
    let compared = 0;
    for (const [i, c] of cases.entries()) {
      const want = results[i]!;
      const got = ours(c);
      const label = `${c.name}: ${JSON.stringify(c.patch)}`;
      expect(got.ok, `${label}\nkubectl: ${want.out}\nours: ${JSON.stringify(got)}`).toBe(want.ok);
      if (want.ok && got.ok) {
        const theirs = JSON.parse(want.out) as unknown;
        expect(sortKeys(got.object), label).toEqual(sortKeys(c.type === 'strategic' ? dropDirectives(theirs) : theirs));
      }
      else if (!got.ok && c.type === 'strategic' && got.status.code !== 422 && got.status.message !== ApiserverPanic.TEXT) expect(`error: ${got.status.message}`.trim(), label).toBe(want.out);
      compared++;
    }
    expect(compared).toBe(cases.length);
    // Most cases are patches kubectl applies; the rest are its errors and panics.
    expect(results.filter((r) => r.ok).length).toBeGreaterThan((cases.length * 2) / 3);
  });
});
