// The cluster DNS's view of the API, as CoreDNS's kubernetes plugin keeps one: Services, their
// EndpointSlices (discovery.k8s.io/v1, what CoreDNS has watched since 1.8) and the pods come from
// informers, and each change publishes a new records snapshot
// for the DNS pod (publish.ts; unchanged records are not rewritten). Changes arriving together
// are published once, after the current publish finishes.
import { endpointSliceFromApi, serviceFromApi, type ApiObject } from '../api/convert.ts';
import { endpointsFromSlices } from '../api/load.ts';
import type { ClusterConfig, EndpointSlice, Pod, Service } from '../api/types.ts';
import type { InformerFactory } from '../client/controller.ts';
import type { KubeObject } from '../client/types.ts';
import { Coalescer } from '../util/coalesce.ts';
import { publishDns } from './publish.ts';

export class DnsController {
  private readonly services;
  private readonly endpoints;
  private readonly pods;
  private readonly runner = new Coalescer(async () => {
    if (![this.services, this.endpoints, this.pods].every((i) => i.hasSynced())) await Promise.all([this.services.waitForSync(), this.endpoints.waitForSync(), this.pods.waitForSync()]);
    try {
      const services = this.services.list().map((o) => serviceFromApi(o as unknown as ApiObject));
      // The records read each Service's endpoints whole: its slices taken together.
      const endpoints = endpointsFromSlices(this.endpoints.list().map((o) => endpointSliceFromApi(o as unknown as ApiObject)));
      await publishDns(this.stateDir, { services, endpoints, pods: this.pods.list().map((p) => ({ ...p, status: p.status ?? {} }) as Pod), config: this.config });
    } catch (e) {
      this.log?.(`cluster DNS: publishing records failed: ${(e as Error).message}`);
    }
  });

  constructor(
    factory: InformerFactory,
    private readonly stateDir: string,
    private readonly config: ClusterConfig,
    private readonly log?: (line: string) => void,
  ) {
    this.services = factory.informer<Service & KubeObject>({ group: '', resource: 'services' });
    this.endpoints = factory.informer<EndpointSlice & KubeObject>({ group: 'discovery.k8s.io', resource: 'endpointslices' });
    this.pods = factory.informer<Pod & KubeObject>({ group: '', resource: 'pods' });
    const changed = () => this.request();
    for (const inf of [this.services, this.endpoints, this.pods] as const) inf.addHandlers({ add: changed, update: changed, delete: changed });
  }

  /** Resolves once the snapshot of what the informers hold now has been published. */
  request(): Promise<void> {
    return this.runner.request();
  }

  stop(): Promise<void> {
    return this.runner.stop();
  }
}
