import { ANSI, COLOUR, formatClosing, formatStandard, LABEL, paint, type FormatOptions } from '../format.js';
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
  out.push(...formatClosing(report, formatMcpEvidence, options));
  return out.join('\n');
}
