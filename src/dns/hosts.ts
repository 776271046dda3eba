// CoreDNS's `hosts` plugin as k3s configures it: `hosts /etc/coredns/NodeHosts { reload 15s }`
// answers the node names from the NodeHosts key of the coredns ConfigMap (the kubelet keeps the
// mounted file up to date), re-read when it changes. Its entries are laid over the cluster records:
// a name the file defines is answered from the file (the hosts plugin runs before kubernetes).
import fs from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { parseHostsFile, type HostsSettings } from './corefile.ts';
import { normalizeName, reverseName, type DnsRecord, type DnsSnapshot } from './records.ts';

export type HostEntry = { ip: string; names: string[] };

/** The records of hosts entries: A/AAAA for every name, PTR to the first name; `ttl`: the plugin's `ttl` option. */
export function hostsRecords(entries: HostEntry[], ttl?: number): DnsRecord[] {
  const out: DnsRecord[] = [];
  for (const e of entries) {
    if (!isIPv4(e.ip) && !isIPv6(e.ip)) continue;
    const own = ttl === undefined ? {} : { ttl };
    for (const n of e.names) out.push({ name: normalizeName(n), type: isIPv4(e.ip) ? 'A' : 'AAAA', data: e.ip, from: 'hosts', ...own });
    if (e.names[0]) out.push({ name: reverseName(e.ip), type: 'PTR', data: normalizeName(e.names[0]), from: 'hosts', ...own });
  }
  return out;
}

/** The snapshot with the hosts entries laid over it (names the file defines replace the snapshot's). Pure. */
export function overlayHosts(snapshot: DnsSnapshot, entries: HostEntry[], ttl?: number): DnsSnapshot {
  if (entries.length === 0) return snapshot;
  const extra = hostsRecords(entries, ttl);
  const names = new Set(extra.map((r) => r.name));
  return { ...snapshot, records: [...snapshot.records.filter((r) => !names.has(r.name)), ...extra] };
}

/** Reads the hosts file now and every `reloadMs` (0: once); a missing file is no entries. */
export class HostsWatcher {
  entries: HostEntry[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastText: string | null = null;

  constructor(
    private readonly settings: HostsSettings,
    private readonly log: (line: string) => void,
    /** Called after the entries changed. */
    private readonly onChange: () => void = () => {},
  ) {}

  async start(): Promise<void> {
    await this.read();
    if (this.settings.reloadMs > 0) {
      this.timer = setInterval(() => void this.read(), this.settings.reloadMs);
      this.timer.unref();
    }
  }

  async read(): Promise<void> {
    const text = await fs.promises.readFile(this.settings.file, 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (this.lastText !== '') this.log(`dns: hosts ${this.settings.file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}; no entries`);
      return '';
    });
    if (text === this.lastText) return;
    this.lastText = text;
    this.entries = [...this.settings.inline, ...parseHostsFile(text)];
    this.log(`dns: hosts ${this.settings.file}: ${this.entries.map((e) => `${e.ip} ${e.names.join(' ')}`).join(', ') || 'no entries'}`);
    this.onChange();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
