// Deployments and ReplicaSets as kube-apiserver v1.32 validates them (pkg/apis/apps/validation:
// ValidateDeploymentSpec, ValidateReplicaSetSpec, ValidatePodTemplateSpecForReplicaSet, and the
// strategies' selector immutability), with metav1's ValidateLabelSelector. The pod template's
// spec goes through validate-pod.ts at `spec.template.spec`.
import type { KubeObject } from './object.ts';
import { fieldErrors, goLabelSelector, goMap, type FieldError } from './status.ts';
import { deepEqual } from './object.ts';
import { isQualifiedName, isValidLabelValue, regexError, validateLabels } from './validation.ts';
import { validatePodSpec } from './validate-pod.ts';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

interface Selector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key?: string; operator?: string; values?: string[] }[];
}

const OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'];
const NEGATIVE = 'must be greater than or equal to 0';

function nonNegative(value: unknown, field: string, errs: FieldError[]): void {
  if (typeof value === 'number' && value < 0) errs.push(fieldErrors.invalid(field, value, NEGATIVE));
}

/** metav1 validation's ValidateLabelSelector. */
export function validateLabelSelector(sel: Selector, field: string): FieldError[] {
  const errs: FieldError[] = [...validateLabels(sel.matchLabels ?? {}, `${field}.matchLabels`)];
  (sel.matchExpressions ?? []).forEach((e, i) => {
    const at = `${field}.matchExpressions[${i}]`;
    const values = e.values ?? [];
    if (e.operator === 'In' || e.operator === 'NotIn') {
      if (values.length === 0) errs.push(fieldErrors.required(`${at}.values`, "must be specified when `operator` is 'In' or 'NotIn'"));
    } else if (e.operator === 'Exists' || e.operator === 'DoesNotExist') {
      if (values.length > 0) errs.push(fieldErrors.forbidden(`${at}.values`, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
    } else errs.push(fieldErrors.invalid(`${at}.operator`, e.operator ?? '', 'not a valid selector operator'));
    for (const m of isQualifiedName(e.key ?? '')) errs.push(fieldErrors.invalid(`${at}.key`, e.key ?? '', m));
    values.forEach((v, j) => {
      for (const m of isValidLabelValue(v)) errs.push(fieldErrors.invalid(`${at}.values[${j}]`, v, m));
    });
  });
  return errs;
}

/** Whether a LabelSelector matches labels; undefined when LabelSelectorAsSelector would fail. */
function selectorMatches(sel: Selector, labels: Record<string, string>): boolean | undefined {
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    if (!OPERATORS.includes(e.operator ?? '')) return undefined;
    const has = Object.hasOwn(labels, e.key ?? '');
    const value = labels[e.key ?? ''];
    const inValues = has && (e.values ?? []).includes(value!);
    if (e.operator === 'In' && !inValues) return false;
    if (e.operator === 'NotIn' && inValues) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

/** The selector and the template (ValidatePodTemplateSpecForReplicaSet) of a Deployment or ReplicaSet. */
function validateSelectorAndTemplate(spec: Obj, errs: FieldError[]): void {
  const sel = isObj(spec.selector) ? (spec.selector as Selector) : undefined;
  if (!sel) errs.push(fieldErrors.required('spec.selector'));
  else {
    errs.push(...validateLabelSelector(sel, 'spec.selector'));
    if (Object.keys(sel.matchLabels ?? {}).length + (sel.matchExpressions ?? []).length === 0) {
      errs.push(fieldErrors.invalid('spec.selector', goLabelSelector(sel), 'empty selector is invalid for deployment'));
    }
  }
  const template = isObj(spec.template) ? (spec.template as Obj) : undefined;
  // A missing selector selects nothing (labels.Nothing), so the template never matches it.
  const empty = sel !== undefined && Object.keys(sel.matchLabels ?? {}).length + (sel.matchExpressions ?? []).length === 0;
  const meta = (isObj(template?.metadata) ? template!.metadata : {}) as { labels?: Record<string, string> };
  const matches = sel ? selectorMatches(sel, meta.labels ?? {}) : false;
  if (matches === undefined) {
    errs.push(fieldErrors.invalid('spec.selector', goLabelSelector(sel!), 'invalid label selector'));
    return;
  }
  if (!template) {
    errs.push(fieldErrors.required('spec.template'));
    return;
  }
  if (!empty && !matches) errs.push(fieldErrors.invalid('spec.template.metadata.labels', goMap(meta.labels), '`selector` does not match template `labels`'));
  // ValidatePodTemplateSpec names the template's labels `spec.template.labels` (kube's own path).
  errs.push(...validateLabels(meta.labels ?? {}, 'spec.template.labels'));
  const podSpec = (isObj(template.spec) ? template.spec : {}) as Obj;
  errs.push(...validatePodSpec(podSpec, 'spec.template.spec'));
  const restart = str(podSpec.restartPolicy);
  if (restart && restart !== 'Always') errs.push(fieldErrors.notSupported('spec.template.spec.restartPolicy', restart, ['Always']));
  if (podSpec.activeDeadlineSeconds !== undefined && podSpec.activeDeadlineSeconds !== null) {
    errs.push(fieldErrors.invalid('spec.template.spec.activeDeadlineSeconds', podSpec.activeDeadlineSeconds, 'activeDeadlineSeconds in ReplicaSet is not Supported'));
  }
}

/** An IntOrString as %#v prints it. */
const goIntOrString = (v: unknown) => ({
  goSyntax: typeof v === 'string' ? `intstr.IntOrString{Type:1, IntVal:0, StrVal:"${v}"}` : `intstr.IntOrString{Type:0, IntVal:${typeof v === 'number' ? v : 0}, StrVal:""}`,
});
const PERCENT = /^[0-9]+%$/;
const intOrPercentValue = (v: unknown): number => (typeof v === 'number' ? v : PERCENT.test(str(v)) ? parseInt(str(v), 10) : 0);

function validateRollingUpdate(ru: Obj, errs: FieldError[]): void {
  for (const key of ['maxUnavailable', 'maxSurge']) {
    const v = ru[key];
    const field = `spec.strategy.rollingUpdate.${key}`;
    if (typeof v === 'string' && !PERCENT.test(v)) errs.push(fieldErrors.invalid(field, goIntOrString(v), regexError("a valid percent string must be a numeric string followed by an ending '%'", '[0-9]+%', '1%', '93%')));
    else nonNegative(v, field, errs);
  }
  if (intOrPercentValue(ru.maxUnavailable) === 0 && intOrPercentValue(ru.maxSurge) === 0) {
    errs.push(fieldErrors.invalid('spec.strategy.rollingUpdate.maxUnavailable', goIntOrString(ru.maxUnavailable), 'may not be 0 when `maxSurge` is 0'));
  }
  if (typeof ru.maxUnavailable === 'string' && intOrPercentValue(ru.maxUnavailable) > 100) {
    errs.push(fieldErrors.invalid('spec.strategy.rollingUpdate.maxUnavailable', goIntOrString(ru.maxUnavailable), 'must not be greater than 100%'));
  }
}

export function validateDeployment(d: KubeObject): FieldError[] {
  const spec = (d.spec ?? {}) as Obj;
  const errs: FieldError[] = [];
  nonNegative(spec.replicas, 'spec.replicas', errs);
  validateSelectorAndTemplate(spec, errs);
  const strategy = (isObj(spec.strategy) ? spec.strategy : {}) as Obj;
  if (strategy.type === 'Recreate') {
    if (strategy.rollingUpdate) errs.push(fieldErrors.forbidden('spec.strategy.rollingUpdate', "may not be specified when strategy `type` is 'Recreate'"));
  } else if (strategy.type === 'RollingUpdate') {
    if (isObj(strategy.rollingUpdate)) validateRollingUpdate(strategy.rollingUpdate, errs);
  } else {
    const value = { goSyntax: `apps.DeploymentStrategy{Type:"${str(strategy.type)}", RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}` };
    errs.push(fieldErrors.notSupported('spec.strategy', value, ['Recreate', 'RollingUpdate']));
  }
  nonNegative(spec.minReadySeconds, 'spec.minReadySeconds', errs);
  nonNegative(spec.revisionHistoryLimit, 'spec.revisionHistoryLimit', errs);
  if (typeof spec.progressDeadlineSeconds === 'number') {
    nonNegative(spec.progressDeadlineSeconds, 'spec.progressDeadlineSeconds', errs);
    if (spec.progressDeadlineSeconds <= (typeof spec.minReadySeconds === 'number' ? spec.minReadySeconds : 0)) {
      errs.push(fieldErrors.invalid('spec.progressDeadlineSeconds', spec.progressDeadlineSeconds, 'must be greater than minReadySeconds'));
    }
  }
  return errs;
}

export function validateReplicaSet(rs: KubeObject): FieldError[] {
  const spec = (rs.spec ?? {}) as Obj;
  const errs: FieldError[] = [];
  nonNegative(spec.replicas, 'spec.replicas', errs);
  nonNegative(spec.minReadySeconds, 'spec.minReadySeconds', errs);
  validateSelectorAndTemplate(spec, errs);
  return errs;
}

/** The apps/v1 strategies' ValidateUpdate: the selector may not change. */
export function selectorImmutable(obj: KubeObject, old: KubeObject): FieldError[] {
  const sel = obj.spec?.selector as Selector | undefined;
  const oldSel = old.spec?.selector as Selector | undefined;
  if (deepEqual(sel ?? null, oldSel ?? null)) return [];
  return [fieldErrors.invalid('spec.selector', sel ? goLabelSelector(sel) : null, 'field is immutable')];
}

