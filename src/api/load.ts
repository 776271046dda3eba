// The API server's admission step: read lab/cluster.yaml (multi-document Kubernetes manifests) and
// lab/config.yaml (k3s settings), apply the API server's defaults, and validate everything. Like
// `kubectl apply --validate=strict` the whole state is refused when anything is wrong, with every
// problem listed as `file:line: Kind namespace/name: field.path: message`.

import { readdir, readFile } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { LineCounter, parseAllDocuments, parseDocument, type Document, type YAMLError } from 'yaml';
import type { z } from 'zod';
import { displayName, ValidationError, type Issue } from './errors.ts';
import type {
  ClusterConfig,
  ConfigMap,
  Deployment,
  DesiredState,
  EndpointSlice,
  Endpoints,
  EndpointSubset,
  Ingress,
  Service,
  Source,
} from './types.ts';
import {
  BUILTIN_NAMESPACES,
  SYSTEM_PODS,
  checkDeployments,
  checkEndpoints,
  checkIngresses,
  checkNamespacesAndDuplicates,
  checkPodCapacity,
  checkPodSecurity,
  checkServices,
  type Entry,
  type Parsed,
  type Report,
} from './schema/checks.ts';
import { configBody, configProblems, resolveConfig, type ConfigBody } from './schema/config.ts';
import { ingressBody, ingressClassBody } from './schema/ingress.ts';
import { endpointSliceBody, endpointsBody, serviceBody, SERVICE_NAME_LABEL } from './schema/service.ts';
import { Reporter, YamlDoc } from './schema/source.ts';
import { configMapBody, deploymentBody, namespaceBody } from './schema/workloads.ts';
import { fieldProblems } from './schema/zod-issues.ts';

export { ValidationError, formatIssue, type Issue } from './errors.ts';
export { BUILTIN_NAMESPACES, SYSTEM_PODS } from './schema/checks.ts';
export { K3S_DEFAULTS, LAB_DEFAULT_NODE_IP, podIPsPerNode } from './schema/config.ts';

/** The kinds the lab understands, with the one apiVersion each is served under. */
const KINDS = {
  Namespace: { apiVersion: 'v1', schema: namespaceBody, namespaced: false },
  ConfigMap: { apiVersion: 'v1', schema: configMapBody, namespaced: true },
  Deployment: { apiVersion: 'apps/v1', schema: deploymentBody, namespaced: true },
  Service: { apiVersion: 'v1', schema: serviceBody, namespaced: true },
  Endpoints: { apiVersion: 'v1', schema: endpointsBody, namespaced: true },
  EndpointSlice: { apiVersion: 'discovery.k8s.io/v1', schema: endpointSliceBody, namespaced: true },
  Ingress: { apiVersion: 'networking.k8s.io/v1', schema: ingressBody, namespaced: true },
  IngressClass: { apiVersion: 'networking.k8s.io/v1', schema: ingressClassBody, namespaced: false },
} as const satisfies Record<string, { apiVersion: string; schema: z.ZodType; namespaced: boolean }>;

type KindName = keyof typeof KINDS;

export const KNOWN_KINDS = Object.keys(KINDS) as KindName[];

/** Aliases and amplification: a manifest may not expand to more than this many aliased nodes. */
const MAX_ALIAS_COUNT = 100;

/** More manifests validated together with the state file (e.g. lab/system.yaml after substitution). */
export interface ExtraState {
  text: string;
  /** Named in messages and in each object's `source`. */
  path: string;
}

interface CommonOptions {
  /** Stands in for os.hostname(), k3s's default node-name. */
  hostname?: string;
  /**
   * Manifests loaded along with the state file, as one state: references, duplicates, addresses and
   * pod capacity are checked across all of them. Their objects come after the state file's.
   */
  extraStates?: ExtraState[];
  /**
   * Pod IPs reserved for system pods that are not Deployments of the validated state (default
   * SYSTEM_PODS: cluster DNS and the ingress controller). Pass 0 when extraStates declares them.
   */
  systemPods?: number;
}

