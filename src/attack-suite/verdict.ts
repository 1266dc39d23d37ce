import type { AttackOutcome, FailOn, FindingClass, RunSummary, RunVerdict, Severity } from './types.js';

/** The `--fail-on` values, most lenient last. */
export const FAIL_ON_VALUES: readonly FailOn[] = ['fixation', 'hardening', 'all'];
export const DEFAULT_FAIL_ON: FailOn = 'fixation';

/** Classes ranked from most to least severe; `failOn` takes everything at or above its rank. */
const CLASS_RANK: Record<FindingClass, number> = { fixation: 0, hardening: 1 };
const FAIL_ON_RANK: Record<FailOn, number> = { fixation: 0, hardening: 1, all: Number.POSITIVE_INFINITY };

/** SARIF `security-severity` scores (GitHub code scanning reads them as CVSS-like 0–10). */
export const SECURITY_SEVERITY: Record<Severity, string> = { critical: '9.5', high: '8.0', medium: '5.5', low: '3.0' };
/** SARIF result levels. */
export const SARIF_LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = { critical: 'error', high: 'error', medium: 'warning', low: 'note' };

/** What deciding a run needs to know of each attack (the fixation suite's results have it; so can other suites'). */
export interface VerdictInput {
  id: string;
  outcome: AttackOutcome;
  class: FindingClass;
  severity: Severity;
  /** When a core attack cannot run, the run cannot be decided. */
  core: boolean;
  reason: string;
}

/** Whether a successful attack of this class fails a run with this threshold. */
export function failsRun(findingClass: FindingClass, failOn: FailOn): boolean {
  return CLASS_RANK[findingClass] <= FAIL_ON_RANK[failOn];
}

/**
 * Decides a run: `fail` on any finding at or above `failOn`; otherwise `inconclusive` when a
 * core attack was not applicable or any attack was aborted (`reasons` says which and why);
 * otherwise `pass`.
 */
export function decideVerdict(results: readonly VerdictInput[], failOn: FailOn): { verdict: RunVerdict; inconclusive: string[] } {
  const inconclusive = results
    .filter((r) => r.outcome === 'error' || (r.core && r.outcome === 'not-applicable'))
    .map((r) => `${r.id} ${r.outcome === 'error' ? 'was aborted' : 'could not run'}: ${r.reason}`);
  if (results.some((r) => r.outcome === 'fail' && failsRun(r.class, failOn))) return { verdict: 'fail', inconclusive };
  return { verdict: inconclusive.length > 0 ? 'inconclusive' : 'pass', inconclusive };
}

/** The exit status of a decided run: 0 pass, 1 fail, 3 inconclusive (2 is a setup error, decided before any run). */
export function exitCodeOf(verdict: RunVerdict): 0 | 1 | 3 {
  return verdict === 'pass' ? 0 : verdict === 'fail' ? 1 : 3;
}

/** Counts a run's results and decides its verdict: the `summary` of every report. */
export function summarize(results: readonly VerdictInput[], failOn: FailOn): RunSummary {
  const count = (outcome: AttackOutcome) => results.filter((r) => r.outcome === outcome).length;
  const findings = (c: FindingClass) => results.filter((r) => r.outcome === 'fail' && r.class === c).length;
  const failed = count('fail');
  return {
    total: results.length,
    passed: count('pass'),
    failed,
    notApplicable: count('not-applicable'),
    errors: count('error'),
    findings: { fixation: findings('fixation'), hardening: findings('hardening') },
    secure: failed === 0,
    failOn,
    ...decideVerdict(results, failOn),
  };
}
