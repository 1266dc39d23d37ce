import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient } from 'redis';
import { startRedisServer } from '../../scripts/redis-server.js';
import { InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { ALICE, BOB, connectClient, INITIALIZE, login, rawPost, rejectsWithStatus, SECRET, startGuardedServer, toolText, type GuardedServer } from './helpers.js';

const PROTOCOL = { 'mcp-protocol-version': '2025-06-18' };

describe('MCP connection fingerprint', () => {
  it('rejects a stolen id and token used from another client under the reject policy', async () => {
    const server = await startGuardedServer({ fingerprint: { policy: 'reject' } });
    const a = await connectClient(server.endpoint);
    const token = await login(server, a);
    const stolen = await rawPost(server.endpoint, { ...PROTOCOL, 'mcp-session-id': a.sessionId as string, 'x-session-token': token, 'user-agent': 'attacker-agent/6.6' });
    assert.equal(stolen.status, 403);
    assert.deepEqual(stolen.body, { jsonrpc: '2.0', error: { code: -32000, message: 'Forbidden: this connection does not match the one the session was created on.' }, id: null });
    const event = server.audit.of('connection_fingerprint_mismatch').at(-1);
    assert.equal(event?.reason, 'rejected');
    assert.equal(event?.detail?.policy, 'reject');
    assert.equal(toolText(await a.client.callTool({ name: 'whoami', arguments: {} })), 'alice', 'the real client is unaffected');
    await a.close();
    await server.close();
  });

  it('lets the same stolen id and token through under the audit policy, but writes the audit line', async () => {
    const server = await startGuardedServer({ fingerprint: { policy: 'audit' } });
    const a = await connectClient(server.endpoint);
    const token = await login(server, a);
    const stolen = await rawPost(server.endpoint, { ...PROTOCOL, 'mcp-session-id': a.sessionId as string, 'x-session-token': token, 'user-agent': 'attacker-agent/6.6' });
    assert.equal(stolen.status, 200, 'audit policy only records the mismatch');
    const event = server.audit.of('connection_fingerprint_mismatch').at(-1);
    assert.equal(event?.reason, 'audited');
    assert.equal(event?.session, server.guard.auditor.hash(a.sessionId as string));
    await a.close();
    await server.close();
  });

  it('checks the fingerprint of unauthenticated sessions too, and can include the IP', async () => {
    const server = await startGuardedServer({ fingerprint: { inputs: ['userAgent', 'clientInfo', 'ip'] } });
    const a = await connectClient(server.endpoint);
    const other = await rawPost(server.endpoint, { ...PROTOCOL, 'mcp-session-id': a.sessionId as string, 'user-agent': 'curl/8' });
    assert.equal(other.status, 403);
    assert.equal(server.audit.of('connection_fingerprint_mismatch').length, 1);
    assert.equal(toolText(await a.client.callTool({ name: 'whoami', arguments: {} })), 'anonymous');
    await a.close();
    await server.close();
  });
});

describe('MCP rate limits', () => {
  it('answers 429 with Retry-After once an IP exceeds its budget, and audits it', async () => {
    const server = await startGuardedServer({ rateLimit: { perIp: { points: 5, window: '1m' }, perPrincipal: false } });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i += 1) statuses.push((await rawPost(server.endpoint, {}, INITIALIZE)).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429]);
    const limited = await rawPost(server.endpoint, {}, INITIALIZE);
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    assert.deepEqual(limited.body, { jsonrpc: '2.0', error: { code: -32000, message: 'Too many requests; slow down.' }, id: null });
    assert.equal(server.audit.of('rate_limit_exceeded').at(-1)?.reason, 'per_ip');
    await server.close();
  });

  it('lets the same burst through when rate limiting is off', async () => {
    const server = await startGuardedServer({ rateLimit: false });
    for (let i = 0; i < 8; i += 1) assert.equal((await rawPost(server.endpoint, {}, INITIALIZE)).status, 200);
    assert.equal(server.audit.of('rate_limit_exceeded').length, 0);
    await server.close();
  });

  it('limits a principal across all of its sessions', async () => {
    const server = await startGuardedServer({ rateLimit: { perIp: false, perPrincipal: { points: 3, window: '1m' } } });
    const a = await connectClient(server.endpoint);
    await login(server, a);
    const b = await connectClient(server.endpoint);
    await login(server, b);
    await a.client.callTool({ name: 'whoami', arguments: {} });
    await b.client.callTool({ name: 'whoami', arguments: {} });
    await a.client.callTool({ name: 'whoami', arguments: {} });
    await rejectsWithStatus(b.client.callTool({ name: 'whoami', arguments: {} }), 429);
    const event = server.audit.of('rate_limit_exceeded').at(-1);
    assert.equal(event?.reason, 'per_principal');
    assert.equal(event?.principal, 'alice');
    await Promise.all([a.close(), b.close()]);
    await server.close();
  });

  it('shares the counters of several instances through Redis (node-redis client)', async () => {
    // The test runner provides REDIS_URL; run on its own, the file starts a private server.
    const ownServer = process.env.REDIS_URL ? undefined : await startRedisServer();
    const redis = createClient({ url: process.env.REDIS_URL ?? ownServer?.url });
    await redis.connect();
    const keyPrefix = `fg:test:${Date.now()}`;
    const rateLimit = { perIp: { points: 4, window: '1m' }, perPrincipal: false as const, redis, keyPrefix };
    const one = await startGuardedServer({ rateLimit });
    const two = await startGuardedServer({ rateLimit });
    const statuses: number[] = [];
    for (const server of [one, two, one, two, one]) statuses.push((await rawPost(server.endpoint, {}, INITIALIZE)).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 429]);
    assert.equal(one.audit.of('rate_limit_exceeded').length, 1);
    assert.ok((await redis.keys(`${keyPrefix}*`)).length > 0, 'the counters live in Redis');
    await Promise.all([one.close(), two.close()]);
    await redis.quit();
    await ownServer?.stop();
  });
});

