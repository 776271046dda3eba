// config.yaml in the unit tests: the server's node lines most test configs start with, and the
// message with which a text is refused as lab/config.yaml.
import { parseClusterConfig, ValidationError, type ConfigFile } from '../../src/api/load.ts';

/** The server's node as lab/config.yaml declares it. */
export const SERVER_NODE = 'node-name: labS\nnode-ip: 192.168.56.110\n';

/** The message refusing `text` as lab/config.yaml (with its drop-ins); throws when it is accepted. */
export function configRefusal(text: string, dropIns: ConfigFile[] = []): string {
  try {
    parseClusterConfig(text, 'lab/config.yaml', 'h', dropIns);
  } catch (e) {
    if (e instanceof ValidationError) return e.message;
    throw e;
  }
  throw new Error('accepted');
}
