// Subcommands beyond up/down/get, each in its own module exporting a yargs CommandModule.
// Add a command: write src/cli/commands/<name>.ts and list it here.
import type { CommandModule } from 'yargs';

export const commands: CommandModule<object, never>[] = [];
