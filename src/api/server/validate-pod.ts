// A PodSpec as kube-apiserver v1.32 validates it (pkg/apis/core/validation: ValidatePodSpec,
// validateContainers, validateContainerCommon, validateContainerPorts, ValidateEnv,
// ValidateVolumes, ValidateVolumeMounts, validateProbe), the checks a learner's manifest meets,
// with kube's field paths and messages. A pod's own spec and a template's go through the same code.
// Left out: resources (quantities), security contexts, affinity, topology spread, init-container
// specifics beyond the common checks.
import { fieldErrors, type FieldError } from './status.ts';
import { isDns1123Label, isDns1123Subdomain, validateLabels } from './validation.ts';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
export const objects = (v: unknown): Obj[] => (Array.isArray(v) ? v.map((x) => (isObj(x) ? x : {})) : []);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);

export const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];

/** validation.IsValidPortNum. */
export function isValidPortNum(port: number): string[] {
  return port >= 1 && port <= 65535 ? [] : ['must be between 1 and 65535, inclusive'];
}

/** validation.IsValidPortName (an IANA_SVC_NAME). */
export function isValidPortName(port: string): string[] {
  const errs: string[] = [];
  if (port.length > 15) errs.push('must be no more than 15 characters');
  if (!/^[-a-z0-9]+$/.test(port)) errs.push('must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)');
  if (!/[a-z]/.test(port)) errs.push('must contain at least one letter (a-z)');
  if (port.includes('--')) errs.push('must not contain consecutive hyphens');
  if (port.length > 0 && (port.startsWith('-') || port.endsWith('-'))) errs.push('must not begin or end with a hyphen');
  return errs;
}

/** ValidatePortNumOrName: an IntOrString port (targetPort, a probe's port). */
export function validatePortNumOrName(port: unknown, field: string): FieldError[] {
  if (typeof port === 'number') return isValidPortNum(port).map((m) => fieldErrors.invalid(field, port, m));
  return isValidPortName(str(port)).map((m) => fieldErrors.invalid(field, str(port), m));
}

export function dnsLabelErrors(value: string, field: string): FieldError[] {
  return isDns1123Label(value).map((m) => fieldErrors.invalid(field, value, m));
}

/** validation.IsRelaxedEnvVarName (RelaxedEnvironmentVariableValidation is on by default in v1.32). */
function envVarNameProblems(name: string): string[] {
  for (const ch of name) {
    const code = ch.codePointAt(0)!;
    if (code > 127 || code < 0x20 || code === 0x7f || ch === '=') return ["a valid environment variable name must consist only of printable ASCII characters other than '='"];
  }
  return [];
}

const VOLUME_SOURCES = ['emptyDir', 'hostPath', 'configMap', 'secret', 'downwardAPI', 'projected', 'persistentVolumeClaim', 'nfs', 'csi', 'ephemeral', 'image'];

/** ValidateVolumes: the names that pass, for the mounts to refer to. */
function validateVolumes(volumes: Obj[], path: string, errs: FieldError[]): Set<string> {
  const names = new Set<string>();
  volumes.forEach((v, i) => {
    const at = `${path}[${i}]`;
    const el: FieldError[] = [];
    const sources = VOLUME_SOURCES.filter((k) => v[k] !== undefined && v[k] !== null);
    if (sources.length === 0) el.push(fieldErrors.required(at, 'must specify a volume type'));
    else if (sources.length > 1) el.push(fieldErrors.forbidden(`${at}.${sources[1]}`, 'may not specify more than 1 volume type'));
    for (const key of ['configMap', 'secret']) {
      const src = isObj(v[key]) ? (v[key] as Obj) : undefined;
      const nameKey = key === 'secret' ? 'secretName' : 'name';
      if (src && !str(src[nameKey])) el.push(fieldErrors.required(`${at}.${key}.${nameKey}`));
    }
    if (isObj(v.hostPath) && !str(v.hostPath.path)) el.push(fieldErrors.required(`${at}.hostPath.path`));
    const name = str(v.name);
    if (!name) el.push(fieldErrors.required(`${at}.name`));
    else el.push(...dnsLabelErrors(name, `${at}.name`));
    if (names.has(name)) el.push(fieldErrors.duplicate(`${at}.name`, name));
    if (el.length === 0) names.add(name);
    errs.push(...el);
  });
  return names;
}

