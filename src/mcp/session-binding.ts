/**
 * Session binding for the sessionful (2025) era: which session a request acts on, and what it
 * proved about it. A request without `Mcp-Session-Id` may only create a new, unauthenticated
 * session with a server-generated id (never an existing one: the advisory's bug); a request
 * with one is checked for expiry, the fleet's revocations, the session token or bearer identity,
 * ownership and the connection fingerprint, then charged to its principal's rate limit. What it
 * proved is kept for `mcpSessionDispatch`.
 */
import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport, type EventStore } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Auditor } from '../audit/index.js';
import type { Clock } from '../clock/index.js';
import { messageCount } from './batch.js';
import type { SessionChannels } from './channels.js';
import { sessionEventStore } from './event-store.js';
import { McpGuardError, refusal, sessionNotFound, type McpRefusal } from './errors.js';
import type { McpFleetSignals } from './fleet.js';
import { sendMcpError, sendMcpRefusal } from './http.js';
import { bearerIdentityOf } from './bearer.js';
import type { SessionLifecycle } from './lifecycle.js';
import { chargePrincipal, type McpRateLimiter } from './rate-limit.js';
import type { SessionRegistry } from './registry.js';
import { sessionHandle, type McpSession, type SessionHandleContext } from './session-handle.js';
import { newSessionRecord, type RequestProof, type SessionRecord } from './session-record.js';
import { registerSessionTools } from './session-tools.js';
import { SESSION_TOKEN_HEADER, type SessionTokens } from './session-tokens.js';
import { readSessionToken } from './token.js';

/** What a request proved about its session: the identity and generation its handlers act as. */
export interface SessionBinding {
  record: SessionRecord;
  proved: Pick<RequestProof, 'principal' | 'generation'>;
}

const bindings = new WeakMap<Request, SessionBinding>();

/** The session a checked request acts on, or `undefined` before (or without) `mcpSessionBinding`. */
export function sessionBindingOf(req: Request): SessionBinding | undefined {
  return bindings.get(req);
}

export interface SessionBindingOptions extends SessionHandleContext {
  registry: SessionRegistry<SessionRecord>;
  lifecycle: SessionLifecycle;
  tokens: SessionTokens;
  channels: SessionChannels;
  signals: McpFleetSignals | undefined;
  limiter: McpRateLimiter | undefined;
  auditor: Auditor;
  clock: Clock;
  maxSessions: number;
  /** The pre-auth idle timeout (the `Retry-After` of a pre-auth refusal); `undefined` without pre-auth limits. */
  preAuthIdleTimeoutMs: number | undefined;
  createServer: (session: McpSession) => McpServer | Promise<McpServer>;
  sessionTools: boolean;
  jsonResponse: boolean;
  /** The app's event store; each session's transport sees it through `sessionEventStore`. */
  eventStore: EventStore | undefined;
}

/**
 * @example
 * router.all('/mcp', mcpBearerIdentity({ bearer, auditor }), mcpSessionBinding(context), mcpSessionDispatch(context));
 */
