// `lab tcpdump <pod|service|node|cni0> [-- filter]`: tcpdump on the right interface, in the
// right network namespace:
//   pod      eth0 inside the pod's namespace (--veth: the pod's veth on the node instead)
//   service  every endpoint pod's veth on the node at once, each line prefixed with the pod name
//   node     eth1 on the node (where the laptop's packets arrive)
//   cni0     the bridge on the node (every pod's traffic, before/after routing)
// -w writes a capture: one target -> tcpdump's own pcap; a service -> ONE pcapng file with one
// interface per endpoint, named "<pod>/<veth>", so Wireshark shows which pod saw each packet.
import { createWriteStream, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { findPod, findService, splitRef } from '../../trace/lookup.ts';
import { loadLabContext, type LabContext } from '../../trace/observe.ts';
import { PcapngMerger } from '../../trace/pcap.ts';
import type { Netns } from '../../sys/exec.ts';
import { spawnStream, type StreamChild } from '../../sys/stream.ts';
import { labHint, log, type Common } from '../common.ts';
import { preflight, tools } from '../preflight.ts';

export type Args = Common & { target: string; filter?: string[]; '--'?: string[]; write?: string; count?: number; veth: boolean; namespace?: string };

export interface CaptureTarget {
  /** Prefix of output lines ('' for a single target). */
  label: string;
  netns: Netns;
  iface: string;
  /** What is captured, for the messages. */
  describe: string;
}

/** Where to capture for a target word (pure; throws a message naming the valid targets). */
export function captureTargets(ctx: Pick<LabContext, 'state' | 'nodeNetns' | 'index'> & { name?: string }, target: string, opts: { veth?: boolean; namespace?: string } = {}): { kind: 'pod' | 'service' | 'node' | 'cni0'; targets: CaptureTarget[] } {
  const { state, nodeNetns } = ctx;
  const ref = splitRef(target);
  const word = ref.name;
  if (!ref.kind && !ref.namespace && (word === 'cni0' || word === 'bridge')) return { kind: 'cni0', targets: [{ label: '', netns: nodeNetns, iface: 'cni0', describe: `cni0 on node ${state.nodeName}` }] };
  if (ref.kind === 'node' || (!ref.kind && !ref.namespace && (word === 'node' || word.toLowerCase() === state.nodeName.toLowerCase()))) {
    return { kind: 'node', targets: [{ label: '', netns: nodeNetns, iface: 'eth1', describe: `eth1 on node ${state.nodeName}` }] };
  }
  if (ref.kind === 'service' || (!ref.kind && !Object.values(state.pods).some((p) => p.metadata.name === word) && (state.services ?? []).some((s) => s.metadata.name === word))) {
    const svc = findService(state, target, opts.namespace);
    const sps = ctx.index.servicePortsOf(svc.metadata.namespace, svc.metadata.name);
    const pods = new Map<string, CaptureTarget>();
    for (const sp of sps) {
      for (const e of sp.endpoints) {
        const veth = e.pod?.metadata.annotations['lab/veth'];
        if (e.pod && veth && !pods.has(e.pod.metadata.name)) pods.set(e.pod.metadata.name, { label: e.pod.metadata.name, netns: nodeNetns, iface: veth, describe: `${veth} (pod ${e.pod.metadata.name})` });
      }
    }
    if (pods.size === 0) throw new Error(`service ${svc.metadata.namespace}/${svc.metadata.name} has no endpoint pod to capture on; try the bridge: '${labHint(ctx.name ?? 'lab', 'tcpdump cni0')}'`);
    return { kind: 'service', targets: [...pods.values()].sort((a, b) => a.label.localeCompare(b.label)) };
  }
  const pod = findPod(state, target, opts.namespace);
  if (opts.veth) {
    const veth = pod.metadata.annotations['lab/veth'];
    if (!veth) throw new Error(`pod ${pod.metadata.name} has no veth yet`);
    return { kind: 'pod', targets: [{ label: '', netns: nodeNetns, iface: veth, describe: `${veth} on node ${state.nodeName} (pod ${pod.metadata.name})` }] };
  }
  return { kind: 'pod', targets: [{ label: '', netns: pod.metadata.annotations['lab/netns'] ?? null, iface: 'eth0', describe: `eth0 in pod ${pod.metadata.name}` }] };
}

/** tcpdump's argv for one interface (pure). */
export function tcpdumpArgv(iface: string, opts: { write: boolean; count?: number; filter: string[] }): string[] {
  return [
    'tcpdump',
    '-n',
    // Hand each packet over at once instead of in blocks (TPACKET_V3 would delay up to a second).
    '--immediate-mode',
    '-i',
    iface,
    ...(opts.write ? ['-U', '-w', '-'] : ['-l']),
    ...(opts.count ? ['-c', String(opts.count)] : []),
    ...opts.filter,
  ];
}

/** A packet's first line in tcpdump's text output (continuation lines of -v start with white space). */
const isPacketLine = (l: string) => l.length > 0 && !/^\s/.test(l);

export async function tcpdumpHandler(a: Args): Promise<void> {
  preflight({ needRoot: true, tools: tools('tcpdump') });
  if (a.count !== undefined && (!Number.isInteger(a.count) || a.count < 1)) throw new Error('-c needs a positive number of packets');
  const ctx = await loadLabContext(a.name);
  const filter = [...(a.filter ?? []), ...(a['--'] ?? [])].map(String);
  const { kind, targets } = captureTargets(ctx, a.target, { veth: a.veth, namespace: a.namespace });
  const write = a.write !== undefined;
  const multi = kind === 'service';

  let file: WriteStream | null = null;
  let merger: PcapngMerger | null = null;
  if (a.write) {
    file = createWriteStream(a.write);
    await new Promise<void>((resolve, reject) => file!.once('open', () => resolve()).once('error', reject));
    if (multi) {
      merger = new PcapngMerger(targets.map((t) => ({ name: `${t.label}/${t.iface}`, description: t.describe })));
      file.write(merger.start());
    }
  }

  const children: StreamChild[] = [];
  let stopping = false;
  let packets = 0;
  const stopAll = () => {
    if (stopping) return;
    stopping = true;
    for (const c of children) c.stop();
  };
  const onSignal = () => stopAll();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // `lab tcpdump ... | head`: the reader went away; stop the captures instead of dying with them running.
  process.stdout.on('error', onSignal);
  const counted = (n: number) => {
    packets += n;
    if (multi && a.count && packets >= a.count) stopAll();
  };

  let listening = 0;
  let failed = false;
  log(`capturing on ${targets.map((t) => t.describe).join(', ')}${write ? ` -> ${a.write}${multi ? ' (pcapng, one interface per endpoint pod)' : ''}` : ''}`);
  try {
    for (const [i, t] of targets.entries()) {
      const child = spawnStream(tcpdumpArgv(t.iface, { write, count: a.count, filter }), { netns: t.netns });
      children.push(child);
      const prefix = multi ? `[${t.label}] ` : '';
      createInterface({ input: child.stderr }).on('line', (line) => {
        log(`${prefix}${line}`);
        if (/listening on /.test(line) && ++listening === targets.length) log(`ready: ${targets.length} capture${targets.length === 1 ? '' : 's'} running; Ctrl-C to stop`);
      });
      if (write) {
        child.stdout.on('data', (chunk: Buffer) => {
          if (merger) {
            const blocks = merger.push(i, chunk);
            if (blocks.length) file!.write(blocks);
            counted(merger.packets - packets);
          } else file!.write(chunk);
        });
      } else {
        createInterface({ input: child.stdout }).on('line', (line) => {
          if (line === '' || (multi && a.count && packets >= a.count)) return;
          process.stdout.write(`${prefix}${line}\n`);
          if (isPacketLine(line)) counted(1);
        });
      }
      void child.exited.then(({ code, signal }) => {
        // One capture failing (bad filter, interface gone) ends them all. A capture that ends by
        // itself with -c is no failure: a single target is then done; a service's captures stop
        // together once the total is reached.
        if (!stopping && (code !== 0 || signal)) {
          failed = true;
          stopAll();
        }
      });
    }
    await Promise.all(children.map((c) => c.exited));
    if (failed) process.exitCode = 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.stdout.off('error', onSignal);
    for (const c of children) c.stop();
    if (file) await new Promise<void>((resolve) => file!.end(() => resolve()));
  }
  if (a.write && merger) log(`wrote ${merger.packets} packet${merger.packets === 1 ? '' : 's'} to ${a.write} (read it with: tcpdump -r ${a.write} -n, or Wireshark)`);
  else if (a.write) log(`wrote ${a.write} (read it with: tcpdump -r ${a.write} -n, or Wireshark)`);
}
