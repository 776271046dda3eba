// Issue 6 acceptance: the learner's tools against a real sandbox — lab trace, tcpdump, exec,
// describe, explain. Every claim a tool prints is checked against the kernel independently
// (iptables-save -c, conntrack -L, ip link, sysctl) or against the pod that really answered
// (each echo pod serves its own name). The instance is run by its server (`lab up`): the
// tools read the cluster from its kine store (src/trace/api-view.ts), the pods' sandboxes are
// found in the kernel (test/e2e/pod-sandbox.ts), not in annotations the API objects do not carry.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpointChainName, serviceChainName } from '../../src/proxy/names.ts';
import { cmd, curl, getPods, inNetns, isRoot, lab, LAB_BIN, labOk, ROOT, type PodJson } from './helpers.ts';
import { podNetns, podVeth } from './pod-sandbox.ts';

const I = 'e2et';
const NODE = `${I}-node`;
const HOST = `${I}-host`;
const STATE = 'test/fixtures/e2e/tools.yaml';

interface SvcJson {
  metadata: { name: string; namespace: string };
  spec: { clusterIP: string; ports: { name: string; port: number; nodePort?: number }[] };
}

interface LegJson {
  role: string;
  service?: { name: string; kind: string };
  sepChain?: string;
  svcChain?: string;
  sepEvidence?: string;
  rules: { chain: string; text: string; packets: number }[];
  dnat?: { from: string; to: string; pod?: { name: string; ip: string } };
  snat?: { from: string; to: string };
  conntrack?: { original: { src: string; dst: string; sport: number; dport: number }; reply: { src: string; dst: string; sport: number; dport: number } };
}

interface TraceJson {
  legs: LegJson[];
  dns?: { fqdn?: string; addresses: string[]; method: string; leg?: LegJson };
  ingress?: { pod: { name: string }; log?: { host: string; upstream: string; backend: string } };
  answeredBy?: { name: string; ip: string; port: number; veth?: string; log: string[] };
  response: { ok: boolean; httpCode?: number; body: string };
  hops: { kind: string; title: string; lines: string[] }[];
  warnings: string[];
}

const nodeSh = (argv: string[]) => inNetns(NODE, argv);

