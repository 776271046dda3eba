// `lab kubeconfig`: the admin kubeconfig of an instance, as k3s writes /etc/rancher/k3s/k3s.yaml
// (the server CA, and the client certificate CN=system:admin, O=system:masters with its key). The
// certificates are made on first use, as k3s makes them on its first start, and kept with the
// instance under /run/packet-path-lab/<i>/server/tls (so `lab down` drops them, as uninstalling
// k3s does). The SANs come from lab/config.yaml (node name and IP, the Service IP).
// With a server running (`lab server`), the address is 127.0.0.1 on the port it recorded; host
// mode's server also writes it to /etc/rancher/k3s/k3s.yaml (0600), as k3s does.
import { readFile } from 'node:fs/promises';
import { KUBE_API_PORT, renderKubeconfig } from '../../api/kubeconfig.ts';
import { readClusterConfig } from '../../api/load.ts';
import { ensurePki, pkiSettings } from '../../api/pki.ts';
import { instancePaths } from '../../node/instance.ts';
import { log, type Common } from '../common.ts';
import { missingTools, tools } from '../preflight.ts';

export type Args = Common & { server?: string };

/**
 * Where this machine reaches the instance's server: 127.0.0.1 on the port it recorded (6443 until
 * one has run), as k3s's own k3s.yaml says https://127.0.0.1:6443. Never the node's IP: in sandbox
 * mode 192.168.56.110 exists only inside the sandbox, and from here it would leave the machine.
 */
async function serverUrl(paths: ReturnType<typeof instancePaths>): Promise<string> {
  const port = Number((await readFile(paths.apiPortFile, 'utf8').catch(() => '')).trim());
  return `https://127.0.0.1:${Number.isInteger(port) && port > 0 ? port : KUBE_API_PORT}`;
}

export async function kubeconfigHandler(a: Args): Promise<void> {
  const paths = instancePaths(a.name);
  if (process.getuid?.() !== 0) throw new Error(`lab kubeconfig reads and makes the instance's keys under ${paths.serverDir}, which only root can: run it with sudo`);
  const missing = missingTools(tools('openssl'));
  if (missing.length) throw new Error(`missing openssl: install with \`sudo apt-get install -y openssl\``);
  const config = await readClusterConfig(a.config);
  const pki = await ensurePki(paths, pkiSettings(config));
  for (const g of pki.generated) log(`# ${g.name}: made (${g.reason}) in ${g.name === 'token' ? paths.tokenFile : paths.tlsDir}`);
  process.stdout.write(
    renderKubeconfig({
      server: a.server ?? (await serverUrl(paths)),
      certificateAuthority: pki.serverCaCert,
      clientCertificate: pki.adminCert,
      clientKey: pki.adminKey,
    }),
  );
}
