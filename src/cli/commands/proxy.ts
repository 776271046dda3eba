// `lab proxy render`: the iptables-restore input (or, with --proxy-mode nftables / kube-proxy-arg:
// [proxy-mode=nftables], the table `ip kube-proxy`) kube-proxy would write for a state file, without
// root and without applying anything. Selector-less Services take their manual Endpoints or
// EndpointSlices, so any kube-proxy example can be reproduced from a state file; Services with a
// selector take the pods of the running instance of the same name, if there is one.
import { allocateServices, applyAllocations, nodePortKey, type ServiceAllocations } from '../../api/allocators.ts';
import { ValidationError, type Issue } from '../../api/errors.ts';
import { loadDesiredState } from '../../api/load.ts';
import { loadSystemManifests } from '../../api/system.ts';
import { key, type DesiredState, type Service } from '../../api/types.ts';
import { computeEndpointSlices } from '../../controllers/endpoints.ts';
import { instancePaths } from '../../node/instance.ts';
import { renderProxyRules } from '../../proxy/index.ts';
import { renderNftRules } from '../../proxy/nft-render.ts';
import { readApiState } from '../../trace/api-view.ts';
import { log, type Common } from '../common.ts';

export type Args = Common & { system: boolean; 'cluster-cidr'?: string; 'proxy-mode'?: string };

/** What the running instance's API server allocated: kept, as it keeps them for existing Services. */
function allocationsOf(services: Service[]): ServiceAllocations {
  const out: ServiceAllocations = {};
  for (const s of services) {
    const nodePorts: Record<string, number> = {};
    for (const p of s.spec.ports) if (p.nodePort) nodePorts[nodePortKey({ port: p.port, protocol: p.protocol ?? 'TCP' })] = p.nodePort;
    out[key(s.metadata)] = { ...(s.spec.clusterIP ? { clusterIP: s.spec.clusterIP } : {}), nodePorts };
  }
  return out;
}

/** ClusterIPs and NodePorts as the API server allocates them, errors naming the manifest. */
function allocate(desired: DesiredState, previous: ServiceAllocations): Service[] {
  const c = desired.config;
  const r = allocateServices(desired.services, previous, { serviceCIDR: c.serviceCIDR, serviceNodePortRange: c.serviceNodePortRange, clusterDNS: c.clusterDNS });
  if (r.errors.length) {
    const issues: Issue[] = r.errors.map((e) => {
      const svc = desired.services.find((s) => key(s.metadata) === e.service);
      return { file: svc?.source.file ?? '<state>', line: svc?.source.line ?? 0, object: `Service ${e.service}`, field: e.field, message: e.message };
    });
    throw new ValidationError(issues);
  }
  return applyAllocations(desired.services, r.allocations);
}

export async function proxyRenderHandler(a: Args): Promise<void> {
  const paths = instancePaths(a.name);
  const running = await readApiState(paths).catch(() => null);
  const extraStates = a.system ? [await loadSystemManifests({ stateDir: paths.stateDir, mode: running?.mode ?? 'sandbox', clusterDNS: '10.43.0.10' })] : [];
  const desired = await loadDesiredState({ statePath: a.state, configPath: a.config, extraStates, systemPods: a.system ? 0 : undefined });
  const services = allocate(desired, allocationsOf(running?.services ?? []));
  const pods = Object.values(running?.pods ?? {});
  if (running) log(`# endpoints of selector Services from the running instance ${a.name}`);
  const c = desired.config;
  const state = { services, endpointSlices: computeEndpointSlices(services, pods, desired.endpoints) };
  const config = { nodeName: c.nodeName, nodeIPs: [c.nodeIP], clusterCIDR: a['cluster-cidr'] ?? c.clusterCIDR, serviceCIDRs: [c.serviceCIDR] };
  if ((a['proxy-mode'] ?? c.proxyMode ?? 'iptables') === 'nftables') {
    const r = renderNftRules(state, config);
    process.stdout.write(r.text);
    log(`# table ip kube-proxy: ${r.chains} chains, ${r.rules} rules, ${r.elements} map/set elements, ${r.bytes} bytes`);
    return;
  }
  const r = renderProxyRules(state, config);
  process.stdout.write(r.text);
  log(`# ${r.rules.nat} nat rules, ${r.rules.filter} filter rules, ${r.bytes} bytes`);
}
