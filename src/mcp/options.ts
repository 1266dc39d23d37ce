/**
 * The sessionful guard's options, and their validation: everything is parsed and checked here,
 * at construction, so the request path only does per-request work. Durations, the clock and the
 * per-user limit are the core's (`parseDuration`, `Clock`, `SessionLimit`).
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { OAuthTokenVerifier } from '@modelcontextprotocol/sdk/server/auth/provider.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { EventStore } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { Auditor } from '../audit/index.js';
import { durationOption, systemClock, type Clock } from '../clock/index.js';
import { DEFAULT_ABSOLUTE_TIMEOUT_MS, DEFAULT_IDLE_TIMEOUT_MS } from '../policy/timeouts.js';
import type { SessionLimit } from '../store/contracts.js';
import { DEFAULT_MAX_SESSIONS_PER_USER, DEFAULT_SESSION_LIMIT_POLICY, type SessionLimitPolicy } from './config.js';
import { DEFAULT_FINGERPRINT_INPUTS, DEFAULT_FINGERPRINT_POLICY, FINGERPRINT_INPUTS, type FingerprintInput, type FingerprintPolicy } from './fingerprint.js';
import type { McpFleet } from './fleet.js';
import { decodeKeyList, type KeyInput } from './keys.js';
import type { McpRateLimitOptions } from './rate-limit.js';
import type { McpSession } from './session-handle.js';
import type { SessionTimeouts } from './registry.js';
import { memoryCredentialVault, type CredentialVault } from './vault.js';

export { DEFAULT_ABSOLUTE_TIMEOUT_MS, DEFAULT_IDLE_TIMEOUT_MS };
export const DEFAULT_MCP_PATH = '/mcp';
export const DEFAULT_MAX_SESSIONS = 10_000;
export const DEFAULT_SWEEP_INTERVAL_MS = 60_000;
export const DEFAULT_PREAUTH_MAX_PER_IP = 20;
export const DEFAULT_PREAUTH_MAX_SESSIONS = 1000;
export const DEFAULT_PREAUTH_IDLE_TIMEOUT_MS = 5 * 60_000;

/** The name every construction error starts with. */
export const GUARD_NAME = 'createMcpSessionGuard';

export interface McpBearerOptions {
  verifier: OAuthTokenVerifier;
  requiredScopes?: string[];
  resourceMetadataUrl?: string;
  expectedResource?: URL;
  /** Every request must carry a valid bearer token. The default value is `true`. */
  required?: boolean;
  /**
   * The principal (user) a bearer token stands for; `undefined` refuses the token. Sessions bind
   * to it, not to the token bytes, so a refreshed token keeps working. The default value is
   * `issuer|subject` from `authInfo.extra.iss` / `authInfo.extra.sub`. There is no fallback to
   * `authInfo.clientId` (an application, shared by its users): a token without a subject is
   * refused with 403 `BEARER_PRINCIPAL_MISSING`.
   */
  principal?: (authInfo: AuthInfo) => string | undefined;
  /**
   * Accounts the bearer may use credentials of. The default value is `[authInfo.extra.email]`
   * only when `authInfo.extra.email_verified === true`.
   */
  emails?: (authInfo: AuthInfo) => readonly string[];
}

export interface PreAuthLimits {
  /** The default value is `20`. */
  maxPerIp?: number;
  /** The default value is `1000`. */
  maxSessions?: number;
  /** The default value is `'5m'`. */
  idleTimeout?: number | string;
}

