// ValidateService and ValidateServiceUpdate as kube-apiserver v1.32 words them
// (pkg/apis/core/validation), run after defaulting and the allocations (service-alloc.ts), so a
// learner's Service meets the same 422s as on k3s: ports, names, protocols, types, the ClusterIP
// fields and the traffic policies.
import type { KubeObject } from './object.ts';
import { fieldErrors, goQuote, type FieldError } from './status.ts';
import { isDns1123Subdomain, validateLabels } from './validation.ts';
import { dnsLabelErrors, isValidPortNum, objects, PROTOCOLS, validatePortNumOrName } from './validate-pod.ts';

type Obj = Record<string, unknown>;
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);

const SERVICE_TYPES = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'];
const SESSION_AFFINITIES = ['ClientIP', 'None'];
const TRAFFIC_POLICIES = ['Cluster', 'Local'];
const IP_FAMILIES = ['IPv4', 'IPv6'];
const IP_FAMILY_POLICIES = ['PreferDualStack', 'RequireDualStack', 'SingleStack'];

/** netutils.ParseIPSloppy accepts this (IPv4 with leading zeros too, or IPv6). */
function isIP(value: string): boolean {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(value)) return value.split('.').every((o) => Number(o) <= 255);
  return value.includes(':') && /^[0-9a-fA-F:.]+$/.test(value);
}

const invalidIP = (field: string, value: string) => fieldErrors.invalid(field, value, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)');

/** The duplicate (protocol, port) key as %#v prints a core.ServicePort. */
const servicePortKey = (protocol: string, port: number) => ({
  goSyntax: `core.ServicePort{Name:"", Protocol:${goQuote(protocol)}, AppProtocol:(*string)(nil), Port:${port}, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}`,
});

function validateServicePort(p: Obj, requireName: boolean, names: Set<string>, at: string, errs: FieldError[]): void {
  const name = str(p.name);
  if (requireName && !name) errs.push(fieldErrors.required(`${at}.name`));
  else if (name) {
    errs.push(...dnsLabelErrors(name, `${at}.name`));
    if (names.has(name)) errs.push(fieldErrors.duplicate(`${at}.name`, name));
    else names.add(name);
  }
  errs.push(...isValidPortNum(num(p.port)).map((m) => fieldErrors.invalid(`${at}.port`, num(p.port), m)));
  const protocol = str(p.protocol);
  if (!protocol) errs.push(fieldErrors.required(`${at}.protocol`));
  else if (!PROTOCOLS.includes(protocol)) errs.push(fieldErrors.notSupported(`${at}.protocol`, protocol, PROTOCOLS));
  errs.push(...validatePortNumOrName(p.targetPort, `${at}.targetPort`));
}

/** ValidateServiceClusterIPsRelatedFields. */
function validateClusterIPs(spec: Obj, errs: FieldError[]): void {
  if (spec.type === 'ExternalName') return;
  const clusterIP = str(spec.clusterIP);
  const clusterIPs = strings(spec.clusterIPs);
  if (clusterIP) {
    if (clusterIPs.length === 0) errs.push(fieldErrors.required('spec.clusterIPs'));
    else if (clusterIPs[0] !== clusterIP) errs.push(fieldErrors.invalid('spec.clusterIPs', clusterIPs, 'first value must match `clusterIP`'));
  } else if (clusterIPs.length) {
    errs.push(fieldErrors.invalid('spec.clusterIPs', clusterIPs, 'must be empty when `clusterIP` is not specified'));
  }
  const seen = new Set<string>();
  strings(spec.ipFamilies).forEach((f, i) => {
    if (!IP_FAMILIES.includes(f)) errs.push(fieldErrors.notSupported(`spec.ipFamilies[${i}]`, f, IP_FAMILIES));
    if (seen.has(f)) errs.push(fieldErrors.duplicate(`spec.ipFamilies[${i}]`, f));
    seen.add(f);
  });
  const policy = spec.ipFamilyPolicy;
  if (policy !== undefined && policy !== null && !IP_FAMILY_POLICIES.includes(str(policy))) errs.push(fieldErrors.notSupported('spec.ipFamilyPolicy', policy, IP_FAMILY_POLICIES));
  clusterIPs.forEach((ip, i) => {
    if (i === 0 && ip === 'None') {
      if (clusterIPs.length > 1) errs.push(fieldErrors.invalid('spec.clusterIPs', clusterIPs, "'None' must be the first and only value"));
      return;
    }
    if (!isIP(ip)) errs.push(invalidIP(`spec.clusterIPs[${i}]`, ip));
  });
}

