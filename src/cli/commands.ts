// The list of subcommands, in the order `repozip --help` shows them.
import { Command } from './command';
import { generateCommand } from './generate';
import { debugCommand } from './debug';
import { modelCommand } from './model';
import { cacheCommand } from './cache';
import { askCommand, indexCommand } from './repo-commands';
import { evalCommand } from './eval';

export const commands: Command[] = [indexCommand, askCommand, generateCommand, modelCommand, cacheCommand, evalCommand, debugCommand];
