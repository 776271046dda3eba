// Ingress and EndpointSlice as kube-apiserver v1.32 validates them (pkg/apis/networking/validation:
// ValidateIngressSpec, validateHTTPIngressPath, validateIngressBackend; pkg/apis/discovery/validation:
// ValidateEndpointSlice), with kube's field paths and messages.
import type { KubeObject } from './object.ts';
import { fieldErrors, type FieldError } from './status.ts';
import { isDns1035Label, isDns1123Subdomain, regexError } from './validation.ts';
import { dnsLabelErrors, isValidPortName, isValidPortNum, objects, PROTOCOLS } from './validate-pod.ts';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

const PATH_TYPES = ['Exact', 'ImplementationSpecific', 'Prefix'];
const INVALID_PATH_SEQUENCES = ['//', '/./', '/../', '%2f', '%2F'];
const INVALID_PATH_SUFFIXES = ['/..', '/.'];
const WILDCARD_FMT = '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*';

function isWildcardDns1123Subdomain(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 253) errs.push('must be no more than 253 characters');
  if (!new RegExp(`^${WILDCARD_FMT}$`).test(value)) {
    errs.push(regexError("a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character", WILDCARD_FMT, '*.example.com'));
  }
  return errs;
}

const looksLikeIP = (host: string) => /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || (host.includes(':') && /^[0-9a-fA-F:.]+$/.test(host));

function validateBackend(backend: Obj, at: string, errs: FieldError[]): void {
  const service = isObj(backend.service) ? backend.service : undefined;
  const resource = isObj(backend.resource) ? backend.resource : undefined;
  if (service && resource) {
    errs.push(fieldErrors.invalid(at, '', 'cannot set both resource and service backends'));
    return;
  }
  if (resource) return;
  if (!service) {
    errs.push(fieldErrors.invalid(at, '', 'resource or service backend is required'));
    return;
  }
  const name = str(service.name);
  if (!name) errs.push(fieldErrors.required(`${at}.service.name`));
  else errs.push(...isDns1035Label(name).map((m) => fieldErrors.invalid(`${at}.service.name`, name, m)));
  const port = (isObj(service.port) ? service.port : {}) as Obj;
  const portName = str(port.name);
  const portNumber = typeof port.number === 'number' ? port.number : 0;
  if (portName && portNumber) errs.push(fieldErrors.invalid(at, '', 'cannot set both port name & port number'));
  else if (portName) errs.push(...isValidPortName(portName).map((m) => fieldErrors.invalid(`${at}.service.port.name`, portName, m)));
  else if (portNumber) errs.push(...isValidPortNum(portNumber).map((m) => fieldErrors.invalid(`${at}.service.port.number`, portNumber, m)));
  else errs.push(fieldErrors.required(at, 'port name or number is required'));
}

function validatePath(p: Obj, at: string, errs: FieldError[]): void {
  const pathType = p.pathType;
  const path = str(p.path);
  if (pathType === undefined || pathType === null) {
    errs.push(fieldErrors.required(`${at}.pathType`, 'pathType must be specified'));
    return;
  }
  if (pathType === 'Exact' || pathType === 'Prefix') {
    if (!path.startsWith('/')) errs.push(fieldErrors.invalid(`${at}.path`, path, 'must be an absolute path'));
    if (path) {
      for (const seq of INVALID_PATH_SEQUENCES) if (path.includes(seq)) errs.push(fieldErrors.invalid(`${at}.path`, path, `must not contain '${seq}'`));
      for (const suffix of INVALID_PATH_SUFFIXES) if (path.endsWith(suffix)) errs.push(fieldErrors.invalid(`${at}.path`, path, `cannot end with '${suffix}'`));
    }
  } else if (pathType === 'ImplementationSpecific') {
    if (path && !path.startsWith('/')) errs.push(fieldErrors.invalid(`${at}.path`, path, 'must be an absolute path'));
  } else {
    errs.push(fieldErrors.notSupported(`${at}.pathType`, pathType, PATH_TYPES));
  }
  validateBackend((isObj(p.backend) ? p.backend : {}) as Obj, `${at}.backend`, errs);
}