/** KUBE-SEP chains of a Service port whose DNAT counter moved between two `iptables-save -c` dumps. */
function movedSeps(before: string, after: string, comment: string): string[] {
  const dnat = (text: string) =>
    new Map(
      text
        .split('\n')
        .filter((l) => l.includes(`--comment "${comment}"`) && l.includes(' -j DNAT '))
        .map((l) => [l.replace(/^\[\d+:\d+\] /, ''), Number(l.match(/^\[(\d+):/)?.[1] ?? -1)]),
    );
  const b = dnat(before);
  return [...dnat(after)].filter(([rule, n]) => n !== b.get(rule)).map(([rule]) => rule.split(' ')[1]!);
}

async function natSave(): Promise<string> {
  const r = await nodeSh(['iptables-save', '-c', '-t', 'nat']);
  expect(r.code).toBe(0);
  return r.stdout;
}

/** A running `lab tcpdump`, its output collected. */
interface Capture {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
}

function startCapture(args: string[]): Capture {
  const child = spawn(process.execPath, [LAB_BIN, 'tcpdump', '--name', I, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  captures.add(child);
  void exited.then(() => captures.delete(child));
  return { child, out: () => out, err: () => err, exited };
}

const captures = new Set<ChildProcess>();

async function waitFor(what: string, cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** tcpdump processes inside the node namespace (what `lab tcpdump` must not leave behind). */
function tcpdumpsInNode(): number[] {
  let ino: number;
  try {
    ino = statSync(`/run/netns/${NODE}`).ino;
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('tcpdump\0')) continue;
      if (statSync(`/proc/${pid}/ns/net`).ino === ino) out.push(Number(pid));
    } catch {
      /* gone */
    }
  }
  return out;
}

describe.skipIf(!isRoot)('the learner\'s tools: trace, tcpdump, exec, describe, explain', () => {
  let pods: PodJson[];
  let svcs: SvcJson[];
  let client: PodJson;
  let ingress: PodJson;
  const tmpFiles: string[] = [];
  const svc = (name: string) => svcs.find((s) => s.metadata.name === name)!;
  const podIP = (name: string) => pods.find((p) => p.metadata.name === name)!.status.podIP!;
  const echoPods = () => pods.filter((p) => p.metadata.labels.app === 'echo');

  beforeAll(async () => {
    await labOk(['up', '--name', I, '--state', STATE]);
    pods = await getPods(I, true);
    svcs = (JSON.parse((await labOk(['get', 'svc', '-A', '--name', I, '-o', 'json'])).stdout) as { items: SvcJson[] }).items;
    client = pods.find((p) => p.metadata.labels.app === 'client')!;
    ingress = pods.find((p) => p.metadata.labels['app.kubernetes.io/name'] === 'ingress-nginx')!;
    // The ingress answers once its nginx is up.
    for (let i = 0; i < 50 && (await curl(HOST, 'http://echo.local/')).code !== 0; i++) await new Promise((r) => setTimeout(r, 100));
  });

  afterAll(async () => {
    for (const c of captures) if (c.pid) process.kill(c.pid, 'SIGKILL');
    for (const f of tmpFiles) rmSync(f, { force: true });
    await lab(['down', '--name', I]);
  });

  describe('lab trace', () => {
    it('laptop -> echo.local: names the pod that answered, the KUBE-SEP whose counter moved and the conntrack tuples (5 requests)', async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 5; i++) {
        const before = await natSave();
        const t = JSON.parse((await labOk(['trace', 'http://echo.local/', '--name', I, '--json'])).stdout) as TraceJson;
        const after = await natSave();
        const body = t.response.body.trim();
        expect(echoPods().map((p) => p.metadata.name)).toContain(body);
        seen.add(body);

        // First DNAT: the node IP to the ingress pod.
        const first = t.legs[0]!;
        expect(first.service).toMatchObject({ name: 'kube-system/ingress-nginx:http', kind: 'LoadBalancer' });
        expect(first.dnat?.to).toBe(`${ingress.status.podIP}:80`);
        expect(movedSeps(before, after, 'kube-system/ingress-nginx:http')).toEqual([first.sepChain]);
        expect(first.snat?.to).toMatch(/^10\.42\.0\.1:\d+$/);
        expect(t.ingress?.log).toMatchObject({ host: 'echo.local', backend: 'default/echo:80', upstream: `${svc('echo').spec.clusterIP}:80` });

        // Second DNAT: the ClusterIP to the pod whose name came back.
        const up = t.legs.find((l) => l.role === 'upstream')!;
        expect(up.dnat).toMatchObject({ from: `${svc('echo').spec.clusterIP}:80`, to: `${podIP(body)}:80`, pod: { name: body } });
        expect(t.answeredBy).toMatchObject({ name: body, ip: podIP(body), port: 80 });
        expect(movedSeps(before, after, 'default/echo:http')).toEqual([up.sepChain]);
        expect(up.sepChain).toBe(endpointChainName('default/echo:http', 'TCP', `${podIP(body)}:80`));
        expect(up.sepEvidence).toBe('counter+conntrack');

        // The conntrack entry the trace shows is in the kernel's table, reply from that pod.
        const ct = await nodeSh(['conntrack', '-L', '-p', 'tcp', '--orig-src', ingress.status.podIP!, '--orig-dst', svc('echo').spec.clusterIP, '--sport', String(up.conntrack!.original.sport)]);
        expect(ct.stdout).toMatch(new RegExp(`dport=80 src=${podIP(body).replace(/\./g, '\\.')} dst=${ingress.status.podIP!.replace(/\./g, '\\.')} sport=80 dport=${up.conntrack!.original.sport} `));
        const ct1 = await nodeSh(['conntrack', '-L', '-p', 'tcp', '--orig-src', '192.168.56.1', '--sport', String(first.conntrack!.original.sport)]);
        expect(ct1.stdout).toContain(`src=${ingress.status.podIP} dst=10.42.0.1 sport=80 dport=${first.conntrack!.reply.dport}`);
        // And the pod's own log has the connection.
        expect(t.answeredBy!.log.join('\n')).toContain(`]:${up.conntrack!.original.sport}: response:200`);
        expect(t.warnings).toEqual([]);
      }
      process.stdout.write(`trace: answered by ${[...seen].join(', ')}\n`);
    });

    it('prints the hops as text, the answering pod and its IP in them', async () => {
      const r = await labOk(['trace', 'http://echo.local/', '--name', I]);
      const body = r.stdout.match(/^ *\| (echo-\S+)$/m)![1]!;
      expect(r.stdout).toContain(`POD        pod ${body} ${podIP(body)}:80 answered`);
      expect(r.stdout).toMatch(/DNAT {7}kube-system\/ingress-nginx:http \(LoadBalancer 192\.168\.56\.110:80\) -> pod kube-system\/ingress-nginx-controller-/);
      expect(r.stdout).toMatch(new RegExp(`DNAT {7}default/echo:http \\(ClusterIP ${svc('echo').spec.clusterIP.replace(/\./g, '\\.')}:80\\) -> pod ${body} ${podIP(body).replace(/\./g, '\\.')}:80`));
      expect(r.stdout).toContain('INGRESS');
      expect(r.stdout).toContain('CONNTRACK');
    });

    it('--from a pod to a Service name: the cluster DNS answer, then one DNAT to the pod that answered', async () => {
      const before = await natSave();
      const t = JSON.parse((await labOk(['trace', 'http://echo/', '--from', client.metadata.name, '--name', I, '--json'])).stdout) as TraceJson;
      const after = await natSave();
      const body = t.response.body.trim();
      expect(t.dns).toMatchObject({ method: 'cluster-dns', fqdn: 'echo.default.svc.cluster.local', addresses: [svc('echo').spec.clusterIP] });
      expect(t.dns!.leg!.dnat?.pod?.name).toMatch(/^coredns-/);
      expect(t.legs).toHaveLength(1);
      const leg = t.legs[0]!;
      expect(leg.conntrack!.original).toMatchObject({ src: client.status.podIP, dst: svc('echo').spec.clusterIP, dport: 80 });
      expect(leg.conntrack!.reply.src).toBe(podIP(body));
      expect(leg.snat).toBeUndefined();
      expect(movedSeps(before, after, 'default/echo:http')).toEqual([leg.sepChain]);
      expect(t.answeredBy?.name).toBe(body);
    });

    it('a Service without endpoints: the REJECT rule that refused it, exit code 1', async () => {
      const r = await lab(['trace', `http://${svc('nobody-home').spec.clusterIP}/`, '--from', client.metadata.name, '--name', I, '--json']);
      expect(r.code).toBe(1);
      const t = JSON.parse(r.stdout) as TraceJson;
      expect(t.response.ok).toBe(false);
      const reject = t.hops.find((h) => h.kind === 'reject')!;
      expect(reject.title).toContain('default/nobody-home:http has no endpoints');
      expect(reject.lines.join('\n')).toMatch(/\+1 {2}-A KUBE-SERVICES -d .* -j REJECT/);
    });
  });

  describe('lab tcpdump', () => {
    it('a service: every endpoint veth at once, the SYN to the chosen pod on that pod\'s veth, prefixed with its name', async () => {
      const cap = startCapture(['svc/echo', '--', 'tcp', 'port', '80']);
      await waitFor('tcpdump ready', () => cap.err().includes('ready: 3 captures running'));
      const bodies = new Set<string>();
      for (let i = 0; i < 6; i++) {
        const r = await curl(podNetns(I, client.metadata.name), `http://${svc('echo').spec.clusterIP}/`);
        bodies.add(r.stdout.trim());
      }
      const synTo = (pod: string) => new RegExp(`^\\[${pod}\\] \\S+ IP ${client.status.podIP!.replace(/\./g, '\\.')}\\.\\d+ > ${podIP(pod).replace(/\./g, '\\.')}\\.80: Flags \\[S\\]`, 'm');
      await waitFor('the SYNs', () => [...bodies].every((b) => synTo(b).test(cap.out())), 10_000);
      cap.child.kill('SIGTERM');
      expect(await cap.exited).toBe(0);
      // Every SYN line sits under the pod whose address it is sent to.
      const syns = cap.out().split('\n').filter((l) => / Flags \[S\],/.test(l));
      expect(syns.length).toBeGreaterThanOrEqual(6);
      for (const l of syns) {
        const [, pod, dst] = l.match(/^\[(\S+)\] \S+ IP \S+ > (\d+\.\d+\.\d+\.\d+)\.80:/)!;
        expect(podIP(pod!)).toBe(dst);
      }
      expect(cap.err()).toMatch(/packets captured/);
      expect(tcpdumpsInNode()).toEqual([]);
    });

    it('-w for a service: one pcapng file tcpdump -r reads, with the SYNs to the endpoints', async () => {
      const file = `/tmp/pplt-e2et-${process.pid}-svc.pcap`;
      tmpFiles.push(file);
      const cap = startCapture(['svc/echo', '-w', file, '--', 'tcp', 'port', '80']);
      await waitFor('tcpdump ready', () => cap.err().includes('ready: 3 captures running'));
      const bodies = new Set<string>();
      for (let i = 0; i < 4; i++) bodies.add((await curl(podNetns(I, client.metadata.name), `http://${svc('echo').spec.clusterIP}/`)).stdout.trim());
      await new Promise((r) => setTimeout(r, 300));
      cap.child.kill('SIGTERM');
      expect(await cap.exited).toBe(0);
      expect(readFileSync(file).readUInt32LE(0)).toBe(0x0a0d0d0a); // pcapng section header
      const r = await cmd(['tcpdump', '-r', file, '-n']);
      expect(r.code).toBe(0);
      for (const b of bodies) expect(r.stdout).toMatch(new RegExp(`> ${podIP(b).replace(/\./g, '\\.')}\\.80: Flags \\[S\\]`));
      expect(cap.err()).toMatch(/wrote \d+ packets to/);
    });

    it('-w -c for a pod: eth0 in the pod, stops by itself after N packets, a pcap tcpdump -r reads', async () => {
      const pod = echoPods()[0]!;
      const file = `/tmp/pplt-e2et-${process.pid}-pod.pcap`;
      tmpFiles.push(file);
      const cap = startCapture([pod.metadata.name, '-w', file, '-c', '3', '--', 'tcp', 'port', '80']);
      await waitFor('tcpdump ready', () => cap.err().includes('ready: 1 capture running'));
      expect(cap.err()).toContain(`eth0 in pod ${pod.metadata.name}`);
      await curl(podNetns(I, client.metadata.name), `http://${pod.status.podIP}/`);
      expect(await cap.exited).toBe(0);
      const r = await cmd(['tcpdump', '-r', file, '-n']);
      expect(r.code).toBe(0);
      expect(r.stdout.trim().split('\n')).toHaveLength(3);
      expect(r.stdout).toMatch(new RegExp(`${client.status.podIP!.replace(/\./g, '\\.')}\\.\\d+ > ${pod.status.podIP!.replace(/\./g, '\\.')}\\.80: Flags \\[S\\]`));
    });

    it('node: eth1 sees the laptop\'s SYN to the node IP, before any DNAT', async () => {
      const cap = startCapture(['node', '-c', '1', '--', 'tcp', 'dst', 'port', '80']);
      await waitFor('tcpdump ready', () => cap.err().includes('ready: 1 capture running'));
      await curl(HOST, 'http://echo.local/');
      expect(await cap.exited).toBe(0);
      expect(cap.out()).toMatch(/IP 192\.168\.56\.1\.\d+ > 192\.168\.56\.110\.80: Flags \[S\]/);
    });
  });

  describe('lab exec', () => {
    it('runs in the pod: its hostname, its resolv.conf, its eth0, the exit code passed through', async () => {
      const pod = echoPods()[0]!;
      expect((await labOk(['exec', pod.metadata.name, '--name', I, '--', 'hostname'])).stdout.trim()).toBe(pod.metadata.name);
      const resolv = (await labOk(['exec', pod.metadata.name, '--name', I, '--', 'cat', '/etc/resolv.conf'])).stdout;
      expect(resolv).toContain('nameserver 10.43.0.10');
      expect(resolv).toContain('search default.svc.cluster.local svc.cluster.local cluster.local');
      expect((await labOk(['exec', pod.metadata.name, '--name', I, '--', 'ip', '-4', 'addr', 'show', 'eth0'])).stdout).toContain(`inet ${pod.status.podIP}/24`);
      // The container's root filesystem: busybox, its volume at /www.
      expect((await labOk(['exec', pod.metadata.name, '--name', I, '--', 'cat', '/www/index.html'])).stdout.trim()).toBe(pod.metadata.name);
      expect((await lab(['exec', pod.metadata.name, '--name', I, '--', 'sh', '-c', 'exit 7'])).code).toBe(7);
    });

    it('resolves Services through the cluster DNS from inside the container', async () => {
      const r = await labOk(['exec', client.metadata.name, '-c', 'client', '--name', I, '--', 'wget', '-qO-', 'http://echo/']);
      expect(echoPods().map((p) => p.metadata.name)).toContain(r.stdout.trim());
    });

    it('-c picks the container (its environment and working directory); the default is the first, said so', async () => {
      const side = await labOk(['exec', client.metadata.name, '-c', 'sidecar', '--name', I, '--', 'sh', '-c', 'echo $ROLE $(pwd)']);
      expect(side.stdout.trim()).toBe('sidecar /tmp');
      const def = await labOk(['exec', client.metadata.name, '--name', I, '--', 'sh', '-c', 'echo $ROLE']);
      expect(def.stdout.trim()).toBe('client');
      expect(def.stderr).toContain('Defaulted container "client" out of: client, sidecar');
      const bad = await lab(['exec', client.metadata.name, '-c', 'nope', '--name', I, '--', 'true']);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain('choose one of [client sidecar]');
    });

    it('says clearly when the pod does not exist', async () => {
      const r = await lab(['exec', 'no-such-pod', '--name', I, '--', 'true']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/pod "no-such-pod" not found/);
    });
  });

  describe('lab describe', () => {
    it('pod: IP, netns, the veth and its peer as the kernel numbers them, its KUBE-SEP, its container pid', async () => {
      const pod = echoPods()[1]!;
      const out = (await labOk(['describe', 'pod', pod.metadata.name, '--name', I])).stdout;
      const veth = await podVeth(I, pod.metadata.name);
      const [link] = JSON.parse((await nodeSh(['ip', '-j', 'link', 'show', veth])).stdout) as { ifindex: number; link_index: number }[];
      expect(out).toMatch(new RegExp(`^Name: +${pod.metadata.name}$`, 'm'));
      expect(out).toMatch(new RegExp(`^IP: +${pod.status.podIP!.replace(/\./g, '\\.')}$`, 'm'));
      expect(out).toContain(`Namespace:      ${podNetns(I, pod.metadata.name)}`);
      expect(out).toMatch(new RegExp(`Veth \\(node\\): +${veth}, ifindex ${link!.ifindex}, .*port of cni0, peer ifindex ${link!.link_index} \\(eth0 in the pod\\)`));
      expect(out).toMatch(new RegExp(`eth0: +${pod.status.podIP!.replace(/\./g, '\\.')}/24, ifindex ${link!.link_index}, .*peer ifindex ${link!.ifindex} in the node`));
      expect(out).toContain(`default/echo:http -> ${pod.status.podIP}:80 via ${endpointChainName('default/echo:http', 'TCP', `${pod.status.podIP}:80`)}`);
      expect(out).toMatch(new RegExp(`PID: +${pod.status.containerStatuses[0]!.pid}$`, 'm'));
      expect(out).toMatch(/Normal +Scheduled .* default-scheduler +Successfully assigned/);
    });

    it('svc: ClusterIP, endpoints, the KUBE-SVC chain with its real rule count, each KUBE-SEP with its pod', async () => {
      const out = (await labOk(['describe', 'svc', 'echo', '--name', I])).stdout;
      const chain = serviceChainName('default', 'echo', 'http', 'TCP');
      // ...the chain KUBE-SERVICES really jumps to for the ClusterIP.
      expect((await nodeSh(['iptables', '-t', 'nat', '-S', 'KUBE-SERVICES'])).stdout).toContain(`-d ${svc('echo').spec.clusterIP}/32 -p tcp -m comment --comment "default/echo:http cluster IP" -m tcp --dport 80 -j ${chain}`);
      const rules = (await nodeSh(['iptables', '-t', 'nat', '-S', chain])).stdout.split('\n').filter((l) => l.startsWith('-A ')).length;
      expect(out).toMatch(new RegExp(`^IP: +${svc('echo').spec.clusterIP.replace(/\./g, '\\.')}$`, 'm'));
      expect(out).toContain(`-> ${chain}  (${rules} rules)`);
      const ips = echoPods().map((p) => p.status.podIP!).sort();
      expect(out).toMatch(new RegExp(`^Endpoints: +${ips.map((ip) => `${ip}:80`).join(',').replace(/\./g, '\\.')}$`, 'm'));
      for (const p of echoPods()) {
        expect(out).toMatch(new RegExp(`${p.status.podIP!.replace(/\./g, '\\.')}:80 +${endpointChainName('default/echo:http', 'TCP', `${p.status.podIP}:80`)} +(0\\.\\d+|the rest) +${p.metadata.name}`));
      }
      const none = (await labOk(['describe', 'svc', 'nobody-home', '--name', I])).stdout;
      expect(none).toContain('none: new connections are REJECTed in the filter table (1 rule)');
    });

    it('node: the sysctls as the kernel reports them, cni0 with one port per pod, the pod CIDR', async () => {
      const out = (await labOk(['describe', 'node', '--name', I])).stdout;
      for (const k of ['net.ipv4.ip_forward', 'net.ipv4.conf.all.route_localnet', 'net.bridge.bridge-nf-call-iptables']) {
        const v = (await nodeSh(['sysctl', '-n', k])).stdout.trim();
        expect(out).toMatch(new RegExp(`${k.replace(/\./g, '\\.')}: +${v} `));
      }
      const ports = (JSON.parse((await nodeSh(['ip', '-j', 'link', 'show', 'master', 'cni0'])).stdout) as unknown[]).length;
      expect(ports).toBe(pods.length);
      expect(out).toContain(`bridge with ${ports} ports`);
      expect(out).toMatch(/^PodCIDR: +10\.42\.0\.0\/24$/m);
      expect(out).toContain(`Non-terminated Pods:  (${pods.length} in total)`);
    });
  });

  describe('lab explain', () => {
    it('iptables: every lab rule of the node, the DNAT of each echo endpoint annotated with its pod', async () => {
      const out = (await labOk(['explain', 'iptables', '--name', I])).stdout;
      const saved = (await nodeSh(['iptables-save'])).stdout.split('\n').filter((l) => l.startsWith('-A ') && /KUBE-/.test(l));
      expect(saved.length).toBeGreaterThan(30);
      for (const rule of saved) expect(out).toContain(rule);
      for (const p of echoPods()) {
        expect(out).toContain(`-j DNAT --to-destination ${p.status.podIP}:80   # default/echo:http -> pod ${p.metadata.name}`);
      }
      expect(out).toMatch(/default\/nobody-home:http has no ready endpoint: refused at once/);
    });

    it('routes: the pod CIDR on cni0, the node IP as a local address, each veth with its pod', async () => {
      const out = (await labOk(['explain', 'routes', '--name', I])).stdout;
      expect(out).toMatch(new RegExp(`^10\\.42\\.0\\.0/24 dev cni0 .*# this node's pod CIDR: the cni0 bridge, one veth per pod \\(${pods.length} pods\\)$`, 'm'));
      expect(out).toMatch(/^local 192\.168\.56\.110 dev eth1 .*# the node IP/m);
      for (const p of pods) expect(out).toMatch(new RegExp(`: ${await podVeth(I, p.metadata.name)} +# pod (kube-system/)?${p.metadata.name} \\(${p.status.podIP!.replace(/\./g, '\\.')}\\)`));
    });

    it('conntrack: a connection to the echo ClusterIP with the pod its DNAT chose', async () => {
      const r = await curl(podNetns(I, client.metadata.name), `http://${svc('echo').spec.clusterIP}/`);
      const body = r.stdout.trim();
      const out = (await labOk(['explain', 'conntrack', '--name', I])).stdout;
      expect(out).toMatch(new RegExp(`src=${client.status.podIP!.replace(/\./g, '\\.')} dst=${svc('echo').spec.clusterIP.replace(/\./g, '\\.')} .* # from pod ${client.metadata.name}; default/echo:http \\(ClusterIP\\) -> DNAT to pod ${body} ${podIP(body).replace(/\./g, '\\.')}:80`));
    });
  });
});
