import { formatEvidence } from './format.js';
import type { AttackResult, FixationReport } from './types.js';
import { failsRun, SARIF_LEVEL, SECURITY_SEVERITY } from './verdict.js';

const INFORMATION_URI = 'https://owasp.org/www-project-application-security-verification-standard/';
const CHEAT_SHEET_URI = 'https://cheatsheetseries.owasp.org/cheatsheets/Session_Management_Cheat_Sheet.html';

function xml(text: string): string {
  // Characters XML 1.0 forbids are dropped; the five special ones escaped.
  // eslint-disable-next-line no-control-regex
  return text.replace(/[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '').replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] as string);
}

function standardsLine(result: AttackResult): string {
  const { asvs4, asvs5, cheatSheet } = result.standard;
  return [`ASVS 4.0.3: ${asvs4.join(', ')}`, `ASVS 5.0.0: ${asvs5.join(', ')}`, `OWASP Session Management Cheat Sheet: ${cheatSheet.join('; ')}`].join('\n');
}

/**
 * The report as JUnit XML: one `<testcase>` per attack. A finding at or above the report's
 * `failOn` is a `<failure>`, an aborted attack an `<error>`; a finding below it, and a
 * not-applicable attack, are `<skipped>` with the reason (a core attack that could not run is
 * a `<failure>`: the run is inconclusive).
 *
 * @example
 * writeFileSync('fixation.junit.xml', toJUnit(report));
 */
