import type { AttackOutcome, AttackResult, EvidenceCookie, FindingClass, FixationReport, RunSummary, Severity } from './types.js';

export const ANSI = { reset: '\x1b[0m', bold: '\x1b[1m', dim: '\x1b[2m', red: '\x1b[31m', green: '\x1b[32m', yellow: '\x1b[33m' } as const;

export interface FormatOptions {
  /** ANSI colours. The default value is `false`; the CLI turns it on for a TTY. */
  color?: boolean;
  /** Include the evidence of failed attacks. The default value is `true`. */
  evidence?: boolean;
}

/** Outcome labels and colours, shared by every report of the attack suites. */
export const LABEL = { pass: 'PASS', fail: 'FAIL', 'not-applicable': 'N/A', error: 'ERR' } as const;
export const COLOUR = { pass: ANSI.green, fail: ANSI.red, 'not-applicable': ANSI.yellow, error: ANSI.yellow } as const;

export function paint(text: string, colour: string, on: boolean): string {
  return on ? `${colour}${text}${ANSI.reset}` : text;
}

function cookies(list: readonly EvidenceCookie[]): string {
  return list.map((c) => `${c.name}=${c.id}`).join(' ');
}

/** The requests and notes of one result, one line each, ids as hashes. */
export function formatEvidence(result: AttackResult): string {
  const lines = result.evidence.requests.map((r) => {
    const sent = r.sent.length > 0 ? ` [${cookies(r.sent)}]` : '';
    const outcome = r.error ? `error: ${r.error}` : `${r.status}`;
    const got = r.received.length > 0 ? ` set ${cookies(r.received)}` : '';
    const location = r.location ? ` Location: ${r.location}` : '';
    return `  · ${r.step}: ${r.method} ${r.path}${sent} → ${outcome}${got}${location}`;
  });
  for (const note of result.evidence.notes) lines.push(`  · note: ${note}`);
  return lines.join('\n');
}

/** Standard references in one short cell: `ASVS4 3.2.1 · ASVS5 7.2.4`. */
export function formatStandard(result: Pick<AttackResult, 'standard'>): string {
  const { asvs4, asvs5 } = result.standard;
  return [asvs4.length ? `ASVS4 ${asvs4.join(',')}` : '', asvs5.length ? `ASVS5 ${asvs5.join(',')}` : ''].filter(Boolean).join(' · ');
}

/** The request that decided an attack, in one line: its last request, or its first note. */
export function formatEvidenceSummary(result: AttackResult): string {
  const request = result.evidence.requests.at(-1);
  const shown = result.evidence.requests.length;
  if (!request) return result.evidence.notes[0] ?? 'no request';
  const sent = request.sent.length > 0 ? ` [${cookies(request.sent)}]` : '';
  const outcome = request.error ? `error: ${request.error}` : `${request.status}`;
  const more = shown > 1 ? ` (last of ${shown} requests)` : '';
  return `${request.step}: ${request.method} ${request.path}${sent} → ${outcome}${more}`;
}

export const VERDICT_COLOUR = { pass: ANSI.green, fail: ANSI.red, inconclusive: ANSI.yellow } as const;

/**
 * The closing lines of a report (either suite's): the evidence of every attack that succeeded
 * (unless `options.evidence` is false), the counts, the verdict and why it is inconclusive.
 */
