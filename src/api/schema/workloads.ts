// ConfigMap, Deployment and Namespace: shapes and defaults.

import { z } from 'zod';
import type { ConfigMap, Deployment } from '../types.ts';
import { configMapKeyProblem, dns1123LabelProblem, dns1123SubdomainProblem } from '../names.ts';
import { int, intOrPercent, labels, annotations, objectMeta, oneOf, str, stringMap } from './fields.ts';
import { podTemplateSpec } from './pod.ts';

/** The lab's own ceiling, far above what one node holds; the pod CIDR check says the real limit. */
export const MAX_REPLICAS = 1000;

/** ConfigMap data becomes files; a total over 1 MiB is refused like etcd's request limit. */
const CONFIG_MAP_MAX_BYTES = 1024 * 1024;

export const configMapBody = z.strictObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('ConfigMap'),
  metadata: objectMeta(dns1123SubdomainProblem),
  data: stringMap(configMapKeyProblem, undefined, 'key')
    .check((ctx) => {
      const size = Object.entries(ctx.value).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
      if (size > CONFIG_MAP_MAX_BYTES) {
        ctx.issues.push({ code: 'custom', input: size, message: `holds ${size} bytes, more than the ${CONFIG_MAP_MAX_BYTES} a ConfigMap may hold` });
      }
    })
    .default({}),
}) satisfies z.ZodType<Omit<ConfigMap, 'source'>>;

const strategy = z
  .strictObject({
    type: oneOf(['RollingUpdate', 'Recreate'] as const).default('RollingUpdate'),
    rollingUpdate: z.strictObject({ maxSurge: intOrPercent().default('25%'), maxUnavailable: intOrPercent().default('25%') }).optional(),
  })
  .check((ctx) => {
    const s = ctx.value;
    if (s.type === 'Recreate' && s.rollingUpdate) {
      ctx.issues.push({ code: 'custom', input: s, path: ['rollingUpdate'], message: 'may not be specified when strategy type is Recreate' });
    }
    const zero = (v: number | string) => v === 0 || v === '0%';
    if (s.rollingUpdate && zero(s.rollingUpdate.maxSurge) && zero(s.rollingUpdate.maxUnavailable)) {
      ctx.issues.push({ code: 'custom', input: s, path: ['rollingUpdate', 'maxUnavailable'], message: 'may not be 0 when maxSurge is 0' });
    }
  })
  .transform((s) =>
    // Like SetDefaults_Deployment: a RollingUpdate strategy always carries its 25%/25% parameters.
    s.type === 'RollingUpdate'
      ? { type: s.type, rollingUpdate: s.rollingUpdate ?? { maxSurge: '25%', maxUnavailable: '25%' } }
      : { type: s.type },
  );

export const deploymentBody = z.strictObject({
  apiVersion: z.literal('apps/v1'),
  kind: z.literal('Deployment'),
  metadata: objectMeta(dns1123SubdomainProblem),
  spec: z.strictObject({
    replicas: int(0, MAX_REPLICAS).default(1),
    selector: z.strictObject({ matchLabels: labels() }),
    template: podTemplateSpec,
    strategy: strategy.default({ type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } }),
  }),
}) satisfies z.ZodType<Omit<Deployment, 'source'>>;

/** Namespaces are cluster-scoped: no metadata.namespace. */
export const namespaceBody = z.strictObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('Namespace'),
  metadata: z.strictObject({
    name: str(dns1123LabelProblem),
    labels: labels().default({}),
    annotations: annotations().default({}),
  }),
});