export interface LoadOptions extends CommonOptions {
  statePath: string;
  /** Absent: every setting takes its k3s default. Given but missing: an error. */
  configPath?: string;
}

export interface ParseOptions extends CommonOptions {
  stateText: string;
  statePath: string;
  configText?: string;
  configPath?: string;
  /** The config file's drop-ins (readConfigDropIns), merged over it in order. */
  configDropIns?: ConfigFile[];
}

/** A file of k3s settings: config.yaml or one of its drop-ins. */
export interface ConfigFile {
  path: string;
  text: string;
}

/**
 * The drop-ins of a config file, as k3s finds them: the regular `*.yaml` and `*.yml` files of
 * `<config file>.d/` (lab/config.yaml.d/), in name order. None when the directory does not exist.
 */
export async function readConfigDropIns(configPath: string): Promise<ConfigFile[]> {
  const dir = `${configPath}.d`;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new Error(`cannot read config drop-in directory ${dir}: ${(err as Error).message}`, { cause: err });
  }
  const names = entries
    .filter((e) => !e.isDirectory() && /\.ya?ml$/i.test(e.name))
    .map((e) => e.name)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return Promise.all(names.map(async (n) => ({ path: `${dir}/${n}`, text: await readText(`${dir}/${n}`, 'config drop-in') })));
}

/** config.yaml with its drop-ins, read and validated. Throws ValidationError (or when the file cannot be read). */
export async function readClusterConfig(configPath: string, hostname: string = osHostname()): Promise<ClusterConfig> {
  const text = await readText(configPath, 'config file');
  return parseClusterConfig(text, configPath, hostname, await readConfigDropIns(configPath));
}

/** Reads and validates the declared state. Throws ValidationError listing every problem. */
export async function loadDesiredState(opts: LoadOptions): Promise<DesiredState> {
  const stateText = await readText(opts.statePath, 'state file');
  const configText = opts.configPath === undefined ? undefined : await readText(opts.configPath, 'config file');
  const configDropIns = opts.configPath === undefined ? [] : await readConfigDropIns(opts.configPath);
  return parseDesiredState({ ...opts, stateText, ...(configText === undefined ? {} : { configText }), configDropIns });
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw new Error(`cannot read ${what} ${path}: ${reason}`, { cause: err });
  }
}

/** The pure core of loadDesiredState: the same result from file texts. */
export function parseDesiredState(opts: ParseOptions): DesiredState {
  const reporter = new Reporter();
  const configPath = opts.configPath ?? '<k3s defaults>';
  const config = parseConfigInto(reporter, [{ path: configPath, text: opts.configText ?? '' }, ...(opts.configDropIns ?? [])], opts.hostname ?? osHostname());
  const parsed = emptyParsed();
  if (parseStateInto(reporter, opts.stateText, opts.statePath, parsed) === 0) reporter.raw(noObjectsIssue(opts.statePath));
  for (const extra of opts.extraStates ?? []) parseStateInto(reporter, extra.text, extra.path, parsed);

  const report: Report = (entry, path, message) => reporter.at(entry.src, entry.label, path, message);
  checkNamespacesAndDuplicates(parsed, report);
  checkDeployments(parsed, config, report);
  checkPodSecurity(parsed, report);
  checkServices(parsed, config, report);
  checkIngresses(parsed, report);
  checkEndpoints(parsed, report);
  if (config) checkPodCapacity(parsed, config, configPath, opts.systemPods ?? SYSTEM_PODS, report);

  if (reporter.issues.length > 0 || !config) throw new ValidationError(reporter.issues);
  return assemble(parsed, config);
}

/** config.yaml (and its drop-ins, when given), with k3s defaults for missing keys. Throws ValidationError. */
export function parseClusterConfig(text: string, path: string, hostname: string = osHostname(), dropIns: ConfigFile[] = []): ClusterConfig {
  const reporter = new Reporter();
  const config = parseConfigInto(reporter, [{ path, text }, ...dropIns], hostname);
  if (reporter.issues.length > 0 || !config) throw new ValidationError(reporter.issues);
  return config;
}

