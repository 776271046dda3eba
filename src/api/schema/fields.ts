// Field schemas shared by every kind. Structure (mappings, lists, unknown fields) is zod's; leaves are
// checked by hand so that each problem gets one message worded like the API server's, not zod's.

import { z } from 'zod';
import { quote } from '../errors.ts';
import {
  labelKeyProblem,
  labelValueProblem,
  ianaSvcNameProblem,
  dns1123LabelProblem,
  dns1123SubdomainProblem,
  dns1035LabelProblem,
} from '../names.ts';

export type Problem = string | undefined;

/** `a list`, `a mapping`, `"text"`, `80`: how a wrong value is shown in a message. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `the string ${quote(value)}`;
  return String(value);
}

/** A leaf: `check` returns the problem with a present value, or undefined; missing values are required. */
function leaf<T>(check: (value: unknown) => Problem): z.ZodType<T> {
  return z
    .unknown()
    .check((ctx) => {
      const problem = ctx.value === undefined ? 'is required' : check(ctx.value);
      if (problem) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
    })
    .transform((value) => value as T) as unknown as z.ZodType<T>;
}

/** Strings never carry NUL: they end up as process arguments, file names and file contents. */
function stringProblem(value: unknown): Problem {
  if (typeof value !== 'string') return `must be a string, got ${describe(value)}`;
  if (value.includes('\0')) return 'must not contain a NUL byte';
  return undefined;
}

/** A string; a problem from `check` is shown after the value (`"web;reboot" must be ...`). */
export function str(check?: (value: string) => Problem): z.ZodType<string> {
  return leaf<string>((v) => {
    const notString = stringProblem(v);
    if (notString) return notString;
    const problem = check?.(v as string);
    return problem?.startsWith('must') && v !== '' ? `${quote(v)} ${problem}` : problem;
  });
}

/**
 * A secret (config.yaml's token): a string as str() takes it, but no message ever shows the value,
 * since messages go to the terminal and the server's log. `check` words its problem without it.
 */
export function secret(check?: (value: string) => Problem): z.ZodType<string> {
  return leaf<string>((v) => {
    if (typeof v === 'number') return 'must be a string, got a number (put it in quotes: YAML reads a value of digits alone as a number)';
    if (typeof v !== 'string') return `must be a string, got ${v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'a mapping' : typeof v === 'boolean' ? 'true or false' : `a ${typeof v}`}`;
    return check?.(v);
  });
}

export const nonEmpty = (value: string): Problem => (value === '' ? 'must not be empty' : undefined);

export function bool(): z.ZodType<boolean> {
  return leaf<boolean>((v) => (typeof v === 'boolean' ? undefined : `must be true or false, got ${describe(v)}`));
}

/** An integer in [min, max]; `what` replaces the default wording ("an integer between 0 and 1000"). */
export function int(min: number, max: number, what?: string): z.ZodType<number> {
  const wording =
    what ??
    (max === Number.MAX_SAFE_INTEGER
      ? `an integer of at least ${min}`
      : `an integer between ${min} and ${max}`);
  return leaf<number>((v) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      return `must be ${wording}, got ${describe(v)}`;
    }
    return undefined;
  });
}

export const port = (): z.ZodType<number> => int(1, 65535, 'a port number between 1 and 65535');

export function oneOf<const T extends string>(values: readonly T[]): z.ZodType<T> {
  return leaf<T>((v) =>
    typeof v === 'string' && (values as readonly string[]).includes(v)
      ? undefined
      : `must be one of ${values.map((x) => quote(x)).join(', ')}, got ${describe(v)}`,
  );
}

/** A port given by number or by IANA_SVC_NAME (targetPort, probe ports). */
export function portOrName(): z.ZodType<number | string> {
  return leaf<number | string>((v) => {
    if (typeof v === 'number') {
      return Number.isInteger(v) && v >= 1 && v <= 65535
        ? undefined
        : `must be a port number between 1 and 65535 or a port name, got ${describe(v)}`;
    }
    if (typeof v === 'string') {
      // Like the API server, "8080" in quotes is a name, and an invalid one; say what was probably meant.
      if (/^[0-9]+$/.test(v)) return `${quote(v)} is a string; write the port number without quotes`;
      const problem = ianaSvcNameProblem(v);
      return problem ? `port name ${quote(v)} ${problem}` : undefined;
    }
    return `must be a port number or a port name, got ${describe(v)}`;
  });
}

