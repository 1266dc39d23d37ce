/**
 * The exit statuses every `fixation-guard` subcommand uses, so CI can tell a finding from a
 * broken setup from a run that could not decide.
 */
export const EXIT = Object.freeze({
  /** Nothing at or above `--fail-on` was found, and the run could decide. */
  pass: 0,
  /** A finding at or above `--fail-on`. */
  findings: 1,
  /** Bad usage, an unreachable target, or an app that cannot be attacked as described. */
  setup: 2,
  /** The run could not decide: an attack it needs could not run (the reason names the flag that fixes it). */
  inconclusive: 3,
});

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Bad command-line usage: the message names the flag; the usage text follows it on stderr. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** What `--json` prints when a command ends before it has a report: always one JSON document. */
export interface CliErrorDocument {
  error: {
    /** `usage` (bad flags), `setup` (the app cannot be attacked as described), `unreachable`, `internal`. */
    kind: 'usage' | 'setup' | 'unreachable' | 'internal';
    message: string;
  };
  exitCode: ExitCode;
}

export function errorDocument(kind: CliErrorDocument['error']['kind'], message: string, exitCode: ExitCode = EXIT.setup): CliErrorDocument {
  return { error: { kind, message }, exitCode };
}