/** The configuration of a lab without config.yaml: every key at its k3s default. */
export function defaultClusterConfig(hostname: string = osHostname()): ClusterConfig {
  return parseClusterConfig('', '<k3s defaults>', hostname);
}

// ---------------------------------------------------------------------------------------------------

function yamlErrorIssue(file: string, text: string, lines: LineCounter, err: YAMLError): Issue {
  // yaml's messages end in " at line L, column C:" followed by a code excerpt; keep the first sentence.
  const first = err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  let line = err.linePos?.[0].line ?? 1;
  // An unterminated quote is only noticed at the end of the file; point at the quote that opened it
  // (the last one of its kind, since any later one would have closed it).
  const quote = err.code === 'MISSING_CHAR' ? /Missing closing (["'])quote/.exec(first)?.[1] : undefined;
  if (quote) {
    const at = text.lastIndexOf(quote, err.pos[0]);
    if (at >= 0) line = lines.linePos(at).line;
  }
  const what = quote
    ? `unterminated ${quote === '"' ? 'double' : 'single'}-quoted string`
    : err.code === 'MULTIPLE_DOCS'
      ? 'the file must hold a single YAML document'
      : first;
  return { file, line, message: `YAML syntax error: ${what}` };
}

/** kubectl drops null fields before decoding (`replicas:` with no value means "default"). */
function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropNulls);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== null) out[k] = dropNulls(v);
    return out;
  }
  return value;
}

function toPlain(reporter: Reporter, src: YamlDoc, doc: Document): unknown {
  try {
    return dropNulls(doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }));
  } catch (err) {
    reporter.raw({ file: src.file, line: src.startLine(), message: `YAML error: ${(err as Error).message}` });
    return undefined;
  }
}

const isMapping = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** One file's k3s settings, validated alone (every key is optional, so a drop-in may set one). */
function parseConfigFile(reporter: Reporter, text: string, file: string): { body: ConfigBody; src: YamlDoc } | undefined {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  if (doc.errors.length > 0) {
    for (const err of doc.errors) reporter.raw(yamlErrorIssue(file, text, lines, err));
    return undefined;
  }
  const src = new YamlDoc(file, doc, lines);
  const plain = toPlain(reporter, src, doc);
  if (plain === undefined) return undefined;
  const value = plain === null ? {} : plain; // an empty file: every key at its default
  if (!isMapping(value)) {
    reporter.raw({ file, line: src.startLine(), message: 'must be a mapping of k3s settings such as "node-ip: 192.168.56.110"' });
    return undefined;
  }
  const result = configBody.safeParse(value, { reportInput: true });
  if (!result.success) {
    for (const p of fieldProblems(configBody, result.error.issues)) reporter.at(src, undefined, p.path, p.message);
    return undefined;
  }
  return { body: result.data, src };
}

/**
 * config.yaml and its drop-ins, as k3s reads /etc/rancher/k3s/config.yaml and then
 * config.yaml.d/*.yaml: a key in a later file replaces the same key of an earlier one (k3s's
 * `key+:` appending is not supported). A problem between settings is reported in the file that set
 * the key it names.
 */
function parseConfigInto(reporter: Reporter, files: ConfigFile[], hostname: string): ClusterConfig | undefined {
  const parsed = files.map((f) => parseConfigFile(reporter, f.text, f.path));
  if (parsed.some((p) => p === undefined)) return undefined;
  const ok = parsed as { body: ConfigBody; src: YamlDoc }[];
  const body: ConfigBody = {};
  const srcOf = new Map<string, YamlDoc>();
  for (const { body: b, src } of ok) {
    for (const [k, v] of Object.entries(b)) {
      if (v === undefined) continue;
      (body as Record<string, unknown>)[k] = v;
      srcOf.set(k, src);
    }
  }
  const main = ok[0]!.src;
  const resolved = resolveConfig(body, hostname);
  const problems = configProblems(body, resolved);
  for (const p of problems) reporter.at(srcOf.get(p.key) ?? main, undefined, p.path ?? [p.key], p.message);
  if (problems.length > 0) return undefined;
  return { ...resolved, source: { file: main.file, line: main.startLine() } };
}

