// Service, Endpoints and EndpointSlice: shapes, defaults and the checks that stay inside one object.

import { z } from 'zod';
import type { Service, Endpoints, EndpointSlice } from '../types.ts';
import { dns1035LabelProblem, dns1123LabelProblem, dns1123SubdomainProblem } from '../names.ts';
import { bool, int, labels, objectMeta, oneOf, port, portOrName, str, type Problem } from './fields.ts';
import { contains, ipProblem, ipToInt, parseCidr } from '../../util/cidr.ts';

const PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;

/** SetDefaults_Service: ClientIP affinity times out after 3 hours. */
export const DEFAULT_CLIENT_IP_TIMEOUT_SECONDS = 10800;

const servicePort = z
  .strictObject({
    name: str((v) => (v === '' ? undefined : dns1123LabelProblem(v))).default(''),
    protocol: oneOf(PROTOCOLS).default('TCP'),
    port: port(),
    targetPort: portOrName().optional(),
    nodePort: port().optional(),
  })
  // SetDefaults_Service: targetPort defaults to port.
  .transform((p) => ({ ...p, targetPort: p.targetPort ?? p.port }));

const clusterIP = str((v) => (v === 'None' || v === '' ? undefined : ipProblem(v)));

const LOOPBACK = parseCidr('127.0.0.0/8');
const LINK_LOCAL = parseCidr('169.254.0.0/16');
const MULTICAST = parseCidr('224.0.0.0/4');

/** ValidateEndpointIP: no unspecified, loopback, link-local or multicast addresses as endpoints. */
function endpointIPProblem(value: string): Problem {
  const base = ipProblem(value);
  if (base) return base;
  const n = ipToInt(value);
  if (n === 0) return 'may not be unspecified (0.0.0.0)';
  if (contains(LOOPBACK, n)) return 'may not be in the loopback range (127.0.0.0/8)';
  if (contains(LINK_LOCAL, n)) return 'may not be in the link-local range (169.254.0.0/16)';
  if (contains(MULTICAST, n)) return 'may not be a multicast address (224.0.0.0/4)';
  return undefined;
}

export const serviceBody = z
  .strictObject({
    apiVersion: z.literal('v1'),
    kind: z.literal('Service'),
    metadata: objectMeta(dns1035LabelProblem),
    spec: z
      .strictObject({
        type: oneOf(['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'] as const).default('ClusterIP'),
        clusterIP: clusterIP.optional(),
        selector: labels().optional(),
        ports: z.array(servicePort).default([]),
        externalIPs: z.array(str(ipProblem)).default([]),
        externalName: str(dns1123SubdomainProblem).optional(),
        sessionAffinity: oneOf(['None', 'ClientIP'] as const).default('None'),
        sessionAffinityConfig: z
          .strictObject({
            clientIP: z
              .strictObject({ timeoutSeconds: int(1, 86400).default(DEFAULT_CLIENT_IP_TIMEOUT_SECONDS) })
              .default({ timeoutSeconds: DEFAULT_CLIENT_IP_TIMEOUT_SECONDS }),
          })
          .optional(),
        externalTrafficPolicy: oneOf(['Cluster', 'Local'] as const).optional(),
        internalTrafficPolicy: oneOf(['Cluster', 'Local'] as const).default('Cluster'),
      })
      .default({
        type: 'ClusterIP',
        ports: [],
        externalIPs: [],
        sessionAffinity: 'None',
        internalTrafficPolicy: 'Cluster',
      }),
  })
  .check((ctx) => {
    const spec = ctx.value.spec;
    const push = (path: (string | number)[], message: string) =>
      ctx.issues.push({ code: 'custom', input: spec, path: ['spec', ...path], message });
    const external = spec.type === 'NodePort' || spec.type === 'LoadBalancer';
    if (spec.type === 'ExternalName') {
      if (!spec.externalName) push(['externalName'], 'is required when type is ExternalName');
      if (spec.clusterIP && spec.clusterIP !== '') push(['clusterIP'], 'must not be set when type is ExternalName');
      if (spec.selector && Object.keys(spec.selector).length > 0) push(['selector'], 'must not be set when type is ExternalName');
    } else {
      if (spec.externalName) push(['externalName'], `may only be set when type is ExternalName, not ${spec.type}`);
      if (spec.ports.length === 0 && spec.clusterIP !== 'None') push(['ports'], 'must have at least one port');
    }
    if (spec.clusterIP === 'None' && spec.type !== 'ClusterIP') {
      push(['clusterIP'], `may only be "None" (headless) when type is ClusterIP, not ${spec.type}`);
    }
    if (spec.externalTrafficPolicy && !external) {
      push(['externalTrafficPolicy'], `may only be set when type is NodePort or LoadBalancer, not ${spec.type}`);
    }
    if (spec.sessionAffinity === 'None' && spec.sessionAffinityConfig) {
      push(['sessionAffinityConfig'], 'must not be set when sessionAffinity is None');
    }
    const multi = spec.ports.length > 1;
    const names = new Map<string, number>();
    const portProto = new Map<string, number>();
    spec.ports.forEach((p, i) => {
      if (multi && p.name === '') push(['ports', i, 'name'], 'is required when a Service has more than one port');
      if (p.name !== '') {
        const seen = names.get(p.name);
        if (seen !== undefined) push(['ports', i, 'name'], `duplicate port name ${JSON.stringify(p.name)} (also ports[${seen}])`);
        else names.set(p.name, i);
      }
      const pp = `${p.port}/${p.protocol}`;
      const seenPort = portProto.get(pp);
      if (seenPort !== undefined) push(['ports', i, 'port'], `duplicate port ${pp} (also ports[${seenPort}])`);
      else portProto.set(pp, i);
      if (p.nodePort !== undefined && !external) {
        push(['ports', i, 'nodePort'], `may only be set when type is NodePort or LoadBalancer, not ${spec.type}`);
      }
    });
  })
  .transform((svc) => {
    const { sessionAffinityConfig, externalTrafficPolicy, clusterIP: ip, ...rest } = svc.spec;
    const spec: Service['spec'] = {
      ...rest,
      ...(ip !== undefined && ip !== '' ? { clusterIP: ip } : {}),
      // An empty selector selects nothing and is not managed by the endpoints controller: same as none.
      selector: rest.selector && Object.keys(rest.selector).length > 0 ? rest.selector : undefined,
      externalTrafficPolicy: externalTrafficPolicy ?? 'Cluster',
      ...(rest.sessionAffinity === 'ClientIP'
        ? { sessionAffinityConfig: sessionAffinityConfig ?? { clientIP: { timeoutSeconds: DEFAULT_CLIENT_IP_TIMEOUT_SECONDS } } }
        : {}),
    };
    if (spec.selector === undefined) delete spec.selector;
    return { ...svc, spec };
  }) satisfies z.ZodType<Omit<Service, 'source'>>;

