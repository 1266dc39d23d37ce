/**
 * The Redis key layout, in one place. Two layouts share one set of names:
 *
 * | key                          | type   | holds                                            |
 * | ---------------------------- | ------ | ------------------------------------------------ |
 * | `<prefix>sess:<sessionId>`   | string | the express-session record (JSON) or a tombstone |
 * | `<prefix>idx:<principal>`    | zset   | the principal's session ids, score = createdAt    |
 * | `<prefix>meta:<principal>`   | hash   | id → `createdAt:lastSeenAt:admittedAtMicros:state:metaJSON` |
 * | `<prefix>evicted:<sessionId>`| string | the ids a one-step login of that id evicted (space-separated), while their tombstones live |
 *
 * - **`deployment`** (the default): the prefix carries one Redis Cluster hash tag (`{fg}`), so
 *   every key of the deployment is in one slot. Any step — a login moving an anonymous id into
 *   a principal's index, a rotation, a revoke-all — is one script. On a cluster, one shard
 *   holds every session: right for one Redis (or a primary with replicas), not for scaling out.
 * - **`spread`** (Redis Cluster): the prefix has no hash tag; each key gets its own.
 *   A session key's tag is the first `SLOT_TAG_LENGTH` characters of its id, and a
 *   principal's index keys carry the principal's *placement tag* (a keyed hash of the
 *   principal, `SLOT_TAG_LENGTH` characters). Anonymous ids are random, so pre-login sessions
 *   spread over every slot; the guard mints an authenticated session's id as
 *   `<placement tag><random>` (`sessionIdFor`), so a principal's sessions and index share one
 *   slot: admission, revoke-all and rotations of an authenticated session stay single-slot
 *   scripts, and only a login (anonymous slot → principal's slot) crosses slots.
 *
 *   The placement tag is an HMAC of the principal under `tagSecret`: it links a user's own
 *   cookies to each other (they share a prefix) but does not name the user to whoever holds
 *   one. Unguessability is untouched: the random part is 256 bits, as for any id.
 */
import { createHmac } from 'node:crypto';

/** The default prefix: `fg:` plus the hash tag `{fg}`. */
export const DEFAULT_PREFIX = 'fg:{fg}:';
/** The default prefix of the `spread` layout: no hash tag (each key carries its own). */
export const DEFAULT_SPREAD_PREFIX = 'fg:';
/** Characters of an id (and of a placement tag) that pick its slot in the `spread` layout. */
export const SLOT_TAG_LENGTH = 16;

/** How keys are placed on a Redis Cluster (see the module comment). */
export type KeyLayoutKind = 'deployment' | 'spread';

const SESSION_SEGMENT = 'sess:';
const INDEX_SEGMENT = 'idx:';
const META_SEGMENT = 'meta:';
const EVICTIONS_SEGMENT = 'evicted:';
// Domain separation: the tag key may be the app's session secret.
const TAG_LABEL = 'fixation-guard/redis-placement\0';

// SCAN's MATCH is a glob: these characters in a prefix would make connect-redis's `all`,
// `length` and `clear` match keys of other deployments.
const GLOB_CHARACTERS = /[*?[\]\\]/;

/**
 * Validates a key prefix and returns it. `who` names the caller in the error message.
 * The `deployment` layout needs a non-empty hash tag in the prefix (scripts touch several keys
 * at once); the `spread` layout needs none (a tag there would pin every key to one slot).
 */
export function validatePrefix(prefix: unknown, who: string, layout: KeyLayoutKind = 'deployment'): string {
  if (typeof prefix !== 'string') {
    const example = layout === 'spread' ? DEFAULT_SPREAD_PREFIX : DEFAULT_PREFIX;
    throw new TypeError(`${who}: \`prefix\` must be a string like '${example}'; got ${typeof prefix}`);
  }
  if (layout === 'spread') {
    if (/[{}]/.test(prefix)) {
      throw new Error(
        `${who}: with \`keyLayout: 'spread'\` the \`prefix\` must not contain '{' or '}' (a hash tag ` +
          `there would put every key in one slot); got ${JSON.stringify(prefix)}. ` +
          `Use for example ${JSON.stringify(prefix.replace(/[{}]/g, '') || DEFAULT_SPREAD_PREFIX)}.`,
      );
    }
  } else {
    const open = prefix.indexOf('{');
    const close = open === -1 ? -1 : prefix.indexOf('}', open + 1);
    if (open === -1 || close === -1 || close === open + 1) {
      throw new Error(
        `${who}: \`prefix\` must contain a Redis Cluster hash tag such as '{fg}' so that every key ` +
          `one script touches shares a slot; got ${JSON.stringify(prefix)}. ` +
          `Use for example ${JSON.stringify(suggestPrefix(prefix))}, or \`keyLayout: 'spread'\` to spread sessions over a cluster.`,
      );
    }
  }
  if (GLOB_CHARACTERS.test(prefix)) {
    throw new Error(
      `${who}: \`prefix\` must not contain the glob characters * ? [ ] \\ (connect-redis SCANs ` +
        `with it); got ${JSON.stringify(prefix)}`,
    );
  }
  return prefix;
}

