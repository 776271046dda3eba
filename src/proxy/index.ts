// kube-proxy (iptables mode, v1.33): the role in one import.
//   names.ts      chain names and hashes (KUBE-SVC-<base32(sha256)>…)
//   model.ts      Services + EndpointSlices -> service ports and their endpoints
//   render.ts     the pure renderer (syncProxyRules -> iptables-restore text)
//   sync-plan.ts  full/partial sync bookkeeping, in memory
//   jumps.ts      the jump rules from PREROUTING/INPUT/…
//   canary.ts     flush detector: what an iptables-save says is lost (canary chains, jumps)
//   syncer.ts     the applier: one iptables-restore per sync, teardown
//   health.ts     what the health servers answer (health check node ports, /healthz)
//   health-server.ts  their listeners in the node's namespace
export { serviceChainName, servicePortChains, servicePortNameString, endpointChainName, masqueradeMark, isServiceChainName } from './names.ts';
export type { ProxyConfig, ServiceModel, ServicePortInfo, EndpointInfo } from './model.ts';
export { buildProxyModel, buildServiceModel, categorizeEndpoints, proxyConfigFor } from './model.ts';
export type { ProxyRenderInput, RestoreText } from './render.ts';
export { renderProxyRules, probability } from './render.ts';
export type { TopLevelPolicy, SyncPlan } from './sync-plan.ts';
export { ProxySyncPlanner } from './sync-plan.ts';
export { JUMP_RULES } from './jumps.ts';
export { lostProxyRules } from './canary.ts';
export type { ProxySyncerOptions, ProxyState, SyncResult, TeardownResult } from './syncer.ts';
export { ProxySyncer, ProxySyncError, teardownProxyRules, RESTORE_ARGV } from './syncer.ts';
export type { HealthReply, ProxyHealth } from './health.ts';
export { HEALTHZ_PORT, healthCheckNodePorts, localReadyEndpoints, serviceHealthReply, healthzReply, ProxyHealthState } from './health.ts';
export type { KubeProxyHealthOptions } from './health-server.ts';
export { KubeProxyHealth, ServiceHealthServer, ProxyHealthServer, HealthListener } from './health-server.ts';