export function formatClosing<R extends { id: string; outcome: AttackOutcome; class: FindingClass; severity: Severity }>(
  report: { results: readonly R[]; summary: RunSummary; durationMs: number },
  evidenceOf: (result: R) => string,
  options: FormatOptions,
): string[] {
  const color = options.color ?? false;
  const out: string[] = [];
  const succeededAttacks = report.results.filter((r) => r.outcome === 'fail');
  if ((options.evidence ?? true) && succeededAttacks.length > 0) {
    out.push('', paint('Evidence of the attacks that succeeded:', ANSI.bold, color));
    for (const result of succeededAttacks) out.push(paint(`${result.id} (${result.class}, ${result.severity})`, ANSI.red, color), evidenceOf(result));
  }
  const { passed, failed, notApplicable, errors, total, findings, verdict, failOn, inconclusive } = report.summary;
  const succeeded = failed === 0 ? 'no attack succeeded' : `${failed} attack${failed === 1 ? '' : 's'} succeeded (${findings.fixation} fixation, ${findings.hardening} hardening)`;
  out.push(
    '',
    `${total} attacks: ${passed} passed, ${failed} failed, ${notApplicable} not applicable${errors ? `, ${errors} aborted` : ''} — ${succeeded} (${report.durationMs} ms)`,
    paint(`Verdict: ${verdict.toUpperCase()} (fail on: ${failOn})`, VERDICT_COLOUR[verdict], color),
    ...inconclusive.map((why) => `  · ${why}`),
  );
  return out;
}

/**
 * A readable report: one block per attack (outcome, id and reason; class, severity and
 * standards; the request that decided it), then the evidence of every attack that succeeded,
 * then the summary and the verdict.
 *
 * @example
 * console.log(formatReport(await runFixationAttacks(app, options), { color: process.stdout.isTTY }));
 */
export function formatReport(report: FixationReport, options: FormatOptions = {}): string {
  const color = options.color ?? false;
  const width = Math.max(...report.results.map((r) => r.id.length), 2);
  const indent = `      ${' '.repeat(width)}  `;
  const out: string[] = [
    paint(`Fixation attacks against ${report.target} (cookie \`${report.cookieName}\`${report.https ? ', https' : ''})`, ANSI.bold, color),
    '',
  ];
  for (const result of report.results) {
    const label = paint(LABEL[result.outcome].padEnd(4), COLOUR[result.outcome], color);
    out.push(`${label}  ${result.id.padEnd(width)}  ${result.reason}`);
    out.push(paint(`${indent}${result.class} · ${result.severity}${result.core ? ' · core' : ''} · ${formatStandard(result)}`, ANSI.dim, color));
    out.push(paint(`${indent}evidence: ${formatEvidenceSummary(result)}`, ANSI.dim, color));
  }
  out.push(...formatClosing(report, formatEvidence, options));
  return out.join('\n');
}

/** What a side-by-side comparison reads of a report: the fixation suite's and the MCP suite's alike. */
export interface ComparableReport {
  results: ReadonlyArray<{ id: string; outcome: AttackOutcome }>;
  summary: { failed: number; total: number };
}

/**
 * Two reports side by side, one row per attack: what the demo prints for the protected and
 * the vulnerable example.
 */
export function formatComparison(columns: ReadonlyArray<{ title: string; report: ComparableReport }>, options: FormatOptions = {}): string {
  const color = options.color ?? false;
  const ids = [...new Set(columns.flatMap((c) => c.report.results.map((r) => r.id)))];
  const width = Math.max(...ids.map((id) => id.length), 6);
  const colWidth = Math.max(...columns.map((c) => c.title.length), 6);
  const header = `${'attack'.padEnd(width)}  ${columns.map((c) => c.title.padEnd(colWidth)).join('  ')}`;
  const lines = [paint(header, ANSI.bold, color), '-'.repeat(header.length)];
  for (const id of ids) {
    const cells = columns.map((c) => {
      const outcome = c.report.results.find((r) => r.id === id)?.outcome;
      return outcome ? paint(LABEL[outcome].padEnd(colWidth), COLOUR[outcome], color) : '-'.padEnd(colWidth);
    });
    lines.push(`${id.padEnd(width)}  ${cells.join('  ')}`);
  }
  lines.push('-'.repeat(header.length));
  lines.push(
    `${'failed'.padEnd(width)}  ${columns.map((c) => `${c.report.summary.failed} of ${c.report.summary.total}`.padEnd(colWidth)).join('  ')}`,
  );
  return lines.join('\n');
}