/** ValidateIngressSpec (metadata is the registry's). */
export function validateIngress(ing: KubeObject): FieldError[] {
  const spec = (ing.spec ?? {}) as Obj;
  const errs: FieldError[] = [];
  const rules = objects(spec.rules);
  if (rules.length === 0 && !isObj(spec.defaultBackend)) {
    const value = { goSyntax: Array.isArray(spec.rules) ? '[]networking.IngressRule{}' : '[]networking.IngressRule(nil)' };
    errs.push(fieldErrors.invalid('spec', value, 'either `defaultBackend` or `rules` must be specified'));
  }
  if (isObj(spec.defaultBackend)) validateBackend(spec.defaultBackend, 'spec.defaultBackend', errs);
  rules.forEach((rule, i) => {
    const at = `spec.rules[${i}]`;
    const host = str(rule.host);
    if (host) {
      if (looksLikeIP(host)) errs.push(fieldErrors.invalid(`${at}.host`, host, 'must be a DNS name, not an IP address'));
      const problems = host.includes('*') ? isWildcardDns1123Subdomain(host) : isDns1123Subdomain(host);
      errs.push(...problems.map((m) => fieldErrors.invalid(`${at}.host`, host, m)));
    }
    if (!isObj(rule.http)) return;
    const paths = objects(rule.http.paths);
    if (paths.length === 0) errs.push(fieldErrors.required(`${at}.http.paths`));
    paths.forEach((p, j) => validatePath(p, `${at}.http.paths[${j}]`, errs));
  });
  if (typeof spec.ingressClassName === 'string') {
    errs.push(...isDns1123Subdomain(spec.ingressClassName).map((m) => fieldErrors.invalid('spec.ingressClassName', spec.ingressClassName, m)));
  }
  return errs;
}

const ADDRESS_TYPES = ['FQDN', 'IPv4', 'IPv6'];
const isIPv4 = (a: string) => /^\d{1,3}(\.\d{1,3}){3}$/.test(a) && a.split('.').every((o) => Number(o) <= 255 && !(o.length > 1 && o.startsWith('0')));

/** ValidateEndpointSlice (metadata is the registry's). */
export function validateEndpointSlice(slice: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  const addressType = str(slice.addressType);
  if (!addressType) errs.push(fieldErrors.required('addressType'));
  else if (!ADDRESS_TYPES.includes(addressType)) errs.push(fieldErrors.notSupported('addressType', addressType, ADDRESS_TYPES));
  objects(slice.endpoints).forEach((ep, i) => {
    const at = `endpoints[${i}].addresses`;
    const addresses = Array.isArray(ep.addresses) ? ep.addresses.map(String) : [];
    if (addresses.length === 0) errs.push(fieldErrors.required(at, 'must contain at least 1 address'));
    else if (addresses.length > 100) errs.push({ type: 'FieldValueTooMany', field: at, badValue: addresses.length, detail: 'must have at most 100 items' });
    addresses.forEach((a, j) => {
      if (addressType === 'IPv4' && !isIPv4(a)) errs.push(fieldErrors.invalid(`${at}[${j}]`, a, 'must be a valid IPv4 address'));
    });
  });
  const names = new Set<string>();
  objects(slice.ports).forEach((p, i) => {
    const at = `ports[${i}]`;
    const name = str(p.name);
    if (name) {
      errs.push(...dnsLabelErrors(name, `${at}.name`));
      if (names.has(name)) errs.push(fieldErrors.duplicate(`${at}.name`, name));
      names.add(name);
    }
    const protocol = p.protocol;
    if (protocol === undefined || protocol === null) errs.push(fieldErrors.required(`${at}.protocol`));
    else if (!PROTOCOLS.includes(str(protocol))) errs.push(fieldErrors.notSupported(`${at}.protocol`, protocol, PROTOCOLS));
  });
  return errs;
}
