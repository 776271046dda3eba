// Protobuf request bodies (protobuf.ts): what kubectl's typed `create` commands send. Oracle: the
// same command's object as kubectl renders it in JSON (--dry-run=client -o json), sent as JSON;
// both go through a server-side dry run and must come back the same (defaults, allocations).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeProtobuf, ProtobufError } from '../../src/api/server/protobuf.ts';
import { useApiServer } from './kubectl-fixture.ts';

const fx = useApiServer('protobuf');

async function kubectl(...args: string[]) {
  const r = await fx.kubectl(...args);
  expect(r.exitCode, `kubectl ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout.trim();
}

/** Without empty objects and lists: kubectl prints a typed answer's empty structs, an unstructured one's not. */
function prune(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(prune);
  if (typeof v !== 'object' || v === null) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    const p = prune(x);
    if (p === null || (typeof p === 'object' && Object.keys(p as object).length === 0)) continue;
    out[k] = p;
  }
  return out;
}

/** The server's dry-run answer, without what differs between two requests (uid, time). */
function comparable(json: string): unknown {
  const o = JSON.parse(json) as { metadata: Record<string, unknown> };
  delete o.metadata.uid;
  delete o.metadata.creationTimestamp;
  return prune(o);
}

const COMMANDS = [
  ['create', 'service', 'clusterip', 'x', '--tcp=80'],
  ['create', 'service', 'nodeport', 'np', '--tcp=80:8080', '--node-port=30111'],
  ['create', 'service', 'loadbalancer', 'lb', '--tcp=443:8443'],
  ['create', 'service', 'externalname', 'ext', '--external-name=example.com'],
  ['create', 'deployment', 'web', '--image=nginx:1.27', '--replicas=2', '--port=80'],
  ['create', 'configmap', 'c', '--from-literal=a=b', '--from-literal=key.two=x y'],
  ['create', 'namespace', 'team-a'],
  ['create', 'ingress', 'ing', '--class=nginx', '--rule=foo.com/bar*=svc1:8080', '--rule=bar.com/=svc2:http'],
  ['run', 'p', '--image=busybox', '--labels=app=p,tier=x', '--port=8080', '--env=A=1', '--', 'sleep', '3600'],
];

describe('kubectl create with a protobuf body', () => {
  for (const cmd of COMMANDS) {
    it(`${cmd.join(' ')}: the same object as its JSON`, async () => {
      // flags before a `--` (kubectl run's command)
      const withFlags = (...flags: string[]) => (cmd.includes('--') ? [...cmd.slice(0, cmd.indexOf('--')), ...flags, ...cmd.slice(cmd.indexOf('--'))] : [...cmd, ...flags]);
      const viaProtobuf = await kubectl(...withFlags('--dry-run=server', '-o', 'json'));
      const file = path.join(fx.tmp, `${cmd[2]}.json`);
      writeFileSync(file, await kubectl(...withFlags('--dry-run=client', '-o', 'json')));
      const viaJson = await kubectl('create', '--dry-run=server', '-o', 'json', '-f', file);
      expect(comparable(viaProtobuf)).toEqual(comparable(viaJson));
    });
  }

  it('kubectl create service clusterip x --tcp=80 for real: an IP in 10.43.0.0/16', async () => {
    expect(await kubectl('create', 'service', 'clusterip', 'real', '--tcp=80')).toBe('service/real created');
    expect(await kubectl('get', 'svc', 'real', '-o', 'jsonpath={.spec.clusterIP}')).toMatch(/^10\.43\.\d+\.\d+$/);
  });

  it('refuses what is not a Kubernetes protobuf message', () => {
    expect(() => decodeProtobuf(Buffer.from('{"kind":"Pod"}'))).toThrow(ProtobufError);
    expect(() => decodeProtobuf(Buffer.from([0x6b, 0x38, 0x73, 0x00, 0x0a, 0x05, 0x0a, 0x02, 0x76, 0x31]))).toThrow(ProtobufError);
  });
});
