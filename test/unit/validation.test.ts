// The bad input corpus (test/fixtures/bad) and the good fixtures: every bad file is refused with a
// message naming its file, line, object and field; the default lab files and good fixtures load with
// the defaults Kubernetes and k3s would apply.

import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatIssue, loadDesiredState, parseClusterConfig, parseDesiredState, ValidationError, type Issue } from '../../src/api/load.ts';
import { configRefusal } from './config-fixtures.ts';

const BAD = 'test/fixtures/bad';
const GOOD = 'test/fixtures/good';

interface Expectation {
  line: number;
  /** `Kind namespace/name`, or null when the problem has no object (YAML syntax, config.yaml). */
  object: string | null;
  /** Field path, or null for document-level problems. */
  field: string | null;
  message: RegExp;
  /** How many problems the fixture holds in all (1 unless said). */
  count?: number;
}

const D = 'Deployment default/web';
const S = 'Service default/web';
const C = 'spec.template.spec.containers[0]';

/** One expectation per fixture: `*.config.yaml` pair with lab/cluster.yaml, the others with lab/config.yaml. */
const corpus: Record<string, Expectation> = {
  // YAML level
  'empty.yaml': { line: 1, object: null, field: null, message: /^no objects declared \(the file is empty or holds only comments; an editor may still be writing it\): refused.*kind: Namespace/ },
  'comments-only.yaml': { line: 1, object: null, field: null, message: /^no objects declared/ },
  'yaml-syntax-error.yaml': { line: 20, object: null, field: null, message: /^YAML syntax error: Nested mappings/ },
  'yaml-duplicate-key.yaml': { line: 15, object: null, field: null, message: /Map keys must be unique/ },
  'yaml-alias-bomb.yaml': { line: 2, object: null, field: null, message: /alias count/ },
  'not-a-mapping.yaml': { line: 50, object: null, field: null, message: /must be a mapping with apiVersion, kind and metadata/ },
  'unknown-kind.yaml': { line: 10, object: 'Deploymnet default/web', field: 'kind', message: /unknown kind "Deploymnet"/ },
  'wrong-api-version.yaml': { line: 9, object: D, field: 'apiVersion', message: /served as apps\/v1, not "extensions\/v1beta1"/ },
  // Deployment shape
  'missing-selector.yaml': { line: 13, object: D, field: 'spec.selector', message: /^is required$/ },
  'selector-mismatch.yaml': { line: 20, object: D, field: 'spec.template.metadata.labels', message: /selector does not match template labels.*app=webserver/ },
  'replicas-negative.yaml': { line: 14, object: D, field: 'spec.replicas', message: /^must be an integer between 0 and 1000, got -1$/ },
  'replicas-fraction.yaml': { line: 14, object: D, field: 'spec.replicas', message: /^must be an integer between 0 and 1000, got 2\.5$/ },
  'replicas-huge.yaml': { line: 14, object: D, field: 'spec.replicas', message: /^must be an integer between 0 and 1000, got 100000$/ },
  'replicas-string.yaml': { line: 14, object: D, field: 'spec.replicas', message: /got the string "\$\(reboot\)"/ },
  'replicas-exceed-pod-cidr.yaml': {
    line: 55, object: 'Deployment default/web2', field: 'spec.replicas',
    message: /300 pods plus 2 system pods = 302, but the node's pod CIDR 10\.42\.0\.0\/24 \(node-cidr-mask-size 24\) holds only 253 pod IPs; set node-cidr-mask-size: 23/,
  },
  'unknown-field.yaml': { line: 14, object: D, field: 'spec.replica', message: /unknown field "replica" \(did you mean "replicas"\?\)/ },
  'unknown-field-nested.yaml': { line: 26, object: D, field: `${C}.resources`, message: /"resources" is a Kubernetes field the lab does not support/ },
  'duplicate-objects.yaml': { line: 53, object: D, field: 'metadata.name', message: /duplicate object: Deployment default\/web is also declared at test\/fixtures\/bad\/duplicate-objects\.yaml:9/ },
  'duplicate-container-names.yaml': { line: 33, object: D, field: 'spec.template.spec.containers[1].name', message: /duplicate container name "web"/ },
  'restart-policy-never.yaml': { line: 33, object: D, field: 'spec.template.spec.restartPolicy', message: /must be "Always" for a Deployment, got "Never"/ },
  'probe-two-handlers.yaml': { line: 30, object: D, field: `${C}.livenessProbe`, message: /more than one handler \(got httpGet, tcpSocket\)/ },
  'many-problems.yaml': { line: 29, object: D, field: `${C}.ports[0].containerPort`, message: /between 1 and 65535, got 0/, count: 3 },
  // injection attempts in names
  'name-invalid-dns1123.yaml': { line: 12, object: 'Deployment default/Web_App', field: 'metadata.name', message: /"Web_App" must be a DNS-1123 subdomain.*upper case/ },
  'name-shell-metachar.yaml': { line: 12, object: 'Deployment default/web;reboot', field: 'metadata.name', message: /DNS-1123 subdomain.*shell metacharacters ';'/ },
  'name-command-substitution.yaml': { line: 53, object: 'ConfigMap default/$(reboot)', field: 'metadata.name', message: /shell metacharacters '\$' '\(' '\)'/ },
  'name-path-traversal.yaml': { line: 12, object: 'Deployment default/../../etc/passwd', field: 'metadata.name', message: /contains a '\.\.' path element/ },
  'name-newline.yaml': { line: 12, object: 'Deployment default/"web\\n192.168.56.1 evil.com"', field: 'metadata.name', message: /contains a line break/ },
  'name-nul.yaml': { line: 12, object: 'Deployment default/"web\\u0000rm"', field: 'metadata.name', message: /must not contain a NUL byte/ },
  'namespace-traversal.yaml': { line: 6, object: 'ConfigMap ../kube-system/web-html', field: 'metadata.namespace', message: /must be a DNS-1123 label.*'\.\.' path element/ },
  'namespace-undeclared.yaml': { line: 54, object: 'ConfigMap prod/settings', field: 'metadata.namespace', message: /namespace "prod" does not exist; declare it with a Namespace object/ },
  'service-name-dns1035.yaml': { line: 41, object: 'Service default/1web', field: 'metadata.name', message: /must be a DNS-1035 label/ },
  'container-name-injection.yaml': { line: 24, object: D, field: `${C}.name`, message: /must be a DNS-1123 label.*'`'/ },
  // labels
  'label-value-injection.yaml': { line: 22, object: D, field: 'spec.template.metadata.labels.version', message: /value "\$\(reboot\)" must be empty or consist of/ },
  'node-selector-value-injection.yaml': { line: 24, object: D, field: 'spec.template.spec.nodeSelector.disk', message: /^value "ssd;reboot" must be empty or consist of/ },
  'label-key-injection.yaml': { line: 22, object: D, field: 'spec.template.metadata.labels["app;rm -rf /"]', message: /label key "app;rm -rf \/".*shell metacharacters ';'/ },
  // commands, env, image, paths
  'command-as-string.yaml': { line: 26, object: D, field: `${C}.command`, message: /must be a list of strings, got the string "httpd.*nothing is run through a shell/ },
  'command-nul.yaml': { line: 26, object: D, field: `${C}.command[5]`, message: /must not contain a NUL byte/ },
  'command-not-string.yaml': { line: 26, object: D, field: `${C}.command[3]`, message: /^must be a string, got 80$/ },
  'env-name-injection.yaml': { line: 28, object: D, field: `${C}.env[0].name`, message: /"PATH;reboot" must consist of/ },
  'image-injection.yaml': { line: 25, object: D, field: `${C}.image`, message: /must be an image reference.*';' '\|'/ },
  'workingdir-relative.yaml': { line: 26, object: D, field: `${C}.workingDir`, message: /"\.\.\/\.\.\/root" must be an absolute path/ },
  'configmap-key-traversal.yaml': { line: 8, object: 'ConfigMap default/web-html', field: 'data[../../etc/passwd]', message: /key "\.\.\/\.\.\/etc\/passwd" must consist of/ },
  'configmap-key-dotdot.yaml': { line: 8, object: 'ConfigMap default/web-html', field: 'data[..data]', message: /must not start with '\.\.'/ },
  'mountpath-traversal.yaml': { line: 32, object: D, field: `${C}.volumeMounts[0].mountPath`, message: /must not contain '\.\.'/ },
  'mountpath-relative.yaml': { line: 32, object: D, field: `${C}.volumeMounts[0].mountPath`, message: /must be an absolute path/ },
  'items-path-traversal.yaml': { line: 39, object: D, field: 'spec.template.spec.volumes[0].configMap.items[0].path', message: /"\.\.\/\.\.\/etc\/passwd" must not contain '\.\.'/ },
  'items-key-missing.yaml': { line: 38, object: D, field: 'spec.template.spec.volumes[0].configMap.items[0].key', message: /has no key "index\.htm"/ },
  'hostpath-traversal.yaml': { line: 36, object: D, field: 'spec.template.spec.volumes[0].hostPath.path', message: /must not contain '\.\.'/ },
  'missing-configmap.yaml': { line: 36, object: D, field: 'spec.template.spec.volumes[0].configMap.name', message: /ConfigMap default\/web-htm does not exist/ },
  'volume-mount-undeclared.yaml': { line: 31, object: D, field: `${C}.volumeMounts[0].name`, message: /volume "htlm" is not declared/ },
  // securityContext and Pod Security
  'capability-cap-prefix.yaml': { line: 22, object: D, field: `${C}.securityContext.capabilities.add[0]`, message: /^"CAP_NET_ADMIN" must be written without the CAP_ prefix, as Kubernetes writes capabilities: "NET_ADMIN"$/ },
  'capability-unknown.yaml': { line: 23, object: D, field: `${C}.securityContext.capabilities.add[1]`, message: /^"NET_ADMINS" must be a Linux capability such as NET_ADMIN/ },
  'run-as-user-negative.yaml': { line: 21, object: D, field: `${C}.securityContext.runAsUser`, message: /^must be between 0 and 2147483647, inclusive, got -1$/ },
  'privileged-no-escalation.yaml': { line: 20, object: D, field: `${C}.securityContext`, message: /^cannot set `allowPrivilegeEscalation` to false and `privileged` to true$/ },
  'pod-security-context.yaml': { line: 16, object: D, field: 'spec.template.spec.securityContext', message: /^field "securityContext" is a Kubernetes field the lab supports only in a container/ },
  'seccomp-profile.yaml': { line: 21, object: D, field: `${C}.securityContext.seccompProfile`, message: /^field "seccompProfile" is a Kubernetes field the lab does not support/ },
  'pod-security-level-invalid.yaml': { line: 7, object: 'Namespace tools', field: 'metadata.labels[pod-security.kubernetes.io/enforce]', message: /^"Privileged" must be one of privileged, baseline, restricted$/ },
  'pod-security-restricted.yaml': { line: 7, object: 'Namespace tools', field: 'metadata.labels[pod-security.kubernetes.io/enforce]', message: /^"restricted" is a level the lab does not enforce/ },
  'hostnetwork-privileged-namespace.yaml': { line: 24, object: 'Deployment tools/web', field: 'spec.template.spec.hostNetwork', message: /^true is not implemented by the lab's kubelet \(a pod always gets its own network namespace\): namespace "tools" is privileged/ },
  'privileged-container-privileged-namespace.yaml': { line: 29, object: 'Deployment tools/web', field: `${C}.securityContext.privileged`, message: /^true is not implemented by the lab's runtime/ },
  // ports and Services
  'container-port-out-of-range.yaml': { line: 29, object: D, field: `${C}.ports[0].containerPort`, message: /between 1 and 65535, got 70000/ },
  'service-port-zero.yaml': { line: 47, object: S, field: 'spec.ports[0].port', message: /between 1 and 65535, got 0/ },
  'service-ports-unnamed.yaml': { line: 46, object: S, field: 'spec.ports[0].name', message: /required when a Service has more than one port/, count: 2 },
  'target-port-bad-name.yaml': { line: 48, object: S, field: 'spec.ports[0].targetPort', message: /port name "http_port_number_1" must be no more than 15 characters \(IANA_SVC_NAME\)/ },
  'probe-port-unknown.yaml': { line: 33, object: D, field: `${C}.readinessProbe.httpGet.port`, message: /container "web" has no port named "web"/ },
  'nodeport-out-of-range.yaml': { line: 50, object: S, field: 'spec.ports[0].nodePort', message: /8080 is outside the service-node-port-range 30000-32767/ },
  'nodeport-duplicate.yaml': { line: 64, object: 'Service default/web-again', field: 'spec.ports[0].nodePort', message: /nodePort 30080 is already allocated to Service default\/web/ },
  'clusterip-duplicate.yaml': { line: 57, object: 'Service default/web-again', field: 'spec.clusterIP', message: /10\.43\.0\.50 is already allocated to Service default\/web/ },
  'clusterip-outside-cidr.yaml': { line: 43, object: S, field: 'spec.clusterIP', message: /10\.96\.0\.20 is outside the service CIDR 10\.43\.0\.0\/16/ },
  'clusterip-kube-dns.yaml': { line: 43, object: S, field: 'spec.clusterIP', message: /10\.43\.0\.10 is already allocated to Service kube-system\/kube-dns/ },
  'endpointslice-missing-label.yaml': { line: 52, object: 'EndpointSlice default/external-1', field: 'metadata.labels', message: /must carry the label kubernetes\.io\/service-name/ },
  // Ingress
  'ingress-unknown-service.yaml': { line: 63, object: 'Ingress default/web', field: 'spec.rules[0].http.paths[0].backend.service.name', message: /Service default\/web-svc does not exist/ },
  'ingress-unknown-port.yaml': { line: 65, object: 'Ingress default/web', field: 'spec.rules[0].http.paths[0].backend.service.port.number', message: /has no port 8080 \(it has 80\)/ },
  'ingress-pathtype-missing.yaml': { line: 59, object: 'Ingress default/web', field: 'spec.rules[0].http.paths[0].pathType', message: /^is required$/ },
  'ingress-host-injection.yaml': { line: 56, object: 'Ingress default/web', field: 'spec.rules[0].host', message: /"web\.com;reboot" must be a DNS-1123 subdomain/ },
  'ingress-path-traversal.yaml': { line: 59, object: 'Ingress default/web', field: 'spec.rules[0].http.paths[0].path', message: /must not contain '\/\.\.\/'/ },
  // config.yaml
  'config-bad-cidr.config.yaml': { line: 4, object: null, field: 'cluster-cidr', message: /"10\.42\.0\.0\/33" is not a valid IPv4 CIDR/ },
  'config-cidr-host-bits.config.yaml': { line: 5, object: null, field: 'service-cidr', message: /has host bits set; did you mean 10\.43\.0\.0\/16\?/ },
  'config-cidr-overlap.config.yaml': { line: 4, object: null, field: 'cluster-cidr', message: /pod CIDR 10\.42\.0\.0\/16 overlaps service CIDR 10\.42\.128\.0\/17/ },
  'config-node-ip-in-pod-cidr.config.yaml': { line: 3, object: null, field: 'node-ip', message: /node IP 10\.42\.0\.5 is inside the pod CIDR 10\.42\.0\.0\/16/ },
  'config-node-ip-in-service-cidr.config.yaml': { line: 3, object: null, field: 'node-ip', message: /node IP 10\.43\.1\.1 is inside the service CIDR/ },
  // Issue 14: the agents' node names and IPs, and the node count against the pod CIDR.
  'config-agent-duplicate-name.config.yaml': { line: 9, object: null, field: 'agents[1].node-name', message: /^node name "labsw" is already taken by agents\[0\] \(labsw\)$/ },
  'config-agent-duplicate-ip.config.yaml': { line: 10, object: null, field: 'agents[1].node-ip', message: /^node IP 192\.168\.56\.111 is already taken by agents\[0\] \(labsw\)$/ },
  'config-agent-ip-in-pod-cidr.config.yaml': { line: 8, object: null, field: 'agents[0].node-ip', message: /^node IP 10\.42\.1\.5 is inside the pod CIDR 10\.42\.0\.0\/16$/, count: 2 },
  'config-agent-ip-in-service-cidr.config.yaml': { line: 8, object: null, field: 'agents[0].node-ip', message: /^node IP 10\.43\.0\.20 is inside the service CIDR 10\.43\.0\.0\/16$/, count: 2 },
  'config-too-many-nodes.config.yaml': { line: 9, object: null, field: 'agents[1]', message: /^3 nodes need 3 node CIDRs of \/24, and the pod CIDR 10\.42\.0\.0\/23 has 2$/ },
  'config-node-ip-laptop.config.yaml': { line: 3, object: null, field: 'node-ip', message: /^"192\.168\.56\.1" is the laptop's address on the host-only network 192\.168\.56\.0\/24/ },
  'config-node-ip-network.config.yaml': { line: 3, object: null, field: 'node-ip', message: /^"192\.168\.56\.0" is the network address of the node network 192\.168\.56\.0\/24/ },
  'config-node-ip-broadcast.config.yaml': { line: 3, object: null, field: 'node-ip', message: /^"192\.168\.56\.255" is the broadcast address of the node network 192\.168\.56\.0\/24/ },
  'config-dns-outside.config.yaml': { line: 6, object: null, field: 'cluster-dns', message: /10\.96\.0\.10 is outside the service CIDR 10\.43\.0\.0\/16/ },
  'config-unknown-key.config.yaml': { line: 3, object: null, field: 'node-ipp', message: /unknown field "node-ipp" \(did you mean "node-ip"\?\)/ },
  'config-port-range-reversed.config.yaml': { line: 8, object: null, field: 'service-node-port-range', message: /"32767-30000" is not a port range/ },
  'config-node-name-injection.config.yaml': { line: 2, object: null, field: 'node-name', message: /"labS\$\(reboot\)" must be a DNS-1123 subdomain.*'\$' '\(' '\)'/ },
  'config-mask-shorter.config.yaml': { line: 9, object: null, field: 'node-cidr-mask-size', message: /\/8 is shorter than the pod CIDR 10\.42\.0\.0\/16/ },
  'config-ipv6-cidr.config.yaml': { line: 4, object: null, field: 'cluster-cidr', message: /single-stack IPv4/ },
  'config-syntax-error.config.yaml': { line: 7, object: null, field: null, message: /^YAML syntax error: unterminated double-quoted string$/ },
  // Never the value in the message: it is a secret.
  'config-token-header-injection.config.yaml': { line: 4, object: null, field: 'token', message: /^must be printable ASCII without spaces \(agents send it in an HTTP header\)$/ },
};

async function refusal(fixture: string): Promise<ValidationError> {
  const isConfig = fixture.endsWith('.config.yaml');
  const opts = isConfig
    ? { statePath: 'lab/cluster.yaml', configPath: `${BAD}/${fixture}`, hostname: 'testhost' }
    : { statePath: `${BAD}/${fixture}`, configPath: 'lab/config.yaml', hostname: 'testhost' };
  try {
    await loadDesiredState(opts);
  } catch (err) {
    if (err instanceof ValidationError) return err;
    throw err;
  }
  throw new Error(`${fixture} was accepted`);
}

describe('bad input corpus', () => {
  const files = readdirSync(BAD).filter((f) => f.endsWith('.yaml')).sort();

  it('holds at least 30 files, each with an expectation', () => {
    expect(files.length).toBeGreaterThanOrEqual(30);
    expect(files.filter((f) => !(f in corpus))).toEqual([]);
    expect(Object.keys(corpus).filter((f) => !files.includes(f))).toEqual([]);
  });

  for (const [fixture, want] of Object.entries(corpus)) {
    it(`refuses ${fixture}`, async () => {
      const err = await refusal(fixture);
      expect(err.issues).toHaveLength(want.count ?? 1);
      const match = err.issues.find((i) => i.line === want.line && want.message.test(i.message));
      expect(match, `no issue at line ${want.line} matching ${want.message} in:\n${err.message}`).toBeDefined();
      const issue = match as Issue;
      expect(issue.file).toBe(`${BAD}/${fixture}`);
      expect(issue.object ?? null).toBe(want.object);
      expect(issue.field ?? null).toBe(want.field);
      // The thrown message lists the issue on one line: file:line: object: field: message.
      const lines = err.message.split('\n');
      expect(lines).toHaveLength(err.issues.length);
      expect(lines).toContain(formatIssue(issue));
      const prefix = [`${BAD}/${fixture}:${want.line}`, want.object, want.field].filter(Boolean).join(': ');
      expect(formatIssue(issue).startsWith(`${prefix}: `)).toBe(true);
    });
  }
});

describe('ValidationError', () => {
  it('lists every problem of a file, sorted by line, one per line', async () => {
    const err = await refusal('many-problems.yaml');
    expect(err.message.split('\n')).toEqual([
      `${BAD}/many-problems.yaml:14: Deployment default/web: spec.replicas: must be an integer between 0 and 1000, got -3`,
      `${BAD}/many-problems.yaml:29: Deployment default/web: spec.template.spec.containers[0].ports[0].containerPort: must be a port number between 1 and 65535, got 0`,
      `${BAD}/many-problems.yaml:47: Service default/web: spec.ports[0].port: must be a port number between 1 and 65535, got 99999`,
    ]);
  });

  it('reports problems of both files together', () => {
    const stateText = readFileSync(`${BAD}/replicas-negative.yaml`, 'utf8');
    const configText = readFileSync(`${BAD}/config-bad-cidr.config.yaml`, 'utf8');
    try {
      parseDesiredState({ stateText, statePath: 's.yaml', configText, configPath: 'c.yaml', hostname: 'h' });
      expect.unreachable();
    } catch (err) {
      expect((err as ValidationError).issues.map((i) => `${i.file}:${i.line}:${i.field}`)).toEqual(['c.yaml:4:cluster-cidr', 's.yaml:14:spec.replicas']);
    }
  });

  it('does not repeat a broken ConfigMap as a missing one', () => {
    const text = readFileSync('lab/cluster.yaml', 'utf8').replace('  name: app1-html\n', '  name: app1-html\n  labels: { "bad key!": x }\n');
    try {
      parseDesiredState({ stateText: text, statePath: 'x.yaml', hostname: 'h' });
      expect.unreachable();
    } catch (err) {
      const issues = (err as ValidationError).issues;
      expect(issues.map((i) => i.object)).toEqual(['ConfigMap default/app1-html']);
    }
  });
});

describe('a template nodeSelector: taken as the API server takes it, label keys and values checked', () => {
  const state = (selector: string) =>
    `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels: { app: web }\n  template:\n    metadata:\n      labels: { app: web }\n    spec:\n      nodeSelector:${selector}\n      containers:\n        - name: web\n          image: busybox\n`;
  const problems = (selector: string) => {
    try {
      parseDesiredState({ stateText: state(selector), statePath: 'lab/cluster.yaml', hostname: 'h' });
    } catch (err) {
      return (err as ValidationError).issues.map(formatIssue);
    }
    return null;
  };

  it('kept in the typed Deployment and in the manifest the server applies, as written', () => {
    const s = parseDesiredState({ stateText: state('\n        disk: ssd\n        kubernetes.io/hostname: labsw'), statePath: 'lab/cluster.yaml', hostname: 'h' });
    expect(s.deployments[0]!.spec.template.spec.nodeSelector).toEqual({ disk: 'ssd', 'kubernetes.io/hostname': 'labsw' });
    const applied = s.manifests[0]!.object as { spec: { template: { spec: Record<string, unknown> } } };
    expect(applied.spec.template.spec.nodeSelector).toEqual({ disk: 'ssd', 'kubernetes.io/hostname': 'labsw' });
    // Absent, it stays absent (no default, as in the API).
    expect(parseDesiredState({ stateText: state(' {}'), statePath: 'lab/cluster.yaml', hostname: 'h' }).deployments[0]!.spec.template.spec.nodeSelector).toEqual({});
  });

  it('a bad key, a value that is no string, a list: each refused naming file, line, object and field', () => {
    expect(problems('\n        "disk type": ssd')).toEqual([
      expect.stringMatching(/^lab\/cluster\.yaml:13: Deployment default\/web: spec\.template\.spec\.nodeSelector\["disk type"\]: label key "disk type" must be a qualified name/),
    ]);
    expect(problems('\n        disk: 1')).toEqual(['lab/cluster.yaml:13: Deployment default/web: spec.template.spec.nodeSelector.disk: must be a string, got 1']);
    // The list's problem is the field's own: its line is the nodeSelector key's.
    expect(problems('\n        - disk=ssd')).toEqual(['lab/cluster.yaml:12: Deployment default/web: spec.template.spec.nodeSelector: must be a mapping, got a list']);
  });
});

describe('the default lab state', () => {
  it('loads lab/cluster.yaml and lab/config.yaml with the Part 2 scenario', async () => {
    const s = await loadDesiredState({ statePath: 'lab/cluster.yaml', configPath: 'lab/config.yaml', hostname: 'ignored' });
    expect(s.config).toEqual({
      nodeName: 'labs', // k3s lower-cases node names, as the kubelet does
      nodeIP: '192.168.56.110',
      nodeLabels: [],
      nodeTaints: [],
      proxyMode: 'iptables',
      agents: [],
      clusterCIDR: '10.42.0.0/16',
      serviceCIDR: '10.43.0.0/16',
      clusterDNS: '10.43.0.10',
      clusterDomain: 'cluster.local',
      serviceNodePortRange: [30000, 32767],
      nodeCIDRMaskSize: 24,
      nodeLifecycle: { nodeMonitorGracePeriodMs: 40_000, defaultNotReadyTolerationSeconds: 300, defaultUnreachableTolerationSeconds: 300 },
      source: { file: 'lab/config.yaml', line: 2 },
    });
    expect(s.namespaces).toEqual(['default', 'kube-system', 'kube-public', 'kube-node-lease']);
    expect(s.deployments.map((d) => [d.metadata.name, d.spec.replicas])).toEqual([['app1', 1], ['app2', 3], ['app3', 1]]);
    expect(s.configMaps.map((c) => c.metadata.name)).toEqual(['app1-html', 'app2-html', 'app3-html']);
    expect(s.configMaps[1]!.data['index.html']).toContain('Welcome to App 2!');
    expect(s.services.map((x) => [x.metadata.name, x.spec.type, x.spec.ports[0]!.targetPort])).toEqual([
      ['app1-service', 'ClusterIP', 'http'],
      ['app2-service', 'ClusterIP', 'http'],
      ['app3-service', 'ClusterIP', 'http'],
    ]);
    expect(s.ingresses).toHaveLength(1);
    const ing = s.ingresses[0]!;
    expect(ing.spec.defaultBackend?.service.name).toBe('app3-service');
    expect(ing.spec.rules.map((r) => r.host)).toEqual(['app1.com', 'app2.com']);
    expect(s.endpoints).toEqual([]);

    const app2 = s.deployments[1]!;
    expect(app2.source).toEqual({ file: 'lab/cluster.yaml', line: 75 });
    expect(readFileSync('lab/cluster.yaml', 'utf8').split('\n')[74]).toBe('apiVersion: apps/v1');
    expect(app2.metadata.namespace).toBe('default');
    const pod = app2.spec.template.spec;
    expect(pod.restartPolicy).toBe('Always');
    expect(pod.terminationGracePeriodSeconds).toBe(2);
    expect(pod.dnsPolicy).toBe('ClusterFirst');
    const c = pod.containers[0]!;
    expect(c.command).toEqual(['httpd', '-f', '-v', '-p', '80', '-h', '/usr/share/html']);
    expect(c.ports).toEqual([{ name: 'http', containerPort: 80, protocol: 'TCP' }]);
    expect(c.env).toEqual([]);
    expect(c.readinessProbe).toEqual({
      httpGet: { path: '/', port: 'http', scheme: 'HTTP' },
      initialDelaySeconds: 0,
      periodSeconds: 10,
      timeoutSeconds: 1,
      successThreshold: 1,
      failureThreshold: 3,
    });
    expect(app2.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } });
    const svc = s.services[1]!;
    expect(svc.spec).toEqual({
      type: 'ClusterIP',
      selector: { app: 'app2' },
      ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 'http' }],
      externalIPs: [],
      sessionAffinity: 'None',
      externalTrafficPolicy: 'Cluster',
      internalTrafficPolicy: 'Cluster',
    });
  });

  it('loads lab/system.yaml (placeholders filled in) together with lab/cluster.yaml as one state', () => {
    const system = readFileSync('lab/system.yaml', 'utf8')
      .replace(/\$\(LAB_CLUSTER_DNS\)/g, '10.43.0.10')
      .replace(/\$\(LAB_[A-Z_]+\)/g, '/run/packet-path-lab/lab');
    const base = {
      stateText: readFileSync('lab/cluster.yaml', 'utf8'),
      statePath: 'lab/cluster.yaml',
      configText: readFileSync('lab/config.yaml', 'utf8'),
      configPath: 'lab/config.yaml',
      hostname: 'h',
      systemPods: 0,
    };
    const s = parseDesiredState({ ...base, extraStates: [{ text: system, path: 'lab/system.yaml' }] });
    const kubeSystem = s.deployments.filter((d) => d.metadata.namespace === 'kube-system');
    expect(kubeSystem.length).toBeGreaterThan(0);
    expect(kubeSystem.every((d) => d.source.file === 'lab/system.yaml')).toBe(true);
    // kube-system/kube-dns may hold the cluster DNS address; any other Service may not.
    expect(s.services.find((x) => x.spec.clusterIP === '10.43.0.10')?.metadata).toMatchObject({ namespace: 'kube-system', name: 'kube-dns' });

    // Checks run across files: a duplicate in the extra file names both places.
    const dup = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app1-html\ndata: {}\n';
    expect(() => parseDesiredState({ ...base, extraStates: [{ text: dup, path: 'extra.yaml' }] })).toThrow(
      /^extra\.yaml:4: ConfigMap default\/app1-html: metadata\.name: duplicate object: ConfigMap default\/app1-html is also declared at lab\/cluster\.yaml:5$/,
    );
  });

  it('refuses a state file that does not exist, and a named config file that does not exist', async () => {
    await expect(loadDesiredState({ statePath: 'lab/nope.yaml', configPath: 'lab/config.yaml' })).rejects.toThrow(/cannot read state file lab\/nope\.yaml: no such file/);
    await expect(loadDesiredState({ statePath: 'lab/cluster.yaml', configPath: 'lab/nope.yaml' })).rejects.toThrow(/cannot read config file lab\/nope\.yaml/);
  });
});

