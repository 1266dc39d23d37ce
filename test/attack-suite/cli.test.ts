import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { FixationReport } from '../../src/attack-suite/index.js';
import { createTestApp, type Flaw } from './support/apps.js';
import { buildCli, runCli, serve as serveApp, type BuiltCli } from './support/built-cli.js';

const LOGIN = ['--username', 'alice', '--password', 'alice-password', '--samples', '16'];

let built: BuiltCli;
/** Runs the built binary, never in a TTY. */
const cli = (args: string[]) => runCli(built, args);
const serve = (flaws: Flaw[]) => serveApp(createTestApp(flaws).app);

describe('attack suite: the fixation-guard CLI', () => {
  let safe: Awaited<ReturnType<typeof serve>>;
  let vulnerable: Awaited<ReturnType<typeof serve>>;
  before(async () => {
    [built, safe, vulnerable] = await Promise.all([buildCli(), serve([]), serve(['no-rotation'])]);
  });
  after(async () => {
    await Promise.all([safe.close(), vulnerable.close()]);
    built.dispose();
  });

  it('prints a table without colours and exits 0 when no attack succeeds', async () => {
    const run = await cli(['attack', safe.url, ...LOGIN, '--protected', '/me', '--elevate-path', '/elevate', '--logout-all-path', '/logout-all', '--clock-path', '/__test/clock']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^PASS {2}planted-id-survives-login {4}The planted id #[0-9a-f]{8} stayed unauthenticated/m);
    assert.match(run.stdout, /^N\/A {3}cookie-secure/m);
    assert.match(run.stdout, /22 attacks: 20 passed, 0 failed, 2 not applicable — no attack succeeded/);
    assert.ok(!run.stdout.includes('\u001b['), 'no ANSI colours outside a TTY');
  });

  it('exits 1 and shows the evidence when an attack succeeds', async () => {
    const run = await cli(['attack', vulnerable.url, ...LOGIN]);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stdout, /^FAIL {2}planted-id-survives-login/m);
    assert.match(run.stdout, /Evidence of the attacks that succeeded:\nplanted-id-survives-login \(fixation, critical\)\n {2}· attacker visits the site and keeps the pre-login cookie: GET \/ → 200 set sid=#[0-9a-f]{8}/);
    assert.match(run.stdout, /4 attacks succeeded/);
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
    await closed.close();
    const run = await cli(['attack', closed.url, ...LOGIN]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, new RegExp(`^fixation-guard: cannot reach ${closed.url.replace(/\./g, '\\.')}: ECONNREFUSED`));
    assert.equal(run.stdout, '');
  });

  it('exits 2 with the usage when the credentials are missing', async () => {
    const [half, none] = await Promise.all([cli(['attack', safe.url, '--username', 'alice']), cli(['attack', safe.url, '--json'])]);
    assert.equal(half.code, 2);
    assert.match(half.stderr, /^fixation-guard: give --username and --password together \(or --login-field for each field of the login\)\n\nUsage:/);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /^fixation-guard: give the login so the suite can log in: --login-field name=value/);
    // --json: one JSON document on stdout, also for a usage error.
    assert.deepEqual(JSON.parse(none.stdout).error.kind, 'usage');
  });

  it('exits 2 when the login is refused or an option is unknown', async () => {
    const [refused, unknown] = await Promise.all([
      cli(['attack', safe.url, '--username', 'alice', '--password', 'wrong']),
      cli(['attack', safe.url, ...LOGIN, '--frobnicate']),
    ]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /POST \/login answered 401 to the given --login-field; check --login-path, --login-field and --login-encoding/);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /Unknown option '--frobnicate'/);
  });

  it('prints its version and the command table', async () => {
    const [version, help, unknown] = await Promise.all([cli(['--version']), cli(['--help']), cli(['frobnicate'])]);
    assert.equal(version.code, 0);
    assert.equal(version.stdout.trim(), (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version);
    assert.match(help.stdout, /^Commands:\n {2}attack +run the session fixation attack suite/m);
    assert.match(help.stdout, /0 pass, 1 findings at or above --fail-on, 2 setup error/);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
  });

  it('refuses bad flag values, naming the flag', async () => {
    const runs = await Promise.all([
      cli(['attack', safe.url, ...LOGIN, '--login-encoding', 'xml']),
      cli(['attack', safe.url, ...LOGIN, '--logout-method', 'DELETE']),
      cli(['attack', safe.url, ...LOGIN, '--header', 'no colon']),
      cli(['attack', safe.url, ...LOGIN, '--csrf-from', 'body:_csrf']),
      cli(['attack', safe.url, ...LOGIN, '--fail-on', 'everything']),
      cli(['attack', safe.url, ...LOGIN, '--skip', 'no-such-attack']),
    ]);
    const expected = [
      /--login-encoding must be json or form; got "xml"/,
      /--logout-method must be GET or POST; got "DELETE"/,
      /--header must be 'Name: value'; got "no colon"/,
      /--csrf-from must be input:<name>, meta:<name>, cookie:<name>, header:<name> or json:<field>; got "body:_csrf"/,
      /--fail-on must be one of fixation, hardening, all; got "everything"/,
      /--skip names an unknown attack "no-such-attack"/,
    ];
    runs.forEach((run, i) => {
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, expected[i] as RegExp);
      assert.doesNotMatch(run.stderr, /runFixationAttacks|`[a-z]+[A-Z][A-Za-z]*`/, 'messages name flags, not library options');
    });
  });

  it('lists the catalogue with its standards', async () => {
    const run = await cli(['list']);
    assert.equal(run.code, 0);
    assert.match(run.stdout, /^planted-id-survives-login\n {2}A session id planted before login does not become authenticated at login\.\n {2}fixation · critical · core · ASVS4 3\.2\.1 · ASVS5 7\.2\.4$/m);
  });
});
