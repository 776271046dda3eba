// Subcommands beyond up/down/get, each in its own module exporting a yargs CommandModule.
// Add a command: write src/cli/commands/<name>.ts and list it here.
import type { CommandModule } from 'yargs';
import { describeCommand } from './describe.ts';
import { execCommand } from './exec.ts';
import { explainCommand } from './explain.ts';
import { tcpdumpCommand } from './tcpdump.ts';
import { traceCommand } from './trace.ts';

export const commands: CommandModule<object, never>[] = [
  // The learner's tools: look inside a pod, read what the kernel holds, follow a packet.
  execCommand as CommandModule<object, never>,
  describeCommand as CommandModule<object, never>,
  explainCommand as CommandModule<object, never>,
  tcpdumpCommand as CommandModule<object, never>,
  traceCommand as CommandModule<object, never>,
];
