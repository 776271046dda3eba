// Field selectors with kube's syntax and errors (k8s.io/apimachinery/pkg/fields), each resource's
// field label conversion (which fields a selector may name) and selectable fields (GetAttrs).
import { goQuote, SelectorError } from './status.ts';

// Field selectors: `metadata.name=x,spec.nodeName!=labs`, with `\,` `\=` `\\` escapes in values.

export interface FieldRequirement {
  field: string;
  operator: '=' | '!=';
  value: string;
}

export class FieldSelector {
  constructor(readonly requirements: readonly FieldRequirement[]) {}

  static everything(): FieldSelector {
    return new FieldSelector([]);
  }

  get empty(): boolean {
    return this.requirements.length === 0;
  }

  /** A field the object does not have counts as '' (fields.Set.Get). */
  matches(fields: Record<string, string>): boolean {
    return this.requirements.every((r) => ((fields[r.field] ?? '') === r.value) === (r.operator === '='));
  }

  /** The value a requirement pins a field to (`metadata.name=x` narrows a list to one key). */
  requiresExactMatch(field: string): string | undefined {
    return this.requirements.find((r) => r.field === field && r.operator === '=')?.value;
  }
}

/** fields.ParseSelector followed by the resource's field label conversion. */
export function parseFieldSelector(selector: string, resource?: string): FieldSelector {
  const terms = splitTerms(selector).sort();
  const reqs: FieldRequirement[] = [];
  for (const term of terms) {
    if (term === '') continue;
    const m = /!=|==|=/.exec(term);
    if (!m) throw new SelectorError(`invalid selector: '${selector}'; can't understand '${term}'`);
    const field = term.slice(0, m.index);
    const value = unescapeValue(term.slice(m.index + m[0].length));
    reqs.push({ field, operator: m[0] === '!=' ? '!=' : '=', value });
  }
  return new FieldSelector(resource === undefined ? reqs : reqs.map((r) => convertFieldLabel(resource, r)));
}

function splitTerms(s: string): string[] {
  const terms: string[] = [];
  let current = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length) {
      current += c + s[++i];
    } else if (c === ',') {
      terms.push(current);
      current = '';
    } else current += c;
  }
  terms.push(current);
  return terms;
}

function unescapeValue(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\') {
      const n = s[i + 1];
      if (n !== '\\' && n !== ',' && n !== '=') throw new SelectorError(`invalid field selector: invalid escape sequence: ${s.slice(i, i + 2)}`);
      out += n;
      i++;
    } else if (c === ',' || c === '=') {
      // Go prints the rune as a number (%v of a rune).
      throw new SelectorError(`invalid field selector: unescaped character in value: ${c.charCodeAt(0)}`);
    } else out += c;
  }
  return out;
}

// What each resource lets a field selector name (the field label conversion funcs of
// pkg/apis/core/v1/conversion.go); the others take kube's default: metadata.name and metadata.namespace.
const FIELD_LABELS: Record<string, readonly string[]> = {
  pods: ['metadata.name', 'metadata.namespace', 'spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName', 'spec.hostNetwork', 'status.phase', 'status.podIP', 'status.podIPs', 'status.nominatedNodeName'],
  nodes: ['metadata.name', 'spec.unschedulable'],
  namespaces: ['status.phase', 'metadata.name'],
  services: ['metadata.namespace', 'metadata.name', 'spec.clusterIP', 'spec.type'],
  events: ['involvedObject.kind', 'involvedObject.namespace', 'involvedObject.name', 'involvedObject.uid', 'involvedObject.apiVersion', 'involvedObject.resourceVersion', 'involvedObject.fieldPath', 'reason', 'reportingComponent', 'source', 'type', 'metadata.namespace', 'metadata.name'],
};

function convertFieldLabel(resource: string, r: FieldRequirement): FieldRequirement {
  const allowed = FIELD_LABELS[resource];
  if (!allowed) {
    if (r.field === 'metadata.name' || r.field === 'metadata.namespace') return r;
    throw new SelectorError(`${goQuote(r.field)} is not a known field selector: only "metadata.name", "metadata.namespace"`);
  }
  // Old v1 clients send spec.host for a pod's node.
  if (resource === 'pods' && r.field === 'spec.host') return { ...r, field: 'spec.nodeName' };
  if (!allowed.includes(r.field)) throw new SelectorError(`field label not supported: ${r.field}`);
  return r;
}

type Obj = { metadata?: { name?: string; namespace?: string }; spec?: Record<string, unknown>; status?: Record<string, unknown> } & Record<string, unknown>;
const str = (v: unknown): string => (v === undefined || v === null ? '' : String(v));

/** The fields a selector can match on (each registry's GetAttrs / ToSelectableFields). */
export function selectableFields(resource: string, obj: Obj, namespaced: boolean): Record<string, string> {
  const meta: Record<string, string> = { 'metadata.name': str(obj.metadata?.name) };
  if (namespaced) meta['metadata.namespace'] = str(obj.metadata?.namespace);
  const spec = obj.spec ?? {};
  const status = obj.status ?? {};
  switch (resource) {
    case 'pods': {
      const podIPs = status.podIPs as { ip?: string }[] | undefined;
      return {
        ...meta,
        'spec.nodeName': str(spec.nodeName),
        'spec.restartPolicy': str(spec.restartPolicy),
        'spec.schedulerName': str(spec.schedulerName),
        'spec.serviceAccountName': str(spec.serviceAccountName),
        'spec.hostNetwork': String(spec.hostNetwork === true),
        'status.phase': str(status.phase),
        'status.podIP': str(podIPs?.[0]?.ip ?? status.podIP),
        'status.nominatedNodeName': str(status.nominatedNodeName),
      };
    }
    case 'nodes':
      return { ...meta, 'spec.unschedulable': String(spec.unschedulable === true) };
    case 'namespaces':
      return { ...meta, 'status.phase': str(status.phase) };
    case 'services':
      return { ...meta, 'spec.clusterIP': str(spec.clusterIP), 'spec.type': str(spec.type) };
    case 'events': {
      const io = (obj.involvedObject ?? {}) as Record<string, unknown>;
      const source = (obj.source ?? {}) as Record<string, unknown>;
      return {
        ...meta,
        'involvedObject.kind': str(io.kind),
        'involvedObject.namespace': str(io.namespace),
        'involvedObject.name': str(io.name),
        'involvedObject.uid': str(io.uid),
        'involvedObject.apiVersion': str(io.apiVersion),
        'involvedObject.resourceVersion': str(io.resourceVersion),
        'involvedObject.fieldPath': str(io.fieldPath),
        reason: str(obj.reason),
        reportingComponent: str(obj.reportingComponent),
        source: str(source.component),
        type: str(obj.type),
      };
    }
    default:
      return meta;
  }
}
