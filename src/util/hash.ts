import { createHmac, randomBytes } from 'node:crypto';

/** Derives a sub-key from the first secret so that ids hash the same on every instance. */
export function deriveKey(secret: string | Buffer, purpose: string): Buffer {
  return createHmac('sha256', secret).update(`fixation-guard:${purpose}`).digest();
}

/**
 * A short keyed hash of a session id or token: stable for correlating log lines, useless for
 * replaying. Raw ids never reach an audit event or a log line.
 */
export function shortHash(key: Buffer, value: string): string {
  return createHmac('sha256', key).update(value).digest('base64url').slice(0, 16);
}

/** A key for processes that were given no secret (hashes then only correlate within one process). */
export function ephemeralKey(): Buffer {
  return randomBytes(32);
}