function validateContainerPorts(ports: Obj[], path: string, errs: FieldError[]): void {
  const names = new Set<string>();
  ports.forEach((p, i) => {
    const at = `${path}[${i}]`;
    const name = str(p.name);
    if (name) {
      const problems = isValidPortName(name);
      if (problems.length) errs.push(...problems.map((m) => fieldErrors.invalid(`${at}.name`, name, m)));
      else if (names.has(name)) errs.push(fieldErrors.duplicate(`${at}.name`, name));
      else names.add(name);
    }
    const containerPort = num(p.containerPort);
    if (!containerPort) errs.push(fieldErrors.required(`${at}.containerPort`));
    else errs.push(...isValidPortNum(containerPort).map((m) => fieldErrors.invalid(`${at}.containerPort`, containerPort, m)));
    const hostPort = num(p.hostPort);
    if (hostPort) errs.push(...isValidPortNum(hostPort).map((m) => fieldErrors.invalid(`${at}.hostPort`, hostPort, m)));
    const protocol = str(p.protocol);
    if (!protocol) errs.push(fieldErrors.required(`${at}.protocol`));
    else if (!PROTOCOLS.includes(protocol)) errs.push(fieldErrors.notSupported(`${at}.protocol`, protocol, PROTOCOLS));
  });
}

function validateEnv(env: Obj[], path: string, errs: FieldError[]): void {
  env.forEach((e, i) => {
    const name = str(e.name);
    if (!name) errs.push(fieldErrors.required(`${path}[${i}].name`));
    else errs.push(...envVarNameProblems(name).map((m) => fieldErrors.invalid(`${path}[${i}].name`, name, m)));
    if (e.value !== undefined && e.value !== '' && isObj(e.valueFrom)) {
      errs.push(fieldErrors.invalid(`${path}[${i}].valueFrom`, '', 'may not be specified when `value` is not empty'));
    }
  });
}

function validateVolumeMounts(mounts: Obj[], volumes: Set<string>, path: string, errs: FieldError[]): void {
  const mountPoints = new Set<string>();
  mounts.forEach((m, i) => {
    const at = `${path}[${i}]`;
    const name = str(m.name);
    if (!name) errs.push(fieldErrors.required(`${at}.name`));
    if (!volumes.has(name)) errs.push(fieldErrors.notFound(`${at}.name`, name));
    const mountPath = str(m.mountPath);
    if (!mountPath) errs.push(fieldErrors.required(`${at}.mountPath`));
    if (mountPoints.has(mountPath)) errs.push(fieldErrors.invalid(`${at}.mountPath`, mountPath, 'must be unique'));
    mountPoints.add(mountPath);
  });
}

/** validateProbe / validateHandler: exactly one handler, its port valid. */
function validateProbe(probe: Obj, path: string, errs: FieldError[]): void {
  const handlers = ['exec', 'httpGet', 'tcpSocket', 'grpc'].filter((k) => probe[k] !== undefined && probe[k] !== null);
  if (handlers.length === 0) errs.push(fieldErrors.required(path, 'must specify a handler type'));
  else if (handlers.length > 1) errs.push(fieldErrors.forbidden(`${path}.${handlers[1]}`, 'may not specify more than 1 handler type'));
  for (const key of ['httpGet', 'tcpSocket']) {
    const h = isObj(probe[key]) ? (probe[key] as Obj) : undefined;
    if (h) errs.push(...validatePortNumOrName(h.port, `${path}.${key}.port`));
  }
  for (const key of ['initialDelaySeconds', 'timeoutSeconds', 'periodSeconds', 'successThreshold', 'failureThreshold']) {
    const v = probe[key];
    if (typeof v === 'number' && v < 0) errs.push(fieldErrors.invalid(`${path}.${key}`, v, 'must be greater than or equal to 0'));
  }
}

const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'];
const TERMINATION_MESSAGE_POLICIES = ['File', 'FallbackToLogsOnError'];

/** validateContainerCommon, then what regular containers add (unique names, probes). */
function validateContainerList(containers: Obj[], volumes: Set<string>, path: string, regular: boolean, errs: FieldError[], names: Set<string>): void {
  containers.forEach((c, i) => {
    const at = `${path}[${i}]`;
    const name = str(c.name);
    if (!name) errs.push(fieldErrors.required(`${at}.name`));
    else errs.push(...dnsLabelErrors(name, `${at}.name`));
    if (!str(c.image)) errs.push(fieldErrors.required(`${at}.image`));
    const tmp = str(c.terminationMessagePolicy);
    if (!tmp) errs.push(fieldErrors.required(`${at}.terminationMessagePolicy`, "must be 'File' or 'FallbackToLogsOnError'"));
    else if (!TERMINATION_MESSAGE_POLICIES.includes(tmp)) errs.push(fieldErrors.notSupported(`${at}.terminationMessagePolicy`, tmp, TERMINATION_MESSAGE_POLICIES));
    validateContainerPorts(objects(c.ports), `${at}.ports`, errs);
    validateEnv(objects(c.env), `${at}.env`, errs);
    validateVolumeMounts(objects(c.volumeMounts), volumes, `${at}.volumeMounts`, errs);
    const pull = str(c.imagePullPolicy);
    if (!pull) errs.push(fieldErrors.required(`${at}.imagePullPolicy`));
    else if (!PULL_POLICIES.includes(pull)) errs.push(fieldErrors.notSupported(`${at}.imagePullPolicy`, pull, PULL_POLICIES));
    if (names.has(name)) errs.push(fieldErrors.duplicate(`${at}.name`, name));
    else names.add(name);
    if (!regular) return;
    for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
      if (isObj(c[probe])) validateProbe(c[probe] as Obj, `${at}.${probe}`, errs);
    }
  });
}

