import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { main } from '../../src/attack-suite/cli/dispatch.js';
import type { CliIO } from '../../src/attack-suite/cli/io.js';
import { formatMcpReport, runMcpAttacks, type McpAttackId, type McpAttackOptions, type McpReport } from '../../src/attack-suite/index.js';
import { ADVISORY_FLAWS, createMcpExampleApp, demoBearer, type McpFlaw } from '../../examples/mcp-vulnerable/app.js';

/**
 * The MCP suite against examples/mcp-vulnerable: with no flaw it must pass every attack; with
 * the advisory's flaws it must catch them; with one flaw at a time it must name exactly the
 * attacks meant for it. By default each one-flaw server is attacked with its own attacks only
 * (showing each attack catches its flaw); MCP_ATTACK_MATRIX=full runs the whole catalogue
 * against each (showing no other attack misfires), which takes about a minute.
 */
const FULL = process.env.MCP_ATTACK_MATRIX === 'full';

const ALICE = demoBearer('alice');
const BOB = demoBearer('bob');
const OPTIONS: McpAttackOptions = {
  victim: { bearer: ALICE },
  attacker: { bearer: BOB },
  stateTool: { name: 'confirm' },
  maxSessionsPerUser: 3,
  rateLimit: 60,
  entropySamples: 32,
};

interface Running {
  url: string;
  stop(): Promise<void>;
}

async function serve(flaws: readonly McpFlaw[]): Promise<Running> {
  const { app, close } = createMcpExampleApp({ flaws });
  const server: Server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await close();
    },
  };
}

/** The whole report in one line per attack, for assertion messages. */
const explain = (report: McpReport) => report.results.map((r) => `${r.outcome} ${r.id}: ${r.reason}`).join('\n');

const outcomes = (report: McpReport, outcome: string) =>
  report.results
    .filter((r) => r.outcome === outcome)
    .map((r) => r.id)
    .sort();

function assertNoSecrets(report: McpReport): void {
  const text = JSON.stringify(report) + formatMcpReport(report);
  for (const secret of [ALICE, BOB, ALICE.split('.')[1] as string]) assert.ok(!text.includes(secret), 'no token in the report');
  assert.ok(!/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/.test(text), 'no session id in the report');
}

function bufferedIO(): CliIO & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (t) => stdout.push(t), err: (t) => stderr.push(t), progress() {}, stdoutIsTTY: false, env: {} };
}

/**
 * Imports the attack suite in a fresh process with a resolve hook that reports every
 * @modelcontextprotocol specifier, then imports the SDK client itself (the control that shows
 * the hook sees it).
 */
const LAZY_PROBE = `
import { register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
const { port1, port2 } = new MessageChannel();
const seen = [];
port1.on('message', (m) => seen.push(m));
port1.unref();
register('data:text/javascript,' + encodeURIComponent("let port; export function initialize(d) { port = d.port; } export async function resolve(s, c, n) { if (s.includes('@modelcontextprotocol')) port.postMessage(s); return n(s, c); }"), { data: { port: port2 }, transferList: [port2] });
const suite = await import('./src/attack-suite/index.ts');
await new Promise((r) => setTimeout(r, 200));
const atImport = [...seen];
await import('@modelcontextprotocol/sdk/client/index.js');
await new Promise((r) => setTimeout(r, 200));
console.log(JSON.stringify({ runMcpAttacks: typeof suite.runMcpAttacks, atImport, afterControl: seen.length }));
`;

