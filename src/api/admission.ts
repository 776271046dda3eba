// Pod Security admission (k8s.io/pod-security-admission), pure: a namespace's
// pod-security.kubernetes.io/* labels choose a level per mode, the Pod Security Standards' checks
// judge a pod spec, and the messages are the admission's own, word for word and in its order.
//
// Where Kubernetes applies it, the lab does: a pod is refused at creation when it violates the
// namespace's `enforce` level (the ReplicaSet controller then records FailedCreate); a Deployment is
// never refused for its template, it gets a warning when the template violates the `warn` level.

import { key, type DesiredState } from './types.ts';

export const POD_SECURITY_LABEL_PREFIX = 'pod-security.kubernetes.io/';
export const MODES = ['enforce', 'audit', 'warn'] as const;
export type Mode = (typeof MODES)[number];
export const LEVELS = ['privileged', 'baseline', 'restricted'] as const;
export type Level = (typeof LEVELS)[number];

/** `baseline:latest`, `privileged:v1.29` */
export interface LevelVersion {
  level: Level;
  /** "latest" or "v1.<minor>" */
  version: string;
}
export type Policy = Record<Mode, LevelVersion>;

export const levelLabel = (mode: Mode): string => `${POD_SECURITY_LABEL_PREFIX}${mode}`;
export const versionLabel = (mode: Mode): string => `${POD_SECURITY_LABEL_PREFIX}${mode}-version`;
const KNOWN_LABELS = new Set(MODES.flatMap((m) => [levelLabel(m), versionLabel(m)]));

/**
 * The cluster-wide defaults for namespaces without labels: the lab's API server behaves as one
 * started with an AdmissionConfiguration whose PodSecurity `defaults` are baseline:latest for all
 * three modes. (Without such a file Kubernetes defaults to privileged everywhere; "baseline by
 * default" is what hardened distributions configure, k3s's CIS guide among them.)
 */
export const LAB_DEFAULT_POLICY: Policy = {
  enforce: { level: 'baseline', version: 'latest' },
  audit: { level: 'baseline', version: 'latest' },
  warn: { level: 'baseline', version: 'latest' },
};

export function formatLevelVersion(lv: LevelVersion): string {
  return `${lv.level}:${lv.version}`;
}

const VERSION = /^v1\.(0|[1-9][0-9]*)$/;
const isLevel = (v: string): v is Level => (LEVELS as readonly string[]).includes(v);
const STRICTNESS: Record<Level, number> = { privileged: 0, baseline: 1, restricted: 2 };

export interface LabelProblem {
  label: string;
  message: string;
}

/**
 * What is wrong with a Namespace's pod-security.kubernetes.io labels. The admission refuses invalid
 * values when a Namespace is created (`must be one of privileged, baseline, restricted`, `must be
 * "latest" or "v1.x"`). The lab also refuses two things Kubernetes would take: the `restricted`
 * level, whose checks need fields the lab does not support (seccompProfile: every pod would be
 * refused), and an unknown label under the prefix (a typo would silently leave the default level).
 */
export function podSecurityLabelProblems(labels: Record<string, string>): LabelProblem[] {
  const problems: LabelProblem[] = [];
  for (const [label, value] of Object.entries(labels)) {
    if (!label.startsWith(POD_SECURITY_LABEL_PREFIX)) continue;
    const mode = MODES.find((m) => label === levelLabel(m));
    if (mode) {
      if (value === 'restricted') {
        problems.push({ label, message: `"restricted" is a level the lab does not enforce: its checks need securityContext.seccompProfile, a field the lab does not support, so every pod would be refused; use "baseline" or "privileged"` });
      } else if (!isLevel(value)) {
        problems.push({ label, message: `${JSON.stringify(value)} must be one of privileged, baseline, restricted` });
      }
    } else if (KNOWN_LABELS.has(label)) {
      if (value !== 'latest' && !VERSION.test(value)) problems.push({ label, message: `${JSON.stringify(value)} must be "latest" or "v1.x"` });
    } else {
      problems.push({ label, message: `unknown Pod Security label; the admission reads ${[...KNOWN_LABELS].map((l) => l.slice(POD_SECURITY_LABEL_PREFIX.length)).join(', ')} under ${POD_SECURITY_LABEL_PREFIX}` });
    }
  }
  return problems;
}

