import { ClientClosedError, ClientOfflineError, ErrorReply } from 'redis';
import { SessionConflictError, SessionGuardError, SessionStoreUnavailableError } from '../errors/index.js';
import { markNotApplied } from '../store/contracts.js';
import { SCRIPT_ERROR_PREFIX } from './scripts.js';

/** Why `RedisSessionStore#rename` refused to move a record. */
export type RenameConflictReason = 'old_missing' | 'old_dead' | 'new_exists';

/**
 * `rename` changed nothing because its preconditions did not hold: another request of the
 * fleet rotated or ended the session first. Not an outage, so not a 503: a 409
 * `SESSION_CONFLICT` whose body names nothing internal (the `reason` is for logs).
 */
export class SessionRenameConflictError extends SessionConflictError {
  override readonly reason: RenameConflictReason;

  constructor(reason: RenameConflictReason) {
    super(reason);
    this.reason = reason;
  }
}

/** The reason a script refused, or undefined when `error` is a Redis or connection failure. */
export function scriptRefusal(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const at = error.message.indexOf(SCRIPT_ERROR_PREFIX + ' ');
  if (at === -1) return undefined;
  return error.message.slice(at + SCRIPT_ERROR_PREFIX.length + 1).trim();
}

/**
 * Runs a Redis operation with a deadline. node-redis only times out commands it has not
 * written yet; a command written to a server that stopped answering would wait for ever,
 * and the request with it. Every failure becomes a `SessionStoreUnavailableError` (503),
 * marked `notApplied` when the command provably changed nothing (the client was offline or
 * closed: no offline queue, so it never left; or Redis answered with an error, which our
 * scripts raise before any write). A deadline, or a connection lost after the command left,
 * is an unknown outcome: the write may have landed (see `mayHaveLanded`).
 */
export function withDeadline<T>(who: string, operation: string, timeoutMs: number, promise: Promise<T>): Promise<T> {
  // One promise and one timer per operation (every request's GET and touch pass here): no
  // async function, race or finally around it. A late failure of the losing operation lands
  // in its own handler, after the deadline already answered.
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(function operationTimedOut() {
      reject(new SessionStoreUnavailableError(`${who}: Redis did not answer ${operation} within ${timeoutMs} ms`));
    }, timeoutMs);
    timer.unref?.();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(storeFailure(who, operation, error));
      },
    );
  });
}

/** What a failed Redis operation is reported as: a 503, marked when it provably changed nothing. */
function storeFailure(who: string, operation: string, error: unknown): SessionGuardError {
  if (error instanceof SessionGuardError) return error;
  const failure = new SessionStoreUnavailableError(`${who}: ${operation} failed: ${describe(error)}`, { cause: error });
  return neverSent(error) ? markNotApplied(failure) : failure;
}

/** A failure after which Redis provably holds nothing of the command. */
function neverSent(error: unknown): boolean {
  return error instanceof ClientOfflineError || error instanceof ClientClosedError || error instanceof ErrorReply;
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
