/**
 * fixation-guard: session fixation and session hijacking protection for express-session.
 *
 * @example
 * import { sessionGuard, requireAuth, secureHeaders } from 'fixation-guard';
 * app.use(secureHeaders());
 * app.use(sessionGuard({ secret: process.env.SESSION_SECRET! }));
 */
export { sessionGuard, requireAuth, guarded, authenticated, type GuardableRequest, type SessionGuardMiddleware, type SessionSummary } from './guard/index.js';
export type { SessionGuardOptions } from './guard/options.js';
export {
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_ABSOLUTE_TIMEOUT_MS,
  DEFAULT_AUTH_KEYS,
  DEFAULT_ROTATION_GRACE_MS,
  MIN_SECRET_BYTES,
} from './guard/options.js';
export { LOGGED_OUT, type SessionGuardRequestApi, type AuthenticatedRequestApi, type LoginOptions, type ElevateOptions } from './guard/request-api.js';
export { rejectUrlSessionIds, DEFAULT_URL_SESSION_ID_NAMES, type RejectUrlSessionIdsOptions } from './url-ids/index.js';
export { rejectCookieTossing, type RejectCookieTossingOptions } from './cookie-tossing/index.js';
export { allowCrossSiteLogin, rejectCrossSiteLogin, type RejectCrossSiteLoginOptions } from './cross-site/index.js';
export {
  hardenedCookie,
  readSessionCookie,
  DEFAULT_SECURE_COOKIE_NAME,
  DEFAULT_PLAIN_HTTP_COOKIE_NAME,
  type HardenedCookieOptions,
  type SessionCookieReading,
} from './cookie/index.js';
export { GuardedStore, DEFAULT_STORE_TIMEOUT_MS, type GuardedStoreOptions, type ExtensibleStore, type WriteGate } from './store/guarded-store.js';
export {
  isTombstone,
  makeTombstone,
  type EndReason,
  type TombstoneRecord,
  type GuardStoreExtensions,
  type GuardedSetResult,
  type TombstoneOptions,
  type RenameOptions,
  type SessionIndex,
  type SessionIndexEntry,
  type SessionLimit,
  type AdmitResult,
  type AdmitOptions,
} from './store/contracts.js';
export { stampActivity, type StoredCookie } from './store/activity.js';
export { MemorySessionIndex } from './session-index/memory.js';
export { carryOver, ROTATION_STRATEGIES, DEFAULT_STRATEGY, type RotationStrategy } from './strategies/index.js';
export { secureHeaders, type SecureHeadersOptions } from './headers/index.js';
export {
  Auditor,
  AUDIT_EVENTS,
  callbackSink,
  memorySink,
  jsonlSink,
  verifyAuditFile,
  verifyAuditChain,
  type ChainReport,
  type ChainProblem,
  consoleSink,
  type ConsoleSinkOptions,
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
  SessionConflictError,
  ERROR_STATUS,
  MCP_ERROR_STATUS,
  type SessionGuardErrorCode,
  type SessionGuardErrorBody,
} from './errors/index.js';
export type { GuardState } from './policy/state.js';
