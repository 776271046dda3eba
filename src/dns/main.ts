// Entry point of the cluster DNS pod (the lab's CoreDNS):
//   npx tsx src/dns/main.ts --snapshot <file> [-conf /etc/coredns/Corefile] [--listen 0.0.0.0] [--port 53]
//       [--refuse-external | --forward-resolv-conf <path>] [--log]
//       [--health-port 8080] [--ready-port 8181] [--poll-ms 250]
// With a Corefile (CoreDNS's `-conf`, the coredns ConfigMap k3s ships), what the Corefile says wins
// over the flags (port, health, ready, log, forward, hosts, cache); the flags stay the defaults for
// what it does not say. One exception: --refuse-external, the sandbox's seal, beats its `forward`
// (nothing leaves the sandbox, whatever a learner writes into the ConfigMap).
// Importable too: `main(argv)` starts a server and returns it without installing signal handlers.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { corednsSettings, parseCorefile, type CorednsSettings } from './corefile.ts';
import { startDnsServer, type DnsServer, type DnsServerOptions } from './server.ts';

export const USAGE =
  'usage: main.ts --snapshot <file> [-conf <Corefile>] [--listen <addr>] [--port <n>] [--refuse-external | --forward-resolv-conf <path>] [--log] [--health-port <n>] [--ready-port <n>] [--poll-ms <n>]';

/** Command line -> server options. Throws (with USAGE) on bad arguments. */
export function parseDnsArgs(argv: string[]): DnsServerOptions & { conf?: string; refuseExplicit: boolean } {
  let values;
  try {
    ({ values } = parseArgs({
      // CoreDNS's flags are Go's single-dash ones: -conf.
      args: argv.map((a) => (a === '-conf' ? '--conf' : a.startsWith('-conf=') ? `-${a}` : a)),
      strict: true,
      allowPositionals: false,
      options: {
        snapshot: { type: 'string' },
        conf: { type: 'string' },
        listen: { type: 'string', default: '0.0.0.0' },
        port: { type: 'string', default: '53' },
        'forward-resolv-conf': { type: 'string' },
        'refuse-external': { type: 'boolean', default: false },
        log: { type: 'boolean', default: false },
        'health-port': { type: 'string' },
        'ready-port': { type: 'string' },
        'poll-ms': { type: 'string', default: '250' },
      },
    }));
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${USAGE}`, { cause: err });
  }
  if (!values.snapshot) throw new Error(`--snapshot is required\n${USAGE}`);
  if (values['forward-resolv-conf'] && values['refuse-external']) throw new Error(`--forward-resolv-conf and --refuse-external exclude each other\n${USAGE}`);
  const int = (name: string, v: string | undefined, min: number): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > 65535) throw new Error(`--${name} must be an integer ${min}..65535, got ${JSON.stringify(v)}`);
    return n;
  };
  const resolvConf = values['forward-resolv-conf'];
  return {
    snapshotPath: path.resolve(values.snapshot),
    listen: values.listen,
    port: int('port', values.port, 0),
    external: resolvConf ? { mode: 'forward', resolvConf } : { mode: 'refuse' },
    queryLog: values.log,
    healthPort: int('health-port', values['health-port'], 0),
    readyPort: int('ready-port', values['ready-port'], 0),
    pollMs: int('poll-ms', values['poll-ms'], 10),
    conf: values.conf,
    refuseExplicit: values['refuse-external'],
  };
}

/**
 * The flags' options with the Corefile's settings laid over them. Pure; `log` receives what was
 * ignored or overridden. Only the root zone's server block is read (k3s's Corefile has only it).
 */
export function applyCorefile(base: DnsServerOptions & { refuseExplicit?: boolean }, s: CorednsSettings, log: (line: string) => void): DnsServerOptions {
  const out: DnsServerOptions = { ...base, port: s.port };
  delete (out as { refuseExplicit?: boolean }).refuseExplicit;
  if (s.healthPort !== undefined) out.healthPort = s.healthPort;
  if (s.readyPort !== undefined) out.readyPort = s.readyPort;
  if (s.log) out.queryLog = base.queryLog || true;
  if (s.hosts) out.hosts = s.hosts;
  if (s.cacheTtl !== undefined) out.cacheTtl = s.cacheTtl;
  if (s.forward) {
    const { from, to } = s.forward;
    if (from !== '.') log(`dns: Corefile: forward ${from} ignored: the lab forwards only the root zone (forward . ...)`);
    else if (base.refuseExplicit) log(`dns: Corefile: forward . ${to.join(' ')} overridden by --refuse-external (sandbox: nothing leaves)`);
    else if (to[0]!.startsWith('/')) out.external = { mode: 'forward', resolvConf: to[0]! };
    else {
      const ips = to.map((t) => t.replace(/^dns:\/\//, '').replace(/:53$/, ''));
      const bad = ips.filter((ip) => !/^[0-9a-fA-F:.]+$/.test(ip) || /^\d+\.\d+\.\d+\.\d+:\d+$/.test(ip));
      if (bad.length > 0) log(`dns: Corefile: forward targets not supported (plain IP, port 53 only): ${bad.join(', ')}`);
      const good = ips.filter((ip) => !bad.includes(ip));
      if (good.length > 0) out.external = { mode: 'forward', nameservers: good };
    }
  }
  if (s.ignored.length > 0) log(`dns: Corefile: not implemented by the lab, ignored: ${s.ignored.join(', ')}`);
  return out;
}

export async function main(argv: string[], log: (line: string) => void = (l) => console.log(l)): Promise<DnsServer> {
  const opts = parseDnsArgs(argv);
  if (!opts.conf) return startDnsServer(opts);
  // A bad Corefile stops the server, as CoreDNS refuses to start (the error names the line).
  const settings = corednsSettings(parseCorefile(readFileSync(opts.conf, 'utf8'), opts.conf), opts.conf);
  log(`dns: Corefile ${opts.conf}: .:${settings.port}${settings.kubernetes ? `, kubernetes ${settings.kubernetes.zones.join(' ')}` : ''}${settings.hosts ? `, hosts ${settings.hosts.file}` : ''}${settings.forward ? `, forward ${settings.forward.from} ${settings.forward.to.join(' ')}` : ''}${settings.cacheTtl !== undefined ? `, cache ${settings.cacheTtl}` : ''}`);
  const { conf: _conf, ...rest } = opts;
  return startDnsServer({ ...applyCorefile(rest, settings, log), log });
}

// Run directly (`npx tsx src/dns/main.ts ...`): serve until SIGTERM/SIGINT, then close and exit 0.
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (server) => {
      // Signals can arrive twice (a process-group kill plus tsx relaying it to its child): handle
      // the first, ignore the rest instead of letting the default handler kill us mid-close.
      let stopping = false;
      const stop = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        console.log(`dns: ${signal}, shutting down`);
        void server.close().then(() => process.exit(0));
        setTimeout(() => process.exit(0), 2000).unref();
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    },
    (err: Error) => {
      console.error(`dns: ${err.message}`);
      process.exit(1);
    },
  );
}
