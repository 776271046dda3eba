// The CNI specification (1.0.0) as a container runtime sees it: network configuration lists, the
// arguments a plugin gets (CNI_* environment variables, its config on stdin), the result it prints
// and the error it prints. How a runtime turns a list into each plugin's config follows libcni
// (containernetworking/cni, which containerd uses through go-cni). Pure.

export const CNI_SPEC_VERSION = '1.0.0';
export type CniCommand = 'ADD' | 'DEL' | 'CHECK';

/** One plugin of a list: its `type` names the executable; the rest is the plugin's own. */
export interface PluginConf {
  type: string;
  name?: string;
  /** Capabilities whose runtime data the plugin wants in `runtimeConfig` (portMappings, bandwidth). */
  capabilities?: Record<string, boolean>;
  [key: string]: unknown;
}

export interface NetConfList {
  cniVersion: string;
  name: string;
  disableCheck?: boolean;
  plugins: PluginConf[];
}

export interface CniInterface {
  name: string;
  mac?: string;
  mtu?: number;
  /** The container's netns path for an interface inside it; absent for the host's. */
  sandbox?: string;
}

export interface CniIp {
  /** Index into `interfaces`. */
  interface?: number;
  /** CIDR notation: the address and its subnet's prefix (10.42.0.5/24). */
  address: string;
  gateway?: string;
}

export interface CniRoute {
  dst: string;
  gw?: string;
}

export interface CniResult {
  cniVersion: string;
  interfaces?: CniInterface[];
  ips?: CniIp[];
  routes?: CniRoute[];
  dns?: { nameservers?: string[]; domain?: string; search?: string[]; options?: string[] };
}

/** What the runtime passes to every plugin of a list (libcni's RuntimeConf). */
export interface RuntimeConf {
  containerId: string;
  /** The container's network namespace (/run/netns/<name>); '' for a DEL whose namespace is gone. */
  netns: string;
  ifName: string;
  /** CNI_ARGS, in order. */
  args: [string, string][];
  /** Runtime data for the capabilities plugins declare. */
  capabilityArgs: Record<string, unknown>;
}

/**
 * A plugin's error as the spec has it printed on stdout ({code, msg, details}) with a non-zero exit
 * status; Error() reads as the Go types.Error does: "msg; details".
 */
export class PluginError extends Error {
  constructor(
    readonly code: number,
    readonly msg: string,
    readonly details?: string,
  ) {
    super(details ? `${msg}; ${details}` : msg);
  }
}

/**
 * A plugin of a list failed: libcni's wording, `plugin type="flannel" failed (add): <its error>`
 * (the form k3s users know from `kubectl describe pod`).
 */
export class PluginListError extends Error {
  constructor(
    readonly plugin: string,
    readonly command: CniCommand,
    override readonly cause: Error,
  ) {
    super(`plugin type=${JSON.stringify(plugin)} failed (${command === 'DEL' ? 'delete' : command.toLowerCase()}): ${cause.message}`);
  }
}

// Validation as libcni does it before running anything (ValidateContainerID, ValidateNetworkName,
// ValidateInterfaceName): these end up in file names and in the kernel's interface names.
const ID_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function validateRuntimeConf(rt: RuntimeConf, network: string): void {
  if (!ID_RE.test(rt.containerId)) throw new Error(`invalid characters in containerID ${JSON.stringify(rt.containerId)}`);
  if (!ID_RE.test(network)) throw new Error(`invalid characters found in network name ${JSON.stringify(network)}`);
  const n = rt.ifName;
  if (n.length === 0 || n.length > 15 || n === '.' || n === '..' || /[/:\s]/.test(n)) throw new Error(`interface name ${JSON.stringify(n)} is not valid`);
  for (const [k, v] of rt.args) if (/[;=\0\n]/.test(k) || /[;\0\n]/.test(v)) throw new Error(`invalid CNI_ARGS pair ${k}=${v}`);
}

/** The environment a plugin runs with (libcni's Args.AsEnv), on top of the runtime's own. */
export function pluginEnv(command: CniCommand, rt: RuntimeConf, cniPath: string[]): Record<string, string> {
  return {
    CNI_COMMAND: command,
    CNI_CONTAINERID: rt.containerId,
    CNI_NETNS: rt.netns,
    CNI_ARGS: rt.args.map(([k, v]) => `${k}=${v}`).join(';'),
    CNI_IFNAME: rt.ifName,
    CNI_PATH: cniPath.join(':'),
  };
}

/**
 * The config one plugin of a list gets on stdin (libcni's buildOneConfig): the plugin's own keys,
 * the list's `name` and `cniVersion`, the previous plugin's result as `prevResult` (ADD), or the
 * cached result (DEL, CHECK), and `runtimeConfig` with the runtime's data for each capability the
 * plugin declares, when the runtime has some.
 */
