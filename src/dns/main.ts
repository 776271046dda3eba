// Entry point of the cluster DNS pod (the lab's CoreDNS):
//   npx tsx src/dns/main.ts --snapshot <file> [--listen 0.0.0.0] [--port 53]
//       [--refuse-external | --forward-resolv-conf <path>] [--log]
//       [--health-port 8080] [--ready-port 8181] [--poll-ms 250]
// Importable too: `main(argv)` starts a server and returns it without installing signal handlers.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { startDnsServer, type DnsServer, type DnsServerOptions } from './server.ts';

export const USAGE =
  'usage: main.ts --snapshot <file> [--listen <addr>] [--port <n>] [--refuse-external | --forward-resolv-conf <path>] [--log] [--health-port <n>] [--ready-port <n>] [--poll-ms <n>]';

/** Command line -> server options. Throws (with USAGE) on bad arguments. */
export function parseDnsArgs(argv: string[]): DnsServerOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        snapshot: { type: 'string' },
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
  };
}

export async function main(argv: string[]): Promise<DnsServer> {
  return startDnsServer(parseDnsArgs(argv));
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
