// The registry's Service allocations (service-alloc.ts) and the kinds' validation (validate-*.ts):
// kube-apiserver v1.32's values, 422 messages and causes, word for word, and nothing stored when
// a write is refused (create, update, patch, dry run).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { allocateServices } from '../../src/api/allocators.ts';
import type { Service } from '../../src/api/types.ts';
import { DryRunStore } from '../../src/api/server/dry-run.ts';
import type { KubeObject } from '../../src/api/server/object.ts';
import { Registry, type RegistryOptions } from '../../src/api/server/registry.ts';
import { resourceFor, type ResourceInfo } from '../../src/api/server/resources.ts';
import { StatusError, type Status } from '../../src/api/server/status.ts';
import { KineStore } from '../../src/api/storage/kine.ts';
import { inCidr } from '../../src/util/cidr.ts';

const R = (group: string, plural: string): ResourceInfo => resourceFor(group, plural)!;
const SERVICES = R('', 'services');
const PODS = R('', 'pods');
const CONFIGMAPS = R('', 'configmaps');
const DEPLOYMENTS = R('apps', 'deployments');
const REPLICASETS = R('apps', 'replicasets');
const INGRESSES = R('networking.k8s.io', 'ingresses');
const SLICES = R('discovery.k8s.io', 'endpointslices');

let store: KineStore;
let reg: Registry;

function fresh(opts: RegistryOptions = {}): void {
  store?.close();
  store = new KineStore(':memory:');
  reg = new Registry(store, opts);
  for (const name of ['default', 'kube-system']) reg.create(R('', 'namespaces'), undefined, { metadata: { name } });
}

beforeEach(() => fresh());
afterEach(() => store.close());

function statusOf(fn: () => unknown): Status {
  try {
    fn();
  } catch (err) {
    if (err instanceof StatusError) return err.status;
    throw err;
  }
  throw new Error('expected a StatusError');
}

const svc = (name: string, spec: Record<string, unknown> = {}, namespace = 'default'): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace },
  spec: { selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 80 }], ...spec },
});

/** The old path's answer for one Service (src/api/allocators.ts), the reference the registry must match. */
function oldAllocation(ns: string, name: string, type = 'ClusterIP') {
  const s = { metadata: { name, namespace: ns }, spec: { type, ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 80 }] } } as unknown as Service;
  return allocateServices([s], {}, { serviceCIDR: '10.43.0.0/16', serviceNodePortRange: [30000, 32767] }).allocations[`${ns}/${name}`]!;
}

const template = (labels: Record<string, string>, container: Record<string, unknown> = { name: 'web', image: 'nginx' }) => ({ metadata: { labels }, spec: { containers: [container] } });
const deployment = (name: string, spec: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: 'default' },
  spec: { replicas: 1, selector: { matchLabels: { app: name } }, template: template({ app: name }), ...spec },
});
const stored = (r: ResourceInfo) => store.list(`/registry/${r.etcdPrefix}/`).kvs.map((kv) => kv.key);

