/**
 * Binding: an authenticated record carries a keyed hash of the id it was authenticated
 * under (`boundTo`). Persisted or loaded under any other id, it is refused: that is how the
 * guard tells a planted id from one `req.login` issued.
 */
import { deriveKey, shortHash } from '../util/hash.js';
import type { GuardState } from './state.js';

const MAX_VERIFIED_BINDINGS = 10_000;

export class Binding {
  readonly #keys: readonly Buffer[];
  readonly #verified = new Map<string, string>();

  /** The first secret binds; every secret is accepted, so rotating `secret` logs nobody out. */
  constructor(secrets: readonly string[]) {
    this.#keys = secrets.map((secret) => deriveKey(secret, 'session-binding'));
  }

  /** The binding hash of `sessionId` under the current key. */
  hash(sessionId: string): string {
    return shortHash(this.#keys[0] as Buffer, sessionId);
  }

  /** Whether `state` was bound to `sessionId` under any key. */
  isBound(state: GuardState | undefined, sessionId: string): boolean {
    const boundTo = state?.boundTo;
    if (boundTo === undefined) return false;
    // Verified bindings are remembered (bounded), so a logged-in request costs no HMAC.
    if (this.#verified.get(sessionId) === boundTo) return true;
    const bound = this.#keys.some((key) => shortHash(key, sessionId) === boundTo);
    if (bound) {
      if (this.#verified.size >= MAX_VERIFIED_BINDINGS) this.#verified.clear();
      this.#verified.set(sessionId, boundTo);
    }
    return bound;
  }
}
