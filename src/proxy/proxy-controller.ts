// kube-proxy's control loop (pkg/proxy/config + the iptables Proxier's sync runner): Services and
// EndpointSlices come from shared informers; any change asks for a sync, and the syncs run
// through a bounded-frequency runner, as kube-proxy's BoundedFrequencyRunner: a sync runs at once
// unless one ran less than minSyncPeriod ago (then when that has passed: a burst of changes is one
// sync), and at least every syncPeriod a full one, which also puts back what someone else removed
// (`iptables -t nat -F`). Between those the canary chains are checked (kube-proxy's
// KUBE-PROXY-CANARY): a lost chain forces a full sync at once. With `health`, kube-proxy's health
// servers follow the syncs: every change is a queued update, every successful sync an update, and
// after it the health check node ports and local endpoint counts are handed over (health-server.ts).
import { endpointSliceFromApi, serviceFromApi, type ApiObject } from '../api/convert.ts';
import type { EndpointSlice, Service } from '../api/types.ts';
import type { InformerFactory } from '../client/controller.ts';
import type { KubeObject } from '../client/types.ts';
import type { ProxyState, SyncResult } from './syncer.ts';
import { KubeProxyHealth, type KubeProxyHealthOptions } from './health-server.ts';
import { healthCheckNodePorts, localReadyEndpoints } from './health.ts';
import { PROXY_MODES, type ProxyMode } from '../api/types.ts';

/** kubeadm's ConfigMap kube-system/kube-proxy: its config.conf (a KubeProxyConfiguration) names the mode. */
export const KUBE_PROXY_CONFIGMAP = { namespace: 'kube-system', name: 'kube-proxy', key: 'config.conf' };

