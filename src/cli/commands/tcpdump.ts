// `lab tcpdump <pod|service|node|cni0> [-- filter]`: tcpdump on the right interface, in the
// right network namespace:
//   pod      eth0 inside the pod's namespace (--veth: the pod's veth on the node instead)
//   service  every endpoint pod's veth on the node at once, each line prefixed with the pod name
//   node     eth1 on a node (`node` = the server's, `node/<name>` = that node's): where the laptop's
//            packets arrive and where flannel's VXLAN leaves for the other nodes
//   cni0     the bridge on a node (--node, default the server's): every pod's traffic there
// Each node's interfaces are read in that node's namespace (nodes.ts: the one its Node object
// names, accepted only when it is one of this lab's own); a pod's veth on the node it runs on.
//
// VXLAN on eth1: flannel sends on UDP 8472 (the Linux kernel's old default), not IANA's 4789, and
// tcpdump only decodes 4789 as VXLAN by itself (8472 it prints as OTV, "overlay 0, instance 1"). `-T vxlan` makes it decode
// every packet its filter selects as VXLAN, so it cannot go on one capture of everything (ARP and
// the laptop's TCP would be misread). Printing eth1, two tcpdump processes run on it, merged line by
// line as they arrive: one `-T vxlan udp port 8472` (outer node IPs, VNI, then the inner pod frame),
// one `not udp port 8472` (the rest, plain). One process with a single filter cannot do both. A
// capture written to a file (-w), or eth1 of a one-node lab (no VXLAN), stays one tcpdump of everything: the decoding is the reader's
// (Wireshark decodes 8472 as VXLAN by default; `tcpdump -r f -T vxlan udp port 8472`).
// -w writes a capture: one target -> tcpdump's own pcap; a service -> ONE pcapng file with one
// interface per endpoint, named "<pod>/<veth>", so Wireshark shows which pod saw each packet.
import { createWriteStream, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { findPod, findService, splitRef } from '../../trace/lookup.ts';
import { loadLabContext, pickNode, podNode, type LabContext } from '../../trace/observe.ts';
import { reachableNode } from '../../trace/nodes.ts';
import { PcapngMerger } from '../../trace/pcap.ts';
import type { Netns } from '../../sys/exec.ts';
import { spawnStream, type StreamChild } from '../../sys/stream.ts';
import { labHint, log, type Common } from '../common.ts';
import { preflight, tools } from '../preflight.ts';

export type Args = Common & { target: string; filter?: string[]; '--'?: string[]; write?: string; count?: number; veth: boolean; namespace?: string; node?: string };

/** flannel's VXLAN port (the kernel's pre-IANA default, what flannel's vxlan backend uses). */
export const VXLAN_PORT = 8472;

export interface CaptureTarget {
  /** Prefix of output lines ('' for a single target). */
  label: string;
  netns: Netns;
  iface: string;
  /** What is captured, for the messages. */
  describe: string;
  /** eth1 printed as text: this process takes flannel's VXLAN (decoded) or everything else. */
  split?: 'vxlan' | 'other';
}

/** Where to capture for a target word (pure; throws a message naming the valid targets). */
export function captureTargets(
  ctx: Pick<LabContext, 'state' | 'nodeNetns' | 'index' | 'nodes'> & { name?: string },
  target: string,
  opts: { veth?: boolean; namespace?: string; node?: string; write?: boolean } = {},
): { kind: 'pod' | 'service' | 'node' | 'cni0'; targets: CaptureTarget[] } {
  const { state } = ctx;
  const ref = splitRef(target);
  const word = ref.name;
  if (!ref.kind && !ref.namespace && (word === 'cni0' || word === 'bridge')) {
    const node = pickNode(ctx, opts.node);
    return { kind: 'cni0', targets: [{ label: '', netns: node.netns, iface: 'cni0', describe: `cni0 on node ${node.name}` }] };
  }
  const nodeNamed = (n: string) => ctx.nodes.find((x) => x.name.toLowerCase() === n.toLowerCase());
  if (ref.kind === 'node' || (!ref.kind && !ref.namespace && (word === 'node' || nodeNamed(word) || word.toLowerCase() === state.nodeName.toLowerCase()))) {
    const node = ref.kind === 'node' || word !== 'node' ? (ctx.nodes.length ? reachableNode(ctx.nodes, word) : pickNode(ctx)) : pickNode(ctx, opts.node);
    const describe = `eth1 on node ${node.name}`;
    // One node: no VXLAN on eth1, one plain capture.
    if (opts.write || ctx.nodes.length < 2) return { kind: 'node', targets: [{ label: '', netns: node.netns, iface: 'eth1', describe }] };
    return {
      kind: 'node',
      targets: [
        { label: '', netns: node.netns, iface: 'eth1', describe: `${describe} (VXLAN, udp port ${VXLAN_PORT}, decoded)`, split: 'vxlan' },
        { label: '', netns: node.netns, iface: 'eth1', describe: `${describe} (everything else)`, split: 'other' },
      ],
    };
  }
  if (ref.kind === 'service' || (!ref.kind && !Object.values(state.pods).some((p) => p.metadata.name === word) && (state.services ?? []).some((s) => s.metadata.name === word))) {
    const svc = findService(state, target, opts.namespace);
    const sps = ctx.index.servicePortsOf(svc.metadata.namespace, svc.metadata.name);
    const pods = new Map<string, CaptureTarget>();
    for (const sp of sps) {
      for (const e of sp.endpoints) {
        const veth = e.pod?.metadata.annotations['lab/veth'];
        if (!e.pod || !veth || pods.has(e.pod.metadata.name)) continue;
        // Each endpoint's veth is on the node its pod runs on.
        const node = podNode(ctx, e.pod);
        pods.set(e.pod.metadata.name, { label: e.pod.metadata.name, netns: node.netns, iface: veth, describe: `${veth} on node ${node.name} (pod ${e.pod.metadata.name})` });
      }
    }
    if (pods.size === 0) throw new Error(`service ${svc.metadata.namespace}/${svc.metadata.name} has no endpoint pod to capture on; try the bridge: '${labHint(ctx.name ?? 'lab', 'tcpdump cni0')}'`);
    return { kind: 'service', targets: [...pods.values()].sort((a, b) => a.label.localeCompare(b.label)) };
  }
  const pod = findPod(state, target, opts.namespace);
  if (opts.veth) {
    const veth = pod.metadata.annotations['lab/veth'];
    if (!veth) throw new Error(`pod ${pod.metadata.name} has no veth yet`);
    const node = podNode(ctx, pod);
    return { kind: 'pod', targets: [{ label: '', netns: node.netns, iface: veth, describe: `${veth} on node ${node.name} (pod ${pod.metadata.name})` }] };
  }
  return { kind: 'pod', targets: [{ label: '', netns: pod.metadata.annotations['lab/netns'] ?? null, iface: 'eth0', describe: `eth0 in pod ${pod.metadata.name}` }] };
}

/** tcpdump's options that take a value (so the value is not taken for the filter expression). */
const VALUE_OPTIONS = new Set(['-s', '-y', '-B', '-j', '-E', '-T', '-Q', '-z', '-Z', '-F', '-W', '-C', '-G', '--snapshot-length', '--direction', '--time-stamp-type', '--linktype']);

/** The user's words after `--`: tcpdump options first, then the filter expression (pure). */
export function splitUserFilter(words: string[]): { options: string[]; expression: string[] } {
  let i = 0;
  while (i < words.length && words[i]!.startsWith('-')) i += VALUE_OPTIONS.has(words[i]!) && !words[i]!.includes('=') ? 2 : 1;
  return { options: words.slice(0, i), expression: words.slice(i) };
}

/** tcpdump's argv for one interface (pure). */
export function tcpdumpArgv(iface: string, opts: { write: boolean; count?: number; filter: string[]; split?: 'vxlan' | 'other' }): string[] {
  let filter = opts.filter;
  if (opts.split) {
    // The user's expression applies to the outer packet on eth1, ANDed with the split's.
    const { options, expression } = splitUserFilter(opts.filter);
    const own = opts.split === 'vxlan' ? `udp port ${VXLAN_PORT}` : `not udp port ${VXLAN_PORT}`;
    filter = [...options, ...(opts.split === 'vxlan' ? ['-T', 'vxlan'] : []), expression.length ? `(${own}) and (${expression.join(' ')})` : own];
  }
  return [
    'tcpdump',
    '-n',
    // Hand each packet over at once instead of in blocks (TPACKET_V3 would delay up to a second).
    '--immediate-mode',
    '-i',
    iface,
    ...(opts.write ? ['-U', '-w', '-'] : ['-l']),
    ...(opts.count ? ['-c', String(opts.count)] : []),
    ...filter,
  ];
}

/** A packet's first line in tcpdump's text output (continuation lines of -v start with white space). */
const isPacketLine = (l: string) => l.length > 0 && !/^\s/.test(l);

export async function tcpdumpHandler(a: Args): Promise<void> {
  preflight({ needRoot: true, tools: tools('tcpdump') });
  if (a.count !== undefined && (!Number.isInteger(a.count) || a.count < 1)) throw new Error('-c needs a positive number of packets');
  const ctx = await loadLabContext(a.name);
  const filter = [...(a.filter ?? []), ...(a['--'] ?? [])].map(String);
  const { targets } = captureTargets(ctx, a.target, { veth: a.veth, namespace: a.namespace, node: a.node, write: a.write !== undefined });
  const write = a.write !== undefined;
  // Several captures (a service's endpoints, eth1's two halves): -c counts their packets together.
  const multi = targets.length > 1;

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
      const child = spawnStream(tcpdumpArgv(t.iface, { write, count: a.count, filter, split: t.split }), { netns: t.netns });
      children.push(child);
      const prefix = t.label ? `[${t.label}] ` : '';
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
        // tcpdump -T vxlan ends the outer line after "vni N" and prints the inner frame on the
        // next one: the two go out together, so the other capture's lines never split them.
        let outer: string | null = null;
        createInterface({ input: child.stdout }).on('line', (line) => {
          if (line === '' || (multi && a.count && packets >= a.count)) return;
          if (t.split === 'vxlan' && outer === null && /VXLAN, .*vni \d+$/.test(line)) {
            outer = line;
            return;
          }
          const text = outer !== null ? `${prefix}${outer}\n${prefix}${line}\n` : `${prefix}${line}\n`;
          const packet = outer !== null || isPacketLine(line);
          outer = null;
          process.stdout.write(text);
          if (packet) counted(1);
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
