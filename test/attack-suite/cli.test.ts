import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Server } from 'node:http';
import type { FixationReport } from '../../src/attack-suite/index.js';
import { createTestApp, type Flaw } from './support/apps.js';

const CLI = 'src/attack-suite/cli.ts';
const LOGIN = ['--username', 'alice', '--password', 'alice-password'];

/** Runs the CLI the way a developer does during development (through tsx), never in a TTY. */
function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A live server for the CLI to attack. */
async function serve(flaws: Flaw[]): Promise<{ url: string; server: Server }> {
  const server = createTestApp(flaws).app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('attack suite: the fixation-guard CLI', () => {
  let safe: { url: string; server: Server };
  let vulnerable: { url: string; server: Server };
  before(async () => {
    safe = await serve([]);
    vulnerable = await serve(['no-rotation']);
  });
  after(() => {
    safe.server.close();
    vulnerable.server.close();
  });

  it('prints a table without colours and exits 0 when no attack succeeds', async () => {
    const run = await cli(['attack', safe.url, ...LOGIN, '--protected', '/me', '--elevate-path', '/elevate', '--logout-all-path', '/logout-all', '--clock-path', '/__test/clock']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^PASS {2}planted-id-survives-login {4}The planted id #[0-9a-f]{8} stayed unauthenticated/m);
    assert.match(run.stdout, /^N\/A {3}cookie-secure/m);
    assert.match(run.stdout, /21 attacks: 19 passed, 0 failed, 2 not applicable — no attack succeeded/);
    assert.ok(!run.stdout.includes('\u001b['), 'no ANSI colours outside a TTY');
  });

  it('exits 1 and shows the evidence when an attack succeeds', async () => {
    const run = await cli(['attack', vulnerable.url, ...LOGIN]);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stdout, /^FAIL {2}planted-id-survives-login/m);
    assert.match(run.stdout, /Evidence of the attacks that succeeded:\nplanted-id-survives-login\n {2}· attacker visits the site and keeps the pre-login cookie: GET \/ → 200 set sid=#[0-9a-f]{8}/);
    assert.match(run.stdout, /3 attacks succeeded/);
  });

  it('prints the report as JSON with --json', async () => {
    const run = await cli(['attack', vulnerable.url, ...LOGIN, '--json', '--only', 'planted-id-survives-login,cookie-httponly']);
    assert.equal(run.code, 1, run.stderr);
    const report = JSON.parse(run.stdout) as FixationReport;
    assert.deepEqual(
      report.results.map((r) => [r.id, r.outcome]),
      [
        ['planted-id-survives-login', 'fail'],
        ['cookie-httponly', 'pass'],
      ],
    );
    assert.equal(report.summary.secure, false);
  });

  it('exits 2 with a clear message when the target is unreachable', async () => {
    const closed = await serve([]);
    closed.server.close();
    const run = await cli(['attack', closed.url, ...LOGIN]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, new RegExp(`^fixation-guard: cannot reach ${closed.url.replace(/\./g, '\\.')}: ECONNREFUSED`));
    assert.equal(run.stdout, '');
  });

  it('exits 2 with the usage when the credentials are missing', async () => {
    const run = await cli(['attack', safe.url, '--username', 'alice']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^fixation-guard: give --username and --password \(or --login-body\) so the suite can log in\n\nUsage:/);
  });

  it('exits 2 when the login is refused or an option is unknown', async () => {
    const [refused, unknown] = await Promise.all([
      cli(['attack', safe.url, '--username', 'alice', '--password', 'wrong']),
      cli(['attack', safe.url, ...LOGIN, '--frobnicate']),
    ]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /POST \/login answered 401 to the given `loginBody`/);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /Unknown option '--frobnicate'/);
  });

  it('lists the catalogue with its standards', async () => {
    const run = await cli(['list']);
    assert.equal(run.code, 0);
    assert.match(run.stdout, /^planted-id-survives-login\n {2}A session id planted before login does not become authenticated at login\.\n {2}ASVS4 3\.2\.1 · ASVS5 7\.2\.4$/m);
  });
});