export function pluginConfig(list: NetConfList, plugin: PluginConf, prevResult: CniResult | undefined, rt: RuntimeConf): Record<string, unknown> {
  const conf: Record<string, unknown> = { ...plugin, name: list.name, cniVersion: list.cniVersion };
  if (prevResult) conf.prevResult = prevResult;
  const runtimeConfig: Record<string, unknown> = {};
  for (const [cap, on] of Object.entries(plugin.capabilities ?? {})) if (on && cap in rt.capabilityArgs) runtimeConfig[cap] = rt.capabilityArgs[cap];
  if (Object.keys(runtimeConfig).length) conf.runtimeConfig = runtimeConfig;
  return conf;
}

/** JSON as Go's encoding/json writes a map: keys sorted (what libcni hands a plugin, what flannel saves). */
export function goJson(value: unknown): string {
  const sorted = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sorted);
    if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted((v as Record<string, unknown>)[k])]));
    return v;
  };
  return JSON.stringify(sorted(value));
}

/** `a >= b` for CNI versions ("0.3.1", "1.0.0"). */
export function versionAtLeast(a: string, b: string): boolean {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) > (pb[i] ?? 0);
  return true;
}

/** A network configuration list, or a single network config (.conf) as a list of one (libcni's ConfListFromConf). */
export function parseNetConf(text: string, file: string): NetConfList {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: error parsing configuration: ${(e as Error).message}`, { cause: e });
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${file}: error parsing configuration: not a JSON object`);
  const o = raw as Record<string, unknown>;
  const plugins = 'plugins' in o ? o.plugins : [Object.fromEntries(Object.entries(o).filter(([k]) => k !== 'name' && k !== 'cniVersion'))];
  if (typeof o.name !== 'string' || o.name === '') throw new Error(`${file}: error parsing configuration list: no name`);
  if (typeof o.cniVersion !== 'string') throw new Error(`${file}: error parsing configuration list: no cniVersion`);
  if (!Array.isArray(plugins) || plugins.length === 0) throw new Error(`${file}: error parsing configuration list: no plugins in list`);
  for (const [i, p] of plugins.entries()) {
    if (!p || typeof p !== 'object' || typeof (p as PluginConf).type !== 'string' || !/^[a-z0-9][a-z0-9._-]*$/.test((p as PluginConf).type)) throw new Error(`${file}: plugin ${i}: no valid "type"`);
  }
  return { cniVersion: o.cniVersion, name: o.name, ...(o.disableCheck === true ? { disableCheck: true } : {}), plugins: plugins as PluginConf[] };
}

/**
 * What a plugin's exit tells (invoke's pluginErr): its stdout's error object, or, when it printed
 * none (a Go panic goes to stderr), a message made from what it did print.
 */
export function pluginFailure(exitCode: number, stdout: string, stderr: string): PluginError {
  if (stdout.trim() === '') {
    return new PluginError(999, stderr.trim() === '' ? `netplugin failed with no error message: exit status ${exitCode}` : `netplugin failed: ${JSON.stringify(stderr)}`);
  }
  try {
    const e = JSON.parse(stdout) as { code?: unknown; msg?: unknown; details?: unknown };
    return new PluginError(typeof e.code === 'number' ? e.code : 999, typeof e.msg === 'string' ? e.msg : '', typeof e.details === 'string' && e.details ? e.details : undefined);
  } catch (e) {
    return new PluginError(999, `netplugin failed but error parsing its diagnostic message ${JSON.stringify(stdout)}: ${(e as Error).message}`);
  }
}

/** A plugin's result (ADD), checked for the shape the spec gives it. */
export function parseResult(stdout: string): CniResult {
  let r: unknown;
  try {
    r = JSON.parse(stdout);
  } catch (e) {
    throw new PluginError(999, `decoding version from network config: ${(e as Error).message}`);
  }
  const o = r as CniResult;
  if (!o || typeof o !== 'object' || typeof o.cniVersion !== 'string') throw new PluginError(999, 'result has no cniVersion');
  for (const k of ['interfaces', 'ips', 'routes'] as const) if (o[k] !== undefined && !Array.isArray(o[k])) throw new PluginError(999, `result: ${k} is not a list`);
  if (o.ips?.some((ip) => typeof ip.address !== 'string')) throw new PluginError(999, 'result: an IP config has no address');
  return o;
}

// --- Reading a result ----------------------------------------------------------------------

/** The container's addresses (without the prefix): those on an interface inside the sandbox. */
export function containerIPs(r: CniResult): string[] {
  return (r.ips ?? []).filter((ip) => ip.interface === undefined || r.interfaces?.[ip.interface]?.sandbox).map((ip) => ip.address.split('/')[0]!);
}

/** The host side of the container's veth: a host interface that is not the bridge. */
export function hostVeth(r: CniResult, bridge: string): string | undefined {
  return r.interfaces?.find((i) => !i.sandbox && i.name !== bridge)?.name;
}
