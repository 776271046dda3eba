// Label and field selectors with kube's syntax, semantics and error messages
// (k8s.io/apimachinery/pkg/labels, .../fields, and each resource's field label conversion and
// selectable fields). A parse error is a SelectorError; the API answers it with 400 BadRequest.
import { fieldErrorString, fieldErrors, goQuote, SelectorError, type FieldError } from './status.ts';
import { isQualifiedName, isValidLabelValue } from './validation.ts';

export { SelectorError };

// ---------------------------------------------------------------------------------------------------
// Label selectors: `a=b, c!=d, e in (f,g), h notin (i), j, !k, l>1`.

export type LabelOperator = '=' | '==' | '!=' | 'in' | 'notin' | 'exists' | '!' | 'gt' | 'lt';

export interface LabelRequirement {
  key: string;
  operator: LabelOperator;
  /** Sorted, as kube keeps them (a set's List()). */
  values: string[];
}

export class LabelSelector {
  /** Requirements sorted by key (kube sorts them for a deterministic string). */
  constructor(readonly requirements: readonly LabelRequirement[]) {}

  static everything(): LabelSelector {
    return new LabelSelector([]);
  }

  get empty(): boolean {
    return this.requirements.length === 0;
  }

  matches(labels: Record<string, string> | undefined): boolean {
    const ls = labels ?? {};
    return this.requirements.every((r) => requirementMatches(r, ls));
  }

  toString(): string {
    return this.requirements.map(requirementString).join(',');
  }
}

function requirementMatches(r: LabelRequirement, labels: Record<string, string>): boolean {
  const has = Object.hasOwn(labels, r.key);
  const value = labels[r.key];
  switch (r.operator) {
    case '=': case '==': case 'in': return has && r.values.includes(value!);
    case '!=': case 'notin': return !has || !r.values.includes(value!);
    case 'exists': return has;
    case '!': return !has;
    case 'gt': case 'lt': {
      if (!has || !/^[-+]?\d+$/.test(value!)) return false;
      const [have, want] = [BigInt(value!), BigInt(r.values[0]!)];
      return r.operator === 'gt' ? have > want : have < want;
    }
  }
}

function requirementString(r: LabelRequirement): string {
  switch (r.operator) {
    case 'exists': return r.key;
    case '!': return `!${r.key}`;
    case 'in': case 'notin': return `${r.key} ${r.operator} (${r.values.join(',')})`;
    case 'gt': return `${r.key}>${r.values[0]}`;
    case 'lt': return `${r.key}<${r.values[0]}`;
    default: return `${r.key}${r.operator}${r.values[0]}`;
  }
}

type Token = 'error' | 'end' | ')' | ',' | '!' | '==' | '=' | '>' | 'id' | 'in' | '<' | '!=' | 'notin' | '(';
const SYMBOL_TOKENS = new Set(['!', '==', '=', '>', '<', '!=', '(', ')', ',']);
const isSpecial = (c: string) => '=!(),><'.includes(c);
const isSpace = (c: string) => c === ' ' || c === '\t' || c === '\r' || c === '\n';

/** kube's lexer: identifiers run to whitespace or an operator character; `in`/`notin` are keywords. */
function lex(s: string): { tok: Token; lit: string }[] {
  const items: { tok: Token; lit: string }[] = [];
  let pos = 0;
  for (;;) {
    while (pos < s.length && isSpace(s[pos]!)) pos++;
    if (pos >= s.length) {
      items.push({ tok: 'end', lit: '' });
      return items;
    }
    if (isSpecial(s[pos]!)) {
      // The longest run of operator characters that is still an operator.
      let buffer = '';
      let last: string | undefined;
      while (pos < s.length && isSpecial(s[pos]!)) {
        buffer += s[pos];
        if (SYMBOL_TOKENS.has(buffer)) last = buffer;
        else if (last !== undefined) break;
        pos++;
      }
      items.push(last === undefined ? { tok: 'error', lit: `error expected: keyword found '${buffer}'` } : { tok: last as Token, lit: last });
      continue;
    }
    const start = pos;
    while (pos < s.length && !isSpecial(s[pos]!) && !isSpace(s[pos]!)) pos++;
    const word = s.slice(start, pos);
    items.push({ tok: word === 'in' || word === 'notin' ? word : 'id', lit: word });
  }
}

const BINARY_OPERATORS = 'in, notin, =, ==, !=, gt, lt';