export interface McpSessionGuardOptions {
  /** Builds the `McpServer` of one session; called once per session, never shared. */
  createServer: (session: McpSession) => McpServer | Promise<McpServer>;
  /** HMAC key(s) for session tokens, 32+ bytes each (base64 text or Buffer); the first signs, all verify. */
  sessionSecret: KeyInput | readonly KeyInput[];
  /** Where credentials live. The default value is an in-memory vault (`MEMORY_ONLY`). */
  vault?: CredentialVault;
  /** The endpoint's path. The default value is `'/mcp'`. */
  path?: string;
  /** Idle timeout (`'30m'` or ms). The default value is `'30m'`. */
  idleTimeout?: number | string;
  /** Absolute lifetime after authentication (or creation), forcing re-authentication. The default value is `'4h'`. */
  absoluteTimeout?: number | string;
  /** Session token lifetime. The default value is the absolute timeout. */
  tokenTtl?: number | string;
  /** Authenticated sessions one principal may hold. The default value is `5`. */
  maxSessionsPerUser?: number;
  /** What happens at the limit. The default value is `'evictOldest'`. */
  onSessionLimit?: SessionLimitPolicy;
  /** All sessions of this instance, authenticated or not (memory bound). The default value is `10000`. */
  maxSessions?: number;
  /**
   * Separate, small limits for sessions that never authenticated (what a flood creates): how
   * many one IP may hold, how many all IPs may hold, and a short idle timeout; `false` leaves
   * them under `maxSessions` and `idleTimeout` only. The default value is
   * `{ maxPerIp: 20, maxSessions: 1000, idleTimeout: '5m' }`.
   */
  preAuth?: PreAuthLimits | false;
  /**
   * What the instances of a fleet share: the per-principal session index that enforces
   * `maxSessionsPerUser` (the core's `SessionIndex`) and the signals that carry revocations and
   * the emergency switch (`createRedisMcpFleet` from `fixation-guard/redis` builds both). The
   * default value is a `MemorySessionIndex` and no signals: one process.
   */
  fleet?: McpFleet;
  /** The default value is `{ inputs: ['userAgent', 'clientInfo'], policy: 'reject' }`. */
  fingerprint?: { inputs?: readonly FingerprintInput[]; policy?: FingerprintPolicy };
  /** Browser origins allowed to call the endpoint; requests without `Origin` pass. The default value is `[]`. */
  allowedOrigins?: readonly string[];
  /**
   * Hostnames (without port) the `Host` header may name, against DNS rebinding; `false` turns
   * the check off. The default value is `['localhost', '127.0.0.1', '[::1]']`, as the SDK's
   * `localhostHostValidation()`: a server reached under a public name must list that name.
   */
  allowedHosts?: readonly string[] | false;
  /** Per-IP and per-principal limits, or `false`. The default value is 300 requests per minute for each. */
  rateLimit?: McpRateLimitOptions | false;
  /** Authenticate with `Authorization: Bearer` through the SDK's `requireBearerAuth`. The default value is `undefined`. */
  bearer?: McpBearerOptions;
  /** The default value is an `Auditor` without sinks, keyed by the session secret. */
  audit?: Auditor;
  /** The default value is the system clock. */
  clock?: Clock;
  /** Answer POSTs with JSON instead of SSE streams. The default value is `false`. */
  jsonResponse?: boolean;
  /**
   * The SDK's `EventStore`, for streams a client resumes with `Last-Event-ID`. Each session
   * sees it through its own scope: an event id from another session, or from an earlier
   * authorization of this one, is refused (400) and audited. The default value is `undefined`
   * (streams are not resumable).
   */
  eventStore?: EventStore;
  /** Register `revoke_current_session` and `session://validate` on every server. The default value is `true`. */
  sessionTools?: boolean;
  /** The default value is `'1mb'`. */
  maxBodySize?: string | number;
  /**
   * JSON-RPC messages one batch may carry (protocol revisions before 2025-06-18; later ones
   * have no batches and a batch is refused). Rate limits charge every message. The default value is `20`.
   */
  maxBatchSize?: number;
  /** How often expired sessions are swept (`'1m'` or milliseconds), or `false`. The default value is `'1m'`. */
  sweepInterval?: number | string | false;
}

/** The options once validated: what the pieces of the guard are built from. */
export interface ResolvedSessionGuardOptions {
  createServer: McpSessionGuardOptions['createServer'];
  secrets: Buffer[];
  clock: Clock;
  auditor: Auditor;
  vault: CredentialVault;
  path: string;
  timeouts: Required<Pick<SessionTimeouts, 'idleTimeoutMs' | 'absoluteTimeoutMs'>> & Pick<SessionTimeouts, 'preAuthIdleTimeoutMs'>;
  tokenTtlMs: number;
  /** The core's per-user limit, enforced through the fleet's `SessionIndex`. */
  limit: SessionLimit;
  maxSessions: number;
  preAuth: { maxPerIp: number; maxSessions: number; idleTimeoutMs: number } | undefined;
  fingerprint: { inputs: FingerprintInput[]; policy: FingerprintPolicy };
  sweepIntervalMs: number | undefined;
  sessionTools: boolean;
  jsonResponse: boolean;
  eventStore: EventStore | undefined;
}

/** A whole number ≥ 1, or the default when absent. */
export function positiveInteger(value: unknown, name: string, fallback: number, who = GUARD_NAME): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || (value as number) < 1) {
    throw new TypeError(`${who}: \`${name}\` must be a whole number ≥ 1; got ${JSON.stringify(value)}`);
  }
  return value as number;
}

/** A duration option of this guard, through the core's `durationOption` (`parseDuration`). */
function duration(value: unknown, name: string, fallback: number): number {
  return durationOption(value, GUARD_NAME, name, fallback);
}

/**
 * Validates the options and fills in the defaults. Throws `TypeError` for a wrong type and
 * `Error` otherwise, each message starting with `createMcpSessionGuard:` and naming the option.
 */