/**
 * The policy for a namespace (the admission's PolicyToEvaluate): each label overrides its default;
 * when `enforce` is set to a level stricter than the warn level and `warn` is not set, warn follows
 * enforce. Labels are expected to be valid (podSecurityLabelProblems); an invalid level fails closed
 * for enforce (restricted) and open for audit and warn (privileged), as the admission does.
 */
export function namespacePolicy(labels: Record<string, string>, defaults: Policy = LAB_DEFAULT_POLICY): Policy {
  const p: Policy = { enforce: { ...defaults.enforce }, audit: { ...defaults.audit }, warn: { ...defaults.warn } };
  for (const mode of MODES) {
    const level = labels[levelLabel(mode)];
    if (level !== undefined) p[mode].level = isLevel(level) ? level : mode === 'enforce' ? 'restricted' : 'privileged';
    const version = labels[versionLabel(mode)];
    if (version !== undefined) p[mode].version = version === 'latest' || VERSION.test(version) ? version : 'latest';
  }
  const enforceSet = labels[levelLabel('enforce')] !== undefined && isLevel(labels[levelLabel('enforce')]!);
  if (enforceSet && labels[levelLabel('warn')] === undefined && STRICTNESS[p.enforce.level] > STRICTNESS[p.warn.level]) {
    p.warn.level = p.enforce.level;
    if (labels[versionLabel('warn')] === undefined) p.warn.version = p.enforce.version;
  }
  return p;
}

/** One failed check: `hostPath volumes` (`volume "x"`). */
export interface CheckResult {
  reason: string;
  detail: string;
}

const joinQuote = (items: readonly string[]) => items.map((i) => JSON.stringify(i)).join(', ');
const plural = (one: string, many: string, n: number) => (n === 1 ? one : many);

/** The baseline level's default capability set: only these may be added. */
export const BASELINE_CAPABILITIES: ReadonlySet<string> = new Set([
  'AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE',
  'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT',
]);

/**
 * The fields of a pod spec the checks read: the lab's PodSpec, or a pod spec as the API holds it
 * (src/api/server/pod-security.ts), whose lists may be absent.
 */
export interface PodSecuritySpec {
  containers?: readonly { name: string; securityContext?: { privileged?: boolean; capabilities?: { add?: readonly string[] } } }[];
  volumes?: readonly { name: string; hostPath?: unknown }[];
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
}

type Check = (spec: PodSecuritySpec) => CheckResult | undefined;

function capabilitiesBaseline(spec: PodSecuritySpec): CheckResult | undefined {
  const bad: string[] = [];
  const caps = new Set<string>();
  for (const c of spec.containers ?? []) {
    const extra = (c.securityContext?.capabilities?.add ?? []).filter((cap) => !BASELINE_CAPABILITIES.has(cap));
    if (extra.length === 0) continue;
    bad.push(c.name);
    for (const cap of extra) caps.add(cap);
  }
  if (bad.length === 0) return undefined;
  const sorted = [...caps].sort();
  return { reason: 'non-default capabilities', detail: `${plural('container', 'containers', bad.length)} ${joinQuote(bad)} must not include ${joinQuote(sorted)} in securityContext.capabilities.add` };
}

function hostNamespaces(spec: PodSecuritySpec): CheckResult | undefined {
  const shared = [spec.hostNetwork && 'hostNetwork=true', spec.hostPID && 'hostPID=true', spec.hostIPC && 'hostIPC=true'].filter((x): x is string => Boolean(x));
  return shared.length ? { reason: 'host namespaces', detail: shared.join(', ') } : undefined;
}

