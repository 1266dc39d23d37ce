import type { AttackContext, OptionalRoute } from '../context.js';
import type { AttackOutcome, AttackStandard, FindingClass, FixationAttackId, Severity } from '../types.js';

export interface Verdict {
  outcome: AttackOutcome;
  reason: string;
  /**
   * A failure that means less than the attack's class and severity say (the attack's are those
   * of its worst finding): e.g. ids that miss ASVS 5.0's 128 bits without being guessable.
   */
  finding?: { class: FindingClass; severity: Severity };
}

/** One attack of a catalogue (the fixation or the MCP one), run against a context of its suite. */
export interface CatalogueAttack<Id extends string, Context> {
  readonly id: Id;
  /** The protection, stated as a full sentence (it is also the test's name). */
  readonly title: string;
  /** How the attack is carried out, for the README and `fixation-guard list`. */
  readonly method: string;
  readonly standard: AttackStandard;
  /** What a success of this attack means: an attacker takes a session (`fixation`) or a defence in depth is missing (`hardening`). */
  readonly class: FindingClass;
  readonly severity: Severity;
  /** A core attack: when it applies but cannot run against a target, the run is inconclusive, never a pass. */
  readonly core?: boolean;
  run(ctx: Context): Promise<Verdict>;
}

/** One attack of the fixation catalogue. `run` returns a verdict or throws `NotApplicable`. */
export interface AttackDefinition extends CatalogueAttack<FixationAttackId, AttackContext> {
  /** The optional routes it uses: when every attack that uses one is skipped, the suite never requests it. */
  readonly needs?: readonly OptionalRoute[];
}

/** What a catalogue says about one attack, without running it (both suites' `…AttackInfo`). */
export interface AttackInfo<Id extends string> {
  id: Id;
  title: string;
  /** How the attack is carried out. */
  method: string;
  standard: AttackStandard;
  class: FindingClass;
  severity: Severity;
  /** A core attack: when it applies but cannot run, the run is inconclusive. */
  core: boolean;
}

/** The frozen, run-free view of a catalogue, in its order. */
export function describeCatalogue<Id extends string>(
  catalogue: ReadonlyArray<{ id: Id; title: string; method: string; standard: AttackStandard; class: FindingClass; severity: Severity; core?: boolean }>,
): readonly AttackInfo<Id>[] {
  return Object.freeze(
    catalogue.map(({ id, title, method, standard, class: findingClass, severity, core }) =>
      Object.freeze({ id, title, method, standard, class: findingClass, severity, core: core === true }),
    ),
  );
}

export const pass = (reason: string): Verdict => ({ outcome: 'pass', reason });
export const fail = (reason: string): Verdict => ({ outcome: 'fail', reason });
/** A failure of a lesser class or severity than the attack's own (see `Verdict.finding`). */
export const failAs = (finding: { class: FindingClass; severity: Severity }, reason: string): Verdict => ({ outcome: 'fail', reason, finding });
export const notApplicable = (reason: string): Verdict => ({ outcome: 'not-applicable', reason });

export function standard(asvs4: string[], asvs5: string[], cheatSheet: string[]): AttackStandard {
  return Object.freeze({ asvs4: Object.freeze(asvs4), asvs5: Object.freeze(asvs5), cheatSheet: Object.freeze(cheatSheet) });
}

/** Cheat Sheet section names, spelled once. */
export const CS = {
  renew: 'Renew the Session ID After Any Privilege Level Change',
  strict: 'Session ID Generation and Verification: Permissive and Strict Session Management',
  userInput: 'Manage Session ID as Any Other User Input',
  exchange: 'Used vs. Accepted Session ID Exchange Mechanisms',
  multipleCookies: 'Considerations When Using Multiple Cookies',
  secure: 'Secure Attribute',
  httpOnly: 'HttpOnly Attribute',
  sameSite: 'SameSite Attribute',
  domainPath: 'Domain and Path Attributes',
  entropy: 'Session ID Entropy',
  length: 'Session ID Length',
  manualExpiration: 'Manual Session Expiration',
  idle: 'Idle Timeout',
  absolute: 'Absolute Timeout',
  content: 'Session ID Content (or Value)',
  tls: 'Transport Layer Security',
} as const;
