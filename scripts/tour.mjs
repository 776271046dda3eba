#!/usr/bin/env node
// `npm run tour`: a guided tour of the two flows of docs (DESIGN.md, "The two flows our users
// learn") on a running lab, one step per keypress. Every step says what it shows and where we are
// in the flow, runs the real command (lab, curl, iptables, conntrack, in the node's or the laptop's
// namespace in sandbox mode, directly in host mode) and points at the lines to look at. Every name
// (pods, chains, IPs) is read from the live lab.
//
//   sudo npm run tour                       # the default instance `lab`, started by `sudo npm run lab`
//   sudo npm run tour -- --name dev --step 9
//   sudo npm run tour -- --yes              # no prompts (also when stdin is not a terminal)
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { $, chalk, minimist, sleep } from 'zx';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LAB_BIN = path.join(ROOT, 'bin/lab.js');
/** Where the instance's server (`lab up --watch`, `lab server`) writes its pid (src/cli/lock.ts); no `lab` subcommand reports it. */
const RUN_ROOT = '/run/packet-path-lab';
const HOST = 'app2.com';
const SERVICE = 'app2-service';
const APP_LABEL = 'app2';

// ---------------------------------------------------------------------------------------------
// Pure helpers (exported for test/unit/tour.test.ts)

/** Rows of a kubectl-style table (`lab get ... -o wide`) as objects keyed by the header. */
export function parseTable(text) {
  const [head, ...rows] = text.split('\n').filter((l) => l.trim() !== '');
  if (!head) return [];
  const cols = head.trim().split(/\s+/);
  return rows.map((r) => Object.fromEntries(r.trim().split(/\s+/).map((v, i) => [cols[i] ?? `col${i}`, v])));
}

/**
 * The jumps of one KUBE-SVC chain to its KUBE-SEP chains, from `iptables-save -t nat` (with or
 * without -c): endpoint, KUBE-SEP chain, probability (null for the last, unconditional one),
 * packet counter (null without -c).
 */
export function svcJumps(save, chain) {
  const out = [];
  for (const line of save.split('\n')) {
    const m = /^(?:\[(\d+):\d+\] )?-A (\S+) (.*)-j (KUBE-SEP-\w+)/.exec(line);
    if (!m || m[2] !== chain) continue;
    const ep = /--comment "[^"]* -> ([\d.]+:\d+)"/.exec(m[3])?.[1] ?? '?';
    const prob = /--probability ([\d.]+)/.exec(m[3])?.[1] ?? null;
    out.push({ endpoint: ep, sep: m[4], probability: prob, packets: m[1] === undefined ? null : Number(m[1]) });
  }
  return out;
}

/** Endpoints whose KUBE-SEP jump counted a packet between two svcJumps() readings. */
export function movedEndpoints(before, after) {
  const b = new Map(before.map((j) => [j.endpoint, j.packets ?? 0]));
  return after.filter((j) => (j.packets ?? 0) > (b.get(j.endpoint) ?? 0)).map((j) => j.endpoint);
}

/** 1/(n-i) for each endpoint but the last, as kube-proxy writes them (`%0.10f`). */
export function expectedProbabilities(n) {
  return Array.from({ length: Math.max(0, n - 1) }, (_, i) => (1 / (n - i)).toFixed(10));
}

/** A probability as iptables prints it back: xt_statistic stores it as a fraction of 2^31. */
export function kernelProbability(p) {
  return (Math.round(Number(p) * 2 ** 31) / 2 ** 31).toFixed(11);
}