describe('Service allocation in the registry', () => {
  it('gives a ClusterIP the old allocator would, with clusterIPs, ipFamilies, ipFamilyPolicy and internalTrafficPolicy as v1.32', () => {
    const created = reg.create(SERVICES, 'default', svc('app1-service'));
    const ip = oldAllocation('default', 'app1-service').clusterIP;
    expect(created.spec).toMatchObject({ type: 'ClusterIP', clusterIP: ip, clusterIPs: [ip], ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack', internalTrafficPolicy: 'Cluster', sessionAffinity: 'None' });
    expect(inCidr('10.43.0.0/16', ip!)).toBe(true);
    // the dynamic band: above the first 256 addresses kept for requests (kube-dns's .10)
    expect(Number(ip!.split('.')[2])).toBeGreaterThan(0);
    expect(created.spec).not.toHaveProperty('externalTrafficPolicy');
  });

  it('takes a requested IP when it is free; a second request for it is 422 with kube\'s text, and nothing is stored', () => {
    expect(reg.create(SERVICES, 'kube-system', svc('kube-dns', { clusterIP: '10.43.0.10' }, 'kube-system')).spec!.clusterIPs).toEqual(['10.43.0.10']);
    const st = statusOf(() => reg.create(SERVICES, 'default', svc('dup', { clusterIP: '10.43.0.10' })));
    expect(st).toMatchObject({
      code: 422,
      reason: 'Invalid',
      message: 'Service "dup" is invalid: spec.clusterIPs: Invalid value: []string{"10.43.0.10"}: failed to allocate IP 10.43.0.10: provided IP is already allocated',
      details: { name: 'dup', kind: 'Service', causes: [{ reason: 'FieldValueInvalid', field: 'spec.clusterIPs', message: 'Invalid value: []string{"10.43.0.10"}: failed to allocate IP 10.43.0.10: provided IP is already allocated' }] },
    });
    expect(statusOf(() => reg.create(SERVICES, 'default', svc('far', { clusterIP: '10.44.0.5' }))).message).toBe(
      'Service "far" is invalid: spec.clusterIPs: Invalid value: []string{"10.44.0.5"}: failed to allocate IP 10.44.0.5: the provided IP (10.44.0.5) is not in the valid range. The range of valid IPs is 10.43.0.0/16',
    );
    expect(statusOf(() => reg.create(SERVICES, 'default', svc('bad', { clusterIP: '10.43.0.300' }))).message).toBe(
      'Service "bad" is invalid: spec.clusterIPs[0]: Invalid value: "10.43.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
    );
    expect(stored(SERVICES)).toEqual(['/registry/services/specs/kube-system/kube-dns']);
  });

  it('keeps a headless Service headless; an ExternalName one gets nothing', () => {
    expect(reg.create(SERVICES, 'default', svc('db', { clusterIP: 'None' })).spec).toMatchObject({ clusterIP: 'None', clusterIPs: ['None'], ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack' });
    const ext = reg.create(SERVICES, 'default', { metadata: { name: 'ext' }, spec: { type: 'ExternalName', externalName: 'example.com' } });
    expect(ext.spec).not.toHaveProperty('clusterIP');
    expect(ext.spec).not.toHaveProperty('ipFamilies');
  });

  it('gives NodePort and LoadBalancer ports nodePorts (the old allocator\'s), and a healthCheckNodePort for Local', () => {
    const np = reg.create(SERVICES, 'default', svc('web', { type: 'NodePort' }));
    expect((np.spec!.ports as { nodePort: number }[])[0]!.nodePort).toBe(oldAllocation('default', 'web', 'NodePort').nodePorts['80/TCP']);
    expect(np.spec!.externalTrafficPolicy).toBe('Cluster');
    const lb = reg.create(SERVICES, 'default', svc('lb', { type: 'LoadBalancer', externalTrafficPolicy: 'Local' }));
    const hc = lb.spec!.healthCheckNodePort as number;
    expect(hc).toBeGreaterThanOrEqual(30000);
    expect(hc).not.toBe((lb.spec!.ports as { nodePort: number }[])[0]!.nodePort);
    // DNS over TCP and UDP on one port number share one NodePort (as kube's initNodePorts).
    const dns = reg.create(SERVICES, 'default', svc('dns', { type: 'NodePort', ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, protocol: 'TCP' }] }));
    const [a, b] = dns.spec!.ports as { nodePort: number }[];
    expect(a!.nodePort).toBe(b!.nodePort);
  });

  it('keeps the healthCheckNodePort on update (a client that leaves it out too), frees it when the Service stops needing one', () => {
    const first = reg.create(SERVICES, 'default', svc('lb', { type: 'LoadBalancer', externalTrafficPolicy: 'Local' }));
    const hc = first.spec!.healthCheckNodePort as number;
    // kubectl replace of the original YAML: no healthCheckNodePort.
    const again = reg.update(SERVICES, 'default', 'lb', { ...svc('lb', { type: 'LoadBalancer', externalTrafficPolicy: 'Local' }), metadata: { name: 'lb', namespace: 'default', resourceVersion: first.metadata.resourceVersion } });
    expect(again.spec!.healthCheckNodePort).toBe(hc);
    // Another Service cannot take it while it is held.
    expect(statusOf(() => reg.create(SERVICES, 'default', svc('np', { type: 'NodePort', ports: [{ port: 80, nodePort: hc }] }))).message).toBe(
      `Service "np" is invalid: spec.ports[0].nodePort: Invalid value: ${hc}: provided port is already allocated`,
    );
    const cluster = reg.guaranteedUpdate(SERVICES, 'default', 'lb', (cur) => ({ ...cur, spec: { ...cur.spec, externalTrafficPolicy: 'Cluster' } }));
    expect(cluster.spec).not.toHaveProperty('healthCheckNodePort');
    expect((reg.create(SERVICES, 'default', svc('np', { type: 'NodePort', ports: [{ port: 80, nodePort: hc }] })).spec!.ports as { nodePort: number }[])[0]!.nodePort).toBe(hc);
  });

  it('refuses a requested nodePort in use or outside the range with kube\'s text', () => {
    reg.create(SERVICES, 'default', svc('one', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] }));
    expect(statusOf(() => reg.create(SERVICES, 'default', svc('two', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] }))).message).toBe(
      'Service "two" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated',
    );
    expect(statusOf(() => reg.create(SERVICES, 'default', svc('three', { type: 'NodePort', ports: [{ port: 80, nodePort: 8080 }] }))).message).toBe(
      'Service "three" is invalid: spec.ports[0].nodePort: Invalid value: 8080: provided port is not in the valid range. The range of valid ports is 30000-32767',
    );
  });

  it('on update keeps what was allocated when the client leaves it out; the ClusterIP may not change', () => {
    const first = reg.create(SERVICES, 'default', svc('web', { type: 'NodePort' }));
    const nodePort = (first.spec!.ports as { nodePort: number }[])[0]!.nodePort;
    // kubectl replace of the original YAML: no clusterIP, no nodePort
    const again = reg.update(SERVICES, 'default', 'web', { ...svc('web', { type: 'NodePort', ports: [{ name: 'http', port: 80, targetPort: 8080 }] }), metadata: { name: 'web', namespace: 'default', resourceVersion: first.metadata.resourceVersion } });
    expect(again.spec).toMatchObject({ clusterIP: first.spec!.clusterIP, clusterIPs: first.spec!.clusterIPs, ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort }] });
    const moved = statusOf(() => reg.guaranteedUpdate(SERVICES, 'default', 'web', (cur) => ({ ...cur, spec: { ...cur.spec, clusterIP: '10.43.0.99' } })));
    expect(moved.message).toBe('Service "web" is invalid: spec.clusterIPs[0]: Invalid value: []string{"10.43.0.99"}: may not change once set');
    expect(reg.get(SERVICES, 'default', 'web').spec!.clusterIP).toBe(first.spec!.clusterIP);
  });

  it('frees the values on delete; a dry run allocates nothing', () => {
    reg.create(SERVICES, 'default', svc('a', { clusterIP: '10.43.0.20' }));
    reg.delete(SERVICES, 'default', 'a');
    expect(reg.create(SERVICES, 'default', svc('b', { clusterIP: '10.43.0.20' })).spec!.clusterIP).toBe('10.43.0.20');
    const dry = reg.withStore(new DryRunStore(store).asKineStore());
    expect(dry.create(SERVICES, 'default', svc('c', { clusterIP: '10.43.0.21' })).spec!.clusterIP).toBe('10.43.0.21');
    expect(statusOf(() => dry.create(SERVICES, 'default', svc('d', { clusterIP: '10.43.0.20' }))).code).toBe(422);
    expect(reg.create(SERVICES, 'default', svc('e', { clusterIP: '10.43.0.21' })).spec!.clusterIP).toBe('10.43.0.21');
  });

  it('allocates from the ranges it is configured with', () => {
    fresh({ serviceRanges: { serviceCIDR: '10.96.0.0/12', nodePortRange: [31000, 31010] } });
    const s = reg.create(SERVICES, 'default', svc('web', { type: 'NodePort' }));
    expect(inCidr('10.96.0.0/12', s.spec!.clusterIP as string)).toBe(true);
    const np = (s.spec!.ports as { nodePort: number }[])[0]!.nodePort;
    expect(np >= 31000 && np <= 31010).toBe(true);
  });
});