/** An int-or-percent such as maxSurge: a non-negative integer or `"25%"`. */
export function intOrPercent(): z.ZodType<number | string> {
  return leaf<number | string>((v) => {
    if (typeof v === 'number') return Number.isInteger(v) && v >= 0 ? undefined : `must be a non-negative integer or a percentage, got ${describe(v)}`;
    if (typeof v === 'string' && /^[0-9]+%$/.test(v)) return undefined;
    return `must be a non-negative integer or a percentage such as "25%", got ${describe(v)}`;
  });
}

/** A list of strings (command, args): each argument separately, never one shell line. */
export function stringList(what = 'a list of strings'): z.ZodType<string[]> {
  return z
    .unknown()
    .check((ctx) => {
      const v = ctx.value;
      if (v === undefined) {
        ctx.issues.push({ code: 'custom', message: 'is required', input: v });
        return;
      }
      if (!Array.isArray(v)) {
        const extra = typeof v === 'string' ? ' (one item per argument; nothing is run through a shell)' : '';
        ctx.issues.push({ code: 'custom', message: `must be ${what}, got ${describe(v)}${extra}`, input: v });
        return;
      }
      v.forEach((item, i) => {
        const problem = stringProblem(item);
        if (problem) ctx.issues.push({ code: 'custom', message: problem, input: item, path: [i] });
      });
    })
    .transform((v) => v as string[]) as unknown as z.ZodType<string[]>;
}

/** A name field checked by one of the Kubernetes name rules. */
export const dns1123Label = (): z.ZodType<string> => str(dns1123LabelProblem);
export const dns1123Subdomain = (): z.ZodType<string> => str(dns1123SubdomainProblem);
export const dns1035Label = (): z.ZodType<string> => str(dns1035LabelProblem);

/** A map of strings whose keys and values are checked; problems point at the offending key. */
export function stringMap(
  keyProblem: (key: string) => Problem,
  valueProblem: (value: string) => Problem = () => undefined,
  whatKey = 'key',
): z.ZodType<Record<string, string>> {
  return z
    .record(z.string(), z.unknown())
    .check((ctx) => {
      for (const [k, v] of Object.entries(ctx.value)) {
        const kp = keyProblem(k) ?? (k.includes('\0') ? 'must not contain a NUL byte' : undefined);
        if (kp) {
          ctx.issues.push({ code: 'custom', message: `${whatKey} ${quote(k)} ${kp}`, input: k, path: [k] });
          continue;
        }
        const sp = stringProblem(v);
        const vp = sp === undefined ? valueProblem(v as string) : undefined;
        if (sp) ctx.issues.push({ code: 'custom', message: sp, input: v, path: [k] });
        else if (vp) ctx.issues.push({ code: 'custom', message: `value ${quote(v)} ${vp}`, input: v, path: [k] });
      }
    }) as unknown as z.ZodType<Record<string, string>>;
}

export const labels = (): z.ZodType<Record<string, string>> =>
  stringMap(labelKeyProblem, labelValueProblem, 'label key');

const ANNOTATIONS_MAX_BYTES = 256 * 1024;

export const annotations = (): z.ZodType<Record<string, string>> =>
  stringMap(labelKeyProblem, undefined, 'annotation key').check((ctx) => {
    const size = Object.entries(ctx.value).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
    if (size > ANNOTATIONS_MAX_BYTES) {
      ctx.issues.push({ code: 'custom', message: `annotations total ${size} bytes, more than ${ANNOTATIONS_MAX_BYTES}`, input: size });
    }
  }) as unknown as z.ZodType<Record<string, string>>;

/** The metadata every namespaced object accepts; names are checked by `nameRule` of the kind. */
export function objectMeta(nameRule: (value: string) => Problem) {
  return z.strictObject({
    name: str(nameRule),
    namespace: str(dns1123LabelProblem).default('default'),
    labels: labels().default({}),
    annotations: annotations().default({}),
  });
}

/** A string holding no NUL (free text such as ConfigMap values, env values). */
export const text = (): z.ZodType<string> => str();