/** labels.Parse: a selector string to a LabelSelector, or a SelectorError with kube's message. */
export function parseLabelSelector(selector: string): LabelSelector {
  const items = lex(selector);
  let position = 0;
  // In value position, `in` and `notin` are plain identifiers (`x in (in)`).
  const peek = () => asValue(items[position]!);
  const next = () => asValue(items[position++]!);
  const asValue = (i: { tok: Token; lit: string }) => ({ tok: i.tok === 'in' || i.tok === 'notin' ? ('id' as Token) : i.tok, lit: i.lit });
  const fail = (message: string): never => {
    throw new SelectorError(message);
  };

  const parseRequirement = (): LabelRequirement => {
    let { tok, lit } = next();
    let operator: LabelOperator | undefined;
    if (tok === '!') {
      operator = '!';
      ({ tok, lit } = next());
    }
    if (tok !== 'id') fail(`found '${lit}', expected: identifier`);
    const key = lit;
    const keyProblems = isQualifiedName(key);
    // kube validates the key with a nil field path, which Go prints as <nil>.
    if (keyProblems.length) fail(fieldErrorString(fieldErrors.invalid('<nil>', key, keyProblems.join('; '))));
    if (peek().tok === 'end' || peek().tok === ',') operator ??= 'exists';
    if (operator === 'exists' || operator === '!') return newRequirement(key, operator, []);
    const op = items[position++]!;
    const binary: Partial<Record<Token, LabelOperator>> = { in: 'in', notin: 'notin', '=': '=', '==': '==', '>': 'gt', '<': 'lt', '!=': '!=' };
    const chosen = binary[op.tok] ?? fail(`found '${op.lit}', expected: ${BINARY_OPERATORS}`);
    const values = chosen === 'in' || chosen === 'notin' ? parseValues() : parseExactValue();
    return newRequirement(key, chosen, [...values].sort());
  };

  const parseValues = (): Set<string> => {
    const open = next();
    if (open.tok !== '(') fail(`found '${open.lit}' expected: '('`);
    const { tok, lit } = peek();
    if (tok === ')') {
      next();
      return new Set(['']);
    }
    if (tok !== 'id' && tok !== ',') fail(`found '${lit}', expected: ',', ')' or identifier`);
    const values = parseIdentifiersList();
    if (next().tok !== ')') fail(`found '${lit}', expected: ')'`);
    return values;
  };

  const parseIdentifiersList = (): Set<string> => {
    const values = new Set<string>();
    for (;;) {
      const { tok, lit } = next();
      if (tok === 'id') {
        values.add(lit);
        const after = peek();
        if (after.tok === ',') continue;
        if (after.tok === ')') return values;
        fail(`found '${after.lit}', expected: ',' or ')'`);
      } else if (tok === ',') {
        // `(,a)`, `(a,)` and `(a,,b)` hold the empty value.
        if (values.size === 0) values.add('');
        const after = peek().tok;
        if (after === ')') {
          values.add('');
          return values;
        }
        if (after === ',') values.add('');
      } else {
        fail(`found '${lit}', expected: ',', or identifier`);
      }
    }
  };

  const parseExactValue = (): Set<string> => {
    if (peek().tok === 'end' || peek().tok === ',') return new Set(['']);
    const { tok, lit } = next();
    if (tok !== 'id') fail(`found '${lit}', expected: identifier`);
    return new Set([lit]);
  };

  const requirements: LabelRequirement[] = [];
  for (;;) {
    const { tok, lit } = peek();
    if (tok === 'end') break;
    if (tok !== 'id' && tok !== '!') fail(`found '${lit}', expected: !, identifier, or 'end of string'`);
    try {
      requirements.push(parseRequirement());
    } catch (err) {
      throw new SelectorError(`unable to parse requirement: ${(err as Error).message}`);
    }
    const sep = next();
    if (sep.tok === 'end') break;
    if (sep.tok !== ',') fail(`found '${sep.lit}', expected: ',' or 'end of string'`);
    const after = peek();
    if (after.tok !== 'id' && after.tok !== '!') fail(`found '${after.lit}', expected: identifier after ','`);
  }
  return new LabelSelector(requirements.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)));
}

/** labels.NewRequirement's checks. */
function newRequirement(key: string, operator: LabelOperator, values: string[]): LabelRequirement {
  const errs: FieldError[] = [];
  const keyProblems = isQualifiedName(key);
  if (keyProblems.length) errs.push(fieldErrors.invalid('key', key, keyProblems.join('; ')));
  if ((operator === 'in' || operator === 'notin') && values.length === 0) {
    errs.push(fieldErrors.invalid('values', values, "for 'in', 'notin' operators, values set can't be empty"));
  }
  if ((operator === 'exists' || operator === '!') && values.length !== 0) {
    errs.push(fieldErrors.invalid('values', values, 'values set must be empty for exists and does not exist'));
  }
  if (operator === 'gt' || operator === 'lt') {
    values.forEach((v, i) => {
      if (!/^[-+]?\d+$/.test(v)) errs.push(fieldErrors.invalid(`values[${i}]`, v, "for 'Gt', 'Lt' operators, the value must be an integer"));
    });
  }
  values.forEach((v, i) => {
    const problems = isValidLabelValue(v);
    if (problems.length) errs.push(fieldErrors.invalid(`values[${i}][${key}]`, v, problems.join('; ')));
  });
  if (errs.length) {
    const messages = [...new Set(errs.map(fieldErrorString))];
    throw new SelectorError(messages.length === 1 ? messages[0]! : `[${messages.join(', ')}]`);
  }
  return { key, operator, values };
}

const SPEC_OPERATORS: Record<string, LabelOperator> = { In: 'in', NotIn: 'notin', Exists: 'exists', DoesNotExist: '!' };

/**
 * A metav1.LabelSelector (a Deployment's or ReplicaSet's spec.selector) as a selector
 * (LabelSelectorAsSelector): no selector selects nothing, an empty one everything.
 */
export function labelSelectorFromSpec(spec: { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] } | null | undefined): LabelSelector | 'nothing' {
  if (!spec) return 'nothing';
  const reqs: LabelRequirement[] = Object.entries(spec.matchLabels ?? {}).map(([key, v]) => newRequirement(key, '=', [v]));
  for (const e of spec.matchExpressions ?? []) {
    const op = SPEC_OPERATORS[e.operator];
    if (!op) throw new SelectorError(`${goQuote(e.operator)} is not a valid label selector operator`);
    reqs.push(newRequirement(e.key, op, [...new Set(e.values ?? [])].sort()));
  }
  return new LabelSelector(reqs.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)));
}

export { FieldSelector, parseFieldSelector, selectableFields, type FieldRequirement } from './field-selectors.ts';