function validateTrafficPolicies(spec: Obj, errs: FieldError[]): void {
  const type = spec.type;
  const externallyAccessible = type === 'LoadBalancer' || type === 'NodePort' || (type === 'ClusterIP' && strings(spec.externalIPs).length > 0);
  const etp = str(spec.externalTrafficPolicy);
  if (!externallyAccessible) {
    if (etp) errs.push(fieldErrors.invalid('spec.externalTrafficPolicy', etp, 'may only be set for externally-accessible services'));
  } else if (!etp) errs.push(fieldErrors.required('spec.externalTrafficPolicy'));
  else if (!TRAFFIC_POLICIES.includes(etp)) errs.push(fieldErrors.notSupported('spec.externalTrafficPolicy', etp, TRAFFIC_POLICIES));
  const hc = num(spec.healthCheckNodePort);
  if (!(type === 'LoadBalancer' && etp === 'Local')) {
    if (hc) errs.push(fieldErrors.invalid('spec.healthCheckNodePort', hc, "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"));
  } else if (!hc) errs.push(fieldErrors.required('spec.healthCheckNodePort'));
  else errs.push(...isValidPortNum(hc).map((m) => fieldErrors.invalid('spec.healthCheckNodePort', hc, m)));
  const itp = spec.internalTrafficPolicy;
  if (itp === undefined || itp === null) {
    if (type === 'NodePort' || type === 'LoadBalancer' || type === 'ClusterIP') errs.push(fieldErrors.required('spec.internalTrafficPolicy'));
  } else if (!TRAFFIC_POLICIES.includes(str(itp))) errs.push(fieldErrors.notSupported('spec.internalTrafficPolicy', itp, TRAFFIC_POLICIES));
}