export function toJUnit(report: FixationReport): string {
  const { results, summary } = report;
  const failure = (r: AttackResult) => (r.outcome === 'fail' && failsRun(r.class, summary.failOn)) || (r.outcome === 'not-applicable' && r.core);
  const failures = results.filter(failure).length;
  const errors = results.filter((r) => r.outcome === 'error').length;
  const skipped = results.filter((r) => !failure(r) && (r.outcome === 'not-applicable' || r.outcome === 'fail')).length;
  const seconds = (ms: number) => (ms / 1000).toFixed(3);
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="fixation-guard attack suite" tests="${results.length}" failures="${failures}" errors="${errors}" skipped="${skipped}" time="${seconds(report.durationMs)}">`,
    `  <testsuite name="${xml(`session fixation attacks against ${report.target}`)}" tests="${results.length}" failures="${failures}" errors="${errors}" skipped="${skipped}" time="${seconds(report.durationMs)}" timestamp="${xml(report.startedAt)}">`,
    '    <properties>',
    `      <property name="verdict" value="${summary.verdict}"/>`,
    `      <property name="failOn" value="${summary.failOn}"/>`,
    `      <property name="cookieName" value="${xml(report.cookieName)}"/>`,
    '    </properties>',
  ];
  for (const r of results) {
    lines.push(`    <testcase classname="fixation-guard.${r.class}" name="${xml(`${r.id}: ${r.title}`)}" time="${seconds(r.durationMs)}">`);
    const detail = xml(`${r.reason}\n${standardsLine(r)}\n${formatEvidence(r)}`);
    if (r.outcome === 'error') lines.push(`      <error message="${xml(r.reason)}" type="aborted">${detail}</error>`);
    else if (failure(r)) {
      const type = r.outcome === 'fail' ? `${r.class} finding (${r.severity})` : 'inconclusive';
      lines.push(`      <failure message="${xml(r.reason)}" type="${xml(type)}">${detail}</failure>`);
    } else if (r.outcome === 'fail') lines.push(`      <skipped message="${xml(`${r.class} finding (${r.severity}) below --fail-on ${summary.failOn}: ${r.reason}`)}"/>`);
    else if (r.outcome === 'not-applicable') lines.push(`      <skipped message="${xml(`not applicable: ${r.reason}`)}"/>`);
    lines.push('    </testcase>');
  }
  lines.push('  </testsuite>', '</testsuites>', '');
  return lines.join('\n');
}

/** `127.0.0.1_3000/login`: the target's host and port and the route of the request that decided the attack. */
export function sarifLocation(target: string, result: AttackResult): string {
  const url = new URL(target);
  const route = result.evidence.requests.at(-1)?.path.split(/[?;#]/)[0] ?? url.pathname;
  const path = `${url.pathname.replace(/\/$/, '')}${route.startsWith('/') ? route : `/${route}`}`;
  return `${url.hostname}${url.port ? `_${url.port}` : ''}${path}`.replace(/[^A-Za-z0-9._~\-/]/g, '_').replace(/\/+$/, '') || url.hostname;
}

/** The SARIF 2.1.0 log of a report (see {@link toSarif}). */
export interface SarifLog {
  $schema: string;
  version: '2.1.0';
  runs: Array<Record<string, unknown>>;
}

/**
 * The report as a SARIF 2.1.0 log, for code-scanning UIs: one rule per attack of the run (its
 * ASVS and Cheat Sheet references, class and severity), one result per attack that succeeded
 * (level from its severity: critical/high → error, medium → warning, low → note), located at
 * `host_port/route` (code scanning accepts only repository-relative paths; the URL is in the
 * result's properties). Ids never appear: the evidence is the redacted one of the report.
 *
 * @example
 * writeFileSync('fixation.sarif', JSON.stringify(toSarif(report), null, 2));
 */
export function toSarif(report: FixationReport, toolVersion = '0.0.0'): SarifLog {
  const rules = report.results.map((r) => ({
    id: r.id,
    name: r.id.replace(/(^|-)([a-z])/g, (_, __, c: string) => c.toUpperCase()),
    shortDescription: { text: r.title },
    fullDescription: { text: `${r.title} ${standardsLine(r).replace(/\n/g, '. ')}.` },
    helpUri: CHEAT_SHEET_URI,
    help: { text: standardsLine(r) },
    defaultConfiguration: { level: SARIF_LEVEL[r.severity] },
    properties: {
      tags: ['security', `fixation-guard/${r.class}`, ...r.standard.asvs4.map((n) => `ASVS-4.0.3-V${n}`), ...r.standard.asvs5.map((n) => `ASVS-5.0.0-V${n}`)],
      'security-severity': SECURITY_SEVERITY[r.severity],
      class: r.class,
      severity: r.severity,
      asvs4: r.standard.asvs4,
      asvs5: r.standard.asvs5,
      owaspCheatSheet: r.standard.cheatSheet,
    },
  }));
  const results = report.results
    .map((r, ruleIndex) => ({ r, ruleIndex }))
    .filter(({ r }) => r.outcome === 'fail')
    .map(({ r, ruleIndex }) => ({
      ruleId: r.id,
      ruleIndex,
      level: SARIF_LEVEL[r.severity],
      message: { text: `${r.reason} (${r.class}, ${r.severity})` },
      // Code scanning accepts only repository-relative paths, never a URL: the target's host
      // (port as _3000) and the route that decided the attack; the URL goes in properties.
      locations: [{ physicalLocation: { artifactLocation: { uri: sarifLocation(report.target, r) } } }],
      partialFingerprints: { attackTarget: `${r.id}@${report.target}` },
      properties: {
        class: r.class,
        severity: r.severity,
        failsRun: failsRun(r.class, report.summary.failOn),
        targetUrl: report.target,
        evidence: formatEvidence(r).split('\n').map((line) => line.replace(/^\s*· /, '')),
      },
    }));
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'fixation-guard attack suite',
            semanticVersion: toolVersion,
            version: toolVersion,
            informationUri: INFORMATION_URI,
            rules,
          },
        },
        invocations: [
          {
            executionSuccessful: true,
            startTimeUtc: report.startedAt,
            properties: { verdict: report.summary.verdict, failOn: report.summary.failOn, inconclusive: report.summary.inconclusive },
          },
        ],
        results,
      },
    ],
  };
}
