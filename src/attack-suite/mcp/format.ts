import { ANSI, COLOUR, formatStandard, LABEL, paint, VERDICT_COLOUR, type FormatOptions } from '../format.js';
import type { McpAttackResult, McpEvidenceRequest, McpReport } from './types.js';

function request(r: McpEvidenceRequest): string {
  const session = r.session ? ` [session ${r.session}]` : '';
  const headers = r.headers?.length ? ` {${r.headers.join(', ')}}` : '';
  const outcome = r.error ? `error: ${r.error}` : `${r.status}${r.answer ? ` ${r.answer}` : ''}`;
  return `${r.step}: ${r.era} ${r.method}${r.rpc ? ` ${r.rpc}` : ''}${session}${headers} → ${outcome}`;
}

/** The requests and notes of one MCP result, one line each, ids and tokens as hashes. */
export function formatMcpEvidence(result: McpAttackResult): string {
  const lines = result.evidence.requests.map((r) => `  · ${request(r)}`);
  for (const note of result.evidence.notes) lines.push(`  · note: ${note}`);
  return lines.join('\n');
}

/**
 * A readable MCP report: one block per attack (outcome, id, reason; class, severity,
 * standards), the evidence of every attack that succeeded, then the summary and the verdict.
 *
 * @example
 * console.log(formatMcpReport(await runMcpAttacks(url, options), { color: process.stdout.isTTY }));
 */
export function formatMcpReport(report: McpReport, options: FormatOptions = {}): string {
  const color = options.color ?? false;
  const width = Math.max(...report.results.map((r) => r.id.length), 2);
  const indent = `      ${' '.repeat(width)}  `;
  const { legacy, modern, identityTool } = report.facts;
  const out: string[] = [
    paint(`MCP attacks against ${report.target} (2025: ${legacy}, 2026-07-28: ${modern}; caller named by ${identityTool ?? '?'})`, ANSI.bold, color),
    ...report.facts.notes.map((note) => `  · ${note}`),
    '',
  ];
  for (const result of report.results) {
    out.push(`${paint(LABEL[result.outcome].padEnd(4), COLOUR[result.outcome], color)}  ${result.id.padEnd(width)}  ${result.reason}`);
    const standard = formatStandard(result);
    out.push(paint(`${indent}${result.class} · ${result.severity}${result.core ? ' · core' : ''}${standard ? ` · ${standard}` : ''}`, ANSI.dim, color));
  }
  const failed = report.results.filter((r) => r.outcome === 'fail');
  if ((options.evidence ?? true) && failed.length > 0) {
    out.push('', paint('Evidence of the attacks that succeeded:', ANSI.bold, color));
    for (const result of failed) out.push(paint(`${result.id} (${result.class}, ${result.severity})`, ANSI.red, color), formatMcpEvidence(result));
  }
  const { passed, failed: nFailed, notApplicable, errors, total, findings, verdict, failOn, inconclusive } = report.summary;
  const succeeded = nFailed === 0 ? 'no attack succeeded' : `${nFailed} attack${nFailed === 1 ? '' : 's'} succeeded (${findings.fixation} fixation, ${findings.hardening} hardening)`;
  out.push('', `${total} attacks: ${passed} passed, ${nFailed} failed, ${notApplicable} not applicable${errors ? `, ${errors} aborted` : ''} — ${succeeded} (${report.durationMs} ms)`);
  out.push(paint(`Verdict: ${verdict.toUpperCase()} (fail on: ${failOn})`, VERDICT_COLOUR[verdict], color));
  for (const why of inconclusive) out.push(`  · ${why}`);
  return out.join('\n');
}