describe('MCP session limits and lifecycle', () => {
  let server: GuardedServer;
  before(async () => {
    server = await startGuardedServer({ maxSessionsPerUser: 2, allowedOrigins: ['https://app.example.com'] });
  });
  after(async () => {
    await server.close();
  });

  it('evicts the oldest session when a user exceeds MAX_SESSIONS_PER_USER', async () => {
    const first = await connectClient(server.endpoint);
    await login(server, first);
    server.clock.advance('1s');
    const second = await connectClient(server.endpoint);
    await login(server, second);
    server.clock.advance('1s');
    const third = await connectClient(server.endpoint);
    await login(server, third);
    await rejectsWithStatus(first.client.callTool({ name: 'whoami', arguments: {} }), 404);
    assert.equal(toolText(await second.client.callTool({ name: 'whoami', arguments: {} })), 'alice');
    assert.equal(toolText(await third.client.callTool({ name: 'whoami', arguments: {} })), 'alice');
    const limit = server.audit.of('mcp_session_limit').at(-1);
    assert.equal(limit?.reason, 'evictOldest');
    assert.equal(limit?.session, server.guard.auditor.hash(first.sessionId as string));
    await Promise.all([first.close(), second.close(), third.close()]);
    server.guard.revokePrincipalSessions('alice');
  });

  it('refuses a login over the limit under the rejectLogin policy', async () => {
    const strict = await startGuardedServer({ maxSessionsPerUser: 1, onSessionLimit: 'rejectLogin' });
    const first = await connectClient(strict.endpoint);
    await login(strict, first);
    const second = await connectClient(strict.endpoint);
    await assert.rejects(login(strict, second), /409/);
    assert.equal(strict.audit.of('mcp_session_limit').at(-1)?.reason, 'rejectLogin');
    assert.equal(toolText(await first.client.callTool({ name: 'whoami', arguments: {} })), 'alice');
    await Promise.all([first.close(), second.close()]);
    await strict.close();
  });

  it('refuses DELETE of a session by anyone but its owner, and lets the owner end it', async () => {
    const a = await connectClient(server.endpoint);
    await login(server, a);
    const b = await connectClient(server.endpoint);
    const bobToken = await login(server, b, 'bob');
    const anonymous = await fetch(server.endpoint, { method: 'DELETE', headers: { ...PROTOCOL, 'mcp-session-id': a.sessionId as string, 'user-agent': 'test-agent/1.0' } });
    assert.equal(anonymous.status, 401);
    const asBob = await fetch(server.endpoint, {
      method: 'DELETE',
      headers: { ...PROTOCOL, 'mcp-session-id': a.sessionId as string, 'x-session-token': bobToken, 'user-agent': 'test-agent/1.0' },
    });
    assert.equal(asBob.status, 401);
    assert.deepEqual(await asBob.json(), { jsonrpc: '2.0', error: { code: -32000, message: 'Unauthorized: the session token belongs to another session.' }, id: null });
    assert.equal(server.audit.of('session_token_mismatch').at(-1)?.session, server.guard.auditor.hash(a.sessionId as string));
    assert.equal(toolText(await a.client.callTool({ name: 'whoami', arguments: {} })), 'alice', 'the session survived');

    const id = a.sessionId as string;
    await a.transport.terminateSession();
    assert.equal(server.audit.of('mcp_session_revoked').at(-1)?.reason, 'client_terminated');
    const after = await rawPost(server.endpoint, { ...PROTOCOL, 'mcp-session-id': id, 'x-session-token': a.token as string });
    assert.equal(after.status, 404);
    await Promise.all([a.close(), b.close()]);
  });

  it('refuses a browser Origin that is not on the allowlist with 403', async () => {
    const evil = await rawPost(server.endpoint, { origin: 'https://evil.example' }, INITIALIZE);
    assert.equal(evil.status, 403);
    assert.deepEqual(evil.body, { jsonrpc: '2.0', error: { code: -32000, message: 'Forbidden: origin not allowed' }, id: null });
    assert.equal(server.audit.of('origin_rejected').at(-1)?.detail?.origin, 'https://evil.example');
    assert.equal((await rawPost(server.endpoint, { origin: 'https://app.example.com' }, INITIALIZE)).status, 200);
    assert.equal((await rawPost(server.endpoint, {}, INITIALIZE)).status, 200, 'non-browser clients send no Origin');
  });

  it('revokes the current session with the revoke_current_session tool', async () => {
    const a = await connectClient(server.endpoint);
    await login(server, a);
    const result = await a.client.callTool({ name: 'revoke_current_session', arguments: {} });
    assert.match(toolText(result), /Session revoked/);
    await rejectsWithStatus(a.client.callTool({ name: 'whoami', arguments: {} }), 404);
    const revoked = server.audit.of('mcp_session_revoked').at(-1);
    assert.equal(revoked?.reason, 'revoke_current_session');
    assert.equal(revoked?.session, server.guard.auditor.hash(a.sessionId as string));
    await a.close();
  });

  it('reports the session status at session://validate without raw ids', async () => {
    const a = await connectClient(server.endpoint);
    await login(server, a, 'bob');
    const read = await a.client.readResource({ uri: 'session://validate' });
    const text = (read.contents[0] as { text: string }).text;
    const status = JSON.parse(text);
    assert.equal(status.valid, true);
    assert.equal(status.authenticated, true);
    assert.equal(status.principal, 'bob');
    assert.deepEqual(status.emails, [BOB.email]);
    assert.equal(status.session, server.guard.auditor.hash(a.sessionId as string));
    assert.ok(!text.includes(a.sessionId as string));
    assert.ok(!text.includes(a.token as string));
    await a.close();
  });

  it('revokes every session at once with emergencyDisableSessionReuse()', async () => {
    const a = await connectClient(server.endpoint);
    await login(server, a);
    const b = await connectClient(server.endpoint);
    await login(server, b, 'bob');
    const revoked = server.guard.emergencyDisableSessionReuse('incident-42');
    assert.ok(revoked >= 2);
    assert.equal(server.guard.size, 0);
    await rejectsWithStatus(a.client.callTool({ name: 'whoami', arguments: {} }), 404);
    await rejectsWithStatus(b.client.callTool({ name: 'get_credentials', arguments: { email: BOB.email } }), 404);
    const emergency = server.audit.of('emergency_disable_session_reuse').at(-1);
    assert.equal(emergency?.reason, 'incident-42');
    assert.equal(emergency?.detail?.revoked, revoked);
    const fresh = await connectClient(server.endpoint);
    const denied = await fresh.client.callTool({ name: 'get_credentials', arguments: { email: ALICE.email } });
    assert.equal(denied.isError, true, 'a new connection starts unauthenticated');
    await Promise.all([a.close(), b.close(), fresh.close()]);
  });

  it('keeps raw session ids, tokens and credentials out of the JSONL audit file', async () => {
    const a = await connectClient(server.endpoint);
    const token = await login(server, a);
    await a.client.callTool({ name: 'get_credentials', arguments: { email: ALICE.email } });
    await rawPost(server.endpoint, { ...PROTOCOL, 'mcp-session-id': a.sessionId as string, 'x-session-token': `${token}x` });
    const file = server.readAuditFile();
    const lines = file.trim().split('\n').map((line) => JSON.parse(line));
    assert.ok(lines.some((line) => line.type === 'session_token_issued'));
    assert.ok(lines.some((line) => line.type === 'credential_access_granted'));
    assert.ok(lines.some((line) => line.type === 'invalid_token_signature'));
    for (const secret of [a.sessionId as string, token, token.split('.')[1] as string, ALICE.credential.access_token, ALICE.credential.refresh_token, SECRET]) {
      assert.ok(!file.includes(secret), `the audit file must not contain ${secret.slice(0, 6)}…`);
    }
    await a.close();
  });
});