/** Words of `text` in lines of at most `width` characters (a longer word gets a line of its own). */
export function wrap(text, width) {
  const lines = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** Prose is wrapped to the terminal, at most 100 columns (command output is never wrapped). */
const textWidth = () => Math.max(60, Math.min(process.stdout.columns || 100, 100));

/** Quotes an argv for display only (never executed): what a learner would type. */
export function shellWords(argv) {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/**
 * The lines of one section of `lab describe` output: the heading line matching `heading` and the
 * indented lines under it, up to the next heading (a line that starts in column 0).
 */
export function describeSection(text, heading) {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => heading.test(l));
  if (start < 0) return '';
  const end = lines.findIndex((l, i) => i > start && /^\S/.test(l));
  return lines.slice(start, end < 0 ? undefined : end).join('\n');
}

/** `back-off 10s restarting failed container=...` -> 10 */
export function backoffSeconds(message) {
  const m = /back-off (\d+)s/i.exec(message ?? '');
  return m ? Number(m[1]) : null;
}

// ---------------------------------------------------------------------------------------------
// Options

const USAGE = `usage: npm run tour -- [--name <instance>] [--step N] [--yes]

A guided tour of the request flow and the crash flow on a running lab, one step per keypress
(Enter or space: next step, q: quit).

  --name <instance>  the lab instance to tour (default: lab)
  --step N           start at step N
  --yes, -y          run every step without waiting (the default when stdin is not a terminal)
  --help, -h         this text

Start the lab first, in another terminal:  sudo npm run lab`;

function parseArgs(argv) {
  const unknown = [];
  const a = minimist(argv, {
    string: ['name', 'step'],
    boolean: ['yes', 'help'],
    alias: { y: 'yes', h: 'help' },
    default: { name: 'lab' },
    unknown: (o) => {
      unknown.push(o);
      return false;
    },
  });
  if (a.help) return { help: true };
  if (unknown.length) return { error: `unknown argument ${unknown.join(' ')}` };
  const step = a.step === undefined ? 1 : Number(a.step);
  if (!Number.isInteger(step) || step < 1) return { error: `--step needs a step number (1, 2, ...), not ${JSON.stringify(a.step)}` };
  return { name: String(a.name), step, yes: Boolean(a.yes) || !process.stdin.isTTY };
}

// ---------------------------------------------------------------------------------------------
// Running commands: zx quotes every interpolated argv element; nothing is built as a shell string.

$.verbose = false;
$.quiet = true;

/** Runs an argv; never throws on a non-zero exit (the output is shown to the learner instead). */
async function run(argv, { timeout = '90s' } = {}) {
  const r = await $({ cwd: ROOT, nothrow: true, quiet: true, timeout })`${argv}`;
  return { stdout: r.stdout, stderr: r.stderr, code: r.exitCode ?? 1 };
}

class Tour {
  constructor(opts) {
    this.name = opts.name;
  }

  /** `lab <args>` as run (node bin/lab.js) and as shown (sudo npx lab). --name goes before `--`. */
  labArgv(args) {
    const at = args.indexOf('--');
    const named = at < 0 ? [...args, '--name', this.name] : [...args.slice(0, at), '--name', this.name, ...args.slice(at)];
    return { run: [process.execPath, LAB_BIN, ...named], show: `sudo npx lab ${shellWords(this.name === 'lab' ? args : named)}` };
  }

  /** A command in the node: `ip netns exec <instance>-node ...` in sandbox mode, as is in host mode. */
  nodeArgv(argv) {
    const full = this.sandbox ? ['ip', 'netns', 'exec', this.nodeNetns, ...argv] : argv;
    return { run: full, show: `sudo ${shellWords(full)}` };
  }

  /** A request as the laptop's browser sends it (in host mode: from the VM, to the node IP with Host set). */
  curlArgv() {
    if (this.sandbox) return this.laptopArgv(['curl', '-s', '--max-time', '5', `http://${HOST}/`]);
    const argv = ['curl', '-s', '--max-time', '5', '-H', `Host: ${HOST}`, `http://${this.nodeIP}/`];
    return { run: argv, show: shellWords(argv) };
  }

  laptopArgv(argv) {
    const full = ['ip', 'netns', 'exec', this.laptopNetns, ...argv];
    return { run: full, show: `sudo ${shellWords(full)}` };
  }

  async lab(args) {
    return run(this.labArgv(args).run);
  }

  /** The objects `lab get <args> -o json` prints: a List's items, or the one object asked for by name. */
  async labJson(args) {
    const r = await this.lab([...args, '-o', 'json']);
    if (r.code !== 0) throw new TourError(`lab ${args.join(' ')} failed: ${(r.stderr || r.stdout).trim()}`);
    const o = JSON.parse(r.stdout);
    return o.items ?? [o];
  }

  async nodeRun(argv) {
    return run(this.nodeArgv(argv).run);
  }

  // --- output -----------------------------------------------------------------------------------

  say(text = '') {
    process.stdout.write(`${text}\n`);
  }

  /** Prints the command line, then (if given) its output with the lines to look at marked. */
  show(cmd, r, mark = () => false) {
    this.say(chalk.cyan(`$ ${cmd.show}`));
    if (!r) return;
    const text = `${r.stdout}${r.code !== 0 && r.stderr ? r.stderr : ''}`.replace(/\n+$/, '');
    for (const line of text.split('\n')) this.say(mark(line) ? chalk.bold.yellow(`▸ ${line}`) : `  ${line}`);
    if (r.code !== 0) this.say(chalk.red(`  (exit code ${r.code})`));
  }

  /** The step's explanation: plain text, wrapped to the terminal. */
  prose(text) {
    for (const l of wrap(text, textWidth())) this.say(l);
  }

  /** What to look for in the output above. */
  look(...lines) {
    for (const l of lines) for (const [i, w] of wrap(l, textWidth() - 2).entries()) this.say(chalk.green(`${i ? ' ' : '→'} ${w}`));
  }

  note(text) {
    this.say(chalk.dim(text));
  }

  // --- the live lab -------------------------------------------------------------------------------

  /** Reads the node, pods and Services; throws TourError with a learner's message if no lab runs. */
  async discover() {
    const r = await this.lab(['get', 'nodes', '-o', 'json']);
    if (r.code !== 0) {
      const msg = (r.stderr || r.stdout).trim().replace(/^error: /, '');
      if (/not running/.test(msg)) throw new TourError(notUpMessage(this.name), 1);
      throw new TourError(msg, 1);
    }
    const node = JSON.parse(r.stdout).items[0];
    // The Node object is the API's, with no lab annotations: the sandbox is the namespace
    // <instance>-node, when it exists.
    const ann = node.metadata.annotations ?? {};
    if (ann['lab/mode']) {
      this.mode = ann['lab/mode'];
      this.nodeNetns = ann['lab/netns'];
    } else {
      this.nodeNetns = `${this.name}-node`;
      const ns = (await run(['ip', 'netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0]);
      this.mode = ns.includes(this.nodeNetns) ? 'sandbox' : 'host';
    }
    this.sandbox = this.mode === 'sandbox';
    this.nodeName = node.metadata.name;
    this.nodeIP = node.status.addresses.find((x) => x.type === 'InternalIP')?.address;
    this.laptopNetns = `${this.name}-host`;
    if (this.sandbox) {
      const ns = (await run(['ip', 'netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0]);
      const missing = [this.nodeNetns, this.laptopNetns].filter((n) => !ns.includes(n));
      if (missing.length) throw new TourError(`The lab ${this.name} has a store but its namespace ${missing.join(' and ')} is gone.\nRemove what is left and start it again:  sudo npx lab down${this.nameFlag()}  then  sudo npm run lab${this.nameArg()}`, 1);
    }
    await Promise.all([this.refreshPods(), this.refreshService()]);
  }

  /** Right after `lab up` the pods may not be ready yet: wait for the ones the tour goes through. */
  async waitReady(limitS = 60) {
    const ready = (p) => p.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True');
    const notReady = () => [...this.app2, this.ingressPod, ...this.pods.filter((p) => p.metadata.labels['k8s-app'] === 'kube-dns')].filter((p) => p && !ready(p));
    if (notReady().length === 0) return;
    this.note(`Waiting for ${notReady().map((p) => p.metadata.name).join(', ')} to be ready (has the lab just started?) ...`);
    const deadline = Date.now() + limitS * 1000;
    while (notReady().length && Date.now() < deadline) {
      await sleep(1000);
      await this.refreshPods();
    }
    if (notReady().length) this.say(chalk.red(`Not ready after ${limitS} s: ${notReady().map((p) => p.metadata.name).join(', ')}. The tour goes on; see 'sudo npx lab get pods -A${this.nameFlag()}'.`));
  }

  nameFlag() {
    return this.name === 'lab' ? '' : ` --name ${this.name}`;
  }

  nameArg() {
    return this.name === 'lab' ? '' : ` -- --name ${this.name}`;
  }

  /** How to start the instance's server in the foreground. */
  startCommand() {
    return `sudo npm run lab${this.nameArg()}`;
  }

  async refreshPods() {
    const pods = await this.labJson(['get', 'pods', '-A']);
    this.pods = pods;
    this.app2 = pods.filter((p) => p.metadata.namespace === 'default' && p.metadata.labels.app === APP_LABEL).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
    this.ingressPod = pods.find((p) => p.metadata.namespace === 'kube-system' && p.metadata.labels['app.kubernetes.io/name'] === 'ingress-nginx');
  }

  async refreshService() {
    const r = await this.lab(['get', 'svc', '-A', '-o', 'wide']);
    const row = parseTable(r.stdout).find((x) => x.NAMESPACE === 'default' && x.NAME === SERVICE);
    if (!row) throw new TourError(`This tour follows ${HOST} to the Service ${SERVICE} of the default lab/cluster.yaml, and the lab ${this.name} has no ${SERVICE}.\nStart a lab with the default state file (sudo npm run lab) to take the tour.`, 1);
    this.clusterIP = row['CLUSTER-IP'];
    this.dnsIP = parseTable(r.stdout).find((x) => x.NAMESPACE === 'kube-system' && x.NAME === 'kube-dns')?.['CLUSTER-IP'] ?? 'the kube-dns ClusterIP';
    // The state-file lab's -o wide has a CHAINS column; kubectl's (an API instance's) has none:
    // `lab describe svc` names the chain kube-proxy wrote for the port.
    this.svcChain = row.CHAINS?.split(',')[0] ?? /ClusterIP:\s+\S+ -> (KUBE-SVC-\w+)/.exec((await this.lab(['describe', 'svc', SERVICE])).stdout)?.[1];
    if (!this.svcChain) throw new TourError(`kube-proxy has no KUBE-SVC chain for ${SERVICE} yet: see 'sudo npx lab describe svc ${SERVICE}${this.nameFlag()}'`, 1);
  }

  podByIP(ip) {
    return this.pods.find((p) => p.status.podIP === ip);
  }

  podLabel(endpoint) {
    const ip = endpoint.split(':')[0];
    const p = this.podByIP(ip);
    return p ? `${p.metadata.name} (${ip})` : endpoint;
  }

  async jumps(counters = false) {
    const r = await this.nodeRun(['iptables-save', ...(counters ? ['-c'] : []), '-t', 'nat']);
    return svcJumps(r.stdout, this.svcChain);
  }

  /** Sends `n` requests like the browser; says which pod answered each, from the KUBE-SEP counters. */
  async requests(n, { untilAll = false, max = 30 } = {}) {
    const cmd = this.curlArgv();
    this.say(chalk.cyan(`$ ${cmd.show}`) + chalk.dim(`    (${untilAll ? `at least ${n} times, until every pod has answered` : n === 1 ? 'once' : `${n} times`})`));
    const seen = new Set();
    const want = new Set((await this.jumps()).map((j) => j.endpoint));
    let failed = 0;
    for (let i = 1; i <= (untilAll ? max : n); i++) {
      const before = await this.jumps(true);
      const r = await run(cmd.run, { timeout: '10s' });
      const after = await this.jumps(true);
      const who = movedEndpoints(before, after);
      for (const e of who) seen.add(e);
      const body = /<h1>(.*?)<\/h1>/.exec(r.stdout)?.[1] ?? r.stdout.trim().split('\n')[0] ?? '';
      if (r.code !== 0) failed++;
      const status = r.code === 0 ? body.padEnd(20) : chalk.red(`curl failed (exit ${r.code})`.padEnd(20));
      this.say(`  #${String(i).padEnd(3)} ${status}  ← ${who.length ? who.map((e) => this.podLabel(e)).join(', ') : '? (no KUBE-SEP counter moved)'}`);
      if (untilAll && i >= n && [...want].every((e) => seen.has(e))) break;
    }
    return { seen, failed };
  }

  // --- the crash flow's pod -----------------------------------------------------------------------

  serverRunning() {
    try {
      // The instance lock's holder (src/cli/lock.ts) records itself there as one JSON line.
      // `server`: the instance's server (`lab server`, `lab up --watch`, or the daemon `lab up` starts).
      const { pid, command } = JSON.parse(readFileSync(path.join(RUN_ROOT, this.name, 'lock'), 'utf8'));
      if (!pid || command !== 'server') return false;
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return cmdline.includes('server') || (cmdline.includes('up') && cmdline.some((a) => a === '--watch' || a === '-w'));
    } catch {
      return false;
    }
  }

  async pickVictim() {
    if (this.victim) return this.victim;
    await this.refreshPods();
    const ready = (p) => p.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True');
    const candidates = this.app2.filter(ready).sort((a, b) => restartsOf(a) - restartsOf(b));
    if (!candidates.length) throw new TourError(`no ready ${APP_LABEL} pod to crash right now; wait until 'lab get pods' shows them 1/1 and run the tour again with --step ${this.crashStart}`, 1);
    this.victim = { name: candidates[0].metadata.name, ip: candidates[0].status.podIP };
    return this.victim;
  }

  async victimStatus() {
    const [p] = await this.labJson(['get', 'pods', this.victim.name]);
    return p;
  }

  /**
   * Waits until the victim has restarted at least `minRestarts` times, is ready and is back in the
   * KUBE-SVC chain; returns the seconds waited, null after `limitS`.
   */
  async waitBack(limitS, minRestarts = 0) {
    const t0 = Date.now();
    for (;;) {
      const inRules = (await this.jumps()).some((j) => j.endpoint.startsWith(`${this.victim.ip}:`));
      if (inRules) {
        const p = await this.victimStatus();
        const ready = p.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True');
        if (ready && restartsOf(p) >= minRestarts) return (Date.now() - t0) / 1000;
      }
      if (Date.now() - t0 > limitS * 1000) return null;
      await sleep(500);
    }
  }

  /**
   * `lab kill` while watching: `lab get pods -w <pod>` in the background (kubectl's way to see a
   * pod change) and the KUBE-SVC chain polled in the node. Returns when the pod is back in the
   * rules, or after `limitS` seconds. Lines carry the time since the kill.
   */
  async killAndWatch(limitS) {
    const v = this.victim;
    const watch = this.labArgv(['get', 'pods', '-w', v.name]);
    const kill = this.labArgv(['kill', v.name]);
    this.say(chalk.cyan(`$ ${watch.show}`) + chalk.dim('    (in the background: a line whenever the pod changes)'));
    this.say(chalk.cyan(`$ ${kill.show}`));
    const lines = [];
    let t0 = null;
    const stamp = () => (t0 === null ? '' : `+${((Date.now() - t0) / 1000).toFixed(2)}s`);
    const watcher = $({ cwd: ROOT, nothrow: true, quiet: true })`${watch.run}`;
    const reading = (async () => {
      for await (const line of watcher) {
        if (!line.trim()) continue;
        lines.push({ t: t0 === null ? 'before' : stamp(), who: 'lab get pods -w', line });
      }
    })();
    // Wait until the watch has printed the pod's current row, so no change is missed.
    for (let i = 0; i < 100 && lines.length < 2; i++) await sleep(100);
    let eps = (await this.jumps()).map((j) => j.endpoint);
    const killer = $({ cwd: ROOT, nothrow: true, quiet: true })`${kill.run}`;
    killer.stdout.once('data', () => (t0 ??= Date.now()));
    let killed = null;
    void killer.then((r) => {
      t0 ??= Date.now();
      killed = r;
      if (r.stdout.trim()) lines.push({ t: '+0.00s', who: 'lab kill', line: r.stdout.trim() });
      if (r.exitCode !== 0) lines.push({ t: '', who: 'lab kill', line: chalk.red(r.stderr.trim()) });
    });
    let out = null;
    let back = null;
    // A `lab get pods -w` row after the kill with more restarts than before and READY n/n.
    const row = (l) => l.line.trim().split(/\s+/);
    const restartsBefore = Number(row(lines.find((l) => l.t === 'before' && l.line.startsWith(`${v.name} `)) ?? { line: '' })[3] ?? 0);
    const restartedAndReady = () =>
      lines.some((l) => l.who === 'lab get pods -w' && l.t !== 'before' && l.line.startsWith(`${v.name} `) && Number(row(l)[3]) > restartsBefore && /^(\d+)\/\1$/.test(row(l)[1] ?? ''));
    const deadline = Date.now() + limitS * 1000;
    while (Date.now() < deadline) {
      const now = (await this.jumps()).map((j) => j.endpoint);
      if (now.join() !== eps.join()) {
        const gone = eps.filter((e) => !now.includes(e));
        const added = now.filter((e) => !eps.includes(e));
        const what = [...gone.map((e) => `${e} out`), ...added.map((e) => `${e} back in`)].join(', ');
        lines.push({ t: stamp(), who: 'kube-proxy', line: `${this.svcChain} now jumps to ${now.length} endpoint(s): ${what}` });
        if (gone.some((e) => e.startsWith(`${v.ip}:`))) out ??= Date.now();
        if (added.some((e) => e.startsWith(`${v.ip}:`))) back = Date.now();
        eps = now;
      }
      if (killed && killed.exitCode !== 0) break;
      if (back) break;
      // Out and back between two reads of the rules: the watch still shows the restart.
      if (t0 !== null && Date.now() - t0 > 3000 && restartedAndReady()) break;
      // Backing off (it crashed within the last 10 minutes): no point in watching the wait.
      if (lines.some((l) => l.t !== 'before' && l.line.startsWith(`${v.name} `) && row(l)[2] === 'CrashLoopBackOff') && out) break;
      await sleep(20);
    }
    // Give the watch a moment to print the row of the restarted, ready pod.
    if (back) await sleep(1200);
    await watcher.kill().catch(() => {});
    await watcher;
    await reading;
    // In time order (a stable sort: the lines before the kill, and each source's own lines, keep theirs).
    const at = (l) => (l.t === 'before' || l.t === '' ? -1 : parseFloat(l.t));
    lines.sort((a, b) => at(a) - at(b));
    for (const l of lines) {
      const tag = l.who === 'kube-proxy' ? chalk.magenta('[kube-proxy, read from iptables]') : chalk.dim(`[${l.who}]`);
      const mark = l.who === 'kube-proxy' || (l.who === 'lab get pods -w' && l.t !== 'before');
      this.say(`${mark ? chalk.bold.yellow('▸ ') : '  '}${l.t.padEnd(7)} ${tag} ${l.line}`);
    }
    return { ok: killed?.exitCode === 0, away: back && out ? back - out : null, backNow: Boolean(back) || restartedAndReady() };
  }
}

const restartsOf = (p) => p.status.containerStatuses.reduce((s, c) => s + c.restartCount, 0);

class TourError extends Error {
  constructor(message, code = 1) {
    super(message);
    this.code = code;
  }
}

function notUpMessage(name) {
  const arg = name === 'lab' ? '' : ` -- --name ${name}`;
  return [
    `No lab named "${name}" is running on this machine.`,
    `Start one in another terminal and leave it running:  sudo npm run lab${arg}`,
    `then take the tour:                                  sudo npm run tour${arg}`,
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// The steps. `flow` names the hops of DESIGN.md's flows a step is about (highlighted in the map);
// `chained` steps run right after the previous one without a prompt (the pod is out only briefly).

const REQUEST_FLOW = ['browser', 'hosts file', 'node :80', 'ingress', 'cluster DNS', 'ClusterIP', 'KUBE-SVC (random)', 'KUBE-SEP (DNAT)', 'cni0 → veth → pod', 'reply (conntrack)'];
const CRASH_FLOW = ['container exits', 'kubelet: back-off, Ready=False', 'endpoints controller: pod out', 'kube-proxy: rules rewritten', 'restarted, Ready', 'back in'];

const isApp2Row = (line) => /^\s*(default\s+)?app2-/.test(line);

const STEPS = [
  {
    title: 'The node',
    flow: 'request',
    at: ['node :80'],
    async run(t) {
      t.prose(`One node, ${t.nodeName}, is the whole cluster. Its kernel holds everything this tour reads: cni0, the pods' veths and kube-proxy's iptables rules. ${t.sandbox ? `In sandbox mode the node is the network namespace ${t.nodeNetns}, standing in for the VM.` : 'In host mode this machine is the node (the Vagrant VM).'}`);
      const cmd = t.labArgv(['get', 'nodes', '-o', 'wide']);
      t.show(cmd, await t.lab(['get', 'nodes', '-o', 'wide']), (l) => l.includes(t.nodeIP));
      t.look(`INTERNAL-IP ${t.nodeIP}: the address the browser's request goes to (the hosts file points ${HOST} there).`);
      if (t.sandbox) t.look(`Commands "in the node" run inside its namespace: sudo ip netns exec ${t.nodeNetns} <command>.`);
    },
  },
  {
    title: 'The pods',
    flow: 'request',
    at: ['cni0 → veth → pod'],
    async run(t) {
      t.prose(`app2 is a Deployment with ${t.app2.length} replicas: ${t.app2.length} pods, each in its own network namespace with its own IP from the node's pod CIDR, plugged into the cni0 bridge by a veth pair.`);
      t.show(t.labArgv(['get', 'pods', '-o', 'wide']), await t.lab(['get', 'pods', '-o', 'wide']), isApp2Row);
      t.look(`The app2 rows: ${t.app2.map((p) => `${p.status.podIP}`).join(', ')}. A request for ${HOST} ends at one of these IPs.`);
      // kubectl's columns say nothing of the sandbox: lab describe pod shows the netns and the veth pair.
      const first = t.app2[0];
      if (!first) return;
      t.prose(`Where one of them lives in the kernel (lab describe pod, its Network section):`);
      const args = ['describe', 'pod', first.metadata.name];
      const r = await t.lab(args);
      t.show(t.labArgv(args), { ...r, stdout: describeSection(r.stdout, /^Network:/) || r.stdout }, (l) => /^\s+(Namespace|eth0|Veth \(node\)):/.test(l));
      t.look(`Namespace: the pod's own network namespace; eth0 in it and a veth on the node are the two ends of one pair (each names the other's ifindex); the veth is a port of cni0.`);
    },
  },
  {
    title: 'The Services',
    flow: 'request',
    at: ['node :80', 'ClusterIP'],
    async run(t) {
      t.prose(`A Service gives the app2 pods one stable virtual IP, the ClusterIP; kube-proxy turns each Service port into a KUBE-SVC chain (lab describe svc shows which). The ingress controller's own Service, ingress-nginx, is a LoadBalancer on the node IP: that is how port 80 of ${t.nodeIP} reaches the ingress pod.`);
      const r = await t.lab(['get', 'svc', '-A', '-o', 'wide']);
      t.show(t.labArgv(['get', 'svc', '-A', '-o', 'wide']), r, (l) => /\s(app2-service|ingress-nginx)\s/.test(l));
      const args = ['describe', 'svc', SERVICE];
      const d = await t.lab(args);
      t.show(t.labArgv(args), { ...d, stdout: describeSection(d.stdout, /^kube-proxy/) || d.stdout }, (l) => l.includes(t.svcChain));
      t.look(`${SERVICE}: ClusterIP ${t.clusterIP}, chain ${t.svcChain}. No pod and no process has this IP.`);
    },
  },
  {
    title: "The laptop's hosts file",
    flow: 'request',
    at: ['browser', 'hosts file'],
    async run(t) {
      t.prose(`The request starts in the laptop's browser. It looks ${HOST} up in the hosts file, which maps the Ingress hosts to the node IP: no DNS server is asked, and nothing in the cluster knows the name ${HOST}.`);
      if (t.sandbox) {
        t.prose(`In the sandbox the laptop is the namespace ${t.laptopNetns} (192.168.56.1), on the node's host-only network.`);
        const cmd = t.laptopArgv(['cat', '/etc/hosts']);
        t.show(cmd, await run(cmd.run), (l) => l.includes(HOST));
        t.look(`${t.nodeIP} ... ${HOST}: the browser connects to ${t.nodeIP}:80 and sends "Host: ${HOST}".`);
      } else {
        t.prose(`In the VM there is no laptop: on yours, /etc/hosts has the line below. This tour sends its requests from the VM itself, to the node IP with the Host header a browser sends.`);
        t.say(chalk.bold.yellow(`▸ ${t.nodeIP} app1.com app2.com app3.com`));
        t.look(`The browser connects to ${t.nodeIP}:80 and sends "Host: ${HOST}".`);
      }
    },
  },
  {
    title: `curl ${HOST}, several times`,
    flow: 'request',
    at: ['browser', 'hosts file', 'node :80', 'ingress', 'cluster DNS', 'ClusterIP', 'KUBE-SVC (random)', 'KUBE-SEP (DNAT)', 'cni0 → veth → pod', 'reply (conntrack)'],
    async run(t) {
      t.prose(`The browser's request, the whole flow at once. Every app2 pod serves the same page, so to tell who answered the tour reads the packet counters of ${t.svcChain}'s rules before and after each request: the rule that counted it names the pod (step 9 shows these rules).`);
      const { seen, failed } = await t.requests(6, { untilAll: true });
      const n = (await t.jumps()).length;
      if (seen.size >= n && n > 1) t.look(`${seen.size} different pods answered: kube-proxy picks one endpoint at random for every new connection.`);
      else t.look(`${seen.size} of the ${n} pods answered${failed ? ` and ${failed} request(s) failed` : ''}: run this step again (sudo npm run tour${t.name === 'lab' ? ' --' : t.nameArg()} --step 5).`);
    },
  },
  {
    title: 'The ingress controller',
    flow: 'request',
    at: ['ingress'],
    async run(t) {
      const pod = t.ingressPod;
      if (!pod) return t.say(chalk.red('No ingress-nginx pod in kube-system: this lab has no ingress controller.'));
      const cmdline = pod.spec.containers[0].command ?? [];
      const conf = cmdline[cmdline.indexOf('-c') + 1] ?? '/etc/nginx/nginx.conf';
      t.prose(`The request reaches the ingress controller (nginx, in the pod ${pod.metadata.name}). It reads the Host header and picks the backend Service from the Ingress rule. It sends to the Service, not to a pod (as ingress-nginx does with service-upstream: "true"), by the Service's DNS name. Its config, rendered from the Ingress:`);
      const args = ['exec', '-n', 'kube-system', pod.metadata.name, '--', 'grep', '-B', '3', '-A', '7', `server_name ${HOST};`, conf];
      t.show(t.labArgv(args), await t.lab(args), (l) => /server_name|ingress_upstream "/.test(l));
      t.look(`server_name ${HOST}: the Host header picks this server block.`);
      t.look(`$ingress_upstream ${SERVICE}.default.svc.cluster.local:80: a name the cluster DNS must resolve (next step).`);
    },
  },
  {
    title: 'Cluster DNS',
    flow: 'request',
    at: ['cluster DNS'],
    async run(t) {
      const pod = t.ingressPod;
      if (!pod) return t.say(chalk.red('No ingress-nginx pod in kube-system.'));
      t.prose(`nginx asks the cluster DNS at ${t.dnsIP} (the kube-dns Service, served by the coredns pod), the server every pod's /etc/resolv.conf names. A Service's name resolves to its ClusterIP, never to a pod. The same question, with nslookup inside the ingress pod:`);
      const fqdn = `${SERVICE}.default.svc.cluster.local`;
      const args = ['exec', '-n', 'kube-system', pod.metadata.name, '--', 'nslookup', fqdn];
      const r = await t.lab(args);
      t.show(t.labArgv(args), r, (l) => /^(Name|Address):\s/.test(l.trim()) && !/#53|:53$/.test(l));
      if (/recursion not available/.test(r.stdout + r.stderr)) t.note(`  (";; Got recursion not available": the cluster DNS answers for cluster names only, it forwards nothing out.)`);
      t.look(`Address: ${t.clusterIP}, the CLUSTER-IP of ${SERVICE} in step 3. nginx now connects to ${t.clusterIP}:80.`);
    },
  },
  {
    title: 'KUBE-SERVICES: which Service is this?',
    flow: 'request',
    at: ['ClusterIP'],
    async run(t) {
      t.prose(`Nothing listens on ${t.clusterIP}. The connection's first packet enters the node's nat table, PREROUTING -> KUBE-SERVICES: one rule per Service port, matching its ClusterIP and port, jumping to its KUBE-SVC chain.`);
      const cmd = t.nodeArgv(['iptables', '-t', 'nat', '-L', 'KUBE-SERVICES', '-n']);
      t.show(cmd, await t.nodeRun(['iptables', '-t', 'nat', '-L', 'KUBE-SERVICES', '-n']), (l) => l.includes(`${SERVICE}:`) || (l.includes(t.nodeIP) && l.includes('KUBE-EXT')));
      t.look(`destination ${t.clusterIP} tcp dpt:80 -> ${t.svcChain}: the ingress's connection to ${SERVICE}.`);
      t.look(`${t.nodeIP} dpt:80 -> KUBE-EXT-...: one hop earlier, the same mechanism took the laptop's request to the ingress pod.`);
    },
  },
  {
    title: 'KUBE-SVC: one endpoint at random',
    flow: 'request',
    at: ['KUBE-SVC (random)'],
    async run(t) {
      const n = (await t.jumps()).length;
      const probs = expectedProbabilities(n);
      const order = n >= 3 ? `1/${n}, the next with 1/${n - 1} of what is left${n > 3 ? ', and so on' : ''}, the last always` : n === 2 ? '1/2, the other always' : 'always';
      t.prose(`${t.svcChain} has one jump per endpoint, tried in order. With ${n} endpoint(s): the first with probability ${order}. So each pod gets 1/${n} of the new connections.`);
      const cmd = t.nodeArgv(['iptables', '-t', 'nat', '-L', t.svcChain, '-n']);
      t.show(cmd, await t.nodeRun(['iptables', '-t', 'nat', '-L', t.svcChain, '-n']), (l) => /^KUBE-SEP-/.test(l));
      if (probs.length) {
        t.look(`probability ${probs.map(kernelProbability).join(', then ')}, then the last jump without one.`);
        t.look(`kube-proxy writes ${probs[0]} (1/${n} to ten places); the kernel keeps a 31-bit fraction, so iptables prints ${kernelProbability(probs[0])}.`);
      }
      t.look(`Each rule's comment names its endpoint (a pod IP from step 2); it jumps to that endpoint's KUBE-SEP chain.`);
    },
  },
  {
    title: 'KUBE-SEP: the DNAT',
    flow: 'request',
    at: ['KUBE-SEP (DNAT)', 'cni0 → veth → pod'],
    async run(t) {
      const j = (await t.jumps())[0];
      if (!j) return t.say(chalk.red(`${t.svcChain} has no endpoint right now.`));
      const pod = t.podByIP(j.endpoint.split(':')[0]);
      t.prose(`Each KUBE-SEP chain is one endpoint. Its DNAT rule rewrites the packet's destination from the ClusterIP to the pod's IP; the node then routes it out cni0 and down the pod's veth. Here, the chain of ${pod?.metadata.name ?? j.endpoint}:`);
      const cmd = t.nodeArgv(['iptables', '-t', 'nat', '-L', j.sep, '-n']);
      t.show(cmd, await t.nodeRun(['iptables', '-t', 'nat', '-L', j.sep, '-n']), (l) => /^DNAT/.test(l));
      t.look(`DNAT ... to:${j.endpoint}: the ClusterIP becomes the pod ${pod?.metadata.name ?? ''} (${j.endpoint}).`);
      t.look(`KUBE-MARK-MASQ from ${j.endpoint.split(':')[0]}: a pod reaching itself through its Service gets masqueraded (hairpin).`);
    },
  },
  {
    title: 'conntrack: the DNAT is remembered',
    flow: 'request',
    at: ['reply (conntrack)'],
    async run(t) {
      t.prose(`The rules run only for a connection's first packet. conntrack remembers the DNAT: later packets get the same rewrite, and the pod's reply is un-NATed on the way back (its source becomes the ClusterIP again), so nginx sees an answer from the address it called. One more request, then the connections to the ClusterIP:`);
      await t.requests(1);
      const argv = ['conntrack', '-L', '-d', t.clusterIP];
      const r = await t.nodeRun(argv);
      t.show(t.nodeArgv(argv), r, (l) => l.includes(`dst=${t.clusterIP}`));
      const re = new RegExp(`src=(\\S+) dst=${t.clusterIP.replace(/\./g, '\\.')} .*? src=(\\S+) dst=`, 'g');
      const entries = [...r.stdout.matchAll(re)];
      if (entries.length) {
        const from = [...new Set(entries.map((m) => m[1]))].map((ip) => (ip === t.ingressPod?.status.podIP ? `${ip} (the ingress pod)` : ip));
        const replies = new Map();
        for (const m of entries) replies.set(m[2], (replies.get(m[2]) ?? 0) + 1);
        t.look(`Each line, one connection: original src=${from.join(', ')} dst=${t.clusterIP} (the ClusterIP), reply src=<a pod IP>.`);
        t.look(`That pair of tuples is the DNAT. Replies came from ${[...replies].map(([ip, c]) => `${t.podByIP(ip)?.metadata.name ?? ip} (${c})`).join(', ')}.`);
        t.look(`The requests of step 5 are here too: an entry stays 2 minutes after its connection closed (TIME_WAIT).`);
      } else t.look(`No entry? Run this step again (an entry is gone 2 minutes after its connection closed).`);
    },
  },
  {
    title: 'lab trace: every hop with its evidence',
    flow: 'request',
    at: ['browser', 'hosts file', 'node :80', 'ingress', 'cluster DNS', 'ClusterIP', 'KUBE-SVC (random)', 'KUBE-SEP (DNAT)', 'cni0 → veth → pod', 'reply (conntrack)'],
    async run(t) {
      t.prose(`lab trace sends one real request and prints each hop with the kernel's evidence: the rules whose counters moved, the conntrack entries, the ingress and pod logs. Everything of the last steps, for one request.`);
      const args = t.sandbox ? ['trace', `http://${HOST}/`] : ['trace', `http://${t.nodeIP}/`, '-H', `Host: ${HOST}`];
      t.show(t.labArgv(args), await t.lab(args), (l) => /^\s*\d+\s+(DNAT|POD|INGRESS)\s/.test(l));
      t.look(`Two DNATs: the node IP to the ingress pod (the LoadBalancer Service), then the ClusterIP to an app2 pod.`);
      t.look(`POD: the app2 pod that answered, and its own log line for the request.`);
    },
  },
  // --- crash flow ---
  {
    title: 'Before the crash: the endpoints',
    flow: 'crash',
    crashStart: true,
    at: [],
    async run(t) {
      const v = await t.pickVictim();
      t.prose(`The crash flow: what happens when a container of app2 dies. The endpoints controller lists every READY pod of the Service in its endpoints (EndpointSlices); kube-proxy turns that list into the KUBE-SEP rules. The tour will crash ${v.name} (${v.ip}).`);
      t.show(t.labArgv(['get', 'endpoints', SERVICE]), await t.lab(['get', 'endpoints', SERVICE]), (l) => l.includes(SERVICE));
      t.look(`${v.ip}:80 is in the list, with the two others.`);
    },
  },
  {
    title: 'Crash it: restarted at once',
    flow: 'crash',
    at: CRASH_FLOW,
    async run(t) {
      const v = await t.pickVictim();
      t.prose(`lab kill sends SIGKILL to the container's process: it is PID 1 of the container's PID namespace, and from outside the kernel delivers only SIGKILL or signals it handles (httpd handles neither SIGTERM nor SIGSEGV). The kubelet sees it exit and writes Ready=False, the endpoints controller drops the pod, kube-proxy rewrites the rules. The first restart has a back-off of 0 s (then 10, 20, 40 ... 300 s), so the container comes straight back. The timeline:`);
      const r = await t.killAndWatch(15);
      t.crashedOnce = r.ok;
      t.backAfterFirst = r.backNow;
      if (!r.ok) return;
      if (r.away !== null && r.away < 2000) t.look(`${v.ip} was out of ${t.svcChain} for ${(r.away / 1000).toFixed(2)} s: the whole chain, well under a second.`);
      else if (r.away !== null) t.look(`${v.ip} was out of ${t.svcChain} for ${(r.away / 1000).toFixed(1)} s: it had crashed within the last 10 minutes, so the kubelet waited out a back-off.`);
      else if (r.backNow) t.look(`${v.ip} left ${t.svcChain} and came back between two reads of the rules: faster than the tour could look.`);
      else t.look(`${v.name} is not back yet: it crashed recently, so the kubelet is backing off (the next step waits for it).`);
      if (r.backNow) t.look(`READY 0/1 then 1/1, RESTARTS +1: the kubelet restarted the container in the same pod (same name, same IP).`);
    },
  },
  {
    title: 'Crash it again: CrashLoopBackOff',
    flow: 'crash',
    at: ['container exits', 'kubelet: back-off, Ready=False'],
    async run(t) {
      const v = await t.pickVictim();
      t.prose(`A second crash soon after the first: now the kubelet waits before it restarts the container (CrashLoopBackOff). The back-off doubles with every crash, 10, 20, 40 ... 300 s, and resets after 10 minutes of running. The next four steps run right away, while the pod is out.`);
      let restarts = restartsOf(await t.victimStatus());
      if (!t.crashedOnce) {
        t.note(`  (first a quick crash, as in step 14: a first crash is restarted at once)`);
        const first = t.labArgv(['kill', v.name]);
        t.show(first, await run(first.run));
        restarts++;
      } else if (!t.backAfterFirst) t.note(`  (waiting for ${v.name} to be back from the crash of step 14 first: it is backing off)`);
      if ((await t.waitBack(330, restarts)) === null) return t.say(chalk.red(`${v.name} did not come back in time; see: sudo npx lab describe pod ${v.name}${t.nameFlag()}`));
      const cmd = t.labArgv(['kill', v.name]);
      const r = await run(cmd.run);
      t.killedAt = Date.now();
      t.show(cmd, r);
    },
  },
  {
    title: 'The pod: not ready, backing off',
    flow: 'crash',
    chained: true,
    at: ['kubelet: back-off, Ready=False'],
    async run(t) {
      const v = t.victim;
      t.prose(`The kubelet wrote the pod's status to the API server: container waiting, Ready=False.`);
      const [r, st] = await Promise.all([t.lab(['get', 'pods']), t.victimStatus().catch(() => null)]);
      t.show(t.labArgv(['get', 'pods']), r, (l) => l.startsWith(`${v.name} `));
      const waiting = st?.status.containerStatuses[0]?.state.waiting;
      t.backoffS = backoffSeconds(waiting?.message);
      if (waiting?.reason === 'CrashLoopBackOff') t.look(`READY 0/1, STATUS CrashLoopBackOff: the kubelet waits ${t.backoffS ?? '?'} s ("${waiting.message.split(' restarting')[0]}" in the pod's status) before it restarts it.`);
      else t.look(`${v.name} is ${waiting?.reason ?? 'already running again'}: the back-off was short this time.`);
    },
  },
  {
    title: 'The endpoints: without the pod',
    flow: 'crash',
    chained: true,
    at: ['endpoints controller: pod out'],
    async run(t) {
      t.prose(`The endpoints controller saw Ready=False in the API and removed the pod from the Service's endpoints.`);
      const r = await t.lab(['get', 'endpoints', SERVICE]);
      t.show(t.labArgv(['get', 'endpoints', SERVICE]), r, (l) => l.includes(SERVICE));
      if (r.stdout.includes(`${t.victim.ip}:`)) t.look(`${t.victim.ip}:80 is already back: its back-off was over (or 0 s) before this step ran.`);
      else t.look(`${t.victim.ip}:80 is gone; the other pods stay. A pod that is not ready gets no traffic from the Service.`);
    },
  },
  {
    title: 'KUBE-SVC: two endpoints left',
    flow: 'crash',
    chained: true,
    at: ['kube-proxy: rules rewritten'],
    async run(t) {
      t.prose(`kube-proxy watches the endpoints and rewrote ${t.svcChain} (one iptables-restore): one jump less, and new probabilities so that the pods left share the connections evenly.`);
      const cmd = t.nodeArgv(['iptables', '-t', 'nat', '-L', t.svcChain, '-n']);
      t.show(cmd, await t.nodeRun(['iptables', '-t', 'nat', '-L', t.svcChain, '-n']), (l) => /^KUBE-SEP-/.test(l));
      const jumps = await t.jumps();
      const n = jumps.length;
      if (jumps.some((j) => j.endpoint.startsWith(`${t.victim.ip}:`))) t.look(`${t.victim.ip} is back in the rules already: its back-off was over before this step ran.`);
      else t.look(`${n} KUBE-SEP jump(s)${n === 2 ? ': probability 0.5, then the other always' : ''}; no rule for ${t.victim.ip} any more.`);
    },
  },
  {
    title: 'The Service still answers',
    flow: 'crash',
    chained: true,
    at: ['browser', 'node :80', 'ingress', 'ClusterIP', 'KUBE-SVC (random)', 'cni0 → veth → pod'],
    async run(t) {
      t.prose(`Meanwhile ${HOST} keeps working: new connections go to the pods still in the rules.`);
      const { seen, failed } = await t.requests(6);
      const hitVictim = [...seen].some((e) => e.startsWith(`${t.victim.ip}:`));
      t.look(`${failed ? `${failed} failed, ` : 'Every request answered, '}${hitVictim ? `one by ${t.victim.name} (it was back already)` : `none by ${t.victim.name}`}.`);
    },
  },
  {
    title: 'Back in',
    flow: 'crash',
    at: ['restarted, Ready', 'back in'],
    async run(t) {
      const v = t.victim;
      t.prose(`After the back-off the kubelet starts the container again; when its readiness probe passes it writes Ready=True, the endpoints controller adds the pod back and kube-proxy its KUBE-SEP jump. Had the pod been deleted, the ReplicaSet controller would create a new one, the scheduler place it and the kubelet start it.`);
      const left = t.killedAt && t.backoffS ? Math.max(0, t.backoffS - (Date.now() - t.killedAt) / 1000) : 0;
      t.note(`  waiting for ${v.name} to be ready and back in ${t.svcChain}${left > 1 ? ` (about ${Math.ceil(left)} s of back-off left)` : ''} ...`);
      const waited = await t.waitBack(330);
      if (waited === null) return t.say(chalk.red(`${v.name} is not back; see: sudo npx lab describe pod ${v.name}${t.nameFlag()}`));
      if (t.killedAt) t.note(`  back, ${((Date.now() - t.killedAt) / 1000).toFixed(0)} s after the second crash.`);
      t.show(t.labArgv(['get', 'pods', v.name]), await t.lab(['get', 'pods', v.name]), (l) => l.startsWith(`${v.name} `));
      t.show(t.labArgv(['get', 'endpoints', SERVICE]), await t.lab(['get', 'endpoints', SERVICE]), (l) => l.includes(SERVICE));
      const ev = ['events', '--for', `pod/${v.name}`];
      t.show(t.labArgv(ev), await t.lab(ev), (l) => /\s(BackOff|Started|Killing|Unhealthy)\s/.test(l));
      t.look(`1/1 Running, RESTARTS +2, ${v.ip}:80 back in the endpoints. The events tell the story: BackOff (the kubelet waiting to restart the failed container), then Created and Started again.`);
    },
  },
];

// ---------------------------------------------------------------------------------------------

function flowMap(step) {
  const hops = step.flow === 'request' ? REQUEST_FLOW : CRASH_FLOW;
  const width = textWidth();
  const label = step.flow === 'request' ? 'request flow: ' : 'crash flow:   ';
  const lines = [];
  let line = label;
  let len = label.length;
  for (const [i, h] of hops.entries()) {
    const on = step.at.includes(h);
    const text = on ? `[${h}]` : h;
    const sep = i < hops.length - 1 ? ' → ' : '';
    if (len + text.length + sep.length > width && len > label.length) {
      lines.push(line);
      line = ' '.repeat(label.length);
      len = label.length;
    }
    line += (on ? chalk.bold.inverse(text) : chalk.dim(text)) + chalk.dim(sep);
    len += text.length + sep.length;
  }
  lines.push(line);
  return lines.map((l, i) => (i === 0 ? chalk.dim(l.slice(0, label.length)) + l.slice(label.length) : l)).join('\n');
}

/** One key: Enter/space/any other -> next, q/Ctrl-C/Ctrl-D -> quit. */
async function waitKey(prompt) {
  process.stdout.write(chalk.dim(prompt));
  const stdin = process.stdin;
  stdin.setRawMode(true);
  stdin.resume();
  const key = await new Promise((resolve) => stdin.once('data', (d) => resolve(d.toString())));
  stdin.setRawMode(false);
  stdin.pause();
  process.stdout.write('\n');
  // q, Ctrl-C, Ctrl-D or Esc
  return ['q', 'Q', '\u0003', '\u0004', '\u001b'].includes(key[0]) ? 'quit' : 'next';
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.help) return void process.stdout.write(`${USAGE}\n`);
  if (opts.error) throw new TourError(`${opts.error}\n\n${USAGE}`, 2);
  if (process.getuid?.() !== 0) {
    throw new TourError("the tour needs root to look into the lab's network namespaces and iptables rules: run it with sudo (e.g. `sudo npm run tour`), with the lab running in another terminal (`sudo npm run lab`)", 1);
  }
  const t = new Tour(opts);
  t.crashStart = STEPS.findIndex((s) => s.crashStart) + 1;
  if (opts.step > STEPS.length) throw new TourError(`there are ${STEPS.length} steps; --step ${opts.step} is past the last`, 2);
  await t.discover();

  t.say(chalk.bold(`packet-path-lab tour: the request flow and the crash flow on the lab "${t.name}" (${t.mode} mode, node ${t.nodeName} ${t.nodeIP})`));
  t.say(chalk.dim(opts.yes ? 'Running every step without waiting.' : 'Enter or space: next step, q: quit.'));
  let i = opts.step - 1;
  while (i > 0 && STEPS[i].chained) i--;
  if (i !== opts.step - 1) t.note(`Step ${opts.step} runs right after step ${i + 1} (the pod is out only for a few seconds): starting at step ${i + 1}.`);
  await t.waitReady();

  for (let first = true; i < STEPS.length; i++, first = false) {
    const step = STEPS[i];
    // Asked at each crash step: the server may have been started (or stopped) meanwhile.
    if (step.flow === 'crash' && !t.serverRunning()) {
      t.say('');
      t.say(chalk.bold(`Steps ${t.crashStart}-${STEPS.length}, the crash flow, need the lab's server running (its kubelet, controllers and kube-proxy), and none is running:`));
      t.say(`nobody would restart a crashed container or update the endpoints. Start it in another terminal (it adopts the running pods):`);
      t.say(`  ${t.startCommand()}`);
      t.say(`then continue with:  sudo npm run tour${t.name === 'lab' ? ' --' : t.nameArg()} --step ${t.crashStart}`);
      return;
    }
    if (!first && !opts.yes && !step.chained) {
      if ((await waitKey(`\n[Enter] step ${i + 1}: ${step.title}    [q] quit `)) === 'quit') return void t.say('Bye. The lab keeps running.');
    }
    t.say('');
    const head = `━━ Step ${i + 1}/${STEPS.length} · ${step.flow} flow · ${step.title} `;
    t.say(chalk.bold.blue(head + '━'.repeat(Math.max(3, textWidth() - head.length))));
    t.say(flowMap(step));
    await step.run(t);
  }
  t.say('');
  t.say(chalk.bold('End of the tour. Next, on your own:'));
  t.say(`  sudo npx lab tcpdump svc/${SERVICE}${t.nameFlag()}     # every app2 pod's veth at once, while you curl ${HOST}`);
  t.say(`  sudo npx lab explain${t.nameFlag()}                      # every rule, route and conntrack entry of the lab, annotated`);
  t.say(`  edit lab/cluster.yaml (app2 replicas: 5) while 'npm run lab' runs, then: sudo npm run tour${t.name === 'lab' ? ' --' : t.nameArg()} --step 9`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.stdout.on('error', () => process.exit(0)); // `npm run tour | head`
  main().catch((e) => {
    if (e instanceof TourError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(e.code);
    }
    process.stderr.write(`tour: ${e?.message ?? e}\n`);
    process.exit(1);
  });
}
