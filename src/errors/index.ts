/**
 * The one runtime error model of the core guard: a `SessionGuardError` with a `code`, whose
 * HTTP status comes from one table. Middlewares never throw them: they pass them to
 * `next(err)` (or answer them as JSON), and `status` tells Express's error handler what to
 * answer. Bad configuration is not a runtime error: it throws `TypeError` / `Error` at startup.
 */

/**
 * The MCP adapter's codes (`fixation-guard/mcp`), answered as JSON-RPC error bodies by
 * `McpGuardError`, a `SessionGuardError`. They share the one table below: a code means the same
 * thing, and is answered with the same status, wherever it is raised.
 */
export const MCP_ERROR_STATUS = Object.freeze({
  /** `Origin` is not in `allowedOrigins`. */
  ORIGIN_REJECTED: 403,
  /** `Host` is not in `allowedHosts` (DNS rebinding). */
  HOST_REJECTED: 403,
  /** A per-IP or per-principal rate limit, or the per-IP cap of unauthenticated sessions. */
  RATE_LIMITED: 429,
  /** A JSON-RPC batch too large, or sent under a revision without batches. */
  BATCH_REJECTED: 400,
  /** The endpoint answers GET, POST and DELETE only. */
  METHOD_NOT_ALLOWED: 405,
  /** A request other than `initialize` without `Mcp-Session-Id` (or with two). */
  SESSION_ID_REQUIRED: 400,
  /** An unknown, expired or revoked session id: never another session. */
  SESSION_NOT_FOUND: 404,
  SESSION_TOKEN_REQUIRED: 401,
  INVALID_SESSION_TOKEN: 401,
  SESSION_TOKEN_EXPIRED: 401,
  /** The session, or the token, belongs to another principal. */
  SESSION_OWNER_MISMATCH: 403,
  /** A verified bearer token that names no user (no subject): the OAuth client is not a user. */
  BEARER_PRINCIPAL_MISSING: 403,
  FINGERPRINT_MISMATCH: 403,
  /** Too many sessions, or a shared registry that cannot answer: try again later. */
  SERVER_BUSY: 503,
  /** A credential outside the session's (or principal's) ACL. */
  PERMISSION_DENIED: 403,
  CREDENTIAL_NOT_FOUND: 404,
  CREDENTIAL_STORE_UNAVAILABLE: 503,
  /** The body is not JSON. */
  PARSE_ERROR: 400,
  /** The body is JSON but not a request this revision accepts (a batch under 2026-07-28). */
  INVALID_REQUEST: 400,
  PAYLOAD_TOO_LARGE: 413,
  /** The body could not be read (a corrupt compressed body, an aborted upload). */
  BODY_UNREADABLE: 400,
  /** A `Content-Encoding` or charset the endpoint does not decode. */
  UNSUPPORTED_ENCODING: 415,
  /** A POST whose `Content-Type` is not JSON. */
  UNSUPPORTED_MEDIA_TYPE: 415,
  /** Anything unexpected: the body names nothing internal. */
  INTERNAL_ERROR: 500,
} as const);

/** Every code, with the status it is answered with. One code, one meaning. */
export const ERROR_STATUS = Object.freeze({
  ...MCP_ERROR_STATUS,
  /** The store failed or timed out: fail closed, retry later. */
  SESSION_STORE_UNAVAILABLE: 503,
  SESSION_ID_IN_URL: 400,
  SESSION_COOKIE_TOSSING: 400,
  /** The app authenticated a session without `req.login()` (an app bug the guard refuses). */
  SESSION_FIXATION_TRIPWIRE: 500,
  /** `maxSessionsPerUser` with `onSessionLimit: 'rejectLogin'`. */
  SESSION_LIMIT_REACHED: 409,
  /** Another request rotated this session first (two logins or elevations at once): retry. */
  SESSION_CONFLICT: 409,
  /** `sessionGuard()` is not mounted before the route that needs it. */
  SESSION_NOT_MOUNTED: 500,
  /** A configuration problem that only a request can reveal (e.g. an untrusted TLS proxy). */
  SESSION_CONFIG: 500,
  /**
   * `req.login()` / `req.elevate()` from a page of another site (login CSRF): the browser said
   * so (`Sec-Fetch-Site`, `Origin` or `Referer`) and the origin is not trusted.
   */
  SESSION_CROSS_SITE_LOGIN: 403,
  /** A request API called with arguments it cannot take. */
  INVALID_ARGUMENT: 400,
  UNAUTHENTICATED: 401,
  SESSION_EXPIRED_IDLE: 401,
  SESSION_EXPIRED_ABSOLUTE: 401,
  SESSION_EVICTED: 401,
  SESSION_REVOKED: 401,
  SESSION_CREDENTIALS_CHANGED: 401,
  SESSION_ROTATED: 401,
  SESSION_LOGGED_OUT: 401,
} as const);

export type SessionGuardErrorCode = keyof typeof ERROR_STATUS;

/** What an error answers as JSON: the core's `{ error: { code, message } }`, or a JSON-RPC error body. */
export interface SessionGuardErrorBody {
  error: { code: string | number; message: string };
}

export class SessionGuardError extends Error {
  override readonly name: string;
  readonly code: SessionGuardErrorCode;
  readonly status: number;
  /** Express's default handler shows messages of errors it considers exposed (status < 500). */
  readonly expose: boolean;

  constructor(code: SessionGuardErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.expose = this.status < 500;
  }

  /** The JSON body the guard answers with: a code and a message, never internals. */
  toJSON(): SessionGuardErrorBody {
    return { error: { code: this.code, message: this.message } };
  }
}

/** The session store failed or timed out: the guard answers 503 instead of failing open. */
export class SessionStoreUnavailableError extends SessionGuardError {
  constructor(message = 'The session store is unavailable; try again shortly.', options?: { cause?: unknown }) {
    super('SESSION_STORE_UNAVAILABLE', message, options);
  }
}

/** An authenticated record was about to be persisted under an id `req.login` did not bind. */
export class FixationTripwireError extends SessionGuardError {
  constructor(message: string) {
    super('SESSION_FIXATION_TRIPWIRE', message);
  }
}

/** `maxSessionsPerUser` with `onLimit: 'rejectLogin'`. */
export class SessionLimitError extends SessionGuardError {
  constructor(message: string) {
    super('SESSION_LIMIT_REACHED', message);
  }
}

/**
 * A rotation found its source already rotated or ended by another request. Not an outage
 * (never a 503): the session the client holds changed under it. `reason` says how it ended.
 */
export class SessionConflictError extends SessionGuardError {
  /** What the source id holds now: `rotated`, another end reason, or `missing`. */
  readonly reason: string;

  constructor(reason: string) {
    super('SESSION_CONFLICT', 'The session changed in another request; reload and try again.');
    this.reason = reason;
  }
}
