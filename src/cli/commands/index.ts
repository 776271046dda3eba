// Every `lab` subcommand: its name, help text and options. Each handler imports its module only
// when that subcommand runs (the bundle keeps each one in a chunk of its own), so `lab get pods`
// never loads the trace or tcpdump code and `lab --help` loads none of them.
// Add a command: write src/cli/commands/<name>.ts exporting `Args` and a handler, and list it here.
import type { Argv, CommandModule } from 'yargs';
import { common } from '../common.ts';
import type * as Agent from './agent.ts';
import type * as Describe from './describe.ts';
import type * as Down from './down.ts';
import type * as Events from './events.ts';
import type * as Exec from './exec.ts';
import type * as Explain from './explain.ts';
import type * as Get from './get.ts';
import type * as Images from './images.ts';
import type * as Kill from './kill.ts';
import type * as Kubeconfig from './kubeconfig.ts';
import type * as Node from './node.ts';
import type * as Proxy from './proxy.ts';
import type * as Server from './server.ts';
import type * as Tcpdump from './tcpdump.ts';
import type * as Trace from './trace.ts';
import type * as Ui from './ui.ts';
import type * as Up from './up.ts';

export const EXPLAIN_TOPICS = ['iptables', 'nftables', 'routes', 'conntrack'] as const;

function command<A>(spec: { command: string; describe: string; builder: (y: Argv) => Argv; handler: (a: A) => Promise<void> }): CommandModule<object, never> {
  return spec as unknown as CommandModule<object, never>;
}

