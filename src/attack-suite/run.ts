import { idNotLeaked, cookieHostPrefix, cookieHttpOnly, cookiePath, cookieSameSite, cookieSecure, cookieTossing, idEntropy, tamperedSignatureRejected, urlSessionId } from './attacks/cookie.js';
import { describeCatalogue, notApplicable, type AttackDefinition, type AttackInfo, type Verdict } from './attacks/define.js';
import { absoluteTimeout, idleTimeout, inflightNoResurrection, logoutAllKillsSessions, logoutKillsSession } from './attacks/lifecycle.js';
import { forgedIdNotAdopted, loggedInIdSurvivesLogin, loginSetsNewId, plantedIdSurvivesLogin, preLoginIdDead, privilegeChangeRotates } from './attacks/login.js';
import { loginCsrf } from './attacks/login-csrf.js';
import { AttackSession, NotApplicable, RouteAborted, type OptionalRoute } from './context.js';
import { RequestTimeoutError, TargetUnreachableError, type AttackTarget } from './http.js';
import { resolveAttackOptions, type ResolvedAttackOptions } from './options.js';
import type { AttackResult, FixationAttackId, FixationAttackOptions, FixationReport } from './types.js';
import { summarize } from './verdict.js';

// The timeout attacks come last: they move the app's clock, which ages every session.
const CATALOGUE: readonly AttackDefinition[] = [
  plantedIdSurvivesLogin,
  loginSetsNewId,
  preLoginIdDead,
  loggedInIdSurvivesLogin,
  forgedIdNotAdopted,
  loginCsrf,
  urlSessionId,
  cookieTossing,
  cookieHttpOnly,
  cookieSecure,
  cookieSameSite,
  cookiePath,
  cookieHostPrefix,
  tamperedSignatureRejected,
  idEntropy,
  privilegeChangeRotates,
  logoutKillsSession,
  logoutAllKillsSessions,
  inflightNoResurrection,
  idNotLeaked,
  idleTimeout,
  absoluteTimeout,
];

const KNOWN_IDS: ReadonlySet<string> = new Set(CATALOGUE.map((a) => a.id));

/** What the catalogue says about one attack, without running it. */
export type FixationAttackInfo = AttackInfo<FixationAttackId>;

/**
 * The attack catalogue, in the order the suite runs it.
 *
 * @example
 * for (const attack of fixationAttacks) console.log(attack.id, attack.standard.asvs5.join(' '));
 */
export const fixationAttacks: readonly FixationAttackInfo[] = describeCatalogue(CATALOGUE);

/**
 * A probed target with the attacks selected by the options, run one at a time. Used by
 * {@link runFixationAttacks} and by the test-framework registration.
 */
export class FixationAttackRunner {
  readonly attacks: readonly AttackDefinition[];
  readonly #session: AttackSession;
  readonly #startedAt = new Date();

  private constructor(session: AttackSession, attacks: readonly AttackDefinition[]) {
    this.#session = session;
    this.attacks = attacks;
  }

  /** Validates the options, opens the target and probes it (login works, cookie name, …). */
  static async open(target: AttackTarget, options: FixationAttackOptions): Promise<FixationAttackRunner> {
    const resolved = resolveAttackOptions(options, KNOWN_IDS);
    const attacks = selectAttacks(resolved);
    const uses = new Set<OptionalRoute>(attacks.flatMap((a) => a.needs ?? []));
    const session = await AttackSession.open(target, resolved, uses);
    return new FixationAttackRunner(session, attacks);
  }

  /** Runs one attack; never throws for what the app does, only when the target is unreachable. */
  async run(id: FixationAttackId): Promise<AttackResult> {
    const attack = CATALOGUE.find((a) => a.id === id);
    if (!attack) throw new Error(`runFixationAttacks: unknown attack ${JSON.stringify(id)}`);
    const ctx = this.#session.context();
    const started = performance.now();
    let verdict: Verdict;
    try {
      verdict = await attack.run(ctx);
    } catch (err) {
      if (err instanceof NotApplicable) verdict = notApplicable(err.message);
      else if (err instanceof RequestTimeoutError || err instanceof RouteAborted) {
        verdict = { outcome: 'error', reason: `${err.message} (${this.#session.options.name('requestTimeout')}): only the attacks that need this route were aborted` };
      } else if (err instanceof TargetUnreachableError) throw err;
      else verdict = notApplicable(`the attack could not complete: ${(err as Error).message}`);
    } finally {
      await ctx.cleanUp();
    }
    return {
      id: attack.id,
      title: attack.title,
      standard: attack.standard,
      class: verdict.finding?.class ?? attack.class,
      severity: verdict.finding?.severity ?? attack.severity,
      core: attack.core === true,
      outcome: verdict.outcome,
      reason: ctx.redact(verdict.reason),
      evidence: { requests: ctx.requests, notes: ctx.notes },
      durationMs: Math.round(performance.now() - started),
    };
  }

  /** Assembles the report of the given results. */
  report(results: AttackResult[]): FixationReport {
    return {
      target: this.#session.client.baseUrl.href,
      cookieName: this.#session.facts.cookieName,
      https: this.#session.facts.https,
      startedAt: this.#startedAt.toISOString(),
      durationMs: Date.now() - this.#startedAt.getTime(),
      results,
      summary: summarize(results, this.#session.options.failOn),
    };
  }

  async close(): Promise<void> {
    await this.#session.close();
  }
}

function selectAttacks(options: ResolvedAttackOptions): AttackDefinition[] {
  return CATALOGUE.filter((a) => (!options.only || options.only.has(a.id)) && !options.skip.has(a.id));
}

/**
 * Runs the fixation attack catalogue against an app and reports, for each attack, whether the
 * app resisted it (`pass`), fell to it (`fail`) or could not be attacked that way
 * (`not-applicable`, with the reason), with the requests as evidence (ids only as hashes).
 *
 * Throws `FixationAttackSetupError` when the app cannot be attacked as described (the login
 * fails, the protected path is public, no session cookie) and `TargetUnreachableError` when
 * a URL target does not answer.
 *
 * @example
 * import { runFixationAttacks } from 'fixation-guard/attack-suite';
 *
 * const report = await runFixationAttacks(app, {
 *   loginBody: { username: 'alice', password: 'alice-password' },
 *   elevatePath: '/elevate',
 * });
 * if (!report.summary.secure) console.error(report.results.filter((r) => r.outcome === 'fail'));
 */
export async function runFixationAttacks(target: AttackTarget, options: FixationAttackOptions): Promise<FixationReport> {
  const runner = await FixationAttackRunner.open(target, options);
  try {
    const results: AttackResult[] = [];
    for (const attack of runner.attacks) results.push(await runner.run(attack.id));
    return runner.report(results);
  } finally {
    await runner.close();
  }
}
