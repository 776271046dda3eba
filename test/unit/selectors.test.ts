// Label and field selectors: kube's syntax, matching and error messages.
import { describe, expect, it } from 'vitest';
import { labelSelectorFromSpec, LabelSelector, parseFieldSelector, parseLabelSelector, SelectorError, selectableFields } from '../../src/api/server/selectors.ts';

const parseError = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SelectorError);
    return (err as Error).message;
  }
  throw new Error('no error');
};

const NAME_PART =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

describe('label selectors', () => {
  const web = { app: 'web', tier: 'front', version: '3' };

  it('matches equality, inequality, sets, existence and integer comparisons', () => {
    const cases: [string, Record<string, string>, boolean][] = [
      ['app=web', web, true],
      ['app==web', web, true],
      ['app=db', web, false],
      ['app!=db', web, true],
      ['app!=db', {}, true], // a missing key is "not db"
      ['app in (db,web)', web, true],
      ['app in (db)', web, false],
      ['app notin (db)', web, true],
      ['app notin (web)', web, false],
      ['zone notin (a)', web, true], // notin matches a missing key
      ['app', web, true],
      ['zone', web, false],
      ['!zone', web, true],
      ['!app', web, false],
      ['version>2', web, true],
      ['version<3', web, false],
      ['app>2', web, false], // not an integer: never matches
      ['app=web,tier=front', web, true],
      ['app=web, tier=back', web, false],
      ['x in ()', { x: '' }, true], // () holds the empty value
      ['x=', { x: '' }, true],
      ['in in (in)', { in: 'in' }, true], // keywords are identifiers where a key or value goes
      ['', web, true],
    ];
    for (const [sel, labels, want] of cases) expect(parseLabelSelector(sel).matches(labels), `${sel} on ${JSON.stringify(labels)}`).toBe(want);
  });

  it('sorts requirements by key and prints them as kube does', () => {
    expect(parseLabelSelector('tier in (b,a), !zone, app=web, x, v>1').toString()).toBe('app=web,tier in (a,b),v>1,x,!zone');
    expect(parseLabelSelector('a==b').requirements).toEqual([{ key: 'a', operator: '==', values: ['b'] }]);
    expect(LabelSelector.everything().empty).toBe(true);
  });

  it("answers a bad selector with kube's parse error", () => {
    expect(parseError(() => parseLabelSelector('a b'))).toBe("unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt");
    expect(parseError(() => parseLabelSelector('x in (a'))).toBe("unable to parse requirement: found '', expected: ',' or ')'");
    expect(parseError(() => parseLabelSelector('x in a'))).toBe("unable to parse requirement: found 'a' expected: '('");
    expect(parseError(() => parseLabelSelector('x in (=)'))).toBe("unable to parse requirement: found '=', expected: ',', ')' or identifier");
    expect(parseError(() => parseLabelSelector('=a'))).toBe("found '=', expected: !, identifier, or 'end of string'");
    expect(parseError(() => parseLabelSelector('a,'))).toBe("found '', expected: identifier after ','");
    expect(parseError(() => parseLabelSelector('a=b c'))).toBe("found 'c', expected: ',' or 'end of string'");
    expect(parseError(() => parseLabelSelector('!a=b'))).toBe("found '=', expected: ',' or 'end of string'");
    expect(parseError(() => parseLabelSelector('a=(b)'))).toBe("unable to parse requirement: found '(', expected: identifier");
    expect(parseError(() => parseLabelSelector('a_=b'))).toBe(`unable to parse requirement: <nil>: Invalid value: "a_": ${NAME_PART}`);
    expect(parseError(() => parseLabelSelector('a=b_'))).toBe(`unable to parse requirement: values[0][a]: Invalid value: "b_": ${LABEL_VALUE}`);
    expect(parseError(() => parseLabelSelector('a>b'))).toBe(`unable to parse requirement: values[0]: Invalid value: "b": for 'Gt', 'Lt' operators, the value must be an integer`);
  });

  it("turns a Deployment's spec.selector into a selector (LabelSelectorAsSelector)", () => {
    const sel = labelSelectorFromSpec({ matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['front', 'back'] }, { key: 'canary', operator: 'DoesNotExist' }] });
    expect(sel).toBeInstanceOf(LabelSelector);
    expect(String(sel)).toBe('app=web,!canary,tier in (back,front)');
    expect((sel as LabelSelector).matches({ app: 'web', tier: 'front' })).toBe(true);
    expect((sel as LabelSelector).matches({ app: 'web', tier: 'front', canary: 'yes' })).toBe(false);
    expect(labelSelectorFromSpec(null)).toBe('nothing');
    expect((labelSelectorFromSpec({}) as LabelSelector).empty).toBe(true);
    expect(parseError(() => labelSelectorFromSpec({ matchExpressions: [{ key: 'a', operator: 'Equals', values: ['b'] }] }))).toBe('"Equals" is not a valid label selector operator');
    expect(parseError(() => labelSelectorFromSpec({ matchExpressions: [{ key: 'a', operator: 'In', values: [] }] }))).toBe(`values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty`);
  });
});

