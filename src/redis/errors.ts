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
export async function withDeadline<T>(who: string, operation: string, timeoutMs: number, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(function operationTimedOut() {
      reject(new SessionStoreUnavailableError(`${who}: Redis did not answer ${operation} within ${timeoutMs} ms`));
    }, timeoutMs);
    timer.unref?.();
  });
  try {
    return await Promise.race([promise, deadline]);
  } catch (error) {
    if (error instanceof SessionGuardError) throw error;
    const failure = new SessionStoreUnavailableError(`${who}: ${operation} failed: ${describe(error)}`, { cause: error });
    throw neverSent(error) ? markNotApplied(failure) : failure;
  } finally {
    clearTimeout(timer);
    // The losing promise may still reject later (when the connection finally drops).
    promise.catch(ignoreLateFailure);
  }
}

function ignoreLateFailure(): void {}

/** A failure after which Redis provably holds nothing of the command. */
function neverSent(error: unknown): boolean {
  return error instanceof ClientOfflineError || error instanceof ClientClosedError || error instanceof ErrorReply;
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
