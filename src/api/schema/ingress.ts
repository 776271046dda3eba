// Ingress (networking.k8s.io/v1): shapes and the checks that stay inside one object.

import { z } from 'zod';
import type { Ingress } from '../types.ts';
import { dns1035LabelProblem, dns1123SubdomainProblem, ianaSvcNameProblem } from '../names.ts';
import { annotations, labels, objectMeta, oneOf, port, str } from './fields.ts';
import { parseIP } from '../../util/cidr.ts';

const backend = z
  .strictObject({
    service: z.strictObject({
      name: str(dns1035LabelProblem),
      port: z.strictObject({ number: port().optional(), name: str(ianaSvcNameProblem).optional() }),
    }),
  })
  .check((ctx) => {
    const p = ctx.value.service.port;
    if ((p.number === undefined) === (p.name === undefined)) {
      ctx.issues.push({
        code: 'custom',
        input: p,
        path: ['service', 'port'],
        message: 'must specify exactly one of number and name',
      });
    }
  });

/** Host: a DNS-1123 subdomain, optionally with one leading `*.` label; never an IP address. */
function hostProblem(host: string): string | undefined {
  if (parseIP(host) !== undefined) return `${JSON.stringify(host)} is an IP address; hosts must be DNS names`;
  const name = host.startsWith('*.') ? host.slice(2) : host;
  const problem = dns1123SubdomainProblem(name);
  if (problem) return host.includes('*') && !host.startsWith('*.') ? "a wildcard must be the whole first label, as in *.example.com" : problem;
  return undefined;
}

/**
 * validateIngressHTTPPath: Exact and Prefix paths must be absolute and free of `//`, `/./`, `/../`,
 * encoded slashes and trailing `/.` or `/..`.
 */
function pathProblem(path: string, pathType: string): string | undefined {
  if (pathType === 'ImplementationSpecific') return path === '' || path.startsWith('/') ? undefined : "must be an absolute path";
  if (!path.startsWith('/')) return `must be an absolute path (start with '/') when pathType is ${pathType}`;
  for (const bad of ['//', '/./', '/../', '%2f', '%2F']) {
    if (path.includes(bad)) return `must not contain '${bad}'`;
  }
  for (const bad of ['/..', '/.']) {
    if (path.endsWith(bad)) return `must not end with '${bad}'`;
  }
  return undefined;
}

const httpPath = z
  .strictObject({
    path: str().optional(),
    // networking.k8s.io/v1 has no default: pathType is required.
    pathType: oneOf(['Exact', 'Prefix', 'ImplementationSpecific'] as const),
    backend,
  })
  .check((ctx) => {
    const problem = pathProblem(ctx.value.path ?? '', ctx.value.pathType);
    if (problem) ctx.issues.push({ code: 'custom', input: ctx.value.path, path: ['path'], message: `${JSON.stringify(ctx.value.path ?? '')} ${problem}` });
  })
  .transform((p) => ({ ...p, path: p.path ?? '' }));

export const ingressBody = z
  .strictObject({
    apiVersion: z.literal('networking.k8s.io/v1'),
    kind: z.literal('Ingress'),
    metadata: objectMeta(dns1123SubdomainProblem),
    spec: z.strictObject({
      ingressClassName: str(dns1123SubdomainProblem).optional(),
      defaultBackend: backend.optional(),
      rules: z
        .array(
          z.strictObject({
            host: str(hostProblem).optional(),
            http: z
              .strictObject({
                paths: z.array(httpPath).check((ctx) => {
                  if (ctx.value.length === 0) ctx.issues.push({ code: 'custom', input: ctx.value, message: 'must have at least one path' });
                }),
              })
              .optional(),
          }),
        )
        .default([]),
    }),
  })
  .check((ctx) => {
    const spec = ctx.value.spec;
    if (!spec.defaultBackend && spec.rules.length === 0) {
      ctx.issues.push({ code: 'custom', input: spec, path: ['spec'], message: 'either defaultBackend or rules must be specified' });
    }
  }) satisfies z.ZodType<Omit<Ingress, 'source'>>;

/**
 * IngressClass (networking.k8s.io/v1, cluster-scoped): which controller serves the Ingresses naming
 * it (lab/system.yaml ships `nginx`, controller k8s.io/ingress-nginx, the default class). Only
 * applied to the API; the old single-process path has no use for it.
 */
export const ingressClassBody = z.strictObject({
  apiVersion: z.literal('networking.k8s.io/v1'),
  kind: z.literal('IngressClass'),
  metadata: z.strictObject({
    name: str(dns1123SubdomainProblem),
    labels: labels().default({}),
    annotations: annotations().default({}),
  }),
  spec: z.strictObject({
    // validateIngressClassController: required, at most 250 characters.
    controller: str((v) => (v === '' ? 'Required value' : v.length > 250 ? 'must be no more than 250 characters' : undefined)),
    parameters: z
      .strictObject({ apiGroup: str().optional(), kind: str(), name: str(), scope: oneOf(['Cluster', 'Namespace']).optional(), namespace: str().optional() })
      .optional(),
  }),
});