describe('field selectors', () => {
  const pod = {
    metadata: { name: 'web-1', namespace: 'default' },
    spec: { nodeName: 'labs', restartPolicy: 'Always', schedulerName: 'default-scheduler', serviceAccountName: 'default' },
    status: { phase: 'Running', podIPs: [{ ip: '10.42.0.7' }] },
  };

  it('parses terms with =, == and !=, and \\ escapes in values', () => {
    expect(parseFieldSelector('spec.nodeName=labs,status.phase!=Failed').requirements).toEqual([
      { field: 'spec.nodeName', operator: '=', value: 'labs' },
      { field: 'status.phase', operator: '!=', value: 'Failed' },
    ]);
    expect(parseFieldSelector('metadata.name==a\\,b\\=c\\\\d').requirements).toEqual([{ field: 'metadata.name', operator: '=', value: 'a,b=c\\d' }]);
    expect(parseFieldSelector('').empty).toBe(true);
  });

  it("answers a bad selector with kube's errors", () => {
    expect(parseError(() => parseFieldSelector('spec.nodeName'))).toBe("invalid selector: 'spec.nodeName'; can't understand 'spec.nodeName'");
    expect(parseError(() => parseFieldSelector('a=b=c'))).toBe('invalid field selector: unescaped character in value: 61');
    expect(parseError(() => parseFieldSelector('a=b\\x'))).toBe('invalid field selector: invalid escape sequence: \\x');
  });

  it('takes only the fields each resource supports (field label conversion)', () => {
    for (const f of ['spec.nodeName', 'status.phase', 'spec.schedulerName', 'spec.restartPolicy', 'spec.serviceAccountName', 'status.podIP', 'metadata.name', 'metadata.namespace']) {
      expect(() => parseFieldSelector(`${f}=x`, 'pods')).not.toThrow();
    }
    expect(parseError(() => parseFieldSelector('spec.containers=x', 'pods'))).toBe('field label not supported: spec.containers');
    expect(parseError(() => parseFieldSelector('metadata.namespace=x', 'nodes'))).toBe('field label not supported: metadata.namespace');
    expect(() => parseFieldSelector('spec.unschedulable=true', 'nodes')).not.toThrow();
    expect(() => parseFieldSelector('status.phase=Active', 'namespaces')).not.toThrow();
    expect(() => parseFieldSelector('involvedObject.name=web-1,reason=Killing,type=Normal,source=kubelet', 'events')).not.toThrow();
    expect(() => parseFieldSelector('spec.clusterIP=10.43.0.10', 'services')).not.toThrow();
    expect(parseError(() => parseFieldSelector('spec.replicas=3', 'deployments'))).toBe('"spec.replicas" is not a known field selector: only "metadata.name", "metadata.namespace"');
    expect(parseFieldSelector('spec.host=labs', 'pods').requirements[0]!.field).toBe('spec.nodeName');
  });

  it("matches on each resource's selectable fields; a missing field is ''", () => {
    const fields = selectableFields('pods', pod, true);
    expect(fields).toMatchObject({ 'metadata.name': 'web-1', 'metadata.namespace': 'default', 'spec.nodeName': 'labs', 'status.phase': 'Running', 'status.podIP': '10.42.0.7', 'spec.hostNetwork': 'false' });
    expect(parseFieldSelector('spec.nodeName=labs,status.phase=Running', 'pods').matches(fields)).toBe(true);
    expect(parseFieldSelector('spec.nodeName!=labs', 'pods').matches(fields)).toBe(false);
    expect(parseFieldSelector('status.nominatedNodeName=', 'pods').matches(fields)).toBe(true);
    const unscheduled = selectableFields('pods', { metadata: { name: 'p' } }, true);
    expect(parseFieldSelector('spec.nodeName=', 'pods').matches(unscheduled)).toBe(true);
    expect(selectableFields('nodes', { metadata: { name: 'labs' }, spec: { unschedulable: true } }, false)).toEqual({ 'metadata.name': 'labs', 'spec.unschedulable': 'true' });
    const event = { metadata: { name: 'e', namespace: 'default' }, involvedObject: { kind: 'Pod', name: 'web-1' }, reason: 'Killing', type: 'Normal', source: { component: 'kubelet' } };
    expect(parseFieldSelector('involvedObject.kind=Pod,involvedObject.name=web-1,source=kubelet', 'events').matches(selectableFields('events', event, true))).toBe(true);
  });
});