function objectLabel(kind: string, raw: Record<string, unknown>, namespaced: boolean): string {
  const meta = isMapping(raw.metadata) ? raw.metadata : {};
  const name = typeof meta.name === 'string' ? displayName(meta.name) : '<no name>';
  if (!namespaced) return `${kind} ${name}`;
  const ns = typeof meta.namespace === 'string' ? displayName(meta.namespace) : 'default';
  return `${kind} ${ns}/${name}`;
}

function emptyParsed(): Parsed {
  return {
    namespaces: [],
    configMaps: [],
    deployments: [],
    services: [],
    ingresses: [],
    endpoints: [],
    endpointSlices: [],
    manifests: [],
    invalid: new Set(),
  };
}

/**
 * A state file that declares nothing at all: empty, only comments or `---`, or truncated before its
 * first object (an editor that truncates before it writes). Like `kubectl apply` ("no objects passed
 * to apply") it is refused rather than read as "delete every workload".
 */
export function noObjectsIssue(file: string): Issue {
  return {
    file,
    line: 1,
    message:
      'no objects declared (the file is empty or holds only comments; an editor may still be writing it): refused, the last good state stays. ' +
      'To delete every workload on purpose, keep one object, e.g. "apiVersion: v1 / kind: Namespace / metadata: {name: default}"; `lab down` removes the whole lab',
  };
}

/**
 * Adds the objects of one file to `parsed`; problems go to `reporter`. Returns how many documents
 * held something (an object, valid or not), so that a file declaring nothing can be told apart.
 */
function parseStateInto(reporter: Reporter, text: string, file: string, parsed: Parsed): number {
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines, uniqueKeys: true });
  if (!Array.isArray(docs)) return 0; // an empty stream: nothing declared
  let declared = 0;
  for (const doc of docs) {
    if (doc.errors.length > 0) {
      declared++;
      for (const err of doc.errors) reporter.raw(yamlErrorIssue(file, text, lines, err));
      continue;
    }
    const src = new YamlDoc(file, doc, lines);
    const raw = toPlain(reporter, src, doc);
    if (raw === null) continue; // an empty document
    declared++;
    if (raw === undefined) continue; // unreadable (reported)
    if (!isMapping(raw)) {
      reporter.at(src, undefined, [], 'a manifest must be a mapping with apiVersion, kind and metadata');
      continue;
    }
    const kind = raw.kind;
    if (kind === undefined) {
      reporter.at(src, undefined, ['kind'], 'is required');
      continue;
    }
    if (typeof kind !== 'string' || !(kind in KINDS)) {
      reporter.at(src, typeof kind === 'string' ? objectLabel(kind, raw, true) : undefined, ['kind'], `unknown kind ${JSON.stringify(kind)}; the lab understands ${KNOWN_KINDS.join(', ')}`);
      continue;
    }
    const spec = KINDS[kind as KindName];
    const label = objectLabel(kind, raw, spec.namespaced);
    if (raw.apiVersion !== spec.apiVersion) {
      const got = raw.apiVersion === undefined ? 'none' : JSON.stringify(raw.apiVersion);
      reporter.at(src, label, ['apiVersion'], `${kind} is served as ${spec.apiVersion}, not ${got}`);
      continue;
    }
    if (!spec.namespaced && isMapping(raw.metadata) && raw.metadata.namespace !== undefined) {
      reporter.at(src, label, ['metadata', 'namespace'], `${kind} is cluster-scoped and has no namespace`);
      continue;
    }
    const result = spec.schema.safeParse(raw, { reportInput: true });
    if (!result.success) {
      for (const p of fieldProblems(spec.schema, result.error.issues)) reporter.at(src, label, p.path, p.message);
      const name = isMapping(raw.metadata) ? raw.metadata.name : undefined;
      if (typeof name === 'string') parsed.invalid.add(`${kind}/${name}`);
      continue;
    }
    parsed.manifests.push({ object: raw, source: { file: src.file, line: src.startLine() } });
    // Each kind's list gets its own typed entry; the casts only re-attach what the schema produced.
    const entry = { obj: result.data, src, label } as Entry<never>;
    switch (kind as KindName) {
      case 'Namespace': parsed.namespaces.push(entry); break;
      case 'ConfigMap': parsed.configMaps.push(entry); break;
      case 'Deployment': parsed.deployments.push(entry); break;
      case 'Service': parsed.services.push(entry); break;
      case 'Endpoints': parsed.endpoints.push(entry); break;
      case 'EndpointSlice': parsed.endpointSlices.push(entry); break;
      case 'Ingress': parsed.ingresses.push(entry); break;
      // Applied to the API (parsed.manifests) only: the old path's controller has no use for it.
      case 'IngressClass': break;
    }
  }
  return declared;
}

