import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import type { OAuthTokenVerifier } from '@modelcontextprotocol/sdk/server/auth/provider.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { isInitializeRequest, isJSONRPCRequest, type JSONRPCMessage, type RequestId } from '@modelcontextprotocol/sdk/types.js';
import { Auditor, type AuditEventType, type AuditFields } from '../audit/index.js';
import { parseDuration, systemClock, type Clock } from '../clock/index.js';
import { deriveKey } from '../util/hash.js';
import { authorizeCredentialAccess, requireCredential, type CredentialAccessSubject } from './acl.js';
import { DEFAULT_MAX_SESSIONS_PER_USER, DEFAULT_SESSION_LIMIT_POLICY, type SessionLimitPolicy } from './config.js';
import { JSON_RPC_PARSE_ERROR, JSON_RPC_SERVER_ERROR, McpGuardError, PermissionError, jsonRpcErrorBody } from './errors.js';
import {
  DEFAULT_FINGERPRINT_INPUTS,
  DEFAULT_FINGERPRINT_POLICY,
  FINGERPRINT_INPUTS,
  connectionFingerprint,
  type FingerprintInput,
  type FingerprintPolicy,
} from './fingerprint.js';
import { decodeKeyList, type KeyInput } from './keys.js';
import { createMcpRateLimiter, type McpRateLimiter, type McpRateLimitOptions } from './rate-limit.js';
import { registerSessionTools } from './session-tools.js';
import { SESSION_TOKEN_VERSION, SessionTokenSigner, readSessionToken, type SessionTokenPayload } from './token.js';
import { memoryCredentialVault, normalizeEmail, type CredentialVault, type StoredCredential } from './vault.js';

export const DEFAULT_MCP_PATH = '/mcp';
export const DEFAULT_IDLE_TIMEOUT_MS = 30 * 60_000;
export const DEFAULT_ABSOLUTE_TIMEOUT_MS = 4 * 3_600_000;
export const DEFAULT_MAX_SESSIONS = 10_000;
export const DEFAULT_MAX_BODY_SIZE = '1mb';
export const DEFAULT_SWEEP_INTERVAL_MS = 60_000;
export const SESSION_TOKEN_HEADER = 'X-Session-Token';

/** What `authorizeSession` binds a session to. */
export interface SessionIdentity {
  /** The authenticated principal (user id, or issuer + subject). */
  principal: string;
  /** The identity provider, when there is one (recorded in the token as `iss`). */
  issuer?: string;
  /** The one account this session may use credentials of. */
  email?: string;
  /** The accounts this session may use credentials of. */
  emails?: readonly string[];
  /** Credentials to store for those accounts (e.g. the OAuth tokens the callback just received). */
  credentials?: Readonly<Record<string, StoredCredential>>;
}

export interface IssuedSessionToken {
  /** Send it as `X-Session-Token` (or `Authorization: Session <token>`) on every request. */
  token: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
  principal: string;
}

/** A session as the app's server factory and tools see it. The owner is the verified token's, never a tool argument's. */
export interface McpSession {
  /** The raw session id: treat it as a secret (it is never logged). */
  readonly id: string;
  readonly authenticated: boolean;
  readonly principal: string | undefined;
  /** Normalized emails whose credentials this session may use. */
  readonly emails: readonly string[];
  /** A credential through the session's ACL: `PermissionError` for any other account. */
  getCredential(email: unknown): Promise<StoredCredential>;
  /** Stores a credential for an account in the session's ACL. */
  storeCredential(email: unknown, credential: StoredCredential): Promise<void>;
  /** Status without raw ids (what `session://validate` answers). */
  status(): McpSessionStatus;
  /** Revokes this session: the next request with its id gets 404. */
  revoke(reason?: string): void;
}

export interface McpSessionStatus {
  valid: boolean;
  authenticated: boolean;
  /** Short keyed hash of the session id, as in the audit log. */
  session: string;
  principal: string | null;
  emails: string[];
  authMethod: 'callback' | 'bearer' | null;
  createdAt: string;
  idleExpiresAt: string;
  absoluteExpiresAt: string;
}

export interface McpBearerOptions {
  verifier: OAuthTokenVerifier;
  requiredScopes?: string[];
  resourceMetadataUrl?: string;
  expectedResource?: URL;
  /** Every request must carry a valid bearer token. The default value is `true`. */
  required?: boolean;
  /**
   * The principal a bearer token stands for. Sessions bind to it, not to the token bytes, so
   * a refreshed token keeps working. The default value is `issuer|subject` from
   * `authInfo.extra.iss` / `authInfo.extra.sub`, falling back to `authInfo.clientId`.
   */
  principal?: (authInfo: AuthInfo) => string;
  /** Accounts the bearer may use credentials of. The default value is `[authInfo.extra.email]` when it is a string. */
  emails?: (authInfo: AuthInfo) => string[];
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
  /** The default value is `{ inputs: ['userAgent', 'clientInfo'], policy: 'reject' }`. */
  fingerprint?: { inputs?: readonly FingerprintInput[]; policy?: FingerprintPolicy };
  /** Browser origins allowed to call the endpoint; requests without `Origin` pass. The default value is `[]`. */
  allowedOrigins?: readonly string[];
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
  /** Register `revoke_current_session` and `session://validate` on every server. The default value is `true`. */
  sessionTools?: boolean;
  /** The default value is `'1mb'`. */
  maxBodySize?: string | number;
  /** How often expired sessions are swept (`'1m'` or milliseconds), or `false`. The default value is `'1m'`. */
  sweepInterval?: number | string | false;
}

