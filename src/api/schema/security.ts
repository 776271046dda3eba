// A container's securityContext: the fields the lab accepts, checked as the API server checks them
// (ValidateSecurityContext). Whether a pod may use them is Pod Security admission's business
// (src/api/admission.ts); applying them is the runtime's.

import { z } from 'zod';
import type { SecurityContext } from '../types.ts';
import { bool, int, str } from './fields.ts';

/** Every capability of capabilities(7) (Linux 6.x), named as Kubernetes writes them: no CAP_ prefix. */
export const LINUX_CAPABILITIES: ReadonlySet<string> = new Set([
  'AUDIT_CONTROL', 'AUDIT_READ', 'AUDIT_WRITE', 'BLOCK_SUSPEND', 'BPF', 'CHECKPOINT_RESTORE', 'CHOWN',
  'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'IPC_LOCK', 'IPC_OWNER', 'KILL', 'LEASE',
  'LINUX_IMMUTABLE', 'MAC_ADMIN', 'MAC_OVERRIDE', 'MKNOD', 'NET_ADMIN', 'NET_BIND_SERVICE', 'NET_BROADCAST',
  'NET_RAW', 'PERFMON', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_CHROOT',
  'SYS_MODULE', 'SYS_NICE', 'SYS_PACCT', 'SYS_PTRACE', 'SYS_RAWIO', 'SYS_RESOURCE', 'SYS_TIME',
  'SYS_TTY_CONFIG', 'SYSLOG', 'WAKE_ALARM',
]);

/**
 * The API server takes any string as a capability and the runtime fails on a bad one when the
 * container starts; the lab says so when the file is loaded. `ALL` (add or drop every capability) is
 * what containerd understands besides the names.
 */
export function capabilityProblem(value: string): string | undefined {
  if (value === 'ALL' || LINUX_CAPABILITIES.has(value)) return undefined;
  const upper = value.toUpperCase();
  const bare = upper.startsWith('CAP_') ? upper.slice(4) : upper;
  if (LINUX_CAPABILITIES.has(bare)) {
    return value.toUpperCase().startsWith('CAP_')
      ? `must be written without the CAP_ prefix, as Kubernetes writes capabilities: ${JSON.stringify(bare)}`
      : `must be written in upper case, as Kubernetes writes capabilities: ${JSON.stringify(bare)}`;
  }
  return 'must be a Linux capability such as NET_ADMIN or NET_BIND_SERVICE (capabilities(7), without the CAP_ prefix), or ALL';
}

/** validation.IsValidUserID / IsValidGroupID: "must be between 0 and 2147483647, inclusive". */
const id = () => int(0, 2147483647, 'between 0 and 2147483647, inclusive');

export const securityContext: z.ZodType<SecurityContext> = z
  .strictObject({
    privileged: bool().optional(),
    allowPrivilegeEscalation: bool().optional(),
    capabilities: z
      .strictObject({
        add: z.array(str(capabilityProblem)).optional(),
        drop: z.array(str(capabilityProblem)).optional(),
      })
      .optional(),
    runAsUser: id().optional(),
    runAsGroup: id().optional(),
    runAsNonRoot: bool().optional(),
    readOnlyRootFilesystem: bool().optional(),
  })
  .check((ctx) => {
    // The API server's own consistency rule: no_new_privs cannot hold for a privileged container.
    if (ctx.value.allowPrivilegeEscalation === false && ctx.value.privileged === true) {
      ctx.issues.push({ code: 'custom', input: ctx.value, message: 'cannot set `allowPrivilegeEscalation` to false and `privileged` to true' });
    }
  });
