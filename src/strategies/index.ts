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
  return JSON.parse(JSON.stringify(carried(strategy, old, options))) as Record_;
}

/**
 * What `carryOver` copies, as a shallow copy: the top-level keys are the new session's own, the
 * values are the old session's. For a rotation that writes only top-level keys of the copy (the
 * guard's state, the cookie) and drops the old session once the new one is stored: it saves a
 * deep copy per login, and the old session is still untouched when a failed rotation puts it back.
 */
export function carried(strategy: Exclude<RotationStrategy, 'none'>, old: object, options: CarryOptions): Record_ {
  const source = old as Record_;
  const out: Record_ = { cookie: source.cookie };
  switch (strategy) {
    case 'changeSessionId':
      for (const key of Object.keys(source)) out[key] = source[key];
      return out;
    case 'migrateSession':
      for (const key of Object.keys(source)) {
        if (key !== 'cookie' && key !== 'fixationGuard' && !options.drop.includes(key)) out[key] = source[key];
      }
      return out;
    case 'newSession':
      for (const key of options.keep) {
        if (key !== 'cookie' && key !== 'fixationGuard' && Object.prototype.hasOwnProperty.call(source, key)) out[key] = source[key];
      }
      return out;
  }
}
