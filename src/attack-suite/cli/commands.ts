import type { CliIO } from './io.js';

/** One subcommand: parses its own arguments (after the command name) and returns the exit status. */
export interface CliCommand {
  /** Its usage text, shown by `fixation-guard <name> --help` and after a usage error. */
  readonly usage: string;
  run(argv: string[], io: CliIO): Promise<number>;
}

/** A row of the dispatch table. `load` is lazy, so one command's dependencies never load for another. */
export interface CommandEntry {
  /** The first word on the command line, e.g. `attack`. */
  readonly name: string;
  /** One line for `fixation-guard --help`. */
  readonly summary: string;
  load(): Promise<CliCommand>;
}

/**
 * The subcommands of the `fixation-guard` binary. Adding one is one row here and one module
 * that exports a {@link CliCommand} as `command`.
 */
export const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'attack',
    summary: 'run the session fixation attack suite against a running app',
    load: async () => (await import('./attack.js')).command,
  },
  {
    name: 'list',
    summary: 'list the attack catalogue with its classes, severities and standards',
    load: async () => (await import('./list.js')).command,
  },
];
