/**
 * The built `fixation-guard attack` against apps written the way real ones are (express's
 * examples/auth, passport's todos app with a CSRF form, a JSON API with a double-submit
 * cookie, a production cookie over plain http, a logout that hangs): for each, the verdict
 * class and the exit status a CI job sees, and the JSON, JUnit and SARIF it reads.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FixationReport } from '../../src/attack-suite/index.js';
import { runFixationAttacks } from '../../src/attack-suite/index.js';
import { createExpressAuthApp } from './apps/express-auth.js';
import { createFormCsrfApp } from './apps/form-csrf.js';
import { createHangingLogoutApp } from './apps/hanging.js';
import { createJsonDoubleSubmitApp } from './apps/json-double-submit.js';
import { createSecureCookieApp } from './apps/secure-cookie.js';
import { buildCli, runCli, serve, type BuiltCli } from './support/built-cli.js';
import { parseXml } from './support/xml.js';

type Served = Awaited<ReturnType<typeof serve>>;
type JsonReport = FixationReport & { exitCode: number };

const FAST = ['--samples', '16'];
const AUTH = ['--login-encoding', 'form', '--login-field', 'username=tj', '--login-field', 'password=foobar', '--protected', '/restricted', ...FAST];
const FORM = ['--login-encoding', 'form', '--login-path', '/login/password', '--login-field', 'username=alice', '--login-field', 'password=letmein', '--protected', '/todos', ...FAST];
const API = ['--login-path', '/api/login', '--login-field', 'email=alice', '--login-field', 'password=alice-password', '--protected', '/api/me', '--logout-path', '/api/logout', ...FAST];
const FIXATION_CORE = ['login-sets-new-id', 'planted-id-survives-login', 'pre-login-id-dead'];

function outcome(report: FixationReport, id: string): string | undefined {
  return report.results.find((r) => r.id === id)?.outcome;
}

function failedIds(report: FixationReport, cls?: 'fixation' | 'hardening'): string[] {
  return report.results
    .filter((r) => r.outcome === 'fail' && (!cls || r.class === cls))
    .map((r) => r.id)
    .sort();
}

describe('attack suite: the built CLI against real-world app shapes', () => {
  let cli: BuiltCli;
  let files: string;
  const apps: Record<string, Served> = {};
  let hanging: ReturnType<typeof createHangingLogoutApp>;

  before(async () => {
    files = mkdtempSync(join(tmpdir(), 'fixation-cli-'));
    hanging = createHangingLogoutApp();
    const [built, auth, noRegenerate, form, api, secure, hang] = await Promise.all([
      buildCli(),
      serve(createExpressAuthApp({ regenerate: true })),
      serve(createExpressAuthApp({ regenerate: false })),
      serve(createFormCsrfApp()),
      serve(createJsonDoubleSubmitApp()),
      serve(createSecureCookieApp()),
      serve(hanging.app),
    ]);
    cli = built;
    Object.assign(apps, { auth, noRegenerate, form, api, secure, hang });
  });

  after(async () => {
    await Promise.all(Object.values(apps).map((a) => a.close()));
    cli.dispose();
    rmSync(files, { recursive: true, force: true });
  });

  describe("express's examples/auth (form login, regenerate, GET logout, GET / without a session)", () => {
    it('passes the fixation class (exit 0) with --start-path and --logout-method GET, and lists the hardening findings apart', async () => {
      const run = await runCli(cli, ['attack', apps.auth!.url, ...AUTH, '--start-path', '/restricted', '--logout-method', 'GET', '--json']);
      assert.equal(run.code, 0, run.stderr);
      const report = JSON.parse(run.stdout) as JsonReport;
      assert.equal(report.summary.verdict, 'pass');
      assert.equal(report.exitCode, 0);
      assert.deepEqual(failedIds(report, 'fixation'), []);
      for (const id of [...FIXATION_CORE, 'logout-kills-session']) assert.equal(outcome(report, id), 'pass', id);
      // Stock express-session: no SameSite, and a duplicated cookie is not refused.
      assert.deepEqual(failedIds(report, 'hardening'), ['cookie-samesite', 'cookie-tossing']);
      assert.equal(report.summary.findings.hardening, 2);
      assert.equal(run.stderr, '', 'no progress output when stderr is not a terminal');
    });

    it('fails the same app with --fail-on hardening (exit 1)', async () => {
      const run = await runCli(cli, ['attack', apps.auth!.url, ...AUTH, '--start-path', '/restricted', '--logout-method', 'GET', '--fail-on', 'hardening', '--only', 'planted-id-survives-login,cookie-samesite']);
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stdout, /^FAIL {2}cookie-samesite/m);
      assert.match(run.stdout, /Verdict: FAIL \(fail on: hardening\)/);
    });

    it('catches the variant without regenerate by the core fixation attacks (exit 1), with evidence named in the table', async () => {
      const run = await runCli(cli, ['attack', apps.noRegenerate!.url, ...AUTH, '--start-path', '/restricted', '--logout-method', 'GET']);
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stdout, /^FAIL {2}planted-id-survives-login {4}The planted pre-login id #[0-9a-f]{8} was authenticated/m);
      assert.match(run.stdout, /fixation · critical · core · ASVS4 3\.2\.1 · ASVS5 7\.2\.4\n +evidence: attacker replays the planted cookie: GET \/restricted \[connect\.sid=#[0-9a-f]{8}\] → 200 \(last of \d+ requests\)/);
      assert.match(run.stdout, /3 fixation, 2 hardening/);
      assert.match(run.stdout, /Verdict: FAIL \(fail on: fixation\)/);
    });

    it('is inconclusive (exit 3) when GET / creates no session, and names --start-path', async () => {
      const run = await runCli(cli, ['attack', apps.auth!.url, ...AUTH, '--logout-method', 'GET', '--json']);
      assert.equal(run.code, 3, run.stderr);
      const report = JSON.parse(run.stdout) as JsonReport;
      assert.equal(report.summary.verdict, 'inconclusive');
      assert.equal(report.exitCode, 3);
      for (const id of FIXATION_CORE) assert.equal(outcome(report, id), 'not-applicable', id);
      assert.equal(report.summary.inconclusive.length, 3);
      for (const why of report.summary.inconclusive) assert.match(why, /GET \/ set no `connect\.sid` cookie.*pass --start-path/);
    });

    it('calls a logout route that answers 404 a setup error (exit 2) that names --logout-method GET, as JSON on stdout too', async () => {
      const [text, json] = await Promise.all([
        runCli(cli, ['attack', apps.auth!.url, ...AUTH, '--start-path', '/restricted']),
        runCli(cli, ['attack', apps.auth!.url, ...AUTH, '--start-path', '/restricted', '--json']),
      ]);
      assert.equal(text.code, 2);
      assert.equal(text.stdout, '');
      assert.match(text.stderr, /^fixation-guard: fixation attack suite: logout route not found: POST \/logout answered 404; try --logout-method GET/);
      assert.equal(json.code, 2);
      const doc = JSON.parse(json.stdout) as { error: { kind: string; message: string }; exitCode: number };
      assert.equal(doc.error.kind, 'setup');
      assert.equal(doc.exitCode, 2);
      assert.match(doc.error.message, /logout route not found.*--logout-method GET/);
    });
  });

  describe("passport's todos app shape (form login with a hidden-input CSRF token)", () => {
    it('detects the token, reads a fresh one for every session, and passes the fixation class (exit 0)', async () => {
      const run = await runCli(cli, ['attack', apps.form!.url, ...FORM, '--json']);
      assert.equal(run.code, 0, run.stderr);
      const report = JSON.parse(run.stdout) as JsonReport;
      assert.deepEqual(failedIds(report, 'fixation'), []);
      for (const id of [...FIXATION_CORE, 'logout-kills-session']) assert.equal(outcome(report, id), 'pass', id);
      const planted = report.results.find((r) => r.id === 'planted-id-survives-login');
      const steps = planted?.evidence.requests.map((r) => `${r.step}: ${r.method} ${r.path} → ${r.status}`);
      assert.ok(steps?.includes('victim logs in carrying the planted cookie: the login page (CSRF token): GET /login → 200'), steps?.join('\n'));
      assert.ok(steps?.includes('victim logs in carrying the planted cookie: POST /login/password → 302'), steps?.join('\n'));
    });

    it('takes the token from where --csrf-from says', async () => {
      const run = await runCli(cli, ['attack', apps.form!.url, ...FORM, '--csrf-from', 'input:_csrf', '--only', 'planted-id-survives-login,logout-kills-session']);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /^PASS {2}logout-kills-session +After POST \/logout \(302\)/m);
    });

    it('without the token the login is refused, a setup error (exit 2) that names --csrf-from', async () => {
      const run = await runCli(cli, ['attack', apps.form!.url, ...FORM, '--no-csrf']);
      assert.equal(run.code, 2);
      assert.match(run.stderr, /POST \/login\/password answered 403 to the given --login-field; .*if the login form carries a CSRF token, pass --csrf-from \(e\.g\. input:_csrf/);
    });
  });

  describe('a JSON API with a double-submit CSRF cookie (csrf-csrf, XSRF-TOKEN → X-XSRF-TOKEN)', () => {
    it('detects the cookie, echoes it in the header, and passes the fixation class (exit 0)', async () => {
      const run = await runCli(cli, ['attack', apps.api!.url, ...API, '--json']);
      assert.equal(run.code, 0, run.stderr);
      const report = JSON.parse(run.stdout) as JsonReport;
      assert.equal(report.cookieName, 'api.sid');
      assert.deepEqual(failedIds(report, 'fixation'), []);
      for (const id of [...FIXATION_CORE, 'logout-kills-session']) assert.equal(outcome(report, id), 'pass', id);
    });

    it('with --csrf-from cookie:XSRF-TOKEN it sends X-XSRF-TOKEN; with another header the app refuses the login (exit 2)', async () => {
      const [given, wrong] = await Promise.all([
        runCli(cli, ['attack', apps.api!.url, ...API, '--csrf-from', 'cookie:XSRF-TOKEN', '--only', 'planted-id-survives-login']),
        runCli(cli, ['attack', apps.api!.url, ...API, '--csrf-from', 'cookie:XSRF-TOKEN', '--csrf-to', 'header:X-Not-Read', '--only', 'planted-id-survives-login']),
      ]);
      assert.equal(given.code, 0, given.stderr);
      assert.equal(wrong.code, 2);
      assert.match(wrong.stderr, /POST \/api\/login answered 403 .*the CSRF token was sent as cookie:XSRF-TOKEN → header:X-Not-Read/);
    });
  });

  describe('a production cookie (Secure, trusted proxy) over http://', () => {
    it('says "Secure cookie over an http:// target" and names --https (exit 2), and runs with --https', async () => {
      const [plain, https] = await Promise.all([
        runCli(cli, ['attack', apps.secure!.url, '--username', 'alice', '--password', 'alice-password', '--json']),
        runCli(cli, ['attack', apps.secure!.url, '--username', 'alice', '--password', 'alice-password', '--https', ...FAST, '--only', 'planted-id-survives-login,cookie-secure']),
      ]);
      assert.equal(plain.code, 2);
      const doc = JSON.parse(plain.stdout) as { error: { message: string } };
      assert.match(doc.error.message, /^fixation attack suite: Secure cookie over an http:\/\/ target: .*`connect\.sid`.*Pass --https/);
      assert.equal(https.code, 0, https.stderr);
      assert.match(https.stdout, /^PASS {2}cookie-secure/m);
    });

    it('the library says the same with its option name', async () => {
      await assert.rejects(runFixationAttacks(apps.secure!.url, { loginBody: { username: 'alice', password: 'alice-password' } }), {
        name: 'FixationAttackSetupError',
        message: /Secure cookie over an http:\/\/ target: .*Pass `https`/,
      });
    });
  });

  describe('a logout route that hangs', () => {
    it('aborts only the attacks that need it (exit 3, inconclusive), after one per-request timeout', async () => {
      const before = hanging.seen.logout;
      const run = await runCli(cli, ['attack', apps.hang!.url, '--username', 'alice', '--password', 'alice-password', '--timeout', '3s', ...FAST, '--json']);
      assert.equal(run.code, 3, run.stderr);
      const report = JSON.parse(run.stdout) as JsonReport;
      assert.deepEqual(
        report.results.filter((r) => r.outcome === 'error').map((r) => r.id),
        ['logout-kills-session', 'inflight-no-resurrection'],
      );
      assert.match(report.results.find((r) => r.id === 'logout-kills-session')?.reason ?? '', /^POST \/logout got no answer within 3000 ms \(--timeout\)/);
      for (const id of FIXATION_CORE) assert.equal(outcome(report, id), 'pass', id);
      assert.equal(hanging.seen.logout - before, 1, 'the hung route is requested once, then never again');
    });

    it('--skip really skips: no logout request at all, and the run passes (exit 0)', async () => {
      const before = hanging.seen.logout;
      const run = await runCli(cli, ['attack', apps.hang!.url, '--username', 'alice', '--password', 'alice-password', '--timeout', '3s', ...FAST, '--skip', 'logout-kills-session,inflight-no-resurrection']);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /20 attacks: /);
      assert.equal(hanging.seen.logout - before, 0);
    });
  });

  describe('CI files', () => {
    it('writes SARIF 2.1.0 with one result per attack that succeeded, with its ASVS references, and well-formed JUnit', async () => {
      const sarifFile = join(files, 'fixation.sarif');
      const junitFile = join(files, 'fixation.junit.xml');
      const run = await runCli(cli, ['attack', apps.noRegenerate!.url, ...AUTH, '--start-path', '/restricted', '--logout-method', 'GET', '--sarif', sarifFile, '--junit', junitFile]);
      assert.equal(run.code, 1, run.stderr);

      const sarif = JSON.parse(readFileSync(sarifFile, 'utf8')) as {
        version: string;
        $schema: string;
        runs: Array<{
          tool: { driver: { name: string; rules: Array<{ id: string; properties: { tags: string[]; asvs4: string[]; asvs5: string[]; 'security-severity': string } }> } };
          results: Array<{ ruleId: string; ruleIndex: number; level: string; message: { text: string }; locations: Array<{ physicalLocation: { artifactLocation: { uri: string } } }> }>;
        }>;
      };
      assert.equal(sarif.version, '2.1.0');
      assert.match(sarif.$schema, /sarif-2\.1\.0/);
      const [sarifRun] = sarif.runs;
      assert.ok(sarifRun);
      const rules = sarifRun.tool.driver.rules;
      assert.equal(rules.length, 22);
      const plantedRule = rules.find((r) => r.id === 'planted-id-survives-login');
      assert.deepEqual(plantedRule?.properties.asvs4, ['3.2.1']);
      assert.deepEqual(plantedRule?.properties.asvs5, ['7.2.4']);
      assert.ok(plantedRule?.properties.tags.includes('ASVS-5.0.0-V7.2.4'));
      assert.equal(plantedRule?.properties['security-severity'], '9.5');
      assert.deepEqual(sarifRun.results.map((r) => r.ruleId).sort(), [...FIXATION_CORE, 'cookie-samesite', 'cookie-tossing'].sort());
      for (const result of sarifRun.results) {
        assert.equal(rules[result.ruleIndex]?.id, result.ruleId);
        assert.ok(['error', 'warning', 'note'].includes(result.level));
        assert.ok(result.message.text.length > 0);
        // A repository-relative path (code scanning refuses URLs): host_port and the route.
        assert.match(result.locations[0]?.physicalLocation.artifactLocation.uri ?? '', new RegExp(`^127\\.0\\.0\\.1_${new URL(apps.noRegenerate!.url).port}/[a-z]+$`));
        assert.ok(!/connect\.sid=s%3A/.test(JSON.stringify(result)), 'no raw cookie value');
      }
      assert.equal(sarifRun.results.find((r) => r.ruleId === 'planted-id-survives-login')?.level, 'error');
      assert.match(sarifRun.results.find((r) => r.ruleId === 'planted-id-survives-login')?.locations[0]?.physicalLocation.artifactLocation.uri ?? '', /_\d+\/restricted$/);
      assert.equal(sarifRun.results.find((r) => r.ruleId === 'cookie-samesite')?.level, 'note');

      const junit = readFileSync(junitFile, 'utf8');
      const { root, problems } = parseXml(junit);
      assert.deepEqual(problems, []);
      assert.equal(root?.name, 'testsuites');
      const suite = root?.children[0];
      assert.equal(suite?.attributes.tests, '22');
      assert.equal(suite?.attributes.failures, '3');
      const cases = suite?.children.filter((c) => c.name === 'testcase') ?? [];
      assert.equal(cases.length, 22);
      const planted = cases.find((c) => c.attributes.name?.startsWith('planted-id-survives-login'));
      const failure = planted?.children.find((c) => c.name === 'failure');
      assert.match(failure?.attributes.message ?? '', /was authenticated by the victim's login/);
      assert.match(failure?.text ?? '', /ASVS 4\.0\.3: 3\.2\.1/);
      const sameSite = cases.find((c) => c.attributes.name?.startsWith('cookie-samesite'));
      assert.match(sameSite?.children[0]?.attributes.message ?? '', /^hardening finding \(low\) below --fail-on fixation/);
    });

    it('writes a SARIF run that failed to execute, and a JUnit error, when the setup fails', async () => {
      const sarifFile = join(files, 'setup.sarif');
      const junitFile = join(files, 'setup.junit.xml');
      const run = await runCli(cli, ['attack', apps.auth!.url, ...AUTH, '--start-path', '/restricted', '--sarif', sarifFile, '--junit', junitFile]);
      assert.equal(run.code, 2);
      const sarif = JSON.parse(readFileSync(sarifFile, 'utf8')) as { version: string; runs: Array<{ invocations: Array<{ executionSuccessful: boolean; toolExecutionNotifications: Array<{ message: { text: string } }> }>; results: unknown[] }> };
      assert.equal(sarif.version, '2.1.0');
      assert.equal(sarif.runs[0]?.invocations[0]?.executionSuccessful, false);
      assert.match(sarif.runs[0]?.invocations[0]?.toolExecutionNotifications[0]?.message.text ?? '', /logout route not found/);
      assert.deepEqual(sarif.runs[0]?.results, []);
      const { root, problems } = parseXml(readFileSync(junitFile, 'utf8'));
      assert.deepEqual(problems, []);
      assert.equal(root?.children[0]?.children[0]?.children[0]?.name, 'error');
    });
  });
});
