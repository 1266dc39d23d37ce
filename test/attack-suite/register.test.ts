import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fixationAttackSuite, fixationAttacks } from '../../src/attack-suite/index.js';
import { createTestApp, suiteOptionsFor } from './support/apps.js';

type Registered = { name: string; fn: (...args: unknown[]) => unknown; timeout?: number };

/** A fake framework that records what the suite registers, like vitest or jest would. */
function fakeFramework() {
  const tests: Registered[] = [];
  const suites: string[] = [];
  const afters: Array<() => unknown> = [];
  return {
    tests,
    suites,
    afters,
    describe: (name: string, fn: () => void) => {
      suites.push(name);
      fn();
    },
    it: (name: string, fn: (...args: unknown[]) => unknown, timeout?: number) => void tests.push({ name, fn, timeout }),
    after: (fn: () => unknown) => void afters.push(fn),
  };
}

describe('attack suite: fixationAttackSuite', () => {
  it('registers one test per attack, named by its title, that declares no done callback', () => {
    const framework = fakeFramework();
    const testApp = createTestApp();
    fixationAttackSuite({ target: testApp.app, ...suiteOptionsFor(testApp), ...framework });
    assert.deepEqual(framework.suites, ['session fixation attacks']);
    assert.deepEqual(framework.tests.map((t) => t.name), fixationAttacks.map((a) => a.title));
    assert.ok(framework.tests.every((t) => t.fn.length === 0 && t.timeout === 60_000));
    assert.equal(framework.afters.length, 1);
  });

  it('fails the test of a successful attack with its reason and evidence, and skips a not-applicable one with its reason', async () => {
    const framework = fakeFramework();
    const testApp = createTestApp(['no-rotation']);
    fixationAttackSuite({ target: testApp.app, loginBody: { username: 'alice', password: 'alice-password' }, only: ['planted-id-survives-login', 'idle-timeout', 'cookie-httponly'], ...framework });
    const [planted, httpOnly, idle] = framework.tests as [Registered, Registered, Registered];
    await assert.rejects(async () => planted.fn(), /planted-id-survives-login: the attack succeeded \(fixation, critical\)\. The planted pre-login id #[0-9a-f]{8} was authenticated[\s\S]*· victim logs in carrying the planted cookie: POST \/login \[sid=#/);
    await httpOnly.fn();
    const skipped: string[] = [];
    await idle.fn({ skip: (message: string) => skipped.push(message) });
    assert.deepEqual(skipped, ['not applicable: no test clock: pass `clock` (an in-process app) or `clockPath` (a running server with a test clock) to check timeouts without waiting']);
  });

  it('skips through mocha\'s this.skip() when the framework passes its context as `this`', async () => {
    const framework = fakeFramework();
    const testApp = createTestApp();
    fixationAttackSuite({ target: testApp.app, loginBody: { username: 'alice', password: 'alice-password' }, only: ['idle-timeout'], ...framework });
    const calls: string[] = [];
    const mochaContext = { timeout: (ms: number) => calls.push(`timeout ${ms}`), skip: () => calls.push('skip') };
    await framework.tests[0]?.fn.call(mochaContext);
    assert.deepEqual(calls, ['timeout 60000', 'skip']);
  });

  it('fails every test with the setup problem when the app cannot be attacked as described', async () => {
    const framework = fakeFramework();
    fixationAttackSuite({ target: createTestApp().app, loginBody: { username: 'alice', password: 'wrong' }, only: ['cookie-httponly'], ...framework });
    await assert.rejects(async () => framework.tests[0]?.fn(), { name: 'FixationAttackSetupError' });
  });

  it('refuses a describe without an it', () => {
    assert.throws(
      () => fixationAttackSuite({ target: 'http://127.0.0.1:9', loginBody: {}, describe: () => {} }),
      { name: 'TypeError', message: 'fixationAttackSuite: pass both `describe` and `it` of your test framework, or neither for node:test' },
    );
  });

  it('runs under node:test by default, each attack a test, not-applicable ones skipped', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fixation-suite-'));
    try {
      const file = join(dir, 'fixation.test.ts');
      const support = resolve('test/attack-suite/support/apps.ts');
      const suite = resolve('src/attack-suite/index.ts');
      writeFileSync(
        file,
        [
          `import { fixationAttackSuite } from ${JSON.stringify(suite)};`,
          `import { createTestApp, suiteOptionsFor } from ${JSON.stringify(support)};`,
          `const testApp = createTestApp();`,
          `fixationAttackSuite({ target: testApp.app, ...suiteOptionsFor(testApp) });`,
        ].join('\n'),
      );
      // Without NODE_TEST_CONTEXT the child reports in TAP instead of to this test runner.
      const env = { ...process.env };
      delete env.NODE_TEST_CONTEXT;
      const run = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', file], { encoding: 'utf8', timeout: 60_000, env });
      assert.equal(run.status, 0, run.stdout + run.stderr);
      assert.match(run.stdout, /# tests 22\n/);
      assert.match(run.stdout, /# pass 20\n/);
      assert.match(run.stdout, /# skipped 2\n/);
      assert.match(run.stdout, /ok \d+ - The session cookie is Secure on https\. # SKIP not applicable: the target is plain http/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
