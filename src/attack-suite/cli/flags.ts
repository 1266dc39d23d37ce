/**
 * The flags both attack commands (`attack`, `attack-mcp`) take the same way: which attacks
 * run, how long a request may take, what fails the run, and how the report is written.
 */
import type { FailOn } from '../types.js';
import { FAIL_ON_VALUES } from '../verdict.js';
import { UsageError } from './exit.js';

/** Their `parseArgs` declarations, spread into each command's own. */
export const RUN_FLAGS = {
  only: { type: 'string' },
  skip: { type: 'string' },
  samples: { type: 'string' },
  timeout: { type: 'string' },
  'fail-on': { type: 'string' },
  json: { type: 'boolean' },
  sarif: { type: 'string' },
  'no-color': { type: 'boolean' },
} as const;

/** `--only` / `--skip`: attack ids, comma-separated. */
export function idList<Id extends string>(value: string | undefined): Id[] | undefined {
  return value
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean) as Id[] | undefined;
}

/** A duration flag: whole milliseconds, or a duration string (`'10s'`) the options validate. */
export function durationFlag(value: string | undefined): string | number | undefined {
  if (value === undefined) return undefined;
  return /^\d+$/.test(value) ? Number(value) : value;
}

/** `--fail-on`: one of `FAIL_ON_VALUES`. */
export function failOnFlag(value: string | undefined): FailOn | undefined {
  if (value !== undefined && !FAIL_ON_VALUES.includes(value as FailOn)) {
    throw new UsageError(`--fail-on must be one of ${FAIL_ON_VALUES.join(', ')}; got ${JSON.stringify(value)}`);
  }
  return value as FailOn | undefined;
}
