// The lab's server process, as `k3s server` is one: the API server (kine store, registry, HTTPS),
// the manifests applier (lab/cluster.yaml and the system manifests, applied on start and on every
// change), the controller-manager's controllers and the scheduler (ControlPlane), and this node's
// agent: the kubelet, kube-proxy, and the cluster add-ons' controllers (DNS records, ingress).
// Every role talks only to the API; this file only builds them and hands each its client.
//
// Listeners (docs/architecture.md, "The server process"): 127.0.0.1:<port> in the machine's
// namespace (what `lab kubeconfig` names for this machine), and in the node's namespace
// <node IP>:6443 and 127.0.0.1:6443, the addresses a k3s server listens on. In sandbox mode the
// node's sockets are bound inside its namespace by a short-lived child and handed back
// (src/sys/netns-listen.ts), so this process serves them with no route between the namespaces.
// The node's kubelet serves :10250 the same way; the API server reaches the other nodes' :10250
// from inside the node's namespace too (src/sys/netns-dial.ts).
import { existsSync, watch, type FSWatcher } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { KUBE_API_PORT } from '../api/kubeconfig.ts';
import { loadDesiredState, readClusterConfig, readConfigDropIns, ValidationError } from '../api/load.ts';
import { pkiSettings } from '../api/pki.ts';
import { serveApi, type ServingApi } from '../api/server/index.ts';
import { loadSystemManifests, SYSTEM_MANIFESTS } from '../api/system.ts';
import type { ClusterConfig, DesiredState } from '../api/types.ts';
import { formatCidr, nth, parseCidr } from '../util/cidr.ts';
import { DnsController } from '../dns/dns-controller.ts';
import { NodeHostsController } from '../dns/node-hosts-controller.ts';
import { IngressController } from '../ingress/ingress-controller.ts';
import { instancePaths, type InstancePaths } from '../node/instance.ts';
import { chooseMode } from '../node/mode.ts';
import { describeNode, type LabNode, type NodeMode } from '../node/node.ts';
import { ensureNode } from '../node/setup.ts';
import { writeNodeCniConfig } from '../cni/node-config.ts';
import { KubeletController } from '../kubelet/kubelet-controller.ts';
import { KubeletStreams } from '../kubelet/streams.ts';
import { ensureKubeletCerts, kubeletCertDir } from '../kubelet/certs.ts';
import { startKubeletServer, type KubeletServer } from '../kubelet/kubelet-server.ts';
import { KUBELET_PORT } from '../kubelet/node-status.ts';
import { signNodeCertificate } from '../api/node-certs.ts';
import type { ContainerStreams } from '../api/server/node-streams.ts';
import { dialHere, NetnsDialer } from '../sys/netns-dial.ts';
import { listenInNetns } from '../sys/netns-listen.ts';
import { useSpawnPool } from '../sys/spawner.ts';
import { writeFileIfChanged } from '../sys/files.ts';
import { ControlPlane } from './control-plane.ts';
import { LaptopHosts, laptopHostsLines } from './laptop-hosts.ts';
import { AgentMachines, stoppedMarker } from './agent-machines.ts';
import { nodeJoinWaiting } from '../client/converge.ts';
import type { KubeObject } from '../client/types.ts';
import { nodeRegistration, NodeRoles } from './node-roles.ts';
import { nodesProblems, withNodeCount } from '../api/schema/config.ts';
import type { ApplyOutcome, Manifest } from './manifests.ts';

export interface LabServerOptions {
  instance: string;
  statePath: string;
  configPath: string;
  mode?: NodeMode;
  /** The port on 127.0.0.1 in the machine's namespace; 0 picks a free one (recorded in the server directory). */
  localPort?: number;
  log?: (line: string) => void;
  /** The add-ons' version string in the Node's status. */
  kubeletVersion?: string;
  /** `--nodes N` (validated by load(); `lab up` then records it with writeNodesArg). */
  nodes?: number;
}

