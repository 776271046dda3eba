// A listening TCP socket inside another network namespace, accepted on by this process.
//
// Node cannot enter a namespace (no setns), but a socket keeps the namespace it was created in: a
// short-lived child started with `ip netns exec <ns> node` binds the address there and hands the
// listening socket back over Node's IPC channel (`process.send(message, server)`: the descriptor
// travels with SCM_RIGHTS); the child then exits and this process serves the socket. That is how
// the API server, which runs in the machine's namespace, also listens on the node's
// 192.168.56.110:6443 in sandbox mode, with no route or forwarder between the two namespaces.
import { spawn } from 'node:child_process';
import type { Server } from 'node:net';
import { assertKnownProgram } from './packages.ts';
import { spawnCounter } from './exec.ts';

const SAFE_NETNS = /^[a-z0-9][a-z0-9.-]{0,62}$/;

/** The child's program: bind, hand the server over, exit once the parent lets go. */
const CHILD = `
const net = require('node:net');
const [host, port] = [process.argv[1], Number(process.argv[2])];
const server = net.createServer();
server.on('error', (e) => { process.send({ error: e.code + ' ' + e.message }); process.disconnect(); });
// Once sent, both processes hold the socket: the child closes its own and exits.
server.listen({ host, port, exclusive: true }, () => process.send({ listening: true }, server, () => { server.close(); process.disconnect(); }));
`;

/**
 * Resolves with a handle to pass to `server.listen(handle)` (http, https and net servers take it),
 * bound to host:port inside network namespace `netns`. Rejects with the bind error (EADDRINUSE,
 * EADDRNOTAVAIL) or when the child could not start.
 */
export function listenInNetns(netns: string, host: string, port: number): Promise<Server> {
  if (!SAFE_NETNS.test(netns)) throw new Error(`invalid network namespace name ${JSON.stringify(netns)}`);
  if (!/^[0-9.]+$|^[0-9a-f:]+$/i.test(host)) throw new Error(`listen address must be an IP address, got ${JSON.stringify(host)}`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`invalid port ${port}`);
  assertKnownProgram('ip');
  spawnCounter.count++;
  const child = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', CHILD, host, String(port)], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  return new Promise((resolve, reject) => {
    let settled = false;
    child.on('message', (m: { listening?: boolean; error?: string }, handle?: unknown) => {
      if (settled) return;
      settled = true;
      if (m.listening && handle) resolve(handle as Server);
      else reject(new Error(`cannot listen on ${host}:${port} in network namespace ${netns}: ${m.error ?? 'no socket received'}`));
    });
    const fail = (e: Error) => {
      if (settled) return;
      settled = true;
      reject(e);
    };
    child.on('error', fail);
    // 'close', not 'exit': the child exits as soon as its message is written, and Node may report
    // the exit (SIGCHLD) before it has read that message and its socket from the channel; 'close'
    // comes once the channel is drained and closed too.
    child.on('close', (code) => fail(new Error(`cannot listen on ${host}:${port} in network namespace ${netns}: exit ${code}: ${stderr.trim()}`)));
  });
}