/** `mode: nftables` in a KubeProxyConfiguration; undefined when absent, empty ("" = iptables, as kube-proxy) or unknown. */
export function proxyModeOfConfig(conf: string | undefined): ProxyMode | undefined {
  const m = /^mode:\s*["']?([a-z]*)["']?\s*$/m.exec(conf ?? '');
  if (!m) return undefined;
  const mode = m[1] || 'iptables';
  return (PROXY_MODES as readonly string[]).includes(mode) ? (mode as ProxyMode) : undefined;
}

export interface Syncer {
  /** iptables or nftables: the mode this syncer writes. */
  readonly mode?: ProxyMode;
  sync(state: ProxyState): Promise<SyncResult>;
  requestFullSync(): void;
  lostRules(): Promise<string[]>;
}

export interface KubeProxyOptions {
  /** kube-proxy's --iptables-min-sync-period (the lab: 0, every change synced at once unless one is running). */
  minSyncMs?: number;
  /** kube-proxy's --iptables-sync-period: a full sync at least this often (30 s). */
  syncPeriodMs?: number;
  /** How often the canary chains are looked at (kube-proxy: every 30 s; the lab: 5 s). */
  canaryMs?: number;
  log?: (line: string) => void;
  /** Told of each sync's result (benchmarks, trace). */
  onSync?: (r: SyncResult) => void;
  /** kube-proxy's health servers: health check node ports and /healthz, in this node's namespace. */
  health?: KubeProxyHealthOptions;
  /**
   * Follow ConfigMap kube-system/kube-proxy's mode: before each sync, a syncer of the mode it names
   * replaces the current one when they differ (the new one's first sync is full and removes the
   * other mode's rules once its own are in place).
   */
  makeSyncer?: (mode: ProxyMode) => Syncer;
}

/** How often the lab's kube-proxy looks at its canary chains by default (kube-proxy's own: 30 s). */
export const CANARY_MS = 5_000;

export class KubeProxy {
  private readonly services;
  private readonly slices;
  private readonly configMaps;
  private syncer: Syncer;
  private lastRun = 0;
  private timer: NodeJS.Timeout | null = null;
  private periodic: NodeJS.Timeout[] = [];
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  /** A sync has succeeded: from then on the canary is looked at. */
  private synced = false;
  readonly health: KubeProxyHealth | null;

  constructor(
    factory: InformerFactory,
    syncer: Syncer,
    private readonly opts: KubeProxyOptions = {},
  ) {
    this.syncer = syncer;
    this.services = factory.informer<Service & KubeObject>({ group: '', resource: 'services' });
    this.slices = factory.informer<EndpointSlice & KubeObject>({ group: 'discovery.k8s.io', resource: 'endpointslices' });
    this.health = opts.health ? new KubeProxyHealth({ ...opts.health, log: opts.health.log ?? opts.log }) : null;
    const changed = () => {
      this.health?.queuedUpdate();
      this.request();
    };
    for (const inf of [this.services, this.slices] as const) inf.addHandlers({ add: changed, update: changed, delete: changed });
    if (opts.makeSyncer) {
      // The kubelet watches the same resource: one shared informer.
      this.configMaps = factory.informer<KubeObject & { data?: Record<string, string> }>({ group: '', resource: 'configmaps' });
      const mine = (c: KubeObject) => {
        if (c.metadata.namespace === KUBE_PROXY_CONFIGMAP.namespace && c.metadata.name === KUBE_PROXY_CONFIGMAP.name) this.request();
      };
      this.configMaps.addHandlers({ add: mine, update: (_old, c) => mine(c), delete: mine });
    } else this.configMaps = null;
    const health = this.health;
    if (health) {
      // kube-proxy's NodeEligibleHandler: its own Node decides what /healthz says.
      const nodes = factory.informer<KubeObject & { spec?: { taints?: { key: string }[] } }>({ group: '', resource: 'nodes' });
      const mine = (n: KubeObject & { spec?: { taints?: { key: string }[] } }) => {
        if (n.metadata.name === health.nodeName) health.syncNode(n as Parameters<KubeProxyHealth['syncNode']>[0]);
      };
      nodes.addHandlers({ add: mine, update: (_old, n) => mine(n), delete: mine });
    }
  }

  /** The first sync once the informers have synced, then the periodic full sync and the canary. */
  start(): void {
    void this.health?.start();
    this.request();
    this.periodic.push(
      setInterval(() => {
        this.syncer.requestFullSync();
        this.request();
      }, this.opts.syncPeriodMs ?? 30_000),
      setInterval(() => void this.checkCanary(), this.opts.canaryMs ?? CANARY_MS),
    );
    for (const t of this.periodic) t.unref();
  }

  /** Stops syncing; the health listeners close once a running sync is done. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (const t of this.periodic) clearInterval(t);
    await this.running;
    await this.health?.stop();
  }

  /** A change: sync now, or as soon as minSyncPeriod allows (one sync for a burst). */
  request(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) return;
    const wait = Math.max(0, this.lastRun + (this.opts.minSyncMs ?? 0) - Date.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.run().finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.request();
        }
      });
    }, wait);
  }

  /** The mode kube-proxy runs in now. */
  get mode(): ProxyMode {
    return this.syncer.mode ?? 'iptables';
  }

  /** ConfigMap kube-system/kube-proxy names another mode: switch syncers (before the sync that follows). */
  private followMode(): void {
    if (!this.configMaps || !this.opts.makeSyncer) return;
    const cm = this.configMaps.list().find((c) => c.metadata.namespace === KUBE_PROXY_CONFIGMAP.namespace && c.metadata.name === KUBE_PROXY_CONFIGMAP.name);
    const want = proxyModeOfConfig(cm?.data?.[KUBE_PROXY_CONFIGMAP.key]);
    if (!want || want === this.mode) return;
    this.opts.log?.(`kube-proxy: proxy mode ${this.mode} -> ${want} (ConfigMap ${KUBE_PROXY_CONFIGMAP.namespace}/${KUBE_PROXY_CONFIGMAP.name}); the ${this.mode} rules go once the ${want} rules are in place`);
    this.syncer = this.opts.makeSyncer(want);
  }

  private async run(): Promise<void> {
    if (!this.services.hasSynced() || !this.slices.hasSynced() || (this.configMaps && !this.configMaps.hasSynced())) {
      await Promise.all([this.services.waitForSync(), this.slices.waitForSync(), this.configMaps?.waitForSync()]);
    }
    this.followMode();
    this.lastRun = Date.now();
    try {
      // The API leaves optional fields out; the planner wants them with the meaning of their absence.
      const services = this.services.list().map((s) => serviceFromApi(s as unknown as ApiObject));
      const endpointSlices = this.slices.list().map((e) => endpointSliceFromApi(e as unknown as ApiObject));
      const r = await this.syncer.sync({ services, endpointSlices });
      if (this.health && !this.stopped) {
        this.health.updated();
        await this.health.services.syncServices(healthCheckNodePorts(services));
        this.health.services.syncEndpoints(localReadyEndpoints(endpointSlices, this.health.nodeName));
      }
      // A full sync after the first that had to put jumps back repaired someone else's flush
      // (the periodic sync can come before the canary check): say so, as the canary does.
      if (this.synced && r.full && r.jumpsInserted > 0) this.opts.log?.(`kube-proxy: full sync put back ${r.jumpsInserted} jump rule(s) gone from the node`);
      this.synced = true;
      this.opts.onSync?.(r);
    } catch (e) {
      // kube-proxy logs and tries again on the next change or period; a failed sync makes the next one full.
      this.opts.log?.(`kube-proxy: sync failed: ${(e as Error).message}`);
      this.syncer.requestFullSync();
    }
  }

  private async checkCanary(): Promise<void> {
    // Before the first sync there is nothing of kube-proxy's to have lost.
    if (this.stopped || this.running || !this.synced) return;
    const lost = await this.syncer.lostRules().catch(() => []);
    if (lost.length === 0) return;
    this.opts.log?.(`kube-proxy: ${lost.join(', ')} gone from the node: full sync`);
    this.syncer.requestFullSync();
    this.request();
  }
}
