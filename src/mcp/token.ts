import { createHmac, timingSafeEqual } from 'node:crypto';
import { systemClock, type Clock } from '../clock/index.js';
import { deriveKey } from '../util/hash.js';

/** The version of the token format; a token of another version is rejected as malformed. */
export const SESSION_TOKEN_VERSION = 1;

/**
 * What a session token asserts. It is encoded as base64url JSON before signing, so no field
 * can bleed into another (the advisory's colon-joined `session:user:expiry` could).
 */
export interface SessionTokenPayload {
  v: typeof SESSION_TOKEN_VERSION;
  /** The MCP session id the token is bound to. */
  sid: string;
  /** The principal that authenticated. */
  sub: string;
  /** The issuer of the principal's identity, when known (OAuth `iss`). */
  iss?: string;
  /** Issued at, milliseconds since the epoch. */
  iat: number;
  /** Expires at, milliseconds since the epoch. */
  exp: number;
  /** Keyed hash of the connection fingerprint at authentication. */
  fp: string;
  /** The session's authorization generation: re-authenticating supersedes older tokens. */
  gen: number;
}

export type SessionTokenVerification =
  | { ok: true; payload: SessionTokenPayload }
  | { ok: false; reason: 'malformed' | 'signature' }
  | { ok: false; reason: 'expired'; payload: SessionTokenPayload };

const SIGNING_CONTEXT = 'fixation-guard/mcp session token v1.';
const SEGMENT_RE = /^[A-Za-z0-9_-]+$/;
const SIGNATURE_CHARS = 43; // base64url of 32 bytes, no padding
/** Tokens longer than this are rejected before any work: a cheap guard against huge headers. */
const MAX_TOKEN_CHARS = 4096;

/**
 * Signs and verifies session tokens with HMAC-SHA256. Keys rotate: the first key signs,
 * every key verifies, so a new key can be rolled out before the old one is retired.
 *
 * @example
 * const signer = new SessionTokenSigner([currentKey, previousKey]);
 * const token = signer.sign({ v: 1, sid, sub: 'alice', iat, exp, fp, gen: 1 });
 * const result = signer.verify(token); // { ok: true, payload } | { ok: false, reason }
 */
export class SessionTokenSigner {
  readonly #keys: Buffer[];
  readonly #clock: Clock;

  constructor(keys: readonly Buffer[], clock: Clock = systemClock) {
    if (!Array.isArray(keys) || keys.length === 0 || !keys.every((key) => Buffer.isBuffer(key))) {
      throw new TypeError('SessionTokenSigner: `keys` must be a non-empty array of Buffers');
    }
    // Derived sub-keys: the same secret also keys the audit hashes, and must not sign with the same bytes.
    this.#keys = keys.map((key) => deriveKey(key, 'mcp-session-token'));
    this.#clock = clock;
  }

  sign(payload: SessionTokenPayload): string {
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return `${body}.${this.#mac(this.#keys[0] as Buffer, body).toString('base64url')}`;
  }

  verify(token: string): SessionTokenVerification {
    if (typeof token !== 'string' || token.length > MAX_TOKEN_CHARS) return { ok: false, reason: 'malformed' };
    const dot = token.indexOf('.');
    const body = token.slice(0, dot);
    const signature = token.slice(dot + 1);
    if (dot <= 0 || !SEGMENT_RE.test(body) || signature.length !== SIGNATURE_CHARS || !SEGMENT_RE.test(signature)) {
      return { ok: false, reason: 'malformed' };
    }
    const given = Buffer.from(signature, 'base64url');
    // Node's decoder ignores the last character's unused low bits: three other spellings of every
    // signature would verify. Only the one canonical spelling is a token.
    if (given.toString('base64url') !== signature) return { ok: false, reason: 'malformed' };
    let valid = false;
    for (const key of this.#keys) {
      // Every key is tried even after a match, so timing does not reveal which key signed.
      if (timingSafeEqual(this.#mac(key, body), given)) valid = true;
    }
    if (!valid) return { ok: false, reason: 'signature' };
    const payload = parsePayload(body);
    if (!payload) return { ok: false, reason: 'malformed' };
    if (this.#clock.now() >= payload.exp) return { ok: false, reason: 'expired', payload };
    return { ok: true, payload };
  }

  #mac(key: Buffer, body: string): Buffer {
    return createHmac('sha256', key).update(SIGNING_CONTEXT).update(body).digest();
  }
}

function parsePayload(body: string): SessionTokenPayload | undefined {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const p = value as Record<string, unknown>;
  if (
    p.v !== SESSION_TOKEN_VERSION ||
    typeof p.sid !== 'string' ||
    typeof p.sub !== 'string' ||
    (p.iss !== undefined && typeof p.iss !== 'string') ||
    typeof p.iat !== 'number' ||
    typeof p.exp !== 'number' ||
    typeof p.fp !== 'string' ||
    typeof p.gen !== 'number'
  ) {
    return undefined;
  }
  return p as unknown as SessionTokenPayload;
}

/**
 * Reads the session token from `X-Session-Token` or `Authorization: Session <token>`.
 * Returns `undefined` when neither is present.
 *
 * @example
 * const token = readSessionToken(req.headers); // from either header
 */
export function readSessionToken(headers: Record<string, string | string[] | undefined>): string | undefined {
  const direct = headers['x-session-token'];
  if (typeof direct === 'string' && direct.length > 0) return direct.trim();
  const authorization = headers.authorization;
  if (typeof authorization === 'string') {
    const match = /^Session\s+(\S+)\s*$/i.exec(authorization);
    if (match) return match[1];
  }
  return undefined;
}
