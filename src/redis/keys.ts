/**
 * The Redis key layout, in one place. Every key of one deployment starts with the same
 * prefix, and the prefix carries a Redis Cluster hash tag (`{…}`), so every key any one script
 * touches lives in the same slot:
 *
 * | key                              | type   | holds                                           |
 * | -------------------------------- | ------ | ----------------------------------------------- |
 * | `<prefix>sess:<sessionId>`       | string | the express-session record (JSON) or a tombstone |
 * | `<prefix>idx:<principal>`        | zset   | the principal's session ids, score = createdAt   |
 * | `<prefix>meta:<principal>`       | hash   | id → `createdAt:lastSeenAt:admittedAtMicros:state:metaJSON` |
 *
 * Why one tag for everything: a rotation moves a record from one random id to another random
 * id and must tombstone the first in the same atomic step, and a login moves an anonymous id
 * (no principal yet) into a principal's index. No tag derived from the id or the principal
 * can put both ends of those moves in one slot, so the tag is per deployment.
 */

/** The default prefix: `fg:` plus the hash tag `{fg}`. */
export const DEFAULT_PREFIX = 'fg:{fg}:';

const SESSION_SEGMENT = 'sess:';
const INDEX_SEGMENT = 'idx:';
const META_SEGMENT = 'meta:';

// SCAN's MATCH is a glob: these characters in a prefix would make connect-redis's `all`,
// `length` and `clear` match keys of other deployments.
const GLOB_CHARACTERS = /[*?[\]\\]/;

/**
 * Validates a key prefix and returns it. `who` names the caller in the error message.
 * A prefix must contain a non-empty hash tag so that Redis Cluster keeps every key of the
 * deployment in one slot (scripts touch several of them at once).
 */
export function validatePrefix(prefix: unknown, who: string): string {
  if (typeof prefix !== 'string') {
    throw new TypeError(`${who}: \`prefix\` must be a string like '${DEFAULT_PREFIX}'; got ${typeof prefix}`);
  }
  const open = prefix.indexOf('{');
  const close = open === -1 ? -1 : prefix.indexOf('}', open + 1);
  if (open === -1 || close === -1 || close === open + 1) {
    throw new Error(
      `${who}: \`prefix\` must contain a Redis Cluster hash tag such as '{fg}' so that every key ` +
        `one script touches shares a slot; got ${JSON.stringify(prefix)}. ` +
        `Use for example ${JSON.stringify(suggestPrefix(prefix))}.`,
    );
  }
  if (GLOB_CHARACTERS.test(prefix)) {
    throw new Error(
      `${who}: \`prefix\` must not contain the glob characters * ? [ ] \\ (connect-redis SCANs ` +
        `with it); got ${JSON.stringify(prefix)}`,
    );
  }
  return prefix;
}

function suggestPrefix(prefix: string): string {
  const base = prefix.replace(/[{}*?[\]\\]/g, '').replace(/:+$/, '') || 'fg';
  return `${base}:{${base}}:`;
}

/** Builds every key name of one deployment from its prefix. */
export class KeyLayout {
  readonly prefix: string;
  /** What connect-redis is given as its own `prefix`: session keys are this + id. */
  readonly sessionPrefix: string;

  constructor(prefix: string) {
    this.prefix = prefix;
    this.sessionPrefix = prefix + SESSION_SEGMENT;
  }

  session(sessionId: string): string {
    return this.sessionPrefix + sessionId;
  }

  index(principal: string): string {
    return this.prefix + INDEX_SEGMENT + principal;
  }

  meta(principal: string): string {
    return this.prefix + META_SEGMENT + principal;
  }
}
