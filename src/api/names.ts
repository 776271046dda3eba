// Name and identifier syntax exactly as Kubernetes defines it (k8s.io/apimachinery/pkg/util/validation).
// Each `isX` is a plain predicate; each `xProblem` returns why a value is refused (or undefined when it is
// fine), worded like the API server's messages, plus a hint when the value looks like an injection attempt.

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const IANA_SVC_NAME = /^[-a-z0-9]+$/;
const CONFIG_MAP_KEY = /^[-._a-zA-Z0-9]+$/;
const ENV_VAR_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

export const DNS1123_LABEL_MAX = 63;
export const DNS1123_SUBDOMAIN_MAX = 253;

/** RFC 1123 label: pod-facing names such as namespaces, containers, volumes, Service port names. */
export function isDns1123Label(value: string): boolean {
  return value.length <= DNS1123_LABEL_MAX && DNS1123_LABEL.test(value);
}

/** RFC 1123 subdomain: most object names (Deployment, ConfigMap, Ingress, Endpoints). */
export function isDns1123Subdomain(value: string): boolean {
  return value.length <= DNS1123_SUBDOMAIN_MAX && DNS1123_SUBDOMAIN.test(value);
}

/** RFC 1035 label: Service names (they become DNS labels, so they must start with a letter). */
export function isDns1035Label(value: string): boolean {
  return value.length <= DNS1123_LABEL_MAX && DNS1035_LABEL.test(value);
}

/** Label and annotation keys: an optional DNS-1123 subdomain prefix and '/', then a name of at most 63. */
export function isValidLabelKey(key: string): boolean {
  return labelKeyProblem(key) === undefined;
}

/** Label values: empty, or at most 63 alphanumerics, '-', '_' and '.', alphanumeric at both ends. */
export function isValidLabelValue(value: string): boolean {
  return value.length <= 63 && LABEL_VALUE.test(value);
}

/**
 * IANA_SVC_NAME (RFC 6335): named container ports and named targetPorts. At most 15 characters, lower
 * case alphanumerics and '-', at least one letter, no '-' at either end and no '--'.
 */
export function isIanaSvcName(value: string): boolean {
  return ianaSvcNameProblem(value) === undefined;
}

/** ConfigMap data keys, which become file names: `[-._a-zA-Z0-9]+`, never '.', '..' or '..'-prefixed. */
export function isConfigMapKey(value: string): boolean {
  return configMapKeyProblem(value) === undefined;
}

/** Environment variable names as the API server accepts them (C identifiers plus '-' and '.'). */
export function isEnvVarName(value: string): boolean {
  return ENV_VAR_NAME.test(value);
}

// ---------------------------------------------------------------------------------------------------
// Problems, worded for people.

