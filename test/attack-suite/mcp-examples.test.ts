import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { main } from '../../src/attack-suite/cli/dispatch.js';
import type { CliIO } from '../../src/attack-suite/cli/io.js';
import { runMcpAttacks } from '../../src/attack-suite/index.js';
import { mcpExampleAttackOptions } from '../../examples/shared/mcp-attack-options.js';
import { demoBearer } from '../../examples/mcp-vulnerable/app.js';

/** Starts an example as `npm run example:…` does and resolves with its URL once it prints its ready line. */
function start(entry: string): { child: ChildProcess; url: Promise<string> } {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], { env: { PATH: process.env.PATH ?? '', PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const url = new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
      if (match) resolve(match[1] as string);
    });
    child.once('exit', (code) => reject(new Error(`${entry} exited with ${code} before it was ready: ${stderr}`)));
  });
  return { child, url };
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

function bufferedIO(): CliIO & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (t) => stdout.push(t), err: (t) => stderr.push(t), progress() {}, stdoutIsTTY: false, env: {} };
}

describe('attack suite: the MCP examples', () => {
  let protectedExample: ReturnType<typeof start>;
  let vulnerableExample: ReturnType<typeof start>;
  before(() => {
    protectedExample = start('examples/mcp-server/server.ts');
    vulnerableExample = start('examples/mcp-vulnerable/server.ts');
  });
  after(async () => {
    await Promise.all([stop(protectedExample.child), stop(vulnerableExample.child)]);
  });

  it('finds no fixation-class attack that succeeds against examples/mcp-server, in either era', async () => {
    const base = await protectedExample.url;
    // batch-rate-limit spends 675 tool calls through the adapter's audit log: the demo runs it, here it would dominate the test's time.
    const report = await runMcpAttacks(`${base}/mcp`, { ...mcpExampleAttackOptions('mcp-server', base), entropySamples: 32, skip: ['batch-rate-limit'] });
    assert.deepEqual(report.facts, { legacy: 'sessionful', modern: 'supported', identityTool: 'whoami', notes: [] });
    const fixation = report.results.filter((r) => r.outcome === 'fail' && r.class === 'fixation').map((r) => r.id);
    assert.deepEqual(fixation, []);
    assert.deepEqual(
      report.results.filter((r) => r.outcome === 'not-applicable').map((r) => `${r.id}: ${r.reason}`),
      [],
    );
    assert.equal(report.summary.verdict, 'pass');
    for (const id of ['stolen-session-id', 'planted-session-id', 'state-cross-principal', 'state-tampering', 'token-tampering']) {
      assert.equal(report.results.find((r) => r.id === id)?.outcome, 'pass', id);
    }
  });

  it('catches npm run example:mcp-vulnerable from the command line (exit 1), with the advisory pattern among the findings', async () => {
    const base = await vulnerableExample.url;
    const io = bufferedIO();
    const code = await main(
      ['attack-mcp', `${base}/mcp`, '--victim-bearer', demoBearer('alice'), '--attacker-bearer', demoBearer('bob'), '--only', 'distinct-principals,no-session-handout,session-limit', '--max-sessions', '3', '--json'],
      io,
    );
    assert.equal(code, 1, io.stderr.join('\n'));
    const report = JSON.parse(io.stdout.join('\n')) as { results: Array<{ id: string; outcome: string }> };
    assert.deepEqual(
      report.results.map((r) => [r.id, r.outcome]),
      [
        ['distinct-principals', 'fail'],
        ['no-session-handout', 'fail'],
        ['session-limit', 'fail'],
      ],
    );
  });

  it('attacks examples/mcp-server from the command line with its session login route (exit 0)', async () => {
    const base = await protectedExample.url;
    const io = bufferedIO();
    const code = await main(
      ['attack-mcp', `${base}/mcp`, '--session-login', '/auth/demo-login', '--victim', 'alice:alice-password', '--attacker', 'bob:bob-password', '--only', 'stolen-session-id,planted-session-id', '--no-color'],
      io,
    );
    assert.equal(code, 0, io.stderr.join('\n') + io.stdout.join('\n'));
    const text = io.stdout.join('\n');
    assert.match(text, /^PASS {2}stolen-session-id/m);
    assert.match(text, /the server speaks 2026-07-28 but wants a bearer token \(401\)/);
  });
});