export const commands: CommandModule<object, never>[] = [
  // The lab itself.
  command<Up.Args>({
    command: 'up',
    describe: 'start the instance (its server applies the state file) and wait until the cluster has converged',
    builder: (y) =>
      common(y)
        .option('watch', { alias: 'w', type: 'boolean', default: false, describe: 'run the instance\'s server in the foreground (`lab server`) instead of as a daemon; Ctrl-C stops it, the pods keep running' })
        // Before the server became what `lab up` runs, --api asked for it: still accepted.
        .option('api', { type: 'boolean', hidden: true })
        .option('ui', { type: 'boolean', default: true, describe: 'with --watch: also serve the live picture (`lab ui`, on a free port) and print its URL; --no-ui for none' })
        .option('timeout', { type: 'number', describe: 'seconds to wait for the cluster to converge (default 120)' })
        .option('nodes', { type: 'number', describe: 'how many nodes: the server labs and agents labsw, labsw2, ... (192.168.56.111, .112, ...) after those config.yaml declares; kept until changed' })
        .option('mode', { choices: ['host', 'sandbox'] as const, describe: 'host: this namespace is the node (the Vagrant VM; the default where scripts/provision.sh wrote /etc/packet-path-lab/host-mode); sandbox: a namespace stands in for it (the default elsewhere)' }) as Argv,
    handler: async (a) => (await import('./up.ts')).upHandler(a),
  }),
  command<Server.Args>({
    command: 'server',
    describe: 'run the instance\'s server in the foreground: API server, controllers, scheduler, this node\'s kubelet and kube-proxy (as `k3s server`; `lab up --watch` runs it too)',
    builder: (y) =>
      common(y)
        .option('mode', { choices: ['host', 'sandbox'] as const, describe: 'as for `lab up`' })
        .option('port', { type: 'number', describe: 'the API\'s port on 127.0.0.1 in this machine\'s namespace (default: a free one, recorded in the instance\'s server directory)' })
        .option('nodes', { type: 'number', describe: 'as for `lab up`' }) as Argv,
    handler: async (a) => (await import('./server.ts')).serverHandler(a),
  }),
  command<Agent.Args>({
    command: 'agent',
    describe: 'join this machine to a server as a node (`k3s agent`): its kubelet and kube-proxy, in the foreground; the sandbox\'s server starts one per agent',
    builder: (y) =>
      y
        .option('name', { type: 'string', default: 'lab', describe: 'instance name' })
        .option('server', { type: 'string', demandOption: true, describe: 'the server\'s API, e.g. https://192.168.56.110:6443' })
        .option('token', { type: 'string', describe: 'the server\'s node-token (K10<CA hash>::node:... or ::server:...), or the bare token: of its config.yaml (which pins no CA); shows in `ps`, so prefer --token-file' })
        .option('token-file', { type: 'string', describe: 'a file holding it (the Vagrant VMs: /etc/packet-path-lab/token)' })
        .option('node-name', { type: 'string', demandOption: true })
        .option('node-ip', { type: 'string', demandOption: true, describe: 'this node\'s address on the nodes\' network (eth1)' })
        .option('node-label', { type: 'string', array: true, describe: 'key=value, repeatable' })
        .option('node-taint', { type: 'string', array: true, describe: 'key=value:Effect, repeatable' })
        .option('mode', { choices: ['host', 'sandbox'] as const, describe: 'as for `lab up`' }) as Argv,
    handler: async (a) => (await import('./agent.ts')).agentHandler(a),
  }),
  command<Node.Args>({
    command: 'node <action> <node>',
    describe: 'stop or start an agent node\'s machine, as a VM fails and comes back (its agent and eth1 go down)',
    builder: (y) =>
      y
        .option('name', { type: 'string', default: 'lab', describe: 'instance name' })
        .positional('action', { choices: ['stop', 'start'] as const, demandOption: true })
        .positional('node', { type: 'string', demandOption: true, describe: 'an agent node, e.g. labsw' }) as Argv,
    handler: async (a) => (await import('./node.ts')).nodeHandler(a),
  }),
  command<Down.Args>({
    command: 'down',
    describe: 'remove everything of the instance (idempotent)',
    builder: (y) => common(y) as Argv,
    handler: async (a) => (await import('./down.ts')).downHandler(a),
  }),
  // What the API holds, as kubectl shows it.
  command<Get.Args>({
    command: 'get <resource> [names..]',
    describe: 'list pods, nodes, deployments, services or endpoints, like kubectl get',
    builder: (y) =>
      common(y)
        .positional('resource', { type: 'string', demandOption: true })
        .positional('names', { type: 'string', array: true, describe: 'only these objects' })
        .option('output', { alias: 'o', type: 'string', choices: ['wide', 'json', 'yaml', 'name'] })
        .option('selector', { alias: 'l', type: 'string', describe: 'label selector (instances run by `lab server`)' })
        .option('all-namespaces', { alias: 'A', type: 'boolean', default: false })
        .option('namespace', { alias: 'n', type: 'string', default: 'default' })
        .option('watch', { alias: 'w', type: 'boolean', default: false, describe: 'pods: print a line whenever one changes' }) as Argv,
    handler: async (a) => (await import('./get.ts')).getHandler(a),
  }),
  command<Kubeconfig.Args>({
    command: 'kubeconfig',
    describe: "print the instance's admin kubeconfig, as k3s writes /etc/rancher/k3s/k3s.yaml (makes the CAs and certificates on first use)",
    builder: (y) =>
      common(y)
        .option('server', { type: 'string', describe: 'the API server URL in it (default https://127.0.0.1 on the port the server recorded, 6443 before it ran)' })
        .example('$0 kubeconfig > lab.yaml && kubectl --kubeconfig lab.yaml get nodes', 'kubectl against the lab') as Argv,
    handler: async (a) => (await import('./kubeconfig.ts')).kubeconfigHandler(a),
  }),
  command<Events.Args>({
    command: 'events',
    describe: 'list events (Scheduled, Started, Killing, BackOff, Unhealthy, ...); -w follows new ones',
    builder: (y) => common(y).option('watch', { alias: 'w', type: 'boolean', default: false }).option('for', { type: 'string', describe: 'only events of this object, e.g. pod/app2-...' }) as Argv,
    handler: async (a) => (await import('./events.ts')).eventsHandler(a),
  }),
  command<Describe.Args>({
    command: 'describe <kind> [object]',
    describe: 'everything about one pod, service or node: IPs, netns, veth, KUBE-* chains, sysctls, events',
    builder: (y) =>
      common(y)
        .positional('kind', { type: 'string', demandOption: true, describe: 'pod, svc or node (or pod/<name>)' })
        .positional('object', { type: 'string', describe: 'its name (pods: also deploy/<name>)' })
        .option('namespace', { alias: 'n', type: 'string', describe: 'namespace (default: default, or the only match)' })
        .option('node', { type: 'string', describe: "svc: whose kube-proxy rules to show (default: the server's node; every node writes its own)" })
        .example('$0 describe node labsw', 'its podCIDR, VTEP MAC, flannel.1, FDB, neighbours, routes, subnet.env')
        .example('$0 describe svc app2-service', 'ClusterIP, endpoints and the KUBE-SVC/KUBE-SEP chains')
        .example('$0 describe pod deploy/app2', 'one pod of app2: IP, netns, veth and its peer, containers, events') as Argv,
    handler: async (a) => (await import('./describe.ts')).describeHandler(a),
  }),
  command<Images.Args>({
    command: 'images',
    describe: "the lab's local images (the only ones a pod can use: the lab has no registry), like crictl images, with where each comes from",
    builder: (y) => common(y) as Argv,
    handler: async (a) => (await import('./images.ts')).imagesHandler(a),
  }),
  // The learner's tools: look inside a pod, read what the kernel holds, follow a packet, break it.
  command<Exec.Args>({
    command: 'exec <pod> [command..]',
    describe: 'run a command inside a pod, like kubectl exec: lab exec <pod> -- <command> [args...]',
    builder: (y) =>
      common(y)
        // Everything after `--` is the command, verbatim (no option parsing, no number conversion).
        .parserConfiguration({ 'populate--': true, 'parse-positional-numbers': false })
        .positional('pod', { type: 'string', demandOption: true, describe: 'pod name, or deploy/<name> for one of its pods' })
        .positional('command', { type: 'string', array: true, describe: 'the command (put it after --)' })
        .option('container', { alias: 'c', type: 'string', describe: 'container name (default: the first)' })
        .option('namespace', { alias: 'n', type: 'string', describe: 'namespace of the pod' })
        .option('stdin', { alias: 'i', type: 'boolean', describe: 'accepted for kubectl habits: stdin is always attached' })
        .option('tty', { alias: 't', type: 'boolean', describe: 'a terminal inside the container (runc exec --tty), when stdin is one' })
        .example('$0 exec app1-6984ff456-s2d2h -- cat /etc/resolv.conf', "the pod's resolver: the cluster DNS")
        .example('$0 exec deploy/app2 -- wget -qO- http://app1-service', 'call a Service from inside a pod') as Argv,
    handler: async (a) => (await import('./exec.ts')).execHandler(a),
  }),
  command<Explain.Args>({
    command: 'explain [topic]',
    describe: "the node's iptables rules, routes and conntrack entries of the lab, each annotated with its Service, endpoint or pod",
    builder: (y) =>
      common(y)
        .positional('topic', { choices: EXPLAIN_TOPICS, describe: 'one section only (default: all; kube-proxy\'s nftables table instead of iptables in nftables mode)' })
        .option('counters', { type: 'boolean', default: false, describe: 'show the [packets:bytes] counters of each rule' })
        .option('pods', { type: 'boolean', default: true, describe: "routes: also each pod's routing table" })
        .option('node', { type: 'string', describe: "which node's kernel state (default: the server's node)" })
        .example('$0 explain iptables', 'KUBE-SERVICES -> KUBE-SVC -> KUBE-SEP, with the Service and pod of each rule')
        .example('$0 explain conntrack', 'the DNAT/SNAT of every tracked connection') as Argv,
    handler: async (a) => (await import('./explain.ts')).explainHandler(a),
  }),
  command<Tcpdump.Args>({
    command: 'tcpdump <target> [filter..]',
    describe: 'tcpdump on a pod (eth0), a service (every endpoint veth), the node (eth1) or cni0, in the right namespace',
    builder: (y) =>
      common(y)
        .parserConfiguration({ 'populate--': true, 'parse-positional-numbers': false })
        .positional('target', { type: 'string', demandOption: true, describe: 'pod name, svc/<name> (or a service name), node[/<name>], cni0' })
        .positional('filter', { type: 'string', array: true, describe: 'tcpdump filter (and options), after --' })
        .option('write', { alias: 'w', type: 'string', describe: 'write packets to this file instead of printing them (a service: one pcapng)' })
        .option('count', { alias: 'c', type: 'number', describe: 'stop after this many packets (in total)' })
        .option('veth', { type: 'boolean', default: false, describe: "pod: capture on the pod's veth on the node instead of its eth0" })
        .option('namespace', { alias: 'n', type: 'string', describe: 'namespace of the pod or service' })
        .option('node', { type: 'string', describe: "cni0: on this node's bridge (default: the server's node)" })
        .example('$0 tcpdump node/labsw', "labsw's eth1, VXLAN (UDP 8472) decoded: outer node IPs, VNI, inner pod packet")
        .example('$0 tcpdump svc/app2-service -- tcp port 80', 'one line per packet, prefixed with the pod that saw it')
        .example('$0 tcpdump node -w /tmp/eth1.pcap', 'what arrives from the laptop, for Wireshark') as Argv,
    handler: async (a) => (await import('./tcpdump.ts')).tcpdumpHandler(a),
  }),
  command<Trace.Args>({
    command: 'trace <url>',
    describe: 'send one real request and print every hop with kernel evidence: DNS, DNAT, ingress, conntrack, the pod that answered',
    builder: (y) =>
      common(y)
        .positional('url', { type: 'string', demandOption: true, describe: 'http://<host>[:port]/<path> (e.g. http://app2.com/)' })
        .option('from', { type: 'string', describe: 'send it from this pod (name or deploy/<name>) instead of the laptop' })
        .option('namespace', { alias: 'n', type: 'string', describe: 'namespace of the --from pod' })
        .option('header', { alias: 'H', type: 'string', array: true, describe: "extra request header, e.g. -H 'Host: app2.com'" })
        .option('json', { type: 'boolean', default: false, describe: 'print the trace as JSON' })
        .option('timeout', { type: 'number', default: 10, describe: 'seconds curl waits' })
        .example('$0 trace http://app2.com/', 'laptop -> node IP -> ingress pod -> ClusterIP -> app2 pod')
        .example('$0 trace http://app1-service/ --from deploy/app2', 'pod -> cluster DNS -> ClusterIP -> pod') as Argv,
    handler: async (a) => (await import('./trace.ts')).traceHandler(a),
  }),
  command<Kill.Args>({
    command: 'kill <pod>',
    describe: "kill a pod's container (SIGKILL), to watch the kubelet, endpoints and kube-proxy react; --signal for another",
    builder: (y) =>
      common(y)
        .positional('pod', { type: 'string', demandOption: true })
        .option('container', { alias: 'c', type: 'string' })
        .option('namespace', { alias: 'n', type: 'string', default: 'default' })
        .option('signal', { type: 'string', default: 'KILL', describe: 'KILL, TERM, HUP, ... (PID 1 of a container only receives signals it handles, and KILL)' })
        .option('trace', { type: 'boolean', default: false, describe: 'print the control-plane hops of the crash as they happen, with times and resourceVersions (an instance run by its server)' }) as Argv,
    handler: async (a) => (await import('./kill.ts')).killHandler(a),
  }),
  command<Ui.Args>({
    command: 'ui',
    describe: 'a live picture of the cluster in the browser: nodes, pods, Services and their chains, the Ingress; click for details, send a request, kill a pod',
    builder: (y) =>
      common(y)
        .option('port', { type: 'number', default: 8080, describe: 'port to listen on (0: any free one); on 127.0.0.1 in the sandbox, on the node IP in the VM' })
        .example('$0 ui', 'prints http://127.0.0.1:8080/?token=...: open it in a browser') as Argv,
    handler: async (a) => (await import('./ui.ts')).uiHandler(a),
  }),
  command<Proxy.Args>({
    command: 'proxy render',
    describe: 'print the iptables-restore input (or nftables table) kube-proxy would apply for the state file (no root needed)',
    builder: (y) =>
      common(y)
        .option('system', { type: 'boolean', default: false, describe: "include the lab's kube-system Services (DNS, ingress)" })
        .option('cluster-cidr', { type: 'string', describe: 'override cluster-cidr (kube-proxy --cluster-cidr)' })
        .option('proxy-mode', { type: 'string', choices: ['iptables', 'nftables'], describe: "kube-proxy's --proxy-mode (default: kube-proxy-arg in the config, else iptables)" }) as Argv,
    handler: async (a) => (await import('./proxy.ts')).proxyRenderHandler(a),
  }),
];