/**
 * `lab up --nodes N`: the cluster's node count, kept in the instance (server/args/nodes) so that a
 * running server hears a new count the way it hears an edit of the state files.
 */
export function nodesArgFile(paths: InstancePaths): string {
  return path.join(paths.serverDir, 'args', 'nodes');
}

export async function readNodesArg(paths: InstancePaths): Promise<number | undefined> {
  const n = Number((await readFile(nodesArgFile(paths), 'utf8').catch(() => '')).trim());
  return Number.isInteger(n) && n >= 1 ? n : undefined;
}

export async function writeNodesArg(paths: InstancePaths, count: number): Promise<void> {
  await mkdir(path.dirname(nodesArgFile(paths)), { recursive: true });
  await writeFileIfChanged(nodesArgFile(paths), `${count}\n`);
}

/** The server's node-token (k3s: server/node-token): what an agent joins with. */
export function nodeTokenFile(paths: InstancePaths): string {
  return path.join(paths.serverDir, 'node-token');
}

/** The addon name of each state file, as k3s names an addon after its manifest file. */
export const CLUSTER_ADDON = 'cluster';
export const SYSTEM_ADDON = 'system';

/**
 * Where k3s writes the admin's kubeconfig (host mode only: the VM is the node). LAB_K3S_KUBECONFIG
 * moves it: the e2e tests' stand-in VM is a network namespace of this machine, whose /etc is not its own.
 */
export const K3S_KUBECONFIG_ENV = 'LAB_K3S_KUBECONFIG';
export const K3S_KUBECONFIG = process.env[K3S_KUBECONFIG_ENV] || '/etc/rancher/k3s/k3s.yaml';

/** How long a starting server waits for its nodes to join before it applies lab/cluster.yaml all the same. */
export const NODES_JOIN_MS = 60_000;

/** A state file's edit is applied once the files held still this long (an editor's save is several writes). */
export const APPLY_DEBOUNCE_MS = 100;

interface Loaded {
  desired: DesiredState;
  mode: NodeMode;
  /** Manifests by addon. */
  addons: Map<string, Manifest[]>;
}

export class LabServer {
  readonly paths: InstancePaths;
  private readonly log: (line: string) => void;
  controlPlane: ControlPlane | null = null;
  api: ServingApi | null = null;
  node: LabNode | null = null;
  config: ClusterConfig | null = null;
  private roles: NodeRoles | null = null;
  private dns: DnsController | null = null;
  private laptop: LaptopHosts | null = null;
  private ingress: IngressController | null = null;
  kubelet: KubeletController | null = null;
  private watchers: FSWatcher[] = [];
  private applying: Promise<void> = Promise.resolve();
  private debounce: NodeJS.Timeout | null = null;
  private lastText = '';
  private agents: AgentMachines | null = null;
  private kubeletServer: KubeletServer | null = null;
  private dialer: NetnsDialer | null = null;
  private stopping = false;
  /** Ends waitForNodes when the server stops during it. */
  private stopWaiting: (() => void) | null = null;

  constructor(readonly opts: LabServerOptions) {
    // The kubelet starts hundreds of processes at once (a Deployment scaled up, a start with pods
    // to make): spawn them off the event loop, which would otherwise stand still for each one
    // until the child has exec'd (src/sys/spawner.ts), and the API, the controllers and the
    // kubelet's own status writes with it.
    useSpawnPool();
    this.paths = instancePaths(opts.instance);
    this.log = opts.log ?? (() => {});
  }