describe('validation: 422 with the field path, nothing stored', () => {
  it('a Deployment without an image: kube\'s message, causes and details', () => {
    const st = statusOf(() => reg.create(DEPLOYMENTS, 'default', deployment('web', { template: template({ app: 'web' }, { name: 'web' }) })));
    expect(st).toMatchObject({
      kind: 'Status',
      code: 422,
      reason: 'Invalid',
      message: 'Deployment.apps "web" is invalid: spec.template.spec.containers[0].image: Required value',
      details: { name: 'web', group: 'apps', kind: 'Deployment', causes: [{ reason: 'FieldValueRequired', message: 'Required value', field: 'spec.template.spec.containers[0].image' }] },
    });
    expect(stored(DEPLOYMENTS)).toEqual([]);
  });

  it('a Deployment\'s selector: required, and must match the template\'s labels', () => {
    const { selector: _s, ...noSelector } = deployment('web').spec!;
    expect(statusOf(() => reg.create(DEPLOYMENTS, 'default', { ...deployment('web'), spec: noSelector })).message).toBe(
      'Deployment.apps "web" is invalid: [spec.selector: Required value, spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`]',
    );
    expect(statusOf(() => reg.create(DEPLOYMENTS, 'default', deployment('web', { selector: { matchLabels: { app: 'other' } } }))).message).toBe(
      'Deployment.apps "web" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`',
    );
    expect(statusOf(() => reg.create(DEPLOYMENTS, 'default', deployment('web', { replicas: -1 }))).message).toBe('Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0');
    expect(statusOf(() => reg.create(REPLICASETS, 'default', { ...deployment('rs'), kind: 'ReplicaSet', spec: { selector: {}, template: template({ app: 'rs' }) } })).message).toBe(
      'ReplicaSet.apps "rs" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment',
    );
  });

  it('containers: ports, env names, volume mounts, several problems in one aggregate', () => {
    const bad = { name: 'web', image: 'nginx', ports: [{ containerPort: 70000, protocol: 'XTCP' }], env: [{ name: 'A=B', value: 'x' }], volumeMounts: [{ name: 'x', mountPath: '/data' }] };
    const st = statusOf(() => reg.create(PODS, 'default', { metadata: { name: 'p' }, spec: { containers: [bad] } }));
    expect(st.message).toBe(
      'Pod "p" is invalid: [spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive, spec.containers[0].ports[0].protocol: Unsupported value: "XTCP": supported values: "SCTP", "TCP", "UDP", spec.containers[0].env[0].name: Invalid value: "A=B": a valid environment variable name must consist only of printable ASCII characters other than \'=\', spec.containers[0].volumeMounts[0].name: Not found: "x"]',
    );
    expect(st.details!.causes!.map((c) => c.reason)).toEqual(['FieldValueInvalid', 'FieldValueNotSupported', 'FieldValueInvalid', 'FieldValueNotFound']);
    expect(statusOf(() => reg.create(PODS, 'default', { metadata: { name: 'q' }, spec: {} })).message).toBe('Pod "q" is invalid: spec.containers: Required value');
    expect(stored(PODS)).toEqual([]);
  });

  it('Services: port range, protocols, names required when several', () => {
    expect(statusOf(() => reg.create(SERVICES, 'default', svc('s', { ports: [{ port: 70000 }] }))).message).toBe(
      'Service "s" is invalid: [spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive, spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive]',
    );
    expect(statusOf(() => reg.create(SERVICES, 'default', svc('s', { ports: [{ port: 80, protocol: 'XTCP' }] }))).message).toBe(
      'Service "s" is invalid: spec.ports[0].protocol: Unsupported value: "XTCP": supported values: "SCTP", "TCP", "UDP"',
    );
    expect(statusOf(() => reg.create(SERVICES, 'default', svc('s', { ports: [{ port: 80 }, { port: 81, targetPort: 'http_x' }] }))).message).toBe(
      'Service "s" is invalid: [spec.ports[0].name: Required value, spec.ports[1].name: Required value, spec.ports[1].targetPort: Invalid value: "http_x": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)]',
    );
    expect(statusOf(() => reg.create(SERVICES, 'default', svc('s', { type: 'Foo' }))).message).toBe(
      'Service "s" is invalid: spec.type: Unsupported value: "Foo": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
    );
    expect(stored(SERVICES)).toEqual([]);
  });

  it('Ingress paths, path types and backends', () => {
    const ing = (path: Record<string, unknown>): KubeObject => ({ metadata: { name: 'i' }, spec: { rules: [{ host: 'app.com', http: { paths: [path] } }] } });
    const backend = { service: { name: 'app', port: { number: 80 } } };
    expect(statusOf(() => reg.create(INGRESSES, 'default', ing({ path: 'api', pathType: 'Prefix', backend }))).message).toBe(
      'Ingress.networking.k8s.io "i" is invalid: spec.rules[0].http.paths[0].path: Invalid value: "api": must be an absolute path',
    );
    expect(statusOf(() => reg.create(INGRESSES, 'default', ing({ path: '/', backend }))).message).toBe(
      'Ingress.networking.k8s.io "i" is invalid: spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified',
    );
    expect(statusOf(() => reg.create(INGRESSES, 'default', ing({ path: '/', pathType: 'Regex', backend }))).message).toBe(
      'Ingress.networking.k8s.io "i" is invalid: spec.rules[0].http.paths[0].pathType: Unsupported value: "Regex": supported values: "Exact", "ImplementationSpecific", "Prefix"',
    );
    expect(statusOf(() => reg.create(INGRESSES, 'default', ing({ path: '/', pathType: 'Prefix', backend: { service: { name: 'app', port: {} } } }))).message).toBe(
      'Ingress.networking.k8s.io "i" is invalid: spec.rules[0].http.paths[0].backend: Required value: port name or number is required',
    );
    expect(statusOf(() => reg.create(INGRESSES, 'default', ing({ path: '/', pathType: 'Prefix', backend: { service: { port: { number: 80 } } } }))).message).toBe(
      'Ingress.networking.k8s.io "i" is invalid: spec.rules[0].http.paths[0].backend.service.name: Required value',
    );
  });

  it('ConfigMap keys and EndpointSlice addresses', () => {
    expect(statusOf(() => reg.create(CONFIGMAPS, 'default', { metadata: { name: 'c' }, data: { 'a b': 'x' } })).message).toBe(
      "ConfigMap \"c\" is invalid: data[a b]: Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
    );
    expect(statusOf(() => reg.create(SLICES, 'default', { metadata: { name: 'e' }, addressType: 'IPv4', endpoints: [{ addresses: ['10.42.0.300'] }], ports: [] })).message).toBe(
      'EndpointSlice.discovery.k8s.io "e" is invalid: endpoints[0].addresses[0]: Invalid value: "10.42.0.300": must be a valid IPv4 address',
    );
  });

  it('on update and patch (after the patch is applied) and for a dry run: 422, the stored object unchanged', () => {
    const d = reg.create(DEPLOYMENTS, 'default', deployment('web'));
    const put = { ...d, spec: { ...d.spec, replicas: -2 } };
    expect(statusOf(() => reg.update(DEPLOYMENTS, 'default', 'web', put)).message).toBe('Deployment.apps "web" is invalid: spec.replicas: Invalid value: -2: must be greater than or equal to 0');
    const patched = statusOf(() => reg.guaranteedUpdate(DEPLOYMENTS, 'default', 'web', (cur) => ({ ...cur, spec: { ...cur.spec, selector: { matchLabels: { app: 'web', tier: 'x' } } } })));
    expect(patched.message).toBe(
      'Deployment.apps "web" is invalid: [spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`, spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web", "tier":"x"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable]',
    );
    const dry = reg.withStore(new DryRunStore(store).asKineStore());
    expect(statusOf(() => dry.create(DEPLOYMENTS, 'default', deployment('other', { replicas: -1 }))).code).toBe(422);
    const now = reg.get(DEPLOYMENTS, 'default', 'web');
    expect([now.metadata.resourceVersion, now.spec!.replicas]).toEqual([d.metadata.resourceVersion, 1]);
    expect(stored(DEPLOYMENTS)).toEqual(['/registry/deployments/default/web']);
  });

  it('a pod\'s spec may change only where kube allows (the image)', () => {
    const p = reg.create(PODS, 'default', { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'nginx' }] } });
    const image = reg.guaranteedUpdate(PODS, 'default', 'p', (cur) => ({ ...cur, spec: { ...cur.spec, containers: [{ ...(cur.spec!.containers as object[])[0], image: 'nginx:2' }] } }));
    expect((image.spec!.containers as { image: string }[])[0]!.image).toBe('nginx:2');
    const st = statusOf(() => reg.guaranteedUpdate(PODS, 'default', 'p', (cur) => ({ ...cur, spec: { ...cur.spec, restartPolicy: 'Never' } })));
    expect(st.message).toMatch(/^Pod "p" is invalid: spec: Forbidden: pod updates may not change fields other than `spec.containers\[\*\].image`,/);
    expect(p.metadata.uid).toBe(reg.get(PODS, 'default', 'p').metadata.uid);
  });

  it('the status subresource does not revalidate the spec (an object stored before validation keeps its status written)', () => {
    const loose = new Registry(store, { strategies: { deployments: { validate: () => [] } } });
    const d = loose.create(DEPLOYMENTS, 'default', deployment('old', { replicas: -1 }));
    const st = reg.update(DEPLOYMENTS, 'default', 'old', { ...d, status: { observedGeneration: 1 } }, { subresource: 'status' });
    expect(st.status).toEqual({ observedGeneration: 1 });
    expect(statusOf(() => reg.guaranteedUpdate(DEPLOYMENTS, 'default', 'old', (cur) => ({ ...cur, metadata: { ...cur.metadata, labels: { a: 'b' } } }))).code).toBe(422);
  });
});
