#!/usr/bin/env node
/**
 * The `fixation-guard` binary. Subcommands live in a dispatch table (`cli/commands.ts`); the
 * exit statuses are shared by all of them (`cli/exit.ts`): 0 pass, 1 findings, 2 setup error,
 * 3 inconclusive.
 */
import { main } from './cli/dispatch.js';

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
