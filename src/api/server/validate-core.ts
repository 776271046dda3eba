// ConfigMaps and Endpoints as kube-apiserver v1.32 validates them (pkg/apis/core/validation:
// ValidateConfigMap, ValidateConfigMapUpdate, ValidateEndpoints in part).
import type { KubeObject } from './object.ts';
import { deepEqual } from './object.ts';
import { fieldErrors, type FieldError } from './status.ts';
import { maxLenError, regexError } from './validation.ts';
import { isValidPortNum, objects, PROTOCOLS } from './validate-pod.ts';

type Obj = Record<string, unknown>;
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const MAX_SIZE = 1024 * 1024; // core.MaxSecretSize

/** validation.IsConfigMapKey. */
function configMapKeyProblems(key: string): string[] {
  const errs: string[] = [];
  if (key.length > 253) errs.push(maxLenError(253));
  if (!/^[-._a-zA-Z0-9]+$/.test(key)) errs.push(regexError("a valid config key must consist of alphanumeric characters, '-', '_' or '.'", '[-._a-zA-Z0-9]+', 'key.name', 'KEY_NAME', 'key-name'));
  if (key === '.') errs.push("must not be '.'");
  else if (key === '..') errs.push("must not be '..'");
  else if (key.startsWith('..')) errs.push("must not start with '..'");
  return errs;
}

export function validateConfigMap(cm: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  const data = (cm.data ?? {}) as Record<string, string>;
  const binary = (cm.binaryData ?? {}) as Record<string, string>;
  let size = 0;
  for (const key of Object.keys(data).sort()) {
    for (const m of configMapKeyProblems(key)) errs.push(fieldErrors.invalid(`data[${key}]`, key, m));
    if (Object.hasOwn(binary, key)) errs.push(fieldErrors.invalid(`data[${key}]`, key, 'duplicate of key present in binaryData'));
    size += Buffer.byteLength(str(data[key]));
  }
  for (const key of Object.keys(binary).sort()) {
    for (const m of configMapKeyProblems(key)) errs.push(fieldErrors.invalid(`binaryData[${key}]`, key, m));
    size += Buffer.from(str(binary[key]), 'base64').length;
  }
  if (size > MAX_SIZE) errs.push(fieldErrors.tooLong('', MAX_SIZE));
  return errs;
}

export function validateConfigMapUpdate(cm: KubeObject, old: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  if (old.immutable === true) {
    const msg = 'field is immutable when `immutable` is set';
    if (cm.immutable !== true) errs.push(fieldErrors.forbidden('immutable', msg));
    if (!deepEqual(cm.data ?? null, old.data ?? null)) errs.push(fieldErrors.forbidden('data', msg));
    if (!deepEqual(cm.binaryData ?? null, old.binaryData ?? null)) errs.push(fieldErrors.forbidden('binaryData', msg));
  }
  return [...errs, ...validateConfigMap(cm)];
}

const isIP = (a: string) => (/^\d{1,3}(\.\d{1,3}){3}$/.test(a) && a.split('.').every((o) => Number(o) <= 255)) || (a.includes(':') && /^[0-9a-fA-F:.]+$/.test(a));

/** ValidateEndpoints: the addresses' IPs and the ports (names and special addresses left out). */
export function validateEndpoints(ep: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  objects(ep.subsets).forEach((subset, i) => {
    for (const key of ['addresses', 'notReadyAddresses']) {
      objects(subset[key]).forEach((a, j) => {
        const ip = str(a.ip);
        if (!isIP(ip)) errs.push(fieldErrors.invalid(`subsets[${i}].${key}[${j}].ip`, ip, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'));
      });
    }
    objects(subset.ports).forEach((p: Obj, j) => {
      const at = `subsets[${i}].ports[${j}]`;
      const port = typeof p.port === 'number' ? p.port : 0;
      errs.push(...isValidPortNum(port).map((m) => fieldErrors.invalid(`${at}.port`, port, m)));
      const protocol = str(p.protocol);
      if (!protocol) errs.push(fieldErrors.required(`${at}.protocol`));
      else if (!PROTOCOLS.includes(protocol)) errs.push(fieldErrors.notSupported(`${at}.protocol`, protocol, PROTOCOLS));
    });
  });
  return errs;
}