/** ValidateService (its metadata is checked by the registry). */
export function validateService(svc: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  const spec = (svc.spec ?? {}) as Obj;
  const headless = spec.clusterIP === 'None';
  const ports = objects(spec.ports);
  if (ports.length === 0 && !headless && spec.type !== 'ExternalName') errs.push(fieldErrors.required('spec.ports'));
  if ((spec.type === 'LoadBalancer' || spec.type === 'NodePort') && headless) {
    errs.push(fieldErrors.invalid('spec.clusterIPs[0]', strings(spec.clusterIPs)[0] ?? 'None', `may not be set to 'None' for ${spec.type} services`));
  } else if (spec.type === 'ExternalName') {
    if (strings(spec.clusterIPs).length) errs.push(fieldErrors.forbidden('spec.clusterIPs', 'may not be set for ExternalName services'));
    if (strings(spec.ipFamilies).length) errs.push(fieldErrors.forbidden('spec.ipFamilies', 'may not be set for ExternalName services'));
    if (spec.ipFamilyPolicy) errs.push(fieldErrors.forbidden('spec.ipFamilyPolicy', 'may not be set for ExternalName services'));
    const cname = str(spec.externalName).replace(/\.$/, '');
    if (cname) errs.push(...isDns1123Subdomain(cname).map((m) => fieldErrors.invalid('spec.externalName', cname, m)));
    else errs.push(fieldErrors.required('spec.externalName'));
  }
  const names = new Set<string>();
  ports.forEach((p, i) => validateServicePort(p, ports.length > 1, names, `spec.ports[${i}]`, errs));
  if (spec.selector && typeof spec.selector === 'object') errs.push(...validateLabels(spec.selector as Record<string, string>, 'spec.selector'));
  const affinity = str(spec.sessionAffinity);
  if (!affinity) errs.push(fieldErrors.required('spec.sessionAffinity'));
  else if (!SESSION_AFFINITIES.includes(affinity)) errs.push(fieldErrors.notSupported('spec.sessionAffinity', affinity, SESSION_AFFINITIES));
  if (affinity === 'None' && spec.sessionAffinityConfig) errs.push(fieldErrors.forbidden('spec.sessionAffinityConfig', 'must not be set when session affinity is None'));
  validateClusterIPs(spec, errs);
  strings(spec.externalIPs).forEach((ip, i) => {
    if (!isIP(ip)) errs.push(invalidIP(`spec.externalIPs[${i}]`, ip));
  });
  const type = str(spec.type);
  if (!type) errs.push(fieldErrors.required('spec.type'));
  else if (!SERVICE_TYPES.includes(type)) errs.push(fieldErrors.notSupported('spec.type', type, SERVICE_TYPES));
  if (type === 'ClusterIP') {
    ports.forEach((p, i) => {
      if (num(p.nodePort)) errs.push(fieldErrors.forbidden(`spec.ports[${i}].nodePort`, "may not be used when `type` is 'ClusterIP'"));
    });
  }
  const nodePorts = new Set<string>();
  ports.forEach((p, i) => {
    if (!num(p.nodePort)) return;
    const key = `${str(p.protocol)}/${num(p.nodePort)}`;
    if (nodePorts.has(key)) errs.push(fieldErrors.duplicate(`spec.ports[${i}].nodePort`, num(p.nodePort)));
    nodePorts.add(key);
  });
  const seen = new Set<string>();
  ports.forEach((p, i) => {
    const key = `${str(p.protocol)}/${num(p.port)}`;
    if (seen.has(key)) errs.push(fieldErrors.duplicate(`spec.ports[${i}]`, servicePortKey(str(p.protocol), num(p.port))));
    seen.add(key);
  });
  validateTrafficPolicies(spec, errs);
  return errs;
}

/** ValidateServiceUpdate: the primary ClusterIP and family stay (validateUpgradeDowngradeClusterIPs). */
export function validateServiceUpdate(svc: KubeObject, old: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  const spec = (svc.spec ?? {}) as Obj;
  const oldSpec = (old.spec ?? {}) as Obj;
  const external = spec.type === 'ExternalName' || oldSpec.type === 'ExternalName';
  const bothHeadless = spec.clusterIP === 'None' && oldSpec.clusterIP === 'None';
  if (!external && !bothHeadless) {
    const now = strings(spec.clusterIPs);
    const before = strings(oldSpec.clusterIPs);
    if (now.length === before.length) {
      before.forEach((ip, i) => {
        if (ip !== now[i]) errs.push(fieldErrors.invalid(`spec.clusterIPs[${i}]`, now, 'may not change once set'));
      });
    } else if (now.length === 0 && before.length > 0) {
      errs.push(fieldErrors.invalid('spec.clusterIPs[0]', now, 'primary clusterIP can not be unset'));
    }
    const families = strings(spec.ipFamilies);
    const oldFamilies = strings(oldSpec.ipFamilies);
    if (families.length === oldFamilies.length) {
      oldFamilies.forEach((f, i) => {
        const value = { goSyntax: `[]core.IPFamily{${families.map(goQuote).join(', ')}}` };
        if (f !== families[i]) errs.push(fieldErrors.invalid(`spec.ipFamilies[${i}]`, value, 'may not change once set'));
      });
    }
  }
  return [...errs, ...validateService(svc)];
}
