// Controller side of the ingress: renders nginx.conf from the Ingress objects into the directory
// the ingress pod mounts, and reloads its nginx master gracefully when the rendering changes.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ClusterConfig, Ingress, Service } from '../api/types.ts';
import type { Netns } from '../sys/exec.ts';
import { renderNginxConfig } from './nginx.ts';
import { applyNginxConfig, prepareNginxRuntime, type ApplyResult, type NginxInstance } from './reload.ts';
import { buildRoutingTable, servicePortResolver } from './routes.ts';

export function ingressDir(stateDir: string): string {
  return path.join(stateDir, 'ingress');
}

export function ingressInstance(stateDir: string, netns: Netns): NginxInstance {
  const prefix = ingressDir(stateDir);
  return { prefix, configPath: path.join(prefix, 'nginx.conf'), netns };
}

export function accessLogPath(stateDir: string): string {
  return path.join(ingressDir(stateDir), 'access.log');
}

export function renderIngress(stateDir: string, input: { ingresses: Ingress[]; services: Service[]; config: ClusterConfig }): { text: string; warnings: string[] } {
  const table = buildRoutingTable(input.ingresses);
  const text = renderNginxConfig(table, {
    resolver: input.config.clusterDNS,
    clusterDomain: input.config.clusterDomain,
    listenPort: 80,
    prefix: ingressDir(stateDir),
    accessLogPath: accessLogPath(stateDir),
    errorLogPath: 'stderr',
    workerProcesses: 1,
    resolvePort: servicePortResolver(input.services),
  });
  return { text, warnings: table.warnings };
}

/**
 * Installs the configuration. Before the ingress pod runs, the file is just written (nginx reads
 * it when it starts); afterwards it goes through `nginx -t` in the pod's namespace and a SIGHUP.
 */
export async function syncIngress(stateDir: string, text: string, pod: { netns: string; masterPid?: number } | null, opts: { waitMs?: number } = {}): Promise<ApplyResult> {
  const inst = ingressInstance(stateDir, pod?.netns ?? null);
  await prepareNginxRuntime(inst);
  if (!pod?.masterPid || !existsSync(inst.configPath)) {
    await writeFile(inst.configPath, text, { mode: 0o644 });
    return { changed: true, reloadedPid: null, newWorkers: [], error: null };
  }
  return applyNginxConfig(text, inst, { masterPid: pod.masterPid, waitMs: opts.waitMs });
}
