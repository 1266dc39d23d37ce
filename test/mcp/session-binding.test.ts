import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { MemorySessionIndex } from '../../src/session-index/index.js';
import { ALICE, BOB, connectClient, INITIALIZE, login, rawPost, toolText, withGuardedServer } from './helpers.js';

const verifier = {
  async verifyAccessToken(token: string): Promise<AuthInfo> {
    if (token !== 'alice-token') throw new InvalidTokenError('Unknown token');
    return { token, clientId: 'client', scopes: [], extra: { sub: 'alice' }, expiresAt: Math.floor(Date.now() / 1000) + 3600 };
  },
};

describe('mcpSessionBinding', () => {
  it('leaves no index entry behind for an initialize its principal’s rate limit refused after the bearer bound it', async () => {
    const index = new MemorySessionIndex();
    await withGuardedServer({
      bearer: { verifier, required: false },
      fleet: { index },
      rateLimit: { perIp: false, perPrincipal: { points: 1, window: '1m' } },
      maxSessionsPerUser: 2,
      onSessionLimit: 'rejectLogin',
    }, async (server) => {
        const first = await rawPost(server.endpoint, { authorization: 'Bearer alice-token' }, INITIALIZE);
        assert.equal(first.status, 200);
        assert.equal((await rawPost(server.endpoint, { authorization: 'Bearer alice-token' }, INITIALIZE)).status, 429);
        await server.guard.settled();
        assert.deepEqual((await index.list('alice')).map((entry) => entry.sessionId), [first.headers.get('mcp-session-id')], 'only the live session is counted');
        // A ghost entry would count against the limit of 2 and, under rejectLogin, lock Alice out of her second session.
        const second = await connectClient(server.endpoint);
        await login(server, second, 'alice'); // throws unless authorizeSession answered 200
        assert.equal((await index.list('alice')).length, 2);
        await second.close();
    });
  });

  it("refuses the second principal of two racing authorizations of one session before it touches that principal's index", async () => {
    const index = new MemorySessionIndex();
    await withGuardedServer({ fleet: { index }, maxSessionsPerUser: 1, onSessionLimit: 'evictOldest' }, async (server) => {
      const bobsFirst = await connectClient(server.endpoint);
      await login(server, bobsFirst, 'bob');
      const shared = await connectClient(server.endpoint);
      const sessionId = shared.sessionId as string;
      // Both pass the synchronous checks before either awaits: they race through the admission.
      const outcomes = await Promise.allSettled([
        server.guard.authorizeSession(sessionId, { principal: ALICE.principal, email: ALICE.email }),
        server.guard.authorizeSession(sessionId, { principal: BOB.principal, email: BOB.email }),
      ]);
      assert.deepEqual(outcomes.map((outcome) => outcome.status), ['fulfilled', 'rejected'], 'the first binding wins');
      assert.equal((outcomes[1] as PromiseRejectedResult).reason.code, 'SESSION_OWNER_MISMATCH');
      assert.deepEqual((await index.list(ALICE.principal)).map((entry) => entry.sessionId), [sessionId]);
      // Admitted, bob's binding would have evicted his first session (limit 1) for a place he did not get.
      assert.deepEqual((await index.list(BOB.principal)).map((entry) => entry.sessionId), [bobsFirst.sessionId], "only bob's own session");
      assert.equal(toolText(await bobsFirst.client.callTool({ name: 'whoami', arguments: {} })), 'bob');
      // An entry of the shared session left in bob's index would be evicted by his next session, ending alice's.
      const bobsNext = await connectClient(server.endpoint);
      await login(server, bobsNext, 'bob');
      shared.token = (outcomes[0] as PromiseFulfilledResult<{ token: string }>).value.token;
      assert.equal(toolText(await shared.client.callTool({ name: 'whoami', arguments: {} })), 'alice');
      await Promise.all([shared.close(), bobsFirst.close(), bobsNext.close()]);
    });
  });

  it('gives a request without a session id nothing but a new session: anything other than initialize is 400', async () => {
    await withGuardedServer({}, async (server) => {
        const victim = await connectClient(server.endpoint);
        const stray = await rawPost(server.endpoint, { 'mcp-protocol-version': '2025-06-18' });
        assert.equal(stray.status, 400);
        assert.equal(stray.body.error.message, 'Bad Request: Mcp-Session-Id header is required');
        const fresh = await connectClient(server.endpoint);
        assert.notEqual(fresh.sessionId, victim.sessionId);
        assert.equal(toolText(await fresh.client.callTool({ name: 'whoami', arguments: {} })), 'anonymous');
        await Promise.all([victim.close(), fresh.close()]);
    });
  });

  it('reaches neither session with two Mcp-Session-Id headers (joined into one value, an id nobody holds)', async () => {
    await withGuardedServer({}, async (server) => {
        const a = await connectClient(server.endpoint);
        const b = await connectClient(server.endpoint);
        const headers = new Headers({ 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' });
        headers.append('mcp-session-id', a.sessionId as string);
        headers.append('mcp-session-id', b.sessionId as string);
        const answer = await fetch(server.endpoint, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }) });
        assert.equal(answer.status, 404);
        assert.deepEqual(await answer.json(), { jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null });
        await Promise.all([a.close(), b.close()]);
    });
  });

  it('ends the sessions that are due (by the injected clock) before it opens a new one', async () => {
    await withGuardedServer({ preAuth: false }, async (server) => {
        const clients = [];
        for (let i = 0; i < 3; i++) clients.push(await connectClient(server.endpoint));
        server.clock.advance('31m');
        const fresh = await connectClient(server.endpoint); // its initialize sweeps the three idle sessions
        assert.equal(server.guard.size, 1);
        assert.equal(server.audit.of('mcp_session_expired').length, 3);
        assert.equal(server.guard.sweepExpiredSessions(), 0, 'nothing else is due');
        await Promise.all([...clients.map((client) => client.close()), fresh.close()]);
    });
  });
});