/** The guard `createMcpSessionGuard` returns. */
export interface McpSessionGuard {
  /** Mount with `app.use(guard.router)`: handles POST, GET and DELETE on the endpoint path. */
  readonly router: Router;
  readonly auditor: Auditor;
  readonly vault: CredentialVault;
  /**
   * Authorizes a session for a principal (from the app's OAuth callback) and returns the
   * session token the client must send from now on.
   */
  authorizeSession(sessionId: string, identity: SessionIdentity): Promise<IssuedSessionToken>;
  /** Revokes one session; `false` when it did not exist. */
  revokeSession(sessionId: string, reason?: string): boolean;
  /** Revokes every session of a principal; returns how many. */
  revokePrincipalSessions(principal: string, reason?: string): number;
  /** Revokes every session and every token issued so far: all clients must re-authenticate. */
  emergencyDisableSessionReuse(reason?: string): number;
  /** Removes expired sessions now (also runs on a timer and before each new session). */
  sweepExpiredSessions(): number;
  /** Number of live sessions. */
  readonly size: number;
  /** Closes every session and stops the sweep timer. */
  close(): Promise<void>;
}

interface SessionRecord {
  id: string;
  createdAt: number;
  lastSeenAt: number;
  authorizedAt: number | undefined;
  principal: string | undefined;
  issuer: string | undefined;
  emails: Set<string>;
  authMethod: 'callback' | 'bearer' | undefined;
  generation: number;
  fingerprint: string;
  clientInfo: string | undefined;
  ip: string | undefined;
  server: McpServer | undefined;
  transport: StreamableHTTPServerTransport | undefined;
  initialized: boolean;
  retired: boolean;
  inflight: number;
  /** Requests being answered now (GET streams included), with what each one proved. */
  requests: Set<RequestProof>;
}

/**
 * What one HTTP request proved when it passed the checks. Its handlers act as this identity and
 * generation only: authorizing the session later gives them nothing (see `supersedeChannels`).
 */
interface RequestProof {
  record: SessionRecord;
  principal: string | undefined;
  generation: number;
  /** JSON-RPC ids this HTTP request carries, so they can be cancelled when superseded. */
  requestIds: Set<RequestId>;
}

const SUPERSEDED_REQUEST_MESSAGE = 'Request cancelled: the session was authorized again while it ran; retry with the current session token.';

type Check = { ok: true } | { ok: false; error: McpGuardError; event?: AuditEventType; reason?: string };

function fail(error: McpGuardError, event?: AuditEventType, reason?: string): Check {
  return { ok: false, error, ...(event ? { event } : {}), ...(reason ? { reason } : {}) };
}

const OK: Check = { ok: true };

function defaultBearerPrincipal(authInfo: AuthInfo): string {
  const iss = typeof authInfo.extra?.iss === 'string' ? authInfo.extra.iss : undefined;
  const sub = typeof authInfo.extra?.sub === 'string' ? authInfo.extra.sub : authInfo.clientId;
  return iss ? `${iss}|${sub}` : sub;
}

function defaultBearerEmails(authInfo: AuthInfo): string[] {
  return typeof authInfo.extra?.email === 'string' ? [authInfo.extra.email] : [];
}

function validatePositiveInteger(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || (value as number) < 1) {
    throw new TypeError(`createMcpSessionGuard: \`${name}\` must be a whole number ≥ 1; got ${JSON.stringify(value)}`);
  }
  return value as number;
}

/**
 * Mounts a Streamable HTTP MCP endpoint where every session is isolated: one `McpServer` and
 * one transport per session, server-generated ids, 404 for any id it does not know (never
 * another session), HMAC session tokens bound to session, principal and connection, ACL'd
 * credentials, limits, Origin allowlist, rate limits and an audit trail.
 *
 * @example
 * const guard = createMcpSessionGuard({
 *   sessionSecret: process.env.SESSION_SECRET!,
 *   createServer(session) {
 *     const server = new McpServer({ name: 'mail', version: '1.0.0' });
 *     server.registerTool('read_inbox', { inputSchema: { email: z.string() } }, async ({ email }) => {
 *       const credential = await session.getCredential(email); // PermissionError for anyone else's
 *       return { content: [{ type: 'text', text: await readInbox(credential) }] };
 *     });
 *     return server;
 *   },
 * });
 * app.use(guard.router);
 * app.get('/oauth/callback', async (req, res) => {
 *   const { principal, email, tokens, sessionId } = await finishOAuth(req);
 *   res.json(await guard.authorizeSession(sessionId, { principal, email, credentials: { [email]: tokens } }));
 * });
 */
