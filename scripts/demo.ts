/**
 * `npm run demo`: both halves of the project, one command.
 *
 * 1. Express: starts examples/basic-login (protected) and examples/vulnerable-app on free ports
 *    with their test clocks, runs the fixation attack suite against both, prints the reports
 *    side by side.
 * 2. MCP: starts examples/mcp-server (behind fixation-guard/mcp) and examples/mcp-vulnerable
 *    (the multi-tenant advisory's pattern), runs the MCP attack suite against both as alice
 *    (victim) and bob (attacker), prints the reports side by side.
 *
 * Then a closing summary, stops every server, and exits 0 only when both protected examples
 * resisted every fixation-class attack and both vulnerable ones were caught.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { formatComparison, formatMcpReport, formatReport, runFixationAttacks, runMcpAttacks, type FixationReport, type McpReport } from '../src/attack-suite/index.js';
import { mcpExampleAttackOptions } from '../examples/shared/mcp-attack-options.js';

const READY_TIMEOUT_MS = 30_000;
const color = process.stdout.isTTY === true && !process.env.NO_COLOR;

interface Example {
  title: string;
  entry: string;
}

const EXAMPLES: readonly Example[] = [
  { title: 'basic-login', entry: 'examples/basic-login/server.ts' },
  { title: 'vulnerable-app', entry: 'examples/vulnerable-app/server.ts' },
];
const MCP_EXAMPLES: readonly Example[] = [
  { title: 'mcp-server', entry: 'examples/mcp-server/server.ts' },
  { title: 'mcp-vulnerable', entry: 'examples/mcp-vulnerable/server.ts' },
];

const failedIds = (report: FixationReport | McpReport) => report.results.filter((r) => r.outcome === 'fail').map((r) => r.id);

function summaryLine(half: string, title: string, report: FixationReport | McpReport): string {
  const failed = report.results.filter((r) => r.outcome === 'fail');
  const of = (list: typeof failed) => list.map((r) => r.id).join(', ');
  const fixation = failed.filter((r) => r.class === 'fixation');
  const hardening = failed.filter((r) => r.class === 'hardening');
  const what =
    failed.length === 0
      ? `no attack of ${report.summary.total} succeeded`
      : [fixation.length ? `fixation: ${of(fixation)}` : `no fixation attack of ${report.summary.total} succeeded`, hardening.length ? `hardening: ${of(hardening)}` : '']
          .filter(Boolean)
          .join('; ');
  return `  ${half.padEnd(8)}${title.padEnd(16)}${report.summary.verdict.toUpperCase().padEnd(6)}${what}`;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

interface Running {
  child: ChildProcess;
  url: string;
  output: string[];
}

/** Starts an example and resolves with its URL once it prints its ready line. */
async function start(example: Example): Promise<Running> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', example.entry], {
    env: { ...process.env, PORT: String(port), TEST_CLOCK: '1', NODE_NO_WARNINGS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const output: string[] = [];
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) => output.push(line));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${example.title} printed no "listening on" line within ${READY_TIMEOUT_MS / 1000} s`)), READY_TIMEOUT_MS);
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      output.push(line);
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(match[1] as string);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${example.title} exited with ${code} before it was ready:\n${output.join('\n')}`));
    });
  });
  return { child, url, output };
}

/** Every example started, even one that never got ready, so that all of them are stopped. */
const children: ChildProcess[] = [];

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

const attackOptions = {
  loginBody: { username: 'alice', password: 'alice-password' },
  elevatePath: '/elevate',
  logoutAllPath: '/logout-all',
  clockPath: '/__test/clock',
};

let running: Running[] = [];
let code = 1;
try {
  running = await Promise.all([...EXAMPLES, ...MCP_EXAMPLES].map(start));
  const reports: FixationReport[] = [];
  for (const [i, example] of EXAMPLES.entries()) {
    const server = running[i] as Running;
    console.log(`Attacking ${example.title} at ${server.url} …`);
    reports.push(await runFixationAttacks(server.url, attackOptions));
  }
  const [protectedReport, vulnerableReport] = reports as [FixationReport, FixationReport];
  for (const [i, example] of EXAMPLES.entries()) {
    console.log(`\n=== ${example.title} ===\n`);
    console.log(formatReport(reports[i] as FixationReport, { color, evidence: i === 1 }));
  }
  console.log('\n=== side by side ===\n');
  console.log(formatComparison(EXAMPLES.map((e, i) => ({ title: e.title, report: reports[i] as FixationReport })), { color }));

  const mcpReports: McpReport[] = [];
  for (const [i, example] of MCP_EXAMPLES.entries()) {
    const server = running[EXAMPLES.length + i] as Running;
    console.log(`\nAttacking ${example.title} at ${server.url}/mcp as alice (victim) and bob (attacker) …`);
    mcpReports.push(await runMcpAttacks(`${server.url}/mcp`, mcpExampleAttackOptions(example.title as 'mcp-server' | 'mcp-vulnerable', server.url)));
  }
  const [mcpProtected, mcpVulnerable] = mcpReports as [McpReport, McpReport];
  for (const [i, example] of MCP_EXAMPLES.entries()) {
    console.log(`\n=== ${example.title} (MCP) ===\n`);
    console.log(formatMcpReport(mcpReports[i] as McpReport, { color, evidence: i === 1 }));
  }
  console.log('\n=== MCP side by side ===\n');
  console.log(formatComparison(MCP_EXAMPLES.map((e, i) => ({ title: e.title, report: mcpReports[i] as McpReport })), { color }));

  const fixation = vulnerableReport.results.find((r) => r.id === 'planted-id-survives-login');
  const expressOk = protectedReport.summary.verdict === 'pass' && fixation?.outcome === 'fail';
  const mcpOk = mcpProtected.summary.verdict === 'pass' && mcpVulnerable.summary.verdict === 'fail';
  console.log('\n=== summary ===\n');
  console.log(summaryLine('Express', 'basic-login', protectedReport));
  console.log(summaryLine('', 'vulnerable-app', vulnerableReport));
  console.log(summaryLine('MCP', 'mcp-server', mcpProtected));
  console.log(summaryLine('', 'mcp-vulnerable', mcpVulnerable));
  console.log('');
  console.log(expressOk ? '✓ Express: the protected app resisted every fixation attack; the vulnerable one was caught (a planted id survives its login).' : '✗ Express: the protected app fell, or the vulnerable one was not caught.');
  console.log(
    mcpOk
      ? "✓ MCP: the protected server kept alice's sessions, tokens and state from bob; the vulnerable one handed them over."
      : '✗ MCP: the protected server fell to a fixation-class attack, or the vulnerable one was not caught.',
  );
  const hardening = failedIds(mcpProtected).concat(failedIds(protectedReport));
  if (hardening.length > 0) console.log(`  Hardening findings on the protected examples (a missing defence in depth; they do not fail the run): ${hardening.join(', ')}.`);
  code = expressOk && mcpOk ? 0 : 1;
} catch (err) {
  console.error(`demo: ${(err as Error).message}`);
  for (const server of running) console.error(server.output.join('\n'));
  code = 1;
} finally {
  await Promise.all(children.map(stop));
}
process.exit(code);