const SHELL_META = /[\s$`;&|<>()\\'"*?!{}[\]~#]/g;

/**
 * Extra words for values that look like an attempt to reach a shell or the file system. Names from the
 * state file become netns names, file names and process arguments, so these get called out by name.
 */
export function suspiciousProblem(value: string): string | undefined {
  if (value.includes('\0')) return 'contains a NUL byte';
  if (/[\n\r]/.test(value)) return 'contains a line break';
  if (/(^|\/)\.\.(\/|$)/.test(value)) return "contains a '..' path element";
  const meta = [...new Set(value.match(SHELL_META) ?? [])].filter((c) => !/\s/.test(c));
  if (meta.length > 0) return `contains shell metacharacters ${meta.map((c) => `'${c}'`).join(' ')}`;
  if (value.includes('/')) return "contains '/'";
  if (/\s/.test(value)) return 'contains whitespace';
  if (/[A-Z]/.test(value)) return 'contains upper case letters';
  return undefined;
}

function withHint(base: string, value: string): string {
  const hint = suspiciousProblem(value);
  return hint ? `${base} (it ${hint})` : base;
}

export function dns1123LabelProblem(value: string): string | undefined {
  if (value === '') return 'must not be empty';
  if (value.length > DNS1123_LABEL_MAX) return `must be no more than ${DNS1123_LABEL_MAX} characters`;
  if (DNS1123_LABEL.test(value)) return undefined;
  return withHint(
    "must be a DNS-1123 label: lower case alphanumeric characters or '-', starting and ending with an alphanumeric character",
    value,
  );
}

export function dns1123SubdomainProblem(value: string): string | undefined {
  if (value === '') return 'must not be empty';
  if (value.length > DNS1123_SUBDOMAIN_MAX) return `must be no more than ${DNS1123_SUBDOMAIN_MAX} characters`;
  if (DNS1123_SUBDOMAIN.test(value)) return undefined;
  return withHint(
    "must be a DNS-1123 subdomain: lower case alphanumeric characters, '-' or '.', starting and ending with an alphanumeric character",
    value,
  );
}

export function dns1035LabelProblem(value: string): string | undefined {
  if (value === '') return 'must not be empty';
  if (value.length > DNS1123_LABEL_MAX) return `must be no more than ${DNS1123_LABEL_MAX} characters`;
  if (DNS1035_LABEL.test(value)) return undefined;
  return withHint(
    "must be a DNS-1035 label: lower case alphanumeric characters or '-', starting with a letter and ending with an alphanumeric character",
    value,
  );
}

export function labelKeyProblem(key: string): string | undefined {
  if (key === '') return 'must not be empty';
  const slash = key.indexOf('/');
  let name = key;
  if (slash >= 0) {
    const prefix = key.slice(0, slash);
    name = key.slice(slash + 1);
    if (name.includes('/')) return withHint("must have at most one '/' (prefix/name)", key);
    if (prefix === '' || prefix.length > DNS1123_SUBDOMAIN_MAX || !DNS1123_SUBDOMAIN.test(prefix)) {
      return withHint('must have a DNS-1123 subdomain as its prefix (before the /)', key);
    }
  }
  if (name === '') return "must have a name after the '/'";
  if (name.length > 63) return 'must have a name part of no more than 63 characters';
  if (!QUALIFIED_NAME.test(name)) {
    return withHint(
      "must be a qualified name: alphanumeric characters, '-', '_' or '.', starting and ending with an alphanumeric character, with an optional DNS subdomain prefix and '/'",
      key,
    );
  }
  return undefined;
}

export function labelValueProblem(value: string): string | undefined {
  if (value.length > 63) return 'must be no more than 63 characters';
  if (LABEL_VALUE.test(value)) return undefined;
  return withHint(
    "must be empty or consist of alphanumeric characters, '-', '_' or '.', starting and ending with an alphanumeric character",
    value,
  );
}

export function ianaSvcNameProblem(value: string): string | undefined {
  if (value === '') return 'must not be empty';
  if (value.length > 15) return 'must be no more than 15 characters (IANA_SVC_NAME)';
  if (!IANA_SVC_NAME.test(value)) {
    return withHint("must be an IANA_SVC_NAME: lower case alphanumeric characters or '-'", value);
  }
  if (value.includes('--')) return "must not contain consecutive hyphens (IANA_SVC_NAME)";
  if (value.startsWith('-') || value.endsWith('-')) return "must not begin or end with a hyphen (IANA_SVC_NAME)";
  if (!/[a-z]/.test(value)) return 'must contain at least one letter (IANA_SVC_NAME)';
  return undefined;
}

export function configMapKeyProblem(value: string): string | undefined {
  if (value === '') return 'must not be empty';
  if (value.length > DNS1123_SUBDOMAIN_MAX) return `must be no more than ${DNS1123_SUBDOMAIN_MAX} characters`;
  if (!CONFIG_MAP_KEY.test(value)) {
    return withHint("must consist of alphanumeric characters, '-', '_' or '.', as it becomes a file name", value);
  }
  if (value === '.' || value === '..') return `must not be '${value}'`;
  if (value.startsWith('..')) return "must not start with '..'";
  return undefined;
}

export function envVarNameProblem(value: string): string | undefined {
  if (value === '') return 'must not be empty';
  if (ENV_VAR_NAME.test(value)) return undefined;
  return withHint(
    "must consist of alphabetic characters, digits, '_', '-' or '.', and must not start with a digit",
    value,
  );
}

/** A relative path below a volume (KeyToPath.path, subPath): no absolute paths, no '..' element. */
export function relativePathProblem(value: string): string | undefined {
  if (value === '') return 'must not be empty';
  if (value.includes('\0')) return 'must not contain a NUL byte';
  if (value.startsWith('/')) return 'must be a relative path';
  if (value.split('/').includes('..')) return "must not contain '..'";
  if (value.startsWith('..')) return "must not start with '..'";
  return undefined;
}

/** An absolute path (mountPath, hostPath, workingDir): starts with '/', no '..' element, no NUL. */
export function absolutePathProblem(value: string): string | undefined {
  if (value === '') return 'must not be empty';
  if (value.includes('\0')) return 'must not contain a NUL byte';
  if (/[\n\r]/.test(value)) return 'must not contain a line break';
  if (!value.startsWith('/')) return "must be an absolute path (start with '/')";
  if (value.split('/').includes('..')) return "must not contain '..'";
  return undefined;
}

// Container image references (distribution/reference grammar, simplified: domain, path, tag, digest).
const IMAGE_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const IMAGE_DOMAIN = '(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?';
const IMAGE_REFERENCE = new RegExp(
  `^(?:${IMAGE_DOMAIN}/)?${IMAGE_COMPONENT}(?:/${IMAGE_COMPONENT})*(?::[\\w][\\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$`,
);

export function imageProblem(value: string): string | undefined {
  if (value.trim() === '') return 'must not be empty';
  if (value.length > 255 * 2 || !IMAGE_REFERENCE.test(value)) {
    return withHint('must be an image reference such as busybox or docker.io/library/busybox:1.36', value);
  }
  return undefined;
}
