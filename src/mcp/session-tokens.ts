/**
 * Session tokens as the sessionful guard uses them: issued for a session's current
 * authorization, and checked against the session a request names (signature, expiry, session,
 * owner, generation, connection fingerprint). No HTTP here: each check returns a refusal or
 * nothing, and the request pipeline answers it.
 */
import type { Request } from 'express';
import type { Auditor } from '../audit/index.js';
import type { Clock } from '../clock/index.js';
import { deriveKey } from '../util/hash.js';
import { McpGuardError, refusal, type McpRefusal } from './errors.js';
import { connectionFingerprint, type FingerprintInput, type FingerprintPolicy } from './fingerprint.js';
import type { SessionRecord } from './session-record.js';
import { SESSION_TOKEN_VERSION, SessionTokenSigner, type SessionTokenPayload } from './token.js';

export const SESSION_TOKEN_HEADER = 'X-Session-Token';

export interface IssuedSessionToken {
  /** Send it as `X-Session-Token` (or `Authorization: Session <token>`) on every request. */
  token: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
  principal: string;
}

export interface SessionTokensOptions {
  /** The session secrets: the first signs, all verify. */
  secrets: readonly Buffer[];
  clock: Clock;
  auditor: Auditor;
  tokenTtlMs: number;
  fingerprint: { inputs: readonly FingerprintInput[]; policy: FingerprintPolicy };
}

export interface SessionTokens {
  /** The keyed connection fingerprint of a request (with the session's `clientInfo`). */
  fingerprintOf(req: Request, clientInfo: string | undefined): string;
  /** Under the fingerprint policy: `undefined` when `actual` may go on (a mismatch is audited either way). */
  checkFingerprint(record: SessionRecord, expected: string, actual: string, ip: string | undefined): McpRefusal | undefined;
  /** Signs a token for the session's current authorization, expiring at `absoluteDeadline` at the latest. */
  issue(record: SessionRecord, absoluteDeadline: number): IssuedSessionToken;
  /** Signature, expiry, session binding, owner (`<principal>:<sessionId>`), generation, fingerprint. */
  check(record: SessionRecord, token: string, fingerprint: string, ip: string | undefined): McpRefusal | undefined;
  /** A token sent on a session that was never authorized: whatever it is, it is someone else's. */
  checkUnissued(token: string): McpRefusal;
}

function invalid(message: string, event: 'invalid_token_signature' | 'session_token_mismatch', reason: string): McpRefusal {
  return refusal(new McpGuardError('INVALID_SESSION_TOKEN', message), event, reason);
}

const OTHER_SESSION = 'Unauthorized: the session token belongs to another session.';
const INVALID = 'Unauthorized: invalid session token.';

/**
 * @example
 * const tokens = createSessionTokens({ secrets, clock, auditor, tokenTtlMs, fingerprint: { inputs, policy: 'reject' } });
 * const refused = tokens.check(record, readSessionToken(req.headers)!, tokens.fingerprintOf(req, record.clientInfo), req.ip);
 */
export function createSessionTokens(options: SessionTokensOptions): SessionTokens {
  const { clock, auditor, tokenTtlMs } = options;
  const signer = new SessionTokenSigner(options.secrets, clock);
  const fingerprintKey = deriveKey(options.secrets[0] as Buffer, 'mcp-connection-fingerprint');
  const { inputs, policy } = options.fingerprint;

  function checkFingerprint(record: SessionRecord, expected: string, actual: string, ip: string | undefined): McpRefusal | undefined {
    if (expected === actual) return undefined;
    auditor.emit('connection_fingerprint_mismatch', {
      sessionId: record.id,
      principal: record.principal,
      ip,
      reason: policy === 'reject' ? 'rejected' : 'audited',
      detail: { policy },
    });
    if (policy === 'audit') return undefined;
    return refusal(new McpGuardError('FINGERPRINT_MISMATCH', 'Forbidden: this connection does not match the one the session was created on.'));
  }

  return {
    fingerprintOf(req, clientInfo) {
      return connectionFingerprint(fingerprintKey, inputs, { userAgent: req.headers['user-agent'], clientInfo, ip: req.ip });
    },
    checkFingerprint,
    issue(record, absoluteDeadline) {
      const now = clock.now();
      const payload: SessionTokenPayload = {
        v: SESSION_TOKEN_VERSION,
        sid: record.id,
        sub: record.principal as string,
        ...(record.issuer ? { iss: record.issuer } : {}),
        iat: now,
        exp: Math.min(now + tokenTtlMs, absoluteDeadline),
        fp: record.fingerprint,
        gen: record.generation,
      };
      auditor.emit('session_token_issued', {
        sessionId: record.id,
        principal: record.principal,
        ip: record.ip,
        detail: { method: record.authMethod ?? null, generation: record.generation },
      });
      return { token: signer.sign(payload), expiresAt: payload.exp, principal: payload.sub };
    },
    check(record, token, fingerprint, ip) {
      const result = signer.verify(token);
      if (!result.ok) {
        if (result.reason === 'expired') {
          return refusal(new McpGuardError('SESSION_TOKEN_EXPIRED', 'Unauthorized: the session token has expired; authenticate again.'), 'expired_token');
        }
        return invalid(INVALID, 'invalid_token_signature', result.reason);
      }
      const payload = result.payload;
      if (payload.sid !== record.id) return invalid(OTHER_SESSION, 'session_token_mismatch', 'token_for_other_session');
      const owner = record.principal === undefined ? undefined : `${record.principal}:${record.id}`;
      if (owner === undefined || `${payload.sub}:${payload.sid}` !== owner) {
        return refusal(new McpGuardError('SESSION_OWNER_MISMATCH', 'Forbidden: the session token is not the session owner’s.'), 'session_owner_mismatch', 'token_principal_differs');
      }
      if (payload.gen !== record.generation) {
        return invalid('Unauthorized: the session token was superseded; authenticate again.', 'session_token_mismatch', 'token_superseded');
      }
      return checkFingerprint(record, payload.fp, fingerprint, ip);
    },
    checkUnissued(token) {
      const verified = signer.verify(token);
      return verified.ok || verified.reason === 'expired'
        ? invalid(OTHER_SESSION, 'session_token_mismatch', 'token_for_other_session')
        : invalid(INVALID, 'invalid_token_signature', verified.reason);
    },
  };
}
