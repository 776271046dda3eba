// `lab proxy render`: the iptables-restore input kube-proxy would write for a state file, without
// root and without applying anything. Selector-less Services take their manual Endpoints or
// EndpointSlices, so any kube-proxy example can be reproduced from a state file; Services with a
// selector take the pods of the running instance of the same name, if there is one.
import { loadDesiredState } from '../../api/load.ts';
import { readState } from '../../api/store.ts';
import { loadSystemManifests } from '../../api/system.ts';
import { allocate } from '../../controllers/lab.ts';
import { computeEndpointSlices } from '../../controllers/endpoints.ts';
import { instancePaths } from '../../node/instance.ts';
import { renderProxyRules } from '../../proxy/index.ts';
import { log, type Common } from '../common.ts';

export type Args = Common & { system: boolean; 'cluster-cidr'?: string };

export async function proxyRenderHandler(a: Args): Promise<void> {
  const paths = instancePaths(a.name);
  const running = await readState(paths.stateFile).catch(() => null);
  const extraStates = a.system ? [await loadSystemManifests({ stateDir: paths.stateDir, mode: running?.mode ?? 'sandbox', clusterDNS: '10.43.0.10' })] : [];
  const desired = await loadDesiredState({ statePath: a.state, configPath: a.config, extraStates, systemPods: a.system ? 0 : undefined });
  const { services } = allocate(desired, (running?.serviceAllocations ?? {}) as never);
  const pods = Object.values(running?.pods ?? {});
  if (running) log(`# endpoints of selector Services from the running instance ${a.name}`);
  const c = desired.config;
  const r = renderProxyRules({ services, endpointSlices: computeEndpointSlices(services, pods, desired.endpoints) }, { nodeName: c.nodeName, nodeIPs: [c.nodeIP], clusterCIDR: a['cluster-cidr'] ?? c.clusterCIDR });
  process.stdout.write(r.text);
  log(`# ${r.rules.nat} nat rules, ${r.rules.filter} filter rules, ${r.bytes} bytes`);
}
