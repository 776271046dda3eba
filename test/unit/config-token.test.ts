// config.yaml's `token` (k3s's shared join secret) and the drop-ins it usually comes in
// (lab/config.yaml.d/*.yaml, as k3s reads config.yaml.d): validated without ever echoing the value;
// the API takes it as the user `node` (k3s:agent), not the admin; the node-token carries it in its
// K10 form; an agent joins with it bare or full; a new token replaces the old at once. Also
// `lab agent --node-ip` against the server's network (the VirtualBox NAT lesson).
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseClusterConfig, parseDesiredState, readClusterConfig, readConfigDropIns } from '../../src/api/load.ts';
import { agentNodeIPProblem } from '../../src/api/schema/config.ts';
import { hostNodeIPProblem } from '../../src/cli/commands/agent.ts';
import { ADMIN_USER, ensurePki } from '../../src/api/pki.ts';
import { startApiServer as startHttps, type ApiServer } from '../../src/api/server/http.ts';
import { apiTokens, NODE_USER, nodeTokenFor, startApiServer, type RunningApiServer } from '../../src/api/server/index.ts';
import { join, parseJoinToken } from '../../src/client/join.ts';
import { configRefusal, SERVER_NODE } from './config-fixtures.ts';

const SECRET = 'c0ffee-shared-secret-4f1d2a';

