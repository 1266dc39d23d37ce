import { createHmac } from 'node:crypto';

/** What a connection fingerprint may be made of. */
export type FingerprintInput = 'userAgent' | 'clientInfo' | 'ip';
export type FingerprintPolicy = 'reject' | 'audit';

/** The default inputs: stable across a client's requests, unlike the IP of a mobile client. */
export const DEFAULT_FINGERPRINT_INPUTS: readonly FingerprintInput[] = Object.freeze(['userAgent', 'clientInfo']);
export const DEFAULT_FINGERPRINT_POLICY: FingerprintPolicy = 'reject';
export const FINGERPRINT_INPUTS: readonly FingerprintInput[] = Object.freeze(['userAgent', 'clientInfo', 'ip']);

export interface FingerprintSource {
  userAgent?: string | undefined;
  /** `clientInfo` from the session's `initialize` request, as `name/version`. */
  clientInfo?: string | undefined;
  ip?: string | undefined;
}

/**
 * A keyed hash of the chosen connection properties. Each input is length-prefixed, so
 * `("ab", "c")` and `("a", "bc")` hash differently.
 *
 * @example
 * const fp = connectionFingerprint(key, ['userAgent', 'clientInfo'], { userAgent, clientInfo: 'claude/1.0' });
 */
export function connectionFingerprint(key: Buffer, inputs: readonly FingerprintInput[], source: FingerprintSource): string {
  const hmac = createHmac('sha256', key);
  for (const input of inputs) {
    const value = source[input] ?? '';
    hmac.update(`${input}:${Buffer.byteLength(value)}:${value};`);
  }
  return hmac.digest('base64url').slice(0, 22);
}
