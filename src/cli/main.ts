// `lab`: the command line. Its subcommands are clients of the instance's API server (or read its
// store while no server runs), so `lab get` works from another terminal while the server runs. This module stays small:
// a subcommand's own modules load only when it runs (src/cli/commands/index.ts).
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { InstanceNotRunningError, ValidationError } from '../api/errors.ts';
import { commands } from './commands/index.ts';
import { startHint } from './common.ts';

async function main(): Promise<void> {
  await yargs(hideBin(process.argv))
    .scriptName('lab')
    .usage('$0 <command> [options]\n\nRebuilds the Kubernetes packet path out of real Linux kernel objects.')
    .command(commands)
    .demandCommand(1)
    .strict()
    .help()
    .fail((msg, err, y) => {
      if (err) throw err;
      y.showHelp();
      process.stderr.write(`\n${msg}\n`);
      process.exit(2);
    })
    .parseAsync();
}

main().catch((e: unknown) => {
  if (e instanceof ValidationError) process.stderr.write(`error: invalid lab state\n${e.message}\n`);
  else if (e instanceof InstanceNotRunningError) process.stderr.write(`error: ${e.message}; start it with '${startHint(e.instance)}'\n`);
  else process.stderr.write(`error: ${(e as Error).message}\n`);
  process.exit(1);
});