const tmp = mkdtempSync(path.join(tmpdir(), 'lab-config-token-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('config.yaml: token', () => {
  it('is optional; when set, the config carries it', () => {
    expect(parseClusterConfig(SERVER_NODE, 'c.yaml', 'h').token).toBeUndefined();
    expect('token' in parseClusterConfig(SERVER_NODE, 'c.yaml', 'h')).toBe(false);
    expect(parseClusterConfig(`${SERVER_NODE}token: ${SECRET}\n`, 'c.yaml', 'h').token).toBe(SECRET);
  });

  it('refuses what cannot be a bearer token, naming file, line and key, and never the value', () => {
    const cases: [string, RegExp][] = [
      [`token: ""\n`, /lab\/config\.yaml:3: token: must not be empty$/],
      [`token: "two ${SECRET}"\n`, /lab\/config\.yaml:3: token: must be printable ASCII without spaces/],
      [`token: "caf\u00e9${SECRET}"\n`, /token: must be printable ASCII without spaces/],
      [`token: K10${'a'.repeat(64)}::server:${SECRET}\n`, /token: starts with K10, which marks a full token .* give the secret alone/],
      ['token: 987654321987\n', /token: must be a string, got a number \(put it in quotes/],
      [`token: [${SECRET}]\n`, /token: must be a string, got a list$/],
      ['token: true\n', /token: must be a string, got true or false$/],
    ];
    for (const [line, want] of cases) {
      const msg = configRefusal(`${SERVER_NODE}${line}`);
      expect(msg, line).toMatch(want);
      expect(msg, line).not.toContain(SECRET);
      expect(msg, line).not.toContain('987654321987');
    }
  });

  it('a misspelt key is refused by name (the check can fail)', () => {
    expect(configRefusal(`${SERVER_NODE}tokn: ${SECRET}\n`)).toMatch(/lab\/config\.yaml:3: tokn: /);
  });
});

describe('config.yaml.d: drop-ins, as k3s merges config.yaml.d/*.yaml', () => {
  const dir = path.join(tmp, 'lab');
  const config = path.join(dir, 'config.yaml');
  beforeAll(() => {
    mkdirSync(path.join(dir, 'config.yaml.d', 'sub.yaml'), { recursive: true }); // a directory: skipped
    writeFileSync(config, `${SERVER_NODE}cluster-domain: cluster.local\n`);
    writeFileSync(path.join(dir, 'config.yaml.d', '50-token.yaml'), `token: ${SECRET}\n`);
    writeFileSync(path.join(dir, 'config.yaml.d', '10-domain.yml'), 'cluster-domain: lab.local\n');
    writeFileSync(path.join(dir, 'config.yaml.d', '90-domain.yaml'), 'cluster-domain: last.local\n');
    writeFileSync(path.join(dir, 'config.yaml.d', 'notes.txt'), 'token: not read\n');
    symlinkSync('90-domain.yaml', path.join(dir, 'config.yaml.d', '95-link.yaml'));
  });

  it('reads the *.yaml and *.yml files of <config>.d in name order (symlinks too, directories and other files not)', async () => {
    expect((await readConfigDropIns(config)).map((f) => path.basename(f.path))).toEqual(['10-domain.yml', '50-token.yaml', '90-domain.yaml', '95-link.yaml']);
    expect(await readConfigDropIns(path.join(tmp, 'none', 'config.yaml'))).toEqual([]);
  });

  it('a later file replaces a key of an earlier one; the token comes from its drop-in', async () => {
    const c = await readClusterConfig(config, 'h');
    expect(c.clusterDomain).toBe('last.local');
    expect(c.token).toBe(SECRET);
    expect(c.nodeIP).toBe('192.168.56.110');
    expect(c.source).toEqual({ file: config, line: 1 });
  });

  it('a problem is reported in the file that set the key, also between settings', () => {
    const bad = [{ path: 'lab/config.yaml.d/50-token.yaml', text: `# the Vagrant VM's\ntoken: "a b"\n` }];
    expect(configRefusal(SERVER_NODE, bad)).toBe('lab/config.yaml.d/50-token.yaml:2: token: must be printable ASCII without spaces (agents send it in an HTTP header)');
    const ip = [{ path: 'lab/config.yaml.d/ip.yaml', text: 'node-ip: 10.42.0.9\n' }];
    expect(configRefusal(SERVER_NODE, ip)).toMatch(/^lab\/config\.yaml\.d\/ip\.yaml:1: node-ip: node IP 10\.42\.0\.9 is inside the pod CIDR/);
  });

  it('the state loader reads them too (the server validates one merged config)', () => {
    const d = parseDesiredState({
      stateText: 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: default\n',
      statePath: 'cluster.yaml',
      configText: SERVER_NODE,
      configPath: 'config.yaml',
      configDropIns: [{ path: 'config.yaml.d/t.yaml', text: `token: ${SECRET}\n` }],
      hostname: 'h',
    });
    expect(d.config.token).toBe(SECRET);
  });
});

describe('the API: the token is the user node (k3s:agent), the admin stays the admin', () => {
  it('apiTokens: the admin first, the agents\' secret beside it, never the admin\'s token as a node\'s', () => {
    expect(apiTokens('a'.repeat(64))).toEqual([{ token: 'a'.repeat(64), user: ADMIN_USER }]);
    expect(apiTokens('a'.repeat(64), SECRET)).toEqual([
      { token: 'a'.repeat(64), user: ADMIN_USER },
      { token: SECRET, user: { name: 'node', groups: ['k3s:agent'] } },
    ]);
    expect(apiTokens('a'.repeat(64), 'a'.repeat(64))).toEqual([{ token: 'a'.repeat(64), user: ADMIN_USER }]);
  });

  let https: ApiServer;
  let url = '';
  let ca = '';
  let adminToken = '';
  beforeAll(async () => {
    const pki = await ensurePki({ tlsDir: path.join(tmp, 'who', 'tls'), tokenFile: path.join(tmp, 'who', 'token') }, { nodeName: 'labs', nodeIP: '192.168.56.110', serviceIP: '10.43.0.1', clusterDomain: 'cluster.local' });
    ca = pki.serverCaCert;
    https = await startHttps({
      tls: { cert: pki.servingCert, key: pki.servingKey, clientCa: pki.clientCaCert },
      tokens: apiTokens(pki.token, SECRET),
      listen: [{ host: '127.0.0.1', port: 0 }],
      handler: async (req) => (req.path === '/whoami' ? { status: 200, body: { user: req.user } } : undefined),
    });
    url = `https://127.0.0.1:${https.addresses[0]!.port}`;
    adminToken = pki.token;
  });
  afterAll(() => https?.close());

  const whoami = async (token: string) => {
    const r = await fetchWithCa(`${url}/whoami`, ca, token);
    return r.status === 200 ? (JSON.parse(r.body) as { user: { name: string; groups: string[] } }).user : r.status;
  };

  it('what the authenticator makes of each token', async () => {
    expect(await whoami(SECRET)).toEqual({ name: NODE_USER.name, groups: ['k3s:agent', 'system:authenticated'] });
    expect(await whoami(adminToken)).toEqual({ name: 'system:admin', groups: ['system:masters', 'system:authenticated'] });
    expect(await whoami(`${SECRET}x`)).toBe(401);
  });
});

describe('serveApi: node-token and joining with the config token', () => {
  let api: RunningApiServer;
  const hash = () => createHash('sha256').update(api.pki.serverCaCert).digest('hex');
  beforeAll(async () => {
    api = await startApiServer({ storeFile: path.join(tmp, 'srv', 'db', 'state.db'), pkiDir: path.join(tmp, 'srv'), agentSecret: SECRET, agentConfig: () => ({ clusterCIDR: '10.42.0.0/16' }) });
  });
  afterAll(async () => api?.close());

  it('the node-token is the K10 form of the config token (user node); without one, of the server\'s (user server)', () => {
    expect(api.nodeToken).toBe(`K10${hash()}::node:${SECRET}`);
    expect(parseJoinToken(api.nodeToken)).toEqual({ caHash: hash(), secret: SECRET });
    expect(nodeTokenFor(api.pki.serverCaCert, api.pki.token)).toBe(`K10${hash()}::server:${api.pki.token}`);
  });

  it('an agent joins with the bare token (k3s\'s short form) or the node-token; a wrong secret gets 401', async () => {
    for (const token of [SECRET, api.nodeToken]) {
      const j = await join(api.url, token);
      expect(j.config).toEqual({ clusterCIDR: '10.42.0.0/16' });
      j.client.close();
    }
    await expect(join(api.url, 'not-the-secret')).rejects.toThrow(/refused the token \(401 Unauthorized\): use the token: of the server's config\.yaml, or its node-token/);
  });

  it('a new token replaces the old one at once, in the API and in the node-token', async () => {
    api.setAgentSecret('rotated-secret');
    expect(api.nodeToken).toBe(`K10${hash()}::node:rotated-secret`);
    await expect(join(api.url, SECRET)).rejects.toThrow(/401/);
    (await join(api.url, 'rotated-secret')).client.close();
    api.setAgentSecret(undefined);
    expect(api.nodeToken).toBe(`K10${hash()}::server:${api.pki.token}`);
    await expect(join(api.url, 'rotated-secret')).rejects.toThrow(/401/);
    (await join(api.url, api.nodeToken)).client.close();
  });
});

describe('lab agent --node-ip against --server', () => {
  it('on the server\'s /24 it passes; VirtualBox\'s NAT address is named as the lesson it is', () => {
    expect(agentNodeIPProblem('192.168.56.111', 'https://192.168.56.110:6443')).toBeUndefined();
    expect(agentNodeIPProblem('10.0.2.15', 'https://192.168.56.110:6443')).toBe(
      "node IP 10.0.2.15 is not on the node network 192.168.56.0/24 of the server 192.168.56.110, where the nodes meet (eth1): 10.0.2.15 is VirtualBox's NAT address on eth0, the same on every VM and reachable from none (the folklore of k3s's --flannel-iface eth1): give this machine's address there, such as 192.168.56.111",
    );
    expect(agentNodeIPProblem('192.168.57.5', 'https://192.168.56.110:6443')).toMatch(/not on the node network 192\.168\.56\.0\/24 .* such as 192\.168\.56\.111$/);
    expect(agentNodeIPProblem('192.168.56.1', 'https://192.168.56.110:6443')).toMatch(/the laptop's address/);
    expect(agentNodeIPProblem('10.0.2.15', 'https://labs:6443')).toBeUndefined();
    expect(agentNodeIPProblem('192.168.56.111', 'https://127.0.0.1:6443')).toBeUndefined();
  });
});

describe('lab agent --node-ip on a VM (host mode)', () => {
  const vm = new Map([
    ['lo', { ifname: 'lo', up: true, addrs: ['127.0.0.1/8'] }],
    ['eth0', { ifname: 'eth0', up: true, addrs: ['10.0.2.15/24'] }],
    ['eth1', { ifname: 'eth1', up: true, addrs: ['192.168.56.111/24'] }],
  ]);
  it("eth1's address passes; eth0's is refused naming eth1's; one the machine lacks, in the kubelet's words", () => {
    expect(hostNodeIPProblem(vm, '192.168.56.111')).toBeUndefined();
    expect(hostNodeIPProblem(vm, '10.0.2.15')).toBe("--node-ip: 10.0.2.15 is eth0's address, and the nodes meet on eth1 (flannel's interface, k3s's --flannel-iface): give eth1's 192.168.56.111");
    expect(hostNodeIPProblem(vm, '192.168.56.119')).toMatch(/^failed to validate nodeIP: node IP: "192\.168\.56\.119" not found in the host's network interfaces/);
  });
});

/** GET with a bearer token, trusting only `ca`. */
function fetchWithCa(url: string, ca: string, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, headers: { Authorization: `Bearer ${token}` }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}