const RESTART_POLICIES = ['Always', 'OnFailure', 'Never'];
const DNS_POLICIES = ['ClusterFirst', 'ClusterFirstWithHostNet', 'Default', 'None'];

/** ValidatePodSpec (after defaulting, as kube runs it) at `path` (`spec`, `spec.template.spec`). */
export function validatePodSpec(spec: Obj, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (spec.terminationGracePeriodSeconds === undefined || spec.terminationGracePeriodSeconds === null) errs.push(fieldErrors.required(`${path}.terminationGracePeriodSeconds`));
  const volumes = validateVolumes(objects(spec.volumes), `${path}.volumes`, errs);
  const containers = objects(spec.containers);
  if (containers.length === 0) errs.push(fieldErrors.required(`${path}.containers`));
  const names = new Set<string>();
  validateContainerList(containers, volumes, `${path}.containers`, true, errs, names);
  validateContainerList(objects(spec.initContainers), volumes, `${path}.initContainers`, false, errs, names);
  const restart = str(spec.restartPolicy);
  if (!restart) errs.push(fieldErrors.required(`${path}.restartPolicy`));
  else if (!RESTART_POLICIES.includes(restart)) errs.push(fieldErrors.notSupported(`${path}.restartPolicy`, restart, RESTART_POLICIES));
  const dns = str(spec.dnsPolicy);
  if (!dns) errs.push(fieldErrors.required(`${path}.dnsPolicy`));
  else if (!DNS_POLICIES.includes(dns)) errs.push(fieldErrors.notSupported(`${path}.dnsPolicy`, dns, DNS_POLICIES));
  if (isObj(spec.nodeSelector)) errs.push(...validateLabels(spec.nodeSelector as Record<string, string>, `${path}.nodeSelector`));
  if (str(spec.nodeName)) errs.push(...isDns1123Subdomain(str(spec.nodeName)).map((m) => fieldErrors.invalid(`${path}.nodeName`, spec.nodeName, m)));
  if (typeof spec.activeDeadlineSeconds === 'number' && spec.activeDeadlineSeconds <= 0) {
    errs.push(fieldErrors.invalid(`${path}.activeDeadlineSeconds`, spec.activeDeadlineSeconds, 'must be between 1 and 2147483647, inclusive'));
  }
  return errs;
}

const POD_UPDATE_FORBIDDEN =
  'pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)';

/**
 * ValidatePodUpdate's rule for the spec: only images, activeDeadlineSeconds, added tolerations
 * and a negative grace period set to 1 may change. (kube appends a go-cmp diff of the spec to the
 * message; the lab leaves it out.)
 */
export function validatePodSpecUpdate(spec: Obj, old: Obj, equal: (a: unknown, b: unknown) => boolean): FieldError[] {
  const munged: Obj = structuredClone(spec);
  for (const key of ['containers', 'initContainers']) {
    const before = objects(old[key]);
    objects(munged[key]).forEach((c, i) => {
      if (before[i]) c.image = before[i]!.image;
    });
  }
  munged.activeDeadlineSeconds = old.activeDeadlineSeconds;
  const oldTolerations = objects(old.tolerations);
  const tolerations = objects(munged.tolerations);
  if (oldTolerations.every((t) => tolerations.some((u) => equal(t, u)))) munged.tolerations = old.tolerations;
  if (typeof old.terminationGracePeriodSeconds === 'number' && old.terminationGracePeriodSeconds < 0 && munged.terminationGracePeriodSeconds === 1) {
    munged.terminationGracePeriodSeconds = old.terminationGracePeriodSeconds;
  }
  for (const o of [munged, old]) for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return equal(munged, old) ? [] : [fieldErrors.forbidden('spec', POD_UPDATE_FORBIDDEN)];
}
