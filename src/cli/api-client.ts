// The admin's client of an instance's running server (`lab server`), as this machine reaches it:
// 127.0.0.1 on the port the server recorded, with the admin certificate k3s's PKI gives root.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { HttpsClient } from '../client/https.ts';
import type { InstancePaths } from '../node/instance.ts';
import { readHolder } from './lock.ts';

/** A client of the server holding the instance, or null when no server runs. */
export async function serverClient(instance: string, paths: InstancePaths): Promise<HttpsClient | null> {
  const holder = readHolder(instance);
  const port = Number((await readFile(paths.apiPortFile, 'utf8').catch(() => '')).trim());
  if (holder?.command !== 'server' || !(port > 0)) return null;
  const [ca, cert, key] = await Promise.all(['server-ca.crt', 'client-admin.crt', 'client-admin.key'].map((f) => readFile(path.join(paths.tlsDir, f), 'utf8')));
  return new HttpsClient({ server: `https://127.0.0.1:${port}`, ca: ca!, cert, key });
}