function hostPathVolumes(spec: PodSecuritySpec): CheckResult | undefined {
  const names = (spec.volumes ?? []).filter((v) => v.hostPath).map((v) => v.name);
  return names.length ? { reason: 'hostPath volumes', detail: `${plural('volume', 'volumes', names.length)} ${joinQuote(names)}` } : undefined;
}

function privileged(spec: PodSecuritySpec): CheckResult | undefined {
  const names = (spec.containers ?? []).filter((c) => c.securityContext?.privileged === true).map((c) => c.name);
  return names.length ? { reason: 'privileged', detail: `${plural('container', 'containers', names.length)} ${joinQuote(names)} must not set securityContext.privileged=true` } : undefined;
}

/**
 * The baseline checks that concern fields a lab pod can have, in the admission's order: it runs its
 * checks sorted by ID (capabilities_baseline, hostNamespaces, hostPathVolumes, ..., privileged, ...).
 * The others (hostPorts, procMount, seccomp, SELinux, AppArmor, sysctls, host probes, Windows
 * host process) judge fields the lab refuses at load, so they pass here as they would there.
 */
const BASELINE_CHECKS: readonly Check[] = [capabilitiesBaseline, hostNamespaces, hostPathVolumes, privileged];

/** The checks of `level` that the pod fails, in the admission's order (none at privileged). */
export function evaluatePod(level: Level, spec: PodSecuritySpec): CheckResult[] {
  if (level === 'privileged') return [];
  if (level === 'restricted') throw new Error('the restricted Pod Security level is not supported by the lab (refused when the Namespace is loaded)');
  return BASELINE_CHECKS.map((check) => check(spec)).filter((r): r is CheckResult => r !== undefined);
}

/** `host namespaces (hostNetwork=true), hostPath volumes (volume "x")` */
export function forbiddenDetail(results: readonly CheckResult[]): string {
  return results.map((r) => (r.detail ? `${r.reason} (${r.detail})` : r.reason)).join(', ');
}

/**
 * Why a pod being created in a namespace with `labels` is refused, or undefined: the enforce
 * level's failed checks, as the admission words them (`violates PodSecurity "baseline:latest": ...`).
 */
export function podViolation(spec: PodSecuritySpec, labels: Record<string, string>): string | undefined {
  const { enforce } = namespacePolicy(labels);
  const failed = evaluatePod(enforce.level, spec);
  return failed.length ? `violates PodSecurity ${JSON.stringify(formatLevelVersion(enforce))}: ${forbiddenDetail(failed)}` : undefined;
}

/**
 * The warnings for a pod controller (a Deployment) whose template is judged at the namespace's warn
 * level: `would violate PodSecurity "baseline:latest": ...`, which kubectl prints as `Warning: ...`.
 * The enforce level is not applied to templates: the Deployment is created, its pods are refused.
 */
export function podTemplateWarnings(spec: PodSecuritySpec, labels: Record<string, string>): string[] {
  const { warn } = namespacePolicy(labels);
  const failed = evaluatePod(warn.level, spec);
  return failed.length ? [`would violate PodSecurity ${JSON.stringify(formatLevelVersion(warn))}: ${forbiddenDetail(failed)}`] : [];
}

/**
 * The warnings for every Deployment of the declared state, as kubectl prints them when it applies
 * them (`Warning: would violate PodSecurity "baseline:latest": ...`), each naming the file and the
 * object: `Warning: lab/cluster.yaml:12: Deployment default/web: would violate ...`.
 */
export function podSecurityWarnings(desired: Pick<DesiredState, 'deployments' | 'namespaceLabels'>): string[] {
  return desired.deployments.flatMap((d) =>
    podTemplateWarnings(d.spec.template.spec, desired.namespaceLabels[d.metadata.namespace] ?? {}).map((w) => `Warning: ${d.source.file}:${d.source.line}: Deployment ${key(d.metadata)}: ${w}`),
  );
}