describe('MCP bearer authentication', () => {
  const tokens = new Map<string, AuthInfo>();
  const expiresAt = Math.floor(Date.now() / 1000) + 3600;
  const aliceExtra = { iss: 'https://idp.example', sub: 'user-1', email: ALICE.email };
  tokens.set('alice-token-1', { token: 'alice-token-1', clientId: 'client-a', scopes: ['mcp'], expiresAt, extra: aliceExtra });
  tokens.set('alice-token-2', { token: 'alice-token-2', clientId: 'client-a', scopes: ['mcp'], expiresAt, extra: aliceExtra });
  tokens.set('bob-token', { token: 'bob-token', clientId: 'client-b', scopes: ['mcp'], expiresAt, extra: { iss: 'https://idp.example', sub: 'user-2', email: BOB.email } });
  const verifier = {
    async verifyAccessToken(token: string): Promise<AuthInfo> {
      const info = tokens.get(token);
      if (!info) throw new InvalidTokenError('Unknown token');
      return info;
    },
  };

  it('binds the session to the bearer’s principal, survives a token refresh, and refuses another principal', async () => {
    const server = await startGuardedServer({ bearer: { verifier } });
    await server.guard.vault.set(ALICE.email, ALICE.credential);
    const noBearer = await rawPost(server.endpoint, {}, INITIALIZE);
    assert.equal(noBearer.status, 401, 'the SDK’s requireBearerAuth answers requests without a token');

    const a = await connectClient(server.endpoint, { headers: { authorization: 'Bearer alice-token-1' } });
    assert.equal(toolText(await a.client.callTool({ name: 'whoami', arguments: {} })), 'https://idp.example|user-1');
    assert.equal(toolText(await a.client.callTool({ name: 'get_credentials', arguments: { email: ALICE.email } })), JSON.stringify(ALICE.credential));

    a.headers = { ...a.headers, authorization: 'Bearer alice-token-2' }; // refreshed access token, same principal
    assert.equal(toolText(await a.client.callTool({ name: 'whoami', arguments: {} })), 'https://idp.example|user-1');

    const hijack = await rawPost(server.endpoint, { ...PROTOCOL, 'mcp-session-id': a.sessionId as string, authorization: 'Bearer bob-token' });
    assert.equal(hijack.status, 403);
    assert.equal(server.audit.of('session_owner_mismatch').at(-1)?.reason, 'bearer_principal_differs');
    const bogus = await rawPost(server.endpoint, { ...PROTOCOL, 'mcp-session-id': a.sessionId as string, authorization: 'Bearer forged' });
    assert.equal(bogus.status, 401);
    assert.equal(server.audit.of('invalid_token_signature').at(-1)?.reason, 'bearer_rejected');
    await a.close();
    await server.close();
  });
});