  /** Reads and validates both state files; throws (file, line, object, field) before anything changes. */
  async load(priorMode?: NodeMode): Promise<Loaded> {
    const count = this.opts.nodes ?? (await readNodesArg(this.paths));
    const config = withNodeCount(await readClusterConfig(this.opts.configPath), count);
    const problems = nodesProblems(config);
    if (problems.length) throw new Error(`--nodes ${count}: ${problems.map((p) => p.message).join('; ')}`);
    const mode = await chooseMode({ requested: this.opts.mode, prior: priorMode, nodeIP: config.nodeIP, configFile: this.opts.configPath });
    const system = await loadSystemManifests({ stateDir: this.paths.stateDir, mode, clusterDNS: config.clusterDNS, nodeIP: config.nodeIP, nodeName: config.nodeName, ...(config.proxyMode ? { proxyMode: config.proxyMode } : {}) });
    const loadedState = await loadDesiredState({ statePath: this.opts.statePath, configPath: this.opts.configPath, extraStates: [system], systemPods: 0 });
    const desired = { ...loadedState, config };
    laptopHostsLines(desired, desired.config); // validates the laptop-hosts annotation
    const addons = new Map<string, Manifest[]>([
      [SYSTEM_ADDON, []],
      [CLUSTER_ADDON, []],
    ]);
    for (const m of desired.manifests) addons.get(m.source.file === SYSTEM_MANIFESTS ? SYSTEM_ADDON : CLUSTER_ADDON)!.push(m);
    return { desired, mode, addons };
  }

