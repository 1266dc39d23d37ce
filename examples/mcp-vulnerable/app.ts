/**
 * An MCP server (both eras, SDK v2) written without fixation-guard, with each of the MCP
 * advisory's mistakes behind a switch. With no flaw switched on it defends against every attack
 * of `fixation-guard attack-mcp`; `npm run example:mcp-vulnerable` switches on the advisory's
 * pattern; the attack suite's tests switch on one flaw at a time.
 *
 * Identity: demo bearer tokens (`demoBearer('alice')`), `<base64url JSON>.<HMAC>` over a demo key
 * printed in the README, naming the user (`sub`) and the OAuth client (`client_id`).
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import express, { type Request, type Response } from 'express';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { hostHeaderValidation, originValidation } from '@modelcontextprotocol/express';
import { NodeStreamableHTTPServerTransport, toNodeHandler, toWebRequest } from '@modelcontextprotocol/node';
import { createMcpHandler, createRequestStateCodec, inputRequired, isLegacyRequest, McpServer, type AuthInfo } from '@modelcontextprotocol/server';

/** Each mistake the example can make, one switch each. */
export type McpFlaw =
  /** A request without a session id is served by the most recent session (the advisory's `list_sessions()[-1]`). */
  | 'session-handout'
  /** The OAuth client id is taken for the user: every user of one client is one principal. */
  | 'client-id-as-user'
  /** A session id alone is enough to use a session: the bearer is not checked against its owner. */
  | 'no-owner-check'
  /** Session ids from a counter. */
  | 'predictable-ids'
  /** An unknown session id is served (statelessly) instead of 404. */
  | 'adopt-unknown-ids'
  /** The bearer token's signature is never checked. */
  | 'unverified-token'
  /** requestState is signed but not bound to the principal it was minted for. */
  | 'unbound-state'
  /** requestState is plain base64url JSON: no signature, no binding. */
  | 'unsigned-state'
  /** No Origin allowlist. */
  | 'no-origin-check'
  /** No Host allowlist (DNS rebinding). */
  | 'no-host-check'
  /** MAX_SESSIONS_PER_USER defined but never enforced. */
  | 'no-session-limit'
  /** DELETE forgets the session but leaves its open streams running. */
  | 'streams-survive-revocation'
  /** The rate limit counts HTTP requests, so a JSON-RPC batch multiplies it. */
  | 'batch-unlimited';

/** The advisory's pattern: what `npm run example:mcp-vulnerable` serves. */
export const ADVISORY_FLAWS: readonly McpFlaw[] = ['session-handout', 'client-id-as-user', 'no-owner-check', 'no-session-limit', 'batch-unlimited', 'unsigned-state', 'no-host-check'];

/** Demo only: a published key, so that anyone can mint the demo tokens. */
const DEMO_TOKEN_KEY = 'fixation-guard-mcp-vulnerable-demo-key';
const DEMO_CLIENT_ID = 'demo-client';
const STATE_KEY = 'fixation-guard-mcp-vulnerable-state-key-0123456789';
export const DEFAULT_MAX_SESSIONS_PER_USER = 3;
export const DEFAULT_TOOL_CALLS_PER_MINUTE = 60;

function mac(payload: string): string {
  return createHmac('sha256', DEMO_TOKEN_KEY).update(payload).digest('base64url');
}

/** The demo bearer token of a user. */
export function demoBearer(user: string): string {
  const payload = Buffer.from(JSON.stringify({ sub: user, client_id: DEMO_CLIENT_ID })).toString('base64url');
  return `${payload}.${mac(payload)}`;
}

interface Claims {
  sub?: unknown;
  client_id?: unknown;
}

function readToken(header: string | undefined, flaws: ReadonlySet<McpFlaw>): Claims | undefined {
  const token = /^Bearer (.+)$/i.exec(header ?? '')?.[1];
  const [payload, signature, extra] = token?.split('.') ?? [];
  if (!payload || signature === undefined || extra !== undefined) return undefined;
  if (!flaws.has('unverified-token')) {
    const expected = Buffer.from(mac(payload));
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  }
  try {
    return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Claims;
  } catch {
    return undefined;
  }
}