function sourced<T>(e: Entry<T>): T & { source: Source } {
  return { ...e.obj, source: { file: e.src.file, line: e.src.startLine() } };
}

/**
 * EndpointSlices -> Endpoints, one per Service (the kubernetes.io/service-name label), one subset per
 * slice. An endpoint is ready unless its conditions say not ready or terminating (nil ready = ready).
 */
export function endpointsFromSlices(slices: (Omit<EndpointSlice, 'source'> & { source?: Source })[]): Endpoints[] {
  const byService = new Map<string, Endpoints>();
  for (const slice of slices) {
    const { namespace, labels } = slice.metadata;
    const name = labels[SERVICE_NAME_LABEL]!;
    const id = `${namespace}/${name}`;
    let ep = byService.get(id);
    if (!ep) {
      ep = {
        apiVersion: 'v1',
        kind: 'Endpoints',
        metadata: { name, namespace, labels: {}, annotations: {} },
        subsets: [],
        ...(slice.source ? { source: slice.source } : {}),
      };
      byService.set(id, ep);
    }
    const subset: EndpointSubset = { addresses: [], notReadyAddresses: [], ports: [] };
    for (const e of slice.endpoints) {
      const address = {
        ip: e.addresses[0]!,
        ...(e.nodeName !== undefined ? { nodeName: e.nodeName } : {}),
        ...(e.hostname !== undefined ? { hostname: e.hostname } : {}),
        ...(e.targetRef !== undefined ? { targetRef: e.targetRef } : {}),
      };
      const ready = (e.conditions.ready ?? true) && !(e.conditions.terminating ?? false);
      (ready ? subset.addresses : subset.notReadyAddresses).push(address);
    }
    subset.ports = slice.ports.map((p) => ({ name: p.name, port: p.port, protocol: p.protocol }));
    ep.subsets.push(subset);
  }
  return [...byService.values()];
}

function assemble(p: Parsed, config: ClusterConfig): DesiredState {
  const namespaces: string[] = [...BUILTIN_NAMESPACES];
  const namespaceLabels: Record<string, Record<string, string>> = {};
  for (const ns of p.namespaces) {
    if (!namespaces.includes(ns.obj.metadata.name)) namespaces.push(ns.obj.metadata.name);
    namespaceLabels[ns.obj.metadata.name] = ns.obj.metadata.labels;
  }
  return {
    config,
    configMaps: p.configMaps.map(sourced) as ConfigMap[],
    deployments: p.deployments.map(sourced) as Deployment[],
    services: p.services.map(sourced) as Service[],
    ingresses: p.ingresses.map(sourced) as Ingress[],
    endpoints: [...(p.endpoints.map(sourced) as Endpoints[]), ...endpointsFromSlices(p.endpointSlices.map(sourced))],
    namespaces,
    namespaceLabels,
    manifests: p.manifests,
  };
}