const endpointAddress = z.strictObject({
  ip: str(endpointIPProblem),
  nodeName: str(dns1123SubdomainProblem).optional(),
  hostname: str(dns1123LabelProblem).optional(),
  targetRef: z
    .strictObject({ kind: z.literal('Pod'), name: str(dns1123SubdomainProblem), namespace: str(dns1123LabelProblem) })
    .optional(),
});

const endpointPort = z.strictObject({
  name: str((v) => (v === '' ? undefined : dns1123LabelProblem(v))).default(''),
  port: port(),
  protocol: oneOf(PROTOCOLS).default('TCP'),
});

export const endpointsBody = z.strictObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('Endpoints'),
  metadata: objectMeta(dns1123SubdomainProblem),
  subsets: z
    .array(
      z.strictObject({
        addresses: z.array(endpointAddress).default([]),
        notReadyAddresses: z.array(endpointAddress).default([]),
        ports: z.array(endpointPort).default([]),
      }),
    )
    .default([]),
}) satisfies z.ZodType<Omit<Endpoints, 'source'>>;

/** The label that ties an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

export const endpointSliceBody = z
  .strictObject({
    apiVersion: z.literal('discovery.k8s.io/v1'),
    kind: z.literal('EndpointSlice'),
    metadata: objectMeta(dns1123SubdomainProblem),
    addressType: oneOf(['IPv4'] as const),
    endpoints: z
      .array(
        z.strictObject({
          addresses: z.array(str(endpointIPProblem)).check((ctx) => {
            if (ctx.value.length !== 1) {
              ctx.issues.push({ code: 'custom', input: ctx.value, message: `must hold exactly one IPv4 address, got ${ctx.value.length}` });
            }
          }),
          conditions: z
            .strictObject({ ready: bool().optional(), serving: bool().optional(), terminating: bool().optional() })
            .default({}),
          hostname: str(dns1123LabelProblem).optional(),
          nodeName: str(dns1123SubdomainProblem).optional(),
          targetRef: z
            .strictObject({ kind: z.literal('Pod'), name: str(dns1123SubdomainProblem), namespace: str(dns1123LabelProblem) })
            .optional(),
        }),
      )
      .default([]),
    ports: z
      .array(
        z.strictObject({
          name: str((v) => (v === '' ? undefined : dns1123LabelProblem(v))).default(''),
          protocol: oneOf(PROTOCOLS).default('TCP'),
          port: port(),
          appProtocol: str().optional(),
        }),
      )
      .default([]),
  })
  .check((ctx) => {
    if (!ctx.value.metadata.labels[SERVICE_NAME_LABEL]) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value.metadata.labels,
        path: ['metadata', 'labels'],
        message: `must carry the label ${SERVICE_NAME_LABEL}: <service name> that ties the slice to its Service`,
      });
    }
  }) satisfies z.ZodType<Omit<EndpointSlice, 'source'>>;