describe('good fixtures', () => {
  it('services.yaml: Service, Endpoints, EndpointSlice and Ingress defaults', async () => {
    const s = await loadDesiredState({ statePath: `${GOOD}/services.yaml`, configPath: `${GOOD}/custom.config.yaml`, hostname: 'h' });
    expect(s.namespaces).toEqual(['default', 'kube-system', 'kube-public', 'kube-node-lease', 'shop']);
    const byName = new Map(s.services.map((x) => [x.metadata.name, x]));

    const np = byName.get('web-nodeport')!;
    expect(np.metadata.namespace).toBe('shop');
    expect(np.spec.type).toBe('NodePort');
    expect(np.spec.ports).toEqual([
      { name: 'http', protocol: 'TCP', port: 80, targetPort: 80, nodePort: 30080 },
      { name: 'dns', protocol: 'UDP', port: 53, targetPort: 5353 },
    ]);
    expect(np.spec.externalTrafficPolicy).toBe('Local');
    expect(np.spec.sessionAffinity).toBe('ClientIP');
    expect(np.spec.sessionAffinityConfig).toEqual({ clientIP: { timeoutSeconds: 10800 } });

    const headless = byName.get('web-headless')!;
    expect(headless.spec.clusterIP).toBe('None');
    expect(headless.spec.sessionAffinityConfig).toBeUndefined();

    const ext = byName.get('upstream')!;
    expect(ext.spec).toMatchObject({ type: 'ExternalName', externalName: 'example.org', ports: [] });
    expect(ext.spec.selector).toBeUndefined();

    const fixed = byName.get('fixed-ip')!;
    expect(fixed.spec.clusterIP).toBe('10.100.0.50');

    expect(s.endpoints.map((e) => `${e.metadata.namespace}/${e.metadata.name}`)).toEqual(['shop/legacy-db', 'shop/external-api']);
    const legacy = s.endpoints[0]!;
    expect(legacy.subsets).toEqual([
      { addresses: [{ ip: '192.168.56.30' }], notReadyAddresses: [], ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }] },
    ]);
    // Two slices of one Service: one subset each; not-ready and terminating endpoints are not ready.
    const api = s.endpoints[1]!;
    expect(api.source?.file).toBe(`${GOOD}/services.yaml`);
    expect(api.subsets).toEqual([
      {
        addresses: [{ ip: '192.168.56.40', nodeName: 'lab-node' }],
        notReadyAddresses: [{ ip: '192.168.56.41' }, { ip: '192.168.56.42' }],
        ports: [{ name: 'https', port: 443, protocol: 'TCP' }],
      },
      { addresses: [{ ip: '192.168.56.43' }], notReadyAddresses: [], ports: [{ name: 'https', port: 443, protocol: 'TCP' }] },
    ]);

    const ing = s.ingresses[0]!;
    expect(ing.metadata.namespace).toBe('shop');
    expect(ing.spec.rules[0]!.host).toBe('*.shop.example');
    expect(ing.spec.rules[0]!.http!.paths.map((p) => [p.path, p.pathType])).toEqual([['/api', 'Exact'], ['/', 'Prefix']]);
    expect(ing.spec.rules[0]!.http!.paths[1]!.backend.service.port).toEqual({ name: 'http' });
  });

  it('minimal.yaml: a Deployment with only required fields gets the API server defaults', async () => {
    const s = await loadDesiredState({ statePath: `${GOOD}/minimal.yaml`, hostname: 'MyLaptop' });
    // Without a config file every key takes the k3s default, node-name the (lower-cased) hostname.
    expect(s.config).toMatchObject({ nodeName: 'mylaptop', nodeIP: '192.168.56.110', clusterDNS: '10.43.0.10', nodeCIDRMaskSize: 24 });
    const d = s.deployments[0]!;
    expect(d.metadata).toEqual({ name: 'sleeper', namespace: 'default', labels: {}, annotations: {} });
    expect(d.spec.replicas).toBe(1);
    expect(d.spec.template.metadata).toEqual({ labels: { app: 'sleeper' }, annotations: {} });
    expect(d.spec.template.spec).toEqual({
      containers: [{ name: 'main', image: 'busybox', args: ['sleep', '3600'], env: [], ports: [], volumeMounts: [] }],
      volumes: [],
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
    });
    expect(d.source).toEqual({ file: `${GOOD}/minimal.yaml`, line: 4 });
    const probe = s.deployments[1]!.spec.template.spec.containers[0]!.livenessProbe!;
    expect(probe).toEqual({ tcpSocket: { port: 8080 }, initialDelaySeconds: 5, periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 });
    expect(s.deployments[1]!.spec.replicas).toBe(0);
  });

  it('custom.config.yaml: cluster-dns follows service-cidr; the mask size decides how many pods fit', () => {
    const text = readFileSync(`${GOOD}/custom.config.yaml`, 'utf8');
    const c = parseClusterConfig(text, 'custom.config.yaml', 'h');
    expect(c).toEqual({
      nodeName: 'lab-node',
      nodeIP: '192.168.56.110',
      nodeLabels: [],
      nodeTaints: [],
      proxyMode: 'iptables',
      agents: [],
      clusterCIDR: '10.200.0.0/16',
      serviceCIDR: '10.100.0.0/16',
      clusterDNS: '10.100.0.10',
      clusterDomain: 'lab.internal',
      serviceNodePortRange: [30000, 30999],
      nodeCIDRMaskSize: 22,
      nodeLifecycle: { nodeMonitorGracePeriodMs: 40_000, defaultNotReadyTolerationSeconds: 300, defaultUnreachableTolerationSeconds: 300 },
      source: { file: 'custom.config.yaml', line: 3 },
    });
    // A /22 holds 1021 pod IPs: 1000 + 19 replicas + 2 system pods fit, one more does not.
    const deployment = (name: string, replicas: number) =>
      `---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: ${name}}\nspec:\n  replicas: ${replicas}\n  selector: {matchLabels: {app: ${name}}}\n  template:\n    metadata: {labels: {app: ${name}}}\n    spec: {containers: [{name: c, image: busybox}]}\n`;
    const fits = deployment('a', 1000) + deployment('b', 19);
    expect(parseDesiredState({ stateText: fits, statePath: 'x.yaml', configText: text, configPath: 'c.yaml' }).deployments).toHaveLength(2);
    expect(() => parseDesiredState({ stateText: deployment('a', 1000) + deployment('b', 20), statePath: 'x.yaml', configText: text, configPath: 'c.yaml' }))
      .toThrow(/x\.yaml:16: Deployment default\/b: spec\.replicas: .*= 1022, .*holds only 1021 pod IPs; set node-cidr-mask-size: 21 in c\.yaml or lower the replicas/);
  });

  it('a service CIDR too small for the default cluster DNS address is refused, not wrapped around', () => {
    expect(() => parseClusterConfig('service-cidr: 10.43.0.0/29\n', 'c.yaml', 'h')).toThrow(/c\.yaml:1: service-cidr: 10\.43\.0\.0\/29 is too small for the cluster DNS address \(its address #10\); set cluster-dns/);
    expect(() => parseClusterConfig('service-cidr: 255.255.255.248/29\n', 'c.yaml', 'h')).toThrow(/is too small for the cluster DNS address/);
    expect(parseClusterConfig('service-cidr: 10.43.0.0/28\n', 'c.yaml', 'h')).toMatchObject({ clusterDNS: '10.43.0.10' });
  });

  it('node-ip: not the laptop, nor the network or broadcast address of the /24; each refusal names lab/config.yaml, its line and the key', () => {
    const config = readFileSync('lab/config.yaml', 'utf8');
    const line = config.split('\n').findIndex((l) => l.startsWith('node-ip:')) + 1;
    const withNodeIP = (ip: string) => config.replace(/^node-ip: .*$/m, `node-ip: ${ip}`);
    const refusal = (ip: string) => configRefusal(withNodeIP(ip));
    expect(line).toBeGreaterThan(0);
    expect(refusal('192.168.56.1')).toBe(
      `lab/config.yaml:${line}: node-ip: "192.168.56.1" is the laptop's address on the host-only network 192.168.56.0/24 (VirtualBox's side of it, and the sandbox's laptop namespace); the node needs an address of its own there, such as 192.168.56.110`,
    );
    expect(refusal('192.168.56.0')).toBe(
      `lab/config.yaml:${line}: node-ip: "192.168.56.0" is the network address of the node network 192.168.56.0/24, which no host can hold; use an address from 192.168.56.1 to 192.168.56.254 other than the laptop's 192.168.56.1, such as 192.168.56.110`,
    );
    expect(refusal('192.168.56.255')).toBe(
      `lab/config.yaml:${line}: node-ip: "192.168.56.255" is the broadcast address of the node network 192.168.56.0/24, which no host can hold; use an address from 192.168.56.1 to 192.168.56.254 other than the laptop's 192.168.56.1, such as 192.168.56.110`,
    );
    // Another /24: its own network and broadcast addresses, and no laptop to avoid.
    expect(refusal('10.0.7.255')).toMatch(/node-ip: "10\.0\.7\.255" is the broadcast address of the node network 10\.0\.7\.0\/24, which no host can hold; use an address from 10\.0\.7\.1 to 10\.0\.7\.254, such as 10\.0\.7\.10$/);
    for (const ok of ['192.168.56.110', '192.168.56.2', '192.168.56.254', '10.0.7.1']) expect(parseClusterConfig(withNodeIP(ok), 'lab/config.yaml', 'h').nodeIP).toBe(ok);
  });

  it('an empty config file means every k3s default', () => {
    expect(parseClusterConfig('# nothing\n', 'c.yaml', 'h')).toMatchObject({ clusterCIDR: '10.42.0.0/16', serviceCIDR: '10.43.0.0/16', serviceNodePortRange: [30000, 32767] });
  });
});

