/**
 * What each rotation strategy carries from the old session into the new one. Names and
 * semantics follow Spring Security's SessionFixationProtectionStrategy.
 */
export type RotationStrategy = 'newSession' | 'migrateSession' | 'changeSessionId' | 'none';

export const ROTATION_STRATEGIES: readonly RotationStrategy[] = Object.freeze([
  'newSession',
  'migrateSession',
  'changeSessionId',
  'none',
]);

/** Spring Security's default, and ours: the same record, under a new id. */
export const DEFAULT_STRATEGY: RotationStrategy = 'changeSessionId';

type Record_ = Record<string, unknown>;

export interface CarryOptions {
  /** `newSession`: the only keys carried. */
  keep: readonly string[];
  /** `migrateSession`: keys never carried. */
  drop: readonly string[];
}

/**
 * The data of the session that replaces `old` under `strategy` (without the guard's own state,
 * which the caller writes). The result is a plain, JSON-clean copy: nothing is shared with the
 * old session, so a failed rotation can put the old one back untouched.
 */
export function carryOver(strategy: Exclude<RotationStrategy, 'none'>, old: object, options: CarryOptions): Record_ {
  const plain = JSON.parse(JSON.stringify(old)) as Record_;
  const out: Record_ = { cookie: plain.cookie };
  switch (strategy) {
    case 'changeSessionId':
      return plain;
    case 'migrateSession':
      for (const [key, value] of Object.entries(plain)) {
        if (key !== 'cookie' && key !== 'fixationGuard' && !options.drop.includes(key)) out[key] = value;
      }
      return out;
    case 'newSession':
      for (const key of options.keep) {
        if (key !== 'cookie' && key !== 'fixationGuard' && Object.prototype.hasOwnProperty.call(plain, key)) out[key] = plain[key];
      }
      return out;
  }
}