  async start(): Promise<void> {
    const loaded = await this.load();
    const { desired, mode } = loaded;
    const config = desired.config;
    this.config = config;
    const node = describeNode(config, mode, this.paths);
    this.node = node;
    this.log(`node ${node.name} (${mode} mode): ${mode === 'sandbox' ? `namespace ${this.paths.nodeNetns}, ` : ''}eth1 ${node.nodeIP}, cni0 ${node.gateway}`);
    await ensureNode(node, this.paths, { hostsLines: laptopHostsLines(desired, config) });
    // The node's CNI conflist, as k3s's agent writes it before its kubelet starts.
    await writeNodeCniConfig(node, this.paths);

    await mkdir(path.dirname(this.paths.storeFile), { recursive: true });
    const cp = new ControlPlane({
      storePath: this.paths.storeFile,
      api: { clusterIP: nth(parseCidr(config.serviceCIDR), 1), endpointIP: node.nodeIP, port: KUBE_API_PORT },
      node: await nodeRegistration({ name: node.name, nodeIP: node.nodeIP, podCIDR: formatCidr(node.podCIDR), role: 'server', nodeLabels: config.nodeLabels, nodeTaints: config.nodeTaints, nodeCIDRMaskSize: config.nodeCIDRMaskSize, netns: node.netns, kubeletVersion: this.opts.kubeletVersion }),
      serviceRanges: { serviceCIDR: config.serviceCIDR, nodePortRange: config.serviceNodePortRange },
      nodeIpam: { clusterCIDR: config.clusterCIDR, nodeCIDRMaskSize: config.nodeCIDRMaskSize },
      nodeLifecycle: config.nodeLifecycle,
      log: this.log,
    });
    this.controlPlane = cp;
    await cp.start();
    // The system add-ons now, as k3s's deploy controller applies its manifests at start; the
    // learner's workloads once the nodes have joined (below).
    await this.applyAll(loaded, [SYSTEM_ADDON]);

    // This node's kubelet: the pods bound to the node. The API server reaches its logs and exec in
    // process, every other node's through that node's :10250; this one serves :10250 too.
    // flannel, kube-proxy and the kubelet of the server's node, as every agent runs them.
    this.roles = new NodeRoles({ client: cp.client, factory: cp.factory, node, paths: this.paths, config, log: this.log });
    this.kubelet = this.roles.kubelet;
    const ownStreams = new KubeletStreams(this.paths, this.roles.kubelet);
    this.api = await this.listen(node, config, ownStreams);
    this.log(`API server: ${this.api.addresses.map((a) => `https://${a.host}:${a.port}`).join(', ')}`);
    const kubeletServing = this.serveKubelet(node, ownStreams);
    kubeletServing.catch(() => {}); // awaited below; a failure before then must not go unhandled

    this.dns = new DnsController(cp.factory, this.paths.stateDir, config, this.log);
    if (mode === 'sandbox') this.laptop = new LaptopHosts(cp.factory, this.paths, node.nodeIP, this.log);
    // The ingress controller (ingress-nginx's role: nginx.conf from the Ingresses, reloads) and the
    // server's NodeHosts upkeep in the coredns ConfigMap (as k3s's server does).
    this.ingress = new IngressController(cp.factory, cp.client, { stateDir: this.paths.stateDir, config, podNetns: (p) => this.paths.podNetns(p.metadata.name), log: this.log });
    new NodeHostsController(cp.factory, cp.client, this.log);
    cp.factory.start();
    await cp.factory.waitForSync();
    void this.dns.request();
    void this.ingress.request();
    await this.roles.start();
    this.kubeletServer = await kubeletServing;
    await this.ensureAgents(loaded);
    // As the Vagrant flow runs it: the server, then its agents, then `kubectl apply` of the
    // workloads. Applied before the agents have joined, every pod of lab/cluster.yaml would be
    // bound to the one node the scheduler sees (it never moves a running pod), and app2's replicas
    // would never spread. Host mode's agents join from their own VMs, whenever they are started:
    // the server does not wait for them.
    if (mode === 'sandbox') await this.waitForNodes([config.nodeName, ...config.agents.filter((a) => !existsSync(stoppedMarker(this.paths, a.nodeName))).map((a) => a.nodeName)]);
    if (this.stopping) return;
    await this.applyAll(loaded, [CLUSTER_ADDON]);
    // Watched for `lab up --nodes N` on a running server, so it must exist (empty until then).
    await mkdir(path.dirname(nodesArgFile(this.paths)), { recursive: true });
    this.watchFiles();
  }

  /**
   * The server node's kubelet on :10250 (every address of the node, as the kubelet's --address
   * 0.0.0.0), with a serving certificate the server CA signs for the node's name and IP.
   */
  private async serveKubelet(node: LabNode, streams: KubeletStreams): Promise<KubeletServer> {
    const certs = await ensureKubeletCerts(kubeletCertDir(this.paths, node.name), node.name, this.api!.pki.clientCaCert, (kind, csr) => signNodeCertificate(this.paths.tlsDir, kind, node.name, [node.nodeIP], csr));
    const listen = node.mode === 'sandbox' ? [{ host: '0.0.0.0', port: KUBELET_PORT, handle: await listenInNetns(this.paths.nodeNetns, '0.0.0.0', KUBELET_PORT) }] : [{ host: '0.0.0.0', port: KUBELET_PORT }];
    const server = await startKubeletServer({ tls: { cert: certs.servingCert, key: certs.servingKey, clientCa: certs.clientCa }, listen, streams, log: this.log });
    this.log(`kubelet: serving https://${node.nodeIP}:${KUBELET_PORT}`);
    return server;
  }

  /**
   * The agents the config names (sandbox: machines and processes, started here; host mode: VMs
   * of their own, which join with `lab agent`).
   */
  private async ensureAgents(loaded: Loaded): Promise<void> {
    const { config } = loaded.desired;
    if (loaded.mode === 'host') {
      // Never the token itself: this goes to the log.
      const tokenFile = config.token ? `<a file holding the token: of ${this.opts.configPath} or ${this.opts.configPath}.d/>` : `<a copy of ${nodeTokenFile(this.paths)}>`;
      if (config.agents.length) this.log(`agents ${config.agents.map((a) => a.nodeName).join(', ')}: on their own machines, joined with: lab agent --server https://${config.nodeIP}:${KUBE_API_PORT} --token-file ${tokenFile} --node-name <name> --node-ip <its eth1 address>`);
      return;
    }
    this.agents ??= new AgentMachines({ paths: this.paths, server: `https://${config.nodeIP}:${KUBE_API_PORT}`, tokenFile: nodeTokenFile(this.paths), log: this.log });
    await this.agents.ensure(config.agents, this.controlPlane!.client, laptopHostsLines(loaded.desired, config));
  }

  /** The HTTPS listeners: the machine's 127.0.0.1, and the node's own addresses. */
  private async listen(node: LabNode, config: ClusterConfig, streams: ContainerStreams): Promise<ServingApi> {
    const local = { host: '127.0.0.1', port: this.opts.localPort ?? 0 };
    const inNode =
      node.mode === 'sandbox'
        ? await Promise.all([node.nodeIP, '127.0.0.1'].map(async (host) => ({ host, port: KUBE_API_PORT, handle: await listenInNetns(this.paths.nodeNetns, host, KUBE_API_PORT) })))
        : [{ host: node.nodeIP, port: KUBE_API_PORT }];
    // Host mode: the node is this machine; 127.0.0.1:6443 is then the local listener itself.
    const listen = node.mode === 'host' ? [{ host: '127.0.0.1', port: KUBE_API_PORT }, ...inNode] : [local, ...inNode];
    const agentConfig = () => {
      const c = this.config ?? config;
      return { clusterCIDR: c.clusterCIDR, serviceCIDR: c.serviceCIDR, clusterDNS: c.clusterDNS, clusterDomain: c.clusterDomain, serviceNodePortRange: c.serviceNodePortRange, nodeCIDRMaskSize: c.nodeCIDRMaskSize };
    };
    // kube-apiserver dials the kubelets from the server node: in the sandbox, from inside its namespace.
    this.dialer ??= node.mode === 'sandbox' ? new NetnsDialer(this.paths.nodeNetns) : null;
    const kubelets = { dial: this.dialer?.dial ?? dialHere, local: { nodeName: node.name, streams } };
    const api = await serveApi(this.controlPlane!.registry, { pkiDir: this.paths.serverDir, pkiSettings: pkiSettings(config), listen, kubelets, agentConfig, agentSecret: config.token, log: this.log });
    await writeFile(nodeTokenFile(this.paths), `${api.nodeToken}\n`, { mode: 0o600 });
    if (config.token) this.log(`agents join with the token: of ${this.opts.configPath} or ${this.opts.configPath}.d/ (the API's user node); its full form is in ${nodeTokenFile(this.paths)}`);
    await writeFile(this.paths.apiPortFile, `${api.addresses[0]!.port}\n`);
    // As k3s writes its admin kubeconfig for the machine's own kubectl (host mode: the VM).
    if (node.mode === 'host') {
      await mkdir(path.dirname(K3S_KUBECONFIG), { recursive: true });
      await writeFile(K3S_KUBECONFIG, api.kubeconfig(), { mode: 0o600 });
    }
    return api;
  }

  /**
   * Resolves once every named node can take pods (registered, podCIDR, Ready, untainted: what the
   * scheduler needs to see it), or after NODES_JOIN_MS with a line naming what is missing: a broken
   * agent must not keep the workloads from the nodes that are there.
   */
  private async waitForNodes(names: string[]): Promise<void> {
    const nodes = this.controlPlane!.factory.informer<KubeObject>({ group: '', resource: 'nodes' });
    await nodes.waitForSync();
    const waiting = () => names.map((n) => nodeJoinWaiting(nodes.get(n), n)).filter((w): w is string => w !== null);
    if (!waiting().length) return;
    const t0 = Date.now();
    const left = await new Promise<string[]>((resolve) => {
      let done = false;
      const check = () => {
        if (done) return;
        const w = waiting();
        if (w.length && Date.now() - t0 < NODES_JOIN_MS && !this.stopping) return;
        done = true;
        clearTimeout(timer);
        this.stopWaiting = null;
        resolve(w);
      };
      const timer = setTimeout(check, NODES_JOIN_MS);
      this.stopWaiting = check;
      nodes.addHandlers({ add: check, update: check });
    });
    if (this.stopping) return;
    if (left.length) this.log(`applying ${this.opts.statePath} without waiting longer for the nodes (${NODES_JOIN_MS / 1000} s): ${left.join('; ')}`);
    else this.log(`nodes ${names.join(', ')} joined in ${((Date.now() - t0) / 1000).toFixed(1)} s; applying ${this.opts.statePath}`);
  }

  /** Applies the addons (all by default); a refused object fails the whole apply (the message names file and line). */
  private async applyAll(loaded: Loaded, only?: string[]): Promise<ApplyOutcome[]> {
    const out: ApplyOutcome[] = [];
    for (const [addon, manifests] of loaded.addons) if (!only || only.includes(addon)) out.push(await this.controlPlane!.apply(addon, manifests));
    // As k3s logs the API server's warnings to its deploy controller's applies (client-go's warning handler).
    for (const w of out.flatMap((o) => o.warnings)) this.log(w);
    return out;
  }

  /** Edits of either state file are applied once they hold still; a bad edit keeps the last good state. */
  private watchFiles(): void {
    const dirs = new Set([path.dirname(path.resolve(this.opts.statePath)), path.dirname(path.resolve(this.opts.configPath)), path.dirname(nodesArgFile(this.paths))]);
    // The config's drop-ins (k3s's config.yaml.d), when the directory is there at the start.
    if (existsSync(`${this.opts.configPath}.d`)) dirs.add(path.resolve(`${this.opts.configPath}.d`));
    for (const dir of dirs) {
      const w = watch(dir, () => this.scheduleApply());
      w.on('error', (e) => this.log(`watching ${dir}: ${e.message}`));
      this.watchers.push(w);
    }
  }

  private scheduleApply(): void {
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = null;
      this.applying = this.applying.then(() => this.reapply());
    }, APPLY_DEBOUNCE_MS);
  }

  /** Loads the files again and applies them when their text changed. */
  async reapply(): Promise<void> {
    const dropIns = await readConfigDropIns(this.opts.configPath).catch(() => []);
    const text = await Promise.all([this.opts.statePath, this.opts.configPath, nodesArgFile(this.paths)].map((f) => readFile(f, 'utf8').catch(() => ''))).then((t) => [...t, ...dropIns.map((d) => `${d.path}\0${d.text}`)].join('\0'));
    if (text === this.lastText) return;
    this.lastText = text;
    try {
      const loaded = await this.load(this.node?.mode);
      await this.applyToken(loaded.desired.config.token);
      this.config = loaded.desired.config;
      await this.applyAll(loaded);
      await this.ensureAgents(loaded);
      this.log(`applied ${this.opts.statePath}`);
    } catch (e) {
      const what = e instanceof ValidationError ? e.message : (e as Error).message;
      this.log(`refused, the last good state keeps serving: ${what}`);
    }
  }

  /**
   * A changed config token: the API takes the new one at once and the old one no more (a k3s
   * server's token is fixed once the cluster exists; the lab lets it change, and says what follows).
   */
  private async applyToken(token: string | undefined): Promise<void> {
    if (!this.api || token === this.config?.token) return;
    this.api.setAgentSecret(token);
    await writeFile(nodeTokenFile(this.paths), `${this.api.nodeToken}\n`, { mode: 0o600 });
    this.log(`token ${token ? 'changed' : 'removed'} in ${this.opts.configPath}: agents joined with the old one get 401 Unauthorized until they are given ${token ? 'the new one' : `the server's node-token (${nodeTokenFile(this.paths)})`}`);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.stopWaiting?.();
    this.agents?.stop();
    if (this.debounce) clearTimeout(this.debounce);
    for (const w of this.watchers.splice(0)) w.close();
    await this.applying;
    await this.roles?.stop();
    await this.dns?.stop();
    await this.ingress?.stop();
    await this.laptop?.stop();
    await this.kubeletServer?.close();
    await this.api?.close();
    this.dialer?.close();
    await this.controlPlane?.stop();
  }
}
