// The list of subcommands, in the order `repozip --help` shows them.
import { Command } from './command';
import { generateCommand } from './generate';
import { debugCommand } from './debug';

export const commands: Command[] = [generateCommand, debugCommand];
