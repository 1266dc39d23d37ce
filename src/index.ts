/**
 * fixation-guard: session fixation and session hijacking protection for express-session.
 *
 * @example
 * import { sessionGuard, requireAuth, secureHeaders } from 'fixation-guard';
 * app.use(secureHeaders());
 * app.use(sessionGuard({ secret: process.env.SESSION_SECRET! }));
 */
import './types.js';

export { sessionGuard, requireAuth, type SessionGuardMiddleware, type SessionSummary } from './guard/index.js';
export { resolveOptions, type SessionGuardOptions } from './guard/options.js';
export {
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_ABSOLUTE_TIMEOUT_MS,
  DEFAULT_AUTH_KEYS,
  MIN_SECRET_BYTES,
} from './guard/options.js';
export { SessionGuardRequestApi, LOGGED_OUT, type LoginOptions, type ElevateOptions, type RotationCause } from './guard/request-api.js';
export { rejectUrlSessionIds, DEFAULT_URL_SESSION_ID_NAMES, type RejectUrlSessionIdsOptions } from './url-ids/index.js';
export { rejectCookieTossing, type RejectCookieTossingOptions } from './cookie-tossing/index.js';
export {
  hardenedCookie,
  readSessionCookie,
  DEFAULT_SECURE_COOKIE_NAME,
  DEFAULT_PLAIN_HTTP_COOKIE_NAME,
  type HardenedCookieOptions,
  type SessionCookieReading,
} from './cookie/index.js';
export { GuardedStore, DEFAULT_STORE_TIMEOUT_MS, type GuardedStoreOptions, type ExtensibleStore } from './store/guarded-store.js';
export {
  isTombstone,
  makeTombstone,
  type EndReason,
  type TombstoneRecord,
  type GuardStoreExtensions,
  type GuardedSetResult,
  type SessionIndex,
  type SessionIndexEntry,
  type SessionLimit,
  type AdmitResult,
} from './store/contracts.js';
export { MemorySessionIndex } from './session-index/memory.js';
export { carryOver, ROTATION_STRATEGIES, DEFAULT_STRATEGY, type RotationStrategy } from './strategies/index.js';
export { secureHeaders, type SecureHeadersOptions } from './headers/index.js';
export {
  Auditor,
  AUDIT_EVENTS,
  callbackSink,
  memorySink,
  jsonlSink,
  type AuditEvent,
  type AuditEventType,
  type AuditSink,
  type AuditorOptions,
  type AuditFields,
} from './audit/index.js';
export { ManualClock, systemClock, parseDuration, type Clock } from './clock/index.js';
export {
  SessionGuardError,
  SessionStoreUnavailableError,
  FixationTripwireError,
  SessionLimitError,
  type SessionGuardErrorCode,
} from './errors/index.js';
export type { GuardState } from './types.js';