export function resolveSessionGuardOptions(options: McpSessionGuardOptions): ResolvedSessionGuardOptions {
  const maybeRequest = options as unknown as { method?: unknown; headers?: unknown };
  if (typeof maybeRequest?.method === 'string' && typeof maybeRequest.headers === 'object') {
    throw new TypeError(`${GUARD_NAME}: called as a middleware; call it with options and mount \`guard.router\`: app.use(createMcpSessionGuard({ … }).router)`);
  }
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`${GUARD_NAME}: \`options\` must be an object; got ${options === null ? 'null' : typeof options}`);
  }
  if (typeof options.createServer !== 'function') {
    throw new TypeError(`${GUARD_NAME}: \`createServer\` must be a function returning a new McpServer per session; got ${typeof options.createServer}`);
  }
  const secrets = decodeKeyList(options.sessionSecret, `${GUARD_NAME}: \`sessionSecret\` (SESSION_SECRET)`);
  const clock = options.clock ?? systemClock;
  const idleTimeoutMs = duration(options.idleTimeout, 'idleTimeout', DEFAULT_IDLE_TIMEOUT_MS);
  const absoluteTimeoutMs = duration(options.absoluteTimeout, 'absoluteTimeout', DEFAULT_ABSOLUTE_TIMEOUT_MS);
  const tokenTtlMs = duration(options.tokenTtl, 'tokenTtl', absoluteTimeoutMs);
  const sweepIntervalMs = options.sweepInterval === false ? undefined : duration(options.sweepInterval, 'sweepInterval', DEFAULT_SWEEP_INTERVAL_MS);
  const maxSessionsPerUser = positiveInteger(options.maxSessionsPerUser, 'maxSessionsPerUser', DEFAULT_MAX_SESSIONS_PER_USER);
  const maxSessions = positiveInteger(options.maxSessions, 'maxSessions', DEFAULT_MAX_SESSIONS);
  const preAuth =
    options.preAuth === false
      ? undefined
      : {
          maxPerIp: positiveInteger(options.preAuth?.maxPerIp, 'preAuth.maxPerIp', DEFAULT_PREAUTH_MAX_PER_IP),
          maxSessions: positiveInteger(options.preAuth?.maxSessions, 'preAuth.maxSessions', DEFAULT_PREAUTH_MAX_SESSIONS),
          idleTimeoutMs: duration(options.preAuth?.idleTimeout, 'preAuth.idleTimeout', DEFAULT_PREAUTH_IDLE_TIMEOUT_MS),
        };
  const onSessionLimit = options.onSessionLimit ?? DEFAULT_SESSION_LIMIT_POLICY;
  if (onSessionLimit !== 'evictOldest' && onSessionLimit !== 'rejectLogin') {
    throw new TypeError(`${GUARD_NAME}: \`onSessionLimit\` must be 'evictOldest' or 'rejectLogin'; got ${JSON.stringify(onSessionLimit)}`);
  }
  const inputs = [...(options.fingerprint?.inputs ?? DEFAULT_FINGERPRINT_INPUTS)];
  for (const input of inputs) {
    if (!FINGERPRINT_INPUTS.includes(input)) {
      throw new TypeError(`${GUARD_NAME}: \`fingerprint.inputs\` may contain ${FINGERPRINT_INPUTS.join(', ')}; got ${JSON.stringify(input)}`);
    }
  }
  const policy = options.fingerprint?.policy ?? DEFAULT_FINGERPRINT_POLICY;
  if (policy !== 'reject' && policy !== 'audit') {
    throw new TypeError(`${GUARD_NAME}: \`fingerprint.policy\` must be 'reject' or 'audit'; got ${JSON.stringify(policy)}`);
  }
  const path = options.path ?? DEFAULT_MCP_PATH;
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new TypeError(`${GUARD_NAME}: \`path\` must start with '/'; got ${JSON.stringify(path)}`);
  }
  return {
    createServer: options.createServer,
    secrets,
    clock,
    auditor: options.audit ?? new Auditor({ hashSecret: secrets[0] as Buffer, clock }),
    vault: options.vault ?? memoryCredentialVault(),
    path,
    timeouts: { idleTimeoutMs, absoluteTimeoutMs, preAuthIdleTimeoutMs: preAuth?.idleTimeoutMs },
    tokenTtlMs,
    limit: { max: maxSessionsPerUser, onLimit: onSessionLimit },
    maxSessions,
    preAuth,
    fingerprint: { inputs, policy },
    sweepIntervalMs,
    sessionTools: options.sessionTools !== false,
    jsonResponse: options.jsonResponse === true,
    eventStore: eventStoreOption(options.eventStore),
  };
}

function eventStoreOption(store: unknown): EventStore | undefined {
  if (store === undefined) return undefined;
  const s = store as Partial<EventStore> | null;
  if (typeof s !== 'object' || s === null || typeof s.storeEvent !== 'function' || typeof s.replayEventsAfter !== 'function') {
    throw new TypeError('mcpSessionGuard: `eventStore` must be an EventStore (storeEvent and replayEventsAfter)');
  }
  return store as EventStore;
}
