/**
 * `createMcpSessionGuard`: the sessionful (2025) MCP endpoint, composed of small middlewares
 * over a registry, a token module and a lifecycle. In order, on the endpoint's path:
 *
 *   host / origin   → json body → batch policy → per-IP rate limit → methods
 *   → bearer identity (when configured) → session binding (+ per-principal rate limit)
 *   → dispatch to the session's transport → JSON-RPC error answers
 *
 * Each piece is its own module with its own tests; this file only builds and orders them.
 */
import express, { type Router } from 'express';
import type { Auditor } from '../audit/index.js';
import { MemorySessionIndex } from '../session-index/index.js';
import { createAuthorizeSession } from './authorize.js';
import { mcpBatchPolicy } from './batch.js';
import { mcpBearerIdentity } from './bearer.js';
import { createSessionChannels } from './channels.js';
import { mcpSessionDispatch } from './dispatch.js';
import { mcpHostOriginCheck } from './host-origin.js';
import { DEFAULT_MAX_BODY_SIZE, mcpAllowedMethods, mcpErrorHandler, mcpJsonBody } from './http.js';
import { createSessionLifecycle, type SessionIdentity } from './lifecycle.js';
import { resolveSessionGuardOptions, type McpSessionGuardOptions } from './options.js';
import { createMcpRateLimiter, mcpIpRateLimit } from './rate-limit.js';
import { SessionRegistry } from './registry.js';
import { mcpSessionBinding } from './session-binding.js';
import type { SessionRecord } from './session-record.js';
import { createSessionTokens, type IssuedSessionToken } from './session-tokens.js';
import type { CredentialVault } from './vault.js';

export {
  DEFAULT_MCP_PATH,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_ABSOLUTE_TIMEOUT_MS,
  DEFAULT_MAX_SESSIONS,
  DEFAULT_SWEEP_INTERVAL_MS,
  DEFAULT_PREAUTH_MAX_PER_IP,
  DEFAULT_PREAUTH_MAX_SESSIONS,
  DEFAULT_PREAUTH_IDLE_TIMEOUT_MS,
  type McpSessionGuardOptions,
  type McpBearerOptions,
  type PreAuthLimits,
} from './options.js';
export { SESSION_TOKEN_HEADER, type IssuedSessionToken } from './session-tokens.js';
export type { SessionIdentity } from './lifecycle.js';
export type { McpSession, McpSessionStatus } from './session-handle.js';

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
  /**
   * Removes expired sessions now (also runs on a timer and before each new session). Visits
   * only the sessions whose deadline has come, not every live session.
   */
  sweepExpiredSessions(): number;
  /** Number of live sessions. */
  readonly size: number;
  /**
   * Resolves once what revocations told the fleet (tombstones, the switch, index removals) is
   * written. Revocation acts locally at once; this is for callers that must know the other
   * instances can see it too. Rejects when a fleet write failed.
   */
  settled(): Promise<void>;
  /**
   * Resolves once this instance hears the fleet's revocations and emergency switch (at once
   * without a fleet). Subscribing takes a connection of its own; a message published before it
   * is live never reaches this instance, so await this before serving. Rejects when subscribing
   * failed (the instance then still checks the fleet's tombstones on every request).
   */
  ready(): Promise<void>;
  /** Closes every session and stops the sweep timer. */
  close(): Promise<void>;
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
  const resolved = resolveSessionGuardOptions(options);
  const { auditor, clock, vault, path } = resolved;
  const limiter = options.rateLimit === false ? undefined : createMcpRateLimiter(options.rateLimit ?? {});
  const registry = new SessionRegistry<SessionRecord>({ timeouts: resolved.timeouts, clock, preAuth: resolved.preAuth });
  const channels = createSessionChannels();
  const signals = options.fleet?.signals;
  const lifecycle = createSessionLifecycle({
    registry,
    channels,
    index: options.fleet?.index ?? new MemorySessionIndex(),
    signals,
    limit: resolved.limit,
    absoluteTimeoutMs: resolved.timeouts.absoluteTimeoutMs,
    auditor,
    clock,
  });
  const tokens = createSessionTokens({ secrets: resolved.secrets, clock, auditor, tokenTtlMs: resolved.tokenTtlMs, fingerprint: resolved.fingerprint });

  const router = express.Router();
  router.all(path, mcpHostOriginCheck({ allowedHosts: options.allowedHosts, allowedOrigins: options.allowedOrigins ?? [], auditor }));
  router.all(path, mcpJsonBody({ limit: options.maxBodySize ?? DEFAULT_MAX_BODY_SIZE }));
  router.all(path, mcpBatchPolicy({ ...(options.maxBatchSize !== undefined ? { maxBatchSize: options.maxBatchSize } : {}), auditor }));
  if (limiter) router.all(path, mcpIpRateLimit({ limiter, auditor }));
  router.all(path, mcpAllowedMethods());
  if (options.bearer) router.all(path, mcpBearerIdentity({ bearer: options.bearer, auditor }));
  router.all(
    path,
    mcpSessionBinding({
      registry,
      lifecycle,
      tokens,
      channels,
      signals,
      limiter,
      auditor,
      clock,
      vault,
      maxSessions: resolved.maxSessions,
      preAuthIdleTimeoutMs: resolved.preAuth?.idleTimeoutMs,
      createServer: resolved.createServer,
      sessionTools: resolved.sessionTools,
      jsonResponse: resolved.jsonResponse,
      eventStore: resolved.eventStore,
    }),
  );
  router.all(path, mcpSessionDispatch({ channels, lifecycle, resumable: resolved.eventStore !== undefined }));
  router.use(path, mcpErrorHandler());

  const sweepTimer = resolved.sweepIntervalMs === undefined ? undefined : setInterval(lifecycle.sweep, resolved.sweepIntervalMs);
  sweepTimer?.unref();

  return {
    router,
    auditor,
    vault,
    authorizeSession: createAuthorizeSession({ registry, lifecycle, tokens, vault, auditor }),
    revokeSession(sessionId, reason = 'revoked_by_app') {
      const record = registry.get(sessionId);
      if (!record) return false;
      lifecycle.retire(record, 'mcp_session_revoked', reason);
      return true;
    },
    revokePrincipalSessions: (principal, reason = 'revoked_by_app') => lifecycle.revokePrincipal(principal, reason),
    emergencyDisableSessionReuse: (reason = 'emergency') => lifecycle.emergency(reason),
    sweepExpiredSessions: () => lifecycle.sweep(),
    get size() {
      return registry.size;
    },
    settled: () => lifecycle.settled(),
    ready: () => lifecycle.ready(),
    async close() {
      if (sweepTimer) clearInterval(sweepTimer);
      await lifecycle.unsubscribe();
      const records = registry.clear();
      await Promise.allSettled(records.map((record) => record.server?.close()));
    },
  };
}