function rpcError(res: Response, status: number, message: string, headers: Record<string, string> = {}): void {
  res.status(status).set(headers).json({ jsonrpc: '2.0', error: { code: -32001, message }, id: null });
}

export interface McpExampleOptions {
  flaws?: Iterable<McpFlaw>;
  maxSessionsPerUser?: number;
  /** Tool calls per principal per minute. */
  toolCallsPerMinute?: number;
}

interface Session {
  transport: NodeStreamableHTTPServerTransport;
  principal: string | undefined;
}

/** The example as an Express app, and a close() that ends every session. */
export function createMcpExampleApp(options: McpExampleOptions = {}): { app: express.Express; close(): Promise<void> } {
  const flaws: ReadonlySet<McpFlaw> = new Set(options.flaws ?? []);
  const maxSessions = options.maxSessionsPerUser ?? DEFAULT_MAX_SESSIONS_PER_USER;
  const limiter = new RateLimiterMemory({ points: options.toolCallsPerMinute ?? DEFAULT_TOOL_CALLS_PER_MINUTE, duration: 60 });
  const sessions = new Map<string, Session>();
  let counter = 100_000;
  const codec = createRequestStateCodec<{ user: string }>({
    key: STATE_KEY,
    ...(flaws.has('unbound-state') ? {} : { bind: (ctx) => String(ctx.http?.authInfo?.extra?.principal ?? '') }),
  });

  const principalOf = (req: Request): string | undefined => {
    const claims = readToken(req.get('authorization'), flaws);
    const principal = flaws.has('client-id-as-user') ? claims?.client_id : claims?.sub;
    return typeof principal === 'string' && principal ? principal : undefined;
  };

  function mintState(user: string, ctx: Parameters<typeof codec.mint>[1]): Promise<string> | string {
    if (flaws.has('unsigned-state')) return Buffer.from(JSON.stringify({ user })).toString('base64url');
    return codec.mint({ user }, ctx);
  }

  function readState(state: string, ctx: Parameters<typeof codec.verify>[1]): Promise<{ user: string }> | { user: string } {
    if (flaws.has('unsigned-state')) return JSON.parse(Buffer.from(state, 'base64url').toString('utf8')) as { user: string };
    return codec.verify(state, ctx);
  }

  function createServer(principal: () => string | undefined): McpServer {
    const server = new McpServer({ name: 'mcp-vulnerable-example', version: '1.0.0' }, { requestState: { verify: readState } });
    server.registerTool('whoami', { description: 'The user this request acts for, or "anonymous".' }, async () => ({
      content: [{ type: 'text', text: principal() ?? 'anonymous' }],
    }));
    server.registerTool('confirm', { description: 'Asks the user to confirm, then answers for whom it confirmed (2026-07-28 multi-round-trip).' }, async (ctx) => {
      const state = ctx.mcpReq.requestState<{ user: string }>();
      if (state === undefined) {
        return inputRequired({
          requestState: await mintState(principal() ?? 'anonymous', ctx),
          inputRequests: { confirm: inputRequired.elicit({ message: 'Confirm?', requestedSchema: { type: 'object', properties: { ok: { type: 'boolean' } } } }) },
        });
      }
      return { content: [{ type: 'text', text: `confirmed for ${typeof state === 'object' && state ? String(state.user) : 'nobody'}` }] };
    });
    return server;
  }

  const modern = toNodeHandler(
    createMcpHandler(({ authInfo }) => createServer(() => authInfo?.extra?.principal as string | undefined), { legacy: 'reject' }),
  );

  async function closeSession(id: string): Promise<void> {
    const session = sessions.get(id);
    sessions.delete(id);
    await session?.transport.close();
  }

  function bind(id: string, session: Session, principal: string): void {
    session.principal = principal;
    if (flaws.has('no-session-limit')) return;
    const mine = [...sessions.entries()].filter(([, s]) => s.principal === principal);
    // Insertion order is age order: the oldest go first.
    for (const [oldId] of mine.slice(0, Math.max(0, mine.length - maxSessions))) if (oldId !== id) void closeSession(oldId);
  }

  async function rateLimited(req: Request, res: Response, principal: string | undefined): Promise<boolean> {
    const messages = Array.isArray(req.body) ? req.body : [req.body];
    const calls = messages.filter((m: { method?: unknown } | null) => m?.method === 'tools/call').length;
    if (calls === 0) return false;
    try {
      await limiter.consume(principal ?? req.ip ?? 'unknown', flaws.has('batch-unlimited') ? 1 : calls);
      return false;
    } catch {
      rpcError(res, 429, 'Too many tool calls; try again later.', { 'retry-after': '60' });
      return true;
    }
  }

  async function legacy(req: Request, res: Response): Promise<void> {
    const principal = principalOf(req);
    let id = req.get('mcp-session-id');
    const isInitialize = !Array.isArray(req.body) && (req.body as { method?: unknown } | undefined)?.method === 'initialize';
    if (!id && req.method === 'POST' && isInitialize) {
      const newId = flaws.has('predictable-ids') ? String(++counter) : randomUUID();
      const session: Session = { principal: undefined, transport: new NodeStreamableHTTPServerTransport({ sessionIdGenerator: () => newId }) };
      sessions.set(newId, session);
      if (principal) bind(newId, session, principal);
      await createServer(() => session.principal).connect(session.transport);
      session.transport.onclose = () => void sessions.delete(newId);
      await session.transport.handleRequest(req, res, req.body);
      return;
    }
    let handedOut = false;
    if (!id && flaws.has('session-handout')) {
      // The advisory's fallback: no session id, so take the latest session, and with it its user.
      id = [...sessions.keys()].at(-1);
      if (id) req.headers['mcp-session-id'] = id;
      handedOut = true;
    }
    if (!id) return rpcError(res, 400, 'Bad Request: send an Mcp-Session-Id, or initialize a new session.');
    const session = sessions.get(id);
    if (!session) {
      if (!flaws.has('adopt-unknown-ids') || req.method !== 'POST') return rpcError(res, 404, 'Session not found');
      const stray = new NodeStreamableHTTPServerTransport({ sessionIdGenerator: undefined });
      await createServer(() => principal).connect(stray);
      await stray.handleRequest(req, res, req.body);
      return;
    }
    if (!flaws.has('no-owner-check') && !handedOut && session.principal !== undefined && session.principal !== principal) {
      return principal === undefined ? rpcError(res, 401, 'Unauthorized', { 'www-authenticate': 'Bearer' }) : rpcError(res, 403, 'Forbidden: not your session');
    }
    if (principal && session.principal === undefined) bind(id, session, principal);
    if (req.method === 'DELETE') {
      if (flaws.has('streams-survive-revocation')) sessions.delete(id);
      else await closeSession(id);
      res.status(200).end();
      return;
    }
    if (req.method === 'POST' && (await rateLimited(req, res, session.principal ?? principal))) return;
    await session.transport.handleRequest(req, res, req.body);
  }

  const app = express();
  app.disable('x-powered-by');
  if (!flaws.has('no-host-check')) app.use(hostHeaderValidation(['127.0.0.1', 'localhost', '[::1]']));
  if (!flaws.has('no-origin-check')) app.use(originValidation(['127.0.0.1', 'localhost', '[::1]']));
  app.use(express.json({ limit: '1mb' }));
  app.all('/mcp', async function mcpEndpoint(req, res) {
    try {
      if (req.method !== 'POST' || (await isLegacyRequest(await toWebRequest(req, req.body)))) {
        await legacy(req, res);
        return;
      }
      const principal = principalOf(req);
      if (!principal) return rpcError(res, 401, 'Unauthorized', { 'www-authenticate': 'Bearer' });
      if (await rateLimited(req, res, principal)) return;
      const auth: AuthInfo = { token: 'verified', clientId: DEMO_CLIENT_ID, scopes: [], extra: { principal } };
      (req as Request & { auth?: AuthInfo }).auth = auth;
      await modern(req, res, req.body);
    } catch {
      if (!res.headersSent) rpcError(res, 500, 'Internal error');
    }
  });
  return {
    app,
    async close() {
      await Promise.all([...sessions.keys()].map(closeSession));
    },
  };
}
