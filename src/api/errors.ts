// Validation errors of the declared state. Like `kubectl apply`, the lab refuses the whole state when
// any object is invalid and lists every problem, one per line:
//   lab/cluster.yaml:42: Deployment default/app2: spec.replicas: must be an integer between 0 and 1000

/** One problem found in a state or config file. */
export interface Issue {
  file: string;
  /** 1-based line of the offending field (or of the object / document when there is no field). */
  line: number;
  /** `Deployment default/app2`, `Namespace prod`; absent for config.yaml and YAML syntax errors. */
  object?: string;
  /** Field path as Kubernetes prints it: `spec.template.spec.containers[0].ports[0].containerPort`. */
  field?: string;
  message: string;
}

/** One path segment: a field name, a list index, or a map key (printed as `[key]` when not a plain word). */
export type PathSegment = string | number;

export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else if (/^[\x21-\x7e]+$/.test(seg) && !/[[\]]/.test(seg)) out += `[${seg}]`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** A value quoted for a one-line message: newlines, NUL and other control characters escaped. */
export function quote(value: unknown): string {
  if (typeof value === 'string') {
    const shown = value.length > 80 ? `${value.slice(0, 77)}...` : value;
    return JSON.stringify(shown);
  }
  if (value === undefined) return 'nothing';
  try {
    const json = JSON.stringify(value);
    return json.length > 80 ? `${json.slice(0, 77)}...` : json;
  } catch {
    return String(value);
  }
}

/** A name safe to print inside `Kind namespace/name` (quoted when it holds anything unusual). */
export function displayName(name: string): string {
  return /^[\x21-\x7e]{1,253}$/.test(name) ? name : quote(name);
}

export function formatIssue(issue: Issue): string {
  const parts = [`${issue.file}:${issue.line}`];
  if (issue.object) parts.push(issue.object);
  if (issue.field) parts.push(issue.field);
  parts.push(issue.message);
  return parts.join(': ');
}

function compareIssues(a: Issue, b: Issue): number {
  if (a.file !== b.file) return a.file < b.file ? -1 : 1;
  return a.line - b.line;
}

/** Everything wrong with the declared state, thrown once, sorted by file and line. */
export class ValidationError extends Error {
  readonly issues: readonly Issue[];

  constructor(issues: Issue[]) {
    const sorted = [...issues].sort(compareIssues);
    super(sorted.map(formatIssue).join('\n'));
    this.name = 'ValidationError';
    this.issues = sorted;
  }
}

/** A command needs a running instance and there is none (the CLI adds how to start one). */
export class InstanceNotRunningError extends Error {
  constructor(
    readonly instance: string,
    readonly stateDir: string,
  ) {
    super(`instance ${instance} is not running (no state under ${stateDir})`);
  }
}
