/**
 * Two adapter instances on one real redis-server: the per-user limit, revocations and the
 * emergency switch hold across them (sticky routing keeps each session on its instance).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createClient } from 'redis';
import { startRedisServer } from '../../scripts/redis-server.js';
import { createRedisMcpFleet } from '../../src/redis/index.js';
import { createMcpSessionGuard } from '../../src/mcp/index.js';
import { connectClient, credentialServerFactory, login, openStream, rawPost, SECRET, startGuardedServer, type GuardedServer, type TestClient } from './helpers.js';

type Redis = ReturnType<typeof createClient>;
const PROTOCOL = { 'mcp-protocol-version': '2025-06-18' };

async function alive(server: GuardedServer, client: TestClient): Promise<number> {
  const answer = await rawPost(server.endpoint, { ...PROTOCOL, 'mcp-session-id': client.sessionId as string, 'x-session-token': client.token as string });
  return answer.status;
}

describe('MCP fleet on one Redis', () => {
  let ownServer: Awaited<ReturnType<typeof startRedisServer>> | undefined;
  let redis: Redis;
  before(async () => {
    ownServer = process.env.REDIS_URL ? undefined : await startRedisServer();
    redis = createClient({ url: process.env.REDIS_URL ?? ownServer?.url });
    await redis.connect();
  });
  after(async () => {
    await redis.quit();
    await ownServer?.stop();
  });

  /** Two instances; `shared` false gives each its own memory registry (the old, per-process behaviour). */
  async function twoInstances(shared: boolean, overrides = {}): Promise<[GuardedServer, GuardedServer]> {
    const prefix = `fg:{mcp-${randomBytes(4).toString('hex')}}:`;
    const fleet = () => (shared ? { fleet: createRedisMcpFleet({ client: redis, prefix }) } : {});
    return [await startGuardedServer({ maxSessionsPerUser: 2, ...fleet(), ...overrides }), await startGuardedServer({ maxSessionsPerUser: 2, ...fleet(), ...overrides })];
  }

  async function aliceEverywhere(a: GuardedServer, b: GuardedServer): Promise<TestClient[]> {
    const clients: TestClient[] = [];
    for (const server of [a, b, a, b]) {
      const client = await connectClient(server.endpoint);
      await login(server, client);
      clients.push(client);
    }
    await Promise.all([a.guard.settled(), b.guard.settled()]);
    return clients;
  }

  it("ready() resolves once the instance hears the fleet: the subscription is live then, and gone after close()", async () => {
    const prefix = `fg:{mcp-${randomBytes(4).toString('hex')}}:`;
    const channel = `${prefix}mcp:events`;
    const guard = createMcpSessionGuard({ sessionSecret: SECRET, createServer: credentialServerFactory(), fleet: createRedisMcpFleet({ client: redis, prefix }), rateLimit: false, sweepInterval: false });
    try {
      await guard.ready();
      assert.equal((await redis.pubSubNumSub(channel))[channel], 1);
    } finally {
      await guard.close();
    }
    assert.equal((await redis.pubSubNumSub(channel))[channel], 0);
  });

  it('survives its Redis going away: the subscriber reports it instead of crashing the process, and close() does not wait for Redis', async () => {
    const own = await startRedisServer();
    const client = createClient({ url: own.url });
    client.on('error', () => undefined);
    await client.connect();
    const guard = createMcpSessionGuard({ sessionSecret: SECRET, createServer: credentialServerFactory(), fleet: createRedisMcpFleet({ client, prefix: 'fg:{mcp-down}:' }), rateLimit: false, sweepInterval: false });
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.message);
    process.on('warning', onWarning);
    try {
      await guard.ready();
      await own.stop();
      // Before: the subscriber had no 'error' listener, and its socket error ended the process.
      for (let i = 0; i < 200 && !warnings.some((w) => w.includes('subscription lost its connection')); i++) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.ok(warnings.some((w) => w.includes('subscription lost its connection')), 'the outage was reported');
      let timer: NodeJS.Timeout | undefined;
      const stuck = new Promise<'stuck'>((resolve) => (timer = setTimeout(() => resolve('stuck'), 3_000)));
      const closed = await Promise.race([guard.close().then(() => 'closed' as const), stuck]);
      clearTimeout(timer);
      assert.equal(closed, 'closed', 'close() waited for a Redis that is gone');
    } finally {
      process.off('warning', onWarning);
      client.destroy();
    }
  });

  it('does not hold close() on a Redis that was already down when the guard subscribed: ready() rejects', async () => {
    const own = await startRedisServer();
    const client = createClient({ url: own.url });
    client.on('error', () => undefined);
    await client.connect();
    await own.stop();
    const onWarning = () => undefined;
    process.on('warning', onWarning);
    const guard = createMcpSessionGuard({ sessionSecret: SECRET, createServer: credentialServerFactory(), fleet: createRedisMcpFleet({ client, prefix: 'fg:{mcp-never}:', operationTimeout: '200ms' }), rateLimit: false, sweepInterval: false });
    /** `promise`'s outcome, or 'stuck' after 3 s. */
    async function within<T>(promise: Promise<T>): Promise<T | 'stuck'> {
      let timer: NodeJS.Timeout | undefined;
      const stuck = new Promise<'stuck'>((resolve) => (timer = setTimeout(() => resolve('stuck'), 3_000)));
      try {
        return await Promise.race([promise, stuck]);
      } finally {
        clearTimeout(timer);
      }
    }
    try {
      // Before: the first connect kept retrying, so ready() never settled and close() waited on it.
      assert.equal(await within(guard.ready().then(() => 'ready', () => 'rejected')), 'rejected');
      assert.equal(await within(guard.close().then(() => 'closed')), 'closed', 'close() waited for a subscription that never connected');
    } finally {
      process.off('warning', onWarning);
      client.destroy();
    }
  });

  it('lets a user hold 4 sessions under MAX_SESSIONS_PER_USER=2 across two instances with per-process registries (the attack)', async () => {
    const [a, b] = await twoInstances(false);
    try {
      const clients = await aliceEverywhere(a, b);
      const statuses = [await alive(a, clients[0]!), await alive(b, clients[1]!), await alive(a, clients[2]!), await alive(b, clients[3]!)];
      assert.deepEqual(statuses, [200, 200, 200, 200]);
      await Promise.all(clients.map((c) => c.close()));
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('allows 2 across both instances with the shared registry: the oldest are ended where they live', async () => {
    const [a, b] = await twoInstances(true);
    try {
      const clients = await aliceEverywhere(a, b);
      const statuses = [await alive(a, clients[0]!), await alive(b, clients[1]!), await alive(a, clients[2]!), await alive(b, clients[3]!)];
      assert.deepEqual(statuses, [404, 404, 200, 200]);
      await Promise.all(clients.map((c) => c.close()));
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('refuses the third login anywhere under rejectLogin', async () => {
    const [a, b] = await twoInstances(true, { onSessionLimit: 'rejectLogin' });
    try {
      const one = await connectClient(a.endpoint);
      await login(a, one);
      const two = await connectClient(b.endpoint);
      await login(b, two);
      const three = await connectClient(a.endpoint);
      await assert.rejects(login(a, three), /login failed: 409/);
      await Promise.all([one.close(), two.close(), three.close()]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('ends B’s sessions when the emergency switch is thrown on A, open streams included', async () => {
    const [a, b] = await twoInstances(true);
    try {
      const onB = await connectClient(b.endpoint);
      await login(b, onB);
      const { ended } = await openStream(b, onB, PROTOCOL);
      a.guard.emergencyDisableSessionReuse();
      await a.guard.settled();
      await ended; // B cut its stream on A's message
      assert.equal(b.guard.size, 0);
      assert.equal(await alive(b, onB), 404);
      assert.equal(b.audit.of('mcp_session_revoked').at(-1)?.reason, 'emergency_disable_session_reuse');
      await onB.close();
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('ends a principal’s sessions on every instance', async () => {
    const [a, b] = await twoInstances(true);
    try {
      const onA = await connectClient(a.endpoint);
      await login(a, onA);
      const onB = await connectClient(b.endpoint);
      await login(b, onB);
      a.guard.revokePrincipalSessions('alice');
      await a.guard.settled();
      assert.equal(await alive(a, onA), 404);
      assert.equal(await alive(b, onB), 404);
      await Promise.all([onA.close(), onB.close()]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
