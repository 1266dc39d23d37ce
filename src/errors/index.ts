/**
 * Typed runtime errors. Middlewares never throw them: they pass them to `next(err)`, and
 * their `status` tells Express's error handler what to answer.
 */
export type SessionGuardErrorCode =
  | 'SESSION_STORE_UNAVAILABLE'
  | 'SESSION_ID_IN_URL'
  | 'SESSION_COOKIE_TOSSING'
  | 'SESSION_FIXATION_TRIPWIRE'
  | 'SESSION_LIMIT_REACHED'
  | 'SESSION_NOT_AVAILABLE'
  | 'SESSION_CONFIG'
  | 'UNAUTHENTICATED'
  | 'SESSION_EXPIRED_IDLE'
  | 'SESSION_EXPIRED_ABSOLUTE'
  | 'SESSION_EVICTED'
  | 'SESSION_REVOKED'
  | 'SESSION_CREDENTIALS_CHANGED'
  | 'SESSION_ROTATED'
  | 'SESSION_LOGGED_OUT'
  | 'INVALID_ARGUMENT';

export class SessionGuardError extends Error {
  override readonly name: string;
  readonly code: SessionGuardErrorCode;
  readonly status: number;
  /** Express's default handler shows messages of errors it considers exposed (status < 500). */
  readonly expose: boolean;

  constructor(code: SessionGuardErrorCode, status: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.expose = status < 500;
  }

  /** The JSON body the guard answers with. */
  toJSON(): { error: { code: string; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

/** The session store failed or timed out: the guard answers 503 instead of failing open. */
export class SessionStoreUnavailableError extends SessionGuardError {
  constructor(message = 'The session store is unavailable; try again shortly.', options?: { cause?: unknown }) {
    super('SESSION_STORE_UNAVAILABLE', 503, message, options);
  }
}

/** An authenticated record was about to be persisted under an id `req.login` did not bind. */
export class FixationTripwireError extends SessionGuardError {
  constructor(message: string) {
    super('SESSION_FIXATION_TRIPWIRE', 500, message);
  }
}

/** `maxSessionsPerUser` with `onLimit: 'rejectLogin'`. */
export class SessionLimitError extends SessionGuardError {
  constructor(message: string) {
    super('SESSION_LIMIT_REACHED', 409, message);
  }
}
