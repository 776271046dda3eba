// Pod template: containers, ports, probes, volumes. Defaults are the API server's (SetDefaults_*).

import { z } from 'zod';
import type { Container, PodSpec, Probe, Volume, PodTemplateSpec } from '../types.ts';
import {
  absolutePathProblem,
  configMapKeyProblem,
  dns1123LabelProblem,
  dns1123SubdomainProblem,
  envVarNameProblem,
  ianaSvcNameProblem,
  imageProblem,
  relativePathProblem,
} from '../names.ts';
import { annotations, bool, int, labels, oneOf, port, portOrName, str, stringList, text } from './fields.ts';
import { securityContext } from './security.ts';

const PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;

const httpGet = z.strictObject({
  path: str((p) => (p.startsWith('/') ? undefined : "must start with '/'")).default('/'),
  port: portOrName(),
  scheme: oneOf(['HTTP'] as const).default('HTTP'),
});

const probe: z.ZodType<Probe> = z
  .strictObject({
    httpGet: httpGet.optional(),
    tcpSocket: z.strictObject({ port: portOrName() }).optional(),
    exec: z.strictObject({ command: stringList() }).optional(),
    initialDelaySeconds: int(0, 86400 * 365).default(0),
    periodSeconds: int(1, 86400 * 365).default(10),
    timeoutSeconds: int(1, 86400 * 365).default(1),
    successThreshold: int(1, 1000).default(1),
    failureThreshold: int(1, 1000).default(3),
  })
  .check((ctx) => {
    const handlers = (['httpGet', 'tcpSocket', 'exec'] as const).filter((h) => ctx.value[h] !== undefined);
    if (handlers.length !== 1) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        message:
          handlers.length === 0
            ? 'must specify a handler: one of httpGet, tcpSocket, exec'
            : `may not specify more than one handler (got ${handlers.join(', ')})`,
      });
    }
    if (ctx.value.exec && ctx.value.exec.command.length === 0) {
      ctx.issues.push({ code: 'custom', input: ctx.value.exec, path: ['exec', 'command'], message: 'must not be empty' });
    }
  });

const containerPort = z.strictObject({
  name: str(ianaSvcNameProblem).optional(),
  containerPort: port(),
  protocol: oneOf(PROTOCOLS).default('TCP'),
});

const envVar = z.strictObject({
  name: str(envVarNameProblem),
  value: text().default(''),
});

const volumeMount = z.strictObject({
  name: str(dns1123LabelProblem),
  mountPath: str(absolutePathProblem),
  readOnly: bool().optional(),
  subPath: str(relativePathProblem).optional(),
});

export const container: z.ZodType<Container> = z.strictObject({
  name: str(dns1123LabelProblem),
  image: str(imageProblem),
  command: stringList().optional(),
  args: stringList().optional(),
  workingDir: str(absolutePathProblem).optional(),
  env: z.array(envVar).default([]),
  ports: z.array(containerPort).default([]),
  volumeMounts: z.array(volumeMount).default([]),
  readinessProbe: probe.optional(),
  livenessProbe: probe.optional(),
  startupProbe: probe.optional(),
  securityContext: securityContext.optional(),
});

const keyToPath = z.strictObject({
  key: str(configMapKeyProblem),
  path: str(relativePathProblem),
});

/** The fields a downwardAPI volume may expose (the volume form: metadata only). */
export const DOWNWARD_FIELDS = /^metadata\.(name|namespace|uid|labels|annotations|labels\['[A-Za-z0-9./_-]+'\]|annotations\['[A-Za-z0-9./_-]+'\])$/;

function downwardFieldProblem(value: string): string | undefined {
  return DOWNWARD_FIELDS.test(value) ? undefined : "must be one of metadata.name, metadata.namespace, metadata.uid, metadata.labels, metadata.annotations, metadata.labels['<key>'], metadata.annotations['<key>']";
}

const HOST_PATH_TYPES = ['', 'DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice'] as const;

const volume: z.ZodType<Volume> = z
  .strictObject({
    name: str(dns1123LabelProblem),
    configMap: z
      .strictObject({
        name: str(dns1123SubdomainProblem),
        items: z.array(keyToPath).optional(),
        optional: bool().optional(),
      })
      .optional(),
    hostPath: z.strictObject({ path: str(absolutePathProblem), type: oneOf(HOST_PATH_TYPES).optional() }).optional(),
    emptyDir: z.strictObject({}).optional(),
    downwardAPI: z
      .strictObject({
        items: z.array(
          z.strictObject({
            path: str(relativePathProblem),
            fieldRef: z.strictObject({ apiVersion: z.literal('v1').optional(), fieldPath: str(downwardFieldProblem) }).transform((f) => ({ fieldPath: f.fieldPath })),
          }),
        ),
      })
      .optional(),
  })
  .check((ctx) => {
    const sources = (['configMap', 'hostPath', 'emptyDir', 'downwardAPI'] as const).filter((s) => ctx.value[s] !== undefined);
    if (sources.length !== 1) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        message:
          sources.length === 0
            ? 'must specify a volume type: one of configMap, hostPath, emptyDir, downwardAPI'
            : `may not specify more than one volume type (got ${sources.join(', ')})`,
      });
    }
  });

export const podSpec: z.ZodType<PodSpec> = z.strictObject({
  containers: z.array(container).check((ctx) => {
    if (ctx.value.length === 0) ctx.issues.push({ code: 'custom', input: ctx.value, message: 'must have at least one container' });
  }),
  volumes: z.array(volume).default([]),
  restartPolicy: oneOf(['Always', 'OnFailure', 'Never'] as const).default('Always'),
  terminationGracePeriodSeconds: int(0, 86400 * 365).default(30),
  nodeName: str(dns1123SubdomainProblem).optional(),
  // Validated as ValidatePodSpec does (ValidateLabels: label keys and values); the scheduler's
  // NodeAffinity filter reads it.
  nodeSelector: labels().optional(),
  hostname: str(dns1123LabelProblem).optional(),
  subdomain: str(dns1123LabelProblem).optional(),
  dnsPolicy: oneOf(['ClusterFirst', 'Default', 'ClusterFirstWithHostNet'] as const).default('ClusterFirst'),
  hostNetwork: bool().optional(),
  hostPID: bool().optional(),
  hostIPC: bool().optional(),
});

export const podTemplateSpec: z.ZodType<PodTemplateSpec> = z.strictObject({
  metadata: z.strictObject({ labels: labels().default({}), annotations: annotations().default({}) }).default({ labels: {}, annotations: {} }),
  spec: podSpec,
});
