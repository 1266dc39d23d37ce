import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { ALICE, BOB, connectClient, INITIALIZE, login, rawPost, rejectsWithStatus, startGuardedServer, toolText, type GuardedServer } from './helpers.js';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/**
 * The vulnerable baseline from the advisory: per-connection transports, but a tool that, for a
 * session without a user of its own, falls back to the most recently authenticated session.
 */
async function startNaiveLatestSessionServer(): Promise<{ url: URL; login(sessionId: string, user: typeof ALICE): void; close(): Promise<void> }> {
  const users = new Map<string, typeof ALICE>();
  const order: string[] = [];
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const app = express();
  app.use(express.json());
  app.all('/mcp', async function naiveMcp(req, res) {
    const sid = req.headers['mcp-session-id'] as string | undefined;
    let transport = sid ? transports.get(sid) : undefined;
    if (!transport && isInitializeRequest(req.body)) {
      const server = new McpServer({ name: 'naive', version: '0.0.1' });
      const created: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => void transports.set(id, created),
      });
      server.registerTool('get_credentials', {}, async function naiveGetCredentials(extra) {
        const own = users.get(extra.sessionId ?? '');
        const user = own ?? users.get(order.at(-1) ?? ''); // list_sessions()[-1]
        return { content: [{ type: 'text' as const, text: JSON.stringify(user?.credential ?? null) }] };
      });
      await server.connect(created);
      transport = created;
    }
    if (!transport) return void res.status(404).end();
    await transport.handleRequest(req, res, req.body);
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`),
    login(sessionId, user) {
      users.set(sessionId, user);
      order.push(sessionId);
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('MCP session isolation', () => {
  let server: GuardedServer;
  before(async () => {
    server = await startGuardedServer();
  });
  after(async () => {
    await server.close();
  });

  it('lets a client of the naive latest-session server read the previous user’s credentials (the vulnerable baseline)', async () => {
    const naive = await startNaiveLatestSessionServer();
    const a = await connectClient(naive.url);
    naive.login(a.sessionId as string, ALICE);
    const b = await connectClient(naive.url);
    const leaked = toolText(await b.client.callTool({ name: 'get_credentials', arguments: {} }));
    assert.equal(leaked, JSON.stringify(ALICE.credential), 'the baseline must leak, or this file proves nothing');
    await Promise.all([a.close(), b.close()]);
    await naive.close();
  });

  it('gives two clients two different, server-generated sessions', async () => {
    const a = await connectClient(server.endpoint);
    const b = await connectClient(server.endpoint);
    assert.match(a.sessionId ?? '', UUID_RE);
    assert.match(b.sessionId ?? '', UUID_RE);
    assert.notEqual(a.sessionId, b.sessionId);
    assert.equal(toolText(await b.client.callTool({ name: 'whoami', arguments: {} })), 'anonymous');
    const created = server.audit.of('mcp_session_created').map((event) => event.session);
    assert.ok(created.includes(server.guard.auditor.hash(a.sessionId as string)));
    assert.ok(created.includes(server.guard.auditor.hash(b.sessionId as string)));
    await Promise.all([a.close(), b.close()]);
  });

  it('refuses client B the credentials of client A, even when B names A’s email in the tool argument', async () => {
    const a = await connectClient(server.endpoint);
    await login(server, a, 'alice');
    const b = await connectClient(server.endpoint);
    await login(server, b, 'bob');
    const anonymous = await connectClient(server.endpoint);

    const own = await a.client.callTool({ name: 'get_credentials', arguments: { email: ALICE.email } });
    assert.equal(toolText(own), JSON.stringify(ALICE.credential));
    assert.ok(server.audit.of('credential_access_granted').some((e) => e.principal === 'alice'));

    const stolen = await b.client.callTool({ name: 'get_credentials', arguments: { email: 'ALICE@example.com' } });
    assert.equal(stolen.isError, true);
    assert.match(toolText(stolen), /^Permission denied/);
    assert.ok(!toolText(stolen).includes(ALICE.credential.access_token));
    const denied = server.audit.of('unauthorized_credential_access').at(-1);
    assert.equal(denied?.principal, 'bob');
    assert.equal(denied?.reason, 'not_in_session_acl');
    assert.equal(denied?.detail?.email, ALICE.email);
    assert.equal(denied?.session, server.guard.auditor.hash(b.sessionId as string));

    const anon = await anonymous.client.callTool({ name: 'get_credentials', arguments: { email: ALICE.email } });
    assert.equal(anon.isError, true);
    assert.equal(server.audit.of('unauthorized_credential_access').at(-1)?.reason, 'unauthenticated');

    assert.equal(toolText(await b.client.callTool({ name: 'get_credentials', arguments: { email: BOB.email } })), JSON.stringify(BOB.credential));
    await Promise.all([a.close(), b.close(), anonymous.close()]);
  });

  it('answers 404 after the idle timeout and makes the user authenticate again (injected clock, no sleep)', async () => {
    const a = await connectClient(server.endpoint);
    await login(server, a);
    await a.client.callTool({ name: 'whoami', arguments: {} });
    server.clock.advance('31m');
    const err = await rejectsWithStatus(a.client.callTool({ name: 'whoami', arguments: {} }), 404);
    assert.match(err.message, /Session not found/);
    const expired = server.audit.of('mcp_session_expired').at(-1);
    assert.equal(expired?.reason, 'idle_timeout');
    assert.equal(expired?.session, server.guard.auditor.hash(a.sessionId as string));

    const again = await connectClient(server.endpoint);
    assert.notEqual(again.sessionId, a.sessionId);
    const before = await again.client.callTool({ name: 'get_credentials', arguments: { email: ALICE.email } });
    assert.equal(before.isError, true, 'a new session is unauthenticated until the user logs in again');
    await login(server, again);
    assert.equal(toolText(await again.client.callTool({ name: 'get_credentials', arguments: { email: ALICE.email } })), JSON.stringify(ALICE.credential));
    await Promise.all([a.close(), again.close()]);
  });

  it('ends an active session at the absolute timeout (FORCE_REAUTHENTICATION_HOURS) however busy it is', async () => {
    const a = await connectClient(server.endpoint);
    await login(server, a);
    for (let i = 0; i < 11; i += 1) {
      server.clock.advance('20m');
      await a.client.callTool({ name: 'whoami', arguments: {} });
    }
    server.clock.advance('21m'); // 4h01m after login, never idle for more than 21 minutes
    await rejectsWithStatus(a.client.callTool({ name: 'whoami', arguments: {} }), 404);
    assert.equal(server.audit.of('mcp_session_expired').at(-1)?.reason, 'absolute_timeout');
    await a.close();
  });

  it('answers a forged session id with a JSON-RPC 404 and never maps it to another session', async () => {
    const a = await connectClient(server.endpoint);
    await login(server, a);
    const forged = randomUUID();
    const response = await rawPost(server.endpoint, { 'mcp-session-id': forged, 'mcp-protocol-version': '2025-06-18' });
    assert.equal(response.status, 404);
    assert.deepEqual(response.body, { jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null });
    const unknown = server.audit.of('mcp_session_unknown').at(-1);
    assert.equal(unknown?.session, server.guard.auditor.hash(forged));

    // The SDK client "reconnects" to a known id without initializing: the attacker's first call is refused.
    const attacker = await connectClient(server.endpoint, { sessionId: forged });
    await rejectsWithStatus(attacker.client.callTool({ name: 'get_credentials', arguments: { email: ALICE.email } }), 404);
    assert.equal(server.guard.size, 1, 'the forged id created nothing and reached nothing');
    await a.close();
  });

  it('refuses a request without a session id unless it is an initialize request (no fallback to any session)', async () => {
    const a = await connectClient(server.endpoint);
    await login(server, a);
    const response = await rawPost(server.endpoint, {});
    assert.equal(response.status, 400);
    assert.deepEqual(response.body, { jsonrpc: '2.0', error: { code: -32000, message: 'Bad Request: Mcp-Session-Id header is required' }, id: null });
    const fresh = await rawPost(server.endpoint, {}, INITIALIZE);
    assert.equal(fresh.status, 200);
    assert.notEqual(fresh.headers.get('mcp-session-id'), a.sessionId);
    await a.close();
  });
});

describe('MCP session tokens', () => {
  let server: GuardedServer;
  before(async () => {
    server = await startGuardedServer({ tokenTtl: '10m' });
  });
  after(async () => {
    await server.close();
  });

  it('refuses an authenticated session to a request that knows the id but not the token (fixation)', async () => {
    const a = await connectClient(server.endpoint);
    await login(server, a);
    const response = await rawPost(server.endpoint, { 'mcp-session-id': a.sessionId as string, 'mcp-protocol-version': '2025-06-18' });
    assert.equal(response.status, 401);
    assert.deepEqual(response.body, {
      jsonrpc: '2.0',
      error: { code: -32000, message: 'Unauthorized: this session is authenticated; send its token in X-Session-Token.' },
      id: null,
    });
    assert.equal(server.audit.of('session_token_mismatch').at(-1)?.reason, 'token_missing');
    await a.close();
  });

  it('refuses a tampered token whose payload names another principal', async () => {
    const a = await connectClient(server.endpoint);
    const token = await login(server, a);
    const [body, signature] = token.split('.') as [string, string];
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    const forged = `${Buffer.from(JSON.stringify({ ...payload, sub: 'bob' })).toString('base64url')}.${signature}`;
    a.token = forged;
    await rejectsWithStatus(a.client.callTool({ name: 'whoami', arguments: {} }), 401);
    const event = server.audit.of('invalid_token_signature').at(-1);
    assert.equal(event?.reason, 'signature');
    assert.equal(event?.session, server.guard.auditor.hash(a.sessionId as string));
    a.token = token;
    assert.equal(toolText(await a.client.callTool({ name: 'whoami', arguments: {} })), 'alice');
    await a.close();
  });

  it('refuses the token of session A sent with the id of session B', async () => {
    const a = await connectClient(server.endpoint);
    const aliceToken = await login(server, a);
    const b = await connectClient(server.endpoint);
    b.token = aliceToken; // B is not authenticated: the token is A's
    await rejectsWithStatus(b.client.callTool({ name: 'whoami', arguments: {} }), 401);
    assert.equal(server.audit.of('session_token_mismatch').at(-1)?.reason, 'token_for_other_session');

    await login(server, b, 'bob');
    b.token = aliceToken; // B is bob's now: still not A's token to use here
    const err = await rejectsWithStatus(b.client.callTool({ name: 'get_credentials', arguments: { email: ALICE.email } }), 401);
    assert.match(err.message, /belongs to another session/);
    assert.equal(server.audit.of('session_token_mismatch').at(-1)?.session, server.guard.auditor.hash(b.sessionId as string));
    await Promise.all([a.close(), b.close()]);
  });

  it('accepts the token as Authorization: Session <token> too', async () => {
    const a = await connectClient(server.endpoint);
    const token = await login(server, a);
    a.token = undefined;
    a.headers = { ...a.headers, authorization: `Session ${token}` };
    assert.equal(toolText(await a.client.callTool({ name: 'whoami', arguments: {} })), 'alice');
    await a.close();
  });

  it('supersedes the old token when the session authenticates again', async () => {
    const a = await connectClient(server.endpoint);
    const first = await login(server, a);
    const second = await login(server, a);
    assert.notEqual(first, second);
    a.token = first;
    await rejectsWithStatus(a.client.callTool({ name: 'whoami', arguments: {} }), 401);
    assert.equal(server.audit.of('session_token_mismatch').at(-1)?.reason, 'token_superseded');
    a.token = second;
    assert.equal(toolText(await a.client.callTool({ name: 'whoami', arguments: {} })), 'alice');
    await a.close();
  });

  it('refuses to authorize a session that already belongs to another principal', async () => {
    const a = await connectClient(server.endpoint);
    await login(server, a, 'alice');
    await assert.rejects(login(server, a, 'bob'), /403/);
    assert.equal(server.audit.of('session_owner_mismatch').at(-1)?.reason, 'reauthorization_by_other_principal');
    await a.close();
  });

  it('refuses an expired token with 401 and an expired_token audit line', async () => {
    const a = await connectClient(server.endpoint);
    await login(server, a);
    server.clock.advance('11m'); // token lives 10 minutes; the session is not idle-expired yet
    const err = await rejectsWithStatus(a.client.callTool({ name: 'whoami', arguments: {} }), 401);
    assert.match(err.message, /expired/);
    assert.equal(server.audit.of('expired_token').length, 1);
    await login(server, a);
    assert.equal(toolText(await a.client.callTool({ name: 'whoami', arguments: {} })), 'alice');
    await a.close();
  });
});