export function mcpSessionBinding(options: SessionBindingOptions): RequestHandler {
  const { registry, lifecycle, tokens, channels, signals, limiter, auditor, clock, maxSessions } = options;
  const preAuthRetryAfter = String(Math.ceil((options.preAuthIdleTimeoutMs ?? 60_000) / 1000));

  function reject(res: Response, refused: McpRefusal, record: Pick<SessionRecord, 'id' | 'principal'> | undefined, ip: string | undefined): void {
    sendMcpRefusal(res, refused, auditor, { sessionId: record?.id, principal: record?.principal, ip });
  }

  async function chargeRecord(record: SessionRecord, req: Request): Promise<McpRefusal | undefined> {
    if (!limiter || record.principal === undefined) return undefined;
    return chargePrincipal(limiter, auditor, record.principal, messageCount(req), { ip: req.ip, sessionId: record.id });
  }

  /** The session's server and transport: one per session, never shared (the SDK throws on reuse). */
  async function open(record: SessionRecord): Promise<void> {
    const handle = sessionHandle(options, record);
    const server = await options.createServer(handle);
    if (options.sessionTools) registerSessionTools(server, handle);
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => record.id,
      enableJsonResponse: options.jsonResponse,
      ...(options.eventStore ? { eventStore: sessionEventStore(options.eventStore, record) } : {}),
      onsessioninitialized: function sessionInitialized() {
        record.initialized = true;
        registry.add(record);
        lifecycle.audit('mcp_session_created', record, { ip: record.ip, detail: { authenticated: record.principal !== undefined } });
      },
      onsessionclosed: function sessionClosedByClient() {
        lifecycle.retire(record, 'mcp_session_revoked', 'client_terminated', record.ip);
      },
    });
    record.server = server;
    record.transport = transport;
    await server.connect(transport);
    channels.watch(record, transport, function supersededBeforeRun() {
      lifecycle.audit('session_token_mismatch', record, { ip: record.ip, reason: 'request_superseded', detail: { cancelled: 1 } });
    });
  }

  async function bindNewSession(req: Request, res: Response): Promise<SessionBinding | undefined> {
    const body: unknown = req.body;
    const ip = req.ip;
    if (req.method !== 'POST' || !isInitializeRequest(body)) {
      // The advisory's bug lived here: a request without a session id must never be given one.
      sendMcpError(res, new McpGuardError('SESSION_ID_REQUIRED', 'Bad Request: Mcp-Session-Id header is required'));
      return undefined;
    }
    lifecycle.sweep();
    if (registry.size >= maxSessions) {
      auditor.emit('mcp_session_limit', { ip, reason: 'max_sessions', detail: { limit: maxSessions } });
      sendMcpError(res, new McpGuardError('SERVER_BUSY', 'Server busy: too many sessions; try again later.'), { 'Retry-After': '60' });
      return undefined;
    }
    const bearer = bearerIdentityOf(req);
    const refusedPreAuth = bearer ? undefined : registry.preAuthRefusal(ip);
    if (refusedPreAuth) {
      // A flood of never-authenticated sessions fills only its own small pool, and drains on a short idle timeout.
      auditor.emit('mcp_session_limit', { ip, reason: refusedPreAuth.reason, detail: { limit: refusedPreAuth.limit } });
      const error =
        refusedPreAuth.reason === 'preauth_per_ip'
          ? new McpGuardError('RATE_LIMITED', 'Too many unauthenticated sessions from this address; authenticate or close one.')
          : new McpGuardError('SERVER_BUSY', 'Server busy: too many unauthenticated sessions; try again later.');
      sendMcpError(res, error, { 'Retry-After': preAuthRetryAfter });
      return undefined;
    }
    const clientInfo = `${body.params.clientInfo.name}/${body.params.clientInfo.version}`;
    const record = newSessionRecord({ id: randomUUID(), now: clock.now(), fingerprint: tokens.fingerprintOf(req, clientInfo), clientInfo, ip });
    // Whatever happens from here on, a session that did not initialize is discarded once the response ends.
    res.once('close', function discardUninitialized() {
      if (!record.initialized) lifecycle.discard(record);
    });
    if (bearer) {
      try {
        await lifecycle.bind(record, bearer, 'bearer');
      } catch (err) {
        if (err instanceof McpGuardError) return void sendMcpError(res, err);
        throw err;
      }
      const limited = await chargeRecord(record, req);
      if (limited) return void reject(res, limited, undefined, ip);
    }
    // Counted at once, not when initialized: concurrent floods cannot all slip under the cap.
    if (record.principal === undefined) registry.trackPreAuth(record);
    await open(record);
    if (record.principal !== undefined) res.setHeader(SESSION_TOKEN_HEADER, tokens.issue(record, registry.deadlines(record).absolute).token);
    return { record, proved: { principal: record.principal, generation: record.generation } };
  }

  async function bindExistingSession(req: Request, res: Response, sessionId: string): Promise<SessionBinding | undefined> {
    const ip = req.ip;
    const record = registry.get(sessionId);
    if (!record) {
      auditor.emit('mcp_session_unknown', { sessionId, ip, reason: 'unknown_or_revoked' });
      return void sendMcpError(res, sessionNotFound());
    }
    const expired = registry.expiry(record);
    if (expired) {
      lifecycle.retire(record, 'mcp_session_expired', expired, ip);
      return void sendMcpError(res, sessionNotFound());
    }
    if (signals) {
      let ended: boolean;
      try {
        ended = await signals.isEnded(record.id, record.createdAt);
      } catch {
        // Fail closed: without the fleet's word, a revoked session could still be served.
        return void sendMcpError(res, new McpGuardError('SERVER_BUSY', 'The shared session registry is unavailable; try again shortly.'), { 'Retry-After': '5' });
      }
      if (ended || record.retired) {
        lifecycle.retire(record, 'mcp_session_revoked', 'ended_by_fleet', ip, true);
        return void sendMcpError(res, sessionNotFound());
      }
    }
    const refused = await checkSession(req, res, record);
    if (refused) return void reject(res, refused, record, ip);
    // What this request proved, before anything awaits: a later authorization does not extend to it.
    const proved = { principal: record.principal, generation: record.generation };
    const limited = await chargeRecord(record, req);
    if (limited) return void reject(res, limited, undefined, ip);
    record.lastSeenAt = clock.now();
    return { record, proved };
  }

  /** Token, bearer and fingerprint checks of a request on a live session; binds it when a bearer authenticates it. */
  async function checkSession(req: Request, res: Response, record: SessionRecord): Promise<McpRefusal | undefined> {
    const ip = req.ip;
    const bearer = bearerIdentityOf(req);
    const fingerprint = tokens.fingerprintOf(req, record.clientInfo);
    const token = readSessionToken(req.headers);
    if (record.principal === undefined) {
      // No token was ever issued for this session, so any token is someone else's.
      if (token !== undefined) return tokens.checkUnissued(token);
      const mismatch = tokens.checkFingerprint(record, record.fingerprint, fingerprint, ip);
      if (mismatch || !bearer) return mismatch;
      try {
        await lifecycle.bind(record, bearer, 'bearer');
        res.setHeader(SESSION_TOKEN_HEADER, tokens.issue(record, registry.deadlines(record).absolute).token);
      } catch (err) {
        if (!(err instanceof McpGuardError)) throw err;
        return refusal(err);
      }
      return undefined;
    }
    if (bearer && bearer.principal !== record.principal) {
      return refusal(new McpGuardError('SESSION_OWNER_MISMATCH', 'Forbidden: this session belongs to another principal.'), 'session_owner_mismatch', 'bearer_principal_differs');
    }
    if (token !== undefined) return tokens.check(record, token, fingerprint, ip);
    if (bearer) return tokens.checkFingerprint(record, record.fingerprint, fingerprint, ip);
    return refusal(
      new McpGuardError('SESSION_TOKEN_REQUIRED', `Unauthorized: this session is authenticated; send its token in ${SESSION_TOKEN_HEADER}.`),
      'session_token_mismatch',
      'token_missing',
    );
  }

  return async function mcpSessionBindingMiddleware(req, res, next) {
    try {
      const sessionId = req.headers['mcp-session-id'];
      if (Array.isArray(sessionId)) return sendMcpError(res, new McpGuardError('SESSION_ID_REQUIRED', 'Bad Request: one Mcp-Session-Id header only'));
      const binding = sessionId === undefined || sessionId === '' ? await bindNewSession(req, res) : await bindExistingSession(req, res, sessionId);
      if (binding === undefined) return;
      bindings.set(req, binding);
      next();
    } catch (err) {
      next(err);
    }
  };
}