describe('a state file that declares nothing is refused (an editor truncating it must not delete every pod)', () => {
  const refused = (stateText: string) => {
    try {
      parseDesiredState({ stateText, statePath: 'lab/cluster.yaml', hostname: 'h' });
    } catch (err) {
      return (err as ValidationError).issues.map(formatIssue);
    }
    return null;
  };

  it.each([
    ['empty', ''],
    ['whitespace', '  \n\t\n\n'],
    ['comments', '# app1, app2, app3\n'],
    ['document markers', '---\n---\n...\n'],
    ['null documents', '---\nnull\n---\n~\n'],
  ])('%s', (_what, text) => {
    expect(refused(text)).toEqual([expect.stringMatching(/^lab\/cluster\.yaml:1: no objects declared .*To delete every workload on purpose, keep one object, e\.g\. "apiVersion: v1 \/ kind: Namespace \/ metadata: \{name: default\}"; `lab down` removes the whole lab$/)]);
  });

  it('a file cut short inside its first object is refused by the object check, naming file and line', () => {
    const cut = readFileSync('lab/cluster.yaml', 'utf8').split('\n').slice(0, 4).join('\n');
    const issues = refused(cut);
    expect(issues).not.toBeNull();
    expect(issues!.every((i) => i.startsWith('lab/cluster.yaml:'))).toBe(true);
  });

  it('a file cut short inside a later object is refused too (the cut object is incomplete)', () => {
    const text = readFileSync('lab/cluster.yaml', 'utf8');
    const cut = text.slice(0, text.indexOf('kind: Deployment') + 'kind: Deployment\nmetadata:\n'.length);
    expect(refused(cut)).not.toBeNull();
  });

  it('deleting every workload on purpose: a file holding only a Namespace is accepted and declares no Deployment', () => {
    const s = parseDesiredState({ stateText: 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: default\n', statePath: 'lab/cluster.yaml', hostname: 'h' });
    expect(s.deployments).toEqual([]);
    expect(s.services).toEqual([]);
  });

  it('IngressClass: cluster-scoped, spec.controller required; a valid one is kept for the API only', () => {
    const ns = 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: default\n---\n';
    const ic = (meta: string, spec: string) => `${ns}apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata:\n  name: nginx\n${meta}spec:\n${spec}`;
    expect(refused(ic('', '  controller: ""\n'))).toEqual(['lab/cluster.yaml:11: IngressClass nginx: spec.controller: Required value']);
    expect(refused(ic('  namespace: default\n', '  controller: k8s.io/ingress-nginx\n'))?.[0]).toMatch(/IngressClass nginx: metadata\.namespace: IngressClass is cluster-scoped/);
    const s = parseDesiredState({ stateText: ic('', '  controller: k8s.io/ingress-nginx\n'), statePath: 'lab/cluster.yaml', hostname: 'h' });
    expect(s.manifests.map((m) => m.object.kind)).toEqual(['Namespace', 'IngressClass']);
  });

  it('the system manifests alone do not count: an empty state file is refused even with lab/system.yaml loaded along', () => {
    const system = readFileSync('lab/system.yaml', 'utf8').replace(/\$\(LAB_[A-Z_]+\)/g, (m) => (m === '$(LAB_CLUSTER_DNS)' ? '10.43.0.10' : '/x'));
    expect(() => parseDesiredState({ stateText: '', statePath: 'lab/cluster.yaml', hostname: 'h', extraStates: [{ text: system, path: 'lab/system.yaml' }], systemPods: 0 })).toThrow(/^lab\/cluster\.yaml:1: no objects declared/);
  });
});
