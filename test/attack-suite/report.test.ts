import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import express from 'express';
import {
  FixationAttackSetupError,
  TargetUnreachableError,
  runFixationAttacks,
  type FixationAttackOptions,
} from '../../src/attack-suite/index.js';
import { createTestApp, suiteOptionsFor } from './support/apps.js';

const loginBody = { username: 'alice', password: 'alice-password' };

/** A port nothing listens on (bound, then released). */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe('attack suite: report and setup', () => {
  it('never puts a raw session id or cookie value in the report, only short hashes', async () => {
    const ids = new Set<string>();
    const testApp = createTestApp(['no-rotation', 'echo-id-in-body']);
    const spy = express();
    spy.use((req, res, next) => {
      const setHeader = res.setHeader.bind(res);
      res.setHeader = (name: string, value: string | number | readonly string[]) => {
        if (name.toLowerCase() === 'set-cookie') {
          for (const line of ([] as string[]).concat(value as string)) {
            const raw = decodeURIComponent(line.slice(line.indexOf('=') + 1).split(';')[0] as string);
            if (raw) ids.add(raw).add(raw.replace(/^s:/, '').replace(/\.[^.]+$/, ''));
          }
        }
        return setHeader(name, value);
      };
      next();
    });
    spy.use(testApp.app);
    const report = await runFixationAttacks(spy, suiteOptionsFor(testApp));
    assert.ok(ids.size > 20, 'the run saw many ids');
    const json = JSON.stringify(report);
    for (const id of ids) assert.ok(!json.includes(id), 'a raw id leaked into the report');
    assert.match(json, /"id":"#[0-9a-f]{8}"/);
    // The URL attack sends ids in paths; the evidence shows them hashed.
    const url = report.results.find((r) => r.id === 'url-session-id');
    assert.ok(url?.evidence.requests.some((r) => /\/me\?sid=<#[0-9a-f]{8}>/.test(r.path)));
  });

  it('gives every result its standard references, its reason and its timing', async () => {
    const testApp = createTestApp();
    const report = await runFixationAttacks(testApp.app, suiteOptionsFor(testApp));
    assert.equal(report.results.length, 22);
    for (const result of report.results) {
      assert.ok(result.standard.asvs4.length > 0 && result.standard.asvs5.length > 0 && result.standard.cheatSheet.length > 0, result.id);
      assert.ok(result.reason.length > 10, result.id);
      assert.ok(result.title.endsWith('.'), result.id);
      assert.ok(result.durationMs >= 0);
    }
    assert.deepEqual(report.summary, {
      total: 22,
      passed: 20,
      failed: 0,
      notApplicable: 2,
      errors: 0,
      findings: { fixation: 0, hardening: 0 },
      secure: true,
      failOn: 'fixation',
      verdict: 'pass',
      inconclusive: [],
    });
    assert.match(report.target, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  });

  it('reports the optional attacks as not applicable, with the option to pass, when their routes and clock are not given', async () => {
    const testApp = createTestApp();
    const report = await runFixationAttacks(testApp.app, { loginBody });
    const why = (id: string) => report.results.find((r) => r.id === id);
    for (const id of ['idle-timeout', 'absolute-timeout']) {
      assert.equal(why(id)?.outcome, 'not-applicable');
      assert.match(why(id)?.reason ?? '', /no test clock: pass `clock`/);
    }
    assert.match(why('privilege-change-rotates')?.reason ?? '', /pass `elevatePath`/);
    assert.match(why('logout-all-kills-sessions')?.reason ?? '', /pass `logoutAllPath`/);
  });

  it('moves a running server\'s clock through clockPath', async () => {
    const testApp = createTestApp(['no-idle-timeout']);
    const report = await runFixationAttacks(testApp.app, { loginBody, clockPath: '/__test/clock', only: ['idle-timeout', 'absolute-timeout'] });
    assert.deepEqual(
      report.results.map((r) => [r.id, r.outcome]),
      [
        ['idle-timeout', 'fail'],
        ['absolute-timeout', 'pass'],
      ],
    );
    assert.ok(report.results[0]?.evidence.requests.some((r) => r.method === 'POST' && r.path === '/__test/clock'));
  });

  it('runs only the attacks asked for and leaves out the skipped ones', async () => {
    const testApp = createTestApp();
    const only = await runFixationAttacks(testApp.app, { loginBody, only: ['cookie-httponly', 'url-session-id'] });
    assert.deepEqual(only.results.map((r) => r.id), ['url-session-id', 'cookie-httponly']);
    const skipped = await runFixationAttacks(testApp.app, { loginBody, skip: ['id-entropy'] });
    assert.equal(skipped.results.length, 21);
    assert.ok(!skipped.results.some((r) => r.id === 'id-entropy'));
  });

  it('refuses to attack when the credentials do not log in', async () => {
    const { app } = createTestApp();
    await assert.rejects(runFixationAttacks(app, { loginBody: { username: 'alice', password: 'nope' } }), {
      name: 'FixationAttackSetupError',
      message: 'fixation attack suite: POST /login answered 401 to the given `loginBody`; check `loginPath`, `loginBody` and `loginEncoding`.',
    });
  });

  it('refuses to attack when the protected path answers without a session', async () => {
    const { app } = createTestApp();
    await assert.rejects(runFixationAttacks(app, { loginBody, protectedPath: '/' }), (err: unknown) => {
      assert.ok(err instanceof FixationAttackSetupError);
      assert.match(err.message, /GET \/ answered 200 without any session; `protectedPath` must name a path that needs a login/);
      return true;
    });
  });

  it('says the target is unreachable when nothing listens on the URL', async () => {
    const port = await closedPort();
    await assert.rejects(runFixationAttacks(`http://127.0.0.1:${port}`, { loginBody }), (err: unknown) => {
      assert.ok(err instanceof TargetUnreachableError);
      assert.match(err.message, new RegExp(`cannot reach http://127\\.0\\.0\\.1:${port}: ECONNREFUSED`));
      return true;
    });
  });

  const invalid: Array<[string, Partial<FixationAttackOptions> | Record<string, unknown>, RegExp | string]> = [
    ['a missing loginBody', { loginBody: undefined }, /^runFixationAttacks: `loginBody` must be the object a successful login posts, e\.g\. \{ username: 'alice', password: 'alice-password' \}; got undefined$/],
    ['a path without a slash', { loginPath: 'login' }, 'runFixationAttacks: `loginPath` must be a path starting with \'/\'; got "login"'],
    ['an unknown attack id', { only: ['nope'] }, /^runFixationAttacks: `only` names an unknown attack "nope"; known attacks: planted-id-survives-login, /],
    ['too few entropy samples', { entropySamples: 3 }, 'runFixationAttacks: `entropySamples` must be an integer of at least 16; got 3'],
    ['a clock without advance()', { clock: {} }, 'runFixationAttacks: `clock` must have an advance(ms) method (e.g. a ManualClock); got object'],
    ['both clock and clockPath', { clock: { advance() {} }, clockPath: '/__test/clock' }, 'runFixationAttacks: give either `clock` (in-process) or `clockPath` (a running server), not both'],
    ['a bad idle timeout', { idleTimeout: 'soon' }, /^runFixationAttacks: `idleTimeout` must be a duration like '30m'/],
    ['a bad login encoding', { loginEncoding: 'xml' }, 'runFixationAttacks: `loginEncoding` must be \'json\' or \'form\'; got "xml"'],
    ['a bad cookie name', { cookieName: 'a b' }, 'runFixationAttacks: `cookieName` must be a cookie name; got "a b"'],
  ];
  for (const [what, options, message] of invalid) {
    it(`rejects ${what} before sending any request`, async () => {
      await assert.rejects(runFixationAttacks('http://127.0.0.1:9', { loginBody, ...options } as FixationAttackOptions), (err: unknown) => {
        const text = (err as Error).message;
        if (typeof message === 'string') assert.equal(text, message);
        else assert.match(text, message);
        return true;
      });
    });
  }

  it('logs in with a form body when asked to', async () => {
    const testApp = createTestApp();
    const app = express();
    const loginTypes: Array<string | undefined> = [];
    app.use((req, _res, next) => {
      if (req.method === 'POST' && req.path === '/login') loginTypes.push(req.headers['content-type']);
      next();
    });
    app.use(express.urlencoded({ extended: false }));
    app.use(testApp.app);
    const report = await runFixationAttacks(app, { loginBody, loginEncoding: 'form', only: ['planted-id-survives-login'] });
    assert.equal(report.results[0]?.outcome, 'pass');
    assert.ok(loginTypes.length > 0 && loginTypes.every((t) => t === 'application/x-www-form-urlencoded'));
  });
});