export function createMcpSessionGuard(options: McpSessionGuardOptions): McpSessionGuard {
  const maybeRequest = options as unknown as { method?: unknown; headers?: unknown };
  if (typeof maybeRequest?.method === 'string' && typeof maybeRequest.headers === 'object') {
    throw new TypeError('createMcpSessionGuard: called as a middleware; call it with options and mount `guard.router`: app.use(createMcpSessionGuard({ … }).router)');
  }
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`createMcpSessionGuard: \`options\` must be an object; got ${options === null ? 'null' : typeof options}`);
  }
  if (typeof options.createServer !== 'function') {
    throw new TypeError(`createMcpSessionGuard: \`createServer\` must be a function returning a new McpServer per session; got ${typeof options.createServer}`);
  }
  const secrets = decodeKeyList(options.sessionSecret, 'createMcpSessionGuard: `sessionSecret` (SESSION_SECRET)');
  const clock = options.clock ?? systemClock;
  const idleTimeoutMs = options.idleTimeout === undefined ? DEFAULT_IDLE_TIMEOUT_MS : parseDuration(options.idleTimeout, 'createMcpSessionGuard: `idleTimeout`');
  const absoluteTimeoutMs =
    options.absoluteTimeout === undefined ? DEFAULT_ABSOLUTE_TIMEOUT_MS : parseDuration(options.absoluteTimeout, 'createMcpSessionGuard: `absoluteTimeout`');
  const tokenTtlMs = options.tokenTtl === undefined ? absoluteTimeoutMs : parseDuration(options.tokenTtl, 'createMcpSessionGuard: `tokenTtl`');
  const sweepIntervalMs =
    options.sweepInterval === undefined || options.sweepInterval === false ? DEFAULT_SWEEP_INTERVAL_MS : parseDuration(options.sweepInterval, 'createMcpSessionGuard: `sweepInterval`');
  const maxSessionsPerUser = validatePositiveInteger(options.maxSessionsPerUser, 'maxSessionsPerUser', DEFAULT_MAX_SESSIONS_PER_USER);
  const maxSessions = validatePositiveInteger(options.maxSessions, 'maxSessions', DEFAULT_MAX_SESSIONS);
  const onSessionLimit = options.onSessionLimit ?? DEFAULT_SESSION_LIMIT_POLICY;
  if (onSessionLimit !== 'evictOldest' && onSessionLimit !== 'rejectLogin') {
    throw new TypeError(`createMcpSessionGuard: \`onSessionLimit\` must be 'evictOldest' or 'rejectLogin'; got ${JSON.stringify(onSessionLimit)}`);
  }
  const fingerprintInputs = [...(options.fingerprint?.inputs ?? DEFAULT_FINGERPRINT_INPUTS)];
  for (const input of fingerprintInputs) {
    if (!FINGERPRINT_INPUTS.includes(input)) {
      throw new TypeError(`createMcpSessionGuard: \`fingerprint.inputs\` may contain ${FINGERPRINT_INPUTS.join(', ')}; got ${JSON.stringify(input)}`);
    }
  }
  const fingerprintPolicy = options.fingerprint?.policy ?? DEFAULT_FINGERPRINT_POLICY;
  if (fingerprintPolicy !== 'reject' && fingerprintPolicy !== 'audit') {
    throw new TypeError(`createMcpSessionGuard: \`fingerprint.policy\` must be 'reject' or 'audit'; got ${JSON.stringify(fingerprintPolicy)}`);
  }
  const allowedOrigins = new Set(
    (options.allowedOrigins ?? []).map(function normalizeOrigin(origin) {
      try {
        return new URL(origin).origin;
      } catch {
        throw new TypeError(`createMcpSessionGuard: \`allowedOrigins\` must hold origins like 'https://app.example.com'; got ${JSON.stringify(origin)}`);
      }
    }),
  );
  const path = options.path ?? DEFAULT_MCP_PATH;
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new TypeError(`createMcpSessionGuard: \`path\` must start with '/'; got ${JSON.stringify(path)}`);
  }
  const signer = new SessionTokenSigner(secrets, clock);
  const fingerprintKey = deriveKey(secrets[0] as Buffer, 'mcp-connection-fingerprint');
  const auditor = options.audit ?? new Auditor({ hashSecret: secrets[0] as Buffer, clock });
  const vault = options.vault ?? memoryCredentialVault();
  const limiter: McpRateLimiter | undefined = options.rateLimit === false ? undefined : createMcpRateLimiter(options.rateLimit ?? {});
  const bearerOptions = options.bearer;
  const bearerMiddleware = bearerOptions
    ? requireBearerAuth({
        verifier: bearerOptions.verifier,
        ...(bearerOptions.requiredScopes ? { requiredScopes: bearerOptions.requiredScopes } : {}),
        ...(bearerOptions.resourceMetadataUrl ? { resourceMetadataUrl: bearerOptions.resourceMetadataUrl } : {}),
        ...(bearerOptions.expectedResource ? { expectedResource: bearerOptions.expectedResource } : {}),
      })
    : undefined;
  const bearerRequired = bearerOptions !== undefined && bearerOptions.required !== false;
  const sessionTools = options.sessionTools !== false;

  const sessions = new Map<string, SessionRecord>();
  /** The proof of the request whose handler is running (tool calls, and whatever they start). */
  const requestContext = new AsyncLocalStorage<RequestProof>();

  function audit(type: AuditEventType, record: Pick<SessionRecord, 'id' | 'principal'> | undefined, fields: AuditFields = {}): void {
    auditor.emit(type, { sessionId: record?.id, principal: record?.principal, ...fields });
  }

  function expiryOf(record: SessionRecord): { idle: number; absolute: number } {
    return { idle: record.lastSeenAt + idleTimeoutMs, absolute: (record.authorizedAt ?? record.createdAt) + absoluteTimeoutMs };
  }

  function expiredReason(record: SessionRecord): 'idle_timeout' | 'absolute_timeout' | undefined {
    const now = clock.now();
    const { idle, absolute } = expiryOf(record);
    if (now >= absolute) return 'absolute_timeout';
    if (now >= idle) return 'idle_timeout';
    return undefined;
  }

  /** Removes a session at once (its id answers 404 from now on) and closes it when no request is using it. */
  function retire(record: SessionRecord, event: 'mcp_session_revoked' | 'mcp_session_expired', reason: string, ip?: string): void {
    if (record.retired) return;
    record.retired = true;
    sessions.delete(record.id);
    audit(event, record, { reason, ip });
    if (record.inflight === 0) closeRecord(record);
  }

  function closeRecord(record: SessionRecord): void {
    const server = record.server;
    record.server = undefined;
    record.transport = undefined;
    if (server) {
      server.close().catch(function ignoreCloseError() {
        // Closing a transport whose client is gone can reject; the session is already dead.
      });
    }
  }

  function sweepExpiredSessions(): number {
    let swept = 0;
    for (const record of [...sessions.values()]) {
      const reason = expiredReason(record);
      if (reason) {
        retire(record, 'mcp_session_expired', reason);
        swept += 1;
      }
    }
    return swept;
  }

  function principalSessions(principal: string): SessionRecord[] {
    return [...sessions.values()].filter((record) => record.principal === principal && !record.retired);
  }

  function issueToken(record: SessionRecord): IssuedSessionToken {
    const now = clock.now();
    const payload: SessionTokenPayload = {
      v: SESSION_TOKEN_VERSION,
      sid: record.id,
      sub: record.principal as string,
      ...(record.issuer ? { iss: record.issuer } : {}),
      iat: now,
      exp: Math.min(now + tokenTtlMs, expiryOf(record).absolute),
      fp: record.fingerprint,
      gen: record.generation,
    };
    audit('session_token_issued', record, { ip: record.ip, detail: { method: record.authMethod ?? null, generation: record.generation } });
    return { token: signer.sign(payload), expiresAt: payload.exp, principal: payload.sub };
  }

  /** Binds a session to a principal: the limit is enforced here, before anything is granted. */
  function bind(record: SessionRecord, identity: SessionIdentity, method: 'callback' | 'bearer'): void {
    if (typeof identity.principal !== 'string' || identity.principal.length === 0) {
      throw new TypeError('authorizeSession: `identity.principal` must be a non-empty string');
    }
    if (record.principal !== undefined && record.principal !== identity.principal) {
      audit('session_owner_mismatch', record, { reason: 'reauthorization_by_other_principal', detail: { attempted: identity.principal } });
      throw new McpGuardError('SESSION_OWNER_MISMATCH', 403, 'This session belongs to another principal; start a new session.');
    }
    const emails = [...(identity.emails ?? []), ...(identity.email ? [identity.email] : [])].map((email) => {
      if (typeof email !== 'string' || !email.includes('@')) throw new TypeError(`authorizeSession: \`identity.emails\` must hold email addresses; got ${JSON.stringify(email)}`);
      return normalizeEmail(email);
    });
    if (record.principal === undefined) {
      const others = principalSessions(identity.principal).filter((other) => other !== record);
      if (others.length >= maxSessionsPerUser) {
        if (onSessionLimit === 'rejectLogin') {
          audit('mcp_session_limit', record, { principal: identity.principal, reason: 'rejectLogin', detail: { limit: maxSessionsPerUser } });
          throw new McpGuardError('SESSION_LIMIT_REACHED', 409, `Too many sessions for this user (limit ${maxSessionsPerUser}); close one first.`);
        }
        const oldest = others.sort((a, b) => (a.authorizedAt ?? a.createdAt) - (b.authorizedAt ?? b.createdAt)).slice(0, others.length - maxSessionsPerUser + 1);
        for (const victim of oldest) {
          audit('mcp_session_limit', victim, { reason: 'evictOldest', detail: { limit: maxSessionsPerUser } });
          retire(victim, 'mcp_session_revoked', 'session_limit_evicted');
        }
      }
      record.principal = identity.principal;
      record.issuer = identity.issuer;
      record.authorizedAt = clock.now();
      record.authMethod = method;
    }
    for (const email of emails) record.emails.add(email);
    record.generation += 1;
    supersedeChannels(record);
  }

  /**
   * Cuts every channel opened under an earlier authorization of the session: requests still
   * running are cancelled (their AbortSignal fires and they are answered with an error) and the
   * GET notification stream is closed, so none of them carries the new owner's rights or traffic.
   * Clients reopen the stream and retry with the new session token.
   */
  function supersedeChannels(record: SessionRecord): void {
    const transport = record.transport;
    if (!transport) return;
    let cancelled = 0;
    for (const proof of record.requests) {
      if (proof.generation === record.generation) continue;
      for (const id of proof.requestIds) {
        cancelled += 1;
        // As if the client had cancelled it: the SDK aborts the handler and sends no result of its own.
        transport.onmessage?.({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, reason: 'session_reauthorized' } });
        answerSuperseded(transport, id);
      }
      proof.requestIds.clear();
    }
    // Server-initiated traffic (list_changed, …) of the new owner must not reach an old listener.
    transport.closeStandaloneSSEStream();
    if (cancelled > 0) audit('session_token_mismatch', record, { reason: 'request_superseded', detail: { cancelled } });
  }

  /** Ends a JSON-RPC request with an error; in SSE and JSON modes alike this also ends its HTTP response. */
  function answerSuperseded(transport: StreamableHTTPServerTransport, id: RequestId): void {
    transport.send({ jsonrpc: '2.0', id, error: { code: JSON_RPC_SERVER_ERROR, message: SUPERSEDED_REQUEST_MESSAGE } }).catch(function alreadyAnswered() {
      // The request finished meanwhile; there is nothing left to answer.
    });
  }

  async function authorizeSession(sessionId: string, identity: SessionIdentity): Promise<IssuedSessionToken> {
    const record = typeof sessionId === 'string' ? sessions.get(sessionId) : undefined;
    if (!record || !record.initialized) {
      auditor.emit('mcp_session_unknown', { sessionId: typeof sessionId === 'string' ? sessionId : undefined, reason: 'authorize_unknown_session' });
      throw new McpGuardError('SESSION_NOT_FOUND', 404, 'Session not found');
    }
    const expired = expiredReason(record);
    if (expired) {
      retire(record, 'mcp_session_expired', expired);
      throw new McpGuardError('SESSION_NOT_FOUND', 404, 'Session not found');
    }
    const granted = new Set([...(identity.emails ?? []), ...(identity.email ? [identity.email] : [])].map((email) => normalizeEmail(String(email))));
    for (const email of Object.keys(identity.credentials ?? {})) {
      // Checked before binding, so a bad call leaves the session as it was.
      if (!granted.has(normalizeEmail(email))) {
        throw new TypeError(`authorizeSession: \`identity.credentials\` has an account that is not in \`identity.emails\`: ${JSON.stringify(email)}`);
      }
    }
    bind(record, identity, 'callback');
    for (const [email, credential] of Object.entries(identity.credentials ?? {})) {
      authorizeCredentialAccess(auditor, subjectOf(record), email, 'write');
      await vault.set(email, credential);
      audit('credential_stored', record, { detail: { email: normalizeEmail(email) } });
    }
    return issueToken(record);
  }

  function subjectOf(record: SessionRecord): CredentialAccessSubject {
    return { sessionId: record.id, principal: record.principal, emails: record.emails, ip: record.ip };
  }

  /** The running request's proof when it was made for an earlier authorization of this session. */
  function staleProof(record: SessionRecord): RequestProof | undefined {
    const proof = requestContext.getStore();
    if (proof === undefined || proof.record !== record) return undefined;
    return proof.generation !== record.generation || proof.principal !== record.principal ? proof : undefined;
  }

  /**
   * The subject for a credential access from `record`'s handle. Inside a request, access needs
   * the identity that request proved: the same session, its current generation, still live.
   * Outside any request (the app's own code) the session's current identity applies.
   */
  function callerSubject(record: SessionRecord, email: unknown, action: 'read' | 'write'): CredentialAccessSubject {
    const proof = requestContext.getStore();
    if (proof === undefined) return subjectOf(record);
    const reason =
      proof.record !== record
        ? 'request_for_other_session'
        : proof.generation !== record.generation || proof.principal !== record.principal
          ? 'authorization_superseded'
          : record.retired
            ? 'session_revoked'
            : undefined;
    if (reason === undefined) return subjectOf(record);
    auditor.emit('unauthorized_credential_access', {
      sessionId: proof.record.id,
      principal: proof.principal,
      ip: proof.record.ip,
      reason,
      detail: {
        email: typeof email === 'string' ? normalizeEmail(email).slice(0, 320) : null,
        action,
        requestGeneration: proof.generation,
        sessionGeneration: record.generation,
      },
    });
    throw new PermissionError('Permission denied: this request was not made with the session’s current authorization.');
  }

  function handleFor(record: SessionRecord): McpSession {
    // Inside a request made before the session's latest authorization, the handle shows what that request proved.
    const view = () => {
      const stale = staleProof(record);
      return stale
        ? { authenticated: false, principal: stale.principal, emails: [] as string[] }
        : { authenticated: record.principal !== undefined && !record.retired, principal: record.principal, emails: [...record.emails] };
    };
    return {
      get id() {
        return record.id;
      },
      get authenticated() {
        return view().authenticated;
      },
      get principal() {
        return view().principal;
      },
      get emails() {
        return view().emails;
      },
      async getCredential(email) {
        return requireCredential({ vault, auditor }, callerSubject(record, email, 'read'), email);
      },
      async storeCredential(email, credential) {
        authorizeCredentialAccess(auditor, callerSubject(record, email, 'write'), email, 'write');
        await vault.set(email as string, credential);
        audit('credential_stored', record, { detail: { email: normalizeEmail(email as string) } });
      },
      status() {
        const { idle, absolute } = expiryOf(record);
        const stale = staleProof(record) !== undefined;
        const seen = view();
        return {
          valid: !record.retired && expiredReason(record) === undefined && !stale,
          authenticated: !stale && record.principal !== undefined,
          session: auditor.hash(record.id),
          principal: seen.principal ?? null,
          emails: seen.emails,
          authMethod: record.authMethod ?? null,
          createdAt: new Date(record.createdAt).toISOString(),
          idleExpiresAt: new Date(idle).toISOString(),
          absoluteExpiresAt: new Date(absolute).toISOString(),
        };
      },
      revoke(reason = 'revoked_by_session') {
        retire(record, 'mcp_session_revoked', reason);
      },
    };
  }

  // ---- request pipeline -------------------------------------------------------------------

  function send(res: Response, error: McpGuardError, headers: Record<string, string> = {}): void {
    if (res.headersSent) return;
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    res.status(error.status).json(jsonRpcErrorBody(error.jsonRpcCode, error.message));
  }

  function reject(res: Response, record: Pick<SessionRecord, 'id' | 'principal'> | undefined, check: Check & { ok: false }, ip: string | undefined): void {
    if (check.event) audit(check.event, record, { ip, reason: check.reason });
    send(res, check.error);
  }

  /** Runs the SDK's bearer middleware; resolves with the verified AuthInfo, `undefined` when absent, `false` when it answered. */
  function verifyBearer(req: Request, res: Response): Promise<AuthInfo | undefined | false> {
    const header = req.headers.authorization;
    const hasBearer = typeof header === 'string' && /^Bearer\s/i.test(header);
    if (!bearerMiddleware || (!hasBearer && !bearerRequired)) return Promise.resolve(undefined);
    return new Promise(function runBearer(resolve) {
      res.once('finish', function bearerAnswered() {
        resolve(false);
      });
      bearerMiddleware(req, res, function bearerNext(err?: unknown) {
        resolve(err ? false : ((req as Request & { auth?: AuthInfo }).auth ?? undefined));
      });
    });
  }

  function bearerIdentity(authInfo: AuthInfo): SessionIdentity {
    const principal = (bearerOptions?.principal ?? defaultBearerPrincipal)(authInfo);
    const issuer = typeof authInfo.extra?.iss === 'string' ? authInfo.extra.iss : undefined;
    return { principal, ...(issuer ? { issuer } : {}), emails: (bearerOptions?.emails ?? defaultBearerEmails)(authInfo) };
  }

  function currentFingerprint(req: Request, clientInfo: string | undefined): string {
    return connectionFingerprint(fingerprintKey, fingerprintInputs, { userAgent: req.headers['user-agent'], clientInfo, ip: req.ip });
  }

  function checkFingerprint(record: SessionRecord, expected: string, actual: string, ip: string | undefined): Check {
    if (expected === actual) return OK;
    audit('connection_fingerprint_mismatch', record, { ip, reason: fingerprintPolicy === 'reject' ? 'rejected' : 'audited', detail: { policy: fingerprintPolicy } });
    if (fingerprintPolicy === 'audit') return OK;
    return fail(new McpGuardError('FINGERPRINT_MISMATCH', 403, 'Forbidden: this connection does not match the one the session was created on.'));
  }

  /** Signature, expiry, session binding, owner (`<principal>:<sessionId>`), generation, fingerprint. */
  function checkToken(record: SessionRecord, token: string, fingerprint: string, ip: string | undefined): Check {
    const result = signer.verify(token);
    if (!result.ok) {
      if (result.reason === 'expired') return fail(new McpGuardError('SESSION_TOKEN_EXPIRED', 401, 'Unauthorized: the session token has expired; authenticate again.'), 'expired_token');
      return fail(new McpGuardError('INVALID_SESSION_TOKEN', 401, 'Unauthorized: invalid session token.'), 'invalid_token_signature', result.reason);
    }
    const payload = result.payload;
    if (payload.sid !== record.id) {
      return fail(new McpGuardError('INVALID_SESSION_TOKEN', 401, 'Unauthorized: the session token belongs to another session.'), 'session_token_mismatch', 'token_for_other_session');
    }
    const owner = record.principal === undefined ? undefined : `${record.principal}:${record.id}`;
    if (owner === undefined || `${payload.sub}:${payload.sid}` !== owner) {
      return fail(new McpGuardError('SESSION_OWNER_MISMATCH', 403, 'Forbidden: the session token is not the session owner’s.'), 'session_owner_mismatch', 'token_principal_differs');
    }
    if (payload.gen !== record.generation) {
      return fail(new McpGuardError('INVALID_SESSION_TOKEN', 401, 'Unauthorized: the session token was superseded; authenticate again.'), 'session_token_mismatch', 'token_superseded');
    }
    return checkFingerprint(record, payload.fp, fingerprint, ip);
  }

  async function checkRate(kind: 'ip' | 'principal', key: string | undefined, record: SessionRecord | undefined, ip: string | undefined): Promise<Check> {
    if (!limiter || key === undefined) return OK;
    const outcome = kind === 'ip' ? await limiter.consumeIp(key) : await limiter.consumePrincipal(key);
    if (outcome.allowed) return OK;
    audit('rate_limit_exceeded', record, { ip, reason: kind === 'ip' ? 'per_ip' : 'per_principal', detail: { retryAfterSeconds: outcome.retryAfterSeconds } });
    const error = new McpGuardError('RATE_LIMITED', 429, 'Too many requests; slow down.');
    return { ok: false, error: Object.assign(error, { retryAfterSeconds: outcome.retryAfterSeconds }) };
  }

  function sendRateLimited(res: Response, check: Check & { ok: false }): void {
    const retry = (check.error as McpGuardError & { retryAfterSeconds?: number }).retryAfterSeconds;
    send(res, check.error, retry ? { 'Retry-After': String(retry) } : {});
  }

  /**
   * Hands a checked request to the session's transport. `proved` is the identity and generation
   * the request was checked against; it is re-checked here (the session may have been authorized
   * while the request waited) and travels with the request, so its handlers act as that only.
   * Nothing may await between that check and `handleRequest`, which opens a GET stream synchronously.
   */
  async function dispatch(record: SessionRecord, req: Request, res: Response, proved: Pick<RequestProof, 'principal' | 'generation'>): Promise<void> {
    const transport = record.transport;
    if (!transport || record.retired) {
      send(res, new McpGuardError('SESSION_NOT_FOUND', 404, 'Session not found'));
      return;
    }
    if (proved.generation !== record.generation || proved.principal !== record.principal) {
      audit('session_token_mismatch', record, { ip: req.ip, reason: 'request_superseded' });
      send(res, new McpGuardError('INVALID_SESSION_TOKEN', 401, 'Unauthorized: the session was authorized again while this request waited; send the current session token.'));
      return;
    }
    const proof: RequestProof = { record, principal: proved.principal, generation: proved.generation, requestIds: new Set() };
    record.requests.add(proof);
    res.once('close', function forgetRequest() {
      record.requests.delete(proof);
    });
    // GET opens the long-lived notification stream; only requests that finish hold a session open.
    const counted = req.method !== 'GET';
    if (counted) {
      record.inflight += 1;
      res.once('close', function releaseSession() {
        record.inflight -= 1;
        if (record.retired && record.inflight === 0) closeRecord(record);
      });
    }
    await requestContext.run(proof, () => transport.handleRequest(req, res, req.body));
  }

  /**
   * Sees every message the transport hands the session's server: records the JSON-RPC ids of each
   * request (to cancel them if the session is authorized again) and answers, instead of running,
   * a request whose proof was superseded before the SDK got to it.
   */
  function guardMessages(record: SessionRecord, transport: StreamableHTTPServerTransport): void {
    const deliver = transport.onmessage;
    transport.onmessage = function guardedMessage(message: JSONRPCMessage, extra) {
      const proof = requestContext.getStore();
      if (proof !== undefined && proof.record === record && isJSONRPCRequest(message)) {
        if (proof.generation !== record.generation || proof.principal !== record.principal) {
          audit('session_token_mismatch', record, { ip: record.ip, reason: 'request_superseded', detail: { cancelled: 1 } });
          answerSuperseded(transport, message.id);
          return;
        }
        proof.requestIds.add(message.id);
      }
      deliver?.call(transport, message, extra);
    };
  }

  async function handleNewSession(req: Request, res: Response, authInfo: AuthInfo | undefined, ip: string | undefined): Promise<void> {
    const body: unknown = req.body;
    if (req.method !== 'POST' || !isInitializeRequest(body)) {
      // The advisory's bug lived here: a request without a session id must never be given one.
      send(res, new McpGuardError('SESSION_ID_REQUIRED', 400, 'Bad Request: Mcp-Session-Id header is required'));
      return;
    }
    sweepExpiredSessions();
    if (sessions.size >= maxSessions) {
      audit('mcp_session_limit', undefined, { ip, reason: 'max_sessions', detail: { limit: maxSessions } });
      send(res, new McpGuardError('SERVER_BUSY', 503, 'Server busy: too many sessions; try again later.'), { 'Retry-After': '60' });
      return;
    }
    const now = clock.now();
    const clientInfo = `${body.params.clientInfo.name}/${body.params.clientInfo.version}`;
    const record: SessionRecord = {
      id: randomUUID(),
      createdAt: now,
      lastSeenAt: now,
      authorizedAt: undefined,
      principal: undefined,
      issuer: undefined,
      emails: new Set(),
      authMethod: undefined,
      generation: 0,
      fingerprint: currentFingerprint(req, clientInfo),
      clientInfo,
      ip,
      server: undefined,
      transport: undefined,
      initialized: false,
      retired: false,
      inflight: 0,
      requests: new Set(),
    };
    if (authInfo) {
      try {
        bind(record, bearerIdentity(authInfo), 'bearer');
      } catch (err) {
        if (err instanceof McpGuardError) return send(res, err);
        throw err;
      }
      const checked = await checkRate('principal', record.principal, record, ip);
      if (!checked.ok) return sendRateLimited(res, checked);
    }
    const server = await options.createServer(handleFor(record));
    if (sessionTools) registerSessionTools(server, handleFor(record));
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => record.id,
      enableJsonResponse: options.jsonResponse === true,
      onsessioninitialized: function sessionInitialized() {
        record.initialized = true;
        sessions.set(record.id, record);
        audit('mcp_session_created', record, { ip, detail: { authenticated: record.principal !== undefined } });
      },
      onsessionclosed: function sessionClosedByClient() {
        retire(record, 'mcp_session_revoked', 'client_terminated', ip);
      },
    });
    record.server = server;
    record.transport = transport;
    await server.connect(transport);
    guardMessages(record, transport);
    if (record.principal !== undefined) res.setHeader(SESSION_TOKEN_HEADER, issueToken(record).token);
    await dispatch(record, req, res, { principal: record.principal, generation: record.generation });
    if (!record.initialized) {
      record.retired = true;
      if (record.inflight === 0) closeRecord(record);
    }
  }

  async function handleExistingSession(req: Request, res: Response, sessionId: string, authInfo: AuthInfo | undefined, ip: string | undefined): Promise<void> {
    const record = sessions.get(sessionId);
    if (!record) {
      auditor.emit('mcp_session_unknown', { sessionId, ip, reason: 'unknown_or_revoked' });
      return send(res, new McpGuardError('SESSION_NOT_FOUND', 404, 'Session not found'));
    }
    const expired = expiredReason(record);
    if (expired) {
      retire(record, 'mcp_session_expired', expired, ip);
      return send(res, new McpGuardError('SESSION_NOT_FOUND', 404, 'Session not found'));
    }
    const fingerprint = currentFingerprint(req, record.clientInfo);
    const token = readSessionToken(req.headers);
    let check: Check = OK;
    if (record.principal === undefined) {
      if (token !== undefined) {
        // No token was ever issued for this session, so any token is someone else's.
        const verified = signer.verify(token);
        check = verified.ok || verified.reason === 'expired'
          ? fail(new McpGuardError('INVALID_SESSION_TOKEN', 401, 'Unauthorized: the session token belongs to another session.'), 'session_token_mismatch', 'token_for_other_session')
          : fail(new McpGuardError('INVALID_SESSION_TOKEN', 401, 'Unauthorized: invalid session token.'), 'invalid_token_signature', verified.reason);
      } else {
        check = checkFingerprint(record, record.fingerprint, fingerprint, ip);
      }
      if (check.ok && authInfo) {
        try {
          bind(record, bearerIdentity(authInfo), 'bearer');
          res.setHeader(SESSION_TOKEN_HEADER, issueToken(record).token);
        } catch (err) {
          if (!(err instanceof McpGuardError)) throw err;
          check = fail(err);
        }
      }
    } else {
      if (authInfo) {
        const principal = bearerIdentity(authInfo).principal;
        if (principal !== record.principal) {
          check = fail(new McpGuardError('SESSION_OWNER_MISMATCH', 403, 'Forbidden: this session belongs to another principal.'), 'session_owner_mismatch', 'bearer_principal_differs');
        }
      }
      if (check.ok && token !== undefined) check = checkToken(record, token, fingerprint, ip);
      else if (check.ok && authInfo) check = checkFingerprint(record, record.fingerprint, fingerprint, ip);
      else if (check.ok) {
        check = fail(new McpGuardError('SESSION_TOKEN_REQUIRED', 401, `Unauthorized: this session is authenticated; send its token in ${SESSION_TOKEN_HEADER}.`), 'session_token_mismatch', 'token_missing');
      }
    }
    if (!check.ok) return reject(res, record, check, ip);
    // What this request proved, before anything awaits: a later authorization does not extend to it.
    const proved = { principal: record.principal, generation: record.generation };
    const rate = await checkRate('principal', record.principal, record, ip);
    if (!rate.ok) return sendRateLimited(res, rate);
    record.lastSeenAt = clock.now();
    await dispatch(record, req, res, proved);
  }

  const router = express.Router();
  const jsonParser = express.json({ limit: options.maxBodySize ?? DEFAULT_MAX_BODY_SIZE });

  router.all(path, async function mcpSessionGuardOrigin(req: Request, res: Response, next: NextFunction) {
    const origin = req.headers.origin;
    if (origin !== undefined && !allowedOrigins.has(origin)) {
      // The SDK validates Host only; a page on another origin must not drive a local MCP server.
      auditor.emit('origin_rejected', { ip: req.ip, detail: { origin: String(origin).slice(0, 200) } });
      return send(res, new McpGuardError('ORIGIN_REJECTED', 403, 'Forbidden: origin not allowed'));
    }
    try {
      const rate = await checkRate('ip', req.ip ?? 'unknown', undefined, req.ip);
      if (!rate.ok) return sendRateLimited(res, rate);
    } catch (err) {
      return next(err);
    }
    next();
  });
  router.all(path, jsonParser);
  router.all(path, async function mcpSessionGuardMiddleware(req: Request, res: Response, next: NextFunction) {
    try {
      if (!['POST', 'GET', 'DELETE'].includes(req.method)) {
        res.setHeader('Allow', 'GET, POST, DELETE');
        return send(res, new McpGuardError('SESSION_ID_REQUIRED', 405, 'Method not allowed.'));
      }
      const ip = req.ip;
      const authInfo = await verifyBearer(req, res);
      if (authInfo === false) {
        auditor.emit('invalid_token_signature', { ip, reason: 'bearer_rejected', detail: { status: res.statusCode } });
        return;
      }
      const sessionId = req.headers['mcp-session-id'];
      if (Array.isArray(sessionId)) return send(res, new McpGuardError('SESSION_ID_REQUIRED', 400, 'Bad Request: one Mcp-Session-Id header only'));
      if (sessionId === undefined || sessionId === '') return await handleNewSession(req, res, authInfo, ip);
      return await handleExistingSession(req, res, sessionId, authInfo, ip);
    } catch (err) {
      next(err);
    }
  });
  router.use(path, function mcpSessionGuardErrors(err: unknown, req: Request, res: Response, next: NextFunction) {
    if (res.headersSent) return next(err);
    const type = (err as { type?: string }).type;
    if (type === 'entity.parse.failed') return send(res, new McpGuardError('PARSE_ERROR', 400, 'Parse error', { jsonRpcCode: JSON_RPC_PARSE_ERROR }));
    if (type === 'entity.too.large') return send(res, new McpGuardError('PARSE_ERROR', 413, 'Payload too large'));
    if (err instanceof McpGuardError) return send(res, err);
    process.emitWarning(`fixation-guard/mcp: request failed: ${(err as Error)?.message ?? String(err)}`);
    return send(res, new McpGuardError('INTERNAL_ERROR', 500, 'Internal server error'));
  });

  const sweepTimer =
    options.sweepInterval === false ? undefined : setInterval(sweepExpiredSessions, sweepIntervalMs);
  sweepTimer?.unref();

  return {
    router,
    auditor,
    vault,
    authorizeSession,
    revokeSession(sessionId, reason = 'revoked_by_app') {
      const record = sessions.get(sessionId);
      if (!record) return false;
      retire(record, 'mcp_session_revoked', reason);
      return true;
    },
    revokePrincipalSessions(principal, reason = 'revoked_by_app') {
      const records = principalSessions(principal);
      for (const record of records) retire(record, 'mcp_session_revoked', reason);
      return records.length;
    },
    emergencyDisableSessionReuse(reason = 'emergency') {
      // Every token names its session id, and ids are never reused: tokens die with their sessions.
      const records = [...sessions.values()];
      auditor.emit('emergency_disable_session_reuse', { reason, detail: { revoked: records.length } });
      for (const record of records) retire(record, 'mcp_session_revoked', 'emergency_disable_session_reuse');
      return records.length;
    },
    sweepExpiredSessions,
    get size() {
      return sessions.size;
    },
    async close() {
      if (sweepTimer) clearInterval(sweepTimer);
      const records = [...sessions.values()];
      sessions.clear();
      await Promise.allSettled(records.map((record) => record.server?.close()));
    },
  };
}
