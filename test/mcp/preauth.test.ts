import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectClient, INITIALIZE, login, rawPost, withGuardedServer, type GuardedServer } from './helpers.js';

const PROXY = { trustProxy: 1 };

async function open(server: GuardedServer, ip: string): Promise<number> {
  const answer = await rawPost(server.endpoint, { 'x-forwarded-for': ip }, INITIALIZE);
  return answer.status;
}

async function flood(server: GuardedServer, ips: string[], each: number): Promise<number[]> {
  const statuses: number[] = [];
  for (const ip of ips) for (let i = 0; i < each; i++) statuses.push(await open(server, ip));
  return statuses;
}

describe('MCP pre-authentication floods', () => {
  it('locks every new user out for the whole idle timeout when unauthenticated sessions share the one session cap (the attack)', async () => {
    await withGuardedServer(
      { preAuth: false, maxSessions: 6 },
      async (server) => {
        assert.deepEqual(await flood(server, ['10.0.0.1', '10.0.0.2'], 3), [200, 200, 200, 200, 200, 200]);
        assert.equal(await open(server, '192.0.2.7'), 503, 'a new user is refused');
        server.clock.advance('29m');
        assert.equal(await open(server, '192.0.2.7'), 503, 'and still is 29 minutes later');
      },
      PROXY,
    );
  });

  it('holds never-authenticated sessions to a small per-IP cap', async () => {
    await withGuardedServer(
      { preAuth: { maxPerIp: 3, maxSessions: 100, idleTimeout: '2m' } },
      async (server) => {
        assert.deepEqual(await flood(server, ['10.0.0.1'], 4), [200, 200, 200, 429]);
        assert.equal(server.audit.of('mcp_session_limit').at(-1)?.reason, 'preauth_per_ip');
        assert.equal(await open(server, '10.0.0.2'), 200, 'another address is not affected');
      },
      PROXY,
    );
  });

  it('caps them in total and drains them on the short pre-auth idle timeout of the injected clock', async () => {
    await withGuardedServer(
      { preAuth: { maxPerIp: 3, maxSessions: 6, idleTimeout: '2m' }, maxSessions: 100 },
      async (server) => {
        assert.deepEqual(await flood(server, ['10.0.0.1', '10.0.0.2'], 3), [200, 200, 200, 200, 200, 200]);
        assert.equal(await open(server, '192.0.2.7'), 503);
        assert.equal(server.audit.of('mcp_session_limit').at(-1)?.reason, 'preauth_total');
        server.clock.advance('1m');
        assert.equal(await open(server, '192.0.2.7'), 503);
        server.clock.advance('1m');
        assert.equal(await open(server, '192.0.2.7'), 200, 'the flood expired after 2 idle minutes');
        assert.equal(server.guard.size, 1);
      },
      PROXY,
    );
  });

  it('does not count authenticated sessions, nor expire them on the pre-auth timeout', async () => {
    await withGuardedServer(
      { preAuth: { maxPerIp: 1, maxSessions: 1, idleTimeout: '2m' } },
      async (server) => {
        const a = await connectClient(server.endpoint);
        await login(server, a);
        const b = await connectClient(server.endpoint); // the pool is free again: a authenticated
        assert.ok(b.sessionId);
        server.clock.advance('3m');
        assert.equal((await rawPost(server.endpoint, { 'mcp-session-id': a.sessionId as string, 'x-session-token': a.token as string, 'mcp-protocol-version': '2025-06-18' })).status, 200);
        assert.equal((await rawPost(server.endpoint, { 'mcp-session-id': b.sessionId as string, 'mcp-protocol-version': '2025-06-18' })).status, 404, 'the idle unauthenticated one expired');
        await Promise.all([a.close(), b.close()]);
      },
    );
  });
});
