/**
 * Two MCP adapter instances on a real three-primary Redis Cluster (REDIS_CLUSTER_URLS, started
 * by scripts/run-tests.ts), each with its own cluster client: the per-user session limit,
 * revocation and the emergency switch of `createRedisMcpFleet` hold across them.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createCluster } from 'redis';
import { createRedisMcpFleet } from '../../src/redis/index.js';
import { connectClient, login, openStream, rawPost, startGuardedServer, type GuardedServer, type TestClient } from '../mcp/helpers.js';
import { clusterUrls, slotOf } from './support.js';

type Cluster = ReturnType<typeof createCluster>;
const PROTOCOL = { 'mcp-protocol-version': '2025-06-18' };

async function status(server: GuardedServer, client: TestClient): Promise<number> {
  return (await rawPost(server.endpoint, { ...PROTOCOL, 'mcp-session-id': client.sessionId as string, 'x-session-token': client.token as string })).status;
}

describe('MCP fleet on a Redis Cluster', () => {
  const clients: Cluster[] = [];
  before(async () => {
    for (let i = 0; i < 2; i++) {
      const cluster = createCluster({ rootNodes: clusterUrls().map((url) => ({ url })) });
      await cluster.connect();
      clients.push(cluster);
    }
  });
  after(async () => {
    await Promise.all(clients.map((cluster) => cluster.close()));
  });

  /** Instance A on the first cluster client, B on the second, one deployment prefix. */
  async function twoInstances(overrides = {}): Promise<{ a: GuardedServer; b: GuardedServer; prefix: string }> {
    const prefix = `fg:{mcp-cluster-${randomBytes(4).toString('hex')}}:`;
    const [a, b] = await Promise.all(clients.map((client) => startGuardedServer({ maxSessionsPerUser: 2, fleet: createRedisMcpFleet({ client, prefix }), ...overrides })));
    return { a: a as GuardedServer, b: b as GuardedServer, prefix };
  }

  async function signIn(server: GuardedServer): Promise<TestClient> {
    const client = await connectClient(server.endpoint);
    await login(server, client);
    return client;
  }

  it('holds MAX_SESSIONS_PER_USER=2 across both instances: the two oldest of four logins are ended where they live', async () => {
    const { a, b } = await twoInstances();
    try {
      const sessions: TestClient[] = [];
      for (const server of [a, b, a, b]) {
        sessions.push(await signIn(server));
        await Promise.all([a.guard.settled(), b.guard.settled()]);
      }
      assert.deepEqual([await status(a, sessions[0]!), await status(b, sessions[1]!), await status(a, sessions[2]!), await status(b, sessions[3]!)], [404, 404, 200, 200]);
      await Promise.all(sessions.map((session) => session.close()));
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('refuses the third login on either instance under rejectLogin', async () => {
    const { a, b } = await twoInstances({ onSessionLimit: 'rejectLogin' });
    try {
      const one = await signIn(a);
      const two = await signIn(b);
      const three = await connectClient(a.endpoint);
      await assert.rejects(login(a, three), /login failed: 409/);
      const four = await connectClient(b.endpoint);
      await assert.rejects(login(b, four), /login failed: 409/);
      await Promise.all([one, two, three, four].map((session) => session.close()));
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("revokes a principal's sessions on every instance, and a revoked session stays dead on the other", async () => {
    const { a, b } = await twoInstances();
    try {
      const onA = await signIn(a);
      const onB = await signIn(b);
      assert.equal(await status(b, onB), 200);
      a.guard.revokePrincipalSessions('alice');
      await a.guard.settled();
      assert.equal(await status(a, onA), 404);
      assert.equal(await status(b, onB), 404);
      assert.equal(b.guard.size, 0, 'B dropped the session on the fleet message');
      await Promise.all([onA.close(), onB.close()]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("throws the emergency switch on A and ends B's sessions, its open stream included", async () => {
    const { a, b, prefix } = await twoInstances();
    try {
      const onB = await signIn(b);
      const { ended } = await openStream(b, onB, PROTOCOL);
      a.guard.emergencyDisableSessionReuse();
      await a.guard.settled();
      await ended; // B cut its stream on A's message, published on the cluster
      assert.equal(b.guard.size, 0);
      assert.equal(await status(b, onB), 404);
      assert.equal(b.audit.of('mcp_session_revoked').at(-1)?.reason, 'emergency_disable_session_reuse');
      // The switch is a key of the deployment's slot: a session created after it works again.
      assert.equal(Number(await clients[1]!.get(`${prefix}mcp:epoch`)), a.clock.now());
      assert.equal(slotOf(`${prefix}mcp:epoch`), slotOf(`${prefix}session`));
      b.clock.advance(1);
      const after = await signIn(b);
      assert.equal(await status(b, after), 200);
      await Promise.all([onB.close(), after.close()]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