describe('attack suite: MCP servers', () => {
  it('loads no MCP SDK module when fixation-guard/attack-suite is imported', () => {
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', LAZY_PROBE], { encoding: 'utf8' });
    const result = JSON.parse(out.trim().split('\n').at(-1) as string) as { runMcpAttacks: string; atImport: string[]; afterControl: number };
    assert.equal(result.runMcpAttacks, 'function');
    assert.deepEqual(result.atImport, []);
    assert.ok(result.afterControl > 0, 'the hook sees an SDK import');
  });

  // A full run spends the rate limits of both users (batch-rate-limit), so the full runs get
  // servers of their own and the short checks share two others.
  let safe: Running;
  let advisory: Running;
  let safeFull: Running;
  let advisoryFull: Running;
  before(async () => {
    [safe, advisory, safeFull, advisoryFull] = await Promise.all([serve([]), serve(ADVISORY_FLAWS), serve([]), serve(ADVISORY_FLAWS)]);
  });
  after(async () => {
    await Promise.all([safe, advisory, safeFull, advisoryFull].map((s) => s.stop()));
  });

  it('finds nothing to attack in a server of both eras that defends against every attack', async () => {
    const report = await runMcpAttacks(safeFull.url, OPTIONS);
    assert.deepEqual(report.facts, { legacy: 'sessionful', modern: 'supported', identityTool: 'whoami', notes: [] });
    assert.deepEqual(outcomes(report, 'fail'), [], explain(report));
    assert.deepEqual(outcomes(report, 'not-applicable'), [], explain(report));
    assert.equal(report.summary.verdict, 'pass');
    assert.equal(report.summary.passed, 14);
    assertNoSecrets(report);
  });

  it("catches the advisory's server: one session reused across users, the client id as the user, limits unenforced", async () => {
    const report = await runMcpAttacks(advisoryFull.url, OPTIONS);
    assert.deepEqual(outcomes(report, 'fail'), [
      'batch-rate-limit',
      'distinct-principals',
      'no-session-handout',
      'planted-session-id',
      'rebinding-host',
      'session-limit',
      'state-tampering',
      'stolen-session-id',
    ], explain(report));
    assert.equal(report.summary.verdict, 'fail');
    const handout = report.results.find((r) => r.id === 'no-session-handout');
    assert.match(handout?.reason ?? '', /a request without a session id \(anonymous\) was served the victim's session/);
    const principals = report.results.find((r) => r.id === 'distinct-principals');
    assert.match(principals?.reason ?? '', /answered "demo-client" to both/);
    assertNoSecrets(report);
  });

  it('reports attacks that need what the server does not have, or an option not given, as not applicable, never passed', async () => {
    const report = await runMcpAttacks(safe.url, { victim: { bearer: ALICE }, attacker: { bearer: BOB }, only: ['state-cross-principal', 'session-limit'] });
    assert.deepEqual(outcomes(report, 'not-applicable'), ['session-limit', 'state-cross-principal']);
    assert.match(report.results.find((r) => r.id === 'state-cross-principal')?.reason ?? '', /stateTool/);
    assert.match(report.results.find((r) => r.id === 'session-limit')?.reason ?? '', /maxSessionsPerUser/);
  });

  it('cannot judge accepted batches without the rate limit, and says which option it needs', async () => {
    const server = await serve(['batch-unlimited']);
    try {
      const report = await runMcpAttacks(server.url, { victim: { bearer: ALICE }, attacker: { bearer: BOB }, only: ['batch-rate-limit'] });
      assert.equal(report.results[0]?.outcome, 'not-applicable');
      assert.match(report.results[0]?.reason ?? '', /batches are accepted \(\d+ calls ran in \d+ HTTP requests.*name the server's limit \(rateLimit/);
    } finally {
      await server.stop();
    }
  });

  // Each server is broken in exactly one way; the suite must name exactly the attacks meant for it.
  const matrix: Array<[McpFlaw, McpAttackId[]]> = [
    ['session-handout', ['no-session-handout']],
    ['client-id-as-user', ['distinct-principals']],
    ['no-owner-check', ['planted-session-id', 'stolen-session-id']],
    ['predictable-ids', ['session-id-entropy']],
    ['adopt-unknown-ids', ['unknown-session-refused']],
    ['unverified-token', ['token-tampering']],
    ['unbound-state', ['state-cross-principal']],
    ['unsigned-state', ['state-cross-principal', 'state-tampering']],
    ['no-origin-check', ['foreign-origin']],
    ['no-host-check', ['rebinding-host']],
    ['no-session-limit', ['session-limit']],
    ['streams-survive-revocation', ['revocation-cuts-streams']],
    ['batch-unlimited', ['batch-rate-limit']],
  ];
  for (const [flaw, expected] of matrix) {
    it(`catches a server with the flaw '${flaw}' by exactly ${expected.join(', ')}`, async () => {
      const server = await serve([flaw]);
      try {
        const report = await runMcpAttacks(server.url, FULL ? OPTIONS : { ...OPTIONS, only: expected });
        assert.deepEqual(outcomes(report, 'fail'), expected, explain(report));
        if (FULL) assert.deepEqual(outcomes(report, 'not-applicable'), flaw === 'adopt-unknown-ids' ? ['session-limit'] : [], explain(report));
        for (const result of report.results.filter((r) => r.outcome === 'fail')) assert.ok(result.evidence.requests.length > 0, `${result.id} fails with evidence`);
        assertNoSecrets(report);
      } finally {
        await server.stop();
      }
    });
  }

  it('explains why it cannot count live sessions on a server that serves forged session ids', async () => {
    const server = await serve(['adopt-unknown-ids']);
    try {
      const report = await runMcpAttacks(server.url, { ...OPTIONS, only: ['session-limit'] });
      assert.equal(report.results[0]?.outcome, 'not-applicable');
      assert.match(report.results[0]?.reason ?? '', /serves forged session ids/);
    } finally {
      await server.stop();
    }
  });

  it('refuses to start with a clear message when it cannot tell who the caller is or the credentials fail', async () => {
    await assert.rejects(runMcpAttacks(safe.url, { ...OPTIONS, identityTool: 'nope' }), /the identity tool "nope" is not listed; tools: whoami, confirm/);
    await assert.rejects(runMcpAttacks(safe.url, { ...OPTIONS, victim: { bearer: 'not-a-token' } }), /refused the victim's credentials \(401\)/);
  });

  const invalid: Array<[string, unknown, RegExp]> = [
    ['no victim', { attacker: { bearer: 'b' } }, /`victim` must be an identity/],
    ['an identity without credentials', { victim: {}, attacker: { bearer: 'b' } }, /`victim` names no credentials/],
    ['one bearer for both', { victim: { bearer: 'a' }, attacker: { bearer: 'a' } }, /carry the same bearer token/],
    ['an unknown attack', { victim: { bearer: 'a' }, attacker: { bearer: 'b' }, only: ['nope'] }, /`only` names an unknown attack "nope"/],
    ['too few samples', { victim: { bearer: 'a' }, attacker: { bearer: 'b' }, entropySamples: 3 }, /`entropySamples` must be an integer of at least 16; got 3/],
    ['a bad failOn', { victim: { bearer: 'a' }, attacker: { bearer: 'b' }, failOn: 'some' }, /`failOn` must be one of fixation, hardening, all/],
  ];
  for (const [what, options, message] of invalid) {
    it(`refuses ${what} before sending anything`, async () => {
      await assert.rejects(runMcpAttacks('http://127.0.0.1:9/mcp', options as McpAttackOptions), message);
    });
  }

  it('runs from the command line: fixation-guard attack-mcp exits 1 with the evidence, writes SARIF, and --json prints the report', async () => {
    const io = bufferedIO();
    const sarifFile = join(tmpdir(), `fg-mcp-${process.pid}.sarif`);
    const code = await main(['attack-mcp', advisory.url, '--victim-bearer', ALICE, '--attacker-bearer', BOB, '--only', 'no-session-handout,distinct-principals', '--sarif', sarifFile], io);
    assert.equal(code, 1, io.stderr.join('\n'));
    const text = io.stdout.join('\n');
    assert.match(text, /^FAIL {2}no-session-handout/m);
    assert.match(text, /Evidence of the attacks that succeeded:\ndistinct-principals \(fixation, critical\)/);
    assert.ok(!text.includes(ALICE));
    const sarifText = readFileSync(sarifFile, 'utf8');
    rmSync(sarifFile);
    assert.ok(!sarifText.includes(ALICE));
    const sarif = JSON.parse(sarifText) as { version: string; runs: Array<{ results: Array<{ ruleId: string; level: string; properties: { evidence: string[] } }> }> };
    assert.equal(sarif.version, '2.1.0');
    assert.deepEqual(sarif.runs[0]?.results.map((r) => [r.ruleId, r.level]), [
      ['distinct-principals', 'error'],
      ['no-session-handout', 'error'],
    ]);
    assert.match(sarif.runs[0]?.results[1]?.properties.evidence.join('\n') ?? '', /anonymous calls whoami without Mcp-Session-Id: 2025 POST tools\/call whoami → 200 tool answered "demo-client"/);

    const json = bufferedIO();
    assert.equal(await main(['attack-mcp', safe.url, '--victim-bearer', ALICE, '--attacker-bearer', BOB, '--only', 'foreign-origin', '--json'], json), 0);
    const report = JSON.parse(json.stdout.join('\n')) as McpReport;
    assert.equal(report.results[0]?.outcome, 'pass');
  });

  it('answers bad usage and an unreachable server with exit status 2', async () => {
    const usage = bufferedIO();
    assert.equal(await main(['attack-mcp', safe.url, '--victim-bearer', ALICE], usage), 2);
    assert.match(usage.stderr.join('\n'), /give the attacker's identity: --attacker-bearer <token>/);
    const down = bufferedIO();
    assert.equal(await main(['attack-mcp', 'http://127.0.0.1:9/mcp', '--victim-bearer', ALICE, '--attacker-bearer', BOB], down), 2);
    assert.match(down.stderr.join('\n'), /does not answer/);
  });
});
