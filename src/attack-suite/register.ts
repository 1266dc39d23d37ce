import { createRequire } from 'node:module';
import type * as NodeTest from 'node:test';
import { parseDuration, refuseRenamedDurations } from '../clock/index.js';
import { formatEvidence } from './format.js';
import type { AttackTarget } from './http.js';
import { FixationAttackRunner, fixationAttacks } from './run.js';
import type { AttackResult, FixationAttackOptions } from './types.js';
import { DEFAULT_FAIL_ON, failsRun } from './verdict.js';

type TestFn = (...args: any[]) => unknown;

/**
 * node:test, loaded only when no framework is given. Not a static import: bundlers rewrite
 * `node:test` to `test`, which only exists with the prefix, and vitest or jest users never
 * need it.
 */
function loadNodeTest(): typeof NodeTest {
  const require = createRequire(typeof __filename === 'string' ? __filename : import.meta.url);
  return require('node:test') as typeof NodeTest;
}

/** Options of {@link fixationAttackSuite}: the app, how to attack it, and optionally a test framework. */
export interface FixationAttackSuiteOptions extends FixationAttackOptions {
  /** The Express app (in-process) or the base URL of a running server. */
  target: AttackTarget;
  /** The title of the `describe` block. The default value is `'session fixation attacks'`. */
  name?: string;
  /** `describe` of vitest, mocha or jest. The default value is node:test's. */
  describe?: (name: string, fn: () => void) => unknown;
  /** `it` (or `test`) of vitest, mocha or jest. The default value is node:test's. */
  it?: (name: string, fn: TestFn, timeout?: number) => unknown;
  /** `after` (mocha, node:test) or `afterAll` (vitest, jest), to stop an in-process server early. */
  after?: (fn: () => unknown) => unknown;
  /** Per-test timeout handed to a framework's `it` (or mocha's `this.timeout`). The default value is `60000`. */
  testTimeout?: number | string;
}

/**
 * Registers every attack of the catalogue as its own test, so a user adds one file to their
 * suite. A successful attack at or above `failOn` (default: the fixation class), and an attack
 * aborted by a misbehaving route, fail their test with the reason and the evidence; a core
 * fixation attack that cannot run fails too (the protection would be unproven). A finding
 * below `failOn` and a not-applicable attack are reported as skipped with the reason
 * (node:test, vitest, mocha); jest has no runtime skip, so there they pass with a warning.
 *
 * @example
 * // test/fixation.test.ts (node:test)
 * import { fixationAttackSuite } from 'fixation-guard/attack-suite';
 * import { app } from '../src/app.js';
 *
 * fixationAttackSuite({ target: app, loginBody: { username: 'alice', password: 'alice-password' } });
 *
 * @example
 * // vitest
 * import { describe, it, afterAll } from 'vitest';
 * fixationAttackSuite({ target: app, loginBody, describe, it, after: afterAll });
 */
export function fixationAttackSuite(options: FixationAttackSuiteOptions): void {
  refuseRenamedDurations(options, 'fixationAttackSuite', { testTimeoutMs: { to: 'testTimeout', unit: 'ms' } });
  const { target, name, describe, it, after, testTimeout, ...attackOptions } = options;
  if (target === undefined || target === null) {
    throw new TypeError('fixationAttackSuite: `target` must be an Express app or a base URL; got ' + String(target));
  }
  const framework = describe === undefined && it === undefined;
  if (!framework && (typeof describe !== 'function' || typeof it !== 'function')) {
    throw new TypeError('fixationAttackSuite: pass both `describe` and `it` of your test framework, or neither for node:test');
  }
  const nodeTest = framework ? loadNodeTest() : undefined;
  const describeFn = describe ?? (nodeTest?.describe as unknown as NonNullable<FixationAttackSuiteOptions['describe']>);
  const itFn = it ?? (nodeTest?.it as unknown as NonNullable<FixationAttackSuiteOptions['it']>);
  const afterFn = after ?? (nodeTest?.after as unknown as FixationAttackSuiteOptions['after']);
  const timeout = testTimeout === undefined ? 60_000 : parseDuration(testTimeout, 'fixationAttackSuite: `testTimeout`');
  const failOn = attackOptions.failOn ?? DEFAULT_FAIL_ON;
  const selected = fixationAttacks.filter(
    (a) => (!attackOptions.only || attackOptions.only.includes(a.id)) && !attackOptions.skip?.includes(a.id),
  );

  // Opened by the first test that runs (registration must stay synchronous), closed after the last.
  let runner: Promise<FixationAttackRunner> | undefined;
  let remaining = selected.length;
  const open = () => (runner ??= FixationAttackRunner.open(target, attackOptions));
  const close = async () => {
    const opened = runner;
    runner = undefined;
    if (opened) await (await opened.catch(() => undefined))?.close();
  };

  describeFn(name ?? 'session fixation attacks', () => {
    if (afterFn) afterFn(close);
    for (const attack of selected) {
      // Zero declared parameters: mocha and jest would otherwise wait for a `done` callback.
      const test = async function (this: unknown, ...args: unknown[]): Promise<void> {
        const mocha = this as { timeout?: (ms: number) => void; skip?: () => void } | undefined;
        if (!framework && typeof mocha?.timeout === 'function') mocha.timeout(timeout);
        let result: AttackResult;
        try {
          result = await (await open()).run(attack.id);
        } finally {
          if (--remaining === 0) await close();
        }
        if (result.outcome === 'fail' && failsRun(result.class, failOn)) {
          throw new Error(`${attack.id}: the attack succeeded (${result.class}, ${result.severity}). ${result.reason}\n${formatEvidence(result)}`);
        }
        if (result.outcome === 'error') throw new Error(`${attack.id}: the attack was aborted. ${result.reason}\n${formatEvidence(result)}`);
        if (result.outcome === 'fail') {
          // A finding below failOn: shown, never silent, but it does not fail the suite.
          skip(`${result.class} finding (${result.severity}), below failOn '${failOn}': ${result.reason}`, args[0], mocha);
        }
        if (result.outcome === 'not-applicable') {
          if (result.core) throw new Error(`${attack.id}: a core fixation attack could not run, so the app's protection is unproven. ${result.reason}`);
          skip(`not applicable: ${result.reason}`, args[0], mocha);
        }
      };
      if (framework) itFn(attack.title, test);
      else itFn(attack.title, test, timeout);
    }
  });
}

/** Marks the running test skipped with the framework at hand (node:test, vitest, mocha). */
function skip(message: string, context: unknown, mocha: { skip?: () => void } | undefined): void {
  const ctx = context as { skip?: (message?: string) => void } | undefined;
  if (typeof ctx?.skip === 'function') {
    ctx.skip(message); // node:test records the message; vitest throws to stop the test
    return;
  }
  if (typeof mocha?.skip === 'function') {
    mocha.skip(); // throws mocha's Pending
    return;
  }
  console.warn(message); // jest: no runtime skip
}