/** Validates `keyLayout`; returns the default `'deployment'` when undefined. */
export function validateLayout(layout: unknown, who: string): KeyLayoutKind {
  if (layout === undefined) return 'deployment';
  if (layout !== 'deployment' && layout !== 'spread') {
    throw new TypeError(`${who}: \`keyLayout\` must be 'deployment' or 'spread'; got ${JSON.stringify(layout)}`);
  }
  return layout;
}

/** Validates `tagSecret` (required by the `spread` layout, ignored otherwise). */
export function validateTagSecret(secret: unknown, layout: KeyLayoutKind, who: string): string | undefined {
  if (layout !== 'spread') return undefined;
  if (typeof secret !== 'string' || secret.length < 16) {
    throw new TypeError(
      `${who}: \`keyLayout: 'spread'\` needs \`tagSecret\`, a string of at least 16 characters shared by every ` +
        `instance (the session secret will do: it is used under its own label); got ${secret === undefined ? 'undefined' : typeof secret === 'string' ? `${secret.length} characters` : typeof secret}`,
    );
  }
  return secret;
}

function suggestPrefix(prefix: string): string {
  const base = prefix.replace(/[{}*?[\]\\]/g, '').replace(/:+$/, '') || 'fg';
  return `${base}:{${base}}:`;
}

/** Builds every key name of one deployment from its prefix and layout. */
export class KeyLayout {
  readonly prefix: string;
  readonly kind: KeyLayoutKind;
  /** What connect-redis is given as its own `prefix`: session keys start with it. */
  readonly sessionPrefix: string;
  readonly #tagKey: string | undefined;
  readonly #tags = new Map<string, string>();

  constructor(prefix: string, kind: KeyLayoutKind = 'deployment', tagSecret?: string) {
    this.prefix = prefix;
    this.kind = kind;
    this.sessionPrefix = prefix + SESSION_SEGMENT;
    this.#tagKey = kind === 'spread' ? tagSecret : undefined;
  }

  get spread(): boolean {
    return this.kind === 'spread';
  }

  session(sessionId: string): string {
    if (this.kind === 'deployment') return this.sessionPrefix + sessionId;
    return `${this.sessionPrefix}{${sessionId.slice(0, SLOT_TAG_LENGTH)}}${sessionId.slice(SLOT_TAG_LENGTH)}`;
  }

  /** The session id a session key names (inverse of `session`). */
  idOfSessionKey(key: string): string {
    const rest = key.slice(this.sessionPrefix.length);
    return this.kind === 'deployment' ? rest : rest.replace('{', '').replace('}', '');
  }

  index(principal: string): string {
    return this.kind === 'deployment' ? this.prefix + INDEX_SEGMENT + principal : `${this.prefix}${INDEX_SEGMENT}{${this.placementTag(principal)}}${principal}`;
  }

  meta(principal: string): string {
    return this.kind === 'deployment' ? this.prefix + META_SEGMENT + principal : `${this.prefix}${META_SEGMENT}{${this.placementTag(principal)}}${principal}`;
  }

  /**
   * The note of what a one-step login of `sessionId` evicted (`deployment` layout only: the
   * one-step login needs every key in one slot).
   */
  evictions(sessionId: string): string {
    return this.prefix + EVICTIONS_SEGMENT + sessionId;
  }

  /**
   * `spread` only: the slot tag of `principal`'s keys, an HMAC of the principal (base64url,
   * `SLOT_TAG_LENGTH` characters). Cached: it is asked for on every authenticated write.
   */
  placementTag(principal: string): string {
    let tag = this.#tags.get(principal);
    if (tag === undefined) {
      tag = createHmac('sha256', this.#tagKey ?? '').update(TAG_LABEL).update(principal).digest('base64url').slice(0, SLOT_TAG_LENGTH);
      if (this.#tags.size >= 10_000) this.#tags.clear();
      this.#tags.set(principal, tag);
    }
    return tag;
  }

  /** Whether the keys of `sessionId` share `principal`'s slot (always, in the `deployment` layout). */
  colocated(sessionId: string, principal: string): boolean {
    return this.kind === 'deployment' || sessionId.slice(0, SLOT_TAG_LENGTH) === this.placementTag(principal);
  }

  /** Whether `other` names every key exactly as this layout does (same prefix, layout and tag key). */
  sameAs(other: KeyLayout): boolean {
    return other.prefix === this.prefix && other.kind === this.kind && (!this.spread || other.placementTag('\0') === this.placementTag('\0'));
  }

  /** Whether two session ids' keys share a slot. */
  sameSlot(a: string, b: string): boolean {
    return this.kind === 'deployment' || a.slice(0, SLOT_TAG_LENGTH) === b.slice(0, SLOT_TAG_LENGTH);
  }
}
